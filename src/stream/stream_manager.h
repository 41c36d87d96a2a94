// StreamManager and Stream: floe's streams of record batches over a WAL and object storage
// (DESIGN.md stream/, write path 2-5, read path). Knows nothing of Kafka: a batch is opaque bytes
// with a base offset and a record count, covering offsets [base, base + count).
//
// Write path: Stream::append checks epoch and contiguity (base == end), reserves room in the log
// cache, and writes the batch to the WAL; the callback runs once the WAL made it durable, and only
// then is the batch visible to fetch. When un-uploaded durable bytes reach the upload threshold
// (or the upload interval passes, or the cache is full, or flush/close asks), the uploader thread
// writes ONE stream-set object holding the new data of all streams (streams whose pending range is
// at least stream_object_threshold_bytes get their own stream object instead), commits all of it
// to the metadata layer in one call, marks it uploaded and trims the WAL.
//
// Read path: fetch serves from the log cache when the offset is still there (inline, zero object
// store cost); older data is read by the cold-read pool: metadata names the objects, their indexes
// and data blocks come through a bounded BlockCache, ranged GETs fetch exactly the needed blocks,
// and sequential cold reads prefetch the next readahead_blocks blocks.
//
// Recovery: open() takes the WAL's recovered entries, drops those already committed (metadata end
// offset) or written under a stale epoch, uploads and commits the rest, and trims the WAL — all
// before it returns, so a recovered manager serves only data that is in object storage or cache.
//
// Errors (Result codes): Errc::fenced — the stream's epoch is stale (someone opened it since),
// or the stream failed after a WAL error and must be reopened; Errc::invalid_value — an append
// whose base offset is not the stream's end (or count 0); Errc::not_found — unknown or closed
// stream, or a fetch offset outside [start offset, end offset]; Errc::too_large — a batch larger
// than the log cache, or the bounded queue of waiting appends is full (backpressure overflow).
//
// Threads (all owned here, all stopped and joined by close()):
//  - the uploader thread: uploads, commits, WAL trims, drains waiting appends, runs close/flush;
//  - two cold-read pools with their own ObjectStore (pass a separate store instance so cold GETs
//    use their own connections) and the BlockCache budget; cold reads never run on, or queue
//    behind, the append path. Each pool has a bounded queue (cold_read_queue).
//    The coordination pool (cold_read_threads) runs at NORMAL priority: metadata lookups
//    (list_objects: an index lookup under the controller's lock in single-node mode), object index
//    lookups, and the fetch callback (which takes the broker's lock that produce completions
//    need) — a niced thread holding those locks under CPU contention would stall appends
//    (priority inversion). Only the heavy, lock-free part runs niced (cold_read_nice, and the
//    cold store's threads, opened with kColdReadNice): block GETs, asynchronous on the cold
//    store's threads; parse_block (CRC, batch parsing) on the cold I/O pool
//    (cold_read_cpu_threads, half the cores by default), which the coordinating thread waits for
//    (inline if that queue is full) — with cold_gets_are_cpu_work (a local-dir store) the block
//    and readahead GETs run there too, so reading and parsing share that budget; readahead GETs, asynchronous, at most readahead_limit() in
//    flight, into the block cache. Niced code takes only the BlockCache mutex, which no append,
//    WAL or controller path takes (stats() reads it without holding mu_);
//  - the maintenance thread (only when compaction_interval_ms > 0): compaction and GC.
// Callbacks: append callbacks run on the WAL thread; fetch callbacks run inline (log cache hit or
// error) or on a normal-priority cold-read coordination thread (never a niced one); open/trim/close/flush callbacks run on the calling thread or on
// the uploader thread. Callers on an asio executor post back; callbacks must not block. No
// callback runs while the manager's lock is held, so a callback may call the stream or the
// manager again (tests/stream/callback_lock_test.cc).
// Nothing here blocks the caller's thread except open() and close() (startup and shutdown).
//
// Invariants:
//  (1) Log cache bytes (waiting for upload or kept for tailing reads) never exceed
//      cache_size_bytes; a full cache makes appends wait (bounded count), never grows memory.
//  (2) The WAL is trimmed only past entries whose data is committed to metadata.
//  (3) A stream's committed ranges are contiguous and in order: one upload at a time.
//  (4) Every queue is bounded: waiting appends (max_waiting_appends), cold reads
//      (cold_read_queue), the block cache (block_cache_size_bytes).
// Thread safety: every public method may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "objectstore/executor.h"
#include "objectstore/object_store.h"
#include "stream/block_cache.h"
#include "stream/checkpoints.h"
#include "stream/metadata.h"
#include "stream/object.h"
#include "wal/wal.h"

