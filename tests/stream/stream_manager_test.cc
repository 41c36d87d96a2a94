#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <map>
#include <set>
#include <future>
#include <thread>

#include "objectstore/blocking.h"
#include "objectstore/fault_store.h"
#include "../objectstore/test_util.h"
#include "stream_test_util.h"

using namespace floe;
using namespace floe::stream;
using namespace floe::stream::testing;

TEST_CASE("append_completes_when_durable_and_fetch_returns_bytes_exactly_as_appended") {
  Harness h;
  h.start();
  auto s = h.open(h.create());
  std::vector<Batch> written;
  int64_t next = 0;
  for (int i = 0; i < 50; ++i) {
    uint32_t count = 1 + i % 7;
    SharedBytes bytes = pattern(100 + i * 13, i);
    auto r = append(*s, next, count, bytes);
    REQUIRE(r.ok());
    CHECK(r->value() == next + count);
    written.push_back(Batch{Offset(next), count, bytes});
    next += count;
  }
  CHECK(s->end_offset() == Offset(next));
  auto r = fetch(*s, 0);
  REQUIRE(r.ok());
  CHECK(r->from_log_cache);
  CHECK(r->batches == written);
  // A fetch inside a batch starts with the batch holding the offset.
  auto mid = fetch(*s, written[3].base_offset.value() + 1, 1);
  REQUIRE(mid.ok());
  REQUIRE(mid->batches.size() == 1);  // at least one batch even beyond max_bytes
  CHECK(mid->batches[0] == written[3]);
  CHECK(fetch(*s, next)->batches.empty());
  CHECK(fetch(*s, next + 1).error().code == Errc::not_found);
}

TEST_CASE("non_contiguous_and_empty_appends_are_rejected") {
  Harness h;
  h.start();
  auto s = h.open(h.create());
  REQUIRE(append(*s, 0, 5, pattern(10, 1)).ok());
  CHECK(append(*s, 6, 1, pattern(10, 2)).error().code == Errc::invalid_value);
  CHECK(append(*s, 4, 1, pattern(10, 2)).error().code == Errc::invalid_value);
  CHECK(append(*s, 5, 0, pattern(10, 2)).error().code == Errc::invalid_value);
  CHECK(append(*s, 5, 1, pattern(2 << 20, 2)).error().code == Errc::too_large);
  CHECK(append(*s, 5, 1, pattern(10, 2)).ok());
}

TEST_CASE("a_stream_reopened_elsewhere_fences_the_old_owner") {
  Harness h;
  h.start();
  auto id = h.create();
  auto s = h.open(id);
  REQUIRE(append(*s, 0, 1, pattern(10, 1)).ok());
  // Another node takes the stream over.
  REQUIRE(sync<StreamInfo>([&](auto cb) { h.meta->open_stream(id, NodeId(2), cb); }).ok());
  h.flush();  // the upload's commit is refused: the old owner learns it is fenced
  auto r = append(*s, 1, 1, pattern(10, 2));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::fenced);
  CHECK(sync<Done>([&](auto cb) { s->trim(Offset(1), cb); }).error().code == Errc::fenced);
}

TEST_CASE("upload_writes_one_stream_set_object_for_many_streams_then_reads_come_from_objects") {
  Harness h;
  h.options.cache_size_bytes = 4 << 20;
  h.options.upload_threshold_bytes = 4 << 20;
  h.start();
  std::vector<std::shared_ptr<Stream>> streams;
  for (int i = 0; i < 20; ++i) streams.push_back(h.open(h.create()));
  std::map<int, std::vector<Batch>> written;
  for (int round = 0; round < 10; ++round)
    for (int i = 0; i < 20; ++i) {
      SharedBytes b = pattern(1000, round * 100 + i);
      REQUIRE(append(*streams[i], round * 2, 2, b).ok());
      written[i].push_back(Batch{Offset(round * 2), 2, b});
    }
  h.flush();
  auto stats = h.manager->stats();
  CHECK(stats.uploads == 1);
  CHECK(stats.stream_set_objects == 1);
  CHECK(stats.stream_objects == 0);
  CHECK(static_cast<objectstore::MemStore&>(*h.store).object_count() == 1);
  // After a restart the log cache is empty: every read goes to the object.
  h.restart();
  for (int i = 0; i < 20; ++i) {
    auto s = h.open(streams[i]->id());
    CHECK(s->end_offset() == Offset(20));
    CHECK(fetch_all(*s, 0) == written[i]);
  }
  CHECK(h.manager->stats().cold_fetches > 0);
  CHECK(h.manager->stats().block_cache_hits > 0);  // the index and blocks are shared by the streams
}

