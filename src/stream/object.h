// Writing and reading stream objects (layout in object_format.h).
//
// ObjectBuilder packs record batches of one or more streams into data blocks and finishes the
// object with its index and footer. The reader functions parse a footer, an index and a data
// block, each from bytes that came from storage: they check every bound and CRC and return
// Errc::corrupt / truncated / invalid_value instead of trusting them.
//
// Invariants:
//  (1) A block holds batches of exactly one stream, contiguous in offset; index entries are
//      sorted by (stream id, start offset) and tile the data region with no gap.
//  (2) parse_block() returns batches byte-identical to the ones given to add().
// Thread safety: ObjectBuilder is single-threaded; the parse functions are pure.
#pragma once

#include <span>
#include <vector>

#include "common/bytes.h"
#include "common/little_endian.h"
#include "common/ids.h"
#include "common/result.h"
#include "stream/object_format.h"

namespace floe::stream {

// A record batch as the stream layer sees it: opaque bytes covering offsets [base, base + count).
struct Batch {
  Offset base_offset;
  uint32_t record_count = 0;
  SharedBytes bytes;
  Offset end_offset() const { return Offset(base_offset.value() + record_count); }
  friend bool operator==(const Batch&, const Batch&) = default;
};

struct BlockIndexEntry {
  StreamId stream_id;
  Offset start_offset;
  Offset end_offset;
  uint32_t record_count = 0;
  uint32_t crc = 0;
  uint64_t position = 0;
  uint32_t size_bytes = 0;
  friend bool operator==(const BlockIndexEntry&, const BlockIndexEntry&) = default;
};

struct ObjectFooter {
  uint64_t index_position = 0;
  uint32_t index_size_bytes = 0;
  uint32_t index_crc = 0;
  uint16_t version = 0;
};

class ObjectBuilder {
 public:
  explicit ObjectBuilder(uint64_t block_target_bytes = object_format::kBlockTargetBytes);
  // REQUIRES: for one stream, batches come in offset order and contiguous; streams come in
  // increasing id order (each stream's batches together).
  void add(StreamId stream, const Batch& batch);
  bool empty() const { return buffer_.empty(); }
  uint64_t size_bytes() const { return buffer_.size(); }
  // Appends the index and footer; the builder is empty afterwards.
  SharedBytes finish();
  // Index entries of the blocks closed so far (all of them after finish()).
  const std::vector<BlockIndexEntry>& index() const { return index_; }

 private:
  void close_block();

  uint64_t block_target_bytes_;
  Bytes buffer_;
  std::vector<BlockIndexEntry> index_;
  bool block_open_ = false;
  BlockIndexEntry block_;
};

// Footer from the last kFooterBytes of an object of object_size_bytes.
Result<ObjectFooter> parse_footer(std::span<const uint8_t> footer_bytes, uint64_t object_size_bytes);
// Index block bytes (exactly footer.index_size_bytes long).
Result<std::vector<BlockIndexEntry>> parse_index(std::span<const uint8_t> index_bytes, const ObjectFooter& footer);
// One data block (exactly entry.size_bytes long): its batches, slices of `block`.
Result<std::vector<Batch>> parse_block(const SharedBytes& block, const BlockIndexEntry& entry);

struct ParsedObject {
  ObjectFooter footer;
  std::vector<BlockIndexEntry> index;
};
// Footer and index of a whole object held in memory.
Result<ParsedObject> parse_object(const SharedBytes& object);


}  // namespace floe::stream
