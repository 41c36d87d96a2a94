// Partition: one Kafka partition on top of one stream (DESIGN.md log/). It gives a stream Kafka's
// partition semantics: it validates produced record batches, checks idempotent producers'
// sequences, assigns offsets, stamps LogAppendTime, and appends each batch to the stream as one
// stream batch (offsets [base, last offset + 1)). Fetches return the stored batch bytes exactly as
// appended. It keeps, in memory, a coarse offset index (below) used by ListOffsets, retention by
// time and size, OffsetForLeaderEpoch and DescribeLogDirs, and the producer state.
//
// The coarse index: consecutive batches share one IndexEntry until it holds index_entry_bytes
// (kIndexEntryBytes, 1 MiB) or the leader epoch changes, so its memory is bounded by the stored
// bytes (about 64 B per MiB: 64 MiB for a 1 TiB partition), not by the batch count. Why 1 MiB:
// Kafka retention deletes whole 1 GiB segments, so trimming whole 1 MiB entries is 1000x finer;
// an exact ListOffsets reads one entry (<= 1 MiB + one batch), which is about one object block
// (stream/object_format.h kBlockTargetBytes = 1 MiB), so a cold lookup costs the same GETs as a
// smaller entry would; and it decodes only the one batch whose max timestamp reaches the target.
// Lookups are O(1) (size_bytes) or O(log n) (timestamp, epoch, MAX_TIMESTAMP: binary searches on
// offsets, epochs and a running maximum of the entries' max timestamps) plus the batches in flight.
// Batches whose offsets are assigned but not yet durable wait in a short per-batch list and join
// the index once the stream's end passes them, so every answer stops at the high watermark.
// DeleteRecords to an offset inside an entry keeps that entry whole (its bytes, batch count and
// max timestamp still count the trimmed batches, as Kafka's log size counts a segment's records
// below the log start offset until retention deletes the segment); answers never name an offset
// below the log start, but MAX_TIMESTAMP may then answer the log start with a trimmed batch's
// timestamp (when that batch held the partition's largest).
//
// Loading: open() rebuilds the index and the producer state, so idempotent dedup survives a
// restart or a move: from the stream's newest valid checkpoint (below), then by reading the
// stream from the checkpoint's offset to its end (cold reads for uploaded data); without a usable
// checkpoint, by reading the whole stream from its start. Until loading finishes the partition
// answers LEADER_NOT_AVAILABLE (clients retry). A read of the stream groups the batches by the
// same rule as appends but starting from the batch holding the log start, so it builds the
// same index as the appender only when the log start is an entry's start (retention trims whole
// entries). After DeleteRecords into an entry, the reloaded first entry starts at the batch holding
// the log start, and every later entry of that leader epoch may close at other batches (the
// boundaries shift; the next epoch's first entry realigns). Answers stay right: fetch, exact
// ListOffsets, MAX_TIMESTAMP and OffsetForLeaderEpoch are per batch; a coarse ListOffsets names
// the start of whichever entry holds the record; size_bytes no longer counts the first entry's
// batches below the one holding the log start. (A load from a checkpoint keeps the appender's
// entries.)
//
// Checkpoints (stream/checkpoints.h: blobs in the data store beside the stream, outside the
// metadata): the state after every batch below offset X (log start, index, producers, and the
// last batch's base offset, end and CRC), taken only when no batch is in flight, so X is the high
// watermark and every batch below it is durable. Written when a load had to read the stream,
// every checkpoint_interval_bytes appended (checked with retention), and at close (before the
// stream closes when nothing is in flight, else after it uploaded its tail; before the close is
// answered: a partition moved to another broker loads there from the checkpoint and reads
// nothing). Loading trusts a checkpoint only if the stream still holds, at the offsets it names,
// a batch with the same CRC as its last batch, so a checkpoint of data the stream does not have
// (WAL data lost in an unclean election, a trim past it) is never used; a checkpoint that is
// damaged, unreadable or does not match falls back to the full read. They are an optimisation:
// nothing is lost without them. Restart of a 2 GiB partition (fs store): 1.95 s -> 0.08 s.
//
// Idempotence (as Kafka's ProducerStateManager): per producer id, the epoch and the last five
// appended batches' (first sequence, last sequence, base offset). A batch that repeats one of them
// is answered with the original offsets and not appended again, once the original is durable (a
// call whose batches all repeat batches still in flight is parked until the stream's end passes
// them, as Kafka answers a duplicate once the high watermark passes it; a failure or close of the
// partition answers parked calls with the error); a gap is
// OUT_OF_ORDER_SEQUENCE_NUMBER; an older epoch is INVALID_PRODUCER_EPOCH; a new epoch must start
// at sequence 0. A producer id without state (never seen, or expired) is accepted at any sequence,
// as Kafka does since KIP-360 (2.5; UNKNOWN_PRODUCER_ID is no longer answered). The state is
// updated when offsets are assigned (before durability): if an append then fails, the stream is
// fenced and the partition fails (it must be reopened), so no later append can observe state
// that is not durable.
//
// Producer expiry (KIP-854, producer.id.expiration.ms): a producer whose last batch was appended
// more than producer_id_expiration_ms ago (by now_ms at append) is forgotten: at once for a batch
// of that producer, and in a sweep from enforce_retention() (1,024 producers per hold of the lock:
// 100,000 take ~12 ms in all). So the producer state holds the producers seen within the expiry
// plus one retention check interval. The log keeps no append time: a reload dates each producer
// by the later of its last batch's max timestamp and (now_ms at loading - the expiry +
// kReloadGraceMs, at most now_ms), so every producer in the log lives at least kReloadGraceMs
// (5 min: longer than a client's delivery.timeout.ms, 120 s by default, so every retry of a batch
// sent before the reopen still finds its state) after a reopen, but frequent reopens do not keep
// every producer of the retained log alive (the memory KIP-854 bounds). Kafka dates it by the
// timestamp alone, which forgets at a failover a producer writing old CreateTime timestamps
// (backfills, clocks behind), and KIP-360 then appends its retried in-flight batches a second time.
// (A checkpoint keeps the producers' real append times.)
//
// Invariants:
//  (1) next_offset_ == stream end + the batches in flight; offsets are assigned under mu_ and
//      appended to the stream in assignment order, so the stream sees contiguous appends.
//  (2) index_ then in_flight_ cover [first entry's base, next_offset_) contiguously, in offset
//      order; index_ entries end at or below the high watermark, log_start_ lies inside the first
//      entry (or equals the end of the index when it is empty); entries' leader epochs never
//      decrease and an entry never spans two epochs; index_totals_ sums the entries' bytes and batches.
//  (3) A produce callback runs once, after the WAL made every batch of that call durable (or with
//      the first error); a duplicate's, after the batches it repeats are durable (a parked one is
//      answered after the callback of the call whose append made them durable), or with an error
//      when the partition fails or closes first. A parked call waits only for batches whose append
//      callback has not run yet (that callback folds them and releases it).
// Thread safety: all methods may be called from any thread; callbacks run on the WAL thread, a
// cold-read thread or inline, and must not block.
#pragma once

