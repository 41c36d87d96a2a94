// metadata_bench: commit latency and throughput of the metadata quorum (issue 6's benchmark).
//
// Prints, against the fsync latency of the same disk measured in the same run:
//  - the disk limit: p50/p99 of a small append write + fdatasync to a file in the log directory
//    (what one Raft log flush costs);
//  - one voter (the single-node broker,controller): p50/p99 of one metadata write at a time
//    (prepare_objects: one record), and records per second with 64 writes outstanding;
//  - list_objects (a cold read's lookup) on one voter holding 10,000 committed objects over 1,000
//    streams: p50/p99 of one lookup of a 1-offset range (limit 16, as cold_fetch asks), and the
//    commit p50/p99 of one write at a time while another thread runs lookups back to back (a
//    lookup holding the controller's lock delays the commit's apply);
//  - three voters on loopback TCP (three Controllers in this process, each with its own
//    TcpRaftTransport and log directory, as three `floe serve` controllers would have): the same
//    figures, measured on the leader. A commit there needs the leader's flush plus a follower's
//    fetch, flush and next fetch: about two flushes and two loopback round trips.
// Environment: FLOE_BENCH_DIR (default: the system temp dir), FLOE_BENCH_METADATA_WRITES
// (default 2000 per phase; the list_objects phase always commits its 10,000 objects).
// Never fails on speed.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "metadata/controller.h"
#include "raft/transport_tcp.h"

using namespace floe;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double us_since(Clock::time_point t) { return std::chrono::duration<double, std::micro>(Clock::now() - t).count(); }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// p50/p99 (us) of appending 256 bytes + fdatasync to a file in `dir` (a Raft log flush).
std::pair<double, double> fsync_latency_us(const fs::path& dir, int samples) {
  const fs::path path = dir / "fsync-probe";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return {0, 0};
  std::vector<char> buf(256, 'x');
  std::vector<double> lat;
  for (int i = 0; i < samples; ++i) {
    auto t0 = Clock::now();
    if (::write(fd, buf.data(), buf.size()) != static_cast<ssize_t>(buf.size()) || ::fdatasync(fd) != 0) break;
    lat.push_back(us_since(t0));
  }
  ::close(fd);
  fs::remove(path);
  return {percentile(lat, 0.5), percentile(lat, 0.99)};
}

uint16_t free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(s);
    return 0;
  }
  ::close(s);
  return ntohs(a.sin_port);
}

struct Figures {
  double p50_us = 0, p99_us = 0, records_per_sec = 0;
  int errors = 0;
};

// The latency (us) of each of `writes` one-record writes (prepare_objects), one at a time.
std::vector<double> serial_latencies_us(metadata::Controller& c, int writes, int* errors) {
  std::vector<double> lat;
  for (int i = 0; i < writes; ++i) {
    std::promise<bool> done;
    auto fut = done.get_future();
    auto t0 = Clock::now();
    c.prepare_objects(1, 60000, [&](Result<ObjectId> r) { done.set_value(r.ok()); });
    if (!fut.get()) ++*errors;
    lat.push_back(us_since(t0));
  }
  return lat;
}

// One write at a time (latency), then `depth` outstanding (throughput), on `c` (the leader).
Figures measure(metadata::Controller& c, int writes, int depth) {
  Figures f;
  std::vector<double> lat = serial_latencies_us(c, writes, &f.errors);
  f.p50_us = percentile(lat, 0.5);
  f.p99_us = percentile(lat, 0.99);

  std::mutex mu;
  std::condition_variable cv;
  int outstanding = 0;
  std::atomic<int> errors{0};
  auto t0 = Clock::now();
  for (int i = 0; i < writes; ++i) {
    {
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return outstanding < depth; });
      ++outstanding;
    }
    c.prepare_objects(1, 60000, [&](Result<ObjectId> r) {
      if (!r.ok()) errors.fetch_add(1);
      std::lock_guard lk(mu);
      --outstanding;
      cv.notify_one();
    });
  }
  std::unique_lock lk(mu);
  cv.wait(lk, [&] { return outstanding == 0; });
  f.records_per_sec = writes / (us_since(t0) / 1e6);
  f.errors += errors.load();
  return f;
}

void print(const char* what, const Figures& f, double fsync_p50, double fsync_p99) {
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  std::printf("  %s: commit p50 %.0f us (%.2fx fsync p50), p99 %.0f us (%.2fx fsync p99); %.0f records/s with 64 "
              "outstanding%s\n",
              what, f.p50_us, ratio(f.p50_us, fsync_p50), f.p99_us, ratio(f.p99_us, fsync_p99), f.records_per_sec,
              f.errors ? " (SOME WRITES FAILED)" : "");
}

