// CRC32C (Castagnoli, reflected polynomial 0x82F63B78): the checksum of Kafka record batches
// (magic 2) and of floe's own on-disk formats (WAL records, object footers).
//
// Two implementations compute the same function:
//  - software: slice-by-8 tables, portable;
//  - hardware: the SSE4.2 crc32 instruction, three interleaved streams on long inputs.
// crc32c()/crc32c_extend() pick the hardware one once, at first use, when CPUID reports SSE4.2.
//
// Invariants:
//  (1) crc32c_software(c, d) == crc32c_hardware(c, d) for every c and d (tested on random inputs).
//  (2) crc32c_extend(crc32c(a), b) == crc32c(a ++ b): `crc` arguments are finished CRC values
//      (pre/post inversion is done inside), so a CRC can be computed over scattered pieces.
// Thread safety: all functions are pure; the one-time dispatch choice is a thread-safe static.
#pragma once

#include <cstdint>
#include <span>

namespace floe {

// CRC32C of `data`.
uint32_t crc32c(std::span<const uint8_t> data);

// CRC32C of (the bytes that gave `crc`) followed by `data`.
uint32_t crc32c_extend(uint32_t crc, std::span<const uint8_t> data);

// The implementations, exposed for tests and benchmarks.
uint32_t crc32c_software(uint32_t crc, std::span<const uint8_t> data);
// REQUIRES: crc32c_hardware_available().
uint32_t crc32c_hardware(uint32_t crc, std::span<const uint8_t> data);
bool crc32c_hardware_available();

}  // namespace floe
