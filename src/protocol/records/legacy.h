// Legacy message sets (magic 0 and 1): decoding, encoding, and conversion to and from v2.
//
// A message set is a sequence of entries:
//   offset int64, messageSize int32, then the message:
//   crc uint32 (CRC32/IEEE over magic..end), magic int8, attributes int8,
//   [timestamp int64, magic 1 only], key (int32 length, -1 = null), value (int32 length, -1 = null).
// Attributes: bits 0-2 codec (1 gzip, 2 snappy, 3 lz4; zstd never appears), bit 3 (magic 1)
// LogAppendTime. A compressed "wrapper" message's value is a compressed inner message set.
// Inner offsets: magic 0 stores absolute offsets; magic 1 stores relative ones 0..n-1 and the
// wrapper carries the absolute offset of the last inner message, so
//   absolute = wrapper offset - last inner relative offset + inner relative offset.
// Under LogAppendTime the wrapper's timestamp applies to every inner message.
// Magic-0 LZ4 uses Kafka 0.8's broken frame header checksum (compression.h).
//
// Invariants:
//  (1) Decoding is bounded: lengths are checked against remaining bytes, decompression by
//      max_decompressed_bytes, and wrappers nest at most one level (nested compression is invalid).
//  (2) Conversions preserve offsets, timestamps (magic 0: kNoTimestamp), keys and values.
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "protocol/records/compression.h"
#include "protocol/records/record_batch.h"

namespace floe::records {

struct LegacyMessage {
  int64_t offset = 0;
  int8_t magic = 1;
  TimestampType timestamp_type = TimestampType::create_time;
  int64_t timestamp_ms = kNoTimestamp;
  std::optional<SharedBytes> key;
  std::optional<SharedBytes> value;
  friend bool operator==(const LegacyMessage&, const LegacyMessage&) = default;
};

struct LegacyDecodeOptions {
  bool verify_crc = true;
  size_t max_decompressed_bytes = kDefaultMaxDecompressedBytes;
  // Fetch responses may end mid-message; when true the partial tail is ignored.
  bool allow_partial_tail = false;
};

// The flattened messages of a magic 0/1 message set (compressed wrappers expanded).
Result<std::vector<LegacyMessage>> decode_legacy_messages(const SharedBytes& set,
                                                          const LegacyDecodeOptions& options = {});

// Encodes messages as a magic 0 or 1 set: one entry per message when codec is none, else one
// compressed wrapper holding them all. Offsets must increase (else Errc::invalid_value); zstd is
// Errc::unsupported.
Result<Bytes> encode_legacy_messages(int8_t magic, Codec codec, std::span<const LegacyMessage> messages);

// Up-conversion: the v2 batches (codec `codec`) holding the same messages. Consecutive messages
// share a batch while their timestamp type matches and offsets increase.
Result<Bytes> legacy_to_v2(const SharedBytes& set, Codec codec, const LegacyDecodeOptions& options = {});

// Down-conversion for Fetch v0-v3 clients: the non-control records of a v2 set as a magic 0/1
// set, one wrapper per batch, keeping each batch's codec (zstd batches fail: Errc::unsupported,
// as Kafka answers UNSUPPORTED_COMPRESSION_TYPE). Headers are dropped (older formats lack them).
Result<Bytes> v2_to_legacy(const SharedBytes& batches, int8_t magic, size_t max_decompressed_bytes = kDefaultMaxDecompressedBytes);

}  // namespace floe::records
