#include "stream/object.h"

#include <cstring>

#include "common/crc32c.h"

namespace floe::stream {

namespace of = object_format;
using namespace le;

ObjectBuilder::ObjectBuilder(uint64_t block_target_bytes) : block_target_bytes_(block_target_bytes) {}

void ObjectBuilder::add(StreamId stream, const Batch& batch) {
  FLOE_ASSERT(batch.record_count > 0);
  FLOE_ASSERT(batch.bytes.size() <= of::kMaxBlockBytes - of::kBatchHeaderBytes);
  if (block_open_) {
    bool same_stream = block_.stream_id == stream;
    FLOE_ASSERT(stream >= block_.stream_id);
    FLOE_ASSERT(!same_stream || batch.base_offset >= block_.end_offset);
    bool contiguous = same_stream && batch.base_offset == block_.end_offset;
    uint64_t block_bytes = buffer_.size() - block_.position;
    if (!contiguous || block_bytes + of::kBatchHeaderBytes + batch.bytes.size() > block_target_bytes_) close_block();
  }
  if (!block_open_) {
    block_ = BlockIndexEntry{stream, batch.base_offset, batch.base_offset, 0, 0, buffer_.size(), 0};
    block_open_ = true;
  }
  size_t at = buffer_.size();
  buffer_.resize(at + of::kBatchHeaderBytes + batch.bytes.size());
  uint8_t* p = buffer_.data() + at;
  put_u64(p, static_cast<uint64_t>(batch.base_offset.value()));
  put_u32(p + 8, batch.record_count);
  put_u32(p + 12, static_cast<uint32_t>(batch.bytes.size()));
  if (!batch.bytes.empty()) std::memcpy(p + of::kBatchHeaderBytes, batch.bytes.data(), batch.bytes.size());
  block_.end_offset = batch.end_offset();
  block_.record_count += batch.record_count;
}

void ObjectBuilder::close_block() {
  if (!block_open_) return;
  block_.size_bytes = static_cast<uint32_t>(buffer_.size() - block_.position);
  block_.crc = crc32c({buffer_.data() + block_.position, block_.size_bytes});
  index_.push_back(block_);
  block_open_ = false;
}

SharedBytes ObjectBuilder::finish() {
  close_block();
  uint64_t index_position = buffer_.size();
  size_t index_bytes = of::kIndexHeaderBytes + index_.size() * of::kIndexEntryBytes;
  buffer_.resize(index_position + index_bytes + of::kFooterBytes);
  uint8_t* p = buffer_.data() + index_position;
  put_u32(p, static_cast<uint32_t>(index_.size()));
  p += of::kIndexHeaderBytes;
  for (const auto& e : index_) {
    put_u64(p, e.stream_id.value());
    put_u64(p + 8, static_cast<uint64_t>(e.start_offset.value()));
    put_u64(p + 16, static_cast<uint64_t>(e.end_offset.value()));
    put_u32(p + 24, e.record_count);
    put_u32(p + 28, e.crc);
    put_u64(p + 32, e.position);
    put_u32(p + 40, e.size_bytes);
    put_u32(p + 44, 0);
    p += of::kIndexEntryBytes;
  }
  uint32_t index_crc = crc32c({buffer_.data() + index_position, index_bytes});
  uint8_t* f = buffer_.data() + index_position + index_bytes;
  put_u64(f, index_position);
  put_u32(f + 8, static_cast<uint32_t>(index_bytes));
  put_u32(f + 12, index_crc);
  put_u16(f + 16, of::kVersion);
  put_u16(f + 18, 0);
  put_u32(f + 20, of::kMagic);
  put_u32(f + 24, 0);
  put_u32(f + of::kFooterCrcAt, crc32c({f, of::kFooterCrcAt}));
  SharedBytes out(std::move(buffer_));
  buffer_ = Bytes();
  return out;
}

Result<ObjectFooter> parse_footer(std::span<const uint8_t> b, uint64_t object_size_bytes) {
  if (b.size() != of::kFooterBytes || object_size_bytes < of::kFooterBytes + of::kIndexHeaderBytes)
    return Error(Errc::truncated, "object of " + std::to_string(object_size_bytes) + " bytes is too short for a footer");
  if (get_u32(b.data() + 20) != of::kMagic) return Error(Errc::invalid_value, "not a floe object (bad footer magic)");
  if (get_u32(b.data() + of::kFooterCrcAt) != crc32c(b.first(of::kFooterCrcAt)))
    return Error(Errc::corrupt, "object footer CRC mismatch");
  ObjectFooter f;
  f.index_position = get_u64(b.data());
  f.index_size_bytes = get_u32(b.data() + 8);
  f.index_crc = get_u32(b.data() + 12);
  f.version = get_u16(b.data() + 16);
  if (f.version != of::kVersion) return Error(Errc::unsupported, "object format version " + std::to_string(f.version));
  uint64_t data_end = object_size_bytes - of::kFooterBytes;
  if (f.index_size_bytes < of::kIndexHeaderBytes || f.index_size_bytes > of::kMaxIndexBytes ||
      f.index_position > data_end || f.index_size_bytes != data_end - f.index_position)
    return Error(Errc::corrupt, "object index [" + std::to_string(f.index_position) + ", +" +
                                    std::to_string(f.index_size_bytes) + ") does not end at the footer");
  return f;
}

Result<std::vector<BlockIndexEntry>> parse_index(std::span<const uint8_t> b, const ObjectFooter& footer) {
  if (b.size() != footer.index_size_bytes) return Error(Errc::truncated, "object index has the wrong size");
  if (crc32c(b) != footer.index_crc) return Error(Errc::corrupt, "object index CRC mismatch");
  uint32_t count = get_u32(b.data());
  if (uint64_t{count} * of::kIndexEntryBytes != b.size() - of::kIndexHeaderBytes)
    return Error(Errc::invalid_length, "object index count " + std::to_string(count) + " does not match its size");
  std::vector<BlockIndexEntry> out;
  out.reserve(count);
  uint64_t expect_position = 0;
  const uint8_t* p = b.data() + of::kIndexHeaderBytes;
  for (uint32_t i = 0; i < count; ++i, p += of::kIndexEntryBytes) {
    BlockIndexEntry e;
    e.stream_id = StreamId(get_u64(p));
    e.start_offset = Offset(static_cast<int64_t>(get_u64(p + 8)));
    e.end_offset = Offset(static_cast<int64_t>(get_u64(p + 16)));
    e.record_count = get_u32(p + 24);
    e.crc = get_u32(p + 28);
    e.position = get_u64(p + 32);
    e.size_bytes = get_u32(p + 40);
    std::string where = "object index entry " + std::to_string(i);
    if (e.start_offset.value() < 0 || e.end_offset <= e.start_offset ||
        static_cast<uint64_t>(e.end_offset.value() - e.start_offset.value()) != e.record_count)
      return Error(Errc::corrupt, where + ": bad offset range");
    if (e.position != expect_position || e.size_bytes < of::kBatchHeaderBytes ||
        e.size_bytes > footer.index_position - e.position)
      return Error(Errc::corrupt, where + ": block outside the data region or not adjacent to the previous one");
    if (!out.empty()) {
      const auto& prev = out.back();
      if (e.stream_id < prev.stream_id || (e.stream_id == prev.stream_id && e.start_offset < prev.end_offset))
        return Error(Errc::corrupt, where + ": not sorted by (stream, offset)");
    }
    expect_position = e.position + e.size_bytes;
    out.push_back(e);
  }
  if (expect_position != footer.index_position) return Error(Errc::corrupt, "object blocks do not reach the index");
  return out;
}

Result<std::vector<Batch>> parse_block(const SharedBytes& block, const BlockIndexEntry& entry) {
  if (block.size() != entry.size_bytes) return Error(Errc::truncated, "data block has the wrong size");
  if (crc32c(block.span()) != entry.crc) return Error(Errc::corrupt, "data block CRC mismatch");
  std::vector<Batch> out;
  size_t pos = 0;
  Offset next = entry.start_offset;
  while (pos < block.size()) {
    if (block.size() - pos < of::kBatchHeaderBytes) return Error(Errc::truncated, "data block ends inside a batch header");
    const uint8_t* p = block.data() + pos;
    Offset base(static_cast<int64_t>(get_u64(p)));
    uint32_t count = get_u32(p + 8);
    uint32_t length = get_u32(p + 12);
    if (base != next || count == 0 || count > static_cast<uint64_t>(entry.end_offset.value() - next.value()))
      return Error(Errc::corrupt, "data block batch at offset " + std::to_string(base.value()) + " is out of order");
    if (length > block.size() - pos - of::kBatchHeaderBytes) return Error(Errc::truncated, "data block batch overruns the block");
    out.push_back(Batch{base, count, block.slice(pos + of::kBatchHeaderBytes, length)});
    next = Offset(base.value() + count);
    pos += of::kBatchHeaderBytes + length;
  }
  if (next != entry.end_offset) return Error(Errc::corrupt, "data block ends before its end offset");
  return out;
}

Result<ParsedObject> parse_object(const SharedBytes& object) {
  if (object.size() < of::kFooterBytes) return Error(Errc::truncated, "object shorter than a footer");
  ParsedObject parsed;
  auto footer = parse_footer(object.span().subspan(object.size() - of::kFooterBytes), object.size());
  if (!footer.ok()) return footer.take_error();
  parsed.footer = *footer;
  auto index = parse_index(object.span().subspan(footer->index_position, footer->index_size_bytes), *footer);
  if (!index.ok()) return index.take_error();
  parsed.index = std::move(*index);
  return parsed;
}

}  // namespace floe::stream
