#include "stream/in_memory_metadata.h"

#include <algorithm>
#include <chrono>

namespace floe::stream {

namespace {
int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
Error fenced(StreamId id, StreamEpoch got, StreamEpoch have) {
  return Error(Errc::fenced, "stream " + id.to_string() + ": epoch " + got.to_string() + " is stale (current " +
                                 have.to_string() + ")");
}
}  // namespace

InMemoryStreamMetadata::InMemoryStreamMetadata(std::function<int64_t()> now_ms)
    : now_ms_(now_ms ? std::move(now_ms) : steady_now_ms) {}

int64_t InMemoryStreamMetadata::now() const { return now_ms_(); }

void InMemoryStreamMetadata::create_stream(MetaCallback<StreamInfo> done) {
  StreamInfo info;
  {
    std::lock_guard lk(mu_);
    info.id = StreamId(next_stream_id_++);
    streams_[info.id] = info;
  }
  done(info);
}

void InMemoryStreamMetadata::open_stream(StreamId id, NodeId node, MetaCallback<StreamInfo> done) {
  Result<StreamInfo> r = Error(Errc::not_found, "stream " + id.to_string());
  {
    std::lock_guard lk(mu_);
    if (auto it = streams_.find(id); it != streams_.end()) {
      it->second.epoch = StreamEpoch(it->second.epoch.value() + 1);
      it->second.open = true;
      it->second.owner = node;
      r = it->second;
    }
  }
  done(std::move(r));
}

void InMemoryStreamMetadata::close_stream(StreamId id, StreamEpoch epoch, MetaCallback<Done> done) {
  Result<Done> r = Done{};
  {
    std::lock_guard lk(mu_);
    auto it = streams_.find(id);
    if (it == streams_.end()) r = Error(Errc::not_found, "stream " + id.to_string());
    else if (it->second.epoch != epoch) r = fenced(id, epoch, it->second.epoch);
    else it->second.open = false;
  }
  done(std::move(r));
}

void InMemoryStreamMetadata::describe_stream(StreamId id, MetaCallback<StreamInfo> done) {
  Result<StreamInfo> r = Error(Errc::not_found, "stream " + id.to_string());
  {
    std::lock_guard lk(mu_);
    if (describe_error_) r = *describe_error_;
    else if (auto it = streams_.find(id); it != streams_.end()) r = it->second;
  }
  done(std::move(r));
}

void InMemoryStreamMetadata::fail_describe_stream(std::optional<Error> error) {
  std::lock_guard lk(mu_);
  describe_error_ = std::move(error);
}

void InMemoryStreamMetadata::trim_stream(StreamId id, StreamEpoch epoch, Offset new_start, MetaCallback<Done> done) {
  Result<Done> r = Done{};
  {
    std::lock_guard lk(mu_);
    auto it = streams_.find(id);
    if (it == streams_.end()) {
      r = Error(Errc::not_found, "stream " + id.to_string());
    } else if (it->second.epoch != epoch) {
      r = fenced(id, epoch, it->second.epoch);
    } else if (new_start > it->second.start_offset) {
      // The stream layer may trim into data not yet committed (still in its WAL); the start
      // offset then runs ahead of the committed end, which is fine for reads.
      it->second.start_offset = new_start;
      destroy_trimmed_locked();
    }
  }
  done(std::move(r));
}

void InMemoryStreamMetadata::prepare_objects(uint32_t count, int64_t ttl_ms, MetaCallback<ObjectId> done) {
  ObjectId first;
  {
    std::lock_guard lk(mu_);
    expire_prepared_locked();
    first = ObjectId(next_object_id_);
    for (uint32_t i = 0; i < count; ++i) {
      ObjectMeta m;
      m.id = ObjectId(next_object_id_++);
      m.state = ObjectState::prepared;
      objects_[m.id] = m;
      prepared_deadline_ms_[m.id] = now() + ttl_ms;
    }
  }
  done(first);
}

void InMemoryStreamMetadata::expire_prepared_locked() {
  int64_t t = now();
  for (auto it = prepared_deadline_ms_.begin(); it != prepared_deadline_ms_.end();) {
    if (it->second <= t) {
      destroy_locked(it->first);
      it = prepared_deadline_ms_.erase(it);
    } else {
      ++it;
    }
  }
}

void InMemoryStreamMetadata::destroy_locked(ObjectId id) {
  auto it = objects_.find(id);
  if (it == objects_.end() || it->second.state == ObjectState::destroyed) return;
  it->second.state = ObjectState::destroyed;
  it->second.destroyed_ms = now();
}

void InMemoryStreamMetadata::destroy_trimmed_locked() {
  for (auto& [id, m] : objects_) {
    if (m.state != ObjectState::committed) continue;
    bool all_below = std::all_of(m.ranges.begin(), m.ranges.end(), [&](const StreamRange& r) {
      auto s = streams_.find(r.stream_id);
      return s == streams_.end() || r.end_offset <= s->second.start_offset;
    });
    if (all_below) destroy_locked(id);
  }
}

Status InMemoryStreamMetadata::check_compacted_locked(const std::vector<ObjectId>& ids) const {
  for (auto id : ids) {
    auto it = objects_.find(id);
    if (it == objects_.end() || it->second.state != ObjectState::committed)
      return Error(Errc::not_found, "compacted object " + id.to_string() + " is not committed");
  }
  return {};
}

Status InMemoryStreamMetadata::validate_data_commit_locked(const std::vector<StreamRange>& ranges) const {
  std::map<StreamId, Offset> next;
  for (const auto& r : ranges) {
    auto s = streams_.find(r.stream_id);
    if (s == streams_.end()) continue;  // deleted while its data waited for upload: dropped
    if (s->second.epoch != r.epoch) return fenced(r.stream_id, r.epoch, s->second.epoch);
    Offset expect = next.count(r.stream_id) ? next[r.stream_id] : s->second.end_offset;
    if (r.start_offset != expect || r.end_offset <= r.start_offset)
      return Error(Errc::invalid_value, "stream " + r.stream_id.to_string() + ": commit of [" +
                                            std::to_string(r.start_offset.value()) + ", " +
                                            std::to_string(r.end_offset.value()) + ") does not start at its end " +
                                            std::to_string(expect.value()));
    next[r.stream_id] = r.end_offset;
  }
  return {};
}

void InMemoryStreamMetadata::commit_stream_set_object(StreamSetObjectCommit c, MetaCallback<Done> done) {
  Result<Done> r = Done{};
  {
    std::lock_guard lk(mu_);
    expire_prepared_locked();
    std::vector<ObjectId> ids;
    if (c.object_id) ids.push_back(*c.object_id);
    for (auto& so : c.stream_objects) ids.push_back(so.object_id);
    bool all_committed = !ids.empty() && std::all_of(ids.begin(), ids.end(), [&](ObjectId id) {
      auto it = objects_.find(id);
      return it != objects_.end() && it->second.state == ObjectState::committed;
    });
    Status st;
    for (auto id : ids) {
      auto it = objects_.find(id);
      if (!all_committed && (it == objects_.end() || it->second.state != ObjectState::prepared))
        st = Error(Errc::not_found, "object " + id.to_string() + " is not prepared (expired?)");
    }
    if (all_committed) {
      done(Done{});  // a retry of a commit that succeeded
      return;
    }
    // Every range of the commit, in stream order, for the data-commit checks.
    std::vector<StreamRange> all = c.ranges;
    for (auto& so : c.stream_objects) all.push_back(so.range);
    std::stable_sort(all.begin(), all.end(), [](const StreamRange& a, const StreamRange& b) {
      return std::tie(a.stream_id, a.start_offset) < std::tie(b.stream_id, b.start_offset);
    });
    bool compaction = !c.compacted_object_ids.empty();
    if (st.ok()) st = compaction ? check_compacted_locked(c.compacted_object_ids) : validate_data_commit_locked(all);
    if (!st.ok()) {
      r = st.take_error();
    } else {
      int64_t t = now();
      auto put = [&](ObjectId id, ObjectKind kind, uint64_t size, std::vector<StreamRange> ranges) {
        ObjectMeta& m = objects_[id];
        m.kind = kind;
        m.state = ObjectState::committed;
        m.node_id = c.node_id;
        m.size_bytes = size;
        m.ranges = std::move(ranges);
        m.committed_ms = t;
        prepared_deadline_ms_.erase(id);
      };
      if (c.object_id) put(*c.object_id, ObjectKind::stream_set, c.object_size_bytes, c.ranges);
      for (auto& so : c.stream_objects) put(so.object_id, ObjectKind::stream, so.object_size_bytes, {so.range});
      if (compaction) {
        for (auto id : c.compacted_object_ids) destroy_locked(id);
      } else {
        for (auto& range : all) {
          if (auto it = streams_.find(range.stream_id); it != streams_.end()) it->second.end_offset = range.end_offset;
        }
      }
      destroy_trimmed_locked();
    }
  }
  done(std::move(r));
}

void InMemoryStreamMetadata::commit_stream_object(StreamObjectCommit c, MetaCallback<Done> done) {
  StreamSetObjectCommit set;
  set.compacted_object_ids = c.compacted_object_ids;
  set.stream_objects.push_back(std::move(c));
  commit_stream_set_object(std::move(set), std::move(done));
}

void InMemoryStreamMetadata::list_objects(StreamId id, Offset start, Offset end, uint32_t limit,
                                          MetaCallback<std::vector<ObjectSlice>> done) {
  std::vector<ObjectSlice> out;
  {
    std::lock_guard lk(mu_);
    for (const auto& [oid, m] : objects_) {
      if (m.state != ObjectState::committed) continue;
      for (const auto& r : m.ranges)
        if (r.stream_id == id && r.end_offset > start && r.start_offset < end)
          out.push_back(ObjectSlice{oid, m.kind, m.size_bytes, r.start_offset, r.end_offset});
    }
  }
  std::sort(out.begin(), out.end(), [](const ObjectSlice& a, const ObjectSlice& b) {
    return std::tie(a.start_offset, a.object_id) < std::tie(b.start_offset, b.object_id);
  });
  if (out.size() > limit) out.resize(limit);
  done(std::move(out));
}

void InMemoryStreamMetadata::list_stream_set_objects(NodeId node, uint32_t limit,
                                                     MetaCallback<std::vector<ObjectMeta>> done) {
  std::vector<ObjectMeta> out;
  {
    std::lock_guard lk(mu_);
    for (const auto& [id, m] : objects_)
      if (m.state == ObjectState::committed && m.kind == ObjectKind::stream_set && m.node_id == node &&
          out.size() < limit)
        out.push_back(m);
  }
  done(std::move(out));
}

void InMemoryStreamMetadata::list_destroyed_objects(int64_t before_ms, uint32_t limit,
                                                    MetaCallback<std::vector<ObjectMeta>> done) {
  std::vector<ObjectMeta> out;
  {
    std::lock_guard lk(mu_);
    expire_prepared_locked();
    for (const auto& [id, m] : objects_)
      if (m.state == ObjectState::destroyed && m.destroyed_ms <= before_ms && out.size() < limit) out.push_back(m);
  }
  done(std::move(out));
}

void InMemoryStreamMetadata::erase_objects(std::vector<ObjectId> ids, MetaCallback<Done> done) {
  {
    std::lock_guard lk(mu_);
    for (auto id : ids)
      if (auto it = objects_.find(id); it != objects_.end() && it->second.state == ObjectState::destroyed)
        objects_.erase(it);
  }
  done(Done{});
}

std::vector<ObjectMeta> InMemoryStreamMetadata::all_objects() const {
  std::lock_guard lk(mu_);
  std::vector<ObjectMeta> out;
  for (const auto& [id, m] : objects_) out.push_back(m);
  return out;
}

std::optional<ObjectMeta> InMemoryStreamMetadata::object(ObjectId id) const {
  std::lock_guard lk(mu_);
  if (auto it = objects_.find(id); it != objects_.end()) return it->second;
  return std::nullopt;
}

}  // namespace floe::stream
