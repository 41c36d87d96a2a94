// Partition checkpoints (log/partition.h "Checkpoints"): a partition reopened from its newest
// checkpoint reads only the stream after it and ends in the same state as a full read; a
// checkpoint the stream no longer matches, or a damaged one, is not used.
#include <catch2/catch.hpp>
#include <future>

#include "../stream/stream_test_util.h"
#include "../test_util/eventually.h"
#include "log/partition.h"
#include "objectstore/blocking.h"
#include "protocol/records/record.h"
#include "protocol/records/record_batch.h"

using namespace floe;
using namespace floe::log;
using floe::stream::testing::Harness;

namespace {

SharedBytes batch(int records, int64_t ts_ms, int64_t producer_id, int32_t seq) {
  records::BatchOptions o;
  o.producer_id = producer_id;
  o.producer_epoch = producer_id >= 0 ? 0 : -1;
  o.base_sequence = producer_id >= 0 ? seq : -1;
  records::RecordBatchBuilder b(o);
  for (int i = 0; i < records; ++i) {
    std::string v = "v" + std::to_string(seq + i);
    b.append(ts_ms + i, std::nullopt, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(v.data()), v.size()));
  }
  auto built = b.build();
  REQUIRE(built.ok());
  return SharedBytes(std::move(*built));
}

struct Fixture {
  Harness h;
  StreamId id;
  std::shared_ptr<stream::StreamCheckpoints> checkpoints;
  std::shared_ptr<std::atomic<int64_t>> now = std::make_shared<std::atomic<int64_t>>(1'700'000'000'000);
  PartitionConfig config;
  std::shared_ptr<Partition> p;

  Fixture() {
    config.index_entry_bytes = 512;  // many entries from few batches
    h.start();
    id = h.create();
    checkpoints = std::make_shared<stream::StreamCheckpoints>(h.store);
    open();
  }
  ~Fixture() {
    p.reset();
    // Partitions still held by callbacks in flight hold `checkpoints`, and through it the store:
    // wait until they are gone, so the store is not released last on one of its own threads.
    REQUIRE(floe::testing::eventually([&] { return checkpoints.use_count() == 1; }));
    h.close();
    checkpoints.reset();  // waits for writes in flight
  }
  void open(bool with_checkpoints = true) {
    std::promise<Status> loaded;
    p = Partition::open("t", 0, h.open(id), config, [n = now] { return n->load(); },
                        [&](Status s) { loaded.set_value(s); }, with_checkpoints ? checkpoints : nullptr);
    REQUIRE(loaded.get_future().get().ok());
    REQUIRE(p->ready());
  }
  void close() {
    std::promise<int16_t> closed;
    p->close([&](int16_t code) { closed.set_value(code); });
    REQUIRE(closed.get_future().get() == 0);
    p.reset();
  }
  void crash_and_reopen(bool with_checkpoints = true) {  // no close: the WAL recovers the tail
    p.reset();
    h.restart();
    open(with_checkpoints);
  }
  ProduceResult produce(SharedBytes records) {
    std::promise<ProduceResult> pr;
    p->produce(std::move(records), [&](ProduceResult r) { pr.set_value(std::move(r)); });
    return pr.get_future().get();
  }
  // n batches of 3 records from producer 7 (sequences continue from `seq`), one per ms.
  int32_t produce_n(int n, int32_t seq) {
    for (int i = 0; i < n; ++i, seq += 3) REQUIRE(produce(batch(3, now->load() + i, 7, seq)).error_code == 0);
    return seq;
  }
  Status checkpoint_now() {
    std::promise<Status> done;
    p->checkpoint_now([&](Status s) { done.set_value(s); });
    return done.get_future().get();
  }
  // What a full read of the stream builds, for comparison.
  std::vector<IndexEntry> entries_of_a_full_read() {
    auto before = p;
    p.reset();
    h.restart();
    open(false);
    auto e = p->index_entries();
    return e;
  }
};

}  // namespace

