// ObjectWal (wal/object_wal.h): the WAL contract over the memory and fs stores, and over stores
// that fail, time out and finish puts out of order (FaultStore).
#include "wal/object_wal.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "../objectstore/test_util.h"
#include "../test_util/eventually.h"
#include "objectstore/blocking.h"
#include "objectstore/fault_store.h"
#include "objectstore/fs_store.h"
#include "objectstore/mem_store.h"
#include "objectstore/retrying_store.h"
#include "wal_test_util.h"

namespace floe::wal {
namespace {

using objectstore::BlockingStore;
using objectstore::FaultConfig;
using objectstore::FaultStore;
using objectstore::MemStore;
using objectstore::ObjectStore;
using objectstore::StoreOp;
using floe::testing::eventually;
using testing::append_sync;

Entry entry(uint64_t stream, int64_t base, size_t bytes, uint64_t seed) {
  return Entry{StreamId(stream), StreamEpoch(3), Offset(base), objectstore::testing::pattern_bytes(bytes, seed)};
}

ObjectWal::Opened open_ok(const ObjectWalOptions& o) {
  auto r = ObjectWal::open(o);
  if (!r.ok()) FAIL(r.error().to_string());
  return std::move(r).value();
}

ObjectWalOptions options(std::shared_ptr<ObjectStore> store) {
  ObjectWalOptions o;
  o.store = std::move(store);
  o.node_id = 7;
  o.capacity_bytes = 64u << 20;
  return o;
}

// Appends all entries without waiting, then waits for every callback; returns the results in
// callback order as (index, result).
struct Outcome {
  std::vector<size_t> order;
  std::vector<Result<Position>> results;
};
Outcome append_all(Wal& wal, const std::vector<Entry>& entries) {
  auto mu = std::make_shared<std::mutex>();
  auto out = std::make_shared<Outcome>();
  auto left = std::make_shared<std::promise<void>>();
  auto remaining = std::make_shared<size_t>(entries.size());
  auto done = left->get_future();
  for (size_t i = 0; i < entries.size(); ++i) {
    wal.append(entries[i], [=](Result<Position> r) {
      std::lock_guard lk(*mu);
      out->order.push_back(i);
      out->results.push_back(std::move(r));
      if (--*remaining == 0) left->set_value();
    });
  }
  done.wait();
  std::lock_guard lk(*mu);
  return *out;
}

std::vector<Entry> recovered_entries(const std::vector<RecoveredEntry>& rs) {
  std::vector<Entry> out;
  for (const auto& r : rs) out.push_back(r.entry);
  return out;
}

// The WAL objects of node 7 (open markers hold no entries and are not counted).
std::vector<objectstore::ObjectInfo> wal_objects(ObjectStore& store) {
  auto all = BlockingStore(store).list_all("wal-7-");
  REQUIRE(all.ok());
  std::vector<objectstore::ObjectInfo> out;
  for (auto& o : *all) {
    auto name = object_format::parse_key_name(std::string_view(o.key).substr(6));
    REQUIRE(name);
    if (!name->open_marker) out.push_back(o);
  }
  return out;
}

size_t object_count(ObjectStore& store) { return wal_objects(store).size(); }

// Forwards to a store and records the start of each WAL object (not open markers) in the order
// their puts complete. The first object's put is held back until a later object's put has
// completed (or a minute has passed), so puts certainly finish out of order at least once,
// whatever the random latencies below do.
class CompletionOrderStore final : public objectstore::testing::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  ~CompletionOrderStore() override {
    if (releaser_.joinable()) releaser_.join();
  }
  void put_object(std::string key, SharedBytes body, objectstore::Callback<objectstore::PutResult> done) override {
    std::optional<object_format::KeyName> name;
    if (key.rfind("wal-7-", 0) == 0) name = object_format::parse_key_name(std::string_view(key).substr(6));
    if (!name || name->open_marker) return inner_->put_object(std::move(key), std::move(body), std::move(done));
    objectstore::Callback<objectstore::PutResult> record = [this, start = name->start, done = std::move(done)](
                                                               Result<objectstore::PutResult> r) {
      {
        std::lock_guard lk(mu_);
        completed_.push_back(start);
      }
      cv_.notify_all();
      done(std::move(r));
    };
    {
      std::lock_guard lk(mu_);
      if (!first_seen_) {
        first_seen_ = true;
        releaser_ = std::thread([this, key = std::move(key), body = std::move(body), record = std::move(record)] {
          {
            std::unique_lock lk(mu_);
            cv_.wait_for(lk, std::chrono::seconds(60), [&] { return !completed_.empty(); });
          }
          inner_->put_object(key, body, record);
        });
        return;
      }
    }
    inner_->put_object(std::move(key), std::move(body), std::move(record));
  }
  // Object starts in the order their puts completed.
  std::vector<uint64_t> completion_order() {
    std::lock_guard lk(mu_);
    return completed_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool first_seen_ = false;
  std::vector<uint64_t> completed_;
  std::thread releaser_;
};

}  // namespace

TEST_CASE("object wal: many appends become few puts, and a reopen returns every entry byte-identical in order") {
  objectstore::testing::TempDir dir;
  std::shared_ptr<ObjectStore> store;
  SECTION("memory store") { store = std::make_shared<MemStore>(); }
  SECTION("fs store (fsynced puts)") {
    auto fs = objectstore::FsStore::open({dir.path});
    REQUIRE(fs.ok());
    store = std::shared_ptr<ObjectStore>(std::move(fs).value().release());
  }
  auto o = options(store);
  o.linger_ms = 20;
  std::vector<Entry> entries;
  std::mt19937 rng(5);
  for (int i = 0; i < 300; ++i) entries.push_back(entry(1 + i % 3, i, 1 + rng() % 5000, i));
  {
    auto opened = open_ok(o);
    CHECK(opened.recovered.empty());
    auto out = append_all(*opened.wal, entries);
    for (size_t i = 0; i < out.order.size(); ++i) {
      CHECK(out.order[i] == i);
      REQUIRE(out.results[i].ok());
      if (i > 0) CHECK(out.results[i]->start >= out.results[i - 1]->start);
    }
    const WalStats st = opened.wal->stats();
    CHECK(st.appends == 300);
    CHECK(st.records_written < 300);  // group commit
    CHECK(st.syncs == st.records_written);
    CHECK(st.end_offset == out.results.back()->end);
    CHECK(object_count(*store) == st.records_written);
    opened.wal->close();
  }
  auto reopened = open_ok(o);
  CHECK(recovered_entries(reopened.recovered) == entries);
  // New positions continue after the recovered ones.
  const uint64_t recovered_end = reopened.recovered.back().position.end;
  auto next = append_sync(*reopened.wal, entry(1, 300, 10, 99));
  REQUIRE(next.ok());
  CHECK(next->start == recovered_end);
}

TEST_CASE("object wal: a full object goes without waiting for the linger, and only a single larger entry exceeds the max bytes") {
  auto store = std::make_shared<MemStore>();
  auto o = options(store);
  o.linger_ms = 600000;  // only size (or close) sends an object here
  o.max_object_bytes = 64u << 10;  // 8 entries of 8000 bytes (with framing) fit, 9 do not
  std::vector<Entry> entries;
  for (int i = 0; i < 17; ++i) entries.push_back(entry(1, i, 8000, i));
  {
    auto opened = open_ok(o);
    std::vector<std::promise<Result<Position>>> done(entries.size());
    for (size_t i = 0; i < entries.size(); ++i)
      opened.wal->append(entries[i], [&done, i](Result<Position> r) { done[i].set_value(std::move(r)); });
    // The 9th and the 17th entry each show that a full object is queued: two objects go now.
    for (size_t i = 0; i < 16; ++i) {
      auto f = done[i].get_future();
      REQUIRE(f.wait_for(std::chrono::seconds(60)) == std::future_status::ready);
      CHECK(f.get().ok());
    }
    CHECK(opened.wal->stats().records_written == 2);
    opened.wal->close();  // sends the 17th
    CHECK(done[16].get_future().get().ok());
  }
  o.linger_ms = 1;
  entries.push_back(entry(1, 17, 200000, 17));  // larger than an object: goes alone
  for (int i = 18; i < 40; ++i) entries.push_back(entry(1, i, 8000, i));
  {
    auto opened = open_ok(o);
    CHECK(recovered_entries(opened.recovered) == std::vector<Entry>(entries.begin(), entries.begin() + 17));
    auto more = append_all(*opened.wal, std::vector<Entry>(entries.begin() + 17, entries.end()));
    for (auto& r : more.results) REQUIRE(r.ok());
  }
  auto listed = wal_objects(*store);
  size_t big = 0;
  for (const auto& obj : listed) big += obj.size_bytes > o.max_object_bytes ? 1 : 0;
  CHECK(big == 1);
  CHECK(recovered_entries(open_ok(o).recovered) == entries);
}

TEST_CASE("object wal: callbacks run in append order although puts finish out of order") {
  auto inner = std::make_shared<MemStore>();
  FaultConfig fc;
  fc.latency_ms_min = 0;
  fc.latency_ms_max = 30;
  fc.seed = 11;
  auto store = std::make_shared<CompletionOrderStore>(std::make_shared<FaultStore>(inner, fc));
  auto o = options(store);
  o.linger_ms = 0;
  o.max_puts_in_flight = 4;
  o.max_object_bytes = 4096;  // a few entries per object: many puts
  auto opened = open_ok(o);
  std::vector<Entry> entries;
  for (int i = 0; i < 200; ++i) entries.push_back(entry(2, i, 1000, i));
  auto out = append_all(*opened.wal, entries);
  for (size_t i = 0; i < out.order.size(); ++i) {
    CHECK(out.order[i] == i);
    REQUIRE(out.results[i].ok());
    if (i == 0) continue;
    const Position& prev = *out.results[i - 1];
    const Position& cur = *out.results[i];
    CHECK(((cur.start == prev.start && cur.end == prev.end) || cur.start >= prev.end));  // same object, or a later one
  }
  CHECK(opened.wal->stats().records_written > 40);
  opened.wal->close();
  // The puts really finished out of order: a later object's put completed before an earlier one's.
  const std::vector<uint64_t> completed = store->completion_order();
  CHECK(completed.size() == opened.wal->stats().records_written);
  CHECK_FALSE(std::is_sorted(completed.begin(), completed.end()));
  // Recovery's parallel GETs finish out of order too; entries still come back in append order.
  CHECK(recovered_entries(open_ok(options(store)).recovered) == entries);
}

TEST_CASE("object wal: 503s and timeouts are retried by the store below, and every entry is acknowledged and recovered") {
  auto inner = std::make_shared<MemStore>();
  FaultConfig fc;
  fc.slowdown_rate = 0.2;
  fc.timeout_rate = 0.1;
  fc.timeout_ms = 5;
  fc.seed = 3;
  auto faulty = std::make_shared<FaultStore>(inner, fc);
  auto store = std::make_shared<objectstore::RetryingStore>(faulty, objectstore::RetryPolicy{20, 1, 10, 60000});
  auto o = options(store);
  o.linger_ms = 1;
  o.max_object_bytes = 8192;
  auto opened = open_ok(o);
  std::vector<Entry> entries;
  for (int i = 0; i < 150; ++i) entries.push_back(entry(4, i, 700, i));
  auto out = append_all(*opened.wal, entries);
  for (auto& r : out.results) REQUIRE(r.ok());
  opened.wal->close();
  CHECK(faulty->counts().slowdowns + faulty->counts().timeouts > 0);
  CHECK(recovered_entries(open_ok(options(inner)).recovered) == entries);
}

TEST_CASE("object wal: a put that finally fails fails the WAL, later appends get the error, nothing acknowledged is lost") {
  auto inner = std::make_shared<MemStore>();
  auto puts = std::make_shared<std::atomic<int>>(0);
  FaultConfig fc;
  fc.latency_ms_max = 10;
  fc.rule = [puts](StoreOp op, const std::string&, int) -> std::optional<Error> {
    if (op == StoreOp::put_object && ++*puts == 6)
      return objectstore::store_error(Errc::io, "Access Denied", "AccessDenied", 403);
    return std::nullopt;
  };
  auto store = std::make_shared<FaultStore>(inner, fc);
  auto o = options(store);
  o.linger_ms = 0;
  o.max_object_bytes = 2048;
  auto opened = open_ok(o);
  std::vector<Entry> entries;
  for (int i = 0; i < 60; ++i) entries.push_back(entry(5, i, 900, i));
  auto out = append_all(*opened.wal, entries);
  std::vector<Entry> acknowledged;
  bool seen_error = false;
  for (size_t i = 0; i < out.order.size(); ++i) {
    CHECK(out.order[i] == i);
    if (out.results[i].ok()) {
      CHECK_FALSE(seen_error);  // nothing is acknowledged after the failure
      acknowledged.push_back(entries[i]);
    } else {
      seen_error = true;
    }
  }
  CHECK(seen_error);
  CHECK(acknowledged.size() >= 5);  // the five puts before the failing one
  auto late = append_sync(*opened.wal, entry(5, 60, 10, 60));
  REQUIRE_FALSE(late.ok());
  CHECK(late.error().message.find("WAL put") != std::string::npos);
  opened.wal->close();
  // Recovery returns every acknowledged entry, in order, possibly followed by entries whose
  // callbacks got the error (puts that succeeded after the failed one).
  auto recovered = recovered_entries(open_ok(options(inner)).recovered);
  REQUIRE(recovered.size() >= acknowledged.size());
  CHECK(std::vector<Entry>(recovered.begin(), recovered.begin() + acknowledged.size()) == acknowledged);
}

TEST_CASE("object wal: trim deletes the objects ending at or before it, in the background") {
  auto store = std::make_shared<MemStore>();
  auto o = options(store);
  o.linger_ms = 0;
  auto opened = open_ok(o);
  std::vector<Position> positions;
  std::vector<Entry> entries;
  for (int i = 0; i < 10; ++i) {
    entries.push_back(entry(6, i, 3000, i));
    auto r = append_sync(*opened.wal, entries.back());
    REQUIRE(r.ok());
    positions.push_back(*r);
  }
  REQUIRE(object_count(*store) == 10);
  REQUIRE(opened.wal->trim(positions[5].end).ok());
  CHECK(eventually([&] { return object_count(*store) == 4; }));
  CHECK(opened.wal->stats().trim_offset == positions[5].end);
  CHECK_FALSE(opened.wal->trim(positions[9].end + 1).ok());  // beyond the durable end
  opened.wal->close();
  auto reopened = open_ok(o);
  CHECK(recovered_entries(reopened.recovered) == std::vector<Entry>(entries.begin() + 6, entries.end()));
  CHECK(reopened.recovered.front().position.start == positions[6].start);
}

TEST_CASE("object wal: recovery reads past a gap (a cut-short delete) and refuses a corrupt object naming it") {
  auto store = std::make_shared<MemStore>();
  auto o = options(store);
  o.linger_ms = 0;
  std::vector<Entry> entries;
  std::vector<Position> positions;
  {
    auto opened = open_ok(o);
    for (int i = 0; i < 5; ++i) {
      entries.push_back(entry(8, i, 500, i));
      auto r = append_sync(*opened.wal, entries.back());
      REQUIRE(r.ok());
      positions.push_back(*r);
    }
  }
  BlockingStore bs(*store);
  const std::string second = object_format::object_key("wal", 7, positions[1].start, 1);
  REQUIRE(bs.delete_keys({second}).ok());
  {
    auto reopened = open_ok(o);
    std::vector<Entry> expect = entries;
    expect.erase(expect.begin() + 1);
    CHECK(recovered_entries(reopened.recovered) == expect);
  }
  const std::string fourth = object_format::object_key("wal", 7, positions[3].start, 1);
  auto body = bs.get(fourth);
  REQUIRE(body.ok());
  Bytes bytes = body->body.to_bytes();
  SECTION("a flipped payload byte") {
    bytes[object_format::kHeaderBytes + object_format::kEntryHeaderBytes + 10] ^= 1;
    REQUIRE(bs.put(fourth, SharedBytes(bytes)).ok());
    auto r = ObjectWal::open(o);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::corrupt);
    CHECK(r.error().message.find(fourth) != std::string::npos);
    CHECK(r.error().message.find("CRC") != std::string::npos);
  }
  SECTION("an object cut short") {
    bytes.resize(bytes.size() - 3);
    REQUIRE(bs.put(fourth, SharedBytes(bytes)).ok());
    auto r = ObjectWal::open(o);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::corrupt);
    CHECK(r.error().message.find(fourth) != std::string::npos);
    CHECK(r.error().message.find("cut short") != std::string::npos);
  }
}

