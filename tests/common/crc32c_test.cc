#include "common/crc32c.h"

#include <catch2/catch.hpp>
#include <random>
#include <string_view>
#include <vector>

using namespace floe;

namespace {
std::span<const uint8_t> as_bytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }
}  // namespace

TEST_CASE("crc32c matches the published check values", "[crc32c]") {
  CHECK(crc32c(as_bytes("123456789")) == 0xE3069283u);
  CHECK(crc32c({}) == 0u);
  std::vector<uint8_t> zeros(32, 0x00), ones(32, 0xff), inc(32), dec(32);
  for (size_t i = 0; i < 32; ++i) {
    inc[i] = static_cast<uint8_t>(i);
    dec[i] = static_cast<uint8_t>(31 - i);
  }
  // RFC 3720 (iSCSI) appendix B.4 test vectors.
  CHECK(crc32c(zeros) == 0x8A9136AAu);
  CHECK(crc32c(ones) == 0x62A8AB43u);
  CHECK(crc32c(inc) == 0x46DD794Eu);
  CHECK(crc32c(dec) == 0x113FDB5Cu);
  // An iSCSI SCSI Read (10) command PDU, also from RFC 3720 B.4.
  std::vector<uint8_t> pdu = {0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                              0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
                              0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
                              0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  CHECK(crc32c(pdu) == 0xD9963A56u);
}

TEST_CASE("software and hardware crc32c agree on every tested length and alignment", "[crc32c]") {
  std::mt19937_64 rng(42);
  std::vector<uint8_t> buf(3 * 8192 * 2 + 1024);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  std::vector<size_t> lengths;
  for (size_t n = 0; n <= 80; ++n) lengths.push_back(n);
  for (size_t n : {255, 256, 257, 767, 768, 769, 1000, 4096, 8191, 8192, 24575, 24576, 24577, 30000, 49152, 50000})
    lengths.push_back(n);
  for (size_t len : lengths) {
    for (size_t align = 0; align < 8; ++align) {
      std::span<const uint8_t> s(buf.data() + align, len);
      uint32_t seed = static_cast<uint32_t>(rng());
      uint32_t sw = crc32c_software(seed, s);
      CHECK(crc32c_extend(seed, s) == sw);
      if (crc32c_hardware_available()) CHECK(crc32c_hardware(seed, s) == sw);
    }
  }
}

TEST_CASE("crc32c_extend over pieces equals crc32c over the whole", "[crc32c]") {
  std::vector<uint8_t> buf(100000);
  std::mt19937 rng(7);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  uint32_t whole = crc32c(buf);
  for (size_t cut : {0, 1, 7, 8, 1000, 50000, 99999, 100000}) {
    std::span<const uint8_t> all(buf);
    CHECK(crc32c_extend(crc32c(all.first(cut)), all.subspan(cut)) == whole);
    CHECK(crc32c_software(crc32c_software(0, all.first(cut)), all.subspan(cut)) == whole);
  }
}