// Runs `count` asynchronous calls, at most `depth` outstanding; call(i, done) must call done(ok)
// exactly once. Returns how many failed.
int run_pipelined(int count, int depth, const std::function<void(int, std::function<void(bool)>)>& call) {
  std::mutex mu;
  std::condition_variable cv;
  int outstanding = 0, failed = 0;
  for (int i = 0; i < count; ++i) {
    {
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return outstanding < depth; });
      ++outstanding;
    }
    call(i, [&](bool ok) {
      std::lock_guard lk(mu);
      if (!ok) ++failed;
      --outstanding;
      cv.notify_one();
    });
  }
  std::unique_lock lk(mu);
  cv.wait(lk, [&] { return outstanding == 0; });
  return failed;
}

// 10,000 committed stream objects over 1,000 streams (10 per stream, 100 offsets each), then
// list_objects lookups alone and beside single commits.
void list_objects_phase(metadata::Controller& c, int writes) {
  constexpr int kStreams = 1000, kPerStream = 10, kSpan = 100, kPerCommit = 100;
  std::vector<stream::StreamInfo> streams(kStreams);
  int failed = run_pipelined(kStreams, 64, [&](int i, std::function<void(bool)> done) {
    c.create_stream([&, i, done](Result<stream::StreamInfo> r) {
      if (!r.ok()) return done(false);
      c.open_stream(r->id, NodeId(1), [&, i, done](Result<stream::StreamInfo> o) {
        if (o.ok()) streams[static_cast<size_t>(i)] = *o;
        done(o.ok());
      });
    });
  });
  constexpr int kCommits = kStreams * kPerStream / kPerCommit;
  failed += run_pipelined(kCommits, 1, [&](int k, std::function<void(bool)> done) {
    c.prepare_objects(kPerCommit, 600000, [&, k, done](Result<ObjectId> first) {
      if (!first.ok()) return done(false);
      stream::StreamSetObjectCommit commit;
      commit.node_id = NodeId(1);
      int round = k / (kStreams / kPerCommit);
      int base = (k % (kStreams / kPerCommit)) * kPerCommit;
      for (int j = 0; j < kPerCommit; ++j) {
        const auto& s = streams[static_cast<size_t>(base + j)];
        stream::StreamObjectCommit so;
        so.object_id = ObjectId(first->value() + static_cast<uint64_t>(j));
        so.object_size_bytes = 1 << 20;
        so.range = {s.id, s.epoch, Offset(int64_t{round} * kSpan), Offset(int64_t{round + 1} * kSpan)};
        commit.stream_objects.push_back(so);
      }
      c.commit_stream_set_object(std::move(commit), [done](Result<stream::Done> r) { done(r.ok()); });
    });
  });
  if (failed > 0) {
    std::printf("  list_objects: %d setup writes failed\n", failed);
    return;
  }
  std::mt19937_64 rng(42);
  auto lookup = [&](std::mt19937_64& g) {
    const auto& s = streams[g() % kStreams];
    Offset at(static_cast<int64_t>(g() % (kPerStream * kSpan)));
    size_t found = 0;
    c.list_objects(s.id, at, Offset(at.value() + 1), 16,
                   [&](Result<std::vector<stream::ObjectSlice>> r) { found = r.ok() ? r->size() : 0; });
    return found;  // list_objects answers inline (a read of the committed state)
  };
  std::vector<double> lat;
  size_t missing = 0;
  for (int i = 0; i < 20000; ++i) {
    auto t0 = Clock::now();
    if (lookup(rng) != 1) ++missing;
    lat.push_back(us_since(t0));
  }
  std::printf("  list_objects, 10,000 objects over 1,000 streams: p50 %.1f us, p99 %.1f us%s\n", percentile(lat, 0.5),
              percentile(lat, 0.99), missing ? " (SOME LOOKUPS MISSED)" : "");

  int n = std::min(writes, 1000), errors = 0;
  auto quiet = serial_latencies_us(c, n, &errors);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> lookups{0};
  std::thread reader([&] {
    std::mt19937_64 g(7);
    while (!stop.load()) {
      lookup(g);
      lookups.fetch_add(1);
    }
  });
  auto t0 = Clock::now();
  auto busy = serial_latencies_us(c, n, &errors);
  double secs = us_since(t0) / 1e6;
  stop = true;
  reader.join();
  std::printf("  commit beside back-to-back list_objects: p50 %.0f us, p99 %.0f us (alone: p50 %.0f us, p99 %.0f us); "
              "%.0f lookups/s meanwhile%s\n",
              percentile(busy, 0.5), percentile(busy, 0.99), percentile(quiet, 0.5), percentile(quiet, 0.99),
              static_cast<double>(lookups.load()) / secs, errors ? " (SOME WRITES FAILED)" : "");
}