#include <array>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "protocol/errors.h"
#include "stream/checkpoints.h"
#include "stream/stream_manager.h"

namespace floe::log {

namespace kafka_error = ::floe::protocol::kerr;  // the Kafka error codes (protocol/errors.h)

// An index entry is closed once it holds this many bytes of batches (the top comment says why).
inline constexpr uint64_t kIndexEntryBytes = 1 << 20;
// How long a reload keeps a producer at least (see "Producer expiry" above).
inline constexpr int64_t kReloadGraceMs = 5 * 60 * 1000;
// See PartitionConfig::checkpoint_interval_bytes and "Checkpoints" above.
inline constexpr uint64_t kCheckpointIntervalBytes = 64ull << 20;

struct PartitionConfig {
  uint64_t max_message_bytes = 1048588;   // max.message.bytes: largest batch accepted
  bool log_append_time = false;           // message.timestamp.type=LogAppendTime
  int64_t retention_ms = 7LL * 24 * 3600 * 1000;  // -1: forever
  int64_t retention_bytes = -1;           // -1: no limit
  int64_t producer_id_expiration_ms = 86400000;  // producer.id.expiration.ms (broker-wide)
  uint64_t index_entry_bytes = kIndexEntryBytes;  // not a config key: tests use small entries
  // A checkpoint is written once this many bytes were appended since the last one (checked with
  // retention), besides at close and after a load that read the stream. Not a config key.
  uint64_t checkpoint_interval_bytes = kCheckpointIntervalBytes;
};

// One entry of the coarse index: the stored batches [base_offset, next_offset) of one leader
// epoch. Plain values, so a checkpoint can store them.
struct IndexEntry {
  int64_t base_offset = 0;
  int64_t next_offset = 0;
  int64_t max_timestamp_ms = -1;      // the largest batch max timestamp (-1: none)
  int64_t max_timestamp_offset = -1;  // last offset of the first batch holding max_timestamp_ms
  uint64_t bytes = 0;                 // stored bytes of its batches
  uint32_t batches = 0;
  int32_t leader_epoch = -1;
  bool operator==(const IndexEntry&) const = default;
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
  // With `checkpoints`, loading starts from the stream's newest valid checkpoint and the partition
  // writes new ones (see "Checkpoints" above); without, it reads the stream from its start.
  static std::shared_ptr<Partition> open(std::string topic, int32_t index, std::shared_ptr<stream::Stream> stream,
                                         PartitionConfig config, std::function<int64_t()> now_ms,
                                         std::function<void(Status)> loaded = {},
                                         std::shared_ptr<stream::StreamCheckpoints> checkpoints = nullptr);

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
  // Bytes of the batches in [log start, high watermark) (a first entry DeleteRecords cut into
  // counts whole, see above). O(1) plus the batches in flight.
  uint64_t size_bytes() const;
  // OffsetForLeaderEpoch, by Kafka's rule (LeaderEpochFileCache.endOffsetFor) over the epochs of
  // the stored batches plus the current leader epoch (leader_epoch(), which starts where they
  // end, as Kafka's leader records its epoch when it takes over): for the current epoch
  // {epoch, high watermark}; for -1 or an epoch above the current one {-1, -1}; otherwise the
  // largest epoch <= `epoch` that wrote batches still stored and the offset where the next
  // epoch begins, or, when every stored epoch is later (older ones trimmed), {`epoch`, the
  // start of the first stored epoch, at least the log start}.
  std::pair<int32_t, int64_t> end_offset_for_epoch(int32_t epoch) const;
  int64_t log_start_offset() const;
  // ListOffsets: kLatestTimestamp, kEarliestTimestamp, kMaxTimestamp (the last offset of the first
  // batch holding the largest timestamp) or, coarsely, a timestamp: the start (at least the log
  // start) of the index entry holding the first record whose timestamp >= it, with that entry's
  // max timestamp; -1 offset when none.
  OffsetAndTimestamp list_offset(int64_t timestamp_ms) const;
  // The same, but a timestamp lookup answers at record granularity as Kafka does: the first
  // record whose timestamp >= timestamp_ms (and that record's timestamp), reading forward from
  // the start of the coarse entry (at most its bytes, from the log cache or the object store,
  // without holding the partition's lock; only the batch whose max timestamp reaches the target
  // is decoded; a trim that removes the entry meanwhile makes it search again from the new start).
  void list_offset_exact(int64_t timestamp_ms, OffsetCallback done) const;
  // DeleteRecords: moves the log start offset up to `offset` (-1: the high watermark).
  void delete_records(int64_t offset, std::function<void(int16_t error_code, int64_t low_watermark)> done);
  // Applies retention.ms / retention.bytes, as Kafka does with segments: trims whole index entries
  // from the oldest while the entry's max timestamp is older than retention.ms or the rest stays
  // at or above retention.bytes; never past the high watermark. Then forgets expired producers.
  void enforce_retention();
  // Closes the stream (uploads its tail). The partition then answers NOT_LEADER_OR_FOLLOWER.
  void close(DoneCallback done);

