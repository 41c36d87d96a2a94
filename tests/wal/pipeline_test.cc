// The pipelined BlockWal: two workers, so a group commit is prepared, written and synced while the
// previous one is still in the device. These tests
// check its two promises: acknowledgements come in order and only after an fdatasync that covers
// them, and a crash that keeps a later record but loses an earlier one never resurrects the later
// one once new appends overwrite the gap (the open epoch in every record).
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "common/little_endian.h"
#include "wal/block_format.h"
#include "wal/block_wal.h"
#include "wal_test_util.h"
#include "wal/scan.h"

using namespace floe;
using namespace floe::wal;
namespace fs = std::filesystem;
namespace bf = floe::wal::block_format;

using namespace floe::wal::testing;

namespace {

Entry entry_for(uint64_t n, size_t size) {
  Bytes b(size);
  std::mt19937_64 rng(n * 104729 + 7);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return Entry{StreamId(n % 5), StreamEpoch(2), Offset(static_cast<int64_t>(n)), SharedBytes(std::move(b))};
}

// What a lost device write looks like: the record's first block never reached the disk (zeros).
void lose_record_header(const std::string& path, uint64_t logical_start) {
  int fd = ::open(path.c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  std::vector<uint8_t> zeros(bf::kBlockBytes, 0);
  REQUIRE(::pwrite(fd, zeros.data(), zeros.size(), static_cast<off_t>(bf::kRingStart + logical_start)) ==
          static_cast<ssize_t>(zeros.size()));
  ::close(fd);
}

ScanEnd scan_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  auto headers = read_headers(fd);
  REQUIRE(headers.ok());
  REQUIRE(headers->best.has_value());
  auto end = scan_records(fd, *headers->best, [](const ScannedRecord&) -> Status { return {}; });
  ::close(fd);
  REQUIRE(end.ok());
  return *end;
}

std::vector<uint64_t> recovered_ids(const BlockWal::Opened& o) {
  std::vector<uint64_t> out;
  for (const auto& r : o.recovered) out.push_back(static_cast<uint64_t>(r.entry.base_offset.value()));
  return out;
}

}  // namespace

TEST_CASE("a_record_that_outlived_a_lost_earlier_one_is_not_resurrected_after_new_appends_fill_the_gap", "[wal]") {
  TempWal t;
  constexpr size_t kSize = 10000;  // every entry alone in its record: all records the same size
  Position a, k, k1;
  {
    auto opened = open_ok(t.options());
    a = *append_sync(*opened.wal, entry_for(0, kSize));
    k = *append_sync(*opened.wal, entry_for(1, kSize));   // group k: [X, Y)
    k1 = *append_sync(*opened.wal, entry_for(2, kSize));  // group k+1: [Y, Z)
  }
  REQUIRE(k.end == k1.start);
  // Crash: k's write was lost, k+1's survived (its write overlapped k's fdatasync).
  lose_record_header(t.path, k.start);
  {
    auto opened = open_ok(t.options());
    REQUIRE(recovered_ids(opened) == std::vector<uint64_t>{0});  // the log ends at X
    auto fresh = append_sync(*opened.wal, entry_for(10, kSize));
    REQUIRE(fresh.ok());
    REQUIRE(fresh->start == k.start);
    REQUIRE(fresh->end == k.end);  // new appends end exactly at Y, where the old k+1 still lies
  }
  // Second crash (nothing more written): the old k+1 has a valid CRC and the right offset, but an
  // older epoch than the record before it.
  const ScanEnd end = scan_file(t.path);
  CHECK(end.stop == ScanStop::older_epoch);
  CHECK(end.end_offset == k.end);
  auto again = open_ok(t.options());
  CHECK(recovered_ids(again) == std::vector<uint64_t>{0, 10});
  // And appends continue at Y, overwriting the old record.
  auto next = append_sync(*again.wal, entry_for(11, 100));
  REQUIRE(next.ok());
  CHECK(next->start == k.end);
  (void)a;
}