TEST_CASE("a_stream_with_a_large_pending_range_gets_its_own_stream_object") {
  Harness h;
  h.start();
  auto big = h.open(h.create());
  auto small = h.open(h.create());
  for (int i = 0; i < 30; ++i) REQUIRE(append(*big, i, 1, pattern(8000, i)).ok());
  REQUIRE(append(*small, 0, 1, pattern(100, 1)).ok());
  h.flush();
  auto stats = h.manager->stats();
  CHECK(stats.stream_objects == 1);
  CHECK(stats.stream_set_objects == 1);
  auto slices = sync<std::vector<ObjectSlice>>(
      [&](auto cb) { h.meta->list_objects(big->id(), Offset(0), Offset(100), 10, cb); });
  REQUIRE(slices->size() == 1);
  CHECK(slices->at(0).kind == ObjectKind::stream);
}

TEST_CASE("upload_threshold_triggers_uploads_and_the_wal_is_trimmed") {
  Harness h;
  h.start();
  auto s = h.open(h.create());
  for (int i = 0; i < 200; ++i) REQUIRE(append(*s, i, 1, pattern(4000, i)).ok());  // 800 KB > 256 KiB threshold
  // Uploads run on the uploader thread: wait (bounded) until they have caught up to the threshold.
  auto caught_up = [&] {
    auto st = h.manager->stats();
    return st.uploads >= 2 && st.unuploaded_bytes < (256u << 10) + 4000;
  };
  for (int i = 0; i < 500 && !caught_up(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(h.manager->stats().uploads >= 2);
  CHECK(h.manager->stats().unuploaded_bytes < (256u << 10) + 4000);
}

TEST_CASE("a_full_log_cache_makes_appends_wait_instead_of_growing_memory") {
  Harness h;
  h.options.cache_size_bytes = 256 << 10;
  h.options.upload_threshold_bytes = 256 << 10;
  h.options.stream_object_threshold_bytes = 1 << 30;
  h.start();
  auto s = h.open(h.create());
  // Fire many appends without waiting: more bytes than the cache holds.
  std::vector<std::future<Result<Offset>>> futures;
  for (int i = 0; i < 100; ++i) {
    auto p = std::make_shared<std::promise<Result<Offset>>>();
    futures.push_back(p->get_future());
    s->append(Batch{Offset(i), 1, pattern(10000, i)}, [p](Result<Offset> r) { p->set_value(std::move(r)); });
    CHECK(h.manager->stats().cache_used_bytes <= h.options.cache_size_bytes);
  }
  for (auto& f : futures) REQUIRE(f.get().ok());
  auto stats = h.manager->stats();
  CHECK(stats.append_waits > 0);
  CHECK(stats.cache_used_bytes <= h.options.cache_size_bytes);
  CHECK(s->end_offset() == Offset(100));
  REQUIRE(fetch_all(*s, 0).size() == 100);
}

TEST_CASE("too_many_waiting_appends_are_refused_not_queued_without_bound") {
  Harness h;
  h.options.cache_size_bytes = 64 << 10;
  h.options.upload_threshold_bytes = 64 << 10;
  h.options.max_waiting_appends = 4;
  auto fault = std::make_shared<objectstore::FaultStore>(h.store, objectstore::FaultConfig{});
  objectstore::FaultConfig stall;
  stall.latency_ms_min = stall.latency_ms_max = 300;  // uploads are slow: the cache stays full
  fault->set_config(stall);
  h.store = fault;
  h.start();
  auto s = h.open(h.create());
  std::atomic<int> refused{0}, ok{0};
  std::vector<std::shared_ptr<std::promise<void>>> done;
  for (int i = 0; i < 40; ++i) {
    auto p = std::make_shared<std::promise<void>>();
    done.push_back(p);
    s->append(Batch{Offset(i), 1, pattern(8000, i)}, [&, p](Result<Offset> r) {
      (r.ok() ? ok : refused)++;
      p->set_value();
    });
  }
  for (auto& p : done) p->get_future().wait();
  CHECK(refused.load() > 0);
  CHECK(h.manager->stats().cache_used_bytes <= h.options.cache_size_bytes);
}

TEST_CASE("trim_moves_the_start_offset_and_fetch_below_it_is_out_of_range") {
  Harness h;
  h.start();
  auto s = h.open(h.create());
  for (int i = 0; i < 10; ++i) REQUIRE(append(*s, i * 10, 10, pattern(100, i)).ok());
  REQUIRE(sync<Done>([&](auto cb) { s->trim(Offset(35), cb); }).ok());
  CHECK(s->start_offset() == Offset(35));
  CHECK(fetch(*s, 20).error().code == Errc::not_found);
  auto r = fetch(*s, 35);
  REQUIRE(r.ok());
  CHECK(r->batches[0].base_offset == Offset(30));
  CHECK(sync<Done>([&](auto cb) { s->trim(Offset(1000), cb); }).error().code == Errc::invalid_value);
}

TEST_CASE("close_uploads_the_cached_tail_and_a_reopen_continues_from_the_end") {
  Harness h;
  h.start();
  auto id = h.create();
  auto s = h.open(id);
  for (int i = 0; i < 5; ++i) REQUIRE(append(*s, i, 1, pattern(100, i)).ok());
  REQUIRE(sync<Done>([&](auto cb) { s->close(cb); }).ok());
  CHECK(append(*s, 5, 1, pattern(100, 5)).error().code == Errc::not_found);
  auto s2 = h.open(id);
  CHECK(s2->epoch() > s->epoch());
  CHECK(s2->end_offset() == Offset(5));
  REQUIRE(append(*s2, 5, 1, pattern(100, 5)).ok());
  CHECK(fetch_all(*s2, 0).size() == 6);
}

TEST_CASE("recovery_reuploads_wal_entries_before_serving_and_never_duplicates") {
  for (bool fs_backend : {false, true}) {
    Harness h(fs_backend);
    h.start();
    auto a = h.open(h.create());
    auto b = h.open(h.create());
    std::vector<Batch> wa, wb;
    for (int i = 0; i < 20; ++i) {
      SharedBytes x = pattern(500, i), y = pattern(700, 100 + i);
      REQUIRE(append(*a, i * 3, 3, x).ok());
      REQUIRE(append(*b, i, 1, y).ok());
      wa.push_back({Offset(i * 3), 3, x});
      wb.push_back({Offset(i), 1, y});
      if (i == 9) h.flush();  // half of it committed before the "crash"
    }
    // No flush: close leaves the tail in the WAL only (like a crash after the WAL write).
    h.restart();
    auto stats = h.manager->stats();
    CHECK(stats.recovered_entries >= 20);
    CHECK(stats.recovered_uploaded == 20);
    auto a2 = h.open(a->id());
    auto b2 = h.open(b->id());
    CHECK(a2->end_offset() == Offset(60));
    CHECK(fetch_all(*a2, 0) == wa);
    CHECK(fetch_all(*b2, 0) == wb);
    // A second restart finds nothing new to upload.
    h.restart();
    CHECK(h.manager->stats().recovered_uploaded == 0);
  }
}

TEST_CASE("recovery_fails_instead_of_dropping_wal_entries_when_the_metadata_cannot_describe_a_stream") {
  Harness h;
  h.start();
  auto s = h.open(h.create());
  std::vector<Batch> written;
  for (int i = 0; i < 5; ++i) {
    SharedBytes b = pattern(300, i);
    REQUIRE(append(*s, i, 1, b).ok());
    written.push_back({Offset(i), 1, b});
  }
  h.close();  // the tail is only in the WAL
  h.meta->fail_describe_stream(Error(Errc::timeout, "metadata not reachable"));
  {
    wal::BlockWalOptions wo;
    wo.path = (h.dir.path / "wal").string();
    wo.capacity_bytes = h.wal_capacity;
    wo.node_id = 1;
    auto opened = wal::BlockWal::open(wo);
    REQUIRE(opened.ok());
    auto m = StreamManager::open(h.options, std::move(opened->wal), std::move(opened->recovered), h.store, h.cold_store,
                                 h.meta);
    REQUIRE_FALSE(m.ok());  // not "skipped", which would trim the entries away
    CHECK(m.error().code == Errc::timeout);
  }
  h.meta->fail_describe_stream(std::nullopt);
  h.start();  // the WAL still holds every entry
  CHECK(h.manager->stats().recovered_uploaded == 5);
  CHECK(fetch_all(*h.open(s->id()), 0) == written);
}

TEST_CASE("uploads_retry_through_503s_and_timeouts_without_losing_or_duplicating_data") {
  Harness h;
  auto fault = std::make_shared<objectstore::FaultStore>(h.store, objectstore::FaultConfig{});
  objectstore::FaultConfig cfg;
  cfg.slowdown_rate = 0.3;
  cfg.timeout_rate = 0.2;
  cfg.timeout_ms = 5;
  cfg.seed = 42;
  fault->set_config(cfg);
  h.store = fault;
  h.start();
  std::vector<std::shared_ptr<Stream>> streams;
  for (int i = 0; i < 5; ++i) streams.push_back(h.open(h.create()));
  std::map<int, std::vector<Batch>> written;
  for (int round = 0; round < 40; ++round) {
    for (int i = 0; i < 5; ++i) {
      SharedBytes b = pattern(3000, round * 10 + i);
      REQUIRE(append(*streams[i], round, 1, b).ok());
      written[i].push_back({Offset(round), 1, b});
    }
    if (round % 10 == 9) h.flush();
  }
  CHECK(h.manager->stats().put_failures > 0);
  fault->set_config(objectstore::FaultConfig{});  // reads without faults
  h.restart();
  for (int i = 0; i < 5; ++i) {
    auto s = h.open(streams[i]->id());
    CHECK(s->end_offset() == Offset(40));
    CHECK(fetch_all(*s, 0) == written[i]);
  }
}

namespace {
// Starts h with one stream of 100 batches of 2000 bytes (offsets 0-99), all in one stream-set
// object and none in the log cache (restarted): every fetch of it is a cold read.
std::shared_ptr<Stream> start_with_a_cold_stream(Harness& h) {
  h.options.stream_object_threshold_bytes = 1 << 30;
  h.start();
  auto s = h.open(h.create());
  for (int i = 0; i < 100; ++i) REQUIRE(append(*s, i, 1, pattern(2000, i)).ok());
  h.flush();
  h.restart();
  return h.open(s->id());
}
}  // namespace

TEST_CASE("sequential_cold_reads_prefetch_the_next_blocks") {
  Harness h;
  auto s = start_with_a_cold_stream(h);
  int64_t at = 0;
  while (at < 100) {
    auto r = fetch(*s, at, 8000);
    REQUIRE(r.ok());
    at = r->batches.back().end_offset().value();
  }
  // Readahead runs in the background (at a lower priority): wait for it, bounded.
  for (int i = 0; i < 1000 && h.manager->stats().readahead_gets == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto stats = h.manager->stats();
  CHECK(stats.readahead_gets > 0);
  CHECK(stats.block_cache_hits > 0);
}

namespace {
int nice_of_this_thread() {
  errno = 0;
  return ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)));
}

}  // namespace

