#include "common/crc32c.h"

#include <array>
#include <bit>
#include <cstring>

#include "common/assert.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace floe {
namespace {

constexpr uint32_t kPolyReflected = 0x82F63B78u;

// kTables[0] is the classic byte-at-a-time table; kTables[k][b] is the CRC register after
// feeding byte b followed by k zero bytes, which lets slice-by-8 fold 8 bytes per step.
using Tables = std::array<std::array<uint32_t, 256>, 8>;

constexpr Tables make_tables() {
  Tables t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t c = b;
    for (int i = 0; i < 8; ++i) c = (c & 1) ? (c >> 1) ^ kPolyReflected : c >> 1;
    t[0][b] = c;
  }
  for (size_t k = 1; k < 8; ++k)
    for (uint32_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
  return t;
}

constexpr Tables kTables = make_tables();

uint64_t load_le64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  return v;
}

// Raw register update (no pre/post inversion).
uint32_t software_raw(uint32_t crc, const uint8_t* p, size_t n) {
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    crc = kTables[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    --n;
  }
  while (n >= 8) {
    uint64_t v = load_le64(p) ^ crc;
    crc = kTables[7][v & 0xff] ^ kTables[6][(v >> 8) & 0xff] ^ kTables[5][(v >> 16) & 0xff] ^
          kTables[4][(v >> 24) & 0xff] ^ kTables[3][(v >> 32) & 0xff] ^ kTables[2][(v >> 40) & 0xff] ^
          kTables[1][(v >> 48) & 0xff] ^ kTables[0][v >> 56];
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    crc = kTables[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    --n;
  }
  return crc;
}

#if defined(__x86_64__)

// Shifting a raw CRC register past n zero bytes is linear over GF(2); ZeroShift holds that
// operator as four byte-indexed tables so three independent hardware streams can be joined.
struct ZeroShift {
  std::array<std::array<uint32_t, 256>, 4> t{};

  explicit ZeroShift(size_t zero_bytes) {
    std::array<uint32_t, 32> basis{};  // image of each single-bit register
    for (int bit = 0; bit < 32; ++bit) {
      uint32_t c = 1u << bit;
      for (size_t i = 0; i < zero_bytes; ++i) c = kTables[0][c & 0xff] ^ (c >> 8);
      basis[static_cast<size_t>(bit)] = c;
    }
    for (size_t k = 0; k < 4; ++k)
      for (uint32_t b = 0; b < 256; ++b) {
        uint32_t v = 0;
        for (int i = 0; i < 8; ++i)
          if (b & (1u << i)) v ^= basis[k * 8 + static_cast<size_t>(i)];
        t[k][b] = v;
      }
  }
  uint32_t apply(uint32_t crc) const {
    return t[0][crc & 0xff] ^ t[1][(crc >> 8) & 0xff] ^ t[2][(crc >> 16) & 0xff] ^ t[3][crc >> 24];
  }
};

constexpr size_t kLongLane = 8192;
constexpr size_t kShortLane = 256;

const ZeroShift& long_shift() {
  static const ZeroShift s(kLongLane);
  return s;
}
const ZeroShift& short_shift() {
  static const ZeroShift s(kShortLane);
  return s;
}

__attribute__((target("sse4.2"))) uint32_t hw_single(uint32_t crc, const uint8_t* p, size_t n) {
  uint64_t c = crc;
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), *p++);
    --n;
  }
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), *p++);
    --n;
  }
  return static_cast<uint32_t>(c);
}

// Three lanes of `lane` bytes each, computed in one loop to hide the instruction's latency
// (3 cycles, throughput 1/cycle), then joined: crc(A B C) = shift(shift(a) ^ b) ^ c.
__attribute__((target("sse4.2"))) uint32_t hw_three_lanes(uint32_t crc, const uint8_t* p, size_t lane,
                                                          const ZeroShift& shift) {
  uint64_t c0 = crc, c1 = 0, c2 = 0;
  const uint8_t* p1 = p + lane;
  const uint8_t* p2 = p + 2 * lane;
  for (size_t i = 0; i < lane; i += 8) {
    uint64_t v0, v1, v2;
    std::memcpy(&v0, p + i, 8);
    std::memcpy(&v1, p1 + i, 8);
    std::memcpy(&v2, p2 + i, 8);
    c0 = _mm_crc32_u64(c0, v0);
    c1 = _mm_crc32_u64(c1, v1);
    c2 = _mm_crc32_u64(c2, v2);
  }
  uint32_t joined = shift.apply(static_cast<uint32_t>(c0)) ^ static_cast<uint32_t>(c1);
  return shift.apply(joined) ^ static_cast<uint32_t>(c2);
}

uint32_t hardware_raw(uint32_t crc, const uint8_t* p, size_t n) {
  if (n >= 3 * kShortLane) {
    // Align first so the lanes' 8-byte loads are aligned.
    size_t head = (8 - (reinterpret_cast<uintptr_t>(p) & 7)) & 7;
    crc = hw_single(crc, p, head);
    p += head;
    n -= head;
    while (n >= 3 * kLongLane) {
      crc = hw_three_lanes(crc, p, kLongLane, long_shift());
      p += 3 * kLongLane;
      n -= 3 * kLongLane;
    }
    while (n >= 3 * kShortLane) {
      crc = hw_three_lanes(crc, p, kShortLane, short_shift());
      p += 3 * kShortLane;
      n -= 3 * kShortLane;
    }
  }
  return hw_single(crc, p, n);
}

bool detect_hardware() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
}

#else

uint32_t hardware_raw(uint32_t, const uint8_t*, size_t) { FLOE_UNREACHABLE(); }
bool detect_hardware() { return false; }

#endif

using RawFn = uint32_t (*)(uint32_t, const uint8_t*, size_t);

RawFn chosen() {
  static const RawFn fn = detect_hardware() ? &hardware_raw : &software_raw;
  return fn;
}

}  // namespace

bool crc32c_hardware_available() {
  static const bool available = detect_hardware();
  return available;
}

uint32_t crc32c_software(uint32_t crc, std::span<const uint8_t> data) {
  return ~software_raw(~crc, data.data(), data.size());
}

uint32_t crc32c_hardware(uint32_t crc, std::span<const uint8_t> data) {
  FLOE_ASSERT(crc32c_hardware_available());
  return ~hardware_raw(~crc, data.data(), data.size());
}

uint32_t crc32c_extend(uint32_t crc, std::span<const uint8_t> data) {
  return ~chosen()(~crc, data.data(), data.size());
}

uint32_t crc32c(std::span<const uint8_t> data) { return crc32c_extend(0, data); }

}  // namespace floe
