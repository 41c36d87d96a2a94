#include "admin/cluster_cli.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <string>

#include "admin/kafka_client.h"
#include "protocol/generated/describe_quorum_request.h"
#include "protocol/generated/describe_quorum_response.h"

namespace floe::admin {

namespace {

constexpr int16_t kDescribeQuorumVersion = 2;
constexpr int64_t kTimeoutMs = 5000;  // connect, send and answer each: a hung controller is reported, not waited on

int usage(const char* message) {
  std::fprintf(stderr,
               "floe cluster: %s\nusage: floe cluster status --bootstrap-controller HOST:PORT\n(run 'floe --help' "
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

}  // namespace

int run_cluster_command(int argc, char** argv) {
  // argv[0] == "cluster"
  if (argc < 2) return usage("missing subcommand (known: status)");
  if (std::string(argv[1]) != "status") return usage(("unknown subcommand '" + std::string(argv[1]) + "'").c_str());
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
