// The on-disk layout of the block WAL (DESIGN.md "Formats"). All integers little-endian.
//
//   [header slot 0: 4 KiB][header slot 1: 4 KiB][ring: capacity bytes, a multiple of 4 KiB]
//
// Header slot (the valid slot with the highest sequence wins; writes alternate slots so a torn
// header write always leaves the previous one intact):
//   0  u32 magic "FWAL"     4  u32 version (2)     8  u64 capacity (ring bytes)
//   16 u64 trim offset      24 i32 node id         28 u32 reserved (0)
//   32 u64 open epoch       40 u64 sequence        48 u64 trim epoch
//   56 u32 CRC32C of bytes [0, 56)
// The open epoch is bumped and persisted by every open before any append; every record carries
// the open epoch it was written in. The trim epoch is the lowest epoch the record at the trim
// offset may carry (the epoch of the record that was there when the trim was persisted, or the
// open epoch if the trim was the end of the log).
// Version 1 (no epochs in records) is refused by name: nothing was deployed with it.
//
// Ring records start at 4 KiB-aligned positions: physical = ring start + logical % capacity.
// Record header (40 bytes):
//   0  u32 magic "FWRC"     4  u8 type (1 data, 2 padding)   5..7 reserved (0)
//   8  u32 body length      12 u64 logical offset of this record
//   20 u32 CRC32C of the body   24 u64 open epoch of the writer   32 u32 reserved (0)
//   36 u32 CRC32C of bytes [0, 36)
// A data record occupies align_up(40 + body length, 4 KiB) bytes. Its body:
//   u32 entry count, then per entry: u64 stream id, u64 stream epoch, i64 base offset,
//   u32 payload length, payload bytes.
// A padding record fills the ring's tail when the next record would not fit before the wrap:
// its body length is the number of bytes skipped after its header (never read), so that
// offset + 40 + body length is the start of the next lap.
//
// Recovery walks records from the trim offset; a record is accepted only if its magic, header
// CRC, logical offset (catches stale records from earlier laps), epoch and body CRC all hold. The
// first record that fails ends the log: a torn write was never acknowledged.
// Why epochs: writes are pipelined (a group commit's write overlaps the previous one's fdatasync),
// so a crash can lose record k at [X,Y) yet keep k+1 at [Y,Z). Recovery ends at X; if later
// appends end exactly at Y, a second crash would let the walk run on into the old k+1, which was
// never acknowledged. Its epoch is lower than the record before it, so the walk stops there.
#pragma once

#include <cstddef>
#include <cstdint>

namespace floe::wal::block_format {

inline constexpr size_t kBlockBytes = 4096;
inline constexpr size_t kHeaderSlotCount = 2;
inline constexpr size_t kRingStart = kHeaderSlotCount * kBlockBytes;

inline constexpr uint32_t kHeaderMagic = 0x4C415746;  // "FWAL" little-endian
inline constexpr uint32_t kHeaderVersion = 2;
inline constexpr size_t kHeaderCrcAt = 56;

inline constexpr uint32_t kRecordMagic = 0x43525746;  // "FWRC" little-endian
inline constexpr size_t kRecordHeaderBytes = 40;
inline constexpr size_t kRecordHeaderCrcAt = 36;
inline constexpr uint8_t kRecordData = 1;
inline constexpr uint8_t kRecordPadding = 2;
inline constexpr size_t kEntryHeaderBytes = 8 + 8 + 8 + 4;

inline constexpr uint64_t align_up(uint64_t n) { return (n + kBlockBytes - 1) / kBlockBytes * kBlockBytes; }

}  // namespace floe::wal::block_format
