// RecordBatch v2 (magic 2): header layout, zero-copy validation of batch sets, in-place patching.
//
// Byte layout of one batch (big-endian; Kafka's documented format):
//    0 baseOffset int64          27 baseTimestamp int64
//    8 batchLength int32         35 maxTimestamp int64
//   12 partitionLeaderEpoch i32  43 producerId int64
//   16 magic int8 (= 2)          51 producerEpoch int16
//   17 crc uint32                53 baseSequence int32
//   21 attributes int16          57 recordCount int32
//   23 lastOffsetDelta int32     61 records... (compressed as a whole when codec != none)
// batchLength counts the bytes after itself (total = 12 + batchLength). The CRC32C covers
// attributes..end, so baseOffset and partitionLeaderEpoch can be rewritten without re-checksumming.
// Attributes: bits 0-2 codec, bit 3 timestamp type (1 = LogAppendTime), bit 4 transactional,
// bit 5 control, bit 6 baseTimestamp holds a delete horizon.
//
// Validation never decompresses: it checks sizes, magic, CRC32C and the count/offset-delta
// consistency, so the produce path can accept or reject a batch at memcpy-like speed.
//
// Invariants:
//  (1) A RecordBatchView holds exactly one batch whose header passed validate_batch_header():
//      bytes().size() == 12 + batchLength >= kHeaderBytes, magic == 2, and (if asked) CRC ok.
//  (2) BatchReader never reads past its buffer; a failed next() leaves the reader at the bad batch.
// Thread safety: views are immutable values; patch functions need exclusive access to the span.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "protocol/records/compression.h"

namespace floe::records {

namespace layout {
inline constexpr size_t kBaseOffset = 0;
inline constexpr size_t kBatchLength = 8;
inline constexpr size_t kPartitionLeaderEpoch = 12;
inline constexpr size_t kMagic = 16;  // same position in legacy message sets (offset, size, crc)
inline constexpr size_t kCrc = 17;
inline constexpr size_t kAttributes = 21;
inline constexpr size_t kLastOffsetDelta = 23;
inline constexpr size_t kBaseTimestamp = 27;
inline constexpr size_t kMaxTimestamp = 35;
inline constexpr size_t kProducerId = 43;
inline constexpr size_t kProducerEpoch = 51;
inline constexpr size_t kBaseSequence = 53;
inline constexpr size_t kRecordCount = 57;
inline constexpr size_t kHeaderBytes = 61;
inline constexpr size_t kLogOverheadBytes = 12;  // baseOffset + batchLength
}  // namespace layout

inline constexpr int8_t kMagicV2 = 2;
inline constexpr int64_t kNoTimestamp = -1;
inline constexpr int64_t kNoProducerId = -1;
inline constexpr int16_t kNoProducerEpoch = -1;
inline constexpr int32_t kNoSequence = -1;
inline constexpr int32_t kNoPartitionLeaderEpoch = -1;
// The smallest encoded record: length, attributes, timestamp delta, offset delta, key length,
// value length and header count, one byte each.
inline constexpr size_t kMinRecordBytes = 7;

enum class TimestampType : uint8_t { create_time = 0, log_append_time = 1 };

namespace attr {
inline constexpr int16_t kCodecMask = 0x07;
inline constexpr int16_t kLogAppendTime = 0x08;
inline constexpr int16_t kTransactional = 0x10;
inline constexpr int16_t kControl = 0x20;
inline constexpr int16_t kDeleteHorizon = 0x40;
}  // namespace attr

struct RecordBatchHeader {
  int64_t base_offset = 0;
  int32_t batch_length = 0;
  int32_t partition_leader_epoch = kNoPartitionLeaderEpoch;
  int8_t magic = kMagicV2;
  uint32_t crc = 0;
  int16_t attributes = 0;
  int32_t last_offset_delta = 0;
  int64_t base_timestamp = kNoTimestamp;
  int64_t max_timestamp = kNoTimestamp;
  int64_t producer_id = kNoProducerId;
  int16_t producer_epoch = kNoProducerEpoch;
  int32_t base_sequence = kNoSequence;
  int32_t record_count = 0;