TEST_CASE("a_trim_to_the_end_of_the_gap_does_not_let_the_old_record_there_back_in", "[wal]") {
  // The same scenario, but the trim moves to Y: recovery starts at the old k+1 with no record
  // before it. The header's trim epoch (the epoch the record at the trim must at least carry)
  // rejects it.
  TempWal t;
  constexpr size_t kSize = 10000;
  Position k, k1;
  {
    auto opened = open_ok(t.options());
    REQUIRE(append_sync(*opened.wal, entry_for(0, kSize)).ok());
    k = *append_sync(*opened.wal, entry_for(1, kSize));
    k1 = *append_sync(*opened.wal, entry_for(2, kSize));
  }
  REQUIRE(k.end == k1.start);
  lose_record_header(t.path, k.start);
  {
    auto opened = open_ok(t.options());
    auto fresh = append_sync(*opened.wal, entry_for(10, kSize));
    REQUIRE(fresh.ok());
    REQUIRE(fresh->end == k.end);
    REQUIRE(opened.wal->trim(fresh->end).ok());
    opened.wal->close();  // persists the trim
    REQUIRE(opened.wal->stats().trim_offset == k.end);
  }
  CHECK(scan_file(t.path).stop == ScanStop::older_epoch);
  auto again = open_ok(t.options());
  CHECK(again.recovered.empty());
}

TEST_CASE("a_legitimate_record_at_the_trim_written_by_an_earlier_open_is_still_recovered", "[wal]") {
  TempWal t;
  Position second;
  {
    auto opened = open_ok(t.options());
    REQUIRE(append_sync(*opened.wal, entry_for(0, 3000)).ok());
    second = *append_sync(*opened.wal, entry_for(1, 3000));
    REQUIRE(append_sync(*opened.wal, entry_for(2, 3000)).ok());
  }
  {
    auto opened = open_ok(t.options());  // a later epoch trims to a record of the first one
    REQUIRE(opened.recovered.size() == 3);
    REQUIRE(opened.wal->trim(second.start).ok());
    REQUIRE(append_sync(*opened.wal, entry_for(3, 3000)).ok());
  }
  auto again = open_ok(t.options());
  CHECK(recovered_ids(again) == std::vector<uint64_t>{1, 2, 3});
}

TEST_CASE("pipelined_acks_come_in_order_and_only_after_an_fdatasync_that_covers_them", "[wal]") {
  TempWal t;
  auto o = t.options(8 << 20);
  std::atomic<BlockWal*> wal_ptr{nullptr};
  std::mutex mu;
  std::condition_variable cv;
  bool gate_open = false;
  uint64_t syncs_started = 0;
  std::atomic<uint64_t> covered_end{0};  // the largest written end seen when a completed sync began
  o.sync_hook_for_test = [&](bool after) -> Status {
    thread_local uint64_t snapshot = 0;  // per worker: the written end when its sync began
    if (after) {
      uint64_t seen = covered_end.load();
      while (seen < snapshot && !covered_end.compare_exchange_weak(seen, snapshot)) {
      }
      return {};
    }
    BlockWal* w = wal_ptr.load();
    snapshot = w ? w->stats().written_end_offset : 0;
    std::unique_lock lk(mu);
    ++syncs_started;
    cv.notify_all();
    cv.wait(lk, [&] { return gate_open; });  // a slow fdatasync: held until the test lets go
    lk.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return {};
  };
  auto opened = open_ok(o);
  wal_ptr.store(opened.wal.get());

  std::mutex ack_mu;
  std::vector<uint64_t> ack_order;
  std::vector<Position> ack_pos;
  std::atomic<int> early{0};
  std::atomic<int> failures{0};
  auto append = [&](uint64_t n) {
    opened.wal->append(entry_for(n, 20000), [&, n](Result<Position> r) {
      if (!r.ok()) {
        failures.fetch_add(1);
        return;
      }
      if (r->end > covered_end.load()) early.fetch_add(1);  // acked before a sync covered it
      std::lock_guard lk(ack_mu);
      ack_order.push_back(n);
      ack_pos.push_back(*r);
    });
  };
  opened.wal->append(entry_for(0, 300000), [&](Result<Position> r) {
    if (!r.ok()) {
      failures.fetch_add(1);
      return;
    }
    if (r->end > covered_end.load()) early.fetch_add(1);
    std::lock_guard lk(ack_mu);
    ack_order.push_back(0);
    ack_pos.push_back(*r);
  });
  {
    std::unique_lock lk(mu);
    REQUIRE(cv.wait_for(lk, std::chrono::seconds(10), [&] { return syncs_started == 1; }));
  }
  // Group 0's fdatasync is held. Meanwhile the other worker takes group 1 from what is queued
  // (into the second buffer), writes it and starts its own sync (held too); then nothing more
  // moves: with both buffers in flight the rest waits in the queue, and nothing is acknowledged.
  for (uint64_t n = 1; n < 45; ++n) append(n);
  {
    std::unique_lock lk(mu);
    REQUIRE(cv.wait_for(lk, std::chrono::seconds(10), [&] { return syncs_started == 2; }));
  }
  // Both workers are now inside the held hook (each blocks there until the gate opens) and every
  // append above was queued before this thread got here, so nothing can change until the gate
  // opens: no waiting needed for the checks below to be final.
  {
    auto st = opened.wal->stats();
    CHECK(st.records_written == 2);           // group 1 was written while group 0's sync is held
    CHECK(st.queued_bytes < 44 * 20000);      // group 1 took entries out of the queue...
    CHECK(st.queued_bytes > 0);               // ...and no third group formed: both buffers are in flight
    CHECK(st.appends == 45);
    CHECK(st.end_offset == 0);                // nothing durable yet
    CHECK(st.written_end_offset > 0);
    std::lock_guard lk(ack_mu);
    CHECK(ack_order.empty());                 // nothing acknowledged while its sync is held
  }
  {
    std::lock_guard lk(mu);
    gate_open = true;
  }
  cv.notify_all();
  // More appends from several threads while syncs are slow.
  std::vector<std::thread> threads;
  for (int th = 0; th < 4; ++th)
    threads.emplace_back([&, th] {
      for (uint64_t i = 0; i < 50; ++i) {
        const uint64_t n = 1000 + static_cast<uint64_t>(th) * 100 + i;
        if (!append_sync(*opened.wal, entry_for(n, 5000)).ok()) failures.fetch_add(1);  // Catch2 asserts only on the test thread
      }
    });
  for (auto& th : threads) th.join();
  opened.wal->close();

  std::lock_guard lk(ack_mu);
  REQUIRE(ack_order.size() == 45);
  for (uint64_t n = 0; n < 45; ++n) CHECK(ack_order[n] == n);  // append order
  for (size_t i = 1; i < ack_pos.size(); ++i) CHECK(ack_pos[i - 1].start <= ack_pos[i].start);
  CHECK(early.load() == 0);
  CHECK(failures.load() == 0);
  auto again = open_ok(t.options(8 << 20));
  CHECK(again.recovered.size() == 45 + 200);
}

