// floe: one static binary. main only wires the subsystems together (see admin/cli.h).
#include "admin/cli.h"

int main(int argc, char** argv) { return floe::admin::run_cli(argc, argv); }
