#include "metadata/reassignment.h"

#include <algorithm>

#include "metadata/controller_rpc.h"
#include "metadata/placement.h"
#include "protocol/errors.h"

namespace floe::metadata {

namespace ke = ::floe::protocol::kerr;
namespace p = ::floe::protocol;

std::optional<OngoingReassignment> ongoing_reassignment(const MetadataState& state, const TopicImage& topic,
                                                        const PartitionImage& partition) {
  if (partition.leader.value() < 0) return std::nullopt;
  auto it = state.streams.streams.find(partition.stream_id);
  if (it == state.streams.streams.end()) return std::nullopt;
  const stream::StreamInfo& s = it->second;
  if (s.epoch.value() == 0 || s.owner == partition.leader) return std::nullopt;  // never opened, or done
  return OngoingReassignment{topic.name, partition.index, partition.leader, s.owner};
}

std::vector<OngoingReassignment> ongoing_reassignments(const MetadataState& state, const ReassignmentFilter& filter) {
  std::vector<OngoingReassignment> out;
  if (!filter) {
    for (const auto& [name, t] : state.image.topics) {
      for (const auto& part : t.partitions) {
        if (auto o = ongoing_reassignment(state, t, part)) out.push_back(std::move(*o));
      }
    }
    return out;
  }
  for (const auto& [name, indexes] : *filter) {
    const TopicImage* t = state.image.topic(name);
    if (t == nullptr) continue;
    for (int32_t i : indexes) {
      if (i < 0 || static_cast<size_t>(i) >= t->partitions.size()) continue;
      if (auto o = ongoing_reassignment(state, *t, t->partitions[static_cast<size_t>(i)])) out.push_back(std::move(*o));
    }
  }
  return out;
}

namespace {
ReassignResult failure(int16_t code, std::string message) {
  ReassignResult r;
  r.error_code = code;
  r.error_message = std::move(message);
  return r;
}
}  // namespace

ReassignResult plan_reassignment(const MetadataState& state, const PartitionReassignment& item,
                                 std::optional<p::PartitionChangeRecord>* change) {
  change->reset();
  const TopicImage* t = state.image.topic(item.topic);
  if (t == nullptr || item.partition < 0 || static_cast<size_t>(item.partition) >= t->partitions.size()) {
    return failure(ke::kUnknownTopicOrPartition, "unknown partition " + item.topic + "-" + std::to_string(item.partition));
  }
  const PartitionImage& part = t->partitions[static_cast<size_t>(item.partition)];
  NodeId target;
  if (!item.replicas) {
    auto ongoing = ongoing_reassignment(state, *t, part);
    if (!ongoing) {
      return failure(ke::kNoReassignmentInProgress,
                     "no reassignment of " + item.topic + "-" + std::to_string(item.partition) + " is in progress");
    }
    if (!broker_eligible(state.image, ongoing->source)) {
      return failure(ke::kInvalidReplicaAssignment, "cannot cancel: broker " + ongoing->source.to_string() +
                                                        " (the partition's previous owner) is fenced, gone or shutting down");
    }
    target = ongoing->source;
  } else {
    const auto& replicas = *item.replicas;
    if (replicas.empty()) {
      return failure(ke::kInvalidReplicaAssignment, "The manual partition assignment includes an empty replica list.");
    }
    std::vector<int32_t> sorted = replicas;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < sorted.size(); ++i) {
      if (state.image.brokers.find(NodeId(sorted[i])) == state.image.brokers.end()) {
        return failure(ke::kInvalidReplicaAssignment, "The manual partition assignment includes broker " +
                                                          std::to_string(sorted[i]) + ", but no such broker is registered.");
      }
      if (i > 0 && sorted[i] == sorted[i - 1]) {
        return failure(ke::kInvalidReplicaAssignment, "The manual partition assignment includes the broker " +
                                                          std::to_string(sorted[i]) + " more than once.");
      }
    }
    if (replicas.size() != 1) {
      return failure(ke::kInvalidReplicaAssignment,
                     "floe keeps one copy of a partition (the object store replicates its data): name exactly one "
                     "broker, the partition's new leader");
    }
    target = NodeId(replicas[0]);
    if (!broker_eligible(state.image, target)) {
      return failure(ke::kInvalidReplicaAssignment,
                     "broker " + target.to_string() + " is fenced or shutting down: it cannot lead a partition");
    }
  }
  ReassignResult result;
  result.leader_epoch = part.leader_epoch;
  if (part.leader != target) {
    p::PartitionChangeRecord r;
    r.topic_id = t->id;
    r.partition_id = item.partition;
    r.leader = target.value();
    *change = std::move(r);
  }
  return result;
}