namespace floe::stream {

struct CompactionOptions {
  uint32_t min_stream_set_objects = 2;            // compact when at least this many exist
  uint64_t max_bytes_per_round = 256ull << 20;    // read at most this much per round (memory bound)
  uint64_t stream_object_min_bytes = 1ull << 20;  // a stream range this large becomes a stream object
  uint64_t stream_object_target_bytes = 64ull << 20;  // merge small stream objects up to this size
  uint64_t throttle_bytes_per_s = 0;              // 0: unthrottled
  int64_t gc_delay_ms = 60000;                    // delete destroyed objects after this delay
};

// Nice increment for the threads doing the heavy, lock-free part of cold reads: the cold I/O pool
// here (parse_block) and the cold store's I/O threads (block and readahead GETs). Under CPU
// contention the scheduler gives them about a tenth of a normal thread's share, and a waking WAL
// or append thread preempts them (objectstore::lower_current_thread_priority says why not
// SCHED_IDLE). Metadata lookups and fetch callbacks are NOT niced: they take
// locks (controller, broker) that the append/produce path needs, and a starved niced holder
// would invert priorities.
inline constexpr int kColdReadNice = 10;

// The CPU-heavy part of cold reads (block parsing here, and a local-dir cold store's reads, which
// copy from the page cache) gets at most half of the machine's cores, at least one: the other half
// stays free for the append path, so a waking WAL or produce thread usually finds an idle core
// instead of having to preempt a cold reader. (Measured by bench/stream_bench: on 2 cores, two
// cold I/O threads raised the appends' p99 by 1.2-1.6x; one left it unchanged, and the reader
// pulled about 10% less.) Object GETs do not hold these threads while they wait.
size_t cold_read_cpu_threads_default();

struct StreamManagerOptions {
  NodeId node_id;
  std::string key_prefix = "data";                    // object keys: <prefix>/<hash>/<object id>
  uint64_t cache_size_bytes = 256ull << 20;           // s3.wal.cache.size
  uint64_t upload_threshold_bytes = 100ull << 20;     // s3.wal.upload.threshold
  int64_t upload_interval_ms = 30000;
  uint64_t stream_object_threshold_bytes = 16ull << 20;
  uint64_t block_target_bytes = object_format::kBlockTargetBytes;
  size_t max_waiting_appends = 4096;
  int64_t prepare_ttl_ms = 600000;                    // prepared-but-uncommitted objects expire
  uint32_t retry_base_ms = 20;
  uint32_t retry_max_ms = 2000;
  uint64_t block_cache_size_bytes = 128ull << 20;     // s3.block.cache.size
  size_t cold_read_threads = 2;                       // cold fetches served at once (coordination)
  size_t cold_read_cpu_threads = 0;                   // block parsing threads; 0: cold_read_cpu_threads_default()
  // The cold store's GETs are CPU work (a local directory's: page-cache copies): block and
  // readahead GETs then run on the cold I/O pool, which waits for each, so reading and parsing
  // share its cold_read_cpu_threads budget. Otherwise (S3) GETs wait on the store's threads and
  // hold no cold I/O thread.
  bool cold_gets_are_cpu_work = false;
  size_t cold_read_queue = 1024;
  int cold_read_nice = kColdReadNice;                 // nice increment of the cold I/O threads
  uint32_t readahead_blocks = 2;
  int64_t compaction_interval_ms = 0;                 // 0: only compact_now()/gc_now()
  CompactionOptions compaction;
  std::function<int64_t()> now_ms;                    // wall clock (GC delays); default steady clock
  std::function<void()> block_parse_hook_for_test;    // runs where a cold read parses a block
};

struct FetchResult {
  std::vector<Batch> batches;  // whole batches, exactly as appended, starting with the one holding start
  bool from_log_cache = false;
};

struct StreamManagerStats {
  uint64_t appends = 0;
  uint64_t append_bytes = 0;
  uint64_t append_waits = 0;          // appends that waited for cache room (backpressure)
  uint64_t uploads = 0;               // upload rounds committed
  uint64_t stream_set_objects = 0;
  uint64_t stream_objects = 0;
  uint64_t upload_bytes = 0;          // object bytes PUT by uploads
  uint64_t put_attempts = 0;
  uint64_t put_failures = 0;
  uint64_t cache_fetches = 0;
  uint64_t cold_fetches = 0;
  uint64_t cold_reads_in_flight = 0;  // gauge: cold fetches and readahead reads queued or running
  uint64_t object_gets = 0;
  uint64_t readahead_gets = 0;
  uint64_t block_cache_hits = 0;
  uint64_t block_cache_misses = 0;
  uint64_t cache_used_bytes = 0;
  uint64_t unuploaded_bytes = 0;
  uint64_t recovered_entries = 0;
  uint64_t recovered_uploaded = 0;
  uint64_t compactions = 0;
  uint64_t gc_deleted_objects = 0;
};

class StreamManager;

using AppendCallback = std::function<void(Result<Offset>)>;  // the stream's new end offset
using FetchCallback = std::function<void(Result<FetchResult>)>;
using DoneCallback = std::function<void(Result<Done>)>;

// A handle on one open stream. Obtained from StreamManager::open_stream; valid until closed.
class Stream : public std::enable_shared_from_this<Stream> {
 public:
  StreamId id() const { return id_; }
  StreamEpoch epoch() const { return epoch_; }
  Offset start_offset() const;
  Offset end_offset() const;  // durable end: fetches see offsets below it

