// `floe perf wal --path P`: measures the block WAL on a user's own disk against that disk's raw
// limits, measured in the same run (the same code backs bench/wal_bench.cc):
//  - WAL append throughput with 64 KiB and 1 MiB entries vs raw O_DIRECT sequential writes of
//    the same size class, each followed by fdatasync (the WAL's own durability);
//  - p99 append latency at a moderate rate vs the p99 of a raw 4 KiB O_DIRECT write + fdatasync
//    at the same rate, measured in short alternating slices (raw, WAL, WAL, raw, ...) whose
//    samples are pooled per side, so both p99s cover the same moments of a disk whose latency
//    drifts; each pair's own ratio is printed with its median and range. Beside it, the p99 of
//    two raw writers (each at half the rate, separate regions) like the WAL's two workers, whose
//    writes and syncs overlap;
//    Every operation is timed from its scheduled start (a paced schedule, no start dropped), so a
//    stall counts in every operation it delayed, on both sides;
//  - for operators, no goal: 1 KiB appends at 20k and 50k/s (p50/p99, fdatasyncs per second,
//    entries per device write) vs the same raw p99, in their own phase after all pairs.
// Figures are printed as ratios: speed is reported, never asserted. Alongside: per-round ratios
// with their range, entries per device write and CPU per MiB of each throughput run, and the
// machine's load average (the WAL copies and checksums every byte; raw writes cost no CPU, so
// on a busy machine the WAL can be CPU-bound where the raw limit is not).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace floe::admin {

struct WalPerfOptions {
  std::string dir = ".";            // where the scratch files go (same disk as the WAL)
  uint64_t bytes_per_run = 512ull << 20;
  uint64_t wal_capacity = 256ull << 20;  // small enough that the unmeasured first lap is quick
  int rounds = 3;  // interleaved raw/WAL throughput rounds; figures are medians
  // Latency: "moderate load" is latency_entry_bytes entries at latency_rate_per_sec appends/s;
  // latency_slices pairs of raw and WAL slices of slice_seconds each alternate, samples pooled.
  size_t latency_entry_bytes = 1024;
  int latency_rate_per_sec = 2000;
  int latency_slices = 12;
  double slice_seconds = 0.75;
  // For operators (no goal): 1 KiB appends at these rates, latency_slices slices each, after all pairs.
  std::vector<int> operator_rates = {20000, 50000};
};

// Runs the measurements and prints a report to stdout. Returns a process exit code.
int run_wal_perf(const WalPerfOptions& options);

// `floe perf wal [--path DIR] [--bytes N] [--rounds N] [--slices N]`
int run_perf_command(int argc, char** argv);

}  // namespace floe::admin
