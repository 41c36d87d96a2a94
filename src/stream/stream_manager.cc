#include "stream/stream_manager.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <future>

#include "common/log.h"
#include "objectstore/blocking.h"

namespace floe::stream {

namespace {

constexpr size_t kWalHeaderBytes = 8;  // u32 record count, u32 reserved: before the batch in a WAL payload
constexpr uint64_t kIndexCacheKey = ~uint64_t{0};
constexpr uint64_t kIndexTailBytes = 64 << 10;  // first GET of an object's tail: footer + (usually) index

// Where the WAL's callback for the append being made on this thread lands if it runs inline.
struct InlineSlot {
  bool called = false;
  Error error;
};
thread_local InlineSlot* tl_inline = nullptr;

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void run_all(std::vector<std::function<void()>>& deferred) {
  for (auto& f : deferred) f();
  deferred.clear();
}

Error stream_error(Errc code, StreamId id, const std::string& what) {
  return Error(code, "stream " + id.to_string() + ": " + what);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Stream handle: every method forwards to the manager, which owns the state.

Offset Stream::start_offset() const {
  std::lock_guard lk(manager_->mu_);
  return start_;
}
Offset Stream::end_offset() const {
  std::lock_guard lk(manager_->mu_);
  return end_;
}
void Stream::append(Batch batch, AppendCallback done) {
  manager_->append(shared_from_this(), std::move(batch), std::move(done));
}
void Stream::fetch(Offset start, uint64_t max_bytes, FetchCallback done) {
  manager_->fetch(shared_from_this(), start, max_bytes, std::move(done));
}
void Stream::trim(Offset new_start, DoneCallback done) { manager_->trim(shared_from_this(), new_start, std::move(done)); }
void Stream::close(DoneCallback done) { manager_->close_stream(shared_from_this(), std::move(done)); }

// ---------------------------------------------------------------------------------------------
// Lifecycle

StreamManager::StreamManager(StreamManagerOptions options, std::unique_ptr<wal::Wal> wal,
                             std::shared_ptr<objectstore::ObjectStore> store,
                             std::shared_ptr<objectstore::ObjectStore> cold_store,
                             std::shared_ptr<StreamMetadata> metadata)
    : options_(std::move(options)),
      wal_(std::move(wal)),
      store_(std::move(store)),
      cold_store_(cold_store ? std::move(cold_store) : store_),
      meta_(std::move(metadata)),
      block_cache_(options_.block_cache_size_bytes) {
  if (!options_.now_ms) options_.now_ms = steady_ms;
  checkpoints_ = std::make_shared<StreamCheckpoints>(store_);
  FLOE_ASSERT(options_.upload_threshold_bytes <= options_.cache_size_bytes);
}

Result<std::unique_ptr<StreamManager>> StreamManager::open(StreamManagerOptions options, std::unique_ptr<wal::Wal> wal,
                                                            std::vector<wal::RecoveredEntry> recovered,
                                                            std::shared_ptr<objectstore::ObjectStore> store,
                                                            std::shared_ptr<objectstore::ObjectStore> cold_store,
                                                            std::shared_ptr<StreamMetadata> metadata) {
  std::unique_ptr<StreamManager> m(
      new StreamManager(std::move(options), std::move(wal), std::move(store), std::move(cold_store), std::move(metadata)));
  if (auto st = m->recover(std::move(recovered)); !st.ok()) {
    m->close();
    return st.take_error();
  }
  m->start_threads();
  return m;
}

size_t cold_read_cpu_threads_default() {
  return std::max<size_t>(1, std::thread::hardware_concurrency() / 2);
}

void StreamManager::start_threads() {
  last_upload_ms_ = now_ms();
  // Coordination (metadata, indexes, callbacks) at normal priority; block GETs and parsing niced.
  cold_pool_ = std::make_unique<objectstore::WorkerPool>(options_.cold_read_threads, options_.cold_read_queue);
  const size_t cpu_threads =
      options_.cold_read_cpu_threads > 0 ? options_.cold_read_cpu_threads : cold_read_cpu_threads_default();
  cold_io_pool_ = std::make_unique<objectstore::WorkerPool>(cpu_threads, options_.cold_read_queue, options_.cold_read_nice);
  uploader_ = std::thread([this] { uploader_loop(); });
  if (options_.compaction_interval_ms > 0) maintenance_ = std::thread([this] { maintenance_loop(); });
}

StreamManager::~StreamManager() { close(); }

void StreamManager::close() {
  Deferred deferred;
  {
    std::lock_guard lk(mu_);
    if (closed_) return;
    closed_ = true;
    stopping_ = true;
    for (auto& w : waiting_) {
      w.stream->state_ = Stream::State::fenced;  // its reserved offsets will never be written
      deferred.push_back([d = std::move(w.done)] { d(Error(Errc::fenced, "stream manager closed")); });
    }
    waiting_.clear();
    for (auto& f : flushes_) deferred.push_back([d = std::move(f.done)] { d(Error(Errc::fenced, "stream manager closed")); });
    flushes_.clear();
  }
  upload_cv_.notify_all();
  run_all(deferred);
  if (uploader_.joinable()) uploader_.join();
  if (maintenance_.joinable()) maintenance_.join();
  if (cold_pool_) cold_pool_->stop();  // first: its tasks may still hand block reads to cold_io_pool_
  if (cold_io_pool_) cold_io_pool_->stop();
  {
    // Asynchronous GETs complete on the cold store's threads (bounded by its timeouts) and their
    // callbacks touch this object: wait for the last one.
    std::unique_lock lk(gets_mu_);
    gets_cv_.wait(lk, [this] { return gets_in_flight_ == 0; });
  }
  if (wal_) wal_->close();
}

int64_t StreamManager::now_ms() const { return options_.now_ms(); }

std::string StreamManager::object_key(ObjectId id) const {
  return objectstore::hashed_object_key(options_.key_prefix, id.value());
}

StreamManagerStats StreamManager::stats() const {
  // The block cache's mutex is also taken by niced cold-read threads: read it without mu_ held,
  // so a preempted niced thread can never make an mu_ holder (and so the append path) wait.
  const uint64_t block_cache_hits = block_cache_.hits();
  const uint64_t block_cache_misses = block_cache_.misses();
  std::lock_guard lk(mu_);
  StreamManagerStats s = stats_;
  s.cache_used_bytes = cache_used_bytes_;
  s.unuploaded_bytes = unuploaded_bytes_;
  s.object_gets = object_gets_.load();
  s.readahead_gets = readahead_gets_.load();
  s.cold_fetches = cold_fetches_.load();
  s.cold_reads_in_flight = cold_in_flight_.load();
  s.block_cache_hits = block_cache_hits;
  s.block_cache_misses = block_cache_misses;
  return s;
}

void StreamManager::open_stream(StreamId id, std::function<void(Result<std::shared_ptr<Stream>>)> done) {
  // Early answers are decided under mu_ and given after it is released: a callback may call back
  // into this manager (which would deadlock on mu_, a plain mutex).
  std::optional<Error> refused;
  {
    std::lock_guard lk(mu_);
    if (stopping_) refused = Error(Errc::fenced, "stream manager closed");
    else if (auto it = streams_.find(id); it != streams_.end() && it->second->state_ != Stream::State::closed)
      refused = stream_error(Errc::invalid_value, id, "already open on this node");
  }
  if (refused) return done(std::move(*refused));
  meta_->open_stream(id, options_.node_id, [this, done = std::move(done)](Result<StreamInfo> r) {
    if (!r.ok()) return done(r.take_error());
    auto s = std::shared_ptr<Stream>(new Stream(this, r->id, r->epoch));
    s->start_ = r->start_offset;
    s->end_ = s->next_ = s->uploaded_end_ = r->end_offset;
    if (s->start_ > s->end_) s->start_ = s->end_;
    {
      std::lock_guard lk(mu_);
      streams_[s->id()] = s;
    }
    done(s);
  });
}

// ---------------------------------------------------------------------------------------------
// Append path

Status StreamManager::check_append_locked(const Stream& s, const Batch& batch) const {
  if (stopping_) return stream_error(Errc::fenced, s.id(), "stream manager closed");
  if (wal_failed_) return stream_error(Errc::fenced, s.id(), "the WAL failed; reopen");
  if (s.state_ == Stream::State::fenced) return stream_error(Errc::fenced, s.id(), "fenced (stale epoch or failed)");
  if (s.state_ != Stream::State::open) return stream_error(Errc::not_found, s.id(), "closed");
  if (batch.record_count == 0) return stream_error(Errc::invalid_value, s.id(), "batch with no records");
  if (batch.base_offset != s.next_)
    return stream_error(Errc::invalid_value, s.id(),
                        "append at " + std::to_string(batch.base_offset.value()) + " but the stream ends at " +
                            std::to_string(s.next_.value()));
  if (batch.bytes.size() + kWalHeaderBytes > options_.cache_size_bytes)
    return stream_error(Errc::too_large, s.id(), "batch of " + std::to_string(batch.bytes.size()) +
                                                     " bytes is larger than the log cache");
  return {};
}

void StreamManager::append(const std::shared_ptr<Stream>& s, Batch batch, AppendCallback done) {
  Deferred deferred;
  {
    std::lock_guard lk(mu_);
    Status st = check_append_locked(*s, batch);
    if (!st.ok()) {
      deferred.push_back([done = std::move(done), e = st.take_error()]() mutable { done(std::move(e)); });
    } else {
      uint64_t bytes = batch.bytes.size();
      if (waiting_.empty() && cache_used_bytes_ + bytes > options_.cache_size_bytes) evict_locked(bytes);
      if (!waiting_.empty() || cache_used_bytes_ + bytes > options_.cache_size_bytes) {
        // Invariant (1): no room; wait (bounded) for the uploader to free some.
        if (waiting_.size() >= options_.max_waiting_appends) {
          deferred.push_back([done = std::move(done), id = s->id()] {
            done(stream_error(Errc::too_large, id, "log cache full and too many appends waiting"));
          });
        } else {
          s->next_ = batch.end_offset();
          ++stats_.append_waits;
          waiting_.push_back(Waiting{s, std::move(batch), std::move(done)});
          upload_cv_.notify_one();
        }
      } else {
        s->next_ = batch.end_offset();
        submit_locked(s, std::move(batch), std::move(done), deferred);
      }
    }
  }
  run_all(deferred);
}

void StreamManager::submit_locked(const std::shared_ptr<Stream>& s, Batch batch, AppendCallback done, Deferred& deferred) {
  // The WAL payload carries the record count ahead of the batch; the cache keeps a slice of the
  // same buffer, so the batch is copied once.
  size_t n = batch.bytes.size();
  auto buffer = std::make_shared<Bytes>(kWalHeaderBytes + n);
  le::put_u32(buffer->data(), batch.record_count);
  le::put_u32(buffer->data() + 4, 0);
  if (n) std::memcpy(buffer->data() + kWalHeaderBytes, batch.bytes.data(), n);
  std::shared_ptr<const Bytes> owner = buffer;
  SharedBytes payload(owner, owner->data(), owner->size());
  batch.bytes = payload.slice(kWalHeaderBytes, n);

  uint64_t seq = next_seq_++;
  slots_.push_back(Slot{seq, false, false, 0});
  Offset base = batch.base_offset;
  Offset end = batch.end_offset();
  s->cache_.push_back(Stream::Cached{batch, seq, false});
  cache_used_bytes_ += n;
  unuploaded_bytes_ += n;
  ++stats_.appends;
  stats_.append_bytes += n;

  InlineSlot slot;
  InlineSlot* saved = tl_inline;
  tl_inline = &slot;
  auto cb = [this, s, seq, n, done](Result<wal::Position> r) mutable {
    if (tl_inline != nullptr) {  // refused at once, on this thread, while mu_ is held
      tl_inline->called = true;
      tl_inline->error = r.ok() ? Error(Errc::internal, "WAL completed inline") : r.take_error();
      return;
    }
    on_wal_done(s, seq, n, std::move(r), std::move(done));
  };
  wal_->append(wal::Entry{s->id(), s->epoch(), base, payload}, std::move(cb));
  tl_inline = saved;
  if (!slot.called) return;
  // Undo: the WAL never took it.
  slots_.pop_back();
  --next_seq_;
  s->cache_.pop_back();
  cache_used_bytes_ -= n;
  unuploaded_bytes_ -= n;
  --stats_.appends;
  stats_.append_bytes -= n;
  if (s->next_ == end) s->next_ = base;
  else s->state_ = Stream::State::fenced;  // later appends were admitted behind this one
  deferred.push_back([done = std::move(done), e = std::move(slot.error)]() mutable { done(std::move(e)); });
}

void StreamManager::on_wal_done(const std::shared_ptr<Stream>& s, uint64_t seq, uint64_t bytes,
                                Result<wal::Position> r, AppendCallback done) {
  Result<Offset> answer = Offset(0);
  {
    std::lock_guard lk(mu_);
    FLOE_ASSERT(!slots_.empty() && seq >= slots_.front().seq);
    Slot& slot = slots_[seq - slots_.front().seq];
    FLOE_ASSERT(slot.seq == seq);
    auto it = std::find_if(s->cache_.begin(), s->cache_.end(), [&](const Stream::Cached& c) { return c.seq == seq; });
    FLOE_ASSERT(it != s->cache_.end());
    if (r.ok()) {
      slot.durable = true;
      slot.wal_end = r->end;
      it->durable = true;
      FLOE_ASSERT(it->batch.base_offset == s->end_);
      s->end_ = it->batch.end_offset();
      durable_unuploaded_bytes_ += bytes;
      answer = s->end_;
      if (durable_unuploaded_bytes_ >= options_.upload_threshold_bytes || !flushes_.empty() || !waiting_.empty())
        upload_cv_.notify_one();
    } else {
      // The WAL failed (BlockWal invariant 3): nothing after this is durable. The entry may or may
      // not survive; the stream must be reopened (recovery settles it).
      wal_failed_ = true;
      slot.durable = slot.uploaded = true;
      slot.wal_end = seq > slots_.front().seq ? slots_[seq - slots_.front().seq - 1].wal_end : 0;
      s->state_ = Stream::State::fenced;
      s->cache_.erase(it);
      cache_used_bytes_ -= bytes;
      unuploaded_bytes_ -= bytes;
      answer = r.take_error();
    }
  }
  done(std::move(answer));
}

void StreamManager::evict_locked(uint64_t need_bytes) {
  while (cache_used_bytes_ + need_bytes > options_.cache_size_bytes && !evictable_.empty()) {
    auto [s, upto] = evictable_.front();
    evictable_.pop_front();
    while (!s->cache_.empty() && s->cache_.front().batch.end_offset() <= upto &&
           s->cache_.front().batch.end_offset() <= s->uploaded_end_) {
      cache_used_bytes_ -= s->cache_.front().batch.bytes.size();
      s->cache_.pop_front();
    }
  }
}

void StreamManager::drain_waiting_locked(Deferred& deferred) {
  while (!waiting_.empty()) {
    Waiting& w = waiting_.front();
    uint64_t bytes = w.batch.bytes.size();
    if (cache_used_bytes_ + bytes > options_.cache_size_bytes) evict_locked(bytes);
    if (cache_used_bytes_ + bytes > options_.cache_size_bytes) return;
    Waiting taken = std::move(w);
    waiting_.pop_front();
    if (taken.stream->state_ != Stream::State::open || wal_failed_) {
      taken.stream->state_ = Stream::State::fenced;
      deferred.push_back([d = std::move(taken.done), id = taken.stream->id()] {
        d(stream_error(Errc::fenced, id, "closed or failed while the append waited"));
      });
      continue;
    }
    submit_locked(taken.stream, std::move(taken.batch), std::move(taken.done), deferred);
  }
}

// ---------------------------------------------------------------------------------------------
// Read path

void StreamManager::fetch(const std::shared_ptr<Stream>& s, Offset start, uint64_t max_bytes, FetchCallback done) {
  Offset limit;
  {
    std::unique_lock lk(mu_);
    if (s->state_ == Stream::State::closed) return lk.unlock(), done(stream_error(Errc::not_found, s->id(), "closed"));
    if (start < s->start_ || start > s->end_) {
      Error e = stream_error(Errc::not_found, s->id(),
                             "offset " + std::to_string(start.value()) + " is outside [" +
                                 std::to_string(s->start_.value()) + ", " + std::to_string(s->end_.value()) + "]");
      lk.unlock();
      return done(std::move(e));
    }
    FetchResult result;
    result.from_log_cache = true;
    if (start == s->end_) return lk.unlock(), done(std::move(result));
    auto& cache = s->cache_;
    if (!cache.empty() && cache.front().batch.base_offset <= start) {
      auto it = std::upper_bound(cache.begin(), cache.end(), start, [](Offset o, const Stream::Cached& c) {
        return o < c.batch.base_offset;
      });
      --it;  // the batch holding start
      uint64_t bytes = 0;
      for (; it != cache.end() && it->durable; ++it) {
        if (!result.batches.empty() && bytes + it->batch.bytes.size() > max_bytes) break;
        bytes += it->batch.bytes.size();
        result.batches.push_back(it->batch);
      }
      ++stats_.cache_fetches;
      lk.unlock();
      return done(std::move(result));
    }
    limit = cache.empty() ? s->end_ : cache.front().batch.base_offset;
  }
  cold_fetches_.fetch_add(1);
  cold_in_flight_.fetch_add(1);
  auto task = [this, s, start, limit, max_bytes, done] {
    done(cold_fetch(s, start, limit, max_bytes));  // on a normal-priority thread (see Threads)
    cold_in_flight_.fetch_sub(1);
  };
  if (!cold_pool_->submit(task)) {
    cold_in_flight_.fetch_sub(1);
    done(stream_error(Errc::too_large, s->id(), "cold read queue full"));
  }
}

Result<FetchResult> StreamManager::cold_fetch(const std::shared_ptr<Stream>& s, Offset start, Offset limit,
                                              uint64_t max_bytes) {
  FetchResult result;
  uint64_t bytes = 0;
  Offset cur = start;
  bool sequential = false;
  {
    std::lock_guard lk(mu_);
    sequential = s->last_cold_end_ == start;
  }
  std::vector<std::pair<ObjectId, BlockIndexEntry>> ahead;  // readahead candidates
  while (cur < limit && (result.batches.empty() || bytes < max_bytes)) {
    auto slices = meta_wait<std::vector<ObjectSlice>>(
        [&](auto cb) { meta_->list_objects(s->id(), cur, limit, 16, std::move(cb)); });
    if (!slices.ok()) return slices.take_error();
    if (slices->empty() || slices->front().start_offset > cur)
      return stream_error(Errc::not_found, s->id(), "no object holds offset " + std::to_string(cur.value()));
    for (const auto& slice : *slices) {
      if (slice.start_offset > cur || cur >= limit || (!result.batches.empty() && bytes >= max_bytes)) break;
      auto index = object_index(slice.object_id, slice.object_size_bytes);
      if (!index.ok()) return index.take_error();
      Offset slice_end = std::min(slice.end_offset, limit);
      for (size_t i = 0; i < index->size(); ++i) {
        const auto& e = (*index)[i];
        if (e.stream_id != s->id() || e.end_offset <= cur || e.start_offset >= slice_end) continue;
        if (cur >= slice_end || (!result.batches.empty() && bytes >= max_bytes)) {
          ahead.emplace_back(slice.object_id, e);
          if (ahead.size() >= options_.readahead_blocks) break;
          continue;
        }
        auto batches = read_block_niced(slice.object_id, e);
        if (!batches.ok()) return batches.take_error();
        for (auto& b : *batches) {
          if (b.end_offset() <= cur) continue;
          if (b.base_offset >= slice_end) break;
          if (!result.batches.empty() && bytes + b.bytes.size() > max_bytes) {
            bytes = max_bytes;  // full
            break;
          }
          bytes += b.bytes.size();
          cur = b.end_offset();
          result.batches.push_back(std::move(b));
        }
      }
    }
  }
  {
    std::lock_guard lk(mu_);
    s->last_cold_end_ = cur;
  }
  if (sequential && options_.readahead_blocks > 0) {
    for (auto& [object, entry] : ahead) {
      if (!block_cache_.contains(object, entry.position)) start_readahead(object, entry);
    }
  }
  return result;
}

size_t StreamManager::readahead_limit() const {
  return std::max<size_t>(4, 2 * options_.readahead_blocks * options_.cold_read_threads);
}

void StreamManager::start_readahead(ObjectId id, const BlockIndexEntry& e) {
  if (!begin_get(true)) return;  // enough already in flight: skip
  cold_in_flight_.fetch_add(1);
  readahead_gets_.fetch_add(1);
  if (options_.cold_gets_are_cpu_work) {  // the GET is CPU work: on the cold I/O pool's budget
    bool queued = cold_io_pool_->submit([this, id, e] {
      (void)get_block_here(id, e);
      cold_in_flight_.fetch_sub(1);
      end_get(true);
    });
    if (!queued) {  // queue full or stopped: skip this readahead
      cold_in_flight_.fetch_sub(1);
      end_get(true);
    }
    return;
  }
  cold_store_->get(object_key(id), {e.position, e.size_bytes}, [this, id, e](Result<objectstore::GetResult> got) {
    // On the cold store's (niced) thread. A failed readahead is only a missed prefetch: the
    // fetch that wants the block GETs it again and reports the error.
    (void)accept_block(id, e, std::move(got));
    cold_in_flight_.fetch_sub(1);
    end_get(true);
  });
}

Result<SharedBytes> StreamManager::accept_block(ObjectId id, const BlockIndexEntry& e, Result<objectstore::GetResult> got) {
  if (!got.ok()) return got.error();
  if (got->body.size() != e.size_bytes) return Error(Errc::truncated, "object " + id.to_string() + ": short block read");
  block_cache_.put(id, e.position, got->body);
  return std::move(got->body);
}

Result<SharedBytes> StreamManager::get_block_here(ObjectId id, const BlockIndexEntry& e) {
  objectstore::BlockingStore blocking(*cold_store_);
  return accept_block(id, e, blocking.get(object_key(id), {e.position, e.size_bytes}));
}

bool StreamManager::begin_get(bool readahead) {
  std::lock_guard lk(gets_mu_);
  if (readahead) {
    if (readahead_in_flight_ >= readahead_limit()) return false;
    ++readahead_in_flight_;
  }
  ++gets_in_flight_;
  return true;
}

void StreamManager::end_get(bool readahead) {
  std::lock_guard lk(gets_mu_);
  if (readahead) --readahead_in_flight_;
  --gets_in_flight_;
  gets_cv_.notify_all();  // under the lock: close() may destroy the cv once it sees 0
}

Result<std::vector<BlockIndexEntry>> StreamManager::object_index(ObjectId id, uint64_t object_size_bytes) {
  namespace of = object_format;
  // Cached as index bytes followed by the footer.
  std::optional<SharedBytes> cached = block_cache_.get(id, kIndexCacheKey);
  if (!cached) {
    if (object_size_bytes < of::kFooterBytes) return Error(Errc::corrupt, "object " + id.to_string() + " too small");
    uint64_t tail = std::min<uint64_t>(object_size_bytes, kIndexTailBytes);
    objectstore::BlockingStore blocking(*cold_store_);
    object_gets_.fetch_add(1);
    auto got = blocking.get(object_key(id), {object_size_bytes - tail, tail});
    if (!got.ok()) return got.error();
    if (got->body.size() != tail) return Error(Errc::truncated, "object " + id.to_string() + ": short read of its tail");
    auto footer = parse_footer(got->body.span().subspan(tail - of::kFooterBytes), object_size_bytes);
    if (!footer.ok()) return footer.take_error();
    uint64_t meta_bytes = footer->index_size_bytes + of::kFooterBytes;
    if (meta_bytes <= tail) {
      cached = got->body.slice(tail - meta_bytes, meta_bytes);
    } else {
      object_gets_.fetch_add(1);
      auto idx = blocking.get(object_key(id), {footer->index_position, meta_bytes});
      if (!idx.ok()) return idx.error();
      if (idx->body.size() != meta_bytes) return Error(Errc::truncated, "object " + id.to_string() + ": short index read");
      cached = idx->body;
    }
    block_cache_.put(id, kIndexCacheKey, *cached);
  }
  auto span = cached->span();
  auto footer = parse_footer(span.subspan(span.size() - of::kFooterBytes), object_size_bytes);
  if (!footer.ok()) return footer.take_error();
  return parse_index(span.first(span.size() - of::kFooterBytes), *footer);
}

Result<std::vector<Batch>> StreamManager::read_block_niced(ObjectId id, const BlockIndexEntry& e) {
  // Touches only the block cache (its own mutex, shared with no append/WAL/controller path) and
  // the cold store: never mu_ or metadata.
  using Parsed = Result<std::vector<Batch>>;
  auto promise = std::make_shared<std::promise<Parsed>>();
  auto future = promise->get_future();
  // Parses on the cold I/O pool (niced, cold_read_cpu_threads), or inline on the thread holding
  // the block (this one after a cache hit, the cold store's after a GET) when that queue is full
  // or stopped: in practice never, as at most cold_read_threads parses are outstanding against
  // cold_read_queue places, and the pool stops only after the coordinating threads are joined.
  auto parse_here = [this, promise, e](const SharedBytes& block) {
    if (options_.block_parse_hook_for_test) options_.block_parse_hook_for_test();
    promise->set_value(parse_block(block, e));
  };
  auto parse_niced = [this, parse_here](SharedBytes block) {
    auto work = [parse_here, block] { parse_here(block); };
    if (!cold_io_pool_->submit(work)) work();
  };
  if (options_.cold_gets_are_cpu_work) {
    // Read (if the cache misses) and parse on one cold I/O thread: both are CPU work.
    auto work = [this, id, e, promise, parse_here] {
      std::optional<SharedBytes> block = block_cache_.get(id, e.position);
      if (!block) {
        object_gets_.fetch_add(1);
        auto got = get_block_here(id, e);
        if (!got.ok()) return promise->set_value(got.error());
        block = std::move(*got);
      }
      parse_here(*block);
    };
    if (!cold_io_pool_->submit(work)) work();
  } else if (auto hit = block_cache_.get(id, e.position)) {
    parse_niced(std::move(*hit));
  } else {
    object_gets_.fetch_add(1);
    // The GET waits on the cold store's threads, not on a cold I/O thread: a slow object store
    // does not take CPU slots from parsing.
    (void)begin_get(false);
    cold_store_->get(object_key(id), {e.position, e.size_bytes},
                     [this, id, e, promise, parse_niced](Result<objectstore::GetResult> got) {
                       // The caller moves on once the promise is set, and may close this
                       // manager at once: close() waits for end_get, this callback's last touch.
                       auto block = accept_block(id, e, std::move(got));
                       if (!block.ok()) promise->set_value(block.error());
                       else parse_niced(std::move(*block));  // submits to cold_io_pool_
                       end_get(false);
                     });
  }
  return future.get();
}

void StreamManager::trim(const std::shared_ptr<Stream>& s, Offset new_start, DoneCallback done) {
  std::optional<Result<Done>> answer;  // given after mu_ is released (see open_stream)
  {
    std::lock_guard lk(mu_);
    if (s->state_ == Stream::State::fenced) answer = stream_error(Errc::fenced, s->id(), "fenced");
    else if (s->state_ != Stream::State::open) answer = stream_error(Errc::not_found, s->id(), "closed");
    else if (new_start > s->end_)
      answer = stream_error(Errc::invalid_value, s->id(), "trim to " + std::to_string(new_start.value()) +
                                                              " beyond the end " + std::to_string(s->end_.value()));
    else if (new_start <= s->start_) answer = Result<Done>(Done{});
  }
  if (answer) return done(std::move(*answer));
  meta_->trim_stream(s->id(), s->epoch(), new_start, [this, s, new_start, done](Result<Done> r) {
    if (r.ok()) {
      std::lock_guard lk(mu_);
      if (new_start > s->start_) s->start_ = new_start;
    } else if (r.error().code == Errc::fenced) {
      std::lock_guard lk(mu_);
      s->state_ = Stream::State::fenced;
    }
    done(std::move(r));
  });
}

void StreamManager::close_stream(const std::shared_ptr<Stream>& s, DoneCallback done) {
  bool already_closed = false;  // answered after mu_ is released (see open_stream)
  {
    std::lock_guard lk(mu_);
    if (s->state_ == Stream::State::closed || s->state_ == Stream::State::closing) already_closed = true;
    else if (s->state_ == Stream::State::open) s->state_ = Stream::State::closing;
  }
  if (already_closed) return done(stream_error(Errc::not_found, s->id(), "already closed"));
  flush([this, s, done](Result<Done> flushed) {
    if (!flushed.ok()) return done(std::move(flushed));
    meta_->close_stream(s->id(), s->epoch(), [this, s, done](Result<Done> r) {
      {
        std::lock_guard lk(mu_);
        if (s->state_ != Stream::State::fenced) s->state_ = Stream::State::closed;
        for (auto& c : s->cache_) cache_used_bytes_ -= c.batch.bytes.size();
        s->cache_.clear();
        if (auto it = streams_.find(s->id()); it != streams_.end() && it->second == s) streams_.erase(it);
      }
      done(std::move(r));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Upload path (uploader thread)

void StreamManager::flush(DoneCallback done) {
  {
    std::lock_guard lk(mu_);
    if (!stopping_) {
      flushes_.push_back(FlushRequest{next_seq_, std::move(done)});
      upload_cv_.notify_one();
      return;
    }
  }
  done(Error(Errc::fenced, "stream manager closed"));
}

uint64_t StreamManager::upload_watermark_locked() const {
  for (const auto& slot : slots_)
    if (!slot.uploaded) return slot.seq;
  return next_seq_;
}

void StreamManager::finish_flushes_locked(Deferred& deferred) {
  if (flushes_.empty()) return;
  uint64_t watermark = upload_watermark_locked();
  auto done_end = std::stable_partition(flushes_.begin(), flushes_.end(),
                                        [&](const FlushRequest& f) { return f.target_seq <= watermark; });
  for (auto it = flushes_.begin(); it != done_end; ++it) deferred.push_back([d = std::move(it->done)] { d(Done{}); });
  flushes_.erase(flushes_.begin(), done_end);
}

bool StreamManager::upload_due_locked() const {
  if (stopping_ || durable_unuploaded_bytes_ == 0) return false;
  return durable_unuploaded_bytes_ >= options_.upload_threshold_bytes || !waiting_.empty() || !flushes_.empty() ||
         now_ms() - last_upload_ms_ >= options_.upload_interval_ms;
}

void StreamManager::uploader_loop() {
  std::unique_lock lk(mu_);
  while (!stopping_) {
    Deferred deferred;
    drain_waiting_locked(deferred);
    finish_flushes_locked(deferred);
    if (!deferred.empty()) {
      lk.unlock();
      run_all(deferred);
      lk.lock();
      continue;
    }
    if (upload_due_locked()) {
      lk.unlock();
      upload_round();
      lk.lock();
      continue;
    }
    int64_t wait_ms = std::clamp<int64_t>(options_.upload_interval_ms - (now_ms() - last_upload_ms_), 1, 100);
    upload_cv_.wait_for(lk, std::chrono::milliseconds(wait_ms));
  }
}

bool StreamManager::sleep_unless_stopping(uint32_t ms) {
  std::unique_lock lk(mu_);
  upload_cv_.wait_for(lk, std::chrono::milliseconds(ms), [&] { return stopping_; });
  return !stopping_;
}

void StreamManager::upload_round() {
  std::vector<PendingRange> ranges;
  {
    std::lock_guard lk(mu_);
    for (auto& [id, s] : streams_) {
      if (s->uploaded_end_ >= s->end_) continue;
      PendingRange p{s, StreamRange{id, s->epoch(), s->uploaded_end_, s->uploaded_end_}, {}, {}, 0};
      for (const auto& c : s->cache_) {
        if (!c.durable) break;
        if (c.batch.end_offset() <= s->uploaded_end_) continue;
        p.batches.push_back(c.batch);
        p.seqs.push_back(c.seq);
        p.bytes += c.batch.bytes.size();
      }
      if (p.batches.empty()) continue;
      p.range.end_offset = p.batches.back().end_offset();
      ranges.push_back(std::move(p));
    }
    if (ranges.empty()) {
      last_upload_ms_ = now_ms();
      return;
    }
  }
  Status st = upload_ranges(ranges);
  if (st.ok()) return mark_uploaded(ranges);
  if (st.error().code == Errc::fenced) return handle_fenced(ranges);
  log::error("stream", "upload failed: " + st.error().to_string());
  sleep_unless_stopping(options_.retry_max_ms);
}

Result<objectstore::PutResult> StreamManager::put_with_retry(const std::string& key, SharedBytes body) {
  uint32_t delay_ms = options_.retry_base_ms;
  for (uint32_t attempt = 1;; ++attempt) {
    {
      std::lock_guard lk(mu_);
      ++stats_.put_attempts;
    }
    auto r = objectstore::wait_for<objectstore::PutResult>(
        [&](objectstore::Callback<objectstore::PutResult> cb) { store_->put(key, body, std::move(cb)); });
    if (r.ok()) return r;
    {
      std::lock_guard lk(mu_);
      ++stats_.put_failures;
    }
    // Data can't be dropped: every error is retried (a non-retryable one is logged loudly).
    if (!r.error().retryable()) log::error("stream", "PUT " + key + ": " + r.error().to_string());
    if ((retry_attempts_max_ && attempt >= retry_attempts_max_) || !sleep_unless_stopping(delay_ms)) return r;
    delay_ms = std::min(delay_ms * 2, options_.retry_max_ms);
  }
}

Status StreamManager::upload_ranges(std::vector<PendingRange>& ranges) {
  std::sort(ranges.begin(), ranges.end(),
            [](const PendingRange& a, const PendingRange& b) { return a.range.stream_id < b.range.stream_id; });
  std::vector<PendingRange*> big, small;
  for (auto& p : ranges) (p.bytes >= options_.stream_object_threshold_bytes ? big : small).push_back(&p);
  uint32_t count = static_cast<uint32_t>(big.size() + (small.empty() ? 0 : 1));
  auto first = meta_wait<ObjectId>([&](auto cb) { meta_->prepare_objects(count, options_.prepare_ttl_ms, std::move(cb)); });
  if (!first.ok()) return first.take_error();
  uint64_t next_id = first->value();

  StreamSetObjectCommit commit;
  commit.node_id = options_.node_id;
  uint64_t put_bytes = 0;
  auto build_and_put = [&](const std::vector<PendingRange*>& parts) -> Result<std::pair<ObjectId, uint64_t>> {
    ObjectBuilder builder(options_.block_target_bytes);
    for (auto* p : parts)
      for (const auto& b : p->batches) builder.add(p->range.stream_id, b);
    SharedBytes body = builder.finish();
    ObjectId id(next_id++);
    auto put = put_with_retry(object_key(id), body);
    if (!put.ok()) return put.error();
    put_bytes += body.size();
    return std::make_pair(id, uint64_t{body.size()});
  };
  if (!small.empty()) {
    auto put = build_and_put(small);
    if (!put.ok()) return put.take_error();
    commit.object_id = put->first;
    commit.object_size_bytes = put->second;
    for (auto* p : small) commit.ranges.push_back(p->range);
  }
  for (auto* p : big) {
    auto put = build_and_put({p});
    if (!put.ok()) return put.take_error();
    commit.stream_objects.push_back(StreamObjectCommit{put->first, put->second, p->range, {}});
  }
  uint32_t delay_ms = options_.retry_base_ms;
  for (uint32_t attempt = 1;; ++attempt) {
    auto r = meta_wait<Done>([&](auto cb) { meta_->commit_stream_set_object(commit, std::move(cb)); });
    if (r.ok()) break;
    Errc code = r.error().code;
    if (code == Errc::fenced || code == Errc::invalid_value || code == Errc::not_found) return r.take_error();
    log::warn("stream", "commit failed, retrying: " + r.error().to_string());
    if ((retry_attempts_max_ && attempt >= retry_attempts_max_) || !sleep_unless_stopping(delay_ms))
      return r.take_error();
    delay_ms = std::min(delay_ms * 2, options_.retry_max_ms);
  }
  std::lock_guard lk(mu_);
  ++stats_.uploads;
  stats_.stream_set_objects += commit.object_id ? 1 : 0;
  stats_.stream_objects += commit.stream_objects.size();
  stats_.upload_bytes += put_bytes;
  return {};
}

void StreamManager::mark_uploaded(std::vector<PendingRange>& ranges) {
  uint64_t trim_to = 0;
  {
    std::lock_guard lk(mu_);
    for (auto& p : ranges) {
      Stream& s = *p.stream;
      if (p.range.end_offset > s.uploaded_end_) s.uploaded_end_ = p.range.end_offset;
      evictable_.emplace_back(p.stream, p.range.end_offset);
      for (uint64_t seq : p.seqs) slots_[seq - slots_.front().seq].uploaded = true;
      unuploaded_bytes_ -= p.bytes;
      durable_unuploaded_bytes_ -= p.bytes;
    }
    // Invariant (2): trim only to a record end followed by a durable record that ends later, so
    // entries sharing a record (group commit) are never cut off from their uploaded neighbours.
    while (slots_.size() >= 2 && slots_[0].uploaded && slots_[1].durable) {
      if (slots_[1].wal_end > slots_[0].wal_end) trim_to = slots_[0].wal_end;
      slots_.pop_front();
    }
    last_upload_ms_ = now_ms();
  }
  if (trim_to > 0)
    if (auto st = wal_->trim(trim_to); !st.ok()) log::warn("stream", "WAL trim: " + st.error().to_string());
}

void StreamManager::handle_fenced(std::vector<PendingRange>& ranges) {
  bool any = false;
  for (auto& p : ranges) {
    auto info = meta_wait<StreamInfo>([&](auto cb) { meta_->describe_stream(p.range.stream_id, std::move(cb)); });
    if (info.ok() && info->epoch == p.range.epoch) continue;
    any = true;
    log::warn("stream", "stream " + p.range.stream_id.to_string() + " was fenced; dropping its un-uploaded data");
    std::lock_guard lk(mu_);
    Stream& s = *p.stream;
    s.state_ = Stream::State::fenced;
    s.uploaded_end_ = p.range.end_offset;
    for (uint64_t seq : p.seqs) slots_[seq - slots_.front().seq].uploaded = true;
    unuploaded_bytes_ -= p.bytes;
    durable_unuploaded_bytes_ -= p.bytes;
    evictable_.emplace_back(p.stream, p.range.end_offset);
  }
  if (!any) sleep_unless_stopping(options_.retry_max_ms);
}

// ---------------------------------------------------------------------------------------------
// Recovery

Status StreamManager::recover(std::vector<wal::RecoveredEntry> recovered) {
  if (recovered.empty()) return {};
  std::map<StreamId, std::vector<std::pair<StreamEpoch, Batch>>> per_stream;
  uint64_t wal_end = 0;
  for (auto& r : recovered) {
    const SharedBytes& payload = r.entry.payload;
    if (payload.size() < kWalHeaderBytes)
      return Error(Errc::corrupt, "WAL entry of stream " + r.entry.stream_id.to_string() + " is too short");
    uint32_t count = le::get_u32(payload.data());
    if (count == 0) return Error(Errc::corrupt, "WAL entry with no records");
    per_stream[r.entry.stream_id].emplace_back(
        r.entry.epoch, Batch{r.entry.base_offset, count, payload.slice(kWalHeaderBytes, payload.size() - kWalHeaderBytes)});
    wal_end = std::max(wal_end, r.position.end);
  }
  std::vector<PendingRange> ranges;
  uint64_t entries_uploaded = 0;
  for (auto& [id, entries] : per_stream) {
    auto info = meta_wait<StreamInfo>([&](auto cb) { meta_->describe_stream(id, std::move(cb)); });
    if (!info.ok()) {
      // Only a stream the metadata no longer has (deleted) gives up its WAL entries: any other
      // error fails recovery, since the WAL is trimmed past everything recovered below.
      if (info.error().code != Errc::not_found)
        return Error(info.error().code, "recovery: stream " + id.to_string() + ": " + info.error().message);
      log::warn("stream", "recovery: skipping stream " + id.to_string() + ": " + info.error().to_string());
      continue;
    }
    PendingRange p{nullptr, StreamRange{id, info->epoch, info->end_offset, info->end_offset}, {}, {}, 0};
    for (auto& [epoch, batch] : entries) {
      if (batch.end_offset() <= p.range.end_offset) continue;  // committed before the crash
      if (epoch != info->epoch) continue;                        // written by a fenced owner
      if (batch.base_offset != p.range.end_offset) {
        log::error("stream", "recovery: stream " + id.to_string() + " has a gap at " +
                                 std::to_string(p.range.end_offset.value()));
        break;
      }
      p.range.end_offset = batch.end_offset();
      p.bytes += batch.bytes.size();
      p.batches.push_back(std::move(batch));
      ++entries_uploaded;
    }
    if (!p.batches.empty()) ranges.push_back(std::move(p));
  }
  if (!ranges.empty()) {
    retry_attempts_max_ = 30;
    Status st = upload_ranges(ranges);
    retry_attempts_max_ = 0;
    if (!st.ok()) return Error(st.error().code, "recovery upload: " + st.error().message);
  }
  {
    std::lock_guard lk(mu_);
    stats_.recovered_entries = recovered.size();
    stats_.recovered_uploaded = entries_uploaded;
  }
  log::info("stream", "recovered " + std::to_string(recovered.size()) + " WAL entries, uploaded " +
                          std::to_string(entries_uploaded));
  return wal_->trim(wal_end);
}

void StreamManager::maintenance_loop() {
  while (sleep_unless_stopping(static_cast<uint32_t>(options_.compaction_interval_ms))) {
    if (auto st = compact_now(); !st.ok()) log::warn("stream", "compaction: " + st.error().to_string());
    if (auto st = gc_now(); !st.ok()) log::warn("stream", "gc: " + st.error().to_string());
  }
}

}  // namespace floe::stream