  struct Stats {
    uint64_t index_entries = 0;       // coarse entries, plus batches in flight
    uint64_t index_memory_bytes = 0;  // what they take (element sizes; container overhead aside)
    uint64_t batches = 0;             // stored batches they cover (from the first entry's base)
    uint64_t producers = 0;
    uint64_t expired_producers = 0;   // forgotten by producer.id.expiration.ms since open
    uint64_t duplicates = 0;
    int64_t loaded_from_offset = -1;   // where the load's stream read started (a checkpoint's offset, or the start)
    int64_t checkpoint_offset = -1;    // the offset of the newest checkpoint written or loaded
    uint64_t checkpoints_written = 0;
  };
  Stats stats() const;
  // Writes a checkpoint now if the state has moved since the last one and no batch is in flight
  // (tests; the partition writes them itself). `done` gets the outcome (ok when there was nothing
  // to write).
  void checkpoint_now(std::function<void(Status)> done);
  // The coarse index up to the high watermark, as plain values (tests compare a reloaded
  // partition's with the appender's; a checkpoint will store it). O(entries).
  std::vector<IndexEntry> index_entries() const;

 private:
  // An index entry and the running maximum the timestamp search bisects: for every slot but the
  // first, the largest max_timestamp_ms of slots [1, this one]. The first slot is left out so that
  // a first entry DeleteRecords cut into (whose max may be a trimmed batch's) never hides a later
  // one; after trimming, the maxima are recomputed from the new second slot until they agree with
  // the stored ones again (at once when timestamps grow with offsets).
  struct Slot {
    IndexEntry entry;
    int64_t running_max_ms = -1;
  };
  // One stored batch, before it joins the index.
  struct BatchInfo {
    int64_t base_offset = 0;
    int64_t next_offset = 0;
    int64_t max_timestamp_ms = -1;
    uint64_t bytes = 0;
    int32_t leader_epoch = -1;
    uint32_t crc = 0;  // the stored batch's CRC: a checkpoint names its last batch by it
  };
  // The last batch in the index: a checkpoint at its end is checked against it when loaded.
  struct LastBatch {
    int64_t base_offset = -1;
    int64_t next_offset = -1;
    uint32_t crc = 0;
  };
  // The entry or in-flight batch a timestamp lookup lands on: read [from, to) for the record.
  struct Located {
    int64_t from = 0;  // at least the start asked for (the log start)
    int64_t to = 0;
    int64_t max_timestamp_ms = -1;
  };
  struct ProducerBatch {
    int32_t first_seq = 0;
    int32_t last_seq = 0;
    int64_t base_offset = 0;
    int64_t last_offset = 0;
    int64_t append_time_ms = -1;
  };
  static constexpr size_t kProducerBatches = 5;
  // One producer's state: plain values in place (a ring of its last batches), no allocation of
  // its own: ~200 B a producer (a deque took ~750 B).
  struct ProducerEntry {
    int16_t epoch = -1;
    uint8_t count = 0;             // batches held, at most kProducerBatches
    uint8_t next = 0;              // ring slot of the next batch
    int64_t last_append_ms = -1;   // expiry clock: now_ms at append, max(max timestamp, now_ms) on load
    std::array<ProducerBatch, kProducerBatches> ring{};

