#include "log/partition.h"

#include <algorithm>
#include <limits>

#include "common/assert.h"
#include "common/log.h"
#include "protocol/records/record.h"
#include "protocol/records/record_batch.h"

namespace floe::log {

namespace {
constexpr uint64_t kLoadChunkBytes = 4 << 20;
// What one fetch of an exact timestamp lookup asks for (the entry's reading stops at its end).
constexpr uint64_t kLookupChunkBytes = 1 << 20;
// An exact timestamp lookup reads at most this many entries that claim a matching timestamp but
// hold no such record at or after the log start (a first entry DeleteRecords cut into, or a
// batch header whose max timestamp no record reaches), then answers coarsely.
constexpr int kLookupEntries = 4;
// ...and starts over at most this many times when a trim removed the entry while it read it.
constexpr int kLookupTrimRetries = 16;
// The producer expiry sweep visits at most this many producers per hold of the lock.
constexpr size_t kExpirySweepChunk = 1024;

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
                                           std::function<void(Status)> loaded,
                                           std::shared_ptr<stream::StreamCheckpoints> checkpoints) {
  FLOE_ASSERT(stream && now_ms);
  auto p = std::shared_ptr<Partition>(new Partition(std::move(topic), index, std::move(stream), config, std::move(now_ms)));
  int64_t start = p->stream_->start_offset().value();
  {
    std::lock_guard lock(p->mu_);
    p->log_start_ = start;
    p->next_offset_ = start;
    p->loaded_from_offset_ = start;
    p->checkpoints_ = std::move(checkpoints);
  }
  if (p->checkpoints_ && p->stream_->end_offset().value() > start) {
    p->load_from_checkpoint(std::move(loaded));
  } else {
    p->load_from(start, std::move(loaded));
  }
  return p;
}

void Partition::load_from(int64_t offset, std::function<void(Status)> loaded) {
  int64_t end = stream_->end_offset().value();
  if (offset >= end) {
    bool read_the_stream;
    {
      std::lock_guard lock(mu_);
      next_offset_ = end;  // no expiry here: a reload keeps every producer kReloadGraceMs at least (partition.h)
      if (state_ == State::loading) state_ = State::ready;
      read_the_stream = end > loaded_from_offset_;
    }
    if (loaded) loaded({});
    // What this load read, the next one need not: checkpoint it (in the background).
    if (read_the_stream) maybe_checkpoint(true, {});
    return;
  }
  auto self = shared_from_this();
  stream_->fetch(Offset(offset), kLoadChunkBytes, [self, loaded](Result<stream::FetchResult> r) {
    if (!r.ok() || r->batches.empty()) {
      Error e = r.ok() ? Error{Errc::internal, "empty fetch while loading"} : r.error();
      Answers answers;
      {
        std::lock_guard lock(self->mu_);
        self->fail_locked("loading failed", kafka_error::kNotLeaderOrFollower, answers);
      }
      answer(answers);
      floe::log::warn("log", "partition " + self->name() + ": loading failed: " + e.message);
      if (loaded) loaded(e);
      return;
    }
    int64_t next = r->batches.back().end_offset().value();
    {
      std::lock_guard lock(self->mu_);
      const int64_t now = self->now_ms_();
      for (auto& b : r->batches) self->apply_loaded_batch(b.bytes, now);
      self->next_offset_ = next;
    }
    self->load_from(next, loaded);
  });
}

void Partition::apply_loaded_batch(const SharedBytes& bytes, int64_t now_ms) {
  auto h = records::read_batch_header(bytes.span());
  if (!h.ok()) return;  // stored bytes were validated on the way in; nothing to index
  BatchInfo b{h->base_offset, h->next_offset(), h->max_timestamp, bytes.size(), h->partition_leader_epoch, h->crc};
  if (!index_.empty() && b.base_offset < index_.back().entry.next_offset) return;  // overlap (a re-read)
  index_batch(index_, index_totals_, b, config_.index_entry_bytes);
  last_batch_ = LastBatch{b.base_offset, b.next_offset, b.crc};
  if (is_idempotent(h->producer_id) && !h->is_control()) {
    // The log keeps no append time: the later of the batch's max timestamp and a floor that
    // leaves the producer at least kReloadGraceMs after the reload stands in for it (partition.h).
    const int64_t floor_ms = std::min(now_ms, now_ms - config_.producer_id_expiration_ms + kReloadGraceMs);
    record_producer_locked(h->producer_id, h->producer_epoch,
                           ProducerBatch{h->base_sequence, h->last_sequence(), h->base_offset, h->last_offset(),
                                         h->timestamp_type() == records::TimestampType::log_append_time
                                             ? h->max_timestamp
                                             : -1},
                           std::max(h->max_timestamp, floor_ms));
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

void Partition::fail_locked(const char* why, int16_t error_code, Answers& out) {
  if (state_ == State::failed || state_ == State::closed) return;
  floe::log::warn("log", "partition " + name() + " stops serving: " + why);
  state_ = State::failed;
  answer_parked_locked(error_code, out);
}

void Partition::answer_parked_locked(int16_t error_code, Answers& out) {
  for (auto& [end, parked] : parked_) {
    parked.result = ProduceResult{};
    parked.result.error_code = error_code;
    parked.result.error_message = "partition stopped serving before the original batch was durable";
    out.push_back(std::move(parked));
  }
  parked_.clear();
}

void Partition::answer(Answers& answers) {
  for (auto& a : answers) a.done(std::move(a.result));
  answers.clear();
}

int16_t Partition::check_producer_locked(int64_t producer_id, int16_t epoch, int32_t first_seq, int32_t last_seq,
                                         const ProducerBatch** duplicate, std::string& message) const {
  *duplicate = nullptr;
  auto it = producers_.find(producer_id);
  // No state (never seen, expired, or its batches are gone): any sequence starts it, as Kafka
  // accepts since KIP-360 (its ProducerAppendInfo: no current producer epoch, any sequence).
  if (it == producers_.end() || it->second.empty()) return kafka_error::kNone;
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
  if (const ProducerBatch* b = entry.find(first_seq, last_seq)) {
    *duplicate = b;
    return kafka_error::kNone;
  }
  int32_t expected = next_sequence(entry.last().last_seq);
  if (first_seq != expected) {
    message = "expected sequence " + std::to_string(expected) + ", got " + std::to_string(first_seq);
    return kafka_error::kOutOfOrderSequenceNumber;
  }
  return kafka_error::kNone;
}

void Partition::record_producer_locked(int64_t producer_id, int16_t epoch, const ProducerBatch& batch,
                                       int64_t append_ms) {
  ProducerEntry& entry = producers_[producer_id];
  if (epoch != entry.epoch) entry.clear();
  entry.epoch = epoch;
  entry.last_append_ms = std::max(entry.last_append_ms, append_ms);
  entry.push(batch);
}

bool Partition::producer_expired_locked(const ProducerEntry& entry, int64_t now_ms) const {
  // Kafka's test: now - last timestamp >= producer.id.expiration.ms.
  return now_ms - entry.last_append_ms >= config_.producer_id_expiration_ms;
}

bool Partition::expire_producers_from_locked(int64_t now_ms, int64_t& from, size_t max_visits) {
  auto it = producers_.lower_bound(from);
  for (size_t visited = 0; it != producers_.end() && visited < max_visits; ++visited) {
    if (producer_expired_locked(it->second, now_ms)) {
      it = producers_.erase(it);
      ++expired_producers_;
    } else {
      ++it;
    }
  }
  if (it == producers_.end()) return false;
  from = it->first;
  return true;
}

void Partition::expire_producers(int64_t now_ms) {
  // In chunks, releasing the lock between them: 100,000 producers take ~13 ms to walk, which
  // appends to this partition should not wait for.
  int64_t from = std::numeric_limits<int64_t>::min();
  bool more = true;
  while (more) {
    std::lock_guard lock(mu_);
    more = expire_producers_from_locked(now_ms, from, kExpirySweepChunk);
  }
}

void Partition::index_batch(std::deque<Slot>& index, IndexTotals& totals, const BatchInfo& b,
                            uint64_t entry_bytes) {
  FLOE_ASSERT(b.next_offset > b.base_offset);
  FLOE_ASSERT(index.empty() || index.back().entry.next_offset == b.base_offset);
  totals.bytes += b.bytes;
  ++totals.batches;
  if (!index.empty()) {
    Slot& last = index.back();
    if (last.entry.bytes < entry_bytes && last.entry.leader_epoch == b.leader_epoch) {
      last.entry.next_offset = b.next_offset;
      last.entry.bytes += b.bytes;
      ++last.entry.batches;
      if (b.max_timestamp_ms > last.entry.max_timestamp_ms) {
        last.entry.max_timestamp_ms = b.max_timestamp_ms;
        last.entry.max_timestamp_offset = b.next_offset - 1;
      }
      if (index.size() > 1) last.running_max_ms = std::max(last.running_max_ms, last.entry.max_timestamp_ms);
      return;
    }
  }
  Slot slot;
  slot.entry = IndexEntry{b.base_offset, b.next_offset, b.max_timestamp_ms,
                          b.max_timestamp_ms >= 0 ? b.next_offset - 1 : -1, b.bytes, 1, b.leader_epoch};
  slot.running_max_ms = index.size() <= 1 ? b.max_timestamp_ms : std::max(index.back().running_max_ms, b.max_timestamp_ms);
  index.push_back(slot);
}

void Partition::fold_durable_locked(int64_t durable_end) {
  while (!in_flight_.empty() && in_flight_.front().next_offset <= durable_end) {
    const BatchInfo& b = in_flight_.front();
    index_batch(index_, index_totals_, b, config_.index_entry_bytes);
    last_batch_ = LastBatch{b.base_offset, b.next_offset, b.crc};
    in_flight_.pop_front();
  }
}

std::ranges::subrange<std::deque<Partition::BatchInfo>::const_iterator> Partition::durable_in_flight_locked(
    int64_t hwm) const {
  // in_flight_ is in offset order (invariant 2): the durable ones are a prefix.
  auto end = std::partition_point(in_flight_.begin(), in_flight_.end(),
                                  [&](const BatchInfo& b) { return b.next_offset <= hwm; });
  return {in_flight_.begin(), end};
}

int64_t Partition::indexed_end_locked() const {
  return in_flight_.empty() ? next_offset_ : in_flight_.front().base_offset;
}

void Partition::release_parked_locked(Answers& out) {
  const int64_t indexed_end = indexed_end_locked();
  auto it = parked_.begin();
  for (; it != parked_.end() && it->first <= indexed_end; ++it) out.push_back(std::move(it->second));
  parked_.erase(parked_.begin(), it);
}

std::optional<Partition::Located> Partition::locate_locked(int64_t timestamp_ms, int64_t after, int64_t hwm,
                                                          int64_t start) const {
  auto located = [&](const IndexEntry& e) {
    return Located{std::max(e.base_offset, start), e.next_offset, e.max_timestamp_ms};
  };
  const size_t n = index_.size();
  size_t k = static_cast<size_t>(
      std::partition_point(index_.begin(), index_.end(), [&](const Slot& s) { return s.entry.next_offset <= after; }) -
      index_.begin());
  if (k == 0 && n > 0 && index_[0].entry.max_timestamp_ms >= timestamp_ms) return located(index_[0].entry);
  size_t j = std::max<size_t>(k, 1);
  if (j < n) {
    j = static_cast<size_t>(std::partition_point(index_.begin() + static_cast<std::ptrdiff_t>(j), index_.end(),
                                                 [&](const Slot& s) { return s.running_max_ms < timestamp_ms; }) -
                            index_.begin());
    // From the second slot the running maximum reaching the target is the slot's own. From a
    // later one (the first lookup's entry was trimmed meanwhile) a slot before it may have lifted
    // the maximum: walk on to the slot that holds the timestamp itself.
    for (; j < n; ++j) {
      if (index_[j].entry.max_timestamp_ms >= timestamp_ms) return located(index_[j].entry);
    }
  }
  for (const auto& b : durable_in_flight_locked(hwm)) {
    if (b.next_offset <= after || b.max_timestamp_ms < timestamp_ms) continue;
    return Located{std::max(b.base_offset, start), b.next_offset, b.max_timestamp_ms};
  }
  return std::nullopt;
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

  bool parked = false;
  std::unique_lock order(append_mu_);
  const int32_t epoch = leader_epoch();
  const int64_t durable_end = stream_->end_offset().value();  // read before mu_ (partition.h)
  // Assigns offsets under mu_; false (with `fail` filled in) rejects the whole entry.
  auto assign_locked = [&]() -> bool {
    std::lock_guard lock(mu_);
    if (int16_t code = unavailable_error_locked(); code != kafka_error::kNone) {
      fail.error_code = code;
      fail.error_message = "partition not available";
      return false;
    }
    fold_durable_locked(durable_end);
    int64_t now = now_ms_();
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
        if (auto p = producers_.find(h.producer_id); p != producers_.end() && producer_expired_locked(p->second, now)) {
          producers_.erase(p);  // idle past producer.id.expiration.ms: it starts afresh
          ++expired_producers_;
        }
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
    bool log_append_time = config_.log_append_time;
    int64_t first_base = -1;
    int64_t repeated_end = -1;  // the offset the batches repeated here end at
    for (size_t i = 0; i < batches->size(); ++i) {
      const auto& view = (*batches)[i];
      const auto& h = view.header();
      if (const ProducerBatch* dup = dups[i]) {
        ++duplicates_;
        repeated_end = std::max(repeated_end, dup->last_offset + 1);
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
      records::set_partition_leader_epoch(copy, epoch);
      int64_t max_ts = h.max_timestamp;
      if (log_append_time) {
        records::set_max_timestamp(copy, records::TimestampType::log_append_time, now);
        max_ts = now;
      }
      if (first_base < 0) {
        first_base = base;
        pending->result.log_append_time_ms = log_append_time ? now : -1;
      }
      uint32_t crc = records::read_batch_header(copy).value().crc;  // after the header edits above
      in_flight_.push_back(BatchInfo{base, base + count, max_ts, copy.size(), epoch, crc});
      if (is_idempotent(h.producer_id)) {
        record_producer_locked(h.producer_id, h.producer_epoch,
                               ProducerBatch{h.base_sequence, h.last_sequence(), base, base + count - 1,
                                             log_append_time ? now : -1},
                               now);
      }
      next_offset_ = base + count;
      to_append.push_back(stream::Batch{Offset(base), static_cast<uint32_t>(count), SharedBytes(std::move(copy))});
    }
    pending->result.base_offset = first_base;
    pending->result.log_start_offset = log_start_;
    if (to_append.empty() && repeated_end > indexed_end_locked()) {
      // Every batch repeats one whose original is still in flight: answer once it is durable
      // (its append callback releases this). A call that appends too is answered after its own
      // batches, which follow the originals in the stream, so those are durable by then.
      parked_.emplace(repeated_end, ParkedDuplicate{std::move(pending->result), std::move(pending->done)});
      parked = true;
    }
    return true;
  };
  if (!assign_locked()) {
    order.unlock();
    pending->done(std::move(fail));
    return;
  }
  if (to_append.empty()) {  // every batch was a duplicate
    order.unlock();
    if (!parked) pending->done(std::move(pending->result));  // the originals are durable
    return;
  }
  pending->remaining = to_append.size();
  for (auto& batch : to_append) {
    stream_->append(std::move(batch), [self, pending](Result<Offset> r) {
      Answers parked;  // duplicates of this batch, answered after its own call
      if (r.ok()) {
        std::lock_guard lock(self->mu_);
        self->fold_durable_locked(r->value());
        self->release_parked_locked(parked);
      } else {
        int16_t code = r.error().code == Errc::fenced ? kafka_error::kNotLeaderOrFollower
                                                      : kafka_error::kKafkaStorageError;
        {
          std::lock_guard lock(self->mu_);
          self->fail_locked(r.error().message.c_str(), code, parked);
        }
        if (!pending->failed.exchange(true)) {
          ProduceResult out;
          out.error_code = code;
          out.error_message = r.error().message;
          // The remaining callbacks still decrement; only the first error answers.
          pending->result = out;
        }
      }
      if (pending->remaining.fetch_sub(1) == 1) pending->done(std::move(pending->result));
      answer(parked);
    });
  }
}

void Partition::fetch(int64_t offset, uint64_t max_bytes, bool min_one_batch, FetchCallback done) {
  FetchedData out;
  {
    std::lock_guard lock(mu_);
    out.high_watermark = stream_->end_offset().value();
    out.log_start_offset = log_start_;
    out.error_code = unavailable_error_locked();
  }
  if (out.error_code != kafka_error::kNone) return done(std::move(out));  // answered without the lock
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
  uint64_t total = index_totals_.bytes;
  for (const auto& b : durable_in_flight_locked(hwm)) total += b.bytes;
  return total;
}

std::pair<int32_t, int64_t> Partition::end_offset_for_epoch(int32_t epoch) const {
  constexpr int32_t kUndefinedEpoch = -1;
  const int32_t latest = leader_epoch();
  std::lock_guard lock(mu_);
  const int64_t hwm = stream_->end_offset().value();
  if (epoch == kUndefinedEpoch || epoch > latest) return {kUndefinedEpoch, -1};
  if (epoch == latest) return {latest, hwm};
  // The floor (the largest stored epoch <= epoch) and the start of the next epoch; without a
  // later stored epoch, the next is the current one, which starts at the high watermark.
  // Entries' epochs never decrease (invariant 2): the first entry of a later epoch starts it.
  std::optional<int32_t> floor;
  int64_t next_start = hwm;
  auto later = std::upper_bound(index_.begin(), index_.end(), epoch,
                                [](int32_t e, const Slot& s) { return e < s.entry.leader_epoch; });
  if (later != index_.begin()) floor = std::prev(later)->entry.leader_epoch;
  if (later != index_.end()) {
    next_start = later->entry.base_offset;
  } else {
    for (const auto& b : durable_in_flight_locked(hwm)) {
      if (b.leader_epoch > epoch) {
        next_start = b.base_offset;
        break;
      }
      floor = b.leader_epoch;
    }
  }
  // The first stored epoch starts at the log start at the earliest (Kafka moves its entry up).
  next_start = std::max(next_start, log_start_);
  if (!floor) return {epoch, next_start};  // every stored epoch is later: Kafka answers the one asked
  return {*floor, next_start};
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
    // The first slot, the slot where the running maximum of the others first reaches its end
    // value, and the batches in flight; the earliest wins a tie.
    int64_t best_ts = -1, best_offset = -1;
    auto consider = [&](int64_t ts, int64_t offset) {
      if (ts > best_ts) {
        best_ts = ts;
        best_offset = std::max(offset, log_start_);
      }
    };
    if (!index_.empty()) consider(index_[0].entry.max_timestamp_ms, index_[0].entry.max_timestamp_offset);
    if (index_.size() > 1) {
      int64_t top = index_.back().running_max_ms;
      auto at = std::partition_point(index_.begin() + 1, index_.end(), [&](const Slot& s) { return s.running_max_ms < top; });
      consider(at->entry.max_timestamp_ms, at->entry.max_timestamp_offset);
    }
    for (const auto& b : durable_in_flight_locked(hwm)) consider(b.max_timestamp_ms, b.next_offset - 1);
    out.offset = best_offset;
    out.timestamp_ms = best_ts;
    return out;
  }
  if (auto at = locate_locked(timestamp_ms, std::numeric_limits<int64_t>::min(), hwm, log_start_)) {
    out.offset = at->from;
    out.timestamp_ms = at->max_timestamp_ms;
  }
  return out;  // none: offset -1, timestamp -1
}

namespace {
// Reads [at.from, at.to) of `stream` for the first record at or after `from` whose timestamp >=
// the target; the answer, or nullopt when the range holds none; an error ends the lookup (the
// caller answers coarsely). Only batches whose max timestamp reaches the target are decoded.
struct ExactLookup : std::enable_shared_from_this<ExactLookup> {
  std::shared_ptr<stream::Stream> stream;
  int64_t timestamp_ms = 0;
  int64_t from = 0;
  int64_t to = 0;
  std::function<void(Result<std::optional<OffsetAndTimestamp>>)> done;

  void read(int64_t position) {
    auto self = shared_from_this();
    stream->fetch(Offset(position), kLookupChunkBytes, [self](Result<stream::FetchResult> r) {
      if (!r.ok()) return self->done(r.take_error());
      if (r->batches.empty()) return self->done(std::optional<OffsetAndTimestamp>{});
      int64_t next = -1;
      for (const auto& b : r->batches) {
        auto h = records::read_batch_header(b.bytes.span());
        if (!h.ok()) return self->done(h.take_error());
        if (h->base_offset >= self->to) return self->done(std::optional<OffsetAndTimestamp>{});
        next = h->next_offset();
        if (h->max_timestamp < self->timestamp_ms || next <= self->from) continue;
        auto view = records::RecordBatchView::parse(b.bytes);
        if (!view.ok()) return self->done(view.take_error());
        auto decoded = records::decode_records(*view);
        if (!decoded.ok()) return self->done(decoded.take_error());
        for (const auto& rec : *decoded) {
          int64_t offset = rec.offset(view->header());
          int64_t ts = rec.timestamp_ms(view->header());
          if (offset >= self->from && ts >= self->timestamp_ms) {
            return self->done(std::optional<OffsetAndTimestamp>{OffsetAndTimestamp{kafka_error::kNone, offset, ts}});
          }
        }
      }
      if (next < 0 || next >= self->to) return self->done(std::optional<OffsetAndTimestamp>{});
      self->read(next);
    });
  }
};
}  // namespace

// One exact timestamp lookup: the entries it may still read, and the first entry's coarse answer
// (what a failed read answers).
struct Partition::ExactSearch {
  int64_t timestamp_ms = 0;
  OffsetAndTimestamp coarse;
  int entries_left = kLookupEntries;
  int trims_left = kLookupTrimRetries;
  OffsetCallback done;
};

void Partition::list_offset_exact(int64_t timestamp_ms, OffsetCallback done) const {
  if (timestamp_ms < 0) return done(list_offset(timestamp_ms));
  auto search = std::make_shared<ExactSearch>();
  search->timestamp_ms = timestamp_ms;
  search->done = std::move(done);
  exact_search_step(std::move(search), std::numeric_limits<int64_t>::min());
}

void Partition::exact_search_step(std::shared_ptr<ExactSearch> search, int64_t after) const {
  std::optional<Located> at;
  int16_t unavailable = kafka_error::kNone;
  {
    std::lock_guard lock(mu_);
    unavailable = unavailable_error_locked();
    if (unavailable == kafka_error::kNone) {
      // The stream's start may already be past log_start_ while a trim completes: read from neither.
      int64_t start = std::max(log_start_, stream_->start_offset().value());
      at = locate_locked(search->timestamp_ms, after, stream_->end_offset().value(), start);
    }
  }
  // Answered without the lock (partition.h).
  if (unavailable != kafka_error::kNone) return search->done(OffsetAndTimestamp{unavailable, -1, -1});
  if (!at) return search->done(OffsetAndTimestamp{});  // no record at or after the target
  if (search->coarse.offset < 0) search->coarse = OffsetAndTimestamp{kafka_error::kNone, at->from, at->max_timestamp_ms};
  if (search->entries_left-- == 0) return search->done(search->coarse);
  auto lookup = std::make_shared<ExactLookup>();
  lookup->stream = stream_;
  lookup->timestamp_ms = search->timestamp_ms;
  lookup->from = at->from;
  lookup->to = at->to;
  int64_t to = at->to;
  lookup->done = [self = shared_from_this(), search, to](Result<std::optional<OffsetAndTimestamp>> r) {
    if (r.ok() && !r->has_value()) return self->exact_search_step(search, to);  // none here: the next entry
    if (!r.ok() && r.error().code == Errc::not_found && search->trims_left-- > 0) {
      // Retention or DeleteRecords trimmed the entry meanwhile: search again from the log start,
      // afresh (the coarse answer named the trimmed entry; a restart does not use up an entry).
      search->coarse = OffsetAndTimestamp{};
      search->entries_left = kLookupEntries;
      return self->exact_search_step(search, std::numeric_limits<int64_t>::min());
    }
    search->done(r.ok() ? **r : search->coarse);  // another failed read answers coarsely
  };
  lookup->read(at->from);
}

void Partition::trim_to_locked(int64_t new_start, int64_t durable_end) {
  if (new_start <= log_start_) return;
  FLOE_ASSERT(new_start <= durable_end);
  fold_durable_locked(durable_end);  // the trimmed batches are all in the index now
  log_start_ = new_start;
  size_t popped = 0;
  while (!index_.empty() && index_.front().entry.next_offset <= new_start) {
    index_totals_.bytes -= index_.front().entry.bytes;
    index_totals_.batches -= index_.front().entry.batches;
    index_.pop_front();
    ++popped;
  }
  if (popped == 0) return;
  // The running maxima now start at a later second slot: recompute them until they agree with
  // the stored ones (from there on they are equal).
  for (size_t i = 1; i < index_.size(); ++i) {
    int64_t v = i == 1 ? index_[1].entry.max_timestamp_ms
                       : std::max(index_[i - 1].running_max_ms, index_[i].entry.max_timestamp_ms);
    if (v == index_[i].running_max_ms) break;
    index_[i].running_max_ms = v;
  }
  if (!index_.empty()) index_[0].running_max_ms = index_[0].entry.max_timestamp_ms;
}

void Partition::delete_records(int64_t offset, std::function<void(int16_t, int64_t)> done) {
  int64_t hwm = stream_->end_offset().value();
  int64_t target = offset == -1 ? hwm : offset;
  std::optional<std::pair<int16_t, int64_t>> early;  // answered without the lock (partition.h)
  {
    std::lock_guard lock(mu_);
    if (int16_t code = unavailable_error_locked(); code != kafka_error::kNone) early = {code, -1};
    else if (target < 0 || target > hwm) early = {kafka_error::kOffsetOutOfRange, log_start_};
    else if (target <= log_start_) early = {kafka_error::kNone, log_start_};
  }
  if (early) return done(early->first, early->second);
  auto self = shared_from_this();
  stream_->trim(Offset(target), [self, target, done](Result<stream::Done> r) {
    if (!r.ok()) {
      done(r.error().code == Errc::fenced ? kafka_error::kNotLeaderOrFollower : kafka_error::kKafkaStorageError, -1);
      return;
    }
    int64_t start;
    const int64_t durable_end = self->stream_->end_offset().value();  // read before mu_ (partition.h)
    {
      std::lock_guard lock(self->mu_);
      self->trim_to_locked(target, durable_end);
      start = self->log_start_;
    }
    done(kafka_error::kNone, start);
  });
}

void Partition::enforce_retention() {
  int64_t target = -1;
  int64_t now = 0;
  const int64_t durable_end = stream_->end_offset().value();  // read before mu_ (partition.h)
  {
    std::lock_guard lock(mu_);
    if (state_ != State::ready) return;
    fold_durable_locked(durable_end);  // the index now ends at that high watermark
    now = now_ms_();
    uint64_t total = index_totals_.bytes;
    for (const auto& slot : index_) {
      const IndexEntry& e = slot.entry;
      bool expired = config_.retention_ms >= 0 && e.max_timestamp_ms >= 0 && e.max_timestamp_ms < now - config_.retention_ms;
      // Kafka's rule: a segment goes when the rest still holds at least retention.bytes.
      bool oversize = config_.retention_bytes >= 0 && total - e.bytes >= static_cast<uint64_t>(config_.retention_bytes);
      if (!expired && !oversize) break;
      total -= e.bytes;
      target = e.next_offset;
    }
  }
  expire_producers(now);
  maybe_checkpoint(false, {});
  if (target <= log_start_offset()) return;
  delete_records(target, [this, target](int16_t code, int64_t) {
    if (code != kafka_error::kNone) {
      floe::log::warn("log", "partition " + name() + ": retention trim to " + std::to_string(target) +
                                 " failed (error " + std::to_string(code) + ")");
    }
  });
}

void Partition::close(DoneCallback done) {
  Answers parked;
  bool was_ready;
  {
    std::lock_guard lock(mu_);
    was_ready = state_ == State::ready;
    state_ = State::closed;
    answer_parked_locked(kafka_error::kNotLeaderOrFollower, parked);
  }
  answer(parked);
  auto self = shared_from_this();
  auto close_stream = [self, was_ready, done] {
    self->stream_->close([self, was_ready, done](Result<stream::Done> r) {
      if (!r.ok() || !was_ready) {
        if (done) done(r.ok() ? kafka_error::kNone : kafka_error::kKafkaStorageError);
        return;
      }
      // If batches were in flight before, checkpoint now that everything is uploaded (nothing is
      // written when the first attempt below already covered it). The close is answered after
      // the write, whatever its outcome.
      self->maybe_checkpoint(
          true, [done](Status) {
            if (done) done(kafka_error::kNone);
          },
          CheckpointBy::close);
    });
  };
  if (!was_ready) return close_stream();
  // Checkpoint first when no batch is in flight (every batch below the high watermark is durable
  // in the WAL; one the next owner cannot see fails its check there): the stream's close lets a
  // new owner open it, and it should find this checkpoint and read nothing.
  maybe_checkpoint(true, [close_stream](Status) { close_stream(); }, CheckpointBy::close);
}

Partition::Stats Partition::stats() const {
  std::lock_guard lock(mu_);
  Stats out;
  out.index_entries = index_.size() + in_flight_.size();
  out.index_memory_bytes = index_.size() * sizeof(Slot) + in_flight_.size() * sizeof(BatchInfo);
  out.batches = index_totals_.batches + in_flight_.size();
  out.producers = producers_.size();
  out.expired_producers = expired_producers_;
  out.duplicates = duplicates_;
  out.loaded_from_offset = loaded_from_offset_;
  out.checkpoint_offset = checkpoint_offset_;
  out.checkpoints_written = checkpoints_written_;
  return out;
}

std::vector<IndexEntry> Partition::index_entries() const {
  std::lock_guard lock(mu_);
  int64_t hwm = stream_->end_offset().value();
  std::deque<Slot> copy = index_;
  IndexTotals totals = index_totals_;
  for (const auto& b : durable_in_flight_locked(hwm)) index_batch(copy, totals, b, config_.index_entry_bytes);
  std::vector<IndexEntry> out;
  out.reserve(copy.size());
  for (const auto& s : copy) out.push_back(s.entry);
  return out;
}

}  // namespace floe::log