namespace {

// A sync hook that holds every fdatasync until the test opens the gate, counting those started.
struct HeldSyncs {
  std::mutex mu;
  std::condition_variable cv;
  bool gate_open = false;
  int started = 0;
  std::function<Status(bool)> hook() {
    return [this](bool after) -> Status {
      if (after) return {};
      std::unique_lock lk(mu);
      ++started;
      cv.notify_all();
      cv.wait(lk, [&] { return gate_open; });
      return {};
    };
  }
  bool wait_started(int n, std::chrono::milliseconds limit) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, limit, [&] { return started >= n; });
  }
  int started_now() {
    std::lock_guard lk(mu);
    return started;
  }
  void open() {
    {
      std::lock_guard lk(mu);
      gate_open = true;
    }
    cv.notify_all();
  }
};

}  // namespace

// The latency path at a moderate rate: an append that arrives while a small group is in its
// fdatasync does not wait for that sync (which could double its latency): the other worker writes
// and syncs it at once. Acknowledgements still come in append order.
TEST_CASE("an_append_arriving_during_a_small_groups_fdatasync_is_written_and_synced_at_once", "[wal]") {
  TempWal t;
  auto o = t.options(8 << 20);
  HeldSyncs held;
  o.sync_hook_for_test = held.hook();
  auto opened = open_ok(o);
  std::mutex ack_mu;
  std::vector<int> acks;  // successful ones (Catch2 asserts only on the test thread)
  auto append = [&](int n) {
    opened.wal->append(entry_for(static_cast<uint64_t>(n), 1000), [&, n](Result<Position> r) {
      std::lock_guard lk(ack_mu);
      if (r.ok()) acks.push_back(n);
    });
  };
  append(0);
  REQUIRE(held.wait_started(1, std::chrono::seconds(10)));
  append(1);  // group 0's fdatasync is held: this one goes to the device without waiting for it
  CHECK(held.wait_started(2, std::chrono::seconds(10)));
  CHECK(opened.wal->stats().records_written == 2);
  CHECK(opened.wal->stats().end_offset == 0);  // nothing acknowledged while the syncs are held
  held.open();
  opened.wal->close();
  CHECK(acks == std::vector<int>{0, 1});
}

