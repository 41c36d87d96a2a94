// WAL benchmark (`make bench`): the same measurement as `floe perf wal`, on the build's disk.
#include <cstdlib>

#include "admin/perf_wal.h"

int main(int argc, char** argv) {
  floe::admin::WalPerfOptions o;
  o.dir = argc > 1 ? argv[1] : "/tmp";
  if (const char* b = std::getenv("FLOE_BENCH_WAL_BYTES")) o.bytes_per_run = std::strtoull(b, nullptr, 10);
  return floe::admin::run_wal_perf(o);
}
