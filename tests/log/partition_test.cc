// log::Partition over a real StreamManager (block WAL on a temp file, mem object store, the
// in-memory stream metadata): produce/fetch, offsets, idempotence, restart, ListOffsets,
// DeleteRecords and retention.
#include "log/partition.h"

#include <catch2/catch.hpp>
#include <algorithm>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "../stream/stream_test_util.h"
#include "../test_util/eventually.h"
#include "protocol/records/record.h"
#include "protocol/records/record_batch.h"

using namespace floe;
using namespace floe::log;
using floe::stream::testing::Harness;
using floe::testing::eventually;

namespace {

// A batch of records with the given timestamps.
SharedBytes make_batch_at(const std::vector<int64_t>& timestamps_ms) {
  records::RecordBatchBuilder b(records::BatchOptions{});
  for (size_t i = 0; i < timestamps_ms.size(); ++i) {
    std::string v = "value-" + std::to_string(i);
    b.append(timestamps_ms[i], std::nullopt,
             std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(v.data()), v.size()));
  }
  auto built = b.build();
  REQUIRE(built.ok());
  return SharedBytes(std::move(*built));
}

// One record set holding `batches` back to back (one Produce partition entry).
SharedBytes concat(const std::vector<SharedBytes>& batches) {
  Bytes out;
  for (const auto& b : batches) out.insert(out.end(), b.span().begin(), b.span().end());
  return SharedBytes(std::move(out));
}

SharedBytes make_batch(int records, int64_t ts_ms, int64_t producer_id = -1, int16_t epoch = -1, int32_t seq = -1) {
  records::BatchOptions o;
  o.producer_id = producer_id;
  o.producer_epoch = epoch;
  o.base_sequence = seq;
  records::RecordBatchBuilder b(o);
  for (int i = 0; i < records; ++i) {
    std::string v = "value-" + std::to_string(i);
    b.append(ts_ms + i, std::nullopt, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(v.data()), v.size()));
  }
  auto built = b.build();
  REQUIRE(built.ok());
  return SharedBytes(std::move(*built));
}

// A WAL whose appends a test can hold: while held they wait here, in order, and reach the
// block WAL (whose thread then makes them durable and calls back) when released.
class GatedWal final : public wal::Wal {
 public:
  explicit GatedWal(std::unique_ptr<wal::Wal> inner) : inner_(std::move(inner)) {}
  void hold() {
    std::lock_guard lock(mu_);
    held_ = true;
  }
  void release() {
    std::lock_guard lock(mu_);  // forwarding under the lock keeps the appends in order
    held_ = false;
    for (auto& [entry, done] : waiting_) inner_->append(std::move(entry), std::move(done));
    waiting_.clear();
  }
  // Answers the held appends with a WAL error instead (as a failed device write would).
  void fail_held() {
    std::vector<std::pair<wal::Entry, wal::AppendCallback>> failed;
    {
      std::lock_guard lock(mu_);
      held_ = false;
      failed.swap(waiting_);
    }
    for (auto& [entry, done] : failed) done(Error(Errc::io, "injected WAL write failure"));
  }
  void append(wal::Entry entry, wal::AppendCallback done) override {
    std::lock_guard lock(mu_);
    if (held_) {
      waiting_.emplace_back(std::move(entry), std::move(done));
    } else {
      inner_->append(std::move(entry), std::move(done));
    }
  }
  Status trim(uint64_t offset) override { return inner_->trim(offset); }
  wal::WalStats stats() const override { return inner_->stats(); }
  void close() override {
    release();
    inner_->close();
  }

 private:
  std::unique_ptr<wal::Wal> inner_;
  std::mutex mu_;
  bool held_ = false;
  std::vector<std::pair<wal::Entry, wal::AppendCallback>> waiting_;
};

struct Fixture {
  Harness h;
  StreamId id;
  std::shared_ptr<std::atomic<int64_t>> now = std::make_shared<std::atomic<int64_t>>(1'700'000'000'000);
  std::shared_ptr<Partition> p;
  PartitionConfig config;

  GatedWal* gate = nullptr;  // with a gated WAL: holds and releases appends

  explicit Fixture(bool gated_wal = false) {
    if (gated_wal) {
      h.wrap_wal = [this](std::unique_ptr<wal::Wal> inner) {
        auto gated = std::make_unique<GatedWal>(std::move(inner));
        gate = gated.get();
        return std::unique_ptr<wal::Wal>(std::move(gated));
      };
    }
    h.start();
    id = h.create();
    open();
  }
  void open() {
    std::promise<Status> loaded;
    p = Partition::open("t", 0, h.open(id), config, [n = now] { return n->load(); },
                        [&](Status s) { loaded.set_value(s); });
    REQUIRE(loaded.get_future().get().ok());
    REQUIRE(p->ready());
  }
  void restart() {
    p.reset();
    h.restart();
    open();
  }
  ProduceResult produce(SharedBytes records) {
    std::promise<ProduceResult> pr;
    p->produce(std::move(records), [&](ProduceResult r) { pr.set_value(std::move(r)); });
    return pr.get_future().get();
  }
  FetchedData fetch(int64_t offset, uint64_t max_bytes = 1 << 20, bool min_one = true) {
    std::promise<FetchedData> pr;
    p->fetch(offset, max_bytes, min_one, [&](FetchedData r) { pr.set_value(std::move(r)); });
    return pr.get_future().get();
  }
  OffsetAndTimestamp exact(int64_t timestamp_ms) {
    std::promise<OffsetAndTimestamp> pr;
    p->list_offset_exact(timestamp_ms, [&](OffsetAndTimestamp r) { pr.set_value(r); });
    return pr.get_future().get();
  }
  void set_config(PartitionConfig c) {
    config = c;  // also for the next open()
    p->set_config(c);
  }
  std::pair<int16_t, int64_t> delete_records(int64_t offset) {
    std::promise<std::pair<int16_t, int64_t>> pr;
    p->delete_records(offset, [&](int16_t code, int64_t low) { pr.set_value({code, low}); });
    return pr.get_future().get();
  }
};

}  // namespace

