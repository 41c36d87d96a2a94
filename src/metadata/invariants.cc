#include "metadata/invariants.h"

#include <algorithm>
#include <set>

#include "metadata/placement.h"

namespace floe::metadata {

using stream::ObjectState;
using stream::StreamRange;

namespace {
std::string range_text(const StreamRange& r) {
  return "[" + std::to_string(r.start_offset.value()) + ", " + std::to_string(r.end_offset.value()) + ")";
}
}  // namespace

std::optional<std::string> check_invariants(const MetadataState& state) {
  const MetadataImage& image = state.image;
  const StreamTable& table = state.streams;
  if (image.topics.size() != image.topic_names.size()) return "topics and topic_names differ in size";
  std::set<StreamId> partition_streams;
  for (const auto& [name, topic] : image.topics) {
    if (topic.name != name) return "topic '" + name + "' is filed under another name";
    auto by_id = image.topic_names.find(topic.id);
    if (by_id == image.topic_names.end() || by_id->second != name) return "topic '" + name + "' is not indexed by its id";
    for (size_t i = 0; i < topic.partitions.size(); ++i) {
      const PartitionImage& p = topic.partitions[i];
      std::string where = "partition " + name + "-" + std::to_string(i);
      if (p.index != static_cast<int32_t>(i)) return where + " has index " + std::to_string(p.index);
      if (!table.streams.count(p.stream_id)) return where + ": its stream " + p.stream_id.to_string() + " does not exist";
      if (!partition_streams.insert(p.stream_id).second) return where + ": its stream belongs to another partition too";
      auto owner = state.stream_partitions.find(p.stream_id);
      if (owner == state.stream_partitions.end() || owner->second != std::make_pair(topic.id, p.index)) {
        return where + ": stream_partitions does not name it for stream " + p.stream_id.to_string();
      }
      if (p.leader.value() != kNoLeader) {
        auto b = image.brokers.find(p.leader);
        if (b == image.brokers.end()) return where + " is led by unregistered broker " + p.leader.to_string();
        if (b->second.fenced) return where + " is led by fenced broker " + p.leader.to_string();
      }
    }
  }
  if (state.stream_partitions.size() != partition_streams.size()) return "stream_partitions names a stream of no partition";
  for (const auto& [id, b] : image.brokers) {
    if (b.id != id) return "broker " + id.to_string() + " is filed under another id";
  }
  for (const auto& [id, s] : table.streams) {
    if (s.id != id) return "stream " + id.to_string() + " is filed under another id";
    if (id.value() >= table.next_stream_id) return "stream " + id.to_string() + " is not below next_stream_id";
  }
  if (auto why = state.object_index.check(table.objects)) return "object index: " + *why;
  std::map<StreamId, std::vector<StreamRange>> live_ranges;
  for (const auto& [id, m] : table.objects) {
    std::string what = "object " + id.to_string();
    if (m.id != id) return what + " is filed under another id";
    if (id.value() >= table.next_object_id) return what + " is not below next_object_id";
    if ((m.state == ObjectState::prepared) != (table.prepared_deadline_ms.count(id) > 0)) {
      return what + ": prepared state and deadline disagree";
    }
    if (m.state != ObjectState::committed) continue;
    if (m.ranges.empty()) return what + " is committed without ranges";
    bool holds_live = false;
    for (const auto& r : m.ranges) {
      if (r.end_offset <= r.start_offset) return what + " has the empty range " + range_text(r);
      // A range below its stream's start is garbage kept only while the object has live ranges of
      // other streams.
      auto live = table.streams.find(r.stream_id);
      if (live != table.streams.end() && r.end_offset > live->second.start_offset) {
        live_ranges[r.stream_id].push_back(r);
        holds_live = true;
      }
    }
    if (!holds_live) return what + " is committed but holds no live range (it should have been destroyed)";
  }
  for (auto& [sid, ranges] : live_ranges) {
    std::sort(ranges.begin(), ranges.end(),
              [](const StreamRange& a, const StreamRange& b) { return a.start_offset < b.start_offset; });
    std::string what = "stream " + sid.to_string();
    for (size_t i = 1; i < ranges.size(); ++i) {
      if (ranges[i].start_offset < ranges[i - 1].end_offset) {
        return what + ": committed ranges " + range_text(ranges[i - 1]) + " and " + range_text(ranges[i]) + " overlap";
      }
      if (ranges[i].start_offset != ranges[i - 1].end_offset) {
        return what + ": a hole between committed ranges " + range_text(ranges[i - 1]) + " and " + range_text(ranges[i]);
      }
    }
    Offset start = table.streams.at(sid).start_offset;
    if (ranges.front().start_offset > start) {
      return what + ": nothing holds [" + std::to_string(start.value()) + ", " +
             std::to_string(ranges.front().start_offset.value()) + ") of it";
    }
    Offset end = table.streams.at(sid).end_offset;
    if (ranges.back().end_offset != end) {
      return what + ": its committed ranges end at " + std::to_string(ranges.back().end_offset.value()) +
             ", the stream at " + std::to_string(end.value());
    }
  }
  return std::nullopt;
}

std::optional<std::string> check_progress(const MetadataState& before, const MetadataState& after) {
  const StreamTable& a = before.streams;
  const StreamTable& b = after.streams;
  if (b.next_stream_id < a.next_stream_id) return "next_stream_id went backwards";
  if (b.next_object_id < a.next_object_id) return "next_object_id went backwards";
  if (after.image.next_producer_id < before.image.next_producer_id) return "next_producer_id went backwards";
  for (const auto& [id, s] : b.streams) {
    auto old = a.streams.find(id);
    if (old == a.streams.end()) {
      if (id.value() < a.next_stream_id) return "stream " + id.to_string() + " came back (or appeared below the counter)";
      continue;
    }
    const auto& o = old->second;
    if (s.epoch < o.epoch) return "stream " + id.to_string() + ": epoch went backwards";
    if (s.start_offset < o.start_offset) return "stream " + id.to_string() + ": start offset went backwards";
    if (s.end_offset < o.end_offset) return "stream " + id.to_string() + ": end offset went backwards";
  }
  for (const auto& [id, m] : b.objects) {
    auto old = a.objects.find(id);
    if (old == a.objects.end()) {
      if (id.value() < a.next_object_id) return "object " + id.to_string() + " came back (or appeared below the counter)";
      continue;
    }
    if (old->second.state == ObjectState::destroyed && m.state != ObjectState::destroyed) {
      return "destroyed object " + id.to_string() + " is live again";
    }
    if (old->second.state == ObjectState::committed && m.state == ObjectState::prepared) {
      return "committed object " + id.to_string() + " is prepared again";
    }
  }
  for (const auto& [id, broker] : after.image.brokers) {
    auto old = before.image.brokers.find(id);
    if (old != before.image.brokers.end() && broker.epoch < old->second.epoch) {
      return "broker " + id.to_string() + ": epoch went backwards";
    }
  }
  for (const auto& [name, topic] : after.image.topics) {
    const TopicImage* old = before.image.topic(topic.id);
    if (!old) {
      // A topic id is random: a new id is new; it must not be one removed before.
      continue;
    }
    if (topic.partitions.size() < old->partitions.size()) return "topic '" + name + "' lost partitions";
    for (size_t i = 0; i < old->partitions.size(); ++i) {
      if (topic.partitions[i].leader_epoch < old->partitions[i].leader_epoch) {
        return "partition " + name + "-" + std::to_string(i) + ": leader epoch went backwards";
      }
      if (topic.partitions[i].stream_id != old->partitions[i].stream_id) {
        return "partition " + name + "-" + std::to_string(i) + " changed its stream";
      }
    }
  }
  return std::nullopt;
}

}  // namespace floe::metadata