  // REQUIRES: batch.record_count > 0. Contiguous: batch.base_offset == the end of the last append.
  void append(Batch batch, AppendCallback done);
  // Batches covering offsets from start, whole, until max_bytes is reached (at least one batch).
  // start == end offset yields no batches.
  void fetch(Offset start, uint64_t max_bytes, FetchCallback done);
  // Moves the start offset up (retention, DeleteRecords). REQUIRES: new_start <= end offset.
  void trim(Offset new_start, DoneCallback done);
  // Stops appends, uploads the stream's cached tail, commits, closes it in metadata.
  void close(DoneCallback done);

 private:
  friend class StreamManager;
  struct Cached {
    Batch batch;
    uint64_t seq = 0;
    bool durable = false;
  };
  enum class State { open, closing, closed, fenced };
  Stream(StreamManager* manager, StreamId id, StreamEpoch epoch) : manager_(manager), id_(id), epoch_(epoch) {}

  StreamManager* manager_;
  const StreamId id_;
  const StreamEpoch epoch_;
  // Guarded by manager_->mu_.
  State state_ = State::open;
  Offset start_;
  Offset end_;           // durable end
  Offset next_;          // end including appends in flight or waiting
  Offset uploaded_end_;  // end of the data committed to objects
  std::deque<Cached> cache_;  // contiguous batches [cache_.front().base, next_)
  Offset last_cold_end_{-1};  // for readahead: where the last cold read stopped
};

class StreamManager {
 public:
  // Recovers (see above), then starts the threads. Blocks: call at startup, off any asio thread.
  // cold_store may be null (then cold reads use store).
  static Result<std::unique_ptr<StreamManager>> open(StreamManagerOptions options, std::unique_ptr<wal::Wal> wal,
                                                      std::vector<wal::RecoveredEntry> recovered,
                                                      std::shared_ptr<objectstore::ObjectStore> store,
                                                      std::shared_ptr<objectstore::ObjectStore> cold_store,
                                                      std::shared_ptr<StreamMetadata> metadata);
  ~StreamManager();

