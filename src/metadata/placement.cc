#include "metadata/placement.h"

#include <algorithm>

namespace floe::metadata {

bool broker_eligible(const MetadataImage& image, NodeId id) {
  auto it = image.brokers.find(id);
  return it != image.brokers.end() && !it->second.fenced && !it->second.in_controlled_shutdown;
}

bool unclean_election_enabled(const TopicImage& topic) {
  auto it = topic.configs.find("unclean.leader.election.enable");
  return it != topic.configs.end() && it->second == "true";
}

LeaderLoad::LeaderLoad(const MetadataImage& image) {
  for (const auto& [id, broker] : image.brokers) {
    if (!broker.fenced && !broker.in_controlled_shutdown) load_[id] = 0;
  }
  if (load_.empty()) return;
  for (const auto& [name, topic] : image.topics) {
    for (const auto& p : topic.partitions) {
      if (auto it = load_.find(p.leader); it != load_.end()) ++it->second;
    }
  }
}

std::optional<NodeId> LeaderLoad::pick() const {
  if (load_.empty()) return std::nullopt;
  // min_element keeps the first of equal elements: the lowest id among the least loaded.
  auto best = std::min_element(load_.begin(), load_.end(),
                               [](const auto& a, const auto& b) { return a.second < b.second; });
  return best->first;
}

void LeaderLoad::add(NodeId id) {
  if (auto it = load_.find(id); it != load_.end()) ++it->second;
}

void LeaderLoad::remove(NodeId id) {
  if (auto it = load_.find(id); it != load_.end() && it->second > 0) --it->second;
}

size_t LeaderLoad::led_by(NodeId id) const {
  auto it = load_.find(id);
  return it == load_.end() ? 0 : it->second;
}

size_t partitions_led(const MetadataImage& image, NodeId id) {
  size_t n = 0;
  for (const auto& [name, topic] : image.topics) {
    for (const auto& p : topic.partitions) n += p.leader == id ? 1 : 0;
  }
  return n;
}

size_t open_partitions_led(const MetadataState& state, NodeId id) {
  size_t n = 0;
  for (const auto& [name, topic] : state.image.topics) {
    for (const auto& p : topic.partitions) {
      if (p.leader != id) continue;
      auto s = state.streams.streams.find(p.stream_id);
      n += s != state.streams.streams.end() && s->second.open && s->second.owner == id ? 1 : 0;
    }
  }
  return n;
}

std::vector<protocol::PartitionChangeRecord> repair_leaders(const MetadataState& state, size_t max_changes) {
  const MetadataImage& image = state.image;
  LeaderLoad load(image);
  std::vector<protocol::PartitionChangeRecord> out;
  for (const auto& [name, topic] : image.topics) {
    bool unclean = unclean_election_enabled(topic);
    for (const auto& p : topic.partitions) {
      if (out.size() >= max_changes) return out;
      if (broker_eligible(image, p.leader)) continue;
      auto s = state.streams.streams.find(p.stream_id);
      bool open = s != state.streams.streams.end() && s->second.open;
      NodeId target(kNoLeader);
      auto leader = image.brokers.find(p.leader);
      bool draining = leader != image.brokers.end() && !leader->second.fenced && leader->second.in_controlled_shutdown;
      if (draining) {
        // The broker is shutting down cleanly: it uploads and closes, then the partition moves.
        if (open && s->second.owner == p.leader) continue;
        auto next = load.pick();
        if (!next) continue;  // nowhere to go: it keeps serving until it stops
        target = *next;
      } else if (open && broker_eligible(image, s->second.owner)) {
        target = s->second.owner;  // the crashed owner is back: its WAL tail is with it
      } else if (!open || unclean) {
        target = load.pick().value_or(NodeId(kNoLeader));
      }
      if (target == p.leader) continue;
      protocol::PartitionChangeRecord r;
      r.topic_id = topic.id;
      r.partition_id = p.index;
      r.leader = target.value();
      out.push_back(std::move(r));
      load.add(target);
    }
  }
  return out;
}

}  // namespace floe::metadata
