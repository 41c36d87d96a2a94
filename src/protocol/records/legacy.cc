#include "protocol/records/legacy.h"

#include <zlib.h>

#include <limits>
#include <string>

#include "protocol/records/record.h"

namespace floe::records {
namespace {

constexpr size_t kEntryOverheadBytes = 12;  // offset int64 + messageSize int32
constexpr size_t kMinMessageBytesV0 = 14;   // crc, magic, attributes, key length, value length
constexpr size_t kMinMessageBytesV1 = 22;   // ... plus timestamp
constexpr int8_t kAttrTimestampType = 0x08;

struct RawMessage {
  int64_t offset = 0;
  int8_t magic = 0;
  int8_t attributes = 0;
  int64_t timestamp_ms = kNoTimestamp;
  std::optional<SharedBytes> key, value;
};

Result<std::optional<SharedBytes>> read_bytes32(ByteReader& r, const char* what) {
  auto len = r.read_i32();
  if (!len) return len.take_error();
  if (*len == -1) return std::optional<SharedBytes>();
  if (*len < 0) return Error(Errc::invalid_length, std::string("negative ") + what + " length");
  auto b = r.read_shared(static_cast<size_t>(*len));
  if (!b) return b.take_error();
  return std::optional<SharedBytes>(std::move(*b));
}

// One message (after offset and size), exactly `message` bytes.
Result<RawMessage> read_message(int64_t offset, ByteReader message, bool verify_crc) {
  RawMessage m;
  m.offset = offset;
  auto crc = message.read_u32();
  if (!crc) return crc.take_error();
  if (verify_crc) {
    uint32_t actual = static_cast<uint32_t>(::crc32(0L, message.cursor(), static_cast<uInt>(message.remaining())));
    if (actual != *crc) return Error(Errc::corrupt, "legacy message at offset " + std::to_string(offset) + ": CRC32 mismatch");
  }
  auto magic = message.read_i8();
  if (!magic) return magic.take_error();
  if (*magic != 0 && *magic != 1)
    return Error(Errc::invalid_value, "legacy message magic " + std::to_string(*magic));
  m.magic = *magic;
  if (message.size() < (m.magic == 0 ? kMinMessageBytesV0 : kMinMessageBytesV1))
    return Error(Errc::invalid_length, "legacy message shorter than its fixed fields");
  m.attributes = *message.read_i8();
  if (m.magic == 1) m.timestamp_ms = *message.read_i64();
  auto key = read_bytes32(message, "key");
  if (!key) return key.take_error();
  m.key = std::move(*key);
  auto value = read_bytes32(message, "value");
  if (!value) return value.take_error();
  m.value = std::move(*value);
  if (!message.at_end()) return Error(Errc::corrupt, "bytes after the legacy message's value");
  return m;
}

Status decode_set(const SharedBytes& set, bool inner, const LegacyDecodeOptions& options, size_t& budget_bytes,
                  std::vector<LegacyMessage>& out);

// Expands a compressed wrapper into `out`.
Status expand_wrapper(const RawMessage& w, const LegacyDecodeOptions& options, size_t& budget_bytes,
                      std::vector<LegacyMessage>& out) {
  auto codec = codec_from_id(w.attributes & 0x07);
  if (!codec) return codec.take_error();
  if (*codec == Codec::zstd) return Error(Errc::invalid_value, "zstd in a legacy message");
  if (!w.value) return Error(Errc::invalid_value, "compressed legacy message with a null value");
  auto plain = (*codec == Codec::lz4 && w.magic == 0) ? decompress_lz4_legacy_header(w.value->span(), budget_bytes)
                                                      : decompress(*codec, w.value->span(), budget_bytes);
  if (!plain) return plain.take_error();
  budget_bytes -= plain->size();
  size_t first = out.size();
  FLOE_TRY(decode_set(SharedBytes(std::move(*plain)), true, options, budget_bytes, out));
  if (out.size() == first) return Error(Errc::invalid_value, "compressed legacy message holds no messages");
  bool log_append = w.magic == 1 && (w.attributes & kAttrTimestampType);
  int64_t last_relative = out.back().offset;
  for (size_t i = first; i < out.size(); ++i) {
    LegacyMessage& m = out[i];
    if (w.magic == 1) {
      if (m.offset < 0 || m.offset > last_relative) return Error(Errc::invalid_value, "bad inner relative offset");
      m.offset = w.offset - last_relative + m.offset;
    }
    if (log_append) {
      m.timestamp_type = TimestampType::log_append_time;
      m.timestamp_ms = w.timestamp_ms;
    }
  }
  return ok_status();
}

Status decode_set(const SharedBytes& set, bool inner, const LegacyDecodeOptions& options, size_t& budget_bytes,
                  std::vector<LegacyMessage>& out) {
  ByteReader r(set);
  while (!r.at_end()) {
    bool tail_ok = options.allow_partial_tail && !inner;
    if (r.remaining() < kEntryOverheadBytes) {
      if (tail_ok) return ok_status();
      return Error(Errc::truncated, "legacy message set ends inside an entry header");
    }
    int64_t offset = *r.read_i64();
    int32_t size = *r.read_i32();
    if (size < static_cast<int32_t>(kMinMessageBytesV0))
      return Error(Errc::invalid_length, "legacy message size " + std::to_string(size));
    if (static_cast<size_t>(size) > r.remaining()) {
      if (tail_ok) return ok_status();
      return Error(Errc::truncated, "legacy message of " + std::to_string(size) + " bytes, " +
                                        std::to_string(r.remaining()) + " remain");
    }
    auto message = r.sub_reader(static_cast<size_t>(size));
    auto m = read_message(offset, std::move(*message), options.verify_crc);
    if (!m) return m.take_error();
    if ((m->attributes & 0x07) != 0) {
      if (inner) return Error(Errc::invalid_value, "nested compressed legacy message");
      FLOE_TRY(expand_wrapper(*m, options, budget_bytes, out));
      continue;
    }
    LegacyMessage lm;
    lm.offset = m->offset;
    lm.magic = m->magic;
    lm.timestamp_type = (m->magic == 1 && (m->attributes & kAttrTimestampType)) ? TimestampType::log_append_time
                                                                                 : TimestampType::create_time;
    lm.timestamp_ms = m->timestamp_ms;
    lm.key = std::move(m->key);
    lm.value = std::move(m->value);
    out.push_back(std::move(lm));
  }
  return ok_status();
}

void write_bytes32(ByteWriter& w, const std::optional<std::span<const uint8_t>>& b) {
  if (!b) {
    w.write_i32(-1);
    return;
  }
  w.write_i32(static_cast<int32_t>(b->size()));
  w.write_bytes(*b);
}

std::optional<std::span<const uint8_t>> as_span(const std::optional<SharedBytes>& b) {
  if (!b) return std::nullopt;
  return b->span();
}

void write_entry(ByteWriter& w, int64_t offset, int8_t magic, int8_t attributes, int64_t timestamp_ms,
                 const std::optional<std::span<const uint8_t>>& key,
                 const std::optional<std::span<const uint8_t>>& value) {
  w.write_i64(offset);
  size_t size_at = w.reserve_slot(4);
  size_t crc_at = w.reserve_slot(4);
  w.write_i8(magic);
  w.write_i8(attributes);
  if (magic == 1) w.write_i64(timestamp_ms);
  write_bytes32(w, key);
  write_bytes32(w, value);
  const uint8_t* covered = w.bytes().data() + crc_at + 4;
  size_t covered_bytes = w.size() - crc_at - 4;
  w.patch_u32(crc_at, static_cast<uint32_t>(::crc32(0L, covered, static_cast<uInt>(covered_bytes))));
  w.patch_i32(size_at, static_cast<int32_t>(w.size() - size_at - 4));
}

}  // namespace

Result<std::vector<LegacyMessage>> decode_legacy_messages(const SharedBytes& set, const LegacyDecodeOptions& options) {
  std::vector<LegacyMessage> out;
  size_t budget_bytes = options.max_decompressed_bytes;
  FLOE_TRY(decode_set(set, false, options, budget_bytes, out));
  return out;
}

Result<Bytes> encode_legacy_messages(int8_t magic, Codec codec, std::span<const LegacyMessage> messages) {
  FLOE_ASSERT(magic == 0 || magic == 1);
  if (codec == Codec::zstd) return Error(Errc::unsupported, "zstd cannot be written in magic 0/1 messages");
  for (size_t i = 1; i < messages.size(); ++i)
    if (messages[i].offset <= messages[i - 1].offset)
      return Error(Errc::invalid_value, "legacy message offsets must increase");
  auto attributes_of = [&](const LegacyMessage& m) {
    return static_cast<int8_t>(magic == 1 && m.timestamp_type == TimestampType::log_append_time ? kAttrTimestampType : 0);
  };
  ByteWriter w;
  if (codec == Codec::none) {
    for (const LegacyMessage& m : messages)
      write_entry(w, m.offset, magic, attributes_of(m), m.timestamp_ms, as_span(m.key), as_span(m.value));
    return w.take();
  }
  if (messages.empty()) return Bytes();
  ByteWriter inner;
  int64_t max_ts = kNoTimestamp;
  for (const LegacyMessage& m : messages) {
    int64_t inner_offset = magic == 1 ? m.offset - messages.front().offset : m.offset;
    write_entry(inner, inner_offset, magic, 0, m.timestamp_ms, as_span(m.key), as_span(m.value));
    max_ts = std::max(max_ts, m.timestamp_ms);
  }
  auto packed = (codec == Codec::lz4 && magic == 0) ? compress_lz4_legacy_header(inner.bytes())
                                                     : compress(codec, inner.bytes());
  if (!packed) return packed.take_error();
  int8_t attributes = static_cast<int8_t>(static_cast<int>(codec) | attributes_of(messages.front()));
  write_entry(w, messages.back().offset, magic, attributes, max_ts, std::nullopt, std::span<const uint8_t>(*packed));
  return w.take();
}

Result<Bytes> legacy_to_v2(const SharedBytes& set, Codec codec, const LegacyDecodeOptions& options) {
  auto messages = decode_legacy_messages(set, options);
  if (!messages) return messages.take_error();
  Bytes out;
  std::optional<RecordBatchBuilder> builder;
  int64_t base = 0, last = 0, lat_timestamp = 0;
  TimestampType type = TimestampType::create_time;
  auto flush = [&]() -> Status {
    if (!builder) return ok_status();
    auto batch = builder->build();
    if (!batch) return batch.take_error();
    out.insert(out.end(), batch->begin(), batch->end());
    builder.reset();
    return ok_status();
  };
  for (const LegacyMessage& m : *messages) {
    bool fits = builder && m.timestamp_type == type && m.offset > last &&
                m.offset - base <= std::numeric_limits<int32_t>::max() &&
                (type == TimestampType::create_time || m.timestamp_ms == lat_timestamp);
    if (!fits) {
      FLOE_TRY(flush());
      BatchOptions o;
      o.base_offset = m.offset;
      o.codec = codec;
      o.timestamp_type = m.timestamp_type;
      builder.emplace(o);
      base = m.offset;
      type = m.timestamp_type;
      lat_timestamp = m.timestamp_ms;
    }
    builder->append_at(static_cast<int32_t>(m.offset - base), m.timestamp_ms, as_span(m.key), as_span(m.value));
    last = m.offset;
  }
  FLOE_TRY(flush());
  return out;
}

Result<Bytes> v2_to_legacy(const SharedBytes& batches, int8_t magic, size_t max_decompressed_bytes) {
  if (magic != 0 && magic != 1) return Error(Errc::invalid_value, "legacy magic must be 0 or 1");
  auto views = read_batches(batches);
  if (!views) return views.take_error();
  DecodeOptions decode;
  decode.max_decompressed_bytes = max_decompressed_bytes;
  Bytes out;
  for (const RecordBatchView& view : *views) {
    const RecordBatchHeader& h = view.header();
    if (h.is_control() || h.record_count == 0) continue;
    if (h.codec() == Codec::zstd) return Error(Errc::unsupported, "zstd batches cannot be down-converted");
    auto records = decode_records(view, decode);
    if (!records) return records.take_error();
    std::vector<LegacyMessage> messages;
    messages.reserve(records->size());
    for (const Record& r : *records) {
      LegacyMessage m;
      m.offset = r.offset(h);
      m.magic = magic;
      m.timestamp_type = magic == 1 ? h.timestamp_type() : TimestampType::create_time;
      m.timestamp_ms = magic == 1 ? r.timestamp_ms(h) : kNoTimestamp;
      m.key = r.key;
      m.value = r.value;
      messages.push_back(std::move(m));
    }
    auto set = encode_legacy_messages(magic, h.codec(), messages);
    if (!set) return set.take_error();
    out.insert(out.end(), set->begin(), set->end());
  }
  return out;
}

}  // namespace floe::records
