#include "admin/perf_wal.h"

#include "admin/perf_kafka.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "wal/block_wal.h"

namespace floe::admin {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// CPU seconds (user + system) of this whole process so far: the WAL's workers and the bench's
// producer thread (the raw runs use next to none, so a WAL run's share is its cost per byte).
double process_cpu_seconds() {
  rusage r{};
  ::getrusage(RUSAGE_SELF, &r);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return sec(r.ru_utime) + sec(r.ru_stime);
}

// The 1-minute load average: how busy the (possibly shared) machine was around the run.
double load_average_1m() {
  double l[1] = {0};
  return ::getloadavg(l, 1) == 1 ? l[0] : -1;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

// The middle value (the mean of the two middle ones for an even count).
double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t h = v.size() / 2;
  return v.size() % 2 == 1 ? v[h] : (v[h - 1] + v[h]) / 2;
}

struct RawFile {
  int fd = -1;
  void* buf = nullptr;
  RawFile(const std::string& path, size_t buf_bytes) {
    fd = ::open(path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
    if (fd < 0) fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (posix_memalign(&buf, 4096, buf_bytes) != 0) buf = nullptr;
    if (buf) std::memset(buf, 0xab, buf_bytes);
  }
  ~RawFile() {
    if (fd >= 0) ::close(fd);
    std::free(buf);
  }
};

// Creates the raw scratch file and writes all of it once, so that the measurements overwrite
// initialized blocks (as a WAL does after its first lap, and as a block device always does): on
// ext4, a first write into preallocated space also converts the extent and makes the next
// fdatasync commit the journal, which would measure the file system, not the disk.
bool initialize_raw_file(const std::string& path, uint64_t total) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  bool ok = ::fallocate(fd, 0, 0, static_cast<off_t>(total)) == 0 || ::ftruncate(fd, static_cast<off_t>(total)) == 0;
  std::vector<uint8_t> block(4 << 20, 0xab);
  for (uint64_t at = 0; ok && at < total; at += block.size()) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(block.size(), total - at));
    ok = ::pwrite(fd, block.data(), n, static_cast<off_t>(at)) == static_cast<ssize_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

// Sequential O_DIRECT writes of `block` bytes, each followed by fdatasync: bytes/second.
double raw_write_bandwidth(const std::string& path, uint64_t total, size_t block) {
  RawFile f(path, block);
  if (f.fd < 0 || !f.buf) return 0;
  auto t0 = Clock::now();
  for (uint64_t at = 0; at + block <= total; at += block) {
    if (::pwrite(f.fd, f.buf, block, static_cast<off_t>(at)) != static_cast<ssize_t>(block)) return 0;
    if (::fdatasync(f.fd) != 0) return 0;
  }
  return static_cast<double>(total) / seconds_since(t0);
}

// Paces a loop at `per_second` starts on a fixed schedule: next() sleeps until the next scheduled
// start and returns it. A loop that fell behind (a slow write) starts its missed operations at
// once, none dropped, and each operation's latency is taken from its SCHEDULED start: a stall
// then shows in the latency of every operation it delayed (no coordinated omission), for raw
// writers (closed loop: one write at a time per thread) and WAL producers (open loop) alike, so
// both sides are sampled at the same offered load and the same moments.
class Pacer {
 public:
  explicit Pacer(double per_second)
      : interval_(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / per_second))),
        next_(Clock::now()) {}
  Clock::time_point next() {
    const auto at = next_;
    std::this_thread::sleep_until(at);
    next_ += interval_;
    return at;
  }
  // The start the next call to next() will return.
  Clock::time_point peek() const { return next_; }

 private:
  Clock::duration interval_;
  Clock::time_point next_;
};

// Whether a slice of `seconds` has a scheduled start left to issue. A side that cannot keep up at
// all (a backlog that only grows) is cut off after kMaxSliceStretch x its length, so a slice's
// run time stays bounded; the starts cut off are then missing from its samples.
constexpr double kMaxSliceStretch = 4;
bool in_schedule(const Pacer& pace, Clock::time_point start, double seconds) {
  return std::chrono::duration<double>(pace.peek() - start).count() < seconds &&
         seconds_since(start) < kMaxSliceStretch * seconds;
}

