#include "wal/scan.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/bytes.h"
#include "common/crc32c.h"
#include "common/little_endian.h"
#include "wal/aligned_buffer.h"

namespace floe::wal {
namespace bf = block_format;
using le::get_u32;
using le::get_u64;
using le::put_u32;
using le::put_u64;

namespace {

Status pread_all(int fd, uint8_t* data, size_t n, uint64_t at) {
  while (n > 0) {
    ssize_t r = ::pread(fd, data, n, static_cast<off_t>(at));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Error(Errc::io, "WAL read at " + std::to_string(at) + ": " + std::strerror(errno));
    }
    if (r == 0) return Error(Errc::truncated, "WAL file ends at " + std::to_string(at));
    data += r;
    n -= static_cast<size_t>(r);
    at += static_cast<uint64_t>(r);
  }
  return {};
}

}  // namespace

void encode_header(const WalHeader& h, uint8_t* block) {
  std::memset(block, 0, bf::kBlockBytes);
  put_u32(block + 0, bf::kHeaderMagic);
  put_u32(block + 4, bf::kHeaderVersion);
  put_u64(block + 8, h.capacity_bytes);
  put_u64(block + 16, h.trim_offset);
  put_u32(block + 24, static_cast<uint32_t>(h.node_id));
  put_u64(block + 32, h.epoch);
  put_u64(block + 40, h.sequence);
  put_u64(block + 48, h.trim_epoch);
  put_u32(block + bf::kHeaderCrcAt, crc32c({block, bf::kHeaderCrcAt}));
}

HeaderSlot decode_header(const uint8_t* block) {
  HeaderSlot s;
  s.version = get_u32(block + 4);
  s.header.capacity_bytes = get_u64(block + 8);
  s.header.trim_offset = get_u64(block + 16);
  s.header.node_id = static_cast<int32_t>(get_u32(block + 24));
  s.header.epoch = get_u64(block + 32);
  s.header.sequence = get_u64(block + 40);
  s.header.trim_epoch = get_u64(block + 48);
  s.magic_ok = get_u32(block) == bf::kHeaderMagic;
  s.valid = s.magic_ok && s.version == bf::kHeaderVersion &&
            get_u32(block + bf::kHeaderCrcAt) == crc32c({block, bf::kHeaderCrcAt});
  return s;
}

Result<HeaderSlots> read_headers(int fd) {
  AlignedBuffer buffer;
  uint8_t* slots = buffer.ensure(bf::kRingStart);
  FLOE_TRY(pread_all(fd, slots, bf::kRingStart, 0));
  HeaderSlots out;
  for (size_t i = 0; i < bf::kHeaderSlotCount; ++i) {
    out.slots[i] = decode_header(slots + i * bf::kBlockBytes);
    const HeaderSlot& s = out.slots[i];
    if (s.valid && (!out.best || s.header.sequence > out.best->sequence)) out.best = s.header;
  }
  out.all_zero = std::all_of(slots, slots + bf::kRingStart, [](uint8_t b) { return b == 0; });
  return out;
}

const char* scan_stop_text(ScanStop stop) {
  switch (stop) {
    case ScanStop::no_record: return "no record follows (end of log)";
    case ScanStop::header_crc: return "record header CRC mismatch (torn header write)";
    case ScanStop::stale_offset: return "record from an earlier lap of the ring";
    case ScanStop::bad_type: return "unknown record type";
    case ScanStop::bad_size: return "record size does not fit the ring";
    case ScanStop::body_crc: return "body CRC mismatch (torn write)";
    case ScanStop::older_epoch: return "record from an older open than the one before it (lost pipelined write)";
    case ScanStop::lap_complete: return "a whole lap of records";
  }
  return "unknown";
}

