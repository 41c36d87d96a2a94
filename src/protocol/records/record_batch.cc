#include "protocol/records/record_batch.h"

#include <limits>
#include <string>

#include "common/crc32c.h"

namespace floe::records {
namespace {

void put_be(std::span<uint8_t> out, size_t at, uint64_t v, size_t width) {
  FLOE_ASSERT(at + width <= out.size());
  for (size_t i = 0; i < width; ++i) out[at + i] = static_cast<uint8_t>(v >> (8 * (width - 1 - i)));
}

uint32_t get_be32(std::span<const uint8_t> in, size_t at) {
  return (uint32_t{in[at]} << 24) | (uint32_t{in[at + 1]} << 16) | (uint32_t{in[at + 2]} << 8) | in[at + 3];
}

Error invalid(Errc code, const std::string& what, const RecordBatchHeader& h) {
  return Error(code, "record batch at base offset " + std::to_string(h.base_offset) + ": " + what);
}

}  // namespace

int32_t RecordBatchHeader::last_sequence() const {
  if (base_sequence == kNoSequence) return kNoSequence;
  int64_t last = int64_t{base_sequence} + last_offset_delta;
  if (last > std::numeric_limits<int32_t>::max()) last -= int64_t{std::numeric_limits<int32_t>::max()} + 1;
  return static_cast<int32_t>(last);
}

Result<RecordBatchHeader> read_batch_header(std::span<const uint8_t> bytes) {
  if (bytes.size() < layout::kHeaderBytes)
    return Error(Errc::truncated, "record batch header needs 61 bytes, " + std::to_string(bytes.size()) + " remain");
  ByteReader r(bytes.first(layout::kHeaderBytes));
  RecordBatchHeader h;
  // The length check above makes every read below succeed.
  h.base_offset = *r.read_i64();
  h.batch_length = *r.read_i32();
  h.partition_leader_epoch = *r.read_i32();
  h.magic = *r.read_i8();
  h.crc = *r.read_u32();
  h.attributes = *r.read_i16();
  h.last_offset_delta = *r.read_i32();
  h.base_timestamp = *r.read_i64();
  h.max_timestamp = *r.read_i64();
  h.producer_id = *r.read_i64();
  h.producer_epoch = *r.read_i16();
  h.base_sequence = *r.read_i32();
  h.record_count = *r.read_i32();
  return h;
}

Status validate_batch(std::span<const uint8_t> batch, const RecordBatchHeader& h, const ValidateOptions& options) {
  if (h.magic != kMagicV2) return invalid(Errc::unsupported, "magic " + std::to_string(h.magic) + " is not 2", h);
  if (h.batch_length < static_cast<int32_t>(layout::kHeaderBytes - layout::kLogOverheadBytes))
    return invalid(Errc::invalid_length, "batchLength " + std::to_string(h.batch_length) + " is below the header size", h);
  if (h.size_bytes() > options.max_batch_bytes)
    return invalid(Errc::too_large, std::to_string(h.size_bytes()) + " bytes exceed the limit of " +
                                        std::to_string(options.max_batch_bytes), h);
  if (batch.size() != h.size_bytes())
    return invalid(Errc::invalid_length, "batchLength does not match the batch's " + std::to_string(batch.size()) + " bytes", h);
  if (options.verify_crc) {
    uint32_t actual = compute_batch_crc(batch);
    if (actual != h.crc) return invalid(Errc::corrupt, "CRC32C mismatch", h);
  }
  if (h.codec_id() > 4) return invalid(Errc::unsupported, "compression codec id " + std::to_string(h.codec_id()), h);
  if (h.record_count < 0) return invalid(Errc::invalid_value, "negative record count", h);
  if (h.last_offset_delta < -1 || (h.last_offset_delta == -1 && h.record_count != 0))
    return invalid(Errc::invalid_value, "lastOffsetDelta " + std::to_string(h.last_offset_delta), h);
  if (int64_t{h.record_count} > int64_t{h.last_offset_delta} + 1)
    return invalid(Errc::invalid_value, "more records than offsets (lastOffsetDelta)", h);
  if (options.require_contiguous_offsets && (h.record_count == 0 || h.record_count != h.last_offset_delta + 1))
    return invalid(Errc::invalid_value, "record count " + std::to_string(h.record_count) +
                                            " does not match lastOffsetDelta " + std::to_string(h.last_offset_delta), h);
  if (h.base_offset > std::numeric_limits<int64_t>::max() - h.last_offset_delta - 1)
    return invalid(Errc::invalid_value, "offset range overflows", h);
  if (h.codec_id() == 0 && uint64_t(h.record_count) * kMinRecordBytes > batch.size() - layout::kHeaderBytes)
    return invalid(Errc::invalid_length, std::to_string(h.record_count) + " records cannot fit in " +
                                             std::to_string(batch.size() - layout::kHeaderBytes) + " bytes", h);
  return ok_status();
}

Result<RecordBatchView> RecordBatchView::parse(const SharedBytes& batch, const ValidateOptions& options) {
  auto header = read_batch_header(batch.span());
  if (!header) return header.take_error();
  FLOE_TRY(validate_batch(batch.span(), *header, options));
  RecordBatchView view;
  view.header_ = *header;
  view.bytes_ = batch;
  return view;
}

Result<std::optional<RecordBatchView>> BatchReader::next() {
  size_t left = bytes_.size() - pos_;
  if (left == 0) return std::optional<RecordBatchView>();
  std::span<const uint8_t> rest = bytes_.span().subspan(pos_);
  if (left < layout::kHeaderBytes) {
    if (options_.allow_partial_tail) return std::optional<RecordBatchView>();
    return Error(Errc::truncated, "record batch set ends with " + std::to_string(left) + " bytes of a partial header");
  }
  auto header = read_batch_header(rest);
  if (!header) return header.take_error();
  int32_t length = header->batch_length;
  if (length < 0) return Error(Errc::invalid_length, "negative batchLength");
  // Bound before comparing with the remaining bytes, so a huge length reports too_large.
  size_t total = header->size_bytes();
  if (header->magic == kMagicV2 && total <= options_.max_batch_bytes && total > left) {
    if (options_.allow_partial_tail) return std::optional<RecordBatchView>();
    return Error(Errc::truncated, "record batch of " + std::to_string(total) + " bytes, " + std::to_string(left) + " remain");
  }
  if (total > left) total = left;  // let validation name the precise problem
  auto view = RecordBatchView::parse(bytes_.slice(pos_, total), options_);
  if (!view) return view.take_error();
  pos_ += total;
  return std::optional<RecordBatchView>(std::move(*view));
}

Result<std::vector<RecordBatchView>> read_batches(const SharedBytes& batches, const ValidateOptions& options) {
  std::vector<RecordBatchView> out;
  BatchReader reader(batches, options);
  for (;;) {
    auto next = reader.next();
    if (!next) return next.take_error();
    if (!next->has_value()) return out;
    out.push_back(std::move(**next));
  }
}

Result<int8_t> peek_magic(std::span<const uint8_t> bytes) {
  if (bytes.size() <= layout::kMagic) return Error(Errc::truncated, "too short to hold a magic byte");
  return static_cast<int8_t>(bytes[layout::kMagic]);
}

uint32_t compute_batch_crc(std::span<const uint8_t> batch) {
  FLOE_ASSERT(batch.size() >= layout::kAttributes);
  return crc32c(batch.subspan(layout::kAttributes));
}

void set_base_offset(std::span<uint8_t> batch, int64_t base_offset) {
  put_be(batch, layout::kBaseOffset, static_cast<uint64_t>(base_offset), 8);
}

void set_partition_leader_epoch(std::span<uint8_t> batch, int32_t epoch) {
  put_be(batch, layout::kPartitionLeaderEpoch, static_cast<uint32_t>(epoch), 4);
}

void set_max_timestamp(std::span<uint8_t> batch, TimestampType type, int64_t max_timestamp_ms) {
  FLOE_ASSERT(batch.size() >= layout::kHeaderBytes);
  uint16_t attributes = static_cast<uint16_t>((batch[layout::kAttributes] << 8) | batch[layout::kAttributes + 1]);
  attributes = type == TimestampType::log_append_time ? (attributes | attr::kLogAppendTime)
                                                      : (attributes & ~uint16_t(attr::kLogAppendTime));
  put_be(batch, layout::kAttributes, attributes, 2);
  put_be(batch, layout::kMaxTimestamp, static_cast<uint64_t>(max_timestamp_ms), 8);
  put_be(batch, layout::kCrc, compute_batch_crc(batch), 4);
}

Result<int64_t> assign_offsets(std::span<uint8_t> batches, int64_t first_offset, int32_t leader_epoch) {
  size_t pos = 0;
  int64_t next = first_offset;
  while (pos < batches.size()) {
    std::span<uint8_t> rest = batches.subspan(pos);
    if (rest.size() < layout::kHeaderBytes) return Error(Errc::corrupt, "partial batch header while assigning offsets");
    int32_t length = static_cast<int32_t>(get_be32(rest, layout::kBatchLength));
    if (length < static_cast<int32_t>(layout::kHeaderBytes - layout::kLogOverheadBytes) ||
        static_cast<size_t>(length) > rest.size() - layout::kLogOverheadBytes)
      return Error(Errc::corrupt, "inconsistent batchLength while assigning offsets");
    std::span<uint8_t> batch = rest.first(layout::kLogOverheadBytes + static_cast<size_t>(length));
    int32_t last_delta = static_cast<int32_t>(get_be32(batch, layout::kLastOffsetDelta));
    if (last_delta < -1) return Error(Errc::corrupt, "negative lastOffsetDelta while assigning offsets");
    set_base_offset(batch, next);
    set_partition_leader_epoch(batch, leader_epoch);
    next += int64_t{last_delta} + 1;
    pos += batch.size();
  }
  return next;
}

}  // namespace floe::records
