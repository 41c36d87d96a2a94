// The coordinator's stream: serialized appends, load (replay) at start, compaction by snapshot
// (group_coordinator.h "Durability").
#include "common/log.h"
#include "group/coordinator_impl.h"

namespace floe::broker {

using namespace kafka_error;

int16_t GroupCoordinator::Impl::append_error(const Status& st) const {
  FLOE_ASSERT(!st.ok());
  switch (st.error().code) {
    case Errc::fenced:  // the stream was opened elsewhere: someone else coordinates now
      return kNotCoordinator;
    case Errc::too_large:
    case Errc::timeout:
    case Errc::io:
    case Errc::not_found:
      return kCoordinatorNotAvailable;
    default:
      return kUnknownServerError;
  }
}

bool GroupCoordinator::Impl::enqueue(Bytes bytes, uint32_t records, std::function<void(Status)> done) {
  FLOE_ASSERT(records > 0);
  if (stopping_ || queue_.size() >= options_.append_queue_max) return false;
  queue_.push_back(AppendEntry{std::move(bytes), records, std::move(done)});
  pump();
  return true;
}

void GroupCoordinator::Impl::pump() {
  if (append_in_flight_ || queue_.empty() || stopping_) return;
  // Coalesce queued entries into one batch (a group commit), up to append_batch_bytes_max.
  Bytes bytes;
  uint32_t records = 0;
  std::vector<std::function<void(Status)>> dones;
  while (!queue_.empty()) {
    auto& e = queue_.front();
    if (!dones.empty() && bytes.size() + e.bytes.size() > options_.append_batch_bytes_max) break;
    bytes.insert(bytes.end(), e.bytes.begin(), e.bytes.end());
    records += e.records;
    dones.push_back(std::move(e.done));
    queue_.pop_front();
  }
  append_in_flight_ = true;
  ++stream_ops_in_flight_;
  ++counters_.appends;
  stream::Batch batch{Offset(next_offset_), records, SharedBytes(std::move(bytes))};
  stream_->append(std::move(batch), [this, dones = std::move(dones)](Result<Offset> r) mutable {
    post([this, dones = std::move(dones), r = std::move(r)]() mutable { on_append_done(std::move(dones), std::move(r)); });
  });
}

void GroupCoordinator::Impl::on_append_done(std::vector<std::function<void(Status)>> dones, Result<Offset> r) {
  append_in_flight_ = false;
  --stream_ops_in_flight_;
  Status st;
  if (r.ok()) {
    next_offset_ = r->value();
  } else {
    log::error("group", "append to the group state stream failed: " + r.error().to_string());
    st = r.error();
    next_offset_ = stream_->end_offset().value();
  }
  // Each done applies its change to memory (on success) in log order: invariant 2.
  for (auto& d : dones) d(st);
  if (stopping_) {
    for (auto& e : queue_) e.done(Status(Errc::timeout, "group coordinator stopping"));
    queue_.clear();
    return stream_op_done();
  }
  maybe_compact();
  pump();
}

void GroupCoordinator::Impl::maybe_compact() {
  // Nothing is in flight here and every durable change is applied, so memory == the log's replay:
  // a snapshot of memory, placed before the queued entries, is the log's state at its start.
  if (compaction_in_progress_ || append_in_flight_ || !loaded_) return;
  const uint64_t log_records = static_cast<uint64_t>(next_offset_ - stream_->start_offset().value());
  if (log_records < next_compaction_check_records_) return;
  uint64_t live = 0;
  for (const auto& [_, g] : groups_) live += g->offsets.size() + (g->persisted ? 1 : 0);
  if (log_records <= live + options_.compaction_threshold_records) {
    next_compaction_check_records_ = live + options_.compaction_threshold_records + 1;
    return;
  }
  compaction_in_progress_ = true;
  const int64_t snapshot_start = next_offset_;
  std::vector<AppendEntry> chunks;
  Bytes bytes;
  uint32_t records = 0;
  auto flush = [&] {
    if (records == 0) return;
    chunks.push_back({std::move(bytes), records, nullptr});
    bytes = Bytes();
    records = 0;
  };
  for (const auto& [gid, g] : groups_) {
    if (g->persisted) {
      group_format::append_record(bytes, group_format::group_record(gid, *g->persisted));
      ++records;
    }
    for (const auto& [tp, v] : g->offsets) {
      if (bytes.size() >= options_.append_batch_bytes_max) flush();
      group_format::append_record(bytes, group_format::offset_record(gid, tp.first, tp.second, v));
      ++records;
    }
    if (bytes.size() >= options_.append_batch_bytes_max) flush();
  }
  flush();
  log::info("group", "compacting the group state stream: " + std::to_string(log_records) + " records, " +
                         std::to_string(live) + " live");
  if (chunks.empty()) {
    // No live state: trimming to the end drops every record.
    ++stream_ops_in_flight_;
    stream_->trim(Offset(snapshot_start), [this](Result<stream::Done> r) {
      post([this, ok = r.ok()] {
        --stream_ops_in_flight_;
        compaction_in_progress_ = false;
        if (ok) ++counters_.compactions;
        stream_op_done();
      });
    });
    return;
  }
  auto failed = std::make_shared<bool>(false);
  for (size_t i = 0; i < chunks.size(); ++i) {
    bool last = i + 1 == chunks.size();
    chunks[i].done = [this, failed, last, snapshot_start](Status st) {
      if (!st.ok()) *failed = true;
      if (!last) return;
      if (*failed || stopping_) {
        compaction_in_progress_ = false;
        return;
      }
      ++stream_ops_in_flight_;
      stream_->trim(Offset(snapshot_start), [this](Result<stream::Done> r) {
        post([this, ok = r.ok()] {
          --stream_ops_in_flight_;
          compaction_in_progress_ = false;
          if (ok) ++counters_.compactions;
          next_compaction_check_records_ = 0;
          stream_op_done();
        });
      });
    };
  }
  // Front of the queue, in order: the snapshot precedes every change not yet applied. The caller
  // pumps.
  for (size_t i = chunks.size(); i-- > 0;) queue_.push_front(std::move(chunks[i]));
}

// --- load ---

void GroupCoordinator::Impl::begin_load() {
  load_start_ = stream_->start_offset().value();
  load_end_ = stream_->end_offset().value();
  log::info("group", "loading group state: stream offsets [" + std::to_string(load_start_) + ", " +
                         std::to_string(load_end_) + ")");
  load_from(load_start_);
}

void GroupCoordinator::Impl::load_from(int64_t offset) {
  if (stopping_) return finish_load(Status(Errc::timeout, "stopped while loading"));
  if (offset >= load_end_) return finish_load(ok_status());
  ++stream_ops_in_flight_;
  stream_->fetch(Offset(offset), options_.load_fetch_bytes, [this](Result<stream::FetchResult> r) {
    post([this, r = std::move(r)]() mutable {
      --stream_ops_in_flight_;
      on_load_chunk(std::move(r));
    });
  });
}

void GroupCoordinator::Impl::on_load_chunk(Result<stream::FetchResult> r) {
  if (!r.ok()) return finish_load(r.error());
  if (r->batches.empty()) return finish_load(Status(Errc::corrupt, "group state stream: empty fetch before the end"));
  int64_t next = 0;
  for (const auto& b : r->batches) {
    auto records = group_format::decode_records(b.bytes.span());
    if (!records.ok()) return finish_load(records.error());
    if (records->size() != b.record_count)
      return finish_load(Status(Errc::corrupt, "group state stream: batch record count mismatch"));
    for (size_t i = 0; i < records->size(); ++i) {
      if (b.base_offset.value() + static_cast<int64_t>(i) < load_start_) continue;  // trimmed away
      apply_loaded((*records)[i]);
      ++counters_.loaded_records;
    }
    next = b.end_offset().value();
  }
  load_from(next);
}

void GroupCoordinator::Impl::apply_loaded(const group_format::Record& rec) {
  if (rec.type == group_format::RecordType::offset) {
    auto& offsets = loading_offsets_[rec.group];
    if (rec.offset)
      offsets[{rec.topic, rec.partition}] = *rec.offset;
    else
      offsets.erase({rec.topic, rec.partition});
  } else {
    loading_groups_[rec.group] = rec.group_value;
  }
}

void GroupCoordinator::Impl::finish_load(Status st) {
  if (st.ok() && stopping_) st = Status(Errc::timeout, "stopped while loading");
  if (st.ok()) {
    for (auto& [gid, value] : loading_groups_) {
      if (!value) continue;
      Group& g = create_group(gid);
      g.persisted = value;
      g.protocol_type = value->protocol_type;
      g.generation = value->generation;
      g.protocol = value->protocol;
      g.leader = value->leader;
      g.state_timestamp_ms = value->state_timestamp_ms;
      // A group with members comes back Stable; every member must heartbeat within its session.
      g.state = value->members.empty() || !value->protocol ? GroupState::empty : GroupState::stable;
      if (g.state == GroupState::empty) continue;
      for (const auto& mv : value->members) {
        auto m = std::make_unique<Member>();
        m->id = mv.member_id;
        m->instance_id = mv.instance_id;
        m->client_id = mv.client_id;
        m->client_host = mv.client_host;
        m->rebalance_timeout_ms = mv.rebalance_timeout_ms;
        m->session_timeout_ms = mv.session_timeout_ms;
        m->protocols.push_back({*value->protocol, mv.subscription});
        m->assignment = mv.assignment;
        m->heartbeat_timer = std::make_unique<asio::steady_timer>(io_);
        if (m->instance_id) g.static_members[*m->instance_id] = m->id;
        Member& ref = *m;
        g.members.emplace(mv.member_id, std::move(m));
        ++members_total_;
        heartbeat_member(g, ref);
      }
      if (!g.has_member(g.leader)) g.leader = g.members.begin()->first;
    }
    for (auto& [gid, offsets] : loading_offsets_) {
      if (offsets.empty()) continue;
      Group* g = find_group(gid);
      if (!g) g = &create_group(gid);  // offsets-only group (simple consumers)
      offsets_total_ += offsets.size();
      g->offsets = std::move(offsets);
    }
    next_offset_ = load_end_;
    loaded_ = true;
    log::info("group", "group state loaded: " + std::to_string(groups_.size()) + " groups, " +
                           std::to_string(offsets_total_) + " offsets from " +
                           std::to_string(counters_.loaded_records) + " records");
    schedule_retention_timer();
  } else {
    load_failed_ = true;
    groups_.clear();
    log::error("group", "loading group state failed: " + st.error().to_string());
  }
  loading_groups_.clear();
  loading_offsets_.clear();
  if (loaded_cb_) std::exchange(loaded_cb_, nullptr)(st);
  stream_op_done();
}

}  // namespace floe::broker
