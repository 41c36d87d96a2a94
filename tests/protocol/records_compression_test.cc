#include "protocol/records/compression.h"

#include <catch2/catch.hpp>
#include <random>

using namespace floe;
using namespace floe::records;

namespace {
constexpr Codec kAllCodecs[] = {Codec::none, Codec::gzip, Codec::snappy, Codec::lz4, Codec::zstd};

Bytes sample(size_t n, uint32_t seed) {
  // Half text-like (compressible), half random: exercises both literal and match paths.
  std::mt19937 rng(seed);
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = (i / 64) % 2 ? static_cast<uint8_t>(rng()) : static_cast<uint8_t>('a' + i % 13);
  return b;
}
}  // namespace

TEST_CASE("every codec round-trips inputs from empty to several blocks", "[records][compression]") {
  for (Codec c : kAllCodecs) {
    for (size_t n : {0, 1, 100, 32 * 1024 - 1, 32 * 1024, 32 * 1024 + 1, 65536, 300000}) {
      Bytes in = sample(n, static_cast<uint32_t>(n));
      auto packed = compress(c, in);
      REQUIRE(packed.ok());
      auto out = decompress(c, *packed, n + 1);
      INFO(codec_name(c) << " " << n);
      REQUIRE(out.ok());
      CHECK(*out == in);
    }
  }
}

TEST_CASE("decompression stops at the output bound instead of allocating a bomb", "[records][compression]") {
  Bytes zeros(8 << 20, 0);  // 8 MiB of zeros compresses to a few KiB in every codec
  for (Codec c : kAllCodecs) {
    auto packed = compress(c, zeros);
    REQUIRE(packed.ok());
    if (c != Codec::none) CHECK(packed->size() < zeros.size() / 10);
    auto bounded = decompress(c, *packed, 1 << 20);
    INFO(codec_name(c));
    REQUIRE_FALSE(bounded.ok());
    CHECK(bounded.error().code == Errc::too_large);
    auto exact = decompress(c, *packed, zeros.size());
    REQUIRE(exact.ok());
    CHECK(exact->size() == zeros.size());
  }
}

TEST_CASE("truncated compressed input is an error, never a crash", "[records][compression]") {
  Bytes in = sample(5000, 1);
  for (Codec c : kAllCodecs) {
    if (c == Codec::none) continue;
    Bytes packed = *compress(c, in);
    for (size_t cut = 0; cut < packed.size(); ++cut) {
      // A xerial stream cut exactly after a block is a valid shorter stream (record decoding
      // catches that as a missing record); skip that one boundary.
      if (c == Codec::snappy && cut == 16) continue;
      auto out = decompress(c, std::span<const uint8_t>(packed).first(cut), 1 << 20);
      INFO(codec_name(c) << " cut at " << cut);
      CHECK_FALSE(out.ok());
    }
  }
}

TEST_CASE("corrupted compressed input is an error or different bytes, never a crash", "[records][compression]") {
  Bytes in = sample(3000, 2);
  for (Codec c : kAllCodecs) {
    Bytes packed = *compress(c, in);
    for (size_t i = 0; i < packed.size(); i += 7) {
      Bytes bad = packed;
      bad[i] ^= 0x5a;
      auto out = decompress(c, bad, 1 << 16);
      if (out.ok()) CHECK(out->size() <= (1u << 16));
    }
  }
}

TEST_CASE("snappy reads both xerial-framed and raw blocks", "[records][compression]") {
  Bytes in = sample(100000, 3);
  Bytes framed = *compress(Codec::snappy, in);
  REQUIRE(framed.size() > 16);
  CHECK(framed[0] == 0x82);
  CHECK(std::string(framed.begin() + 1, framed.begin() + 7) == "SNAPPY");
  // A raw block: strip the framing of a one-block stream.
  Bytes small = sample(1000, 4);
  Bytes one = *compress(Codec::snappy, small);
  Bytes raw(one.begin() + 20, one.end());
  auto out = decompress(Codec::snappy, raw, 2000);
  REQUIRE(out.ok());
  CHECK(*out == small);
}

TEST_CASE("gzip accepts concatenated members", "[records][compression]") {
  Bytes a = sample(1000, 5), b = sample(2000, 6);
  Bytes both = *compress(Codec::gzip, a);
  Bytes second = *compress(Codec::gzip, b);
  both.insert(both.end(), second.begin(), second.end());
  auto out = decompress(Codec::gzip, both, 1 << 20);
  REQUIRE(out.ok());
  Bytes expect = a;
  expect.insert(expect.end(), b.begin(), b.end());
  CHECK(*out == expect);
}

TEST_CASE("lz4 frames with Kafka 0.8's broken header checksum are read on the legacy path only", "[records][compression]") {
  Bytes in = sample(10000, 7);
  Bytes broken = *compress_lz4_legacy_header(in);
  CHECK_FALSE(decompress(Codec::lz4, broken, 1 << 20).ok());
  auto legacy = decompress_lz4_legacy_header(broken, 1 << 20);
  REQUIRE(legacy.ok());
  CHECK(*legacy == in);
  auto correct = decompress_lz4_legacy_header(*compress(Codec::lz4, in), 1 << 20);
  REQUIRE(correct.ok());
  CHECK(*correct == in);
}

TEST_CASE("codec ids follow Kafka's attribute numbering", "[records][compression]") {
  CHECK(*codec_from_id(1) == Codec::gzip);
  CHECK(*codec_from_id(2) == Codec::snappy);
  CHECK(*codec_from_id(3) == Codec::lz4);
  CHECK(*codec_from_id(4) == Codec::zstd);
  CHECK(codec_from_id(5).error().code == Errc::unsupported);
}