TEST_CASE("object wal: the queue is bounded and capacity holds objects back until a trim") {
  auto store = std::make_shared<MemStore>();
  SECTION("queue bound: refused at once on the calling thread") {
    auto o = options(store);
    o.linger_ms = 600000;
    o.max_queued_bytes = 1000;
    auto opened = open_ok(o);
    std::promise<Result<Position>> a, b;
    opened.wal->append(entry(9, 0, 400, 0), [&](Result<Position> r) { a.set_value(std::move(r)); });
    opened.wal->append(entry(9, 1, 400, 1), [&](Result<Position> r) { b.set_value(std::move(r)); });
    std::optional<Result<Position>> third;
    opened.wal->append(entry(9, 2, 400, 2), [&](Result<Position> r) { third = std::move(r); });
    REQUIRE(third.has_value());  // ran before append returned
    REQUIRE_FALSE(third->ok());
    CHECK(third->error().code == Errc::too_large);
    opened.wal->close();  // close sends what is queued
    CHECK(a.get_future().get().ok());
    CHECK(b.get_future().get().ok());
  }
  SECTION("capacity: untrimmed bytes never exceed it") {
    auto o = options(store);
    o.linger_ms = 0;
    o.capacity_bytes = 64u << 10;
    auto opened = open_ok(o);
    auto first = append_sync(*opened.wal, entry(9, 0, 20000, 0));
    REQUIRE(first.ok());
    auto second = append_sync(*opened.wal, entry(9, 1, 20000, 1));
    REQUIRE(second.ok());
    auto third = append_sync(*opened.wal, entry(9, 2, 20000, 2));
    REQUIRE(third.ok());
    std::promise<Result<Position>> p;
    auto f = p.get_future();
    opened.wal->append(entry(9, 3, 20000, 3), [&](Result<Position> r) { p.set_value(std::move(r)); });
    // It cannot go before a trim; the WAL holds it (no put) whatever the wait.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(opened.wal->stats().records_written == 3);
    REQUIRE(opened.wal->trim(first->end).ok());
    REQUIRE(f.get().ok());
    const WalStats st = opened.wal->stats();
    CHECK(st.end_offset - st.trim_offset <= o.capacity_bytes);
  }
}

}  // namespace floe::wal

