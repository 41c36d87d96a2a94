// log::Partition over a real StreamManager (block WAL on a temp file, mem object store, the
// in-memory stream metadata): produce/fetch, offsets, idempotence, restart, ListOffsets,
// DeleteRecords and retention.
#include "log/partition.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "../stream/stream_test_util.h"
#include "protocol/records/record.h"
#include "protocol/records/record_batch.h"

using namespace floe;
using namespace floe::log;
using floe::stream::testing::Harness;

namespace {

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

struct Fixture {
  Harness h;
  StreamId id;
  std::shared_ptr<std::atomic<int64_t>> now = std::make_shared<std::atomic<int64_t>>(1'700'000'000'000);
  std::shared_ptr<Partition> p;
  PartitionConfig config;

  Fixture() {
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
  // Polls `cond` every 5 ms for up to 10 s (generous: a loaded machine may be slow).
  template <typename F>
  bool eventually(F cond) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!cond() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return cond();
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
  CHECK(f.produce(make_batch(1, 1000, 77, 0, 3)).error_code == kafka_error::kUnknownProducerId);
  // A bumped epoch starts over at 0; the old epoch is then fenced.
  CHECK(f.produce(make_batch(1, 1000, pid, 1, 0)).error_code == 0);
  CHECK(f.produce(make_batch(1, 1000, pid, 0, 5)).error_code == kafka_error::kInvalidProducerEpoch);
  CHECK(f.p->high_watermark() == 6);
}

TEST_CASE("producer state and offsets survive a restart, from the WAL and from objects") {
  Fixture f;
  const int64_t pid = 7;
  REQUIRE(f.produce(make_batch(4, 1000, pid, 3, 0)).error_code == 0);
  f.h.flush();  // this batch is now in an object
  REQUIRE(f.produce(make_batch(4, 2000, pid, 3, 4)).error_code == 0);  // this one only in the WAL
  f.restart();
  CHECK(f.p->high_watermark() == 8);
  auto dup = f.produce(make_batch(4, 2000, pid, 3, 4));
  CHECK(dup.error_code == 0);
  CHECK(dup.base_offset == 4);
  auto next = f.produce(make_batch(1, 3000, pid, 3, 8));
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
  CHECK(f.p->list_offset(2000).offset == 4);
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
  CHECK(f.p->list_offset(0).offset == 0);
  CHECK(f.p->list_offset(2000).offset == 2);
  CHECK(f.p->list_offset(9000).offset == -1);
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

TEST_CASE("retention trims whole batches older than retention.ms or beyond retention.bytes") {
  Fixture f;
  int64_t now = f.now->load();
  REQUIRE(f.produce(make_batch(2, now - 10'000)).error_code == 0);
  REQUIRE(f.produce(make_batch(2, now - 5'000)).error_code == 0);
  REQUIRE(f.produce(make_batch(2, now)).error_code == 0);
  PartitionConfig c;
  c.retention_ms = 7'000;
  f.p->set_config(c);
  f.p->enforce_retention();
  CHECK(f.eventually([&] { return f.p->log_start_offset() == 2; }));  // retention trims in the background
  c.retention_ms = -1;
  c.retention_bytes = 1;  // keeps nothing but the data above the limit... i.e. trims all whole batches
  f.p->set_config(c);
  f.p->enforce_retention();
  CHECK(f.eventually([&] { return f.p->log_start_offset() == 6; }));
  CHECK(f.p->high_watermark() == 6);
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