// Latencies (us, from each write's scheduled start) of 4 KiB O_DIRECT writes, each followed by
// fdatasync, from `writers` threads that each cycle over their own region of the (initialized)
// file (16 MiB at most) and are paced at rate_per_sec / writers, for every start scheduled in
// `seconds`; pooled. Empty on an I/O error. Two writers are the
// raw counterpart of the WAL's two workers, whose writes and fdatasyncs overlap.
std::vector<double> raw_sync_latency_us(const std::string& path, uint64_t file_bytes, int writers, int rate_per_sec,
                                        double seconds) {
  const uint64_t region = std::min<uint64_t>(16ull << 20, file_bytes / static_cast<uint64_t>(writers)) / 4096 * 4096;
  std::vector<std::vector<double>> lat(static_cast<size_t>(writers));
  std::atomic<bool> failed{false};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < writers; ++t) {
    threads.emplace_back([&, t] {
      RawFile f(path, 4096);
      if (f.fd < 0 || !f.buf || region < 4096) {
        failed = true;
        return;
      }
      std::vector<double>& mine = lat[static_cast<size_t>(t)];
      Pacer pace(static_cast<double>(rate_per_sec) / writers);
      for (uint64_t i = 0; !failed.load() && in_schedule(pace, start, seconds); ++i) {
        const auto t0 = pace.next();  // scheduled start: a late write counts its wait
        const off_t at = static_cast<off_t>(static_cast<uint64_t>(t) * region + (i * 4096) % region);
        if (::pwrite(f.fd, f.buf, 4096, at) != 4096 || ::fdatasync(f.fd) != 0) {
          failed = true;
          return;
        }
        mine.push_back(seconds_since(t0) * 1e6);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<double> all;
  if (failed) return all;
  for (const auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  return all;
}

// Appends `total` bytes in entries of `entry_bytes`, keeping `depth` appends outstanding.
double wal_append_bandwidth(wal::Wal& w, uint64_t total, size_t entry_bytes, int depth) {
  SharedBytes payload(Bytes(entry_bytes, 0xcd));
  std::mutex mu;
  std::condition_variable cv;
  int outstanding = 0;
  uint64_t sent = 0;
  uint64_t n = 0;
  std::atomic<bool> failed{false};
  auto t0 = Clock::now();
  while (sent < total) {
    {
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return outstanding < depth; });
      ++outstanding;
    }
    w.append(wal::Entry{StreamId(n % 16), StreamEpoch(1), Offset(static_cast<int64_t>(n)), payload},
             [&](Result<wal::Position> r) {
               if (!r.ok()) failed = true;
               std::lock_guard lk(mu);
               --outstanding;
               cv.notify_one();
             });
    sent += entry_bytes;
    ++n;
    // Keep the ring from filling, as uploads do: trim everything durable once a quarter of the
    // ring is in use (a trim costs a header write + fdatasync).
    if (n % 16 == 0) {
      auto st = w.stats();
      if (st.used_bytes > st.capacity_bytes / 4) (void)w.trim(st.end_offset);
    }
  }
  std::unique_lock lk(mu);
  cv.wait(lk, [&] { return outstanding == 0; });
  if (failed) return 0;
  return static_cast<double>(sent) / seconds_since(t0);
}

// The offered load of a latency slice: entries of `entry_bytes` at `rate_per_sec` appends/s in all,
// from kLatencyProducers threads.
constexpr int kLatencyProducers = 4;

// What a WAL latency slice measured: each append's latency (us, from its scheduled start to its callback)
// and what the WAL did meanwhile.
struct WalSlice {
  std::vector<double> latency_us;
  uint64_t appends = 0, device_writes = 0, syncs = 0;
  double seconds = 0;
  // Pools another slice's samples and counts into this one.
  void add(const WalSlice& o) {
    latency_us.insert(latency_us.end(), o.latency_us.begin(), o.latency_us.end());
    appends += o.appends;
    device_writes += o.device_writes;
    syncs += o.syncs;
    seconds += o.seconds;
  }
};

WalSlice wal_latency_slice(wal::Wal& w, size_t entry_bytes, int rate_per_sec, double seconds) {
  SharedBytes payload(Bytes(entry_bytes, 0xef));
  std::mutex mu;
  WalSlice out;
  out.latency_us.reserve(static_cast<size_t>(rate_per_sec * seconds * 1.1) + 16);
  std::atomic<int> outstanding{0};
  const wal::WalStats before = w.stats();
  const auto start = Clock::now();
  std::vector<std::thread> producers;
  for (int p = 0; p < kLatencyProducers; ++p) {
    producers.emplace_back([&, p] {
      Pacer pace(static_cast<double>(rate_per_sec) / kLatencyProducers);
      for (uint64_t n = 0; in_schedule(pace, start, seconds); ++n) {
        const auto t0 = pace.next();  // scheduled start, as for raw writes
        outstanding.fetch_add(1);
        w.append(wal::Entry{StreamId(static_cast<uint64_t>(p)), StreamEpoch(1), Offset(static_cast<int64_t>(n)), payload},
                 [&, t0](Result<wal::Position>) {
                   const double us = seconds_since(t0) * 1e6;
                   {
                     std::lock_guard lk(mu);
                     out.latency_us.push_back(us);
                   }
                   outstanding.fetch_sub(1);  // last: the slice may end (and `mu` go) right after
                 });
        // Keep the ring from filling, as uploads do.
        if (n % 256 == 0) {
          auto st = w.stats();
          if (st.used_bytes > st.capacity_bytes / 4) (void)w.trim(st.end_offset);
        }
      }
    });
  }
  for (auto& t : producers) t.join();
  while (outstanding.load() > 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
  out.seconds = seconds_since(start);
  const wal::WalStats after = w.stats();
  out.appends = after.appends - before.appends;
  out.device_writes = after.records_written - before.records_written;
  out.syncs = after.syncs - before.syncs;
  return out;
}

}  // namespace

int run_wal_perf(const WalPerfOptions& o) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(o.dir) / ("floe-perf-wal-" + std::to_string(::getpid()));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    std::fprintf(stderr, "floe perf wal: cannot create %s: %s\n", dir.c_str(), ec.message().c_str());
    return 2;
  }
  std::printf("floe perf wal: scratch files in %s\n", dir.c_str());
  const std::string raw_path = (dir / "raw").string();
  const std::string wal_path = (dir / "wal").string();

  // Rounds interleave the raw limits and the WAL runs, and the report takes each figure's median:
  // on a shared disk whose speed drifts, a ratio of medians from interleaved runs compares like
  // with like far better than one raw run followed by one WAL run.
  struct Round {
    double raw_64k = 0, raw_1m = 0, raw_4m = 0;
    double wal_64k = 0, wal_1m = 0;
  };
  // What a WAL throughput run did besides its figure: group commit size and CPU per byte.
  struct RunCost {
    uint64_t appends = 0, records = 0, device_bytes = 0, payload_bytes = 0;
    double cpu_seconds = 0;
  };
  const double load_at_start = load_average_1m();
  if (!initialize_raw_file(raw_path, o.bytes_per_run)) {
    std::fprintf(stderr, "floe perf wal: cannot write %s\n", raw_path.c_str());
    fs::remove_all(dir, ec);
    return 1;
  }
  wal::BlockWalOptions wo;
  wo.path = wal_path;
  wo.capacity_bytes = o.wal_capacity;
  auto opened = wal::BlockWal::open(wo);
  if (!opened.ok()) {
    std::fprintf(stderr, "floe perf wal: %s\n", opened.error().to_string().c_str());
    fs::remove_all(dir, ec);
    return 1;
  }
  auto& w = *opened->wal;
  // The WAL's first lap (not measured): afterwards it overwrites initialized blocks, as it does
  // for the rest of its life.
  (void)wal_append_bandwidth(w, o.wal_capacity + (o.wal_capacity >> 2), 1 << 20, 16);

  std::vector<Round> rounds;
  RunCost cost_64k, cost_1m;
  for (int round = 0; round < o.rounds; ++round) {
    // Each WAL figure is measured next to the raw limit it is compared with, so both see the same
    // disk (a cloud disk slows down for a while after a burst of writes). Even rounds run raw
    // 64 KiB, 1 MiB, 4 MiB, then WAL 64 KiB, 1 MiB; odd rounds the reverse, so neither side
    // always follows the other's burst and raw 4 MiB always sits next to the WAL runs.
    // The WAL runs keep the same 16 MiB of appends outstanding for both entry sizes (many
    // producers' worth).
    Round r;
    auto measured = [&](size_t entry_bytes, int depth, RunCost& cost) {
      const wal::WalStats before = w.stats();
      const double cpu_before = process_cpu_seconds();
      const double bandwidth = wal_append_bandwidth(w, o.bytes_per_run, entry_bytes, depth);
      const wal::WalStats after = w.stats();
      cost.cpu_seconds += process_cpu_seconds() - cpu_before;
      cost.appends += after.appends - before.appends;
      cost.records += after.records_written - before.records_written;
      cost.device_bytes += after.device_bytes_written - before.device_bytes_written;
      cost.payload_bytes += after.append_bytes - before.append_bytes;
      return bandwidth;
    };
    auto raw_64k = [&] { r.raw_64k = raw_write_bandwidth(raw_path, o.bytes_per_run / 4, 64 << 10); };
    auto raw_1m = [&] { r.raw_1m = raw_write_bandwidth(raw_path, o.bytes_per_run, 1 << 20); };
    auto raw_4m = [&] { r.raw_4m = raw_write_bandwidth(raw_path, o.bytes_per_run, 4 << 20); };
    if (round % 2 == 0) {
      raw_64k();
      raw_1m();
      raw_4m();
      r.wal_64k = measured(64 << 10, 256, cost_64k);
      r.wal_1m = measured(1 << 20, 16, cost_1m);
    } else {
      r.wal_1m = measured(1 << 20, 16, cost_1m);
      r.wal_64k = measured(64 << 10, 256, cost_64k);
      raw_4m();
      raw_1m();
      raw_64k();
    }
    rounds.push_back(r);
  }

  // Latency: short slices of raw 4 KiB write+fdatasync and of WAL appends alternate on the same
  // disk at the same offered rate (each pair's order alternates too), and each side's samples
  // are pooled: the raw p99 of a cloud disk swings several-fold between moments, so a WAL p99
  // is compared only with raw samples taken around the same moments. Each pair's own ratio shows
  // how far one moment's figure can be trusted.
  std::this_thread::sleep_for(std::chrono::seconds(1));  // let the throughput burst drain
  std::vector<double> raw_lat, raw2_lat;
  std::vector<double> pair_ratios, pair_ratios2;
  WalSlice moderate;
  // For operators, no goal: 1 KiB appends at higher rates, in a phase of their own after all
  // pairs (a disk slows down after a heavy burst: between pairs they would slow the next raw
  // slice and flatter the WAL ratio), reported against the same pooled raw p99.
  std::vector<WalSlice> at_rate(o.operator_rates.size());
  for (int pair = 0; pair < o.latency_slices; ++pair) {
    // The WAL slice sits between a one-writer and a two-writer raw slice, whose order alternates.
    std::vector<double> raw, raw2;
    WalSlice wal;
    auto run_raw = [&](int writers, std::vector<double>& out) {
      out = raw_sync_latency_us(raw_path, o.bytes_per_run, writers, o.latency_rate_per_sec, o.slice_seconds);
    };
    run_raw(pair % 2 == 0 ? 1 : 2, pair % 2 == 0 ? raw : raw2);
    wal = wal_latency_slice(w, o.latency_entry_bytes, o.latency_rate_per_sec, o.slice_seconds);
    run_raw(pair % 2 == 0 ? 2 : 1, pair % 2 == 0 ? raw2 : raw);
    const double wal_q99 = percentile(wal.latency_us, 0.99);
    pair_ratios.push_back(percentile(raw, 0.99) > 0 ? wal_q99 / percentile(raw, 0.99) : 0.0);
    pair_ratios2.push_back(percentile(raw2, 0.99) > 0 ? wal_q99 / percentile(raw2, 0.99) : 0.0);
    raw_lat.insert(raw_lat.end(), raw.begin(), raw.end());
    raw2_lat.insert(raw2_lat.end(), raw2.begin(), raw2.end());
    moderate.add(wal);
  }
  for (int pair = 0; pair < o.latency_slices; ++pair) {  // operator phase: one slice per rate per pair
    for (size_t k = 0; k < at_rate.size(); ++k) {
      const size_t i = pair % 2 == 0 ? k : at_rate.size() - 1 - k;
      at_rate[i].add(wal_latency_slice(w, 1024, o.operator_rates[i], o.slice_seconds));
    }
  }
  const wal::WalStats last_stats = w.stats();
  const bool direct = w.using_direct_io();
  w.close();
  opened->wal.reset();
  fs::remove_all(dir, ec);

  auto median = [&](double Round::*field) {
    std::vector<double> v;
    for (const auto& r : rounds) v.push_back(r.*field);
    return median_of(v);
  };
  const double raw_64k = median(&Round::raw_64k), raw_1m = median(&Round::raw_1m), raw_4m = median(&Round::raw_4m);
  const double wal_64k = median(&Round::wal_64k), wal_1m = median(&Round::wal_1m);
  const double raw_p50 = percentile(raw_lat, 0.5), raw_p99 = percentile(raw_lat, 0.99);
  const double raw2_p50 = percentile(raw2_lat, 0.5), raw2_p99 = percentile(raw2_lat, 0.99);
  const double p50 = percentile(moderate.latency_us, 0.5), p99 = percentile(moderate.latency_us, 0.99);

  const double mib = 1024.0 * 1024.0;
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  // A ratio's per-round values, their median and range: on a shared disk the spread says how far
  // one run's figure can be trusted.
  auto ratios = [&](const char* label, double Round::*num, double Round::*den) {
    std::vector<double> v;
    for (const auto& r : rounds) v.push_back(ratio(r.*num, r.*den));
    std::printf("  per round, %s:", label);
    for (double x : v) std::printf(" %.2f", x);
    std::printf(" (median %.2f, range %.2f-%.2f)\n", median_of(v), *std::min_element(v.begin(), v.end()),
                *std::max_element(v.begin(), v.end()));
  };
  // What the WAL did during a set of latency slices: achieved rate, syncs per second, group size.
  auto slice_line = [&](const char* label, const WalSlice& sl) {
    if (sl.seconds <= 0 || sl.device_writes == 0) return;
    std::printf("  %s: %.0f appends/s achieved, %.0f fdatasyncs/s, %.1f entries per device write\n", label,
                static_cast<double>(sl.appends) / sl.seconds, static_cast<double>(sl.syncs) / sl.seconds,
                static_cast<double>(sl.appends) / static_cast<double>(sl.device_writes));
  };
  auto cost_line = [&](const char* label, const RunCost& c) {
    if (c.records == 0 || c.payload_bytes == 0) return;
    std::printf("  %s entries: %.1f entries (%.0f KiB) per device write, %.0f us CPU per MiB appended\n", label,
                static_cast<double>(c.appends) / static_cast<double>(c.records),
                static_cast<double>(c.device_bytes) / static_cast<double>(c.records) / 1024.0,
                c.cpu_seconds / (static_cast<double>(c.payload_bytes) / mib) * 1e6);
  };
  std::printf("throughput: medians of %d interleaved rounds (raw limits and WAL runs alternate on the same disk,\n"
              "raw first in even rounds, WAL first in odd ones);\n"
              "both overwrite blocks written once before (steady state: a WAL after its first lap, a block device)\n",
              o.rounds);
  std::printf("latency: %d pairs of %.2f s slices, raw and WAL alternating (a WAL slice between a 1-writer and a\n"
              "2-writer raw slice, their order alternating), samples pooled per side, each operation timed from\n"
              "its scheduled start (a late start counts its wait, on both sides);\n"
              "moderate load = %zu KiB entries at %d appends/s from %d producers (%.1f MiB/s)\n",
              o.latency_slices, o.slice_seconds, o.latency_entry_bytes / 1024, o.latency_rate_per_sec,
              kLatencyProducers, static_cast<double>(o.latency_entry_bytes) * o.latency_rate_per_sec / mib);
  std::printf("machine: %u CPUs, 1-minute load average %.2f at start, %.2f at end (the WAL needs CPU, raw writes do not)\n",
              std::thread::hardware_concurrency(), load_at_start, load_average_1m());
  std::printf("machine limits (same run, same disk):\n");
  std::printf("  raw O_DIRECT write+fdatasync  64 KiB blocks: %8.1f MiB/s\n", raw_64k / mib);
  std::printf("  raw O_DIRECT write+fdatasync   1 MiB blocks: %8.1f MiB/s\n", raw_1m / mib);
  std::printf("  raw O_DIRECT write+fdatasync   4 MiB blocks: %8.1f MiB/s\n", raw_4m / mib);
  std::printf("  raw 4 KiB O_DIRECT write+fdatasync latency: p50 %.0f us, p99 %.0f us (1 writer at %d/s, %zu samples)\n",
              raw_p50, raw_p99, o.latency_rate_per_sec, raw_lat.size());
  std::printf("  raw 4 KiB O_DIRECT write+fdatasync latency, 2 writers: p50 %.0f us, p99 %.0f us (each at %d/s, %zu samples)\n",
              raw2_p50, raw2_p99, o.latency_rate_per_sec / 2, raw2_lat.size());
  std::printf("block WAL (%s):\n", direct ? "O_DIRECT" : "buffered");
  std::printf("  append throughput, 64 KiB entries: %8.1f MiB/s = %.2fx raw 64 KiB, %.2fx raw 4 MiB (goal >= 0.8x)\n",
              wal_64k / mib, ratio(wal_64k, raw_64k), ratio(wal_64k, raw_4m));
  std::printf("  append throughput,  1 MiB entries: %8.1f MiB/s = %.2fx raw 1 MiB, %.2fx raw 4 MiB (goal >= 0.8x)\n",
              wal_1m / mib, ratio(wal_1m, raw_1m), ratio(wal_1m, raw_4m));
  std::printf("  append latency, %zu KiB at %d/s: p50 %.0f us, p99 %.0f us = %.2fx raw p99 (goal <= 1.5x)\n",
              o.latency_entry_bytes / 1024, o.latency_rate_per_sec, p50, p99, ratio(p99, raw_p99));
  std::printf("  append latency p99 vs raw with 2 writers (like for like with the WAL's two workers): %.2fx raw 2-writer p99\n",
              ratio(p99, raw2_p99));
  auto spread = [&](const char* label, const std::vector<double>& v) {
    std::printf("  per slice pair, %s:", label);
    for (double x : v) std::printf(" %.2f", x);
    if (!v.empty())
      std::printf(" (median %.2f, range %.2f-%.2f)", median_of(v), *std::min_element(v.begin(), v.end()),
                  *std::max_element(v.begin(), v.end()));
    std::printf("\n");
  };
  spread("WAL p99 / raw p99", pair_ratios);
  spread("WAL p99 / raw 2-writer p99", pair_ratios2);
  // The tails beside p99: one slow moment of the disk moves a pooled p99 and shows as one
  // outlying pair above; a WAL-made tail shows in p90 too.
  auto tails = [&](const char* label, const std::vector<double>& v) {
    if (v.empty()) return;
    std::printf("    %-16s p90 %6.0f, p99 %6.0f, p99.9 %6.0f, max %6.0f\n", label, percentile(v, 0.9),
                percentile(v, 0.99), percentile(v, 0.999), *std::max_element(v.begin(), v.end()));
  };
  // The WAL does a raw write+fdatasync and more, so its median should not beat raw's by much; if
  // it does, something delays a lone raw write+fdatasync that the WAL's overlapping I/O escapes
  // (on this project's VM under CPU load: a lone write+fdatasync completes only at the next 4 ms
  // timer tick, the busy vCPU's next exit, unless cross-CPU wakeups like the WAL's threads' deliver
  // it sooner), and raw is not the disk's limit at that moment.
  if (raw_p50 > 0 && p50 > 0 && p50 * 2 < std::min(raw_p50, raw2_p50 > 0 ? raw2_p50 : raw_p50))
    std::printf("  note: WAL p50 %.0f us is under half the raw p50s (%.0f / %.0f us): a lone raw write+fdatasync was\n"
                "  delayed by something the WAL's overlapping I/O avoids, so the raw p99s overstate the disk's limit\n",
                p50, raw_p50, raw2_p50);
  // Timed from scheduled starts, a side that cannot sustain the rate shows its growing backlog:
  // its median then exceeds the schedule's interval, and its p99 is queueing, not the disk alone.
  auto behind_note = [&](const char* label, double side_p50, int writers) {
    const double interval_us = 1e6 * writers / o.latency_rate_per_sec;
    if (side_p50 > interval_us)
      std::printf("  note: %s fell behind its schedule (p50 %.0f us > its %.0f us interval): one write+fdatasync\n"
                  "  at a time cannot sustain the rate here, so its p99 measures the backlog\n",
                  label, side_p50, interval_us);
  };
  behind_note("raw, 1 writer", raw_p50, 1);
  behind_note("raw, 2 writers", raw2_p50, 2);
  std::printf("  latency tails (us):\n");
  tails("raw, 1 writer", raw_lat);
  tails("raw, 2 writers", raw2_lat);
  tails("WAL appends", moderate.latency_us);
  slice_line("moderate load", moderate);
  if (!at_rate.empty())
    std::printf("  for operators (no goal), 1 KiB entries in a phase after all pairs, vs the raw p99 above:\n");
  for (size_t i = 0; i < at_rate.size(); ++i) {
    const WalSlice& sl = at_rate[i];
    const double q99 = percentile(sl.latency_us, 0.99);
    std::printf("  append latency, 1 KiB at %d/s: p50 %.0f us, p99 %.0f us = %.2fx raw p99\n", o.operator_rates[i],
                percentile(sl.latency_us, 0.5), q99, ratio(q99, raw_p99));
    const std::string label = "at " + std::to_string(o.operator_rates[i]) + "/s";
    slice_line(label.c_str(), sl);
  }
  cost_line("64 KiB", cost_64k);
  cost_line(" 1 MiB", cost_1m);
  std::printf("  group commit (all rounds and the first lap): %llu appends in %llu device writes\n",
              static_cast<unsigned long long>(last_stats.appends),
              static_cast<unsigned long long>(last_stats.records_written));
  if (rounds.size() > 1) {
    ratios("WAL 64 KiB / raw 4 MiB", &Round::wal_64k, &Round::raw_4m);
    ratios("WAL  1 MiB / raw 4 MiB", &Round::wal_1m, &Round::raw_4m);
  }
  return 0;
}