namespace floe::wal {
namespace {

// Forwards to a store, except WAL object puts (not open markers): the first is held until
// release() (a request still on the wire), the second fails at once when fail_second is set.
class GateStore final : public objectstore::testing::ForwardingStore {
 public:
  GateStore(std::shared_ptr<objectstore::ObjectStore> inner, bool fail_second)
      : ForwardingStore(std::move(inner)), fail_second_(fail_second) {}
  std::string describe() const override { return "gate"; }
  void put_object(std::string key, SharedBytes body, objectstore::Callback<objectstore::PutResult> done) override {
    if (key.find("-open-") == std::string::npos) {
      const int n = ++object_puts_;
      if (n == 1) {
        std::lock_guard lk(mu_);
        held_ = [this, key, body, done]() mutable { inner_->put_object(key, body, done); };
        return;
      }
      if (n == 2 && fail_second_) return done(objectstore::store_error(Errc::io, "Access Denied", "AccessDenied", 403));
    }
    inner_->put_object(std::move(key), std::move(body), std::move(done));
  }
  void release() {
    std::function<void()> h;
    {
      std::lock_guard lk(mu_);
      h = std::move(held_);
    }
    if (h) h();
  }
  bool holding() {
    std::lock_guard lk(mu_);
    return static_cast<bool>(held_);
  }