Result<ScanEnd> scan_records(int fd, const WalHeader& header, const RecordVisitor& visit) {
  const uint64_t capacity = header.capacity_bytes;
  if (capacity == 0 || capacity % bf::kBlockBytes != 0)
    return Error(Errc::corrupt, "WAL header capacity " + std::to_string(capacity) + " is not a multiple of 4096");
  AlignedBuffer buffer;
  ScanEnd end;
  uint64_t offset = header.trim_offset;
  uint64_t min_epoch = header.trim_epoch;
  for (;;) {
    if (offset - header.trim_offset >= capacity) {  // invariant (2)
      end.stop = ScanStop::lap_complete;
      break;
    }
    const uint64_t physical = bf::kRingStart + offset % capacity;
    const uint64_t tail = capacity - offset % capacity;
    const uint8_t* block = buffer.ensure(bf::kBlockBytes);
    FLOE_TRY(pread_all(fd, buffer.data(), bf::kBlockBytes, physical));
    if (get_u32(block) != bf::kRecordMagic) {
      end.stop = ScanStop::no_record;
      break;
    }
    if (get_u32(block + bf::kRecordHeaderCrcAt) != crc32c({block, bf::kRecordHeaderCrcAt})) {
      end.stop = ScanStop::header_crc;
      break;
    }
    if (get_u64(block + 12) != offset) {
      end.stop = ScanStop::stale_offset;
      break;
    }
    const uint64_t epoch = get_u64(block + 24);
    if (epoch < min_epoch) {
      end.stop = ScanStop::older_epoch;
      break;
    }
    const uint8_t type = block[4];
    const uint32_t body_length = get_u32(block + 8);
    if (type == bf::kRecordPadding) {
      if (bf::kRecordHeaderBytes + uint64_t{body_length} != tail) {
        end.stop = ScanStop::bad_size;
        break;
      }
      FLOE_TRY(visit(ScannedRecord{offset, type, epoch, tail, {}}));
      min_epoch = epoch;
      ++end.padding_records;
      offset += tail;
      continue;
    }
    if (type != bf::kRecordData) {
      end.stop = ScanStop::bad_type;
      break;
    }
    const uint64_t record_bytes = bf::align_up(bf::kRecordHeaderBytes + uint64_t{body_length});
    if (record_bytes > tail) {  // also bounds the read below by the ring size
      end.stop = ScanStop::bad_size;
      break;
    }
    uint8_t* record = buffer.ensure(record_bytes);
    FLOE_TRY(pread_all(fd, record, record_bytes, physical));
    std::span<const uint8_t> body(record + bf::kRecordHeaderBytes, body_length);
    if (get_u32(record + 20) != crc32c(body)) {
      end.stop = ScanStop::body_crc;
      break;
    }
    FLOE_TRY(visit(ScannedRecord{offset, type, epoch, record_bytes, body}));
    min_epoch = epoch;
    ++end.data_records;
    offset += record_bytes;
  }
  end.end_offset = offset;
  end.last_epoch = min_epoch;
  return end;
}

Result<std::vector<EntryView>> parse_entries(std::span<const uint8_t> body) {
  ByteReader r(body);
  if (body.size() < 4) return Error(Errc::corrupt, "WAL record body too short");
  const uint32_t count = get_u32(body.data());
  FLOE_TRY(r.skip(4));
  if (count > body.size() / bf::kEntryHeaderBytes) return Error(Errc::corrupt, "WAL record entry count too large");
  std::vector<EntryView> out;
  out.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    auto head = r.read_span(bf::kEntryHeaderBytes);
    if (!head.ok()) return Error(Errc::corrupt, "WAL entry " + std::to_string(i) + " header truncated");
    const uint8_t* h = head->data();
    auto payload = r.read_span(get_u32(h + 24));
    if (!payload.ok()) return Error(Errc::corrupt, "WAL entry " + std::to_string(i) + " payload overruns the record");
    out.push_back(EntryView{StreamId(get_u64(h)), StreamEpoch(get_u64(h + 8)),
                            Offset(static_cast<int64_t>(get_u64(h + 16))), *payload});
  }
  if (!r.at_end()) return Error(Errc::corrupt, "WAL record body has trailing bytes");
  return out;
}

}  // namespace floe::wal
