#include "common/bytes.h"

#include <catch2/catch.hpp>
#include <limits>

using namespace floe;

TEST_CASE("big-endian integers round-trip at their limits", "[bytes]") {
  ByteWriter w;
  w.write_i16(std::numeric_limits<int16_t>::min());
  w.write_i32(-2);
  w.write_i64(std::numeric_limits<int64_t>::max());
  w.write_u16(0xbeef);
  ByteReader r(w.bytes());
  CHECK(*r.read_i16() == std::numeric_limits<int16_t>::min());
  CHECK(*r.read_i32() == -2);
  CHECK(*r.read_i64() == std::numeric_limits<int64_t>::max());
  CHECK(*r.read_u16() == 0xbeef);
  CHECK(r.at_end());
  CHECK(w.bytes()[2] == 0xff);
}

TEST_CASE("varints use Kafka's zigzag and LEB128 encodings", "[bytes]") {
  ByteWriter w;
  w.write_varint(-1);  // zigzag 1
  w.write_varint(63);  // zigzag 126
  w.write_varint(-65); // zigzag 129 -> two bytes
  w.write_uvarint(300);
  REQUIRE(w.bytes() == Bytes{0x01, 0x7e, 0x81, 0x01, 0xac, 0x02});
  ByteReader r(w.bytes());
  CHECK(*r.read_varint() == -1);
  CHECK(*r.read_varint() == 63);
  CHECK(*r.read_varint() == -65);
  CHECK(*r.read_uvarint() == 300u);
  for (int64_t v : {int64_t{0}, int64_t{-1}, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()}) {
    ByteWriter w2;
    w2.write_varlong(v);
    CHECK(w2.size() == ByteWriter::varlong_size(v));
    ByteReader r2(w2.bytes());
    CHECK(*r2.read_varlong() == v);
  }
}

TEST_CASE("reads past the end return truncated and do not advance", "[bytes]") {
  Bytes three{1, 2, 3};
  ByteReader r(three);
  auto v = r.read_i32();
  REQUIRE(!v.ok());
  CHECK(v.error().code == Errc::truncated);
  CHECK(r.pos() == 0);
  CHECK(!r.read_span(4).ok());
  CHECK(r.read_span(3).ok());
  CHECK(r.at_end());
}

TEST_CASE("overlong varints are rejected, not wrapped", "[bytes]") {
  Bytes six{0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  ByteReader r(six);
  CHECK(r.read_uvarint().error().code == Errc::invalid_value);
  Bytes eleven(11, 0xff);
  ByteReader r2(eleven);
  CHECK(!r2.read_uvarlong().ok());
  Bytes unterminated{0x80, 0x80};
  ByteReader r3(unterminated);
  CHECK(r3.read_uvarint().error().code == Errc::truncated);
}

TEST_CASE("shared readers slice without copying", "[bytes]") {
  SharedBytes buf(Bytes{9, 8, 7, 6, 5});
  ByteReader r(buf);
  REQUIRE(r.skip(1).ok());
  auto s = r.read_shared(3);
  REQUIRE(s.ok());
  CHECK(s->data() == buf.data() + 1);
  CHECK(s->to_bytes() == Bytes{8, 7, 6});
  auto sub = ByteReader(buf).sub_reader(4);
  REQUIRE(sub.ok());
  REQUIRE(sub->skip(2).ok());
  auto s2 = sub->read_shared(2);
  CHECK(s2->data() == buf.data() + 2);
}

TEST_CASE("uuids print in 8-4-4-4-12 form", "[bytes]") {
  Uuid u;
  for (int i = 0; i < 16; ++i) u.bytes[static_cast<size_t>(i)] = static_cast<uint8_t>(i);
  CHECK(u.to_string() == "00010203-0405-0607-0809-0a0b0c0d0e0f");
  CHECK(Uuid::zero().is_zero());
}

TEST_CASE("uuids_print_as_kafka_does_url_safe_base64_without_padding") {
  Uuid zero;
  CHECK(zero.to_base64url() == "AAAAAAAAAAAAAAAAAAAAAA");
  Uuid ones;
  for (auto& b : ones.bytes) b = 0xff;
  CHECK(ones.to_base64url() == "_____________________w");
  Uuid counting;
  for (size_t i = 0; i < 16; ++i) counting.bytes[i] = static_cast<uint8_t>(i);
  CHECK(counting.to_base64url() == "AAECAwQFBgcICQoLDA0ODw");
}
