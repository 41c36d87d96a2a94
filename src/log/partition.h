// Partition: one Kafka partition on top of one stream (DESIGN.md log/). It gives a stream Kafka's
// partition semantics: it validates produced record batches, checks idempotent producers'
// sequences, assigns offsets, stamps LogAppendTime, and appends each batch to the stream as one
// stream batch (offsets [base, last offset + 1)). Fetches return the stored batch bytes exactly as
// appended. It keeps, in memory, a per-batch index (base offset, max timestamp, bytes) used by
// ListOffsets by timestamp, retention by time and size, and the producer state.
//
// Loading: open() scans the stream from its start offset to its end (cold reads for uploaded data)
// to rebuild the batch index and the producer state, so idempotent dedup survives a restart. Until
// the scan finishes the partition answers LEADER_NOT_AVAILABLE (clients retry). The scan reads
// the whole stream: producer-state snapshots that bound it are future work.
//
// Idempotence (as Kafka's ProducerStateManager): per producer id, the epoch and the last five
// appended batches' (first sequence, last sequence, base offset). A batch that repeats one of them
// is answered with the original offsets and not appended again; a gap is
// OUT_OF_ORDER_SEQUENCE_NUMBER; an older epoch is INVALID_PRODUCER_EPOCH; a new epoch must start
// at sequence 0. The state is updated when offsets are assigned (before durability): if an append
// then fails, the stream is fenced and the partition fails (it must be reopened), so no later
// append can observe state that is not durable.
//
// Invariants:
//  (1) next_offset_ == stream end + the batches in flight; offsets are assigned under mu_ and
//      appended to the stream in assignment order, so the stream sees contiguous appends.
//  (2) index_ covers exactly the batches in [log start, high watermark) plus those in flight,
//      in offset order; it holds one entry per batch (bounded by the stream's batch count).
//  (3) A produce callback runs once, after the WAL made every batch of that call durable (or with
//      the first error).
// Thread safety: all methods may be called from any thread; callbacks run on the WAL thread, a
// cold-read thread or inline, and must not block.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "protocol/errors.h"
#include "stream/stream_manager.h"

namespace floe::log {

namespace kafka_error = ::floe::protocol::kerr;  // the Kafka error codes (protocol/errors.h)

struct PartitionConfig {
  uint64_t max_message_bytes = 1048588;   // max.message.bytes: largest batch accepted
  bool log_append_time = false;           // message.timestamp.type=LogAppendTime
  int64_t retention_ms = 7LL * 24 * 3600 * 1000;  // -1: forever
  int64_t retention_bytes = -1;           // -1: no limit
};

struct ProduceResult {
  int16_t error_code = kafka_error::kNone;
  std::string error_message;
  int64_t base_offset = -1;
  int64_t log_append_time_ms = -1;  // -1 unless the topic uses LogAppendTime
  int64_t log_start_offset = -1;
};

struct FetchedData {
  int16_t error_code = kafka_error::kNone;
  int64_t high_watermark = -1;
  int64_t log_start_offset = -1;
  std::vector<SharedBytes> batches;  // whole stored batches, in offset order
  uint64_t bytes = 0;
};

struct OffsetAndTimestamp {
  int16_t error_code = kafka_error::kNone;
  int64_t offset = -1;
  int64_t timestamp_ms = -1;
};

inline constexpr int64_t kLatestTimestamp = -1;
inline constexpr int64_t kEarliestTimestamp = -2;
inline constexpr int64_t kMaxTimestamp = -3;

class Partition : public std::enable_shared_from_this<Partition> {
 public:
  using ProduceCallback = std::function<void(ProduceResult)>;
  using FetchCallback = std::function<void(FetchedData)>;
  using OffsetCallback = std::function<void(OffsetAndTimestamp)>;
  using DoneCallback = std::function<void(int16_t error_code)>;

  // Starts loading (see above); `loaded` runs once the partition serves (or failed to load).
  static std::shared_ptr<Partition> open(std::string topic, int32_t index, std::shared_ptr<stream::Stream> stream,
                                         PartitionConfig config, std::function<int64_t()> now_ms,
                                         std::function<void(Status)> loaded = {});

  const std::string& topic() const { return topic_; }
  std::string name() const { return topic_ + "-" + std::to_string(partition_index_); }
  int32_t index() const { return partition_index_; }
  StreamId stream_id() const { return stream_->id(); }
  int32_t leader_epoch() const { return static_cast<int32_t>(stream_->epoch().value()); }
  bool ready() const;
  void set_config(PartitionConfig config);

