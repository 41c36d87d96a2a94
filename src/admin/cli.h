// The command-line front door of the single floe binary: `floe serve`, `floe --version`,
// `floe --help`, and the admin verbs (DESIGN.md admin/). main() calls run_cli and exits with
// its return value.
#pragma once

namespace floe::admin {

// Parses argv and runs the chosen verb. Returns the process exit code.
int run_cli(int argc, char** argv);

}  // namespace floe::admin