TEST_CASE("a partition closed and reopened loads from its close checkpoint and reads nothing of the stream") {
  Fixture f;
  int32_t seq = f.produce_n(40, 0);
  int64_t hwm = f.p->high_watermark();
  auto entries = f.p->index_entries();
  REQUIRE(entries.size() > 5);
  f.close();  // uploads, then checkpoints at the high watermark
  f.open();
  CHECK(f.p->stats().loaded_from_offset == hwm);
  CHECK(f.p->stats().checkpoint_offset == hwm);
  CHECK(f.p->index_entries() == entries);
  CHECK(f.p->high_watermark() == hwm);
  // Dedup survived: the last batch again is answered with its first offsets, not appended.
  auto dup = f.produce(batch(3, f.now->load() + 39, 7, seq - 3));
  CHECK(dup.error_code == 0);
  CHECK(dup.base_offset == hwm - 3);
  CHECK(f.p->high_watermark() == hwm);
  // And the next sequence goes on from there.
  CHECK(f.produce(batch(3, f.now->load(), 7, seq)).base_offset == hwm);
}

TEST_CASE("after a crash a partition loads from its last checkpoint plus the stream after it, as a full read would") {
  Fixture f;
  f.config.checkpoint_interval_bytes = 1;  // every retention check writes one
  f.p->set_config(f.config);
  int32_t seq = f.produce_n(30, 0);
  f.p->enforce_retention();
  REQUIRE(floe::testing::eventually([&] { return f.p->stats().checkpoints_written == 1; }));
  int64_t at = f.p->stats().checkpoint_offset;
  CHECK(at == f.p->high_watermark());
  seq = f.produce_n(20, seq);
  int64_t hwm = f.p->high_watermark();
  f.crash_and_reopen();
  CHECK(f.p->stats().loaded_from_offset == at);  // only [at, hwm) was read
  CHECK(f.p->high_watermark() == hwm);
  auto entries = f.p->index_entries();
  // The load wrote a checkpoint of what it read.
  REQUIRE(floe::testing::eventually([&] { return f.p->stats().checkpoint_offset == hwm; }));
  // A retried batch from before and from after the checkpoint is still recognised.
  CHECK(f.produce(batch(3, f.now->load() + 19, 7, seq - 3)).base_offset == hwm - 3);
  CHECK(f.p->high_watermark() == hwm);
  CHECK(f.entries_of_a_full_read() == entries);
}

TEST_CASE("a checkpoint whose last batch the stream no longer holds is not used") {
  Fixture f;
  f.produce_n(10, 0);
  REQUIRE(f.checkpoint_now().ok());
  int64_t at = f.p->stats().checkpoint_offset;
  REQUIRE(at == f.p->high_watermark());
  // Rewrite the checkpoint with another CRC for its last batch: as if the stream held other
  // data at those offsets (e.g. WAL data lost in an unclean election, then overwritten).
  objectstore::BlockingStore store(*f.h.store);
  auto got = store.get(stream::StreamCheckpoints::key(f.id, at));
  REQUIRE(got.ok());
  auto cp = stream::StreamCheckpoints::decode(f.id, got->body);
  REQUIRE(cp.ok());
  Bytes payload = cp->payload.to_bytes();
  payload[2 + 8 + 8 + 8 + 8] ^= 0x01;  // the last batch's CRC (see partition_checkpoint.cc)
  REQUIRE(store.put(stream::StreamCheckpoints::key(f.id, at),
                    SharedBytes(stream::StreamCheckpoints::encode(f.id, at, payload)))
              .ok());
  f.crash_and_reopen();
  CHECK(f.p->stats().loaded_from_offset == 0);  // read from the start
  CHECK(f.p->high_watermark() == at);
}

TEST_CASE("a damaged checkpoint payload falls back to reading the stream") {
  Fixture f;
  f.produce_n(10, 0);
  int64_t hwm = f.p->high_watermark();
  auto entries = f.p->index_entries();
  // Valid framing (CRC of the payload holds), nonsense inside.
  std::promise<Status> put;
  f.checkpoints->put(f.id, hwm, SharedBytes::copy_of(std::vector<uint8_t>(100, 0x5a)), [&](Status s) { put.set_value(s); });
  REQUIRE(put.get_future().get().ok());
  f.crash_and_reopen();
  CHECK(f.p->stats().loaded_from_offset == 0);
  CHECK(f.p->index_entries() == entries);
}

TEST_CASE("a checkpoint taken before a DeleteRecords loads with the newer log start") {
  Fixture f;
  f.produce_n(20, 0);
  REQUIRE(f.checkpoint_now().ok());
  int64_t at = f.p->stats().checkpoint_offset;
  std::promise<std::pair<int16_t, int64_t>> deleted;
  f.p->delete_records(31, [&](int16_t code, int64_t low) { deleted.set_value({code, low}); });
  REQUIRE(deleted.get_future().get() == std::pair<int16_t, int64_t>{0, 31});
  f.crash_and_reopen();
  CHECK(f.p->stats().loaded_from_offset == at);
  CHECK(f.p->log_start_offset() == 31);
  CHECK(f.p->high_watermark() == at);
}