    bool empty() const { return count == 0; }
    void clear() { count = next = 0; }
    void push(const ProducerBatch& b) {
      ring[next] = b;
      next = static_cast<uint8_t>((next + 1) % kProducerBatches);
      if (count < kProducerBatches) ++count;
    }
    const ProducerBatch& last() const { return ring[(next + kProducerBatches - 1) % kProducerBatches]; }
    // The held batch with these sequences, or null.
    const ProducerBatch* find(int32_t first_seq, int32_t last_seq) const {
      for (size_t i = 0; i < count; ++i) {
        const ProducerBatch& b = ring[(next + kProducerBatches - 1 - i) % kProducerBatches];
        if (b.first_seq == first_seq && b.last_seq == last_seq) return &b;
      }
      return nullptr;
    }
  };
  enum class State { loading, ready, failed, closed };
  // A produce call whose batches all repeat batches still in flight, waiting for them to be durable.
  struct ParkedDuplicate {
    ProduceResult result;
    ProduceCallback done;
  };
  using Answers = std::vector<ParkedDuplicate>;  // to run once mu_ is released
  static void answer(Answers& answers);

  Partition(std::string topic, int32_t index, std::shared_ptr<stream::Stream> stream, PartitionConfig config,
            std::function<int64_t()> now_ms);
  void load_from(int64_t offset, std::function<void(Status)> loaded);
  // Checkpoints (partition_checkpoint.cc).
  void load_from_checkpoint(std::function<void(Status)> loaded);
  // Restores `cp` if the stream still holds its last batch; else tries the one before it (up to
  // `tries_left` more), else reads the stream from its start.
  void restore_or_scan(stream::Checkpoint cp, int tries_left, std::function<void(Status)> loaded);
  Bytes encode_checkpoint_locked() const;
  Status restore_checkpoint_locked(std::span<const uint8_t> payload, int64_t offset);
  // Starts writing a checkpoint if one is due (force: whenever the state moved); `done` (may be
  // empty) runs after the write, or at once when none was started. Only close() writes once the
  // partition is closed (by_close); close() also waits for a write already in flight, then
  // writes (so nothing lands after its answer: a deleted topic's checkpoints are removed then).
  enum class CheckpointBy { owner, close };
  void maybe_checkpoint(bool force, std::function<void(Status)> done, CheckpointBy by = CheckpointBy::owner);
  void apply_loaded_batch(const SharedBytes& bytes, int64_t now_ms);
  // Producer check for one batch: kNone (append), or an error, or a duplicate (sets *duplicate).
  int16_t check_producer_locked(int64_t producer_id, int16_t epoch, int32_t first_seq, int32_t last_seq,
                                const ProducerBatch** duplicate, std::string& message) const;
  void record_producer_locked(int64_t producer_id, int16_t epoch, const ProducerBatch& batch, int64_t append_ms);
  bool producer_expired_locked(const ProducerEntry& entry, int64_t now_ms) const;
  void expire_producers(int64_t now_ms);         // in chunks, taking mu_ for each
  // Sweeps up to max_visits producers from id `from`; true (and `from` moved on) if more remain.
  bool expire_producers_from_locked(int64_t now_ms, int64_t& from, size_t max_visits);
  // Adds a durable batch to the index (extending the last entry or opening one).
  struct IndexTotals {
    uint64_t bytes = 0;
    uint64_t batches = 0;
  };
  static void index_batch(std::deque<Slot>& index, IndexTotals& totals, const BatchInfo& batch,
                          uint64_t entry_bytes);
  // Moves the in-flight batches that end at or below `durable_end` into the index.
  void fold_durable_locked(int64_t durable_end);
  // The batches in flight that end at or below `hwm`: durable, not yet in the index. Queries read
  // the index and then these, so every answer stops at the high watermark. O(log in flight).
  std::ranges::subrange<std::deque<BatchInfo>::const_iterator> durable_in_flight_locked(int64_t hwm) const;
  // Every offset below this is durable and in the index: the first batch in flight, or the next offset.
  int64_t indexed_end_locked() const;
  // Moves the parked duplicates whose batches are now in the index to `out`.
  void release_parked_locked(Answers& out);
  // The first entry (or in-flight batch below `hwm`) that ends after `after` and holds a
  // timestamp >= timestamp_ms; its reading starts at `start` at the earliest.
  std::optional<Located> locate_locked(int64_t timestamp_ms, int64_t after, int64_t hwm, int64_t start) const;
  struct ExactSearch;
  void exact_search_step(std::shared_ptr<ExactSearch> search, int64_t after) const;
  // Moves the log start up to new_start <= durable_end (the stream's end, read before mu_).
  void trim_to_locked(int64_t new_start, int64_t durable_end);
  // Stops serving; parked duplicates go to `out` with error_code.
  void fail_locked(const char* why, int16_t error_code, Answers& out);
  void answer_parked_locked(int16_t error_code, Answers& out);
  int16_t unavailable_error_locked() const;