 private:
  const bool fail_second_;
  std::atomic<int> object_puts_{0};
  std::mutex mu_;
  std::function<void()> held_;
};

void wait_until_holding(GateStore& gate) {
  REQUIRE(eventually([&] { return gate.holding(); }));
}

}  // namespace

TEST_CASE("object wal: a put that fails does not fail an earlier object whose put then succeeds") {
  auto inner = std::make_shared<MemStore>();
  auto gate = std::make_shared<GateStore>(inner, true);
  auto o = options(gate);
  o.linger_ms = 0;
  o.max_object_bytes = 1100;  // one 1000-byte entry per object
  auto opened = open_ok(o);
  std::promise<Result<Position>> first, second;
  opened.wal->append(entry(1, 0, 1000, 1), [&](Result<Position> r) { first.set_value(r); });
  wait_until_holding(*gate);
  opened.wal->append(entry(1, 1, 1000, 2), [&](Result<Position> r) { second.set_value(r); });
  // The second put fails (the WAL is failed from its position on) while the first still waits.
  REQUIRE(eventually([&] { return opened.wal->stats().syncs == 1; }));
  gate->release();  // the first put succeeds: durable, so acknowledged
  auto r1 = first.get_future().get();
  auto r2 = second.get_future().get();
  CHECK(r1.ok());
  CHECK_FALSE(r2.ok());
  std::promise<Result<Position>> third;
  opened.wal->append(entry(1, 2, 10, 3), [&](Result<Position> r) { third.set_value(r); });
  CHECK_FALSE(third.get_future().get().ok());  // failed WAL: reopen to recover
  opened.wal->close();
  auto again = open_ok(options(inner));
  REQUIRE(again.recovered.size() == 1);
  CHECK(again.recovered[0].entry == entry(1, 0, 1000, 1));
}

TEST_CASE("object wal: a put of an earlier open that lands after a reopen never replaces the reopened WAL's objects") {
  auto inner = std::make_shared<MemStore>();
  auto gate = std::make_shared<GateStore>(inner, false);
  auto o1 = options(gate);
  o1.linger_ms = 0;
  auto old_open = open_ok(o1);  // a process whose first put is still on the wire when it "dies"
  std::promise<Result<Position>> old_done;
  old_open.wal->append(entry(1, 0, 1000, 1), [&](Result<Position> r) { old_done.set_value(r); });
  wait_until_holding(*gate);
  // The restarted node lists nothing of it and starts at position 0 again, as a new generation.
  std::vector<Entry> acked;
  {
    auto reopened = open_ok(options(inner));
    CHECK(reopened.recovered.empty());
    for (int i = 0; i < 3; ++i) {
      acked.push_back(entry(2, i, 500, 10 + i));
      REQUIRE(append_sync(*reopened.wal, acked.back()).ok());
    }
  }
  gate->release();  // the old put lands now, at the position the reopened WAL also used
  (void)old_done.get_future().get();
  old_open.wal->close();
  // The next open returns exactly what the second open acknowledged, skips the late object
  // (it ends after the position the second open began at) and deletes it.
  auto third = open_ok(options(inner));
  CHECK(recovered_entries(third.recovered) == acked);
  CHECK(object_count(*inner) == 3);
  // And a generation later still, nothing changed.
  third.wal->close();
  CHECK(recovered_entries(open_ok(options(inner)).recovered) == acked);
}

TEST_CASE("object wal: keys name the generation, and old open markers go once no object needs them") {
  CHECK(object_format::object_key("wal", 7, 4194352, 3) == "wal-7-00000000000004194352-0000000003");
  CHECK(object_format::open_marker_key("wal", 7, 3, 4194352) == "wal-7-open-0000000003-00000000000004194352");
  auto k = object_format::parse_key_name("00000000000004194352-0000000003");
  REQUIRE(k);
  CHECK_FALSE(k->open_marker);
  CHECK(k->start == 4194352);
  CHECK(k->generation == 3);
  auto m = object_format::parse_key_name("open-0000000003-00000000000004194352");
  REQUIRE(m);
  CHECK(m->open_marker);
  CHECK(m->generation == 3);
  CHECK(m->start == 4194352);
  CHECK_FALSE(object_format::parse_key_name("00000000000004194352"));
  CHECK_FALSE(object_format::parse_key_name("open-3-4194352"));
  CHECK_FALSE(object_format::parse_key_name("x0000000000004194352-0000000003"));

  auto store = std::make_shared<MemStore>();
  auto o = options(store);
  o.linger_ms = 0;
  auto markers = [&] {
    auto all = BlockingStore(*store).list_all("wal-7-open-");
    REQUIRE(all.ok());
    return all->size();
  };
  for (int i = 0; i < 4; ++i) {
    auto opened = open_ok(o);  // generations 1..4; nothing written: no object needs old markers
    CHECK(markers() == 1);
  }
  {
    auto opened = open_ok(o);  // generation 5 writes an object, then gets trimmed no further
    REQUIRE(append_sync(*opened.wal, entry(1, 0, 100, 1)).ok());
  }
  auto sixth = open_ok(o);
  CHECK(sixth.recovered.size() == 1);
  CHECK(markers() == 1);  // only 6: a marker judges objects of earlier generations, and 5's is the oldest
}

}  // namespace floe::wal
