// StreamManager::compact_now / gc_now (DESIGN.md write path step 5): see stream_manager.h.
//
// Compaction round:
//  (a) the oldest stream-set objects of this node (at least min_stream_set_objects of them, at
//      most max_bytes_per_round bytes read: the memory bound) are read whole, their data below
//      each stream's start offset dropped, and rewritten: each contiguous stream range of at least
//      stream_object_min_bytes becomes a stream object, the rest one new stream-set object; one
//      metadata commit replaces the sources (which become destroyed);
//  (b) per open stream, runs of adjacent small stream objects are merged into one stream object of
//      up to stream_object_target_bytes.
// Reads are throttled to throttle_bytes_per_s. GC deletes destroyed objects older than gc_delay_ms
// (the delay covers readers that listed an object just before it was replaced), then erases them
// from metadata.
#include <algorithm>
#include <map>

#include "common/log.h"
#include "objectstore/blocking.h"
#include "stream/stream_manager.h"

namespace floe::stream {

namespace {

struct StreamData {
  StreamEpoch epoch;
  std::vector<Batch> batches;
};

// Batches of every stream held in the objects, keyed by stream, sorted by offset.
Status collect(const SharedBytes& object, std::map<StreamId, StreamData>& out, StreamEpoch epoch_of_unknown) {
  auto parsed = parse_object(object);
  if (!parsed.ok()) return parsed.take_error();
  for (const auto& e : parsed->index) {
    auto batches = parse_block(object.slice(e.position, e.size_bytes), e);
    if (!batches.ok()) return batches.take_error();
    auto& d = out[e.stream_id];
    d.epoch = epoch_of_unknown;
    for (auto& b : *batches) d.batches.push_back(std::move(b));
  }
  return {};
}

}  // namespace

Status StreamManager::compact_now() {
  std::lock_guard guard(compaction_mu_);
  const CompactionOptions& opt = options_.compaction;
  objectstore::BlockingStore blocking(*store_);
  auto throttle = [&](uint64_t bytes) {
    if (opt.throttle_bytes_per_s == 0) return;
    sleep_unless_stopping(static_cast<uint32_t>(bytes * 1000 / opt.throttle_bytes_per_s));
  };
  auto read_object = [&](ObjectId id, std::map<StreamId, StreamData>& data) -> Status {
    auto got = blocking.get(object_key(id));
    if (!got.ok()) return got.error();
    throttle(got->body.size());
    return collect(got->body, data, StreamEpoch(0));
  };
  auto put_object = [&](ObjectId id, const std::vector<std::pair<StreamId, const std::vector<Batch>*>>& parts)
      -> Result<uint64_t> {
    ObjectBuilder builder(options_.block_target_bytes);
    for (auto& [sid, batches] : parts)
      for (const auto& b : *batches) builder.add(sid, b);
    SharedBytes body = builder.finish();
    auto put = put_with_retry(object_key(id), body);
    if (!put.ok()) return put.error();
    return uint64_t{body.size()};
  };

  // (a) stream-set objects → stream objects + one smaller stream-set object.
  auto sets = meta_wait<std::vector<ObjectMeta>>(
      [&](auto cb) { meta_->list_stream_set_objects(options_.node_id, 1000, std::move(cb)); });
  if (!sets.ok()) return sets.take_error();
  std::vector<ObjectMeta> picked;
  uint64_t picked_bytes = 0;
  for (auto& m : *sets) {
    if (picked.size() >= 2 && picked_bytes + m.size_bytes > opt.max_bytes_per_round) break;
    picked_bytes += m.size_bytes;
    picked.push_back(m);
  }
  if (picked.size() >= std::max<uint32_t>(opt.min_stream_set_objects, 1)) {
    std::map<StreamId, StreamData> data;
    std::map<StreamId, StreamEpoch> epochs;
    for (auto& m : picked) {
      FLOE_TRY(read_object(m.id, data));
      for (auto& r : m.ranges) epochs[r.stream_id] = std::max(epochs[r.stream_id], r.epoch);
    }
    // Contiguous runs per stream, trimmed data dropped.
    struct Run {
      StreamId id;
      std::vector<Batch> batches;
      uint64_t bytes = 0;
    };
    std::vector<Run> runs;
    for (auto& [sid, d] : data) {
      auto info = meta_wait<StreamInfo>([&](auto cb) { meta_->describe_stream(sid, std::move(cb)); });
      Offset start = info.ok() ? info->start_offset : Offset(INT64_MAX);
      std::sort(d.batches.begin(), d.batches.end(),
                [](const Batch& a, const Batch& b) { return a.base_offset < b.base_offset; });
      for (auto& b : d.batches) {
        if (b.end_offset() <= start) continue;
        if (runs.empty() || runs.back().id != sid || runs.back().batches.back().end_offset() != b.base_offset)
          runs.push_back(Run{sid, {}, 0});
        runs.back().bytes += b.bytes.size();
        runs.back().batches.push_back(b);
      }
    }
    std::vector<Run*> own, rest;
    for (auto& r : runs) (r.bytes >= opt.stream_object_min_bytes ? own : rest).push_back(&r);
    uint32_t count = static_cast<uint32_t>(own.size() + (rest.empty() ? 0 : 1));
    StreamSetObjectCommit commit;
    commit.node_id = options_.node_id;
    for (auto& m : picked) commit.compacted_object_ids.push_back(m.id);
    if (count > 0) {
      auto first = meta_wait<ObjectId>([&](auto cb) { meta_->prepare_objects(count, options_.prepare_ttl_ms, std::move(cb)); });
      if (!first.ok()) return first.take_error();
      uint64_t next_id = first->value();
      auto range_of = [&](const Run& r) {
        return StreamRange{r.id, epochs[r.id], r.batches.front().base_offset, r.batches.back().end_offset()};
      };
      if (!rest.empty()) {
        std::vector<std::pair<StreamId, const std::vector<Batch>*>> parts;
        for (auto* r : rest) {
          parts.emplace_back(r->id, &r->batches);
          commit.ranges.push_back(range_of(*r));
        }
        ObjectId id(next_id++);
        auto size = put_object(id, parts);
        if (!size.ok()) return size.take_error();
        commit.object_id = id;
        commit.object_size_bytes = *size;
      }
      for (auto* r : own) {
        ObjectId id(next_id++);
        auto size = put_object(id, {{r->id, &r->batches}});
        if (!size.ok()) return size.take_error();
        commit.stream_objects.push_back(StreamObjectCommit{id, *size, range_of(*r), {}});
      }
    }
    auto r = meta_wait<Done>([&](auto cb) { meta_->commit_stream_set_object(commit, std::move(cb)); });
    if (!r.ok()) return r.take_error();
    std::lock_guard lk(mu_);
    ++stats_.compactions;
  }

  // (b) merge adjacent small stream objects of the streams open here.
  std::vector<std::shared_ptr<Stream>> open;
  {
    std::lock_guard lk(mu_);
    for (auto& [id, s] : streams_) open.push_back(s);
  }
  for (auto& s : open) {
    auto slices = meta_wait<std::vector<ObjectSlice>>(
        [&](auto cb) { meta_->list_objects(s->id(), Offset(0), Offset(INT64_MAX), 1000, std::move(cb)); });
    if (!slices.ok()) return slices.take_error();
    std::vector<ObjectSlice> run;
    uint64_t run_bytes = 0;
    auto merge = [&]() -> Status {
      if (run.size() < 2) return {};
      std::map<StreamId, StreamData> data;
      for (auto& slice : run) FLOE_TRY(read_object(slice.object_id, data));
      auto& batches = data[s->id()].batches;
      std::sort(batches.begin(), batches.end(), [](const Batch& a, const Batch& b) { return a.base_offset < b.base_offset; });
      auto first = meta_wait<ObjectId>([&](auto cb) { meta_->prepare_objects(1, options_.prepare_ttl_ms, std::move(cb)); });
      if (!first.ok()) return first.take_error();
      auto size = put_object(*first, {{s->id(), &batches}});
      if (!size.ok()) return size.take_error();
      StreamObjectCommit c{*first, *size, StreamRange{s->id(), s->epoch(), run.front().start_offset, run.back().end_offset}, {}};
      for (auto& slice : run) c.compacted_object_ids.push_back(slice.object_id);
      auto r = meta_wait<Done>([&](auto cb) { meta_->commit_stream_object(c, std::move(cb)); });
      if (!r.ok()) return r.take_error();
      std::lock_guard lk(mu_);
      ++stats_.compactions;
      return {};
    };
    for (auto& slice : *slices) {
      bool small = slice.kind == ObjectKind::stream && slice.object_size_bytes < opt.stream_object_target_bytes / 2;
      bool joins = small && !run.empty() && run.back().end_offset == slice.start_offset &&
                   run_bytes + slice.object_size_bytes <= opt.stream_object_target_bytes;
      if (!joins) {
        FLOE_TRY(merge());
        run.clear();
        run_bytes = 0;
      }
      if (small) {
        run.push_back(slice);
        run_bytes += slice.object_size_bytes;
      }
    }
    FLOE_TRY(merge());
  }
  return {};
}

Status StreamManager::gc_now() {
  std::lock_guard guard(compaction_mu_);
  auto destroyed = meta_wait<std::vector<ObjectMeta>>([&](auto cb) {
    meta_->list_destroyed_objects(now_ms() - options_.compaction.gc_delay_ms, 1000, std::move(cb));
  });
  if (!destroyed.ok()) return destroyed.take_error();
  if (destroyed->empty()) return {};
  std::vector<std::string> keys;
  std::map<std::string, ObjectId> by_key;
  for (auto& m : *destroyed) {
    keys.push_back(object_key(m.id));
    by_key[keys.back()] = m.id;
  }
  objectstore::BlockingStore blocking(*store_);
  auto deleted = blocking.delete_keys(keys);
  if (!deleted.ok()) return deleted.error();
  for (auto& e : deleted->errors) by_key.erase(e.key);  // keep in metadata: retried next pass
  std::vector<ObjectId> ids;
  for (auto& [key, id] : by_key) ids.push_back(id);
  auto r = meta_wait<Done>([&](auto cb) { meta_->erase_objects(ids, std::move(cb)); });
  if (!r.ok()) return r.take_error();
  std::lock_guard lk(mu_);
  stats_.gc_deleted_objects += ids.size();
  return {};
}

}  // namespace floe::stream