// The throughput path: while a large group (at least 256 KiB) is in the device, small appends
// wait for it and then go together as one group, so group commits stay large under load.
TEST_CASE("small_appends_arriving_during_a_large_groups_fdatasync_wait_for_it_and_share_one_group", "[wal]") {
  TempWal t;
  auto o = t.options(8 << 20);
  HeldSyncs held;
  o.sync_hook_for_test = held.hook();
  auto opened = open_ok(o);
  std::atomic<int> acked{0};  // successful ones
  auto count = [&](Result<Position> r) {
    if (r.ok()) acked.fetch_add(1);
  };
  opened.wal->append(entry_for(0, 300000), count);
  REQUIRE(held.wait_started(1, std::chrono::seconds(10)));
  for (uint64_t n = 1; n <= 10; ++n) opened.wal->append(entry_for(n, 1000), count);
  CHECK_FALSE(held.wait_started(2, std::chrono::milliseconds(200)));
  CHECK(opened.wal->stats().records_written == 1);
  held.open();
  opened.wal->close();
  CHECK(acked.load() == 11);
  CHECK(held.started_now() == 2);  // the ten small appends: one group, one fdatasync
  CHECK(opened.wal->stats().records_written == 2);
}

TEST_CASE("a_failed_fdatasync_fails_its_groups_and_everything_after_in_order_and_nothing_later_is_acked", "[wal]") {
  TempWal t;
  auto o = t.options(8 << 20);
  std::atomic<int> syncs{0};
  o.sync_hook_for_test = [&](bool after) -> Status {
    if (after) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // let the queue build up behind it
    if (syncs.fetch_add(1) == 3) return Error(Errc::io, "injected fdatasync failure");
    return {};
  };
  auto opened = open_ok(o);
  std::mutex mu;
  std::vector<std::pair<uint64_t, bool>> acks;  // (entry, ok) in callback order, from the WAL's thread
  std::vector<uint64_t> refused_at_once;         // appends after the failure: refused on this thread
  std::atomic<int> callbacks{0};
  const auto test_thread = std::this_thread::get_id();
  constexpr uint64_t kEntries = 300;
  for (uint64_t n = 0; n < kEntries; ++n) {
    opened.wal->append(entry_for(n, 3000), [&, n](Result<Position> r) {
      std::lock_guard lk(mu);
      if (std::this_thread::get_id() == test_thread) {
        if (!r.ok()) refused_at_once.push_back(n);
      } else {
        acks.emplace_back(n, r.ok());
      }
      callbacks.fetch_add(1);
    });
    if (n % 8 == 7) std::this_thread::sleep_for(std::chrono::microseconds(300));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (callbacks.load() < static_cast<int>(kEntries) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  REQUIRE(callbacks.load() == static_cast<int>(kEntries));  // every callback ran exactly once
  // A later append is refused at once.
  auto late = append_sync(*opened.wal, entry_for(kEntries, 10));
  CHECK(!late.ok());
  opened.wal->close();
  std::lock_guard lk(mu);
  size_t ok_prefix = 0;
  while (ok_prefix < acks.size() && acks[ok_prefix].second) ++ok_prefix;
  CHECK(ok_prefix > 0);
  CHECK(ok_prefix + refused_at_once.size() < kEntries);  // the injected failure was hit with groups pending
  // Callbacks on the WAL's thread run in append order, errors included; an append that arrives
  // after the failure is refused at once on the caller's thread (Wal::append), after every
  // acknowledged one.
  for (size_t i = 0; i < acks.size(); ++i) {
    CHECK(acks[i].first == i);
    if (i >= ok_prefix) CHECK(!acks[i].second);  // nothing acknowledged after the failure
  }
  for (uint64_t n : refused_at_once) CHECK(n >= ok_prefix);
  // Everything acknowledged is recovered (later, unacknowledged entries may be too).
  auto again = open_ok(t.options(8 << 20));
  REQUIRE(again.recovered.size() >= ok_prefix);
  for (size_t i = 0; i < ok_prefix; ++i) CHECK(again.recovered[i].entry == entry_for(i, 3000));
}

TEST_CASE("a_wal_of_format_version_1_is_refused_with_an_error_naming_the_version", "[wal]") {
  TempWal t;
  { open_ok(t.options()); }
  int fd = ::open(t.path.c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  for (size_t slot = 0; slot < bf::kHeaderSlotCount; ++slot) {
    uint8_t version[4];
    le::put_u32(version, 1);
    REQUIRE(::pwrite(fd, version, 4, static_cast<off_t>(slot * bf::kBlockBytes + 4)) == 4);
  }
  ::close(fd);
  auto refused = BlockWal::open(t.options());
  REQUIRE(!refused.ok());
  CHECK(refused.error().message.find("format version 1") != std::string::npos);
  CHECK(refused.error().message.find("version 2") != std::string::npos);
}
