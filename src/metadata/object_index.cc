#include "metadata/object_index.h"

#include <algorithm>
#include <iterator>
#include <tuple>

#include "common/assert.h"

namespace floe::metadata {

using stream::ObjectKind;
using stream::ObjectMeta;
using stream::ObjectSlice;
using stream::ObjectState;

void ObjectIndex::add(const ObjectMeta& m) {
  if (m.state == ObjectState::destroyed) {
    destroyed_.insert(m.id);
    return;
  }
  if (m.state != ObjectState::committed) return;
  if (m.kind == ObjectKind::stream_set) stream_set_by_node_[m.node_id].insert(m.id);
  for (size_t i = 0; i < m.ranges.size(); ++i) {
    const auto& r = m.ranges[i];
    StreamRanges& s = streams_[r.stream_id];
    auto [it, inserted] =
        s.by_start.emplace(Key{r.start_offset, m.id, static_cast<uint32_t>(i)}, Slice{r.end_offset, m.kind, m.size_bytes});
    FLOE_ASSERT_MSG(inserted, "object index: a range is indexed twice");
    auto prev = it == s.by_start.begin() ? s.by_start.end() : std::prev(it);
    auto next = std::next(it);
    bool has_prev = prev != s.by_start.end(), has_next = next != s.by_start.end();
    if (has_prev && has_next && prev->second.end > next->second.end) --s.end_inversions;
    if (has_prev && prev->second.end > it->second.end) ++s.end_inversions;
    if (has_next && it->second.end > next->second.end) ++s.end_inversions;
  }
}

void ObjectIndex::remove(const ObjectMeta& m) {
  if (m.state == ObjectState::destroyed) {
    destroyed_.erase(m.id);
    return;
  }
  if (m.state != ObjectState::committed) return;
  if (m.kind == ObjectKind::stream_set) {
    auto node = stream_set_by_node_.find(m.node_id);
    if (node != stream_set_by_node_.end()) {
      node->second.erase(m.id);
      if (node->second.empty()) stream_set_by_node_.erase(node);
    }
  }
  for (size_t i = 0; i < m.ranges.size(); ++i) {
    const auto& r = m.ranges[i];
    auto s = streams_.find(r.stream_id);
    FLOE_ASSERT_MSG(s != streams_.end(), "object index: removing a range of a stream it does not hold");
    auto& by_start = s->second.by_start;
    auto it = by_start.find(Key{r.start_offset, m.id, static_cast<uint32_t>(i)});
    FLOE_ASSERT_MSG(it != by_start.end(), "object index: removing a range it does not hold");
    auto prev = it == by_start.begin() ? by_start.end() : std::prev(it);
    auto next = std::next(it);
    bool has_prev = prev != by_start.end(), has_next = next != by_start.end();
    if (has_prev && prev->second.end > it->second.end) --s->second.end_inversions;
    if (has_next && it->second.end > next->second.end) --s->second.end_inversions;
    if (has_prev && has_next && prev->second.end > next->second.end) ++s->second.end_inversions;
    by_start.erase(it);
    if (by_start.empty()) streams_.erase(s);
  }
}

std::vector<ObjectSlice> ObjectIndex::list(StreamId id, Offset start, Offset end, uint32_t limit) const {
  std::vector<ObjectSlice> out;
  auto s = streams_.find(id);
  if (s == streams_.end() || limit == 0) return out;
  const auto& by_start = s->second.by_start;
  auto it = by_start.begin();
  if (s->second.end_inversions == 0) {
    // Ends grow with starts: the ranges starting before `start` that reach past it are the last
    // ones before the first range starting at or after it.
    it = by_start.lower_bound(Key{start, ObjectId(0), 0});
    while (it != by_start.begin() && std::prev(it)->second.end > start) --it;
  }
  for (; it != by_start.end() && it->first.start < end; ++it) {
    if (it->second.end <= start) continue;
    out.push_back(ObjectSlice{it->first.object, it->second.kind, it->second.size_bytes, it->first.start, it->second.end});
    if (out.size() >= limit) break;
  }
  return out;
}

std::vector<ObjectId> ObjectIndex::stream_set_objects(NodeId node, uint32_t limit) const {
  std::vector<ObjectId> out;
  auto it = stream_set_by_node_.find(node);
  if (it == stream_set_by_node_.end()) return out;
  for (ObjectId id : it->second) {
    if (out.size() >= limit) break;
    out.push_back(id);
  }
  return out;
}

std::optional<std::string> ObjectIndex::check(const std::map<ObjectId, ObjectMeta>& objects) const {
  ObjectIndex rebuilt;
  for (const auto& [id, m] : objects) rebuilt.add(m);
  if (rebuilt.destroyed_ != destroyed_) return "the destroyed objects differ from the objects' states";
  if (rebuilt.stream_set_by_node_ != stream_set_by_node_) return "the stream-set objects by node differ";
  if (rebuilt.streams_.size() != streams_.size()) return "a different number of streams has committed ranges";
  for (const auto& [stream, ranges] : rebuilt.streams_) {
    auto mine = streams_.find(stream);
    std::string what = "stream " + stream.to_string();
    if (mine == streams_.end()) return what + ": its committed ranges are missing";
    if (mine->second.by_start != ranges.by_start) return what + ": its committed ranges differ";
    size_t descents = 0;
    for (auto it = ranges.by_start.begin(); it != ranges.by_start.end() && std::next(it) != ranges.by_start.end(); ++it) {
      if (it->second.end > std::next(it)->second.end) ++descents;
    }
    if (mine->second.end_inversions != descents || ranges.end_inversions != descents) {
      return what + ": end_inversions " + std::to_string(mine->second.end_inversions) + ", counted " +
             std::to_string(descents);
    }
  }
  return std::nullopt;
}

std::vector<ObjectSlice> scan_slices(const std::map<ObjectId, ObjectMeta>& objects, StreamId id, Offset start,
                                     Offset end, uint32_t limit) {
  std::vector<ObjectSlice> out;
  for (const auto& [oid, m] : objects) {
    if (m.state != ObjectState::committed) continue;
    for (const auto& r : m.ranges) {
      if (r.stream_id == id && r.end_offset > start && r.start_offset < end) {
        out.push_back(ObjectSlice{oid, m.kind, m.size_bytes, r.start_offset, r.end_offset});
      }
    }
  }
  // Stable: ranges of one object with one start keep their order in the object.
  std::stable_sort(out.begin(), out.end(), [](const ObjectSlice& a, const ObjectSlice& b) {
    return std::tie(a.start_offset, a.object_id) < std::tie(b.start_offset, b.object_id);
  });
  if (out.size() > limit) out.resize(limit);
  return out;
}

}  // namespace floe::metadata
