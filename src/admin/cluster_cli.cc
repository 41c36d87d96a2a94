#include "admin/cluster_cli.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <climits>
#include <string>
#include <vector>

#include "admin/kafka_client.h"
#include "protocol/generated/describe_quorum_request.h"
#include "protocol/generated/describe_quorum_response.h"
#include "protocol/generated/alter_partition_reassignments_request.h"
#include "protocol/generated/alter_partition_reassignments_response.h"
#include "protocol/generated/list_partition_reassignments_request.h"
#include "protocol/generated/list_partition_reassignments_response.h"

namespace floe::admin {

namespace {

constexpr int16_t kDescribeQuorumVersion = 2;
constexpr int64_t kTimeoutMs = 5000;  // connect, send and answer each: a hung controller is reported, not waited on

int usage(const char* message) {
  std::fprintf(stderr,
               "floe cluster: %s\nusage: floe cluster status --bootstrap-controller HOST:PORT\n"
               "       floe cluster reassign --bootstrap-server HOST:PORT --topic T --partition N (--broker B | "
               "--cancel)\n"
               "       floe cluster reassignments --bootstrap-server HOST:PORT [--topic T]\n(run 'floe --help' "
               "for usage)\n",
               message);
  return 2;
}

Result<protocol::DescribeQuorumResponse> describe(const std::string& address) {
  auto conn = KafkaConnection::connect(address, "floe-cluster", kTimeoutMs);
  if (!conn.ok()) return conn.take_error();
  protocol::DescribeQuorumRequest request;
  protocol::DescribeQuorumRequest::TopicData topic;
  topic.topic_name = "__cluster_metadata";
  topic.partitions.push_back({0, {}});
  request.topics.push_back(std::move(topic));
  auto response = (*conn)->call<protocol::DescribeQuorumResponse>(request, kDescribeQuorumVersion);
  if (!response.ok()) return Error{Errc::io, address + ": " + response.error().message};
  return response;
}

std::string timestamp(int64_t ms, int64_t now_ms) {
  if (ms < 0) return "-";
  return std::to_string(std::max<int64_t>(0, now_ms - ms)) + " ms ago";
}

std::string ids(const std::vector<int32_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

// `reassign` and `reassignments`: AlterPartitionReassignments / ListPartitionReassignments v0 sent
// to one broker (it forwards to the controller) or a controller listener.
int reassign_command(const std::string& verb, int argc, char** argv) {
  std::string bootstrap, topic;
  int32_t partition = -1, broker = -1;
  bool cancel = false;
  auto number = [](const std::string& v, int32_t* out) {
    try {
      size_t used = 0;
      long n = std::stol(v, &used);
      if (used != v.size() || n < 0 || n > INT32_MAX) return false;
      *out = static_cast<int32_t>(n);
      return true;
    } catch (const std::exception&) {
      return false;
    }
  };
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    std::string value;
    auto take = [&](const char* name) {
      std::string n = name;
      if (a == n && i + 1 < argc) {
        value = argv[++i];
        return true;
      }
      if (a.starts_with(n + "=")) {
        value = a.substr(n.size() + 1);
        return true;
      }
      return false;
    };
    if (take("--bootstrap-server")) {
      bootstrap = value;
    } else if (take("--topic")) {
      topic = value;
    } else if (verb == "reassign" && take("--partition")) {
      if (!number(value, &partition)) return usage(("bad --partition '" + value + "'").c_str());
    } else if (verb == "reassign" && take("--broker")) {
      if (!number(value, &broker)) return usage(("bad --broker '" + value + "'").c_str());
    } else if (verb == "reassign" && a == "--cancel") {
      cancel = true;
    } else {
      return usage(("unexpected argument '" + a + "'").c_str());
    }
  }
  if (bootstrap.empty()) return usage("--bootstrap-server HOST:PORT is required");
  auto conn = KafkaConnection::connect(bootstrap, "floe-cluster", kTimeoutMs);
  if (!conn.ok()) {
    std::fprintf(stderr, "floe cluster %s: cannot reach %s: %s\n", verb.c_str(), bootstrap.c_str(),
                 conn.error().message.c_str());
    return 1;
  }
  if (verb == "reassign") {
    if (topic.empty() || partition < 0) return usage("--topic T and --partition N are required");
    if (cancel == (broker >= 0)) return usage("give exactly one of --broker B and --cancel");
    protocol::AlterPartitionReassignmentsRequest request;
    request.timeout_ms = static_cast<int32_t>(kTimeoutMs);
    auto& t = request.topics.emplace_back();
    t.name = topic;
    auto& part = t.partitions.emplace_back();
    part.partition_index = partition;
    if (!cancel) part.replicas = std::vector<int32_t>{broker};
    auto response = (*conn)->call<protocol::AlterPartitionReassignmentsResponse>(request, 0);
    if (!response.ok()) {
      std::fprintf(stderr, "floe cluster reassign: %s: %s\n", bootstrap.c_str(), response.error().message.c_str());
      return 1;
    }
    int16_t error = response->error_code;
    std::string message = response->error_message.value_or("");
    if (error == 0 && !response->responses.empty() && !response->responses[0].partitions.empty()) {
      error = response->responses[0].partitions[0].error_code;
      message = response->responses[0].partitions[0].error_message.value_or("");
    }
    if (error != 0) {
      std::fprintf(stderr, "floe cluster reassign: %s-%d: error %d: %s\n", topic.c_str(), partition, error,
                   message.c_str());
      return 1;
    }
    if (cancel) {
      std::printf("cancelled the reassignment of %s-%d\n", topic.c_str(), partition);
    } else {
      std::printf("reassigning %s-%d to broker %d (see 'floe cluster reassignments')\n", topic.c_str(), partition,
                  broker);
    }
    return 0;
  }
  protocol::ListPartitionReassignmentsRequest request;
  request.timeout_ms = static_cast<int32_t>(kTimeoutMs);
  auto response = (*conn)->call<protocol::ListPartitionReassignmentsResponse>(request, 0);
  if (!response.ok()) {
    std::fprintf(stderr, "floe cluster reassignments: %s: %s\n", bootstrap.c_str(), response.error().message.c_str());
    return 1;
  }
  if (response->error_code != 0) {
    std::fprintf(stderr, "floe cluster reassignments: error %d: %s\n", response->error_code,
                 response->error_message.value_or("").c_str());
    return 1;
  }
  std::printf("%-30s %-10s %-12s %-10s %s\n", "Topic", "Partition", "Replicas", "Adding", "Removing");
  for (const auto& t : response->topics) {
    if (!topic.empty() && t.name != topic) continue;
    for (const auto& part : t.partitions) {
      std::printf("%-30s %-10d %-12s %-10s %s\n", t.name.c_str(), part.partition_index, ids(part.replicas).c_str(),
                  ids(part.adding_replicas).c_str(), ids(part.removing_replicas).c_str());
    }
  }
  return 0;
}

}  // namespace

int run_cluster_command(int argc, char** argv) {
  // argv[0] == "cluster"
  if (argc < 2) return usage("missing subcommand (known: status, reassign, reassignments)");
  const std::string verb = argv[1];
  if (verb == "reassign" || verb == "reassignments") return reassign_command(verb, argc, argv);
  if (verb != "status") return usage(("unknown subcommand '" + verb + "'").c_str());
  std::string bootstrap;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--bootstrap-controller" && i + 1 < argc) {
      bootstrap = argv[++i];
    } else if (a.starts_with("--bootstrap-controller=")) {
      bootstrap = a.substr(a.find('=') + 1);
    } else {
      return usage(("unexpected argument '" + a + "'").c_str());
    }
  }
  if (bootstrap.empty()) return usage("--bootstrap-controller HOST:PORT is required");

  auto answer = describe(bootstrap);
  if (!answer.ok()) {
    std::fprintf(stderr, "floe cluster status: cannot reach the controller at %s: %s\n", bootstrap.c_str(),
                 answer.error().message.c_str());
    return 1;
  }
  // Per-voter progress is known only on the leader: ask it when the contacted node is not it.
  auto partition_of = [](const protocol::DescribeQuorumResponse& r) -> const protocol::DescribeQuorumResponse::PartitionData* {
    if (r.error_code != 0 || r.topics.empty() || r.topics[0].partitions.empty()) return nullptr;
    return &r.topics[0].partitions[0];
  };
  std::string asked = bootstrap;
  if (const auto* p = partition_of(*answer); p != nullptr && p->leader_id >= 0) {
    for (const auto& node : answer->nodes) {
      if (node.node_id != p->leader_id || node.listeners.empty()) continue;
      std::string leader_address = node.listeners[0].host + ":" + std::to_string(node.listeners[0].port);
      if (leader_address == bootstrap) break;
      if (auto from_leader = describe(leader_address); from_leader.ok() && partition_of(*from_leader) != nullptr &&
                                                       partition_of(*from_leader)->leader_id == p->leader_id) {
        answer = std::move(from_leader);
        asked = leader_address;
      }
      break;
    }
  }
  const auto* p = partition_of(*answer);
  if (p == nullptr || p->error_code != 0) {
    std::fprintf(stderr, "floe cluster status: %s answered DescribeQuorum with error %d\n", asked.c_str(),
                 p != nullptr ? p->error_code : answer->error_code);
    return 1;
  }
  const int64_t now_ms = static_cast<int64_t>(std::time(nullptr)) * 1000;
  int64_t leader_leo = -1;
  for (const auto& v : p->current_voters) {
    if (v.replica_id == p->leader_id) leader_leo = v.log_end_offset;
  }
  int64_t max_lag = 0;
  int64_t max_lag_time_ms = 0;
  auto lag_of = [&](const protocol::DescribeQuorumResponse::ReplicaState& r) -> int64_t {
    if (leader_leo < 0 || r.log_end_offset < 0) return -1;
    return std::max<int64_t>(0, leader_leo - r.log_end_offset);
  };
  auto list = [](const std::vector<protocol::DescribeQuorumResponse::ReplicaState>& rs) {
    std::string s = "[";
    for (size_t i = 0; i < rs.size(); ++i) s += (i ? "," : "") + std::to_string(rs[i].replica_id);
    return s + "]";
  };
  for (const auto* group : {&p->current_voters, &p->observers}) {
    for (const auto& r : *group) {
      if (r.replica_id == p->leader_id) continue;
      max_lag = std::max(max_lag, lag_of(r));
      if (r.last_caught_up_timestamp >= 0) {
        max_lag_time_ms = std::max(max_lag_time_ms, std::max<int64_t>(0, now_ms - r.last_caught_up_timestamp));
      }
    }
  }
  std::printf("LeaderId:               %d\n", p->leader_id);
  std::printf("LeaderEpoch:            %d\n", p->leader_epoch);
  std::printf("HighWatermark:          %lld\n", static_cast<long long>(p->high_watermark));
  std::printf("MaxFollowerLag:         %lld\n", static_cast<long long>(max_lag));
  std::printf("MaxFollowerLagTimeMs:   %lld\n", static_cast<long long>(max_lag_time_ms));
  std::printf("CurrentVoters:          %s\n", list(p->current_voters).c_str());
  std::printf("CurrentObservers:       %s\n", list(p->observers).c_str());
  std::printf("(as reported by %s)\n\n", asked.c_str());
  std::printf("%-8s %-14s %-8s %-20s %-22s %s\n", "NodeId", "LogEndOffset", "Lag", "LastFetchTimestamp",
              "LastCaughtUpTimestamp", "Status");
  for (const auto* group : {&p->current_voters, &p->observers}) {
    for (const auto& r : *group) {
      int64_t lag = lag_of(r);
      std::string status = group == &p->observers        ? "Observer"
                           : r.replica_id == p->leader_id ? "Leader"
                                                          : "Follower";
      std::printf("%-8d %-14s %-8s %-20s %-22s %s\n", r.replica_id,
                  r.log_end_offset < 0 ? "unknown" : std::to_string(r.log_end_offset).c_str(),
                  lag < 0 ? "unknown" : std::to_string(lag).c_str(),
                  timestamp(r.last_fetch_timestamp, now_ms).c_str(),
                  timestamp(r.last_caught_up_timestamp, now_ms).c_str(), status.c_str());
    }
  }
  return 0;
}

}  // namespace floe::admin
