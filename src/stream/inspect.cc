#include "stream/inspect.h"

#include <fcntl.h>
#include <unistd.h>

#include "objectstore/blocking.h"
#include "stream/object.h"
#include "common/little_endian.h"
#include "wal/block_format.h"
#include "wal/object_wal.h"
#include "wal/scan.h"

namespace floe::stream {

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

// Prints through wal/scan.h, the walk recovery itself uses: what is shown is what recovery accepts.
int inspect_object_wal(objectstore::ObjectStore& store, std::ostream& out) {
  objectstore::BlockingStore bs(store);
  auto listed = bs.list_all("wal-");
  if (!listed.ok()) {
    out << "cannot list wal-* in " << store.describe() << ": " << listed.error().to_string() << "\n";
    return 1;
  }
  size_t entries = 0, objects = 0;
  for (const auto& o : *listed) {
    // "wal-<node>-<name>": open markers name where an open began and hold no entries.
    const size_t dash = o.key.find('-', 4);
    auto name = dash == std::string::npos ? std::nullopt
                                          : wal::object_format::parse_key_name(std::string_view(o.key).substr(dash + 1));
    if (name && name->open_marker) {
      out << o.key << ": open marker: generation " << name->generation << " began at position " << name->start << "\n";
      continue;
    }
    ++objects;
    auto got = bs.get(o.key);
    if (!got.ok()) {
      out << o.key << ": cannot read: " << got.error().to_string() << "\n";
      return 1;
    }
    auto object = wal::object_format::decode(got->body);
    if (!object.ok()) {
      out << o.key << ": CORRUPT: " << object.error().message << "\n";
      return 1;
    }
    const auto& h = object->header;
    out << o.key << ": node " << h.node_id << " positions [" << h.start << ", " << h.end << ") " << h.count
        << " entries, generation " << h.generation << "\n";
    for (const auto& e : object->entries)
      out << "  entry stream " << e.stream_id.value() << " epoch " << e.epoch.value() << " base offset "
          << e.base_offset.value() << " payload " << e.payload.size() << " bytes\n";
    entries += object->entries.size();
  }
  out << objects << " WAL objects, " << entries << " entries, all CRCs ok\n";
  return 0;
}

int inspect_wal(const std::string& path, std::ostream& out) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) {
    out << "cannot open " << path << "\n";
    return 1;
  }
  auto headers = wal::read_headers(f.fd);
  if (!headers.ok()) {
    out << "header slots unreadable: " << headers.error().to_string() << "\n";
    out << "no valid header: not a floe WAL\n";
    return 1;
  }
  for (size_t slot = 0; slot < headers->slots.size(); ++slot) {
    const wal::HeaderSlot& s = headers->slots[slot];
    out << "header slot " << slot << ": " << (s.valid ? "valid" : "INVALID") << " version " << s.version
        << " capacity " << s.header.capacity_bytes << " trim " << s.header.trim_offset << " node " << s.header.node_id
        << " epoch " << s.header.epoch << " trim epoch " << s.header.trim_epoch << " sequence " << s.header.sequence
        << "\n";
  }
  if (!headers->best) {
    for (const auto& s : headers->slots)
      if (s.magic_ok && s.version != wal::block_format::kHeaderVersion) {
        out << "no valid header: a floe WAL of format version " << s.version << "; this floe reads only version "
            << wal::block_format::kHeaderVersion << "\n";
        return 1;
      }
    out << "no valid header: not a floe WAL\n";
    return 1;
  }
  const wal::WalHeader& best = *headers->best;
  out << "using header with sequence " << best.sequence << "; records from " << best.trim_offset << ":\n";
  uint64_t entries = 0;
  auto scanned = wal::scan_records(f.fd, best, [&](const wal::ScannedRecord& rec) -> Status {
    if (rec.type != wal::block_format::kRecordData) {
      out << "  @" << rec.offset << " padding " << rec.record_bytes << " bytes, open epoch " << rec.epoch << "\n";
      return {};
    }
    auto parsed = wal::parse_entries(rec.body);
    if (!parsed.ok()) return Error(Errc::corrupt, "record at " + std::to_string(rec.offset) + " passed its CRC but " +
                                                      parsed.error().message);
    out << "  @" << rec.offset << " data record, " << rec.record_bytes << " bytes, open epoch " << rec.epoch << ", "
        << parsed->size() << " entries\n";
    for (const auto& e : *parsed) {
      out << "    stream " << e.stream_id.value() << " epoch " << e.epoch.value() << " base " << e.base_offset.value()
          << " payload " << e.payload.size() << " bytes";
      // The stream layer's WAL payload starts with the batch's record count (u32, then u32 0).
      if (e.payload.size() >= 8) out << " (" << le::get_u32(e.payload.data()) << " records)";
      out << "\n";
      ++entries;
    }
    return {};
  });
  if (!scanned.ok()) {
    out << scanned.error().to_string() << "\n";
    return 1;
  }
  out << "log ends at " << scanned->end_offset << ": " << wal::scan_stop_text(scanned->stop) << "\n";
  out << scanned->data_records << " records, " << entries << " entries, log ends at " << scanned->end_offset << "\n";
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