  // Opens (bumping the epoch) a stream created in metadata. Errc::invalid_value if already open here.
  void open_stream(StreamId id, std::function<void(Result<std::shared_ptr<Stream>>)> done);
  // Uploads everything appended before this call; done once committed (or on error/shutdown).
  void flush(DoneCallback done);
  // One compaction round / one GC pass, on the calling thread (tests, the maintenance thread).
  // REQUIRES: not called from a store, WAL or metadata callback.
  Status compact_now();
  Status gc_now();
  StreamManagerStats stats() const;
  // The WAL's own counters (thread-safe, like stats()).
  wal::WalStats wal_stats() const { return wal_->stats(); }
  std::string object_key(ObjectId id) const;
  // Checkpoints of streams' users (stream/checkpoints.h), in the data store.
  const std::shared_ptr<StreamCheckpoints>& checkpoints() const { return checkpoints_; }
  // Fails waiting appends, stops the threads, closes the WAL. Data not yet uploaded stays in the
  // WAL for recovery. Idempotent; the destructor calls it.
  void close();

 private:
  friend class Stream;
  struct Slot {  // one WAL append, in append order
    uint64_t seq = 0;
    bool durable = false;
    bool uploaded = false;
    uint64_t wal_end = 0;
  };
  struct Waiting {
    std::shared_ptr<Stream> stream;
    Batch batch;
    AppendCallback done;
  };
  struct PendingRange {
    std::shared_ptr<Stream> stream;  // null during recovery
    StreamRange range;
    std::vector<Batch> batches;
    std::vector<uint64_t> seqs;
    uint64_t bytes = 0;
  };
  struct FlushRequest {
    uint64_t target_seq = 0;
    DoneCallback done;
  };
  using Deferred = std::vector<std::function<void()>>;

  StreamManager(StreamManagerOptions options, std::unique_ptr<wal::Wal> wal,
                std::shared_ptr<objectstore::ObjectStore> store, std::shared_ptr<objectstore::ObjectStore> cold_store,
                std::shared_ptr<StreamMetadata> metadata);
  Status recover(std::vector<wal::RecoveredEntry> recovered);
  void start_threads();

  // Append path (mu_ held where named _locked).
  void append(const std::shared_ptr<Stream>& s, Batch batch, AppendCallback done);
  Status check_append_locked(const Stream& s, const Batch& batch) const;
  void submit_locked(const std::shared_ptr<Stream>& s, Batch batch, AppendCallback done, Deferred& deferred);
  void on_wal_done(const std::shared_ptr<Stream>& s, uint64_t seq, uint64_t bytes, Result<wal::Position> r,
                   AppendCallback done);
  void evict_locked(uint64_t need_bytes);
  void drain_waiting_locked(Deferred& deferred);

  // Read path.
  void fetch(const std::shared_ptr<Stream>& s, Offset start, uint64_t max_bytes, FetchCallback done);
  Result<FetchResult> cold_fetch(const std::shared_ptr<Stream>& s, Offset start, Offset limit, uint64_t max_bytes);
  Result<std::vector<BlockIndexEntry>> object_index(ObjectId id, uint64_t object_size_bytes);
  // The block from the cache or an asynchronous GET (the cold store's niced threads), then
  // parse_block on cold_io_pool_ (niced), waited for here; inline when that queue is full or
  // stopped.
  Result<std::vector<Batch>> read_block_niced(ObjectId id, const BlockIndexEntry& e);
  // An asynchronous GET of a block the next sequential fetch will want, into the block cache;
  // skipped when readahead_limit() GETs are already in flight.
  void start_readahead(ObjectId id, const BlockIndexEntry& e);
  size_t readahead_limit() const;
  void trim(const std::shared_ptr<Stream>& s, Offset new_start, DoneCallback done);
  void close_stream(const std::shared_ptr<Stream>& s, DoneCallback done);

