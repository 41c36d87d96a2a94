#include "stream/object.h"

#include <catch2/catch.hpp>
#include <map>
#include <random>

#include "common/crc32c.h"
#include "stream/object_format.h"

using namespace floe;
using namespace floe::stream;

namespace {

Batch make_batch(int64_t base, uint32_t count, size_t size, uint8_t fill) {
  return Batch{Offset(base), count, SharedBytes(Bytes(size, fill))};
}

std::vector<Batch> read_all(const SharedBytes& object, StreamId stream) {
  auto parsed = parse_object(object);
  REQUIRE(parsed.ok());
  std::vector<Batch> out;
  for (const auto& e : parsed->index) {
    if (e.stream_id != stream) continue;
    auto block = parse_block(object.slice(e.position, e.size_bytes), e);
    REQUIRE(block.ok());
    for (auto& b : *block) out.push_back(b);
  }
  return out;
}

}  // namespace

TEST_CASE("object_round_trips_batches_of_many_streams_byte_identical") {
  std::mt19937_64 rng(7);
  ObjectBuilder builder(4096);
  std::map<uint64_t, std::vector<Batch>> written;
  for (uint64_t s = 1; s <= 5; ++s) {
    int64_t next = static_cast<int64_t>(s * 100);
    for (int i = 0; i < 20; ++i) {
      uint32_t count = 1 + rng() % 10;
      Bytes bytes(rng() % 3000);
      for (auto& b : bytes) b = static_cast<uint8_t>(rng());
      Batch b{Offset(next), count, SharedBytes(std::move(bytes))};
      builder.add(StreamId(s), b);
      written[s].push_back(b);
      next += count;
    }
  }
  SharedBytes object = builder.finish();
  auto parsed = parse_object(object);
  REQUIRE(parsed.ok());
  CHECK(parsed->index.size() > 5);  // blocks split at the 4 KiB target
  for (const auto& e : parsed->index) CHECK(e.size_bytes <= 4096 + 3000 + 16);
  for (auto& [s, batches] : written) CHECK(read_all(object, StreamId(s)) == batches);
}

TEST_CASE("object_block_holds_one_contiguous_range_and_splits_at_gaps") {
  ObjectBuilder builder;
  builder.add(StreamId(1), make_batch(0, 5, 10, 1));
  builder.add(StreamId(1), make_batch(5, 5, 10, 2));
  builder.add(StreamId(1), make_batch(20, 5, 10, 3));  // a gap: new block
  builder.add(StreamId(2), make_batch(0, 1, 10, 4));
  auto parsed = parse_object(builder.finish());
  REQUIRE(parsed.ok());
  REQUIRE(parsed->index.size() == 3);
  CHECK(parsed->index[0].start_offset == Offset(0));
  CHECK(parsed->index[0].end_offset == Offset(10));
  CHECK(parsed->index[0].record_count == 10);
  CHECK(parsed->index[1].start_offset == Offset(20));
  CHECK(parsed->index[2].stream_id == StreamId(2));
}

TEST_CASE("object_reader_rejects_every_single_byte_corruption_of_index_and_footer") {
  ObjectBuilder builder;
  for (int i = 0; i < 4; ++i) builder.add(StreamId(1 + i), make_batch(0, 3, 100, uint8_t(i)));
  SharedBytes object = builder.finish();
  auto good = parse_object(object);
  REQUIRE(good.ok());
  size_t meta_start = good->footer.index_position;
  for (size_t at = meta_start; at < object.size(); ++at) {
    Bytes bad = object.to_bytes();
    bad[at] ^= 0x40;
    CHECK_FALSE(parse_object(SharedBytes(std::move(bad))).ok());
  }
}

TEST_CASE("data_block_corruption_is_caught_by_its_crc") {
  ObjectBuilder builder;
  builder.add(StreamId(1), make_batch(0, 3, 100, 9));
  SharedBytes object = builder.finish();
  auto parsed = parse_object(object);
  REQUIRE(parsed.ok());
  const auto& e = parsed->index[0];
  for (size_t at = 0; at < e.size_bytes; at += 7) {
    Bytes bad = object.slice(e.position, e.size_bytes).to_bytes();
    bad[at] ^= 1;
    auto r = parse_block(SharedBytes(std::move(bad)), e);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::corrupt);
  }
}

TEST_CASE("block_with_valid_crc_but_lying_lengths_is_rejected_not_read_past") {
  // A block whose CRC matches but whose batch header claims more bytes than the block holds.
  Bytes block(16 + 4);
  le::put_u64(block.data(), 0);
  le::put_u32(block.data() + 8, 1);
  le::put_u32(block.data() + 12, 1000);
  BlockIndexEntry e{StreamId(1), Offset(0), Offset(1), 1, 0, 0, static_cast<uint32_t>(block.size())};
  e.crc = crc32c(block);
  auto r = parse_block(SharedBytes(block), e);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::truncated);
}

TEST_CASE("truncated_or_foreign_objects_are_rejected") {
  ObjectBuilder builder;
  builder.add(StreamId(1), make_batch(0, 3, 100, 9));
  SharedBytes object = builder.finish();
  for (size_t cut = 0; cut < object.size(); cut += 5) CHECK_FALSE(parse_object(object.slice(0, cut)).ok());
  CHECK_FALSE(parse_object(SharedBytes(Bytes(64, 0))).ok());
  // A footer claiming a huge index is refused before anything is allocated.
  Bytes bad = object.to_bytes();
  uint8_t* f = bad.data() + bad.size() - object_format::kFooterBytes;
  le::put_u32(f + 8, 0xFFFFFFF0u);
  le::put_u32(f + object_format::kFooterCrcAt, crc32c({f, object_format::kFooterCrcAt}));
  auto r = parse_object(SharedBytes(std::move(bad)));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::corrupt);
}