int run_perf_command(int argc, char** argv) {
  // argv[0] = "perf"
  if (argc >= 2 && std::string_view(argv[1]) == "produce") return run_perf_produce(argc, argv);
  if (argc >= 2 && std::string_view(argv[1]) == "consume") return run_perf_consume(argc, argv);
  if (argc < 2 || std::string_view(argv[1]) != "wal") {
    std::fprintf(stderr, "usage: floe perf wal|produce|consume ... (see floe --help)\n");
    return 2;
  }
  WalPerfOptions o;
  for (int i = 2; i < argc; ++i) {
    std::string_view a = argv[i];
    if ((a == "--path" || a == "--dir") && i + 1 < argc) {
      o.dir = argv[++i];
    } else if (a == "--bytes" && i + 1 < argc) {
      char* end = nullptr;
      unsigned long long v = std::strtoull(argv[++i], &end, 10);
      if (end == nullptr || *end != '\0' || v < (16ull << 20)) {
        std::fprintf(stderr, "floe perf wal: --bytes must be a number >= 16777216\n");
        return 2;
      }
      o.bytes_per_run = v;
    } else if (a == "--rounds" && i + 1 < argc) {
      o.rounds = std::atoi(argv[++i]);
      if (o.rounds < 1 || o.rounds > 100) {
        std::fprintf(stderr, "floe perf wal: --rounds must be 1..100\n");
        return 2;
      }
    } else if (a == "--slices" && i + 1 < argc) {
      o.latency_slices = std::atoi(argv[++i]);
      if (o.latency_slices < 1 || o.latency_slices > 1000) {
        std::fprintf(stderr, "floe perf wal: --slices must be 1..1000\n");
        return 2;
      }
    } else {
      std::fprintf(stderr, "floe perf wal: unknown option '%s'\nusage: floe perf wal [--path DIR] [--bytes N] [--rounds N] [--slices N]\n", argv[i]);
      return 2;
    }
  }
  return run_wal_perf(o);
}

}  // namespace floe::admin