  // Upload path (uploader thread).
  void uploader_loop();
  bool upload_due_locked() const;
  void upload_round();
  Status upload_ranges(std::vector<PendingRange>& ranges);
  Result<objectstore::PutResult> put_with_retry(const std::string& key, SharedBytes body);
  void handle_fenced(std::vector<PendingRange>& ranges);
  void mark_uploaded(std::vector<PendingRange>& ranges);
  void finish_flushes_locked(Deferred& deferred);
  uint64_t upload_watermark_locked() const;
  bool sleep_unless_stopping(uint32_t ms);
  void maintenance_loop();

  int64_t now_ms() const;

  StreamManagerOptions options_;
  std::unique_ptr<wal::Wal> wal_;
  std::shared_ptr<StreamCheckpoints> checkpoints_;
  std::shared_ptr<objectstore::ObjectStore> store_;
  std::shared_ptr<objectstore::ObjectStore> cold_store_;
  std::shared_ptr<StreamMetadata> meta_;
  BlockCache block_cache_;

  mutable std::mutex mu_;
  std::condition_variable upload_cv_;
  std::map<StreamId, std::shared_ptr<Stream>> streams_;
  std::deque<Slot> slots_;
  uint64_t next_seq_ = 1;
  std::deque<Waiting> waiting_;
  std::deque<std::pair<std::shared_ptr<Stream>, Offset>> evictable_;  // uploaded ranges, oldest first
  std::vector<FlushRequest> flushes_;
  uint64_t cache_used_bytes_ = 0;
  uint64_t unuploaded_bytes_ = 0;          // cached, not yet committed (durable or not)
  uint64_t durable_unuploaded_bytes_ = 0;  // of which durable (what an upload can take now)
  int64_t last_upload_ms_ = 0;
  bool wal_failed_ = false;
  bool stopping_ = false;
  bool closed_ = false;
  StreamManagerStats stats_;
  std::atomic<uint64_t> object_gets_{0};
  std::atomic<uint64_t> readahead_gets_{0};
  std::atomic<uint64_t> cold_fetches_{0};

  std::thread uploader_;
  std::thread maintenance_;
  std::atomic<uint64_t> cold_in_flight_{0};  // cold fetches + readahead reads queued or running
  std::unique_ptr<objectstore::WorkerPool> cold_pool_;     // normal priority: coordination, callbacks
  std::unique_ptr<objectstore::WorkerPool> cold_io_pool_;  // cold_read_nice, cold_read_cpu_threads: parsing
  // Cold-store GET callbacks touch this object (the block cache, cold_io_pool_) from the store's
  // threads, which close() does not join: it waits until none is left.
  std::mutex gets_mu_;
  std::condition_variable gets_cv_;
  size_t gets_in_flight_ = 0;       // guarded by gets_mu_: asynchronous GETs whose callback has not finished
  size_t readahead_in_flight_ = 0;  // guarded by gets_mu_: of which readahead
  // A GET's answer for block `e`: checked (status, size) and put in the block cache.
  Result<SharedBytes> accept_block(ObjectId id, const BlockIndexEntry& e, Result<objectstore::GetResult> got);
  // GETs block `e` and waits for it on this thread (cold_gets_are_cpu_work: a cold I/O thread).
  Result<SharedBytes> get_block_here(ObjectId id, const BlockIndexEntry& e);
  bool begin_get(bool readahead);   // false: a readahead beyond readahead_limit() (not started)
  void end_get(bool readahead);     // the callback's last touch of this object
  std::mutex compaction_mu_;  // one compaction or GC at a time
  uint32_t retry_attempts_max_ = 0;  // 0: retry until close() (recovery bounds it)
};

}  // namespace floe::stream