  int codec_id() const { return attributes & attr::kCodecMask; }
  // REQUIRES: codec_id() <= 4 (true of every validated batch).
  Codec codec() const { return static_cast<Codec>(codec_id()); }
  TimestampType timestamp_type() const {
    return (attributes & attr::kLogAppendTime) ? TimestampType::log_append_time : TimestampType::create_time;
  }
  bool is_transactional() const { return attributes & attr::kTransactional; }
  bool is_control() const { return attributes & attr::kControl; }
  bool has_delete_horizon() const { return attributes & attr::kDeleteHorizon; }
  int64_t last_offset() const { return base_offset + last_offset_delta; }
  int64_t next_offset() const { return last_offset() + 1; }
  size_t size_bytes() const { return layout::kLogOverheadBytes + static_cast<size_t>(batch_length); }
  // The sequence number of the last record (sequences wrap at INT32_MAX, as in Kafka).
  int32_t last_sequence() const;
};

struct ValidateOptions {
  bool verify_crc = true;
  // The produce path's rule: record_count > 0 and lastOffsetDelta == record_count - 1. Fetched
  // (compacted) batches only need record_count <= lastOffsetDelta + 1.
  bool require_contiguous_offsets = false;
  // Upper bound on one batch (12 + batchLength), e.g. the topic's max.message.bytes.
  size_t max_batch_bytes = size_t{64} << 20;
  // Fetch responses may end in a partial batch; when true BatchReader stops there silently.
  bool allow_partial_tail = false;
};

// Reads the 61-byte header from the start of `bytes` (no validation beyond length).
Result<RecordBatchHeader> read_batch_header(std::span<const uint8_t> bytes);

// Validates one batch: `batch` must be exactly 12 + batchLength bytes.
Status validate_batch(std::span<const uint8_t> batch, const RecordBatchHeader& header, const ValidateOptions& options);

class RecordBatchView {
 public:
  // Parses and validates the single batch that `batch` holds exactly.
  static Result<RecordBatchView> parse(const SharedBytes& batch, const ValidateOptions& options = {});

  const RecordBatchHeader& header() const { return header_; }
  // The whole batch, as received.
  const SharedBytes& bytes() const { return bytes_; }
  // The records section (compressed when header().codec_id() != 0).
  SharedBytes records_bytes() const { return bytes_.slice(layout::kHeaderBytes, bytes_.size() - layout::kHeaderBytes); }

 private:
  RecordBatchHeader header_;
  SharedBytes bytes_;
};

// Walks the consecutive batches of a Produce `records` field or a fetched/stored range.
class BatchReader {
 public:
  BatchReader(SharedBytes batches, ValidateOptions options = {}) : bytes_(std::move(batches)), options_(options) {}
  // The next valid batch; nullopt at the end of the buffer (or at a partial tail if allowed).
  Result<std::optional<RecordBatchView>> next();
  size_t position() const { return pos_; }

 private:
  SharedBytes bytes_;
  ValidateOptions options_;
  size_t pos_ = 0;
};

// All batches of `batches`, validated; the first invalid batch fails the whole set.
Result<std::vector<RecordBatchView>> read_batches(const SharedBytes& batches, const ValidateOptions& options = {});

// The magic byte of the batch or legacy message at the start of `bytes` (offset 16 in both).
Result<int8_t> peek_magic(std::span<const uint8_t> bytes);

// CRC32C over attributes..end of one batch (what the crc field should hold).
uint32_t compute_batch_crc(std::span<const uint8_t> batch);

// In-place patches of one batch. REQUIRES: batch.size() >= kHeaderBytes.
// These two leave the CRC valid (the fields lie before the CRC's range).
void set_base_offset(std::span<uint8_t> batch, int64_t base_offset);
void set_partition_leader_epoch(std::span<uint8_t> batch, int32_t epoch);
// Sets the timestamp type bit and maxTimestamp (LogAppendTime topics), then re-checksums.
void set_max_timestamp(std::span<uint8_t> batch, TimestampType type, int64_t max_timestamp_ms);

// Assigns consecutive offsets to every batch of an already validated set, starting at
// `first_offset`, and stamps `leader_epoch`; returns the offset after the last batch.
// Errc::corrupt if the set's framing is inconsistent (validate first).
Result<int64_t> assign_offsets(std::span<uint8_t> batches, int64_t first_offset, int32_t leader_epoch);

}  // namespace floe::records