TEST_CASE("cold_block_parsing_runs_niced_while_fetch_callbacks_keep_the_callers_priority") {
  const int base = nice_of_this_thread();
  Harness h;
  h.options.readahead_blocks = 0;
  std::mutex parse_mu;
  std::vector<int> parse_nices;  // nice of each thread that parsed a block
  h.options.block_parse_hook_for_test = [&] {
    std::lock_guard lk(parse_mu);
    parse_nices.push_back(nice_of_this_thread());
  };
  h.start();
  auto s = h.open(h.create());
  REQUIRE(append(*s, 0, 1, pattern(100000, 1)).ok());
  h.flush();
  h.restart();  // empty log cache: the fetch below is a cold read
  s = h.open(s->id());
  std::promise<int> callback_nice;
  s->fetch(Offset(0), 1 << 20, [&](Result<FetchResult> r) {
    CHECK(r.ok());
    if (r.ok()) CHECK_FALSE(r->from_log_cache);
    callback_nice.set_value(nice_of_this_thread());
  });
  // The callback may take locks the append path needs (the broker's): never on a niced thread.
  CHECK(callback_nice.get_future().get() == base);
  // The block's parsing (CRCs, batch framing: the CPU-heavy part) ran on a niced cold I/O thread.
  {
    std::lock_guard lk(parse_mu);
    REQUIRE(parse_nices.size() == 1);
    CHECK(parse_nices[0] == std::min(19, base + kColdReadNice));
  }
  // The in-flight gauge drops once the callback has returned (bounded poll: a loaded machine).
  for (int i = 0; i < 1000 && h.manager->stats().cold_reads_in_flight != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(h.manager->stats().cold_reads_in_flight == 0);
}

TEST_CASE("cold_block_parsing_uses_at_most_cold_read_cpu_threads_while_more_fetches_run") {
  Harness h;
  h.options.stream_object_threshold_bytes = 1 << 30;
  h.options.readahead_blocks = 0;
  h.options.cold_read_threads = 4;      // four cold fetches at once...
  h.options.cold_read_cpu_threads = 1;  // ...share one parsing thread
  std::atomic<int> parsing{0}, most_parsing{0}, parses{0};
  std::atomic<uint64_t> most_fetches{0};  // cold fetches in flight seen by the first parse
  h.options.block_parse_hook_for_test = [&] {
    if (parses.load() == 0 && most_fetches.load() == 0) {
      // The first parse holds the only parsing thread until another fetch is in flight too
      // (bounded): the bound below is then checked while fetches really overlap.
      for (int i = 0; i < 1000 && most_fetches.load() < 2; ++i) {
        most_fetches = std::max(most_fetches.load(), h.manager->stats().cold_reads_in_flight);
        if (most_fetches.load() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    int now = ++parsing;
    int seen = most_parsing.load();
    while (now > seen && !most_parsing.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // widens the window for an overlap
    ++parses;
    --parsing;
  };
  h.start();
  std::vector<std::shared_ptr<Stream>> streams;
  std::vector<std::vector<Batch>> written(4);
  for (int i = 0; i < 4; ++i) {
    streams.push_back(h.open(h.create()));
    for (int k = 0; k < 20; ++k) {
      SharedBytes b = pattern(2000, i * 100 + k);
      REQUIRE(append(*streams[i], k, 1, b).ok());
      written[i].push_back({Offset(k), 1, b});
    }
  }
  h.flush();
  h.restart();  // empty log cache: every fetch below is a cold read
  std::vector<std::thread> readers;
  std::vector<std::vector<Batch>> read(streams.size());
  std::atomic<int> failures{0};
  for (size_t i = 0; i < streams.size(); ++i) {
    auto s = h.open(streams[i]->id());
    readers.emplace_back([&read, &failures, i, s] {  // no Catch2 macros off the main thread
      for (int64_t at = 0; at < s->end_offset().value();) {
        auto r = fetch(*s, at, 8000);
        if (!r.ok() || r->batches.empty()) {
          ++failures;
          return;
        }
        for (auto& b : r->batches) read[i].push_back(b);
        at = r->batches.back().end_offset().value();
      }
    });
  }
  for (auto& t : readers) t.join();
  CHECK(failures.load() == 0);
  for (size_t i = 0; i < streams.size(); ++i) CHECK(read[i] == written[i]);
  CHECK(parses.load() >= 4);
  CHECK(most_fetches.load() >= 2);
  CHECK(most_parsing.load() == 1);
}

namespace {
// Completes GETs on its own thread `delay` after the inner store answered, once delaying is on:
// a slow object store, whose answers can arrive after the reader has moved on.
class SlowGetStore final : public objectstore::testing::ForwardingStore {
 public:
  SlowGetStore(std::shared_ptr<objectstore::ObjectStore> inner, std::chrono::milliseconds delay)
      : ForwardingStore(std::move(inner)), delay_(delay), thread_([this] { run(); }) {}
  ~SlowGetStore() override {
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void set_delaying(bool on) { delaying_ = on; }
  int delayed() const { return delayed_; }
  int delivered() const { return delivered_; }
  void get(std::string k, objectstore::ByteRange r, objectstore::Callback<objectstore::GetResult> d) override {
    if (!delaying_) return inner_->get(std::move(k), r, std::move(d));
    inner_->get(std::move(k), r, [this, d = std::move(d)](Result<objectstore::GetResult> got) {
      std::lock_guard lk(mu_);
      ++delayed_;
      due_.push_back({std::chrono::steady_clock::now() + delay_, [this, d, got = std::move(got)]() mutable {
                        ++delivered_;  // before: the callback may release close()
                        d(std::move(got));
                      }});
      cv_.notify_all();
    });
  }

 private:
  void run() {
    std::unique_lock lk(mu_);
    for (;;) {
      if (due_.empty()) {
        if (stopping_) return;
        cv_.wait(lk);
        continue;
      }
      auto [when, complete] = std::move(due_.front());
      due_.pop_front();
      lk.unlock();
      std::this_thread::sleep_until(when);
      complete();
      lk.lock();
    }
  }
  std::chrono::milliseconds delay_;
  std::atomic<bool> delaying_{false};
  std::atomic<int> delayed_{0}, delivered_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::function<void()>>> due_;
  bool stopping_ = false;
  std::thread thread_;
};
}  // namespace

// Readahead GETs are asynchronous: close() must wait for their answers, which touch the manager
// (under ASan a missing wait is a use-after-free here).
TEST_CASE("close_waits_for_readahead_gets_that_are_still_in_flight") {
  Harness h;
  auto slow = std::make_shared<SlowGetStore>(h.store, std::chrono::milliseconds(300));
  h.cold_store = slow;
  auto s = start_with_a_cold_stream(h);
  auto first = fetch(*s, 0, 8000);
  REQUIRE(first.ok());
  slow->set_delaying(true);
  auto second = fetch(*s, first->batches.back().end_offset().value(), 8000);  // sequential: reads ahead
  REQUIRE(second.ok());
  CHECK(h.manager->stats().readahead_gets > 0);
  h.close();  // readahead answers are still ~300 ms away
  // close() returned only after every answer it had asked for was handled.
  CHECK(slow->delivered() == slow->delayed());
  CHECK(second->batches.front().base_offset == first->batches.back().end_offset());
}

namespace {
// Records the threads that ask it for GETs.
class GetCallersStore final : public objectstore::testing::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  void get(std::string k, objectstore::ByteRange r, objectstore::Callback<objectstore::GetResult> d) override {
    {
      std::lock_guard lk(mu_);
      ++calls_[std::this_thread::get_id()];
    }
    inner_->get(std::move(k), r, std::move(d));
  }
  int calls_from(std::thread::id id) {
    std::lock_guard lk(mu_);
    return calls_[id];
  }

 private:
  std::mutex mu_;
  std::map<std::thread::id, int> calls_;
};
}  // namespace

// A local-dir cold store's reads are CPU work: with cold_gets_are_cpu_work the block and readahead
// GETs run on the cold I/O threads that parse, so both share cold_read_cpu_threads.
TEST_CASE("with_cold_gets_are_cpu_work_block_gets_and_parsing_share_the_cold_io_threads") {
  Harness h;
  auto callers = std::make_shared<GetCallersStore>(h.store);
  h.cold_store = callers;
  h.options.cold_gets_are_cpu_work = true;
  h.options.cold_read_cpu_threads = 1;
  std::mutex parse_mu;
  std::set<std::thread::id> parse_threads;
  h.options.block_parse_hook_for_test = [&] {
    std::lock_guard lk(parse_mu);
    parse_threads.insert(std::this_thread::get_id());
  };
  auto s = start_with_a_cold_stream(h);  // 100 batches in ~13 blocks: sequential reads read ahead
  std::vector<Batch> all;
  for (int64_t at = 0; at < 100;) {
    auto r = fetch(*s, at, 8000);
    REQUIRE(r.ok());
    for (auto& b : r->batches) all.push_back(b);
    at = r->batches.back().end_offset().value();
  }
  REQUIRE(all.size() == 100);
  for (int i = 0; i < 100; ++i) CHECK(all[i].bytes == pattern(2000, i));
  CHECK(h.manager->stats().readahead_gets > 0);
  std::lock_guard lk(parse_mu);
  REQUIRE(parse_threads.size() == 1);  // the one cold I/O thread...
  const auto io_thread = *parse_threads.begin();
  // ...which also asked for every block (each was read by a GET or a readahead GET from there).
  CHECK(callers->calls_from(io_thread) >= 13);
}
