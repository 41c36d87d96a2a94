#include "wal/block_wal.h"
#include "wal_test_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <random>
#include <thread>

#include "wal/block_format.h"

using namespace floe;
using namespace floe::wal;
namespace fs = std::filesystem;

using namespace floe::wal::testing;

namespace {

// Deterministic payload for entry number `n`: its content can be checked after recovery.
SharedBytes payload_for(uint64_t n, size_t size) {
  Bytes b(size);
  std::mt19937_64 rng(n * 7919 + 13);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return SharedBytes(std::move(b));
}

Entry entry_for(uint64_t n, size_t size) {
  return Entry{StreamId(n % 7), StreamEpoch(3), Offset(static_cast<int64_t>(n)), payload_for(n, size)};
}

void corrupt_byte(const std::string& path, uint64_t at) {
  int fd = ::open(path.c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  uint8_t b = 0;
  REQUIRE(::pread(fd, &b, 1, static_cast<off_t>(at)) == 1);
  b ^= 0x5a;
  REQUIRE(::pwrite(fd, &b, 1, static_cast<off_t>(at)) == 1);
  ::close(fd);
}

}  // namespace

TEST_CASE("appended entries are recovered byte-identical and in order after reopen", "[wal]") {
  TempWal t;
  {
    auto opened = open_ok(t.options());
    CHECK(opened.recovered.empty());
    CHECK(opened.wal->using_direct_io());
    uint64_t last_end = 0;
    for (uint64_t n = 0; n < 50; ++n) {
      auto pos = append_sync(*opened.wal, entry_for(n, n * 97));
      REQUIRE(pos.ok());
      CHECK(pos->start >= last_end);
      CHECK(pos->start % block_format::kBlockBytes == 0);
      last_end = pos->end;
    }
  }
  auto again = open_ok(t.options());
  REQUIRE(again.recovered.size() == 50);
  for (uint64_t n = 0; n < 50; ++n) CHECK(again.recovered[n].entry == entry_for(n, n * 97));
}

// The writer copies and checksums each payload in cache-sized pieces (64 KiB) as it frames a
// group; sizes on both sides of a piece boundary, in groups of several entries, must come back
// byte-identical, which also means each record's body CRC matched a one-pass CRC of its body.
TEST_CASE("entries around the copy piece size share groups and are recovered byte-identical", "[wal]") {
  TempWal t;
  const std::vector<size_t> sizes = {0, 1, 65535, 65536, 65537, 131072, 200003, 7, 4096, 65536 * 3 + 5};
  constexpr int kLaps = 4;
  {
    auto opened = open_ok(t.options(16 << 20));
    std::vector<std::future<Result<Position>>> acks;
    for (int lap = 0; lap < kLaps; ++lap)
      for (size_t i = 0; i < sizes.size(); ++i) {
        auto p = std::make_shared<std::promise<Result<Position>>>();
        acks.push_back(p->get_future());
        const uint64_t n = static_cast<uint64_t>(lap) * sizes.size() + i;
        opened.wal->append(entry_for(n, sizes[i]), [p](Result<Position> r) { p->set_value(std::move(r)); });
      }
    for (auto& a : acks) REQUIRE(a.get().ok());
    const auto st = opened.wal->stats();
    INFO("records " << st.records_written << " for " << st.appends << " appends");
    CHECK(st.records_written < st.appends);  // some records hold several entries
  }
  auto again = open_ok(t.options(16 << 20));
  REQUIRE(again.recovered.size() == kLaps * sizes.size());
  for (int lap = 0; lap < kLaps; ++lap)
    for (size_t i = 0; i < sizes.size(); ++i) {
      const uint64_t n = static_cast<uint64_t>(lap) * sizes.size() + i;
      CHECK(again.recovered[n].entry == entry_for(n, sizes[i]));
    }
}

TEST_CASE("concurrent appends share group commits", "[wal]") {
  TempWal t;
  auto opened = open_ok(t.options(8 << 20));
  constexpr int kThreads = 8, kPerThread = 200;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      for (int i = 0; i < kPerThread; ++i) {
        std::promise<void> done;
        opened.wal->append(entry_for(static_cast<uint64_t>(th * kPerThread + i), 100), [&](Result<Position> r) {
          if (r.ok()) ok.fetch_add(1);
          done.set_value();
        });
        done.get_future().wait();
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(ok.load() == kThreads * kPerThread);
  auto st = opened.wal->stats();
  CHECK(st.appends == kThreads * kPerThread);
  CHECK(st.records_written < st.appends);  // group commit happened
  INFO("records " << st.records_written << " for " << st.appends << " appends");
}

TEST_CASE("the ring wraps; recovery starts at the persisted trim and ignores stale laps", "[wal]") {
  TempWal t;
  const uint64_t capacity = 64 * 1024;
  std::vector<std::pair<uint64_t, Position>> live;  // entry number, position
  uint64_t n = 0;
  {
    auto opened = open_ok(t.options(capacity));
    // Write ~5 laps, keeping at most ~half the ring untrimmed.
    while (opened.wal->stats().end_offset < 5 * capacity) {
      auto pos = append_sync(*opened.wal, entry_for(n, 1000 + (n * 331) % 5000));
      REQUIRE(pos.ok());
      live.emplace_back(n++, *pos);
      while (pos->end - live.front().second.start > capacity / 2) {
        uint64_t trim_to = live.front().second.end;
        live.erase(live.begin());
        if (!live.empty() && live.front().second.start != trim_to) continue;  // same record
        REQUIRE(opened.wal->trim(trim_to).ok());
      }
    }
  }
  auto again = open_ok(t.options(capacity));
  REQUIRE(!again.recovered.empty());
  // Everything not trimmed is there, in order; anything older that comes back is a whole record
  // the trim had not yet persisted.
  size_t i = 0;
  while (i < again.recovered.size() && again.recovered[i].entry != entry_for(live.front().first, again.recovered[i].entry.payload.size())) ++i;
  REQUIRE(again.recovered.size() - i == live.size());
  for (size_t k = 0; k < live.size(); ++k) {
    uint64_t m = live[k].first;
    CHECK(again.recovered[i + k].entry == entry_for(m, 1000 + (m * 331) % 5000));
  }
}

TEST_CASE("a torn last record is discarded, earlier ones survive", "[wal]") {
  TempWal t;
  Position last;
  {
    auto opened = open_ok(t.options());
    for (uint64_t n = 0; n < 10; ++n) last = *append_sync(*opened.wal, entry_for(n, 3000));
  }
  // Flip a byte in the body of the last record (its physical place: ring start + offset).
  corrupt_byte(t.path, block_format::kRingStart + last.start + block_format::kRecordHeaderBytes + 100);
  auto again = open_ok(t.options());
  REQUIRE(again.recovered.size() == 9);
  for (uint64_t n = 0; n < 9; ++n) CHECK(again.recovered[n].entry == entry_for(n, 3000));
  // New appends continue where the valid log ended, over the torn record.
  auto pos = append_sync(*again.wal, entry_for(100, 10));
  REQUIRE(pos.ok());
  CHECK(pos->start == last.start);
}

TEST_CASE("a torn header slot falls back to the other slot", "[wal]") {
  TempWal t;
  {
    auto opened = open_ok(t.options());
    for (uint64_t n = 0; n < 3; ++n) REQUIRE(append_sync(*opened.wal, entry_for(n, 10)).ok());
  }
  // Two opens wrote sequences 1 (slot 1) and 2 (slot 0)... corrupt both in turn across reopens.
  corrupt_byte(t.path, 0 + 20);
  {
    auto opened = open_ok(t.options());
    CHECK(opened.recovered.size() == 3);
  }
  corrupt_byte(t.path, block_format::kBlockBytes + 20);
  auto opened = open_ok(t.options());
  CHECK(opened.recovered.size() == 3);
}

TEST_CASE("opening with a different capacity or a foreign file is refused with a clear error", "[wal]") {
  TempWal t;
  { open_ok(t.options(1 << 20)); }
  auto wrong = BlockWal::open(t.options(2 << 20));
  REQUIRE(!wrong.ok());
  CHECK(wrong.error().message.find("s3.wal.capacity") != std::string::npos);

  TempWal foreign;
  FILE* f = std::fopen(foreign.path.c_str(), "w");
  std::fputs("important data that is not a WAL", f);
  std::fclose(f);
  auto refused = BlockWal::open(foreign.options());
  REQUIRE(!refused.ok());
  CHECK(refused.error().code == Errc::corrupt);

  auto bad = BlockWal::open(t.options(5000));
  REQUIRE(!bad.ok());
  CHECK(bad.error().message.find("s3.wal.capacity") != std::string::npos);
}

TEST_CASE("trim accepts only record boundaries within the log", "[wal]") {
  TempWal t;
  auto opened = open_ok(t.options());
  auto a = *append_sync(*opened.wal, entry_for(1, 10));
  auto b = *append_sync(*opened.wal, entry_for(2, 10));
  CHECK(!opened.wal->trim(a.start + 4096 * 100).ok());
  CHECK(!opened.wal->trim(a.start + 100).ok());
  CHECK(opened.wal->trim(a.end).ok());
  CHECK(opened.wal->trim(b.end).ok());
  CHECK(opened.wal->trim(a.end).ok());  // going backwards is a no-op
}

TEST_CASE("a full WAL holds appends until a trim frees room", "[wal]") {
  TempWal t;
  const uint64_t capacity = 64 * 1024;
  auto opened = open_ok(t.options(capacity));
  std::vector<Position> done;
  while (opened.wal->stats().used_bytes + 8 * 1024 <= capacity) done.push_back(*append_sync(*opened.wal, entry_for(done.size(), 8000)));
  std::promise<Result<Position>> p;
  auto f = p.get_future();
  opened.wal->append(entry_for(999, 8000), [&](Result<Position> r) { p.set_value(std::move(r)); });
  CHECK(f.wait_for(std::chrono::milliseconds(200)) == std::future_status::timeout);
  REQUIRE(opened.wal->trim(done[3].end).ok());
  REQUIRE(f.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  CHECK(f.get().ok());
}

TEST_CASE("oversized entries and a full queue are refused at once", "[wal]") {
  TempWal t;
  auto o = t.options(64 * 1024);
  o.max_queued_bytes = 1000;
  auto opened = open_ok(o);
  auto r = append_sync(*opened.wal, entry_for(1, 70 * 1024));
  REQUIRE(!r.ok());
  CHECK(r.error().code == Errc::too_large);
}

TEST_CASE("an_entry_larger_than_half_the_ring_is_refused_at_once_instead_of_waiting_forever_at_the_wrap", "[wal]") {
  // A record of more than half the ring may need padding + record > ring at the wrap: refused
  // up front. One of just under half still goes through wherever the ring stands.
  TempWal t;
  auto opened = open_ok(t.options(64 * 1024));
  for (uint64_t n = 0; n < 7; ++n) REQUIRE(append_sync(*opened.wal, entry_for(n, 3000)).ok());
  REQUIRE(opened.wal->trim(opened.wal->stats().end_offset).ok());
  auto big = append_sync(*opened.wal, entry_for(7, 36 * 1024));
  REQUIRE(!big.ok());
  CHECK(big.error().code == Errc::too_large);
  CHECK(big.error().message.find("half the WAL capacity") != std::string::npos);
  for (uint64_t n = 8; n < 20; ++n) {
    auto r = append_sync(*opened.wal, entry_for(n, 28 * 1024));
    REQUIRE(r.ok());
    REQUIRE(opened.wal->trim(r->end).ok());
  }
}

// The durability promise: kill -9 the writer at a random moment, reopen, and check that every
// acknowledged entry is there, byte-identical, in order, and that nothing was invented.
TEST_CASE("acknowledged appends survive kill -9 at random moments", "[wal][crash]") {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(45);
  std::mt19937_64 rng(20261125);
  int iterations = 0;
  for (; iterations < 300 && std::chrono::steady_clock::now() < deadline; ++iterations) {
    TempWal t;
    const uint64_t capacity = 256 * 1024;
    int pipefd[2];
    REQUIRE(::pipe(pipefd) == 0);
    const uint64_t seed = rng();
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      ::close(pipefd[0]);
      auto opened = BlockWal::open(t.options(capacity));
      if (!opened.ok()) ::_exit(3);
      auto& wal = *opened->wal;
      std::mt19937_64 crng(seed);
      // Reports "A n end" for each acknowledged entry and "T off" for each trim, in order.
      std::vector<Position> acked;
      std::mutex mu;
      for (uint64_t n = 0;; ++n) {
        size_t size = crng() % 9000;
        wal.append(entry_for(n, size), [&, n, size](Result<Position> r) {
          if (!r.ok()) ::_exit(4);
          char line[96];
          int len = std::snprintf(line, sizeof(line), "A %llu %zu %llu\n", static_cast<unsigned long long>(n), size,
                                  static_cast<unsigned long long>(r->end));
          if (::write(pipefd[1], line, static_cast<size_t>(len)) != len) ::_exit(5);
          std::lock_guard lk(mu);
          acked.push_back(*r);
        });
        if (n % 16 == 15) {
          std::lock_guard lk(mu);
          if (acked.size() > 8) {
            uint64_t to = acked[acked.size() - 8].end;
            // Announce the trim before making it: a kill between the two must not leave the
            // parent expecting entries the WAL was already allowed to drop.
            char line[64];
            int len = std::snprintf(line, sizeof(line), "T %llu\n", static_cast<unsigned long long>(to));
            if (::write(pipefd[1], line, static_cast<size_t>(len)) != len) ::_exit(5);
            if (!wal.trim(to).ok()) ::_exit(6);  // `to` is a record end: trim must accept it
          }
        }
        if (n % 4 == 0) std::this_thread::sleep_for(std::chrono::microseconds(crng() % 300));
      }
    }
    ::close(pipefd[1]);
    std::this_thread::sleep_for(std::chrono::microseconds(2000 + rng() % 60000));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    // Killed by our SIGKILL, not dead of its own accord (an assertion would be SIGABRT).
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGKILL);
    std::string out;
    char buf[4096];
    ssize_t r;
    while ((r = ::read(pipefd[0], buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(r));
    ::close(pipefd[0]);

    struct Ack { uint64_t n; size_t size; uint64_t end; };
    std::vector<Ack> acks;
    uint64_t reported_trim = 0;
    size_t pos = 0;
    while (pos < out.size()) {
      size_t nl = out.find('\n', pos);
      if (nl == std::string::npos) break;  // a partial line: the kill landed mid-write
      std::string line = out.substr(pos, nl - pos);
      pos = nl + 1;
      unsigned long long a = 0, c = 0;
      size_t b = 0;
      if (std::sscanf(line.c_str(), "A %llu %zu %llu", &a, &b, &c) == 3) acks.push_back({a, b, c});
      else if (std::sscanf(line.c_str(), "T %llu", &a) == 1) reported_trim = a;
    }

    auto reopened = BlockWal::open(t.options(capacity));
    REQUIRE(reopened.ok());
    const auto& rec = reopened->recovered;
    // Nothing invented: every recovered entry is some entry n with its exact bytes, n increasing.
    for (size_t i = 0; i < rec.size(); ++i) {
      uint64_t n = static_cast<uint64_t>(rec[i].entry.base_offset.value());
      REQUIRE(rec[i].entry == entry_for(n, rec[i].entry.payload.size()));
      if (i > 0) REQUIRE(static_cast<uint64_t>(rec[i - 1].entry.base_offset.value()) < n);
    }
    // Every acknowledged entry past the reported trim is recovered.
    size_t j = 0;
    for (const Ack& ack : acks) {
      if (ack.end <= reported_trim) continue;
      while (j < rec.size() && static_cast<uint64_t>(rec[j].entry.base_offset.value()) < ack.n) ++j;
      INFO("iteration " << iterations << " acked entry " << ack.n << " (record end " << ack.end
           << ") missing after kill -9; reported trim " << reported_trim << ", recovered " << rec.size()
           << " entries from " << (rec.empty() ? 0 : rec.front().entry.base_offset.value()) << " at wal offset "
           << (rec.empty() ? 0 : rec.front().position.start) << " to "
           << (rec.empty() ? 0 : rec.back().entry.base_offset.value()) << ", acks " << acks.size());
      REQUIRE(j < rec.size());
      REQUIRE(static_cast<uint64_t>(rec[j].entry.base_offset.value()) == ack.n);
      REQUIRE(rec[j].entry.payload.size() == ack.size);
    }
  }
  INFO("kill -9 iterations: " << iterations);
  CHECK(iterations >= 100);
}

TEST_CASE("buffered mode (the fallback where O_DIRECT is refused) writes and recovers", "[wal]") {
  TempWal t;
  auto o = t.options();
  o.direct_io = false;  // what open() falls back to when the file system refuses O_DIRECT
  {
    auto opened = open_ok(o);
    CHECK(!opened.wal->using_direct_io());
    for (uint64_t n = 0; n < 5; ++n) REQUIRE(append_sync(*opened.wal, entry_for(n, 500)).ok());
  }
  auto again = open_ok(t.options());  // the same file reopens with O_DIRECT
  REQUIRE(again.recovered.size() == 5);
  for (uint64_t n = 0; n < 5; ++n) CHECK(again.recovered[n].entry == entry_for(n, 500));
  // On tmpfs the fallback itself is taken only by kernels that refuse O_DIRECT there (< 6.6).
  if (fs::exists("/dev/shm")) {
    char tmpl[] = "/dev/shm/floe-wal-test-XXXXXX";
    fs::path dir = mkdtemp(tmpl);
    auto shm = t.options();
    shm.path = (dir / "wal").string();
    auto opened = open_ok(shm);
    REQUIRE(append_sync(*opened.wal, entry_for(1, 10)).ok());
    opened.wal->close();
    fs::remove_all(dir);
  }
}
