#include "stream/inspect.h"

#include <fcntl.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "objectstore/blocking.h"
#include "stream/object.h"
#include "wal/block_format.h"

namespace floe::stream {

namespace bf = wal::block_format;
using namespace le;

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

bool pread_exact(int fd, uint8_t* buf, size_t n, uint64_t at) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, buf + done, n - done, static_cast<off_t>(at + done));
    if (r <= 0) return false;
    done += static_cast<size_t>(r);
  }
  return true;
}

}  // namespace

int inspect_wal(const std::string& path, std::ostream& out) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY);
  if (f.fd < 0) {
    out << "cannot open " << path << "\n";
    return 1;
  }
  struct Header {
    bool valid = false;
    uint64_t capacity = 0, trim = 0, epoch = 0, sequence = 0;
    int32_t node = 0;
  } best;
  Bytes block(bf::kBlockBytes);
  for (size_t slot = 0; slot < bf::kHeaderSlotCount; ++slot) {
    if (!pread_exact(f.fd, block.data(), block.size(), slot * bf::kBlockBytes)) {
      out << "header slot " << slot << ": unreadable\n";
      continue;
    }
    const uint8_t* p = block.data();
    bool valid = get_u32(p) == bf::kHeaderMagic && get_u32(p + bf::kHeaderCrcAt) == crc32c({p, bf::kHeaderCrcAt});
    Header h{valid, get_u64(p + 8), get_u64(p + 16), get_u64(p + 32), get_u64(p + 40), static_cast<int32_t>(get_u32(p + 24))};
    out << "header slot " << slot << ": " << (valid ? "valid" : "INVALID") << " version " << get_u32(p + 4)
        << " capacity " << h.capacity << " trim " << h.trim << " node " << h.node << " epoch " << h.epoch
        << " sequence " << h.sequence << "\n";
    if (valid && (!best.valid || h.sequence > best.sequence)) best = h;
  }
  if (!best.valid || best.capacity == 0 || best.capacity % bf::kBlockBytes != 0) {
    out << "no valid header: not a floe WAL\n";
    return 1;
  }
  out << "using header with sequence " << best.sequence << "; records from " << best.trim << ":\n";
  uint64_t offset = best.trim;
  uint64_t records = 0, entries = 0;
  Bytes rec;
  while (offset - best.trim < best.capacity) {
    uint64_t phys = bf::kRingStart + offset % best.capacity;
    if (!pread_exact(f.fd, block.data(), bf::kBlockBytes, phys)) break;
    const uint8_t* h = block.data();
    if (get_u32(h) != bf::kRecordMagic || get_u32(h + bf::kRecordHeaderCrcAt) != crc32c({h, bf::kRecordHeaderCrcAt}) ||
        get_u64(h + 12) != offset)
      break;
    uint8_t type = h[4];
    uint32_t body_length = get_u32(h + 8);
    uint64_t tail = best.capacity - offset % best.capacity;
    if (type == bf::kRecordPadding) {
      out << "  @" << offset << " padding " << tail << " bytes\n";
      offset += tail;
      continue;
    }
    uint64_t record_bytes = bf::align_up(bf::kRecordHeaderBytes + uint64_t{body_length});
    if (type != bf::kRecordData || record_bytes > tail) break;
    rec.resize(record_bytes);
    if (!pread_exact(f.fd, rec.data(), record_bytes, phys)) break;
    const uint8_t* body = rec.data() + bf::kRecordHeaderBytes;
    if (get_u32(rec.data() + 20) != crc32c({body, body_length})) {
      out << "  @" << offset << " body CRC mismatch (torn write): end of log\n";
      break;
    }
    uint32_t count = body_length >= 4 ? get_u32(body) : 0;
    out << "  @" << offset << " data record, " << record_bytes << " bytes, " << count << " entries\n";
    size_t pos = 4;
    for (uint32_t i = 0; i < count; ++i) {
      if (body_length - pos < bf::kEntryHeaderBytes) {
        out << "    entry " << i << ": truncated\n";
        return 1;
      }
      const uint8_t* e = body + pos;
      uint32_t len = get_u32(e + 24);
      if (len > body_length - pos - bf::kEntryHeaderBytes) {
        out << "    entry " << i << ": payload overruns the record\n";
        return 1;
      }
      out << "    stream " << get_u64(e) << " epoch " << get_u64(e + 8) << " base " << static_cast<int64_t>(get_u64(e + 16))
          << " payload " << len << " bytes";
      if (len >= 8) out << " (" << get_u32(e + bf::kEntryHeaderBytes) << " records)";
      out << "\n";
      pos += bf::kEntryHeaderBytes + len;
      ++entries;
    }
    ++records;
    offset += record_bytes;
  }
  out << records << " records, " << entries << " entries, log ends at " << offset << "\n";
  return 0;
}

int inspect_object_bytes(const SharedBytes& object, std::ostream& out) {
  auto parsed = parse_object(object);
  if (!parsed.ok()) {
    out << "object of " << object.size() << " bytes: " << parsed.error().to_string() << "\n";
    return 1;
  }
  const auto& f = parsed->footer;
  out << "object: " << object.size() << " bytes, format version " << f.version << ", index at " << f.index_position
      << " (" << f.index_size_bytes << " bytes), " << parsed->index.size() << " blocks\n";
  int rc = 0;
  for (const auto& e : parsed->index) {
    out << "  stream " << e.stream_id.value() << " [" << e.start_offset.value() << ", " << e.end_offset.value() << ") "
        << e.record_count << " records, block @" << e.position << " " << e.size_bytes << " bytes";
    auto batches = parse_block(object.slice(e.position, e.size_bytes), e);
    if (batches.ok()) {
      out << ", " << batches->size() << " batches\n";
    } else {
      out << ", " << batches.error().to_string() << "\n";
      rc = 1;
    }
  }
  return rc;
}

int inspect_object(objectstore::ObjectStore& store, const std::string& key, std::ostream& out) {
  objectstore::BlockingStore blocking(store);
  auto got = blocking.get(key);
  if (!got.ok()) {
    out << store.describe() << " " << key << ": " << got.error().to_string() << "\n";
    return 1;
  }
  out << store.describe() << " " << key << "\n";
  return inspect_object_bytes(got->body, out);
}

}  // namespace floe::stream
