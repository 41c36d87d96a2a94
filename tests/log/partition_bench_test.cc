// Figures for a partition of 1,000,000 small batches: the memory its in-memory state takes (heap
// freed when the Partition goes) and the cost of the per-call lookups that hold its lock. Hidden
// ([.bench]): not run by ctest; run `build/tests/log_tests '[.bench]'`. Prints, never asserts speed.
#include <malloc.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>

#include "../stream/stream_test_util.h"
#include "log/partition.h"
#include "protocol/records/record.h"

using namespace floe;
using namespace floe::log;

namespace {
SharedBytes small_batch(int64_t ts_ms) {
  records::RecordBatchBuilder b(records::BatchOptions{});
  const uint8_t value[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  b.append(ts_ms, std::nullopt, std::span<const uint8_t>(value, sizeof(value)));
  auto built = b.build();
  REQUIRE(built.ok());
  return SharedBytes(std::move(*built));
}

template <typename F>
double ns_per_call(int calls, F f) {
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < calls; ++i) f();
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / calls;
}
// A loaded partition on a new stream of a started harness (64 MiB WAL), with a fixed clock. Sets
// one malloc arena first, so the heap figures count what every thread allocated.
std::shared_ptr<Partition> open_partition(stream::testing::Harness& h, int64_t now_ms) {
  mallopt(M_ARENA_MAX, 1);
  h.wal_capacity = 64 << 20;
  h.start();
  std::promise<Status> loaded;
  auto p = Partition::open("t", 0, h.open(h.create()), PartitionConfig{}, [now_ms] { return now_ms; },
                           [&](Status s) { loaded.set_value(s); });
  REQUIRE(loaded.get_future().get().ok());
  return p;
}
}  // namespace

TEST_CASE("partition of 1,000,000 small batches: index memory and lookup cost", "[.bench]") {
  stream::testing::Harness h;
  const int64_t t0 = 1'700'000'000'000;
  auto p = open_partition(h, t0 + 100'000);
  const int batches = 1'000'000, per_call = 1000;
  Bytes set;
  uint64_t batch_bytes = 0;
  auto produce_start = std::chrono::steady_clock::now();
  for (int call = 0; call < batches / per_call; ++call) {
    set.clear();
    for (int i = 0; i < per_call; ++i) {
      auto b = small_batch(t0 + call * per_call + i);
      batch_bytes = b.size();
      set.insert(set.end(), b.span().begin(), b.span().end());
    }
    std::promise<ProduceResult> pr;
    p->produce(SharedBytes(set), [&](ProduceResult r) { pr.set_value(std::move(r)); });
    REQUIRE(pr.get_future().get().error_code == 0);
  }
  double produce_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - produce_start).count();
  REQUIRE(p->high_watermark() == batches);

  int64_t mid_ts = t0 + batches / 2;
  double size_ns = ns_per_call(1000, [&] { REQUIRE(p->size_bytes() > 0); });
  double max_ns = ns_per_call(1000, [&] { REQUIRE(p->list_offset(kMaxTimestamp).offset == batches - 1); });
  double ts_ns = ns_per_call(1000, [&] { REQUIRE(p->list_offset(mid_ts).offset >= 0); });
  double epoch_ns = ns_per_call(1000, [&] { REQUIRE(p->end_offset_for_epoch(p->leader_epoch()).second == batches); });
  double retention_ns = ns_per_call(100, [&] { p->enforce_retention(); });
  double exact_ns = ns_per_call(100, [&] {
    std::promise<OffsetAndTimestamp> pr;
    p->list_offset_exact(mid_ts, [&](OffsetAndTimestamp r) { pr.set_value(r); });
    REQUIRE(pr.get_future().get().offset == batches / 2);
  });

  auto st = p->stats();
  std::printf("partition_bench: %llu index entries (%llu B as counted by stats)\n",
              static_cast<unsigned long long>(st.index_entries), static_cast<unsigned long long>(st.index_memory_bytes));
  malloc_trim(0);
  size_t heap_before = mallinfo2().uordblks;
  p.reset();  // the stream handle stays: what is freed is the partition's own state
  size_t heap_after = mallinfo2().uordblks;
  std::printf("partition_bench: %d batches of %llu B (%.1f MiB) produced in %.1f s\n", batches,
              static_cast<unsigned long long>(batch_bytes), batches * batch_bytes / 1048576.0, produce_s);
  std::printf("partition_bench: partition heap %.1f KiB (%.2f B per batch)\n",
              double(heap_before - heap_after) / 1024.0, double(heap_before - heap_after) / batches);
  std::printf("partition_bench: size_bytes %.0f ns, list_offset(MAX_TIMESTAMP) %.0f ns, list_offset(ts) %.0f ns, "
              "end_offset_for_epoch %.0f ns, enforce_retention (nothing to trim) %.0f ns, "
              "list_offset_exact (log cache / object) %.0f ns\n",
              size_ns, max_ns, ts_ns, epoch_ns, retention_ns, exact_ns);
}

TEST_CASE("partition with 100,000 idempotent producers: producer state memory", "[.bench]") {
  stream::testing::Harness h;
  const int64_t now = 1'700'000'000'000;
  auto p = open_partition(h, now);
  const int producers = 100'000, per_call = 1000;
  Bytes set;
  for (int call = 0; call < producers / per_call; ++call) {
    set.clear();
    for (int i = 0; i < per_call; ++i) {
      records::BatchOptions o;
      o.producer_id = call * per_call + i;
      o.producer_epoch = 0;
      o.base_sequence = 0;
      records::RecordBatchBuilder b(o);
      const uint8_t value[8] = {1, 2, 3, 4, 5, 6, 7, 8};
      b.append(now, std::nullopt, std::span<const uint8_t>(value, sizeof(value)));
      auto built = b.build();
      REQUIRE(built.ok());
      set.insert(set.end(), built->begin(), built->end());
    }
    std::promise<ProduceResult> pr;
    p->produce(SharedBytes(set), [&](ProduceResult r) { pr.set_value(std::move(r)); });
    REQUIRE(pr.get_future().get().error_code == 0);
  }
  REQUIRE(p->stats().producers == producers);
  double sweep_ns = ns_per_call(20, [&] { p->enforce_retention(); });  // nobody expires
  std::printf("partition_bench: enforce_retention with %d producers (the expiry sweep) %.0f us\n", producers,
              sweep_ns / 1000);
  malloc_trim(0);
  size_t heap_before = mallinfo2().uordblks;
  p.reset();
  size_t heap_after = mallinfo2().uordblks;
  std::printf("partition_bench: %d producers: partition heap %.1f MiB (%.0f B per producer)\n", producers,
              double(heap_before - heap_after) / 1048576.0, double(heap_before - heap_after) / producers);
}