  const std::string topic_;
  const int32_t partition_index_;
  const std::shared_ptr<stream::Stream> stream_;
  const std::function<int64_t()> now_ms_;

  std::mutex append_mu_;  // orders stream appends as offsets were assigned; taken before mu_
  // State. Never held while calling a stream method that takes a callback (append, fetch, trim,
  // close) or while answering one: the stream may call back on another thread that takes mu_.
  // Queries (fetch, ListOffsets, OffsetForLeaderEpoch, sizes) read the stream's end or start
  // offset under it, so the high watermark they answer and the index are one snapshot: a short
  // lock of the stream manager's mutex, which never runs a callback nor takes a partition's lock
  // (lock order: mu_, then the manager's). Appends, trims and retention read it before locking.
  mutable std::mutex mu_;
  PartitionConfig config_;
  State state_ = State::loading;
  int64_t next_offset_ = 0;     // next offset to assign
  int64_t log_start_ = 0;
  std::deque<Slot> index_;            // durable batches, coarse (invariant 2)
  IndexTotals index_totals_;          // sums over index_'s entries
  std::deque<BatchInfo> in_flight_;   // offsets assigned, not yet in the index
  std::map<int64_t, ProducerEntry> producers_;
  std::multimap<int64_t, ParkedDuplicate> parked_;  // by the offset the index must reach (invariant 3)
  uint64_t duplicates_ = 0;
  uint64_t expired_producers_ = 0;
  // Checkpoints (null: none).
  std::shared_ptr<stream::StreamCheckpoints> checkpoints_;
  LastBatch last_batch_;
  int64_t loaded_from_offset_ = -1;
  int64_t checkpoint_offset_ = -1;        // the newest written or loaded (-1: none)
  uint64_t checkpoint_index_bytes_ = 0;   // index_totals_.bytes when it was taken
  bool checkpoint_in_flight_ = false;
  std::vector<std::function<void()>> after_checkpoint_;  // close() waiting for the write in flight
  uint64_t checkpoints_written_ = 0;
};

}  // namespace floe::log
