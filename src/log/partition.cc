#include "log/partition.h"

#include <algorithm>

#include "common/assert.h"
#include "common/log.h"
#include "protocol/records/record.h"
#include "protocol/records/record_batch.h"

namespace floe::log {

namespace {
constexpr uint64_t kLoadChunkBytes = 4 << 20;

bool is_idempotent(int64_t producer_id) { return producer_id >= 0; }

// The sequence after `seq` (Kafka wraps at INT32_MAX back to 0).
int32_t next_sequence(int32_t seq) { return seq == INT32_MAX ? 0 : seq + 1; }

int16_t fetch_error_code(const Error& e) {
  switch (e.code) {
    case Errc::not_found: return kafka_error::kOffsetOutOfRange;
    case Errc::fenced: return kafka_error::kNotLeaderOrFollower;
    default: return kafka_error::kKafkaStorageError;
  }
}
}  // namespace

Partition::Partition(std::string topic, int32_t index, std::shared_ptr<stream::Stream> stream, PartitionConfig config,
                     std::function<int64_t()> now_ms)
    : topic_(std::move(topic)), partition_index_(index), stream_(std::move(stream)), now_ms_(std::move(now_ms)),
      config_(config) {}

std::shared_ptr<Partition> Partition::open(std::string topic, int32_t index, std::shared_ptr<stream::Stream> stream,
                                           PartitionConfig config, std::function<int64_t()> now_ms,
                                           std::function<void(Status)> loaded) {
  FLOE_ASSERT(stream && now_ms);
  auto p = std::shared_ptr<Partition>(new Partition(std::move(topic), index, std::move(stream), config, std::move(now_ms)));
  int64_t start = p->stream_->start_offset().value();
  {
    std::lock_guard lock(p->mu_);
    p->log_start_ = start;
    p->next_offset_ = start;
  }
  p->load_from(start, std::move(loaded));
  return p;
}

void Partition::load_from(int64_t offset, std::function<void(Status)> loaded) {
  int64_t end = stream_->end_offset().value();
  if (offset >= end) {
    {
      std::lock_guard lock(mu_);
      next_offset_ = end;
      if (state_ == State::loading) state_ = State::ready;
    }
    if (loaded) loaded({});
    return;
  }
  auto self = shared_from_this();
  stream_->fetch(Offset(offset), kLoadChunkBytes, [self, loaded](Result<stream::FetchResult> r) {
    if (!r.ok() || r->batches.empty()) {
      Error e = r.ok() ? Error{Errc::internal, "empty fetch while loading"} : r.error();
      {
        std::lock_guard lock(self->mu_);
        self->fail_locked("loading failed");
      }
      floe::log::warn("log", "partition " + self->name() + ": loading failed: " + e.message);
      if (loaded) loaded(e);
      return;
    }
    int64_t next = r->batches.back().end_offset().value();
    {
      std::lock_guard lock(self->mu_);
      for (auto& b : r->batches) self->apply_loaded_batch(b.bytes);
      self->next_offset_ = next;
    }
    self->load_from(next, loaded);
  });
}

void Partition::apply_loaded_batch(const SharedBytes& bytes) {
  auto h = records::read_batch_header(bytes.span());
  if (!h.ok()) return;  // stored bytes were validated on the way in; nothing to index
  IndexEntry e{h->base_offset, h->next_offset(), h->max_timestamp, static_cast<uint32_t>(bytes.size()),
               h->partition_leader_epoch};
  if (!index_.empty() && e.base_offset < index_.back().next_offset) return;  // overlap (a re-read)
  index_.push_back(e);
  if (e.max_timestamp_ms > max_timestamp_ms_) {
    max_timestamp_ms_ = e.max_timestamp_ms;
    max_timestamp_offset_ = h->last_offset();
  }
  if (is_idempotent(h->producer_id) && !h->is_control()) {
    record_producer_locked(h->producer_id, h->producer_epoch,
                           ProducerBatch{h->base_sequence, h->last_sequence(), h->base_offset, h->last_offset(),
                                         h->timestamp_type() == records::TimestampType::log_append_time
                                             ? h->max_timestamp
                                             : -1});
  }
}

bool Partition::ready() const {
  std::lock_guard lock(mu_);
  return state_ == State::ready;
}

void Partition::set_config(PartitionConfig config) {
  std::lock_guard lock(mu_);
  config_ = config;
}

int16_t Partition::unavailable_error_locked() const {
  switch (state_) {
    case State::loading: return kafka_error::kLeaderNotAvailable;
    case State::ready: return kafka_error::kNone;
    case State::failed:
    case State::closed: return kafka_error::kNotLeaderOrFollower;
  }
  return kafka_error::kUnknownServerError;
}

void Partition::fail_locked(const char* why) {
  if (state_ == State::failed || state_ == State::closed) return;
  floe::log::warn("log", "partition " + name() + " stops serving: " + why);
  state_ = State::failed;
}

int16_t Partition::check_producer_locked(int64_t producer_id, int16_t epoch, int32_t first_seq, int32_t last_seq,
                                         const ProducerBatch** duplicate, std::string& message) const {
  *duplicate = nullptr;
  auto it = producers_.find(producer_id);
  if (it == producers_.end() || it->second.batches.empty()) {
    if (first_seq != 0 && it == producers_.end()) {
      message = "unknown producer id with a non-zero first sequence";
      return kafka_error::kUnknownProducerId;
    }
    return kafka_error::kNone;
  }
  const ProducerEntry& entry = it->second;
  if (epoch < entry.epoch) {
    message = "producer epoch " + std::to_string(epoch) + " is older than " + std::to_string(entry.epoch);
    return kafka_error::kInvalidProducerEpoch;
  }
  if (epoch > entry.epoch) {
    if (first_seq != 0) {
      message = "a new producer epoch must start at sequence 0";
      return kafka_error::kOutOfOrderSequenceNumber;
    }
    return kafka_error::kNone;
  }
  for (const auto& b : entry.batches) {
    if (b.first_seq == first_seq && b.last_seq == last_seq) {
      *duplicate = &b;
      return kafka_error::kNone;
    }
  }
  int32_t expected = next_sequence(entry.batches.back().last_seq);
  if (first_seq != expected) {
    message = "expected sequence " + std::to_string(expected) + ", got " + std::to_string(first_seq);
    return kafka_error::kOutOfOrderSequenceNumber;
  }
  return kafka_error::kNone;
}

void Partition::record_producer_locked(int64_t producer_id, int16_t epoch, const ProducerBatch& batch) {
  ProducerEntry& entry = producers_[producer_id];
  if (epoch != entry.epoch) entry.batches.clear();
  entry.epoch = epoch;
  entry.batches.push_back(batch);
  while (entry.batches.size() > kProducerBatches) entry.batches.pop_front();
}

void Partition::produce(SharedBytes records, ProduceCallback done) {
  ProduceResult fail;
  auto reject = [&](int16_t code, std::string message) {
    fail.error_code = code;
    fail.error_message = std::move(message);
    done(std::move(fail));
  };
  if (records.empty()) return reject(kafka_error::kInvalidRecord, "empty record set");
  auto magic = records::peek_magic(records.span());
  if (magic.ok() && *magic != records::kMagicV2) {
    return reject(kafka_error::kUnsupportedForMessageFormat, "only magic 2 record batches are accepted");
  }
  records::ValidateOptions vo;
  vo.verify_crc = true;
  vo.require_contiguous_offsets = true;
  uint64_t max_batch_bytes;
  {
    std::lock_guard lock(mu_);
    max_batch_bytes = config_.max_message_bytes;
  }
  vo.max_batch_bytes = max_batch_bytes;
  auto batches = records::read_batches(records, vo);
  if (!batches.ok()) {
    int16_t code = batches.error().code == Errc::too_large ? kafka_error::kMessageTooLarge
                                                            : kafka_error::kCorruptMessage;
    return reject(code, batches.error().message);
  }
  if (batches->empty()) return reject(kafka_error::kInvalidRecord, "no record batch in the record set");
  for (const auto& b : *batches) {
    if (b.header().is_control()) return reject(kafka_error::kInvalidRecord, "clients may not produce control batches");
    if (b.header().is_transactional()) {
      return reject(kafka_error::kUnsupportedForMessageFormat, "transactions are not supported yet");
    }
    if (b.header().size_bytes() > max_batch_bytes) {
      return reject(kafka_error::kMessageTooLarge, "batch larger than max.message.bytes");
    }
  }

  struct Pending {
    std::atomic<size_t> remaining{0};
    std::atomic<bool> failed{false};
    ProduceResult result;
    ProduceCallback done;
  };
  auto pending = std::make_shared<Pending>();
  pending->done = std::move(done);
  std::vector<stream::Batch> to_append;
  auto self = shared_from_this();

  std::unique_lock order(append_mu_);
  // Assigns offsets under mu_; false (with `fail` filled in) rejects the whole entry.
  auto assign_locked = [&]() -> bool {
    std::lock_guard lock(mu_);
    if (int16_t code = unavailable_error_locked(); code != kafka_error::kNone) {
      fail.error_code = code;
      fail.error_message = "partition not available";
      return false;
    }
    // First pass: sequence checks for every batch (later batches of the same producer in this
    // call chain on earlier ones); any error rejects the whole entry, as Kafka does.
    std::vector<const ProducerBatch*> dups(batches->size(), nullptr);
    std::map<int64_t, int32_t> chained_last_seq;
    for (size_t i = 0; i < batches->size(); ++i) {
      const auto& h = (*batches)[i].header();
      if (!is_idempotent(h.producer_id)) continue;
      std::string message;
      int16_t code = kafka_error::kNone;
      if (auto c = chained_last_seq.find(h.producer_id); c != chained_last_seq.end()) {
        if (h.base_sequence != next_sequence(c->second)) {
          code = kafka_error::kOutOfOrderSequenceNumber;
          message = "batches of one request are not in sequence";
        }
      } else {
        code = check_producer_locked(h.producer_id, h.producer_epoch, h.base_sequence, h.last_sequence(), &dups[i],
                                     message);
      }
      if (code != kafka_error::kNone) {
        fail.error_code = code;
        fail.error_message = std::move(message);
        fail.log_start_offset = log_start_;
        return false;
      }
      chained_last_seq[h.producer_id] = h.last_sequence();
    }
    int64_t now = now_ms_();
    bool log_append_time = config_.log_append_time;
    int64_t first_base = -1;
    for (size_t i = 0; i < batches->size(); ++i) {
      const auto& view = (*batches)[i];
      const auto& h = view.header();
      if (const ProducerBatch* dup = dups[i]) {
        ++duplicates_;
        if (first_base < 0) {
          first_base = dup->base_offset;
          pending->result.log_append_time_ms = dup->append_time_ms;
        }
        continue;
      }
      Bytes copy = view.bytes().to_bytes();
      int64_t base = next_offset_;
      int32_t count = h.last_offset_delta + 1;
      records::set_base_offset(copy, base);
      records::set_partition_leader_epoch(copy, leader_epoch());
      int64_t max_ts = h.max_timestamp;
      if (log_append_time) {
        records::set_max_timestamp(copy, records::TimestampType::log_append_time, now);
        max_ts = now;
      }
      if (first_base < 0) {
        first_base = base;
        pending->result.log_append_time_ms = log_append_time ? now : -1;
      }
      index_.push_back(IndexEntry{base, base + count, max_ts, static_cast<uint32_t>(copy.size()), leader_epoch()});
      if (max_ts > max_timestamp_ms_) {
        max_timestamp_ms_ = max_ts;
        max_timestamp_offset_ = base + count - 1;
      }
      if (is_idempotent(h.producer_id)) {
        record_producer_locked(h.producer_id, h.producer_epoch,
                               ProducerBatch{h.base_sequence, h.last_sequence(), base, base + count - 1,
                                             log_append_time ? now : -1});
      }
      next_offset_ = base + count;
      to_append.push_back(stream::Batch{Offset(base), static_cast<uint32_t>(count), SharedBytes(std::move(copy))});
    }
    pending->result.base_offset = first_base;
    pending->result.log_start_offset = log_start_;
    return true;
  };
  if (!assign_locked()) {
    order.unlock();
    pending->done(std::move(fail));
    return;
  }
  if (to_append.empty()) {  // every batch was a duplicate
    order.unlock();
    pending->done(std::move(pending->result));
    return;
  }
  pending->remaining = to_append.size();
  for (auto& batch : to_append) {
    stream_->append(std::move(batch), [self, pending](Result<Offset> r) {
      if (!r.ok()) {
        {
          std::lock_guard lock(self->mu_);
          self->fail_locked(r.error().message.c_str());
        }
        if (!pending->failed.exchange(true)) {
          ProduceResult out;
          out.error_code = r.error().code == Errc::fenced ? kafka_error::kNotLeaderOrFollower
                                                          : kafka_error::kKafkaStorageError;
          out.error_message = r.error().message;
          // The remaining callbacks still decrement; only the first error answers.
          pending->result = out;
        }
      }
      if (pending->remaining.fetch_sub(1) == 1) pending->done(std::move(pending->result));
    });
  }
}

void Partition::fetch(int64_t offset, uint64_t max_bytes, bool min_one_batch, FetchCallback done) {
  FetchedData out;
  {
    std::lock_guard lock(mu_);
    out.high_watermark = stream_->end_offset().value();
    out.log_start_offset = log_start_;
    if (int16_t code = unavailable_error_locked(); code != kafka_error::kNone) {
      out.error_code = code;
      done(std::move(out));
      return;
    }
  }
  if (offset < out.log_start_offset || offset > out.high_watermark) {
    out.error_code = kafka_error::kOffsetOutOfRange;
    done(std::move(out));
    return;
  }
  if (offset == out.high_watermark || (max_bytes == 0 && !min_one_batch)) {
    done(std::move(out));
    return;
  }
  stream_->fetch(Offset(offset), std::max<uint64_t>(max_bytes, 1),
                 [out, max_bytes, min_one_batch, done = std::move(done)](Result<stream::FetchResult> r) mutable {
                   if (!r.ok()) {
                     out.error_code = fetch_error_code(r.error());
                     done(std::move(out));
                     return;
                   }
                   for (auto& b : r->batches) {
                     bool first = out.batches.empty();
                     if (out.bytes + b.bytes.size() > max_bytes && !(first && min_one_batch)) break;
                     out.bytes += b.bytes.size();
                     out.batches.push_back(std::move(b.bytes));
                   }
                   done(std::move(out));
                 });
}

int64_t Partition::high_watermark() const { return stream_->end_offset().value(); }

uint64_t Partition::size_bytes() const {
  std::lock_guard lock(mu_);
  int64_t hwm = stream_->end_offset().value();
  uint64_t total = 0;
  for (const auto& e : index_) {
    if (e.base_offset >= hwm) break;
    total += e.bytes;
  }
  return total;
}

std::pair<int32_t, int64_t> Partition::end_offset_for_epoch(int32_t epoch) const {
  std::lock_guard lock(mu_);
  int64_t hwm = stream_->end_offset().value();
  int32_t found = -1;
  for (const auto& e : index_) {
    if (e.base_offset >= hwm) break;
    if (e.leader_epoch > epoch) return {found, found < 0 ? -1 : e.base_offset};
    found = e.leader_epoch;
  }
  if (found < 0) {
    // Nothing indexed at or below epoch: an empty (or trimmed) log answers with the current epoch's start.
    if (epoch >= leader_epoch()) return {leader_epoch(), hwm};
    return {-1, -1};
  }
  return {found, hwm};
}

int64_t Partition::log_start_offset() const {
  std::lock_guard lock(mu_);
  return log_start_;
}

OffsetAndTimestamp Partition::list_offset(int64_t timestamp_ms) const {
  std::lock_guard lock(mu_);
  OffsetAndTimestamp out;
  if (int16_t code = unavailable_error_locked(); code != kafka_error::kNone) {
    out.error_code = code;
    return out;
  }
  int64_t hwm = stream_->end_offset().value();
  if (timestamp_ms == kLatestTimestamp) {
    out.offset = hwm;
    return out;
  }
  if (timestamp_ms == kEarliestTimestamp) {
    out.offset = log_start_;
    return out;
  }
  if (timestamp_ms == kMaxTimestamp) {
    int64_t best_ts = -1, best_offset = -1;
    for (const auto& e : index_) {
      if (e.base_offset >= hwm) break;
      if (e.max_timestamp_ms > best_ts) {
        best_ts = e.max_timestamp_ms;
        best_offset = e.next_offset - 1;
      }
    }
    out.offset = best_offset;
    out.timestamp_ms = best_ts;
    return out;
  }
  for (const auto& e : index_) {
    if (e.base_offset >= hwm) break;
    if (e.next_offset <= log_start_) continue;
    if (e.max_timestamp_ms >= timestamp_ms) {
      out.offset = std::max(e.base_offset, log_start_);
      out.timestamp_ms = e.max_timestamp_ms;
      return out;
    }
  }
  return out;  // none: offset -1, timestamp -1
}

void Partition::list_offset_exact(int64_t timestamp_ms, OffsetCallback done) const {
  OffsetAndTimestamp coarse = list_offset(timestamp_ms);
  if (timestamp_ms < 0 || coarse.error_code != kafka_error::kNone || coarse.offset < 0) return done(coarse);
  int64_t log_start = log_start_offset();
  stream_->fetch(Offset(coarse.offset), 1, [coarse, timestamp_ms, log_start, done](Result<stream::FetchResult> r) {
    if (!r.ok() || r->batches.empty()) return done(coarse);  // fall back to the batch's answer
    auto view = records::RecordBatchView::parse(r->batches.front().bytes);
    if (!view.ok()) return done(coarse);
    auto decoded = records::decode_records(*view);
    if (!decoded.ok()) return done(coarse);
    for (const auto& rec : *decoded) {
      int64_t offset = rec.offset(view->header());
      int64_t ts = rec.timestamp_ms(view->header());
      if (offset >= log_start && ts >= timestamp_ms) return done(OffsetAndTimestamp{kafka_error::kNone, offset, ts});
    }
    done(coarse);
  });
}

void Partition::trim_to_locked(int64_t new_start) {
  if (new_start <= log_start_) return;
  log_start_ = new_start;
  while (!index_.empty() && index_.front().next_offset <= new_start) index_.pop_front();
}

void Partition::delete_records(int64_t offset, std::function<void(int16_t, int64_t)> done) {
  int64_t hwm = stream_->end_offset().value();
  int64_t target = offset == -1 ? hwm : offset;
  {
    std::lock_guard lock(mu_);
    if (int16_t code = unavailable_error_locked(); code != kafka_error::kNone) return done(code, -1);
    if (target < 0 || target > hwm) return done(kafka_error::kOffsetOutOfRange, log_start_);
    if (target <= log_start_) return done(kafka_error::kNone, log_start_);
  }
  auto self = shared_from_this();
  stream_->trim(Offset(target), [self, target, done](Result<stream::Done> r) {
    if (!r.ok()) {
      done(r.error().code == Errc::fenced ? kafka_error::kNotLeaderOrFollower : kafka_error::kKafkaStorageError, -1);
      return;
    }
    int64_t start;
    {
      std::lock_guard lock(self->mu_);
      self->trim_to_locked(target);
      start = self->log_start_;
    }
    done(kafka_error::kNone, start);
  });
}

void Partition::enforce_retention() {
  int64_t target = -1;
  {
    std::lock_guard lock(mu_);
    if (state_ != State::ready) return;
    int64_t hwm = stream_->end_offset().value();
    int64_t now = now_ms_();
    uint64_t total = 0;
    for (const auto& e : index_) {
      if (e.base_offset >= hwm) break;
      total += e.bytes;
    }
    for (const auto& e : index_) {
      if (e.next_offset > hwm) break;
      bool expired = config_.retention_ms >= 0 && e.max_timestamp_ms >= 0 && e.max_timestamp_ms < now - config_.retention_ms;
      bool oversize = config_.retention_bytes >= 0 && total > static_cast<uint64_t>(config_.retention_bytes);
      if (!expired && !oversize) break;
      total -= e.bytes;
      target = e.next_offset;
    }
    if (target <= log_start_) return;
  }
  delete_records(target, [this, target](int16_t code, int64_t) {
    if (code != kafka_error::kNone) {
      floe::log::warn("log", "partition " + name() + ": retention trim to " + std::to_string(target) +
                                 " failed (error " + std::to_string(code) + ")");
    }
  });
}

void Partition::close(DoneCallback done) {
  {
    std::lock_guard lock(mu_);
    state_ = State::closed;
  }
  stream_->close([done](Result<stream::Done> r) {
    if (done) done(r.ok() ? kafka_error::kNone : kafka_error::kKafkaStorageError);
  });
}

Partition::Stats Partition::stats() const {
  std::lock_guard lock(mu_);
  return Stats{index_.size(), producers_.size(), duplicates_};
}

}  // namespace floe::log