TEST_CASE("produced batches get consecutive offsets and fetch returns them byte-identical but for the offset") {
  Fixture f;
  auto a = f.produce(make_batch(3, 1000));
  REQUIRE(a.error_code == 0);
  CHECK(a.base_offset == 0);
  auto b = f.produce(make_batch(2, 2000));
  REQUIRE(b.error_code == 0);
  CHECK(b.base_offset == 3);
  CHECK(f.p->high_watermark() == 5);

  auto r = f.fetch(0);
  REQUIRE(r.error_code == 0);
  REQUIRE(r.batches.size() == 2);
  CHECK(r.high_watermark == 5);
  auto h0 = records::read_batch_header(r.batches[0].span());
  auto h1 = records::read_batch_header(r.batches[1].span());
  CHECK(h0->base_offset == 0);
  CHECK(h1->base_offset == 3);
  CHECK(records::compute_batch_crc(r.batches[1].span()) == h1->crc);  // CRC still valid after patching

  // A fetch in the middle of a batch returns the whole batch holding the offset.
  auto mid = f.fetch(4);
  REQUIRE(mid.batches.size() == 1);
  CHECK(records::read_batch_header(mid.batches[0].span())->base_offset == 3);
  CHECK(f.fetch(5).batches.empty());
  CHECK(f.fetch(6).error_code == kafka_error::kOffsetOutOfRange);
}

TEST_CASE("corrupt, oversized and legacy record sets are rejected and nothing is appended") {
  Fixture f;
  auto good = make_batch(1, 1000).to_bytes();
  auto bad_crc = good;
  bad_crc.back() ^= 0xff;
  CHECK(f.produce(SharedBytes(bad_crc)).error_code == kafka_error::kCorruptMessage);
  auto truncated = good;
  truncated.resize(truncated.size() - 3);
  CHECK(f.produce(SharedBytes(truncated)).error_code != 0);
  CHECK(f.produce(SharedBytes()).error_code == kafka_error::kInvalidRecord);
  auto legacy = good;
  legacy[records::layout::kMagic] = 1;
  CHECK(f.produce(SharedBytes(legacy)).error_code == kafka_error::kUnsupportedForMessageFormat);
  f.p->set_config(PartitionConfig{.max_message_bytes = 64});
  CHECK(f.produce(make_batch(10, 1000)).error_code == kafka_error::kMessageTooLarge);
  CHECK(f.p->high_watermark() == 0);
}

TEST_CASE("an idempotent producer's retried batch is answered with its first offsets and not appended twice") {
  Fixture f;
  const int64_t pid = 42;
  auto first = f.produce(make_batch(2, 1000, pid, 0, 0));
  REQUIRE(first.error_code == 0);
  auto second = f.produce(make_batch(3, 1000, pid, 0, 2));
  REQUIRE(second.error_code == 0);
  CHECK(second.base_offset == 2);
  auto retry = f.produce(make_batch(3, 1000, pid, 0, 2));
  CHECK(retry.error_code == 0);
  CHECK(retry.base_offset == 2);
  CHECK(f.p->high_watermark() == 5);

  CHECK(f.produce(make_batch(1, 1000, pid, 0, 9)).error_code == kafka_error::kOutOfOrderSequenceNumber);
  CHECK(f.produce(make_batch(1, 1000, pid, 1, 5)).error_code == kafka_error::kOutOfOrderSequenceNumber);
  // A producer id without state starts at any sequence (Kafka since KIP-360; no UNKNOWN_PRODUCER_ID).
  CHECK(f.produce(make_batch(1, 1000, 77, 0, 3)).error_code == 0);
  // A bumped epoch starts over at 0; the old epoch is then fenced.
  CHECK(f.produce(make_batch(1, 1000, pid, 1, 0)).error_code == 0);
  CHECK(f.produce(make_batch(1, 1000, pid, 0, 5)).error_code == kafka_error::kInvalidProducerEpoch);
  CHECK(f.p->high_watermark() == 7);
}

