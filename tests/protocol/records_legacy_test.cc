#include <zlib.h>

#include <catch2/catch.hpp>
#include <string>

#include "protocol/records/legacy.h"

using namespace floe;
using namespace floe::records;

namespace {
std::vector<LegacyMessage> sample(int8_t magic, int n) {
  std::vector<LegacyMessage> out;
  for (int i = 0; i < n; ++i) {
    LegacyMessage m;
    m.offset = 1000 + 2 * i + (i % 3 == 2 ? 1 : 0);  // increasing, with gaps
    m.magic = magic;
    m.timestamp_ms = magic == 1 ? 1600000000000 + i : kNoTimestamp;
    std::string v = "value-" + std::to_string(i);
    if (i % 4 != 1) m.key = SharedBytes::copy_of({reinterpret_cast<const uint8_t*>(v.data()), 3});
    if (i % 5 != 3) m.value = SharedBytes::copy_of({reinterpret_cast<const uint8_t*>(v.data()), v.size()});
    out.push_back(m);
  }
  return out;
}
}  // namespace

TEST_CASE("legacy message sets round-trip in magic 0 and 1 with every legacy codec", "[records][legacy]") {
  for (int8_t magic : {int8_t{0}, int8_t{1}}) {
    for (Codec c : {Codec::none, Codec::gzip, Codec::snappy, Codec::lz4}) {
      INFO("magic " << int(magic) << " " << codec_name(c));
      auto msgs = sample(magic, 12);
      auto set = encode_legacy_messages(magic, c, msgs);
      REQUIRE(set.ok());
      auto back = decode_legacy_messages(SharedBytes(*set));
      REQUIRE(back.ok());
      CHECK(*back == msgs);
    }
  }
  CHECK(encode_legacy_messages(1, Codec::zstd, sample(1, 2)).error().code == Errc::unsupported);
}

TEST_CASE("a corrupted or truncated legacy set is rejected, never read past", "[records][legacy]") {
  for (Codec c : {Codec::none, Codec::gzip}) {
    Bytes set = *encode_legacy_messages(1, c, sample(1, 3));
    for (size_t i = 16; i < set.size(); ++i) {  // every byte under the CRC32 of the first entry
      Bytes bad = set;
      bad[i] ^= 0x10;
      auto r = decode_legacy_messages(SharedBytes(bad));
      if (r.ok()) CHECK(*r != sample(1, 3));  // a later entry's CRC caught it or values differ
    }
    for (size_t cut = 1; cut < set.size(); ++cut) {
      Bytes prefix(set.begin(), set.begin() + static_cast<long>(cut));
      auto r = decode_legacy_messages(SharedBytes(prefix));
      // A cut between two entries leaves a valid shorter set; any other cut is an error.
      if (r.ok()) CHECK(r->size() < 3);
      LegacyDecodeOptions tail;
      tail.allow_partial_tail = true;
      CHECK(decode_legacy_messages(SharedBytes(prefix), tail).ok());
    }
  }
}

TEST_CASE("legacy wrappers nest one level only and inflate within the bound", "[records][legacy]") {
  // A gzip wrapper whose inner set holds another gzip wrapper: Kafka rejects nesting.
  Bytes inner = *encode_legacy_messages(1, Codec::gzip, sample(1, 3));
  Bytes packed = *compress(Codec::gzip, inner);
  ByteWriter w;
  w.write_i64(20);
  size_t size_at = w.reserve_slot(4);
  size_t crc_at = w.reserve_slot(4);
  w.write_i8(1);  // magic
  w.write_i8(1);  // gzip
  w.write_i64(0);
  w.write_i32(-1);
  w.write_i32(static_cast<int32_t>(packed.size()));
  w.write_bytes(packed);
  w.patch_u32(crc_at, static_cast<uint32_t>(::crc32(0, w.bytes().data() + crc_at + 4, static_cast<uInt>(w.size() - crc_at - 4))));
  w.patch_i32(size_at, static_cast<int32_t>(w.size() - 12));
  auto nested = decode_legacy_messages(SharedBytes(w.take()));
  REQUIRE_FALSE(nested.ok());
  CHECK(nested.error().code == Errc::invalid_value);

  std::vector<LegacyMessage> big(1);
  big[0].offset = 0;
  big[0].magic = 1;
  big[0].value = SharedBytes(Bytes(4 << 20, 'x'));
  Bytes bomb = *encode_legacy_messages(1, Codec::gzip, big);
  CHECK(bomb.size() < 64 * 1024);
  LegacyDecodeOptions small;
  small.max_decompressed_bytes = 1 << 20;
  auto r = decode_legacy_messages(SharedBytes(bomb), small);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::too_large);
}

TEST_CASE("log-append-time wrappers give their timestamp to every inner message", "[records][legacy]") {
  auto msgs = sample(1, 4);
  for (auto& m : msgs) {
    m.timestamp_type = TimestampType::log_append_time;
    m.timestamp_ms = 777;
  }
  Bytes set = *encode_legacy_messages(1, Codec::snappy, msgs);
  auto back = decode_legacy_messages(SharedBytes(set));
  REQUIRE(back.ok());
  for (const auto& m : *back) {
    CHECK(m.timestamp_type == TimestampType::log_append_time);
    CHECK(m.timestamp_ms == 777);
  }
  auto v2 = legacy_to_v2(SharedBytes(set), Codec::none);
  REQUIRE(v2.ok());
  auto batches = read_batches(SharedBytes(*v2));
  REQUIRE(batches.ok());
  REQUIRE(batches->size() == 1);
  CHECK((*batches)[0].header().timestamp_type() == TimestampType::log_append_time);
  CHECK((*batches)[0].header().max_timestamp == 777);
}