TEST_CASE("a checkpoint of thousands of entries and producers round-trips") {
  Fixture f;
  f.config.index_entry_bytes = 1;  // one entry per batch
  f.p->set_config(f.config);
  for (int i = 0; i < 2000; ++i) {
    // 2,000 producers, one batch each (producer ids 100..2099).
    REQUIRE(f.produce(batch(1, f.now->load() + i, 100 + i, 0)).error_code == 0);
  }
  auto entries = f.p->index_entries();
  REQUIRE(entries.size() == 2000);
  REQUIRE(f.p->stats().producers == 2000);
  f.close();
  f.open();
  CHECK(f.p->stats().loaded_from_offset == 2000);
  CHECK(f.p->index_entries() == entries);
  CHECK(f.p->stats().producers == 2000);
  CHECK(f.produce(batch(1, f.now->load(), 1234, 0)).base_offset == 1134);  // producer 1234's batch again
}

TEST_CASE("a checkpoint of thousands of entries of one producer round-trips") {
  Fixture f;
  f.config.index_entry_bytes = 1;  // one entry per batch: the entries are nearly all of the payload
  f.p->set_config(f.config);
  int32_t seq = f.produce_n(2000, 0);
  auto entries = f.p->index_entries();
  REQUIRE(entries.size() == 2000);
  f.close();
  f.open();
  CHECK(f.p->stats().loaded_from_offset == 6000);
  CHECK(f.p->index_entries() == entries);
  CHECK(f.produce(batch(3, f.now->load(), 7, seq - 3)).base_offset == 5997);
}

TEST_CASE("a newest checkpoint that does not describe the stream gives way to the one before it") {
  // A fenced owner may write a checkpoint for data the stream never got (its WAL tail was lost):
  // it is the newest, yet the one before it still saves the read.
  Fixture f;
  f.produce_n(10, 0);
  REQUIRE(f.checkpoint_now().ok());
  int64_t at = f.p->stats().checkpoint_offset;
  REQUIRE(at == 30);
  // Forge the stale one: the real payload moved to offset 60, as if batches [30, 60) existed.
  objectstore::BlockingStore store(*f.h.store);
  auto got = store.get(stream::StreamCheckpoints::key(f.id, at));
  REQUIRE(got.ok());
  auto cp = stream::StreamCheckpoints::decode(f.id, got->body);
  REQUIRE(cp.ok());
  REQUIRE(store.put(stream::StreamCheckpoints::key(f.id, 60),
                    SharedBytes(stream::StreamCheckpoints::encode(f.id, 60, cp->payload.span())))
              .ok());
  f.produce_n(5, 30);  // the stream's end: 45, below the stale checkpoint's 60
  f.crash_and_reopen();
  CHECK(f.p->stats().loaded_from_offset == at);  // not 0: the older checkpoint was used
  CHECK(f.p->high_watermark() == 45);
}

TEST_CASE("a partition closed while it loads from its checkpoint still reports, once, that its load ended") {
  // (The broker waits for that report before it may open the partition again.)
  Fixture f;
  f.produce_n(20, 0);
  f.close();  // a checkpoint at 60
  for (int i = 0; i < 20; ++i) {
    auto loaded = std::make_shared<std::promise<Status>>();
    auto p = Partition::open("t", 0, f.h.open(f.id), f.config, [n = f.now] { return n->load(); },
                             [loaded](Status s) { loaded->set_value(s); }, f.checkpoints);
    std::promise<int16_t> closed;
    p->close([&](int16_t code) { closed.set_value(code); });
    REQUIRE(loaded->get_future().wait_for(std::chrono::seconds(30)) == std::future_status::ready);
    REQUIRE(closed.get_future().wait_for(std::chrono::seconds(30)) == std::future_status::ready);
    // Callbacks may still hold the partition for a moment after answering: let them finish, so
    // the last reference to it (and to the store behind its checkpoints) is never dropped on a
    // store thread.
    REQUIRE(floe::testing::eventually([&] { return p.use_count() == 1; }));
  }
}
