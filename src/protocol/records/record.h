// Records inside a v2 batch: decoding (after decompression) and the batch builder.
//
// One record (after the batch's records section is decompressed):
//   length varint (bytes that follow), attributes int8 (unused, 0), timestampDelta varlong,
//   offsetDelta varint, keyLength varint (-1 = null), key, valueLength varint (-1 = null), value,
//   headerCount varint, then per header: keyLength varint, key (UTF-8), valueLength varint
//   (-1 = null), value.
// Absolute values: offset = batch baseOffset + offsetDelta; timestamp = baseTimestamp +
// timestampDelta under CreateTime, or the batch's maxTimestamp under LogAppendTime.
//
// Invariants:
//  (1) decode_records returns exactly header.record_count records, each consuming exactly its
//      length prefix, and no bytes left over; anything else is an error, never a partial read.
//  (2) Every length is checked against the remaining bytes before use; decompression is bounded
//      by DecodeOptions::max_decompressed_bytes (Errc::too_large beyond it).
//  (3) Decoded keys/values/header values are slices of one buffer (the batch itself when
//      uncompressed, one decompressed buffer otherwise): no per-record copies.
// Thread safety: plain values.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "protocol/records/compression.h"
#include "protocol/records/record_batch.h"

namespace floe::records {

struct RecordHeader {
  std::string key;
  std::optional<SharedBytes> value;  // nullopt = null
  friend bool operator==(const RecordHeader&, const RecordHeader&) = default;
};

struct Record {
  int8_t attributes = 0;
  int64_t timestamp_delta = 0;
  int32_t offset_delta = 0;
  std::optional<SharedBytes> key;    // nullopt = null key
  std::optional<SharedBytes> value;  // nullopt = null value (a tombstone)
  std::vector<RecordHeader> headers;

  int64_t offset(const RecordBatchHeader& batch) const { return batch.base_offset + offset_delta; }
  int64_t timestamp_ms(const RecordBatchHeader& batch) const {
    return batch.timestamp_type() == TimestampType::log_append_time ? batch.max_timestamp
                                                                    : batch.base_timestamp + timestamp_delta;
  }
  friend bool operator==(const Record&, const Record&) = default;
};

struct DecodeOptions {
  size_t max_decompressed_bytes = kDefaultMaxDecompressedBytes;
};

// The records section of `batch`, decompressed (a zero-copy slice when uncompressed).
Result<SharedBytes> decompressed_records(const RecordBatchView& batch, const DecodeOptions& options = {});

// Decodes the records of a validated batch.
Result<std::vector<Record>> decode_records(const RecordBatchView& batch, const DecodeOptions& options = {});

// Decodes `count` records from an uncompressed records section.
Result<std::vector<Record>> decode_record_section(const SharedBytes& section, int32_t count);

// Options for a new batch. Defaults are those of a non-idempotent client's batch.
struct BatchOptions {
  int64_t base_offset = 0;
  int32_t partition_leader_epoch = kNoPartitionLeaderEpoch;
  Codec codec = Codec::none;
  TimestampType timestamp_type = TimestampType::create_time;
  int64_t producer_id = kNoProducerId;
  int16_t producer_epoch = kNoProducerEpoch;
  int32_t base_sequence = kNoSequence;
  bool is_transactional = false;
  bool is_control = false;
  // When set, attribute bit 6 is set and baseTimestamp holds this horizon (compaction output).
  std::optional<int64_t> delete_horizon_ms;
};

// Builds one v2 batch: append records, then build() encodes, compresses and checksums.
class RecordBatchBuilder {
 public:
  explicit RecordBatchBuilder(BatchOptions options) : options_(options) {}

  // Appends a record at the next offset (offsetDelta = records appended so far).
  void append(int64_t timestamp_ms, std::optional<std::span<const uint8_t>> key,
              std::optional<std::span<const uint8_t>> value, std::span<const RecordHeader> headers = {});
  // Appends a record at an explicit offset delta, which must exceed the previous one
  // (batches with gaps, as compaction leaves them).
  void append_at(int32_t offset_delta, int64_t timestamp_ms, std::optional<std::span<const uint8_t>> key,
                 std::optional<std::span<const uint8_t>> value, std::span<const RecordHeader> headers = {});

  size_t record_count() const { return static_cast<size_t>(count_); }
  // Uncompressed bytes so far (header + records): the size bound a producer checks.
  size_t uncompressed_bytes() const { return layout::kHeaderBytes + body_.size(); }

  // The finished batch. The builder may not be reused.
  Result<Bytes> build();

 private:
  BatchOptions options_;
  ByteWriter body_;
  int32_t count_ = 0;
  int32_t last_offset_delta_ = -1;
  // baseTimestamp: the delete horizon if set, else the first record's timestamp.
  std::optional<int64_t> base_timestamp_ms_;
  int64_t max_timestamp_ms_ = kNoTimestamp;
};

}  // namespace floe::records