  // Appends the record batches of one Produce partition entry (magic 2 only; the broker converts
  // or rejects older magics).
  void produce(SharedBytes records, ProduceCallback done);
  // Batches from the one holding `offset`, whole, until max_bytes (at least one batch when
  // min_one_batch, as Kafka does for the first partition of a response).
  void fetch(int64_t offset, uint64_t max_bytes, bool min_one_batch, FetchCallback done);
  int64_t high_watermark() const;
  // Bytes of the batches in [log start, high watermark).
  uint64_t size_bytes() const;
  // OffsetForLeaderEpoch: the largest leader epoch <= `epoch` that wrote batches here and the
  // offset where the next epoch begins (the high watermark for the latest epoch);
  // {-1, -1} when no batch has an epoch <= `epoch`.
  std::pair<int32_t, int64_t> end_offset_for_epoch(int32_t epoch) const;
  int64_t log_start_offset() const;
  // ListOffsets: kLatestTimestamp, kEarliestTimestamp, kMaxTimestamp or a timestamp (first
  // offset whose batch max timestamp >= it; -1 offset when none).
  OffsetAndTimestamp list_offset(int64_t timestamp_ms) const;
  // The same, but a timestamp lookup answers at record granularity as Kafka does: the first
  // record whose timestamp >= timestamp_ms (and that record's timestamp), reading the one batch
  // that holds it (from the log cache or the object store).
  void list_offset_exact(int64_t timestamp_ms, OffsetCallback done) const;
  // DeleteRecords: moves the log start offset up to `offset` (-1: the high watermark).
  void delete_records(int64_t offset, std::function<void(int16_t error_code, int64_t low_watermark)> done);
  // Applies retention.ms / retention.bytes: trims whole batches that are past either limit.
  void enforce_retention();
  // Closes the stream (uploads its tail). The partition then answers NOT_LEADER_OR_FOLLOWER.
  void close(DoneCallback done);

  struct Stats {
    uint64_t batches = 0;
    uint64_t producers = 0;
    uint64_t duplicates = 0;
  };
  Stats stats() const;

 private:
  struct IndexEntry {
    int64_t base_offset = 0;
    int64_t next_offset = 0;
    int64_t max_timestamp_ms = -1;
    uint32_t bytes = 0;
    int32_t leader_epoch = -1;
  };
  struct ProducerBatch {
    int32_t first_seq = 0;
    int32_t last_seq = 0;
    int64_t base_offset = 0;
    int64_t last_offset = 0;
    int64_t append_time_ms = -1;
  };
  struct ProducerEntry {
    int16_t epoch = -1;
    std::deque<ProducerBatch> batches;  // at most kProducerBatches, oldest first
  };
  static constexpr size_t kProducerBatches = 5;
  enum class State { loading, ready, failed, closed };

  Partition(std::string topic, int32_t index, std::shared_ptr<stream::Stream> stream, PartitionConfig config,
            std::function<int64_t()> now_ms);
  void load_from(int64_t offset, std::function<void(Status)> loaded);
  void apply_loaded_batch(const SharedBytes& bytes);
  // Producer check for one batch: kNone (append), or an error, or a duplicate (sets *duplicate).
  int16_t check_producer_locked(int64_t producer_id, int16_t epoch, int32_t first_seq, int32_t last_seq,
                                const ProducerBatch** duplicate, std::string& message) const;
  void record_producer_locked(int64_t producer_id, int16_t epoch, const ProducerBatch& batch);
  void trim_to_locked(int64_t new_start);
  void fail_locked(const char* why);
  int16_t unavailable_error_locked() const;

  const std::string topic_;
  const int32_t partition_index_;
  const std::shared_ptr<stream::Stream> stream_;
  const std::function<int64_t()> now_ms_;

  std::mutex append_mu_;  // orders stream appends as offsets were assigned; taken before mu_
  mutable std::mutex mu_;  // state; never held while calling into the stream
  PartitionConfig config_;
  State state_ = State::loading;
  int64_t next_offset_ = 0;     // next offset to assign
  int64_t log_start_ = 0;
  int64_t max_timestamp_ms_ = -1;
  int64_t max_timestamp_offset_ = -1;
  std::deque<IndexEntry> index_;
  std::map<int64_t, ProducerEntry> producers_;
  uint64_t duplicates_ = 0;
};

}  // namespace floe::log
