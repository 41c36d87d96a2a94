// The layout of floe's stream objects in object storage (DESIGN.md "Formats"). Little-endian.
//
//   [data block]… [index block] [footer]
//
// A data block holds consecutive record batches of one stream range (target <= 1 MiB; a single
// batch larger than that gets a block of its own). Batch record (16-byte header):
//   0  i64 base offset    8  u32 record count    12 u32 length    16 length bytes (the batch, as appended)
// Batches in a block are contiguous: each base offset is the previous base + record count.
//
// Index block: u32 entry count, then per data block (48 bytes each, in object order):
//   0  u64 stream id       8  i64 start offset     16 i64 end offset (exclusive)
//   24 u32 record count    28 u32 CRC32C of the block bytes
//   32 u64 block position  40 u32 block size       44 u32 reserved (0)
// Blocks are sorted by (stream id, start offset) and tile [0, index position) with no gaps.
//
// Footer (last 32 bytes of the object):
//   0  u64 index position  8  u32 index size       12 u32 CRC32C of the index block
//   16 u16 format version (1)   18 u16 reserved (0)  20 u32 magic "FOBJ"
//   24 u32 reserved (0)    28 u32 CRC32C of footer bytes [0, 28)
//
// Readers never trust these bytes: every position and size is checked against the object size
// before use, every CRC is verified, and counts are bounded by the bytes that hold them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace floe::stream::object_format {

inline constexpr uint32_t kMagic = 0x4A424F46;  // "FOBJ" little-endian
inline constexpr uint16_t kVersion = 1;
inline constexpr size_t kFooterBytes = 32;
inline constexpr size_t kFooterCrcAt = 28;
inline constexpr size_t kIndexEntryBytes = 48;
inline constexpr size_t kIndexHeaderBytes = 4;
inline constexpr size_t kBatchHeaderBytes = 16;
inline constexpr uint64_t kBlockTargetBytes = 1u << 20;
// Bounds a reader applies whatever a footer claims.
inline constexpr uint64_t kMaxIndexBytes = 64u << 20;
inline constexpr uint64_t kMaxBlockBytes = 1u << 30;

}  // namespace floe::stream::object_format
