#include "protocol/records/record.h"

#include <algorithm>
#include <limits>

#include "common/crc32c.h"

namespace floe::records {
namespace {

// A varint length that may be -1 (null); anything else negative, or longer than what remains,
// is rejected before any slice is taken.
Result<std::optional<SharedBytes>> read_nullable(ByteReader& r, const char* what) {
  auto len = r.read_varint();
  if (!len) return len.take_error();
  if (*len == -1) return std::optional<SharedBytes>();
  if (*len < 0) return Error(Errc::invalid_length, std::string("negative ") + what + " length");
  if (static_cast<size_t>(*len) > r.remaining())
    return Error(Errc::truncated, std::string(what) + " of " + std::to_string(*len) + " bytes, " +
                                      std::to_string(r.remaining()) + " remain");
  auto bytes = r.read_shared(static_cast<size_t>(*len));
  if (!bytes) return bytes.take_error();
  return std::optional<SharedBytes>(std::move(*bytes));
}

Result<Record> read_record_body(ByteReader& r) {
  Record rec;
  auto attributes = r.read_i8();
  if (!attributes) return attributes.take_error();
  rec.attributes = *attributes;
  auto ts = r.read_varlong();
  if (!ts) return ts.take_error();
  rec.timestamp_delta = *ts;
  auto od = r.read_varint();
  if (!od) return od.take_error();
  rec.offset_delta = *od;
  auto key = read_nullable(r, "key");
  if (!key) return key.take_error();
  rec.key = std::move(*key);
  auto value = read_nullable(r, "value");
  if (!value) return value.take_error();
  rec.value = std::move(*value);
  auto header_count = r.read_varint();
  if (!header_count) return header_count.take_error();
  // Each header takes at least two bytes (two lengths): bound the count before reserving.
  if (*header_count < 0 || static_cast<size_t>(*header_count) > r.remaining() / 2)
    return Error(Errc::invalid_length, "header count " + std::to_string(*header_count) + " does not fit the record");
  rec.headers.reserve(static_cast<size_t>(*header_count));
  for (int32_t i = 0; i < *header_count; ++i) {
    auto klen = r.read_varint();
    if (!klen) return klen.take_error();
    if (*klen < 0 || static_cast<size_t>(*klen) > r.remaining())
      return Error(Errc::invalid_length, "bad header key length " + std::to_string(*klen));
    auto hkey = r.read_string(static_cast<size_t>(*klen));
    if (!hkey) return hkey.take_error();
    auto hvalue = read_nullable(r, "header value");
    if (!hvalue) return hvalue.take_error();
    rec.headers.push_back(RecordHeader{std::move(*hkey), std::move(*hvalue)});
  }
  return rec;
}

size_t nullable_size(const std::optional<std::span<const uint8_t>>& b) {
  if (!b) return ByteWriter::varint_size(-1);
  return ByteWriter::varint_size(static_cast<int32_t>(b->size())) + b->size();
}

void write_nullable(ByteWriter& w, const std::optional<std::span<const uint8_t>>& b) {
  if (!b) {
    w.write_varint(-1);
    return;
  }
  w.write_varint(static_cast<int32_t>(b->size()));
  w.write_bytes(*b);
}

std::optional<std::span<const uint8_t>> as_span(const std::optional<SharedBytes>& b) {
  if (!b) return std::nullopt;
  return b->span();
}

}  // namespace

Result<SharedBytes> decompressed_records(const RecordBatchView& batch, const DecodeOptions& options) {
  SharedBytes section = batch.records_bytes();
  if (batch.header().codec_id() == 0) return section;
  auto codec = codec_from_id(batch.header().codec_id());
  if (!codec) return codec.take_error();
  auto plain = decompress(*codec, section.span(), options.max_decompressed_bytes);
  if (!plain) return plain.take_error();
  return SharedBytes(std::move(*plain));
}

Result<std::vector<Record>> decode_record_section(const SharedBytes& section, int32_t count) {
  if (count < 0 || static_cast<uint64_t>(count) * kMinRecordBytes > section.size())
    return Error(Errc::invalid_length, std::to_string(count) + " records cannot fit in " +
                                           std::to_string(section.size()) + " bytes");
  std::vector<Record> out;
  out.reserve(static_cast<size_t>(count));
  ByteReader r(section);
  for (int32_t i = 0; i < count; ++i) {
    auto len = r.read_varint();
    if (!len) return len.take_error();
    if (*len < static_cast<int32_t>(kMinRecordBytes - 1) || static_cast<size_t>(*len) > r.remaining())
      return Error(Errc::invalid_length, "record " + std::to_string(i) + " length " + std::to_string(*len) +
                                             " with " + std::to_string(r.remaining()) + " bytes left");
    auto body = r.sub_reader(static_cast<size_t>(*len));
    if (!body) return body.take_error();
    auto rec = read_record_body(*body);
    if (!rec) return rec.take_error();
    if (!body->at_end())
      return Error(Errc::corrupt, "record " + std::to_string(i) + " has " + std::to_string(body->remaining()) +
                                      " bytes beyond its fields");
    out.push_back(std::move(*rec));
  }
  if (!r.at_end())
    return Error(Errc::corrupt, std::to_string(r.remaining()) + " bytes after the last record");
  return out;
}

Result<std::vector<Record>> decode_records(const RecordBatchView& batch, const DecodeOptions& options) {
  auto section = decompressed_records(batch, options);
  if (!section) return section.take_error();
  return decode_record_section(*section, batch.header().record_count);
}

void RecordBatchBuilder::append(int64_t timestamp_ms, std::optional<std::span<const uint8_t>> key,
                                std::optional<std::span<const uint8_t>> value, std::span<const RecordHeader> headers) {
  append_at(last_offset_delta_ + 1, timestamp_ms, key, value, headers);
}

void RecordBatchBuilder::append_at(int32_t offset_delta, int64_t timestamp_ms,
                                   std::optional<std::span<const uint8_t>> key,
                                   std::optional<std::span<const uint8_t>> value,
                                   std::span<const RecordHeader> headers) {
  FLOE_ASSERT(offset_delta > last_offset_delta_);
  if (!base_timestamp_ms_) base_timestamp_ms_ = options_.delete_horizon_ms.value_or(timestamp_ms);
  int64_t ts_delta = timestamp_ms - *base_timestamp_ms_;
  size_t body_bytes = 1 + ByteWriter::varlong_size(ts_delta) + ByteWriter::varint_size(offset_delta) +
                      nullable_size(key) + nullable_size(value) +
                      ByteWriter::varint_size(static_cast<int32_t>(headers.size()));
  for (const RecordHeader& h : headers)
    body_bytes += ByteWriter::varint_size(static_cast<int32_t>(h.key.size())) + h.key.size() +
                  nullable_size(as_span(h.value));
  FLOE_ASSERT(body_bytes <= static_cast<size_t>(std::numeric_limits<int32_t>::max()));
  body_.write_varint(static_cast<int32_t>(body_bytes));
  size_t start = body_.size();
  body_.write_i8(0);
  body_.write_varlong(ts_delta);
  body_.write_varint(offset_delta);
  write_nullable(body_, key);
  write_nullable(body_, value);
  body_.write_varint(static_cast<int32_t>(headers.size()));
  for (const RecordHeader& h : headers) {
    body_.write_varint(static_cast<int32_t>(h.key.size()));
    body_.write_string(h.key);
    write_nullable(body_, as_span(h.value));
  }
  FLOE_ASSERT(body_.size() - start == body_bytes);
  ++count_;
  last_offset_delta_ = offset_delta;
  max_timestamp_ms_ = count_ == 1 ? timestamp_ms : std::max(max_timestamp_ms_, timestamp_ms);
}

Result<Bytes> RecordBatchBuilder::build() {
  int16_t attributes = static_cast<int16_t>(options_.codec);
  if (options_.timestamp_type == TimestampType::log_append_time) attributes |= attr::kLogAppendTime;
  if (options_.is_transactional) attributes |= attr::kTransactional;
  if (options_.is_control) attributes |= attr::kControl;
  if (options_.delete_horizon_ms) attributes |= attr::kDeleteHorizon;

  Bytes compressed;
  std::span<const uint8_t> section = body_.bytes();
  if (options_.codec != Codec::none) {
    auto c = compress(options_.codec, section);
    if (!c) return c.take_error();
    compressed = std::move(*c);
    section = compressed;
  }
  size_t total = layout::kHeaderBytes + section.size();
  if (total - layout::kLogOverheadBytes > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    return Error(Errc::too_large, "record batch of " + std::to_string(total) + " bytes");

  ByteWriter w(total);
  w.write_i64(options_.base_offset);
  w.write_i32(static_cast<int32_t>(total - layout::kLogOverheadBytes));
  w.write_i32(options_.partition_leader_epoch);
  w.write_i8(kMagicV2);
  size_t crc_at = w.reserve_slot(4);
  w.write_i16(attributes);
  w.write_i32(count_ == 0 ? -1 : last_offset_delta_);
  w.write_i64(base_timestamp_ms_.value_or(options_.delete_horizon_ms.value_or(kNoTimestamp)));
  w.write_i64(max_timestamp_ms_);
  w.write_i64(options_.producer_id);
  w.write_i16(options_.producer_epoch);
  w.write_i32(options_.base_sequence);
  w.write_i32(count_);
  w.write_bytes(section);
  FLOE_ASSERT(w.size() == total);
  w.patch_u32(crc_at, compute_batch_crc(w.bytes()));
  return w.take();
}

}  // namespace floe::records
