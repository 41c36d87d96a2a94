// Partition checkpoints (partition.h "Checkpoints"): the state after every batch below an offset,
// written beside the stream (stream/checkpoints.h), and loading from one.
//
// Payload (big-endian), version 1:
//   u16 version | i64 offset X | i64 log start | i64 last batch base | i64 last batch end (== X)
//   | u32 last batch CRC | u64 index bytes | u64 index batches
//   | u32 entries, each: i64 base | i64 next | i64 max timestamp | i64 max timestamp offset
//                        | u64 bytes | u32 batches | i32 leader epoch | i64 running max
//   | u32 producers, each: i64 id | i16 epoch | i64 last append ms | u8 count
//                          | count x (i32 first seq | i32 last seq | i64 base | i64 last | i64 append time), oldest first
#include <limits>

#include "common/assert.h"
#include "common/log.h"
#include "log/partition.h"
#include "protocol/records/record_batch.h"

namespace floe::log {

namespace {
constexpr uint16_t kCheckpointVersion = 1;
constexpr size_t kEntryBytes = 8 + 8 + 8 + 8 + 8 + 4 + 4 + 8;       // one index entry
constexpr size_t kProducerMinBytes = 8 + 2 + 8 + 1;                 // a producer with no batch

// Reads fields in order; a field past the end reads as 0 and marks the cursor cut short.
struct Cursor {
  explicit Cursor(std::span<const uint8_t> bytes) : r(bytes) {}
  ByteReader r;
  bool short_read = false;
  template <typename T>
  T take(Result<T> v) {
    if (!v.ok()) {
      short_read = true;
      return T{};
    }
    return *v;
  }
  uint8_t u8() { return take(r.read_u8()); }
  int16_t i16() { return take(r.read_i16()); }
  uint16_t u16() { return take(r.read_u16()); }
  int32_t i32() { return take(r.read_i32()); }
  uint32_t u32() { return take(r.read_u32()); }
  int64_t i64() { return take(r.read_i64()); }
  uint64_t u64() { return take(r.read_u64()); }
};

// The first fields: version, offset, log start, and the last batch (base, end, CRC).
struct Head {
  uint16_t version = 0;
  int64_t offset = -1;
  int64_t log_start = -1;
  int64_t last_base = -1;
  int64_t last_next = -1;
  uint32_t last_crc = 0;
};
Head read_head(Cursor& c) {
  Head h;
  h.version = c.u16();
  h.offset = c.i64();
  h.log_start = c.i64();
  h.last_base = c.i64();
  h.last_next = c.i64();
  h.last_crc = c.u32();
  return h;
}
}  // namespace

Bytes Partition::encode_checkpoint_locked() const {
  FLOE_ASSERT(in_flight_.empty());
  ByteWriter w(64 + index_.size() * kEntryBytes + producers_.size() * (kProducerMinBytes + 5 * 32));
  w.write_u16(kCheckpointVersion);
  w.write_i64(next_offset_);
  w.write_i64(log_start_);
  w.write_i64(last_batch_.base_offset);
  w.write_i64(last_batch_.next_offset);
  w.write_u32(last_batch_.crc);
  w.write_u64(index_totals_.bytes);
  w.write_u64(index_totals_.batches);
  w.write_u32(static_cast<uint32_t>(index_.size()));
  for (const Slot& s : index_) {
    const IndexEntry& e = s.entry;
    w.write_i64(e.base_offset);
    w.write_i64(e.next_offset);
    w.write_i64(e.max_timestamp_ms);
    w.write_i64(e.max_timestamp_offset);
    w.write_u64(e.bytes);
    w.write_u32(e.batches);
    w.write_i32(e.leader_epoch);
    w.write_i64(s.running_max_ms);
  }
  w.write_u32(static_cast<uint32_t>(producers_.size()));
  for (const auto& [id, p] : producers_) {
    w.write_i64(id);
    w.write_i16(p.epoch);
    w.write_i64(p.last_append_ms);
    w.write_u8(p.count);
    for (size_t i = p.count; i > 0; --i) {  // oldest first
      const ProducerBatch& b = p.ring[(p.next + kProducerBatches - i) % kProducerBatches];
      w.write_i32(b.first_seq);
      w.write_i32(b.last_seq);
      w.write_i64(b.base_offset);
      w.write_i64(b.last_offset);
      w.write_i64(b.append_time_ms);
    }
  }
  return w.take();
}

Status Partition::restore_checkpoint_locked(std::span<const uint8_t> payload, int64_t offset) {
  auto bad = [](const std::string& why) { return Error(Errc::corrupt, "partition checkpoint: " + why); };
  Cursor c(payload);
  Head h = read_head(c);
  if (c.short_read) return bad("cut short");
  if (h.version != kCheckpointVersion) return bad("unknown version " + std::to_string(h.version));
  if (h.offset != offset || h.last_next != h.offset || h.last_base >= h.offset || h.log_start > h.offset)
    return bad("its offsets do not agree (offset " + std::to_string(offset) + ")");
  IndexTotals totals;
  totals.bytes = c.u64();
  totals.batches = c.u64();
  uint32_t entries = c.u32();
  if (c.short_read || entries > c.r.remaining() / kEntryBytes) return bad("more entries than bytes");
  std::deque<Slot> index;
  uint64_t bytes = 0, batches = 0;
  for (uint32_t i = 0; i < entries; ++i) {
    Slot s;
    s.entry.base_offset = c.i64();
    s.entry.next_offset = c.i64();
    s.entry.max_timestamp_ms = c.i64();
    s.entry.max_timestamp_offset = c.i64();
    s.entry.bytes = c.u64();
    s.entry.batches = c.u32();
    s.entry.leader_epoch = c.i32();
    s.running_max_ms = c.i64();
    if (s.entry.next_offset <= s.entry.base_offset) return bad("an empty entry");
    if (!index.empty() && (index.back().entry.next_offset != s.entry.base_offset ||
                           index.back().entry.leader_epoch > s.entry.leader_epoch))
      return bad("entries not contiguous or epochs decreasing");
    bytes += s.entry.bytes;
    batches += s.entry.batches;
    index.push_back(s);
  }
  if (c.short_read) return bad("cut short");
  if (!index.empty() && (index.back().entry.next_offset != h.offset || index.front().entry.base_offset > h.log_start))
    return bad("the index does not end at its offset or starts above the log start");
  if (h.log_start < 0 || (index.empty() && h.log_start != h.offset) ||
      (!index.empty() && index.front().entry.next_offset <= h.log_start))
    return bad("its log start is not inside its first entry");
  // The running maxima the timestamp search bisects (partition.h Slot): from the second slot,
  // the maximum over slots [1, i] (the first slot's is not used).
  for (size_t i = 1; i < index.size(); ++i) {
    int64_t want = i == 1 ? index[i].entry.max_timestamp_ms
                          : std::max(index[i - 1].running_max_ms, index[i].entry.max_timestamp_ms);
    if (index[i].running_max_ms != want) return bad("running timestamp maxima do not match the entries");
  }
  if (bytes != totals.bytes || batches != totals.batches) return bad("totals do not match the entries");
  uint32_t count = c.u32();
  if (c.short_read || count > c.r.remaining() / kProducerMinBytes) return bad("more producers than bytes");
  std::map<int64_t, ProducerEntry> producers;
  for (uint32_t i = 0; i < count; ++i) {
    int64_t id = c.i64();
    ProducerEntry p;
    p.epoch = c.i16();
    p.last_append_ms = c.i64();
    uint8_t held = c.u8();
    if (held > kProducerBatches) return bad("a producer with more than 5 batches");
    for (uint8_t k = 0; k < held; ++k) {
      ProducerBatch b;
      b.first_seq = c.i32();
      b.last_seq = c.i32();
      b.base_offset = c.i64();
      b.last_offset = c.i64();
      b.append_time_ms = c.i64();
      p.push(b);
    }
    if (c.short_read) return bad("cut short");
    if (held > 0 && p.last().last_offset >= h.offset) return bad("a producer batch at or past its offset");
    if (!producers.emplace(id, p).second) return bad("a producer listed twice");
  }
  if (c.r.remaining() != 0) return bad("trailing bytes");
  // Valid: take it.
  log_start_ = h.log_start;
  next_offset_ = h.offset;
  index_ = std::move(index);
  index_totals_ = totals;
  last_batch_ = LastBatch{h.last_base, h.last_next, h.last_crc};
  producers_ = std::move(producers);
  checkpoint_offset_ = h.offset;
  checkpoint_index_bytes_ = totals.bytes;
  loaded_from_offset_ = h.offset;
  return {};
}

void Partition::load_from_checkpoint(std::function<void(Status)> loaded) {
  auto self = shared_from_this();
  checkpoints_->latest(stream_->id(), [self, loaded](Result<std::optional<stream::Checkpoint>> r) {
    int64_t start = self->stream_->start_offset().value();
    if (!r.ok()) {
      floe::log::warn("log", "partition " + self->name() + ": reading its checkpoint failed (" + r.error().message +
                                 "); reading the stream from " + std::to_string(start));
      return self->load_from(start, loaded);
    }
    if (!r->has_value()) return self->load_from(start, loaded);
    self->restore_or_scan(std::move(**r), stream::kMaxCheckpointTries, loaded);
  });
}

void Partition::restore_or_scan(stream::Checkpoint cp, int tries_left, std::function<void(Status)> loaded) {
  int64_t start = stream_->start_offset().value();
  int64_t end = stream_->end_offset().value();
  auto self = shared_from_this();
  auto scan = [self, start, loaded](const std::string& why) {
    floe::log::info("log", "partition " + self->name() + ": not loading from a checkpoint (" + why +
                               "); reading the stream from " + std::to_string(start));
    self->load_from(start, loaded);
  };
  // This one does not describe the stream (a fenced owner's, for data the stream does not have):
  // the one before it may.
  auto try_older = [self, cp, tries_left, scan, loaded](const std::string& why) {
    if (tries_left <= 1) return scan(why);
    floe::log::info("log", "partition " + self->name() + ": checkpoint at " + std::to_string(cp.offset) +
                               " not used (" + why + "); trying the one before");
    self->checkpoints_->latest(
        self->stream_->id(),
        [self, tries_left, scan, loaded](Result<std::optional<stream::Checkpoint>> r) {
          if (!r.ok()) return scan("reading an older checkpoint failed: " + r.error().message);
          if (!r->has_value()) return scan("no older checkpoint");
          self->restore_or_scan(std::move(**r), tries_left - 1, loaded);
        },
        cp.offset);
  };
  if (cp.offset > end) return try_older("its offset is past the stream's end " + std::to_string(end));
  // Peek at the last batch it names: the stream must still hold that very batch.
  Cursor c(cp.payload.span());
  Head h = read_head(c);
  if (c.short_read) return try_older("it is cut short");
  if (h.version != kCheckpointVersion) return try_older("unknown version " + std::to_string(h.version));
  if (h.last_base < start) return scan("its last batch is below the log start " + std::to_string(start));
  stream_->fetch(Offset(h.last_base), 1, [self, cp, h, scan, try_older, loaded](Result<stream::FetchResult> got) {
    if (!got.ok() || got->batches.empty()) return try_older("its last batch cannot be read");
    auto b = records::read_batch_header(got->batches.front().bytes.span());
    if (!b.ok() || b->base_offset != h.last_base || b->next_offset() != h.last_next || b->crc != h.last_crc)
      return try_older("the stream holds another batch at its last batch's offsets");
    int64_t start_now = self->stream_->start_offset().value();
    int64_t end_now = self->stream_->end_offset().value();  // read before the lock (partition.h)
    enum class Outcome { restored, closed, invalid } outcome;
    std::string why;
    {
      std::lock_guard lock(self->mu_);
      if (self->state_ != State::loading) {
        outcome = Outcome::closed;
      } else if (Status st = self->restore_checkpoint_locked(cp.payload.span(), cp.offset); !st.ok()) {
        outcome = Outcome::invalid;
        why = st.error().message;
      } else {
        outcome = Outcome::restored;
        self->trim_to_locked(start_now, end_now);  // trimmed since the checkpoint was taken
      }
    }
    // Decided under the lock, acted on without it (partition.h).
    if (outcome == Outcome::closed) {
      if (loaded) loaded(Error(Errc::fenced, "partition " + self->name() + " closed while loading"));
      return;
    }
    if (outcome == Outcome::invalid) return try_older(why);
    floe::log::info("log", "partition " + self->name() + ": loaded from its checkpoint at offset " +
                               std::to_string(cp.offset) + "; reading the stream from there");
    self->load_from(cp.offset, loaded);
  });
}

void Partition::maybe_checkpoint(bool force, std::function<void(Status)> done, CheckpointBy by) {
  auto finish = [&done](Status st) {
    if (done) done(std::move(st));
  };
  if (!checkpoints_) return finish({});
  int64_t offset = -1;
  uint64_t index_bytes = 0;
  Bytes payload;
  const int64_t durable_end = stream_->end_offset().value();  // before mu_ (partition.h)
  bool write = false;
  {
    std::lock_guard lock(mu_);
    if (by == CheckpointBy::close && checkpoint_in_flight_) {
      // Wait for it, then try again (it may not cover everything): nothing lands after close.
      after_checkpoint_.push_back([self = shared_from_this(), force, done = std::move(done)]() mutable {
        self->maybe_checkpoint(force, std::move(done), CheckpointBy::close);
      });
      return;
    }
    if (state_ == State::ready || (state_ == State::closed && by == CheckpointBy::close)) {
      fold_durable_locked(durable_end);
      bool moved = next_offset_ != checkpoint_offset_ && last_batch_.next_offset == next_offset_;
      bool due = force || index_totals_.bytes - std::min(index_totals_.bytes, checkpoint_index_bytes_) >=
                              config_.checkpoint_interval_bytes;
      write = moved && due && in_flight_.empty() && !checkpoint_in_flight_;
    }
    if (write) {
      offset = next_offset_;
      index_bytes = index_totals_.bytes;
      payload = encode_checkpoint_locked();
      checkpoint_in_flight_ = true;
    }
  }
  if (!write) return finish({});  // answered without the lock
  auto self = shared_from_this();
  checkpoints_->put(stream_->id(), offset, SharedBytes(std::move(payload)),
                    [self, offset, index_bytes, done](Status st) {
                      std::vector<std::function<void()>> waiting;
                      {
                        std::lock_guard lock(self->mu_);
                        self->checkpoint_in_flight_ = false;
                        if (st.ok()) {
                          self->checkpoint_offset_ = offset;
                          self->checkpoint_index_bytes_ = index_bytes;
                          ++self->checkpoints_written_;
                        }
                        waiting.swap(self->after_checkpoint_);
                      }
                      for (auto& w : waiting) w();
                      if (!st.ok()) {
                        floe::log::warn("log", "partition " + self->name() + ": writing its checkpoint at " +
                                                   std::to_string(offset) + " failed: " + st.error().message);
                      }
                      if (done) done(st);
                    });
}

void Partition::checkpoint_now(std::function<void(Status)> done) { maybe_checkpoint(true, std::move(done)); }

}  // namespace floe::log