// Runs `phase` on a fresh single-voter controller whose log is in `log_dir`.
void on_one_voter(const fs::path& log_dir, const char* what, const std::function<void(metadata::Controller&)>& phase) {
  metadata::ControllerOptions o;
  o.node_id = NodeId(1);
  o.log_dir = log_dir.string();
  fs::create_directories(o.log_dir);
  auto c = metadata::Controller::open(o);
  if (!c.ok()) {
    std::printf("  %s: cannot open: %s\n", what, c.error().to_string().c_str());
    return;
  }
  phase(**c);
  (*c)->close();
}

}  // namespace

int main() {
  log::set_level(log::Level::warn);
  const char* base = std::getenv("FLOE_BENCH_DIR");
  fs::path dir = fs::path(base ? base : fs::temp_directory_path().string()) /
                 ("floe-metadata-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  int writes = 2000;
  if (const char* w = std::getenv("FLOE_BENCH_METADATA_WRITES")) writes = std::max(100, std::atoi(w));

  auto [fsync_p50, fsync_p99] = fsync_latency_us(dir, 1000);
  std::printf("metadata_bench: %d writes per phase, logs under %s\n", writes, dir.c_str());
  std::printf("  disk limit: 256-byte append + fdatasync p50 %.0f us, p99 %.0f us\n", fsync_p50, fsync_p99);

  on_one_voter(dir / "single", "one voter",
               [&](metadata::Controller& c) { print("1 voter          ", measure(c, writes, 64), fsync_p50, fsync_p99); });
  // list_objects on one voter (a log of its own: the phase above left objects behind).
  on_one_voter(dir / "list", "list_objects", [&](metadata::Controller& c) { list_objects_phase(c, writes); });

  // Three voters on loopback.
  {
    std::vector<raft::VoterAddress> voters;
    for (int i = 1; i <= 3; ++i) voters.push_back(raft::VoterAddress{i, "127.0.0.1", free_port()});
    std::vector<std::unique_ptr<raft::TcpRaftTransport>> transports;
    bool listening = true;
    for (const auto& v : voters) {
      raft::TcpTransportConfig tc;
      tc.self_id = v.id;
      tc.voters = voters;
      tc.listen_host = "127.0.0.1";
      tc.listen_port = v.port;
      tc.wire.listener_name = "CONTROLLER";
      tc.wire.host = v.host;
      tc.wire.port = v.port;
      transports.push_back(std::make_unique<raft::TcpRaftTransport>(tc));
      if (!transports.back()->listen().ok()) listening = false;
    }
    std::vector<std::future<Result<std::unique_ptr<metadata::Controller>>>> opening;
    for (size_t i = 0; i < voters.size() && listening; ++i) {
      metadata::ControllerOptions o;
      o.node_id = NodeId(voters[i].id);
      o.log_dir = (dir / ("voter-" + std::to_string(voters[i].id))).string();
      o.voters = voters;
      o.transport = transports[i].get();
      o.open_timeout_ms = 30000;
      fs::create_directories(o.log_dir);
      opening.push_back(std::async(std::launch::async, [o] { return metadata::Controller::open(o); }));
    }
    std::vector<std::unique_ptr<metadata::Controller>> controllers;
    for (auto& f : opening) {
      auto c = f.get();
      if (c.ok()) controllers.push_back(std::move(*c));
      else std::printf("  3 voters: cannot open: %s\n", c.error().to_string().c_str());
    }
    metadata::Controller* leader = nullptr;
    for (int attempt = 0; attempt < 300 && leader == nullptr && controllers.size() == voters.size(); ++attempt) {
      for (auto& c : controllers) {
        auto s = c->raft_status();
        if (s.role == raft::Role::leader) leader = c.get();
      }
      if (leader == nullptr) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (leader == nullptr) {
      std::printf("  3 voters: no leader elected%s\n", listening ? "" : " (a transport could not listen)");
    } else {
      print("3 voters, loopback", measure(*leader, writes, 64), fsync_p50, fsync_p99);
    }
    for (auto& c : controllers) c->close();
    for (auto& t : transports) t->stop();
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}