// --- wire forms ---

std::vector<PartitionReassignment> reassignments_from_wire(const p::AlterPartitionReassignmentsRequest& req) {
  std::vector<PartitionReassignment> out;
  for (const auto& t : req.topics) {
    for (const auto& part : t.partitions) out.push_back({t.name, part.partition_index, part.replicas});
  }
  return out;
}

p::AlterPartitionReassignmentsRequest reassignments_to_wire(const std::vector<PartitionReassignment>& items) {
  p::AlterPartitionReassignmentsRequest req;
  for (const auto& item : items) {
    if (req.topics.empty() || req.topics.back().name != item.topic) req.topics.emplace_back().name = item.topic;
    auto& part = req.topics.back().partitions.emplace_back();
    part.partition_index = item.partition;
    part.replicas = item.replicas;
  }
  return req;
}

int16_t controller_error_code(const Error& e) {
  if (rpc::is_not_controller(e)) return ke::kNotController;
  if (e.code == Errc::timeout) return ke::kRequestTimedOut;
  return ke::kUnknownServerError;
}

p::AlterPartitionReassignmentsResponse reassign_response(const std::vector<PartitionReassignment>& items,
                                                         const Result<std::vector<ReassignResult>>& results) {
  p::AlterPartitionReassignmentsResponse resp;
  resp.error_message.reset();
  if (!results.ok()) {
    resp.error_code = controller_error_code(results.error());
    resp.error_message = results.error().message;
  }
  for (size_t i = 0; i < items.size(); ++i) {
    const auto& item = items[i];
    if (resp.responses.empty() || resp.responses.back().name != item.topic) resp.responses.emplace_back().name = item.topic;
    auto& out = resp.responses.back().partitions.emplace_back();
    out.partition_index = item.partition;
    if (!results.ok()) {
      out.error_code = resp.error_code;
      out.error_message = results.error().message;
    } else if (i >= results->size()) {
      out.error_code = ke::kUnknownServerError;
      out.error_message = "no result";
    } else {
      out.error_code = (*results)[i].error_code;
      if (out.error_code != 0) out.error_message = (*results)[i].error_message;
      else out.error_message.reset();
    }
  }
  return resp;
}

Result<std::vector<ReassignResult>> reassign_results(const p::AlterPartitionReassignmentsResponse& resp) {
  if (resp.error_code != 0) {
    return Error(Errc::internal, "the controller answered error " + std::to_string(resp.error_code) + ": " +
                                     resp.error_message.value_or(""));
  }
  std::vector<ReassignResult> out;
  for (const auto& t : resp.responses) {
    for (const auto& part : t.partitions) {
      ReassignResult r;
      r.error_code = part.error_code;
      r.error_message = part.error_message.value_or("");
      out.push_back(std::move(r));
    }
  }
  return out;
}

ReassignmentFilter reassignment_filter(const p::ListPartitionReassignmentsRequest& req) {
  if (!req.topics) return std::nullopt;
  std::vector<std::pair<std::string, std::vector<int32_t>>> out;
  for (const auto& t : *req.topics) out.emplace_back(t.name, t.partition_indexes);
  return out;
}

p::ListPartitionReassignmentsResponse list_reassignments_response(const std::vector<OngoingReassignment>& list) {
  p::ListPartitionReassignmentsResponse resp;
  resp.error_message.reset();
  for (const auto& o : list) {
    if (resp.topics.empty() || resp.topics.back().name != o.topic) resp.topics.emplace_back().name = o.topic;
    auto& out = resp.topics.back().partitions.emplace_back();
    out.partition_index = o.partition;
    out.replicas = {o.target.value(), o.source.value()};
    out.adding_replicas = {o.target.value()};
    out.removing_replicas = {o.source.value()};
  }
  return resp;
}

}  // namespace floe::metadata