TEST_CASE("a retried batch whose original is not yet durable is answered only after the original") {
  Fixture f(/*gated_wal=*/true);
  const int64_t pid = 42;
  std::atomic<int> answered{0};
  std::promise<std::pair<int, ProduceResult>> original, retry;
  auto record = [&](std::promise<std::pair<int, ProduceResult>>& into) {
    return [&](ProduceResult r) { into.set_value({++answered, std::move(r)}); };
  };
  f.gate->hold();
  f.p->produce(make_batch(2, 1000, pid, 0, 0), record(original));
  f.p->produce(make_batch(2, 1000, pid, 0, 0), record(retry));  // the client's retry
  CHECK(answered == 0);  // the WAL holds the original: neither may be answered yet
  f.gate->release();
  auto [original_order, original_result] = original.get_future().get();
  auto [retry_order, retry_result] = retry.get_future().get();
  CHECK(original_result.error_code == 0);
  CHECK(original_order == 1);
  CHECK(retry_order == 2);
  CHECK(retry_result.error_code == 0);
  CHECK(retry_result.base_offset == 0);
  CHECK(f.p->high_watermark() == 2);  // appended once
  CHECK(f.p->stats().duplicates == 1);

  // A retry of a durable batch is answered at once.
  CHECK(f.produce(make_batch(2, 1000, pid, 0, 0)).base_offset == 0);

  // Closing the partition answers a parked retry with NOT_LEADER_OR_FOLLOWER (the client retries
  // on the next leader, which finds the original in the log).
  f.gate->hold();
  std::promise<std::pair<int, ProduceResult>> second, second_retry;
  f.p->produce(make_batch(1, 1000, pid, 0, 2), record(second));
  f.p->produce(make_batch(1, 1000, pid, 0, 2), record(second_retry));
  CHECK(answered == 2);
  std::promise<int16_t> closed;
  f.p->close([&](int16_t code) { closed.set_value(code); });
  auto [parked_order, parked_result] = second_retry.get_future().get();
  CHECK(parked_order == 3);
  CHECK(parked_result.error_code == kafka_error::kNotLeaderOrFollower);
  f.gate->release();
  CHECK(second.get_future().get().second.error_code == 0);
  CHECK(closed.get_future().get() == 0);
}

TEST_CASE("a retry parked behind its original gets the original's error when the WAL fails it") {
  Fixture f(/*gated_wal=*/true);
  f.gate->hold();
  std::promise<ProduceResult> original, retry;
  f.p->produce(make_batch(1, 1000, 9, 0, 0), [&](ProduceResult r) { original.set_value(std::move(r)); });
  f.p->produce(make_batch(1, 1000, 9, 0, 0), [&](ProduceResult r) { retry.set_value(std::move(r)); });
  f.gate->fail_held();
  CHECK(original.get_future().get().error_code == kafka_error::kKafkaStorageError);
  CHECK(retry.get_future().get().error_code == kafka_error::kKafkaStorageError);  // not a success
  CHECK(f.produce(make_batch(1, 1000, 9, 0, 0)).error_code == kafka_error::kNotLeaderOrFollower);
}

TEST_CASE("producer state and offsets survive a restart, from the WAL and from objects") {
  Fixture f;
  const int64_t pid = 7;
  const int64_t t = f.now->load();
  REQUIRE(f.produce(make_batch(4, t, pid, 3, 0)).error_code == 0);
  f.h.flush();  // this batch is now in an object
  REQUIRE(f.produce(make_batch(4, t + 1000, pid, 3, 4)).error_code == 0);  // this one only in the WAL
  f.restart();
  CHECK(f.p->high_watermark() == 8);
  auto dup = f.produce(make_batch(4, t + 1000, pid, 3, 4));
  CHECK(dup.error_code == 0);
  CHECK(dup.base_offset == 4);
  auto next = f.produce(make_batch(1, t + 2000, pid, 3, 8));
  CHECK(next.error_code == 0);
  CHECK(next.base_offset == 8);
  // Reading on from each answer walks all three batches (a cold read may stop at an object's end).
  std::vector<int64_t> bases;
  for (int64_t next = 0; next < f.p->high_watermark();) {
    auto r = f.fetch(next);
    REQUIRE(r.error_code == 0);
    REQUIRE_FALSE(r.batches.empty());
    for (auto& b : r.batches) {
      auto h = records::read_batch_header(b.span());
      bases.push_back(h->base_offset);
      next = h->next_offset();
    }
  }
  CHECK(bases == std::vector<int64_t>{0, 4, 8});
  CHECK(f.exact(t + 1000).offset == 4);
}

TEST_CASE("list offsets answers earliest, latest, max timestamp and by timestamp") {
  Fixture f;
  REQUIRE(f.produce(make_batch(2, 1000)).error_code == 0);  // offsets 0-1, ts 1000-1001
  REQUIRE(f.produce(make_batch(2, 5000)).error_code == 0);  // offsets 2-3, ts 5000-5001
  REQUIRE(f.produce(make_batch(2, 3000)).error_code == 0);  // offsets 4-5, ts 3000-3001
  CHECK(f.p->list_offset(kEarliestTimestamp).offset == 0);
  CHECK(f.p->list_offset(kLatestTimestamp).offset == 6);
  auto max = f.p->list_offset(kMaxTimestamp);
  CHECK(max.offset == 3);
  CHECK(max.timestamp_ms == 5001);
  // By timestamp (the three small batches share one index entry: the record-level answer).
  CHECK(f.exact(0).offset == 0);
  CHECK(f.exact(2000).offset == 2);
  CHECK(f.exact(9000).offset == -1);
  CHECK(f.p->list_offset(2000).offset == 0);  // the coarse answer: the start of the entry
}

