// WAL benchmark (`make bench`): the same measurement as `floe perf wal`, on the build's disk.
// Usage: wal_bench [DIR]; FLOE_BENCH_WAL_BYTES (per run), FLOE_BENCH_WAL_ROUNDS (throughput rounds)
// and FLOE_BENCH_WAL_SLICES (latency slice pairs) override the defaults.
#include <algorithm>
#include <cstdlib>

#include "admin/perf_wal.h"

int main(int argc, char** argv) {
  floe::admin::WalPerfOptions o;
  o.dir = argc > 1 ? argv[1] : "/tmp";
  if (const char* b = std::getenv("FLOE_BENCH_WAL_BYTES")) o.bytes_per_run = std::strtoull(b, nullptr, 10);
  if (const char* r = std::getenv("FLOE_BENCH_WAL_ROUNDS")) o.rounds = std::max(1, std::atoi(r));
  if (const char* s = std::getenv("FLOE_BENCH_WAL_SLICES")) o.latency_slices = std::max(1, std::atoi(s));
  return floe::admin::run_wal_perf(o);
}
