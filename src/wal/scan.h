// The one read-only walk over a block WAL file (layout in block_format.h). BlockWal::open recovers
// through it and `floe storage inspect wal` prints through it, so what an operator sees is exactly
// what recovery accepts.
//
//  - read_headers(): both header slots, decoded, and the valid one with the highest sequence.
//  - scan_records(): walks records from the header's trim offset, calls visit for each accepted
//    record (data or padding), and reports where the log ends and why the walk stopped there.
//    A record is accepted only if its magic, header CRC, logical offset (a record from an earlier
//    lap carries an older one), epoch (not lower than the previous record's, the first not lower
//    than the header's trim epoch), type, size and body CRC all hold; the first record that fails
//    ends the log (a torn write was never acknowledged).
//  - parse_entries(): a data record's body as entry views, every length checked against the bytes
//    left (a body whose CRC holds but whose lengths lie is corrupt; nothing is read past it).
//
// Invariants:
//  (1) Nothing here writes to the file.
//  (2) A walk covers at most one lap (capacity bytes) from its start.
//  (3) Every read is 4 KiB-aligned in file offset, length and buffer, so the descriptor may be
//      O_DIRECT.
// Errors: I/O errors and a file shorter than its header says are Results (Errc::io,
// Errc::truncated); a visitor's error aborts the walk and is returned as is. Where the log ends is
// not an error: it is ScanEnd.
// Thread safety: none needed; each call owns its buffer.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "common/ids.h"
#include "common/result.h"
#include "wal/block_format.h"

namespace floe::wal {

struct WalHeader {
  uint64_t capacity_bytes = 0;  // ring bytes
  uint64_t trim_offset = 0;     // recovery starts here
  int32_t node_id = 0;
  uint64_t epoch = 0;           // bumped by every open
  uint64_t sequence = 0;        // bumped by every header write; slot = sequence % 2
  uint64_t trim_epoch = 0;      // lowest epoch the record at trim_offset may carry
};

// Encodes h into one kBlockBytes block (zero padded, CRC set).
void encode_header(const WalHeader& h, uint8_t* block);

struct HeaderSlot {
  bool valid = false;     // magic, version and CRC hold
  bool magic_ok = false;  // the magic holds (a floe WAL, maybe of another format version)
  uint32_t version = 0;   // as stored (shown even when invalid)
  WalHeader header;       // fields as stored (shown even when invalid)
};
HeaderSlot decode_header(const uint8_t* block);

struct HeaderSlots {
  std::array<HeaderSlot, block_format::kHeaderSlotCount> slots;
  std::optional<WalHeader> best;  // the valid slot with the highest sequence, if any
  bool all_zero = false;          // both slots are zero bytes: a WAL never initialized
};
Result<HeaderSlots> read_headers(int fd);

enum class ScanStop {
  no_record,         // no record magic at the next position: the normal end of the log
  header_crc,        // a record header whose CRC fails (torn header write)
  stale_offset,      // a record written on an earlier lap of the ring
  bad_type,          // neither data nor padding
  bad_size,          // padding that does not end the lap, or a record that overruns it
  body_crc,          // a body whose CRC fails (torn write, never acknowledged)
  older_epoch,       // a record from an older open than the one before it (or than the trim epoch):
                     // left over from a lost pipelined write, never acknowledged
  lap_complete,      // a whole ring of records: nothing can follow
};
const char* scan_stop_text(ScanStop stop);

struct ScannedRecord {
  uint64_t offset = 0;             // logical start
  uint8_t type = 0;                // block_format::kRecordData or kRecordPadding
  uint64_t epoch = 0;              // open epoch of the writer
  uint64_t record_bytes = 0;       // ring bytes it occupies (padding: to the end of the lap)
  std::span<const uint8_t> body;   // data records: the CRC-checked body, valid during the visit
};

struct ScanEnd {
  uint64_t end_offset = 0;  // after the last accepted record: where appends continue
  ScanStop stop = ScanStop::no_record;
  uint64_t data_records = 0;
  uint64_t padding_records = 0;
  uint64_t last_epoch = 0;  // epoch of the last accepted record (header.trim_epoch if none)
};

using RecordVisitor = std::function<Status(const ScannedRecord&)>;

// Walks the records of the WAL on fd from header.trim_offset (see above).
// Errc::corrupt if header.capacity_bytes is not a positive multiple of kBlockBytes.
Result<ScanEnd> scan_records(int fd, const WalHeader& header, const RecordVisitor& visit);

struct EntryView {
  StreamId stream_id;
  StreamEpoch epoch;
  Offset base_offset;
  std::span<const uint8_t> payload;  // points into the record body
};
// Errc::corrupt when the body's entry count or lengths do not match its size exactly.
Result<std::vector<EntryView>> parse_entries(std::span<const uint8_t> body);

}  // namespace floe::wal