TEST_CASE("delete records moves the log start offset and earlier offsets become out of range") {
  Fixture f;
  for (int i = 0; i < 4; ++i) REQUIRE(f.produce(make_batch(5, 1000)).error_code == 0);
  CHECK(f.delete_records(7) == std::pair<int16_t, int64_t>{0, 7});
  CHECK(f.p->log_start_offset() == 7);
  CHECK(f.fetch(3).error_code == kafka_error::kOffsetOutOfRange);
  CHECK(f.fetch(7).batches.size() >= 1);
  CHECK(f.p->list_offset(kEarliestTimestamp).offset == 7);
  CHECK(f.delete_records(100).first == kafka_error::kOffsetOutOfRange);
  CHECK(f.delete_records(-1) == std::pair<int16_t, int64_t>{0, 20});
  f.restart();
  CHECK(f.p->log_start_offset() == 20);
  CHECK(f.p->high_watermark() == 20);
}

TEST_CASE("retention trims whole entries older than retention.ms or while the rest holds retention.bytes") {
  Fixture f;
  PartitionConfig one_batch_entries;
  one_batch_entries.index_entry_bytes = 1;  // every batch closes its entry
  f.set_config(one_batch_entries);
  int64_t now = f.now->load();
  REQUIRE(f.produce(make_batch(2, now - 10'000)).error_code == 0);
  REQUIRE(f.produce(make_batch(2, now - 5'000)).error_code == 0);
  REQUIRE(f.produce(make_batch(2, now)).error_code == 0);
  PartitionConfig c = one_batch_entries;
  c.retention_ms = 7'000;
  f.set_config(c);
  f.p->enforce_retention();
  CHECK(eventually([&] { return f.p->log_start_offset() == 2; }));  // retention trims in the background
  c.retention_ms = -1;
  c.retention_bytes = 1;  // as Kafka: an entry goes only while the rest still holds >= 1 byte
  f.set_config(c);
  f.p->enforce_retention();
  CHECK(eventually([&] { return f.p->log_start_offset() == 4; }));
  c.retention_bytes = 0;  // everything below the high watermark
  f.set_config(c);
  f.p->enforce_retention();
  CHECK(eventually([&] { return f.p->log_start_offset() == 6; }));
  CHECK(f.p->high_watermark() == 6);
  CHECK(f.p->size_bytes() == 0);
}

TEST_CASE("log append time topics stamp the broker's time into each batch") {
  Fixture f;
  PartitionConfig c;
  c.log_append_time = true;
  f.p->set_config(c);
  auto r = f.produce(make_batch(2, 1000));
  REQUIRE(r.error_code == 0);
  CHECK(r.log_append_time_ms == f.now->load());
  auto fetched = f.fetch(0);
  auto h = records::read_batch_header(fetched.batches[0].span());
  CHECK(h->timestamp_type() == records::TimestampType::log_append_time);
  CHECK(h->max_timestamp == f.now->load());
  CHECK(records::compute_batch_crc(fetched.batches[0].span()) == h->crc);
}

TEST_CASE("list offsets by timestamp finds the first record at or after the time inside a batch") {
  Fixture f;
  REQUIRE(f.produce(make_batch(1, 1000)).error_code == 0);  // offset 0, ts 1000
  REQUIRE(f.produce(make_batch(4, 2000)).error_code == 0);  // offsets 1-4, ts 2000-2003
  auto exact = [&](int64_t ts) {
    std::promise<OffsetAndTimestamp> pr;
    f.p->list_offset_exact(ts, [&](OffsetAndTimestamp r) { pr.set_value(r); });
    return pr.get_future().get();
  };
  CHECK(exact(2002).offset == 3);
  CHECK(exact(2002).timestamp_ms == 2002);
  CHECK(exact(1500).offset == 1);
  CHECK(exact(9000).offset == -1);
  CHECK(exact(kLatestTimestamp).offset == 5);
  f.h.flush();  // from an object too
  f.restart();
  CHECK(exact(2003).offset == 4);
}

namespace {
// Checks invariant 2 of partition.h on an index snapshot: contiguous, epochs never decrease, and
// every entry but the last of its epoch holds at least entry_bytes.
void check_index_shape(const std::vector<IndexEntry>& index, int64_t hwm, uint64_t entry_bytes) {
  for (size_t i = 0; i < index.size(); ++i) {
    INFO("entry " << i << " [" << index[i].base_offset << ", " << index[i].next_offset << ")");
    CHECK(index[i].next_offset > index[i].base_offset);
    if (i + 1 < index.size()) {
      CHECK(index[i].next_offset == index[i + 1].base_offset);
      CHECK(index[i].leader_epoch <= index[i + 1].leader_epoch);
      if (index[i].leader_epoch == index[i + 1].leader_epoch) CHECK(index[i].bytes >= entry_bytes);
    }
  }
  if (!index.empty()) CHECK(index.back().next_offset == hwm);
}
}  // namespace

TEST_CASE("a partition of many small batches keeps index entries within bytes / entry size + epochs + 1") {
  Fixture f;
  PartitionConfig c;
  c.index_entry_bytes = 4096;
  f.set_config(c);
  const int64_t t = f.now->load();
  uint64_t batches = 0;
  const uint64_t epochs = 3;
  for (uint64_t round = 0; round < epochs; ++round) {
    for (int call = 0; call < 10; ++call) {
      std::vector<SharedBytes> set;
      for (int i = 0; i < 50; ++i) set.push_back(make_batch(1, t + static_cast<int64_t>(batches++)));
      REQUIRE(f.produce(concat(set)).error_code == 0);
    }
    if (round + 1 < epochs) f.restart();  // the reopened stream has a new leader epoch
  }
  auto appended = f.p->index_entries();
  auto st = f.p->stats();
  CHECK(st.batches == batches);
  CHECK(st.index_entries == appended.size());
  CHECK(st.index_entries <= f.p->size_bytes() / c.index_entry_bytes + epochs + 1);
  CHECK(st.index_entries * 20 < batches);  // ~70 B batches: ~60 per entry
  check_index_shape(appended, f.p->high_watermark(), c.index_entry_bytes);
  f.restart();
  CHECK(f.p->index_entries() == appended);  // the load scan groups the batches the same way
}

TEST_CASE("retention trims whole index entries by time and size, never past the high watermark, and a reload builds the same index") {
  Fixture f;
  PartitionConfig c;
  c.index_entry_bytes = 2048;
  f.set_config(c);
  const int64_t now = f.now->load();
  const int n = 800;  // batch i is (n - i) s old
  for (int call = 0; call < n / 20; ++call) {
    std::vector<SharedBytes> set;
    for (int i = call * 20; i < (call + 1) * 20; ++i) set.push_back(make_batch(1, now - (n - i) * 1000));
    REQUIRE(f.produce(concat(set)).error_code == 0);
  }
  const auto before = f.p->index_entries();
  REQUIRE(before.size() > 10);

  // By time: whole entries whose newest batch is older than retention.ms.
  c.retention_ms = 300'000;
  f.set_config(c);
  size_t kept_from = 0;
  while (before[kept_from].max_timestamp_ms < now - c.retention_ms) ++kept_from;
  REQUIRE(kept_from > 0);
  f.p->enforce_retention();
  CHECK(eventually([&] { return f.p->log_start_offset() == before[kept_from].base_offset; }));
  CHECK(f.p->index_entries() == std::vector<IndexEntry>(before.begin() + static_cast<std::ptrdiff_t>(kept_from), before.end()));

  // By size: whole entries while the rest still holds retention.bytes.
  uint64_t total = f.p->size_bytes();
  c.retention_ms = -1;
  c.retention_bytes = static_cast<int64_t>(total / 2);
  f.set_config(c);
  size_t first = kept_from;
  for (uint64_t rest = total; rest - before[first].bytes >= total / 2; ++first) rest -= before[first].bytes;
  f.p->enforce_retention();
  CHECK(eventually([&] { return f.p->log_start_offset() == before[first].base_offset; }));
  CHECK(f.p->size_bytes() >= total / 2);
  CHECK(f.p->size_bytes() - before[first].bytes < total / 2);
  uint64_t kept_batches = 0;
  for (size_t i = first; i < before.size(); ++i) kept_batches += before[i].batches;
  CHECK(f.p->stats().batches == kept_batches);

  // A reload (from objects and the WAL) builds the same index.
  const auto kept = f.p->index_entries();
  f.h.flush();
  f.restart();
  CHECK(f.p->index_entries() == kept);
  CHECK(f.p->log_start_offset() == before[first].base_offset);

  // Never past the high watermark: retention.bytes=0 trims exactly everything.
  c.retention_bytes = 0;
  f.set_config(c);
  f.p->enforce_retention();
  CHECK(eventually([&] { return f.p->log_start_offset() == f.p->high_watermark(); }));
  CHECK(f.p->high_watermark() == n);
  CHECK(f.p->size_bytes() == 0);
  CHECK(f.p->index_entries().empty());
}

TEST_CASE("list offsets by timestamp answers, for every timestamp of a random log, the first record a brute-force model finds") {
  Fixture f;
  PartitionConfig c;
  c.index_entry_bytes = 512;  // several batches per entry
  f.set_config(c);
  std::mt19937 rng(20261126);
  struct Rec {
    int64_t offset, ts;
  };
  std::vector<Rec> model;
  std::vector<Rec> batch_max;  // per batch: its last offset and max timestamp
  int64_t clock = 1'000'000, offset = 0;
  for (int call = 0; call < 20; ++call) {
    std::vector<SharedBytes> set;
    for (int b = 0; b < 8; ++b) {
      std::vector<int64_t> ts(1 + rng() % 5);
      for (auto& t : ts) {
        clock += static_cast<int64_t>(rng() % 7) - 2;              // drifts forward, sometimes back
        t = clock + static_cast<int64_t>(rng() % 21) - 10;         // and records are out of order
        model.push_back({offset++, t});
      }
      batch_max.push_back({offset - 1, *std::max_element(ts.begin(), ts.end())});
      set.push_back(make_batch_at(ts));
    }
    REQUIRE(f.produce(concat(set)).error_code == 0);
  }
  REQUIRE(f.p->stats().index_entries * 3 < 160);
  auto check_every_timestamp = [&](int64_t log_start) {
    std::set<int64_t> targets;
    for (const auto& r : model) targets.insert({r.ts - 1, r.ts, r.ts + 1});
    int wrong = 0;
    for (int64_t target : targets) {
      int64_t want_offset = -1, want_ts = -1;
      for (const auto& r : model) {
        if (r.offset >= log_start && r.ts >= target) {
          want_offset = r.offset;
          want_ts = r.ts;
          break;
        }
      }
      auto got = f.exact(target);
      if (got.error_code != 0 || got.offset != want_offset || got.timestamp_ms != want_ts) {
        if (++wrong <= 5) {
          UNSCOPED_INFO("target " << target << ": got " << got.offset << "@" << got.timestamp_ms << ", want "
                                  << want_offset << "@" << want_ts);
        }
      }
    }
    CHECK(wrong == 0);
  };
  // MAX_TIMESTAMP: the last offset of the first batch holding the largest timestamp (of the
  // batches that end at or after the log start).
  auto check_max_timestamp = [&](int64_t log_start) {
    Rec want{-1, -1};
    for (const auto& b : batch_max) {
      if (b.offset >= log_start && b.ts > want.ts) want = b;
    }
    auto got = f.p->list_offset(kMaxTimestamp);
    CHECK(got.offset == want.offset);
    CHECK(got.timestamp_ms == want.ts);
  };
  check_every_timestamp(0);
  check_max_timestamp(0);
  // DeleteRecords into the middle of an entry: the first entry then also holds trimmed records,
  // whose timestamps must not answer.
  auto index = f.p->index_entries();
  REQUIRE(index.size() > 3);
  int64_t mid = index[1].base_offset + (index[1].next_offset - index[1].base_offset) / 2;
  REQUIRE(mid > index[1].base_offset);
  REQUIRE(f.delete_records(mid).first == 0);
  check_every_timestamp(mid);
  f.h.flush();  // from objects (cold reads) too
  f.restart();
  check_every_timestamp(mid);
  check_max_timestamp(mid);  // after a reload the first entry starts at the batch holding the log start
}

TEST_CASE("offset for leader epoch across several epochs equals the per-batch answer") {
  Fixture f;
  PartitionConfig c;
  c.index_entry_bytes = 256;
  f.set_config(c);
  const int64_t t = f.now->load();
  for (int round = 0; round < 5; ++round) {
    if (round != 2) {  // one epoch writes nothing
      std::vector<SharedBytes> set;
      for (int i = 0; i < 3 + round * 4; ++i) set.push_back(make_batch(1 + i % 3, t));
      REQUIRE(f.produce(concat(set)).error_code == 0);
    }
    f.restart();
  }
  // The per-batch model of Kafka's leader epoch cache: every stored batch's leader epoch, read
  // back, as epoch -> start offset (the first one moved up to the log start), plus the current
  // leader epoch starting at the high watermark when it wrote nothing; then Kafka's endOffsetFor.
  auto model = [&](int32_t epoch) -> std::pair<int32_t, int64_t> {
    const int64_t start = f.p->log_start_offset(), hwm = f.p->high_watermark();
    const int32_t latest = f.p->leader_epoch();
    std::map<int32_t, int64_t> epoch_starts;
    for (int64_t next = start; next < hwm;) {
      auto r = f.fetch(next);
      REQUIRE(r.error_code == 0);
      for (auto& b : r.batches) {
        auto h = records::read_batch_header(b.span());
        epoch_starts.emplace(h->partition_leader_epoch, std::max(h->base_offset, start));
        next = h->next_offset();
      }
    }
    epoch_starts.emplace(latest, hwm);
    if (epoch == -1) return {-1, -1};
    if (epoch == latest) return {latest, hwm};
    auto higher = epoch_starts.upper_bound(epoch);
    if (higher == epoch_starts.end()) return {-1, -1};
    if (higher == epoch_starts.begin()) return {epoch, higher->second};
    return {std::prev(higher)->first, higher->second};
  };
  auto check_every_epoch = [&] {
    for (int32_t e = -1; e <= f.p->leader_epoch() + 1; ++e) {
      INFO("epoch " << e);
      CHECK(f.p->end_offset_for_epoch(e) == model(e));
    }
  };
  REQUIRE(f.p->stats().index_entries < f.p->stats().batches);
  check_every_epoch();
  auto index = f.p->index_entries();
  REQUIRE(index.size() > 2);
  REQUIRE(f.delete_records(index[1].next_offset - 1).first == 0);  // into an entry
  check_every_epoch();
  // Trimmed past the first epoch (into the second): asking for the first answers it with the
  // start of the oldest stored epoch (the log start), as Kafka does.
  auto second = std::find_if(index.begin(), index.end(), [&](const IndexEntry& e) { return e.leader_epoch > index[0].leader_epoch; });
  REQUIRE(second != index.end());
  REQUIRE(f.delete_records(std::max(f.p->log_start_offset(), second->base_offset + 1)).first == 0);
  REQUIRE(f.p->log_start_offset() > second->base_offset);
  CHECK(f.p->end_offset_for_epoch(index[0].leader_epoch) == std::pair{index[0].leader_epoch, f.p->log_start_offset()});
  check_every_epoch();
  // Everything trimmed: every older epoch ends where the current one starts.
  REQUIRE(f.delete_records(-1).first == 0);
  CHECK(f.p->end_offset_for_epoch(index[0].leader_epoch) == std::pair{index[0].leader_epoch, f.p->high_watermark()});
  check_every_epoch();
}

TEST_CASE("an idle producer is forgotten after producer.id.expiration.ms, a live one is not, and a reload keeps every producer one more period") {
  Fixture f;
  PartitionConfig c;
  c.producer_id_expiration_ms = 60'000;
  f.set_config(c);
  const int64_t t0 = f.now->load();
  const int64_t idle = 1, live = 2, lazy = 3, old = 4;
  REQUIRE(f.produce(make_batch(1, t0, idle, 0, 0)).base_offset == 0);
  REQUIRE(f.produce(make_batch(1, t0, live, 0, 0)).base_offset == 1);
  REQUIRE(f.produce(make_batch(1, t0, lazy, 0, 0)).base_offset == 2);
  f.now->store(t0 + 30'000);
  REQUIRE(f.produce(make_batch(1, t0 + 30'000, live, 0, 1)).base_offset == 3);
  f.now->store(t0 + 59'999);
  f.p->enforce_retention();
  CHECK(f.p->stats().producers == 3);  // 59 999 ms idle: kept
  f.now->store(t0 + 60'000);
  f.p->enforce_retention();  // the periodic sweep
  CHECK(f.p->stats().producers == 1);
  CHECK(f.p->stats().expired_producers == 2);
  // The live producer still has its state: a retry is answered with the first offsets.
  CHECK(f.produce(make_batch(1, t0 + 30'000, live, 0, 1)).base_offset == 3);
  // A forgotten producer gets Kafka's answer for a producer id without state: any sequence is
  // accepted (KIP-360), and a retry from before the expiry is appended again.
  auto gap = f.produce(make_batch(1, t0 + 60'000, lazy, 0, 7));
  CHECK(gap.error_code == 0);
  CHECK(gap.base_offset == 4);
  CHECK(f.produce(make_batch(1, t0 + 60'000, lazy, 0, 9)).error_code == kafka_error::kOutOfOrderSequenceNumber);
  auto again = f.produce(make_batch(1, t0, idle, 0, 0));
  CHECK(again.error_code == 0);
  CHECK(again.base_offset == 5);

  // Without a sweep, a batch finds an expired producer forgotten all the same.
  f.now->store(t0 + 200'000);
  CHECK(f.produce(make_batch(1, t0 + 200'000, live, 0, 12)).error_code == 0);  // idle 170 s: no state

  // A reload dates each producer by the later of its last batch's max timestamp and the reload,
  // so none is forgotten by a failover: `old`, appended now with a CreateTime two expiries back
  // (a backfill), keeps its state, and its retry (the answer was lost in the failover) is not
  // appended twice. idle and lazy, expired but not yet swept, come back for one period too.
  REQUIRE(f.produce(make_batch(1, t0 + 200'000 - 120'000, old, 0, 0)).base_offset == 7);
  CHECK(f.p->stats().producers == 4);  // idle and lazy (expired, not yet swept), live, old
  f.restart();
  CHECK(f.p->stats().producers == 4);
  CHECK(f.produce(make_batch(1, t0 + 200'000 - 120'000, old, 0, 0)).base_offset == 7);  // deduplicated
  CHECK(f.produce(make_batch(1, t0 + 200'000, live, 0, 12)).base_offset == 6);
  CHECK(f.p->high_watermark() == 8);
  // ...and they expire one period after the reload.
  f.now->store(t0 + 200'000 + 59'999);
  f.p->enforce_retention();
  CHECK(f.p->stats().producers == 4);
  f.now->store(t0 + 200'000 + 60'000);
  f.p->enforce_retention();
  CHECK(f.p->stats().producers == 0);
  CHECK(f.p->stats().expired_producers == 4);
  CHECK(f.produce(make_batch(1, t0 + 260'000, old, 0, 5)).error_code == 0);  // no state: any sequence
}

TEST_CASE("list offsets by timestamp stays exact while batches are produced and retention trims at the same time") {
  Fixture f;
  PartitionConfig c;
  c.index_entry_bytes = 512;
  c.retention_ms = -1;
  c.retention_bytes = 2048;  // >= 1: the newest entry always stays
  f.set_config(c);
  // Record at offset o has timestamp kBase + o: the answer for T is max(T - kBase, log start).
  constexpr int64_t kBase = 1'000'000;
  constexpr int kCalls = 400, kPerBatch = 3;
  std::vector<SharedBytes> batches;  // built here: Catch2 assertions are for the main thread only
  for (int64_t first = 0; first < kCalls * kPerBatch; first += kPerBatch) {
    batches.push_back(make_batch_at({kBase + first, kBase + first + 1, kBase + first + 2}));
  }
  std::atomic<bool> producing{true};
  std::atomic<int> bad{0};
  std::thread producer([&] {
    for (int call = 0; call < kCalls; ++call) {
      auto r = f.produce(batches[static_cast<size_t>(call)]);
      if (r.error_code != 0 || r.base_offset != int64_t{call} * kPerBatch) ++bad;
    }
    producing = false;
  });
  std::thread trimmer([&] {
    while (producing) {
      f.p->enforce_retention();
      std::this_thread::yield();
    }
  });
  std::mt19937 rng(7);
  int lookups = 0;
  while (producing || lookups < 200) {
    int64_t hwm = f.p->high_watermark();
    if (hwm == 0) continue;
    int64_t target = kBase + static_cast<int64_t>(rng() % static_cast<uint64_t>(hwm));
    int64_t start_before = f.p->log_start_offset();
    auto got = f.exact(target);
    int64_t start_after = f.p->log_start_offset();
    ++lookups;
    // The answer is the record at the target, or (if that was trimmed) the first one a trim
    // during the call kept: the log start once that trim completes (the stream's start moves
    // first, the partition's log start when the trim's callback runs); its timestamp is its own.
    bool ok = got.error_code == 0 && got.offset >= target - kBase && got.timestamp_ms == kBase + got.offset &&
              (got.offset == target - kBase ||
               (got.offset >= start_before && got.offset % kPerBatch == 0 &&  // trims cut between batches
                (got.offset <= start_after || eventually([&] { return f.p->log_start_offset() >= got.offset; }))));
    if (!ok && ++bad <= 5) {
      UNSCOPED_INFO("target " << target - kBase << ": got " << got.offset << "@" << got.timestamp_ms - kBase
                              << " (error " << got.error_code << "), log start " << start_before << ".."
                              << start_after);
    }
  }
  producer.join();
  trimmer.join();
  CHECK(bad == 0);
  CHECK(f.p->high_watermark() == kCalls * kPerBatch);
  CHECK(f.p->log_start_offset() > 0);
}

TEST_CASE("the expiry sweep forgets exactly the idle producers among thousands (walked in chunks of the lock)") {
  Fixture f;
  PartitionConfig c;
  c.producer_id_expiration_ms = 60'000;
  f.set_config(c);
  const int64_t t0 = f.now->load();
  const int producers = 3000;  // ~3 sweep chunks
  auto produce_all = [&](int64_t ts, bool odd_only) {
    std::vector<SharedBytes> set;
    for (int id = 0; id < producers; ++id) {
      if (odd_only && id % 2 == 0) continue;
      set.push_back(make_batch(1, ts, id, 0, odd_only ? 1 : 0));
    }
    REQUIRE(f.produce(concat(set)).error_code == 0);
  };
  produce_all(t0, false);
  f.now->store(t0 + 30'000);
  produce_all(t0 + 30'000, true);  // the odd ids stay live
  f.now->store(t0 + 60'000);
  f.p->enforce_retention();
  auto st = f.p->stats();
  CHECK(st.producers == producers / 2);
  CHECK(st.expired_producers == producers / 2);
  // An odd id still dedups; an even id starts afresh at any sequence.
  auto hwm = f.p->high_watermark();
  CHECK(f.produce(make_batch(1, t0 + 30'000, 1, 0, 1)).base_offset == producers + 0);  // its batch of the 2nd call
  CHECK(f.produce(make_batch(1, t0 + 60'000, 2, 0, 5)).error_code == 0);
  CHECK(f.p->high_watermark() == hwm + 1);
}

TEST_CASE("a reload keeps a producer dated before the expiry for the reload grace only, not a whole period") {
  Fixture f;
  PartitionConfig c;
  c.producer_id_expiration_ms = 3'600'000;  // an hour: longer than the grace
  f.set_config(c);
  const int64_t t0 = f.now->load();
  // A backfill: CreateTime two hours back.
  REQUIRE(f.produce(make_batch(1, t0 - 7'200'000, 9, 0, 0)).base_offset == 0);
  f.restart();
  CHECK(f.p->stats().producers == 1);
  CHECK(f.produce(make_batch(1, t0 - 7'200'000, 9, 0, 0)).base_offset == 0);  // its retry: deduplicated
  CHECK(f.p->high_watermark() == 1);
  f.now->store(t0 + kReloadGraceMs - 1);
  f.p->enforce_retention();
  CHECK(f.p->stats().producers == 1);
  f.now->store(t0 + kReloadGraceMs);
  f.p->enforce_retention();
  CHECK(f.p->stats().producers == 0);  // not kept for the whole hour
}
