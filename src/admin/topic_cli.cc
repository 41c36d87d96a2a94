// `floe topic create|list|describe|delete`: see client_cli.h.
#include <cstdio>
#include <string>
#include <vector>

#include "admin/client_cli.h"
#include "admin/kafka_tools.h"
#include "protocol/generated/create_topics_request.h"
#include "protocol/generated/create_topics_response.h"
#include "protocol/generated/delete_topics_request.h"
#include "protocol/generated/delete_topics_response.h"
#include "protocol/generated/describe_configs_request.h"
#include "protocol/generated/describe_configs_response.h"

namespace floe::admin {

namespace {
constexpr int16_t kCreateTopicsVersion = 7;
constexpr int16_t kDeleteTopicsVersion = 4;
constexpr int16_t kDescribeConfigsVersion = 4;
constexpr int8_t kTopicResource = 2;
constexpr int8_t kDynamicTopicConfig = 1;  // DescribeConfigs config_source: set on the topic itself

const char* kTopicUsage =
    "usage: floe topic create --bootstrap-server H:P --topic T [--partitions N] [--replication-factor N]\n"
    "                         [--config k=v]...\n"
    "       floe topic list --bootstrap-server H:P\n"
    "       floe topic describe --bootstrap-server H:P [--topic T]\n"
    "       floe topic delete --bootstrap-server H:P --topic T\n";

int usage(const std::string& message) { return usage_error("topic", message, kTopicUsage); }

int fail(const std::string& sub, const std::string& message) {
  std::fprintf(stderr, "floe topic %s: %s\n", sub.c_str(), message.c_str());
  return 1;
}

// Topic configs set on the topic itself (not defaults), "k=v,k=v"; an error text on failure.
Result<std::string> topic_overrides(KafkaConnection& c, const std::string& topic) {
  protocol::DescribeConfigsRequest req;
  auto& r = req.resources.emplace_back();
  r.resource_type = kTopicResource;
  r.resource_name = topic;
  r.configuration_keys = std::nullopt;
  auto resp = c.call<protocol::DescribeConfigsResponse>(req, kDescribeConfigsVersion);
  if (!resp.ok()) return resp.take_error();
  std::string out;
  for (const auto& res : resp->results) {
    if (res.error_code != 0) return Error{Errc::io, kafka_error_text(res.error_code, res.error_message)};
    for (const auto& cfg : res.configs) {
      if (cfg.config_source != kDynamicTopicConfig) continue;
      out += (out.empty() ? "" : ",") + cfg.name + "=" + (cfg.is_sensitive ? "(sensitive)" : cfg.value.value_or(""));
    }
  }
  return out;
}

}  // namespace

int run_topic_command(int argc, char** argv) {
  if (argc < 2) return usage("missing subcommand (known: create, list, describe, delete)");
  const std::string sub = argv[1];
  if (sub != "create" && sub != "list" && sub != "describe" && sub != "delete") {
    return usage("unknown subcommand '" + sub + "' (known: create, list, describe, delete)");
  }
  std::string bootstrap, topic;
  int64_t partitions = -1, replication = -1, timeout_ms = 30000;
  std::vector<std::pair<std::string, std::string>> configs;
  ArgWalker w(argc, argv, 2);
  while (!w.done()) {
    w.next();
    std::string v;
    if (w.take("--bootstrap-server", &bootstrap)) {
    } else if (sub != "list" && w.take("--topic", &topic)) {
    } else if (w.take_int("--timeout-ms", 100, 3600000, &timeout_ms)) {
    } else if (sub == "create" && w.take_int("--partitions", 1, 1 << 20, &partitions)) {
    } else if (sub == "create" && w.take_int("--replication-factor", 1, 32767, &replication)) {
    } else if (sub == "create" && w.take("--config", &v)) {
      auto eq = v.find('=');
      if (w.error.empty() && (eq == std::string::npos || eq == 0)) return usage("--config needs key=value, got '" + v + "'");
      if (w.error.empty()) configs.emplace_back(v.substr(0, eq), v.substr(eq + 1));
    } else {
      w.unknown();
    }
  }
  if (!w.error.empty()) return usage(sub + ": " + w.error);
  if (bootstrap.empty()) return usage(sub + ": --bootstrap-server HOST:PORT is required");
  if ((sub == "create" || sub == "delete") && topic.empty()) return usage(sub + ": --topic is required");

  auto conn = KafkaConnection::connect(bootstrap, "floe-topic", timeout_ms);
  if (!conn.ok()) return fail(sub, "cannot reach " + bootstrap + ": " + conn.error().message);
  KafkaConnection& c = **conn;

  if (sub == "create") {
    protocol::CreateTopicsRequest req;
    req.timeout_ms = static_cast<int32_t>(timeout_ms);
    auto& t = req.topics.emplace_back();
    t.name = topic;
    t.num_partitions = static_cast<int32_t>(partitions);
    t.replication_factor = static_cast<int16_t>(replication);
    for (const auto& [k, v] : configs) t.configs.push_back({k, v, {}});
    auto resp = c.call<protocol::CreateTopicsResponse>(req, kCreateTopicsVersion);
    if (!resp.ok()) return fail(sub, bootstrap + ": " + resp.error().message);
    for (const auto& r : resp->topics) {
      if (r.error_code != 0) return fail(sub, "'" + r.name + "': " + kafka_error_text(r.error_code, r.error_message));
      std::printf("Created topic %s (%d partitions, topic id %s).\n", r.name.c_str(), r.num_partitions,
                  r.topic_id.to_base64url().c_str());
    }
    return 0;
  }
  if (sub == "delete") {
    protocol::DeleteTopicsRequest req;
    req.timeout_ms = static_cast<int32_t>(timeout_ms);
    req.topic_names.push_back(topic);
    auto resp = c.call<protocol::DeleteTopicsResponse>(req, kDeleteTopicsVersion);
    if (!resp.ok()) return fail(sub, bootstrap + ": " + resp.error().message);
    for (const auto& r : resp->responses) {
      if (r.error_code != 0) {
        return fail(sub, "'" + r.name.value_or(topic) + "': " + kafka_error_text(r.error_code, r.error_message));
      }
      std::printf("Deleted topic %s.\n", r.name.value_or(topic).c_str());
    }
    return 0;
  }
  std::optional<std::vector<std::string>> wanted;
  if (!topic.empty()) wanted = std::vector<std::string>{topic};
  auto view = fetch_cluster(c, wanted);
  if (!view.ok()) return fail(sub, bootstrap + ": " + view.error().message);
  if (sub == "list") {
    for (const auto& t : view->topics) {
      if (t.error_code == 0) std::printf("%s\n", t.name.c_str());
    }
    return 0;
  }
  int rc = 0;
  for (const auto& t : view->topics) {
    if (t.error_code != 0) {
      rc = fail(sub, "'" + t.name + "': " + kafka_error_name(t.error_code));
      continue;
    }
    auto overrides = topic_overrides(c, t.name);
    if (!overrides.ok()) {
      rc = fail(sub, "'" + t.name + "' configs: " + overrides.error().message);
      continue;
    }
    size_t rf = t.partitions.empty() ? 0 : t.partitions[0].replicas.size();
    std::printf("Topic: %s\tTopicId: %s\tPartitionCount: %zu\tReplicationFactor: %zu\tConfigs: %s\n", t.name.c_str(),
                t.id.to_base64url().c_str(), t.partitions.size(), rf, overrides->c_str());
    for (const auto& p : t.partitions) {
      std::printf("\tTopic: %s\tPartition: %d\tLeader: %s\tReplicas: %s\tIsr: %s%s\n", t.name.c_str(), p.index,
                  p.leader < 0 ? "none" : std::to_string(p.leader).c_str(), join_ids(p.replicas).c_str(),
                  join_ids(p.isr).c_str(), p.error_code != 0 ? ("\tError: " + kafka_error_name(p.error_code)).c_str() : "");
    }
  }
  return rc;
}

}  // namespace floe::admin
