// Shared pieces of the client-side admin verbs (`floe topic|produce|consume|group`, `floe perf`): option
// parsing with usage errors that name the option, Kafka error names, a cluster view from Metadata
// and one blocking connection per broker. Everything here blocks; never used by the broker.
// Invariants: ClusterView::leader_address() is empty when a partition has no live leader; a
// Connections pool holds at most one connection per broker id, each bounded by io_timeout_ms.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "admin/kafka_client.h"
#include "common/result.h"
#include "protocol/generated/metadata_response.h"

namespace floe::admin {

// Kafka's name for a protocol error code ("UNKNOWN_TOPIC_OR_PARTITION"), or "ERROR_<code>".
std::string kafka_error_name(int16_t code);
// "NAME: message" (message omitted when empty), the form every verb prints.
std::string kafka_error_text(int16_t code, const std::optional<std::string>& message);

// Walks argv[first..argc) of one verb. Usage errors are collected in `error` (the first wins).
class ArgWalker {
 public:
  ArgWalker(int argc, char** argv, int first) : argc_(argc), argv_(argv), i_(first) {}
  bool done() const { return i_ >= argc_ || !error.empty(); }
  const std::string& current() const { return cur_; }
  // Advances to the next argument (call before each round of take()).
  void next() { cur_ = argv_[i_++]; }
  // `--name VALUE` or `--name=VALUE`; a missing value sets `error`.
  bool take(const char* name, std::string* value);
  // Same, the value an integer in [lo, hi].
  bool take_int(const char* name, int64_t lo, int64_t hi, int64_t* value);
  bool flag(const char* name) { return cur_ == name; }
  void unknown() { error = "unknown option '" + cur_ + "'"; }
  std::string error;

 private:
  int argc_;
  char** argv_;
  int i_;
  std::string cur_;
};

struct PartitionView {
  int32_t index = 0;
  int32_t leader = -1;
  int16_t error_code = 0;
  std::vector<int32_t> replicas, isr;
};
struct TopicView {
  std::string name;
  Uuid id;
  int16_t error_code = 0;
  bool internal = false;
  std::vector<PartitionView> partitions;  // sorted by index
};
struct ClusterView {
  std::map<int32_t, std::string> brokers;  // node id -> host:port
  int32_t controller_id = -1;
  std::vector<TopicView> topics;
  const TopicView* find(const std::string& topic) const;
  std::string address(int32_t node) const;
};

// Metadata v12 for `topics` (nullopt: all topics); auto_create lets the broker create missing
// ones if it is configured to (auto.create.topics.enable), as producing clients do.
Result<ClusterView> fetch_cluster(KafkaConnection& c, const std::optional<std::vector<std::string>>& topics,
                                  bool auto_create = false);
// Metadata for one topic, retried (for up to wait_ms) while it or a partition has no leader yet
// (and, with auto_create, while it is unknown: created but not yet in this broker's metadata).
// Errc::not_found with Kafka's error name when it does not exist and auto_create is false.
Result<ClusterView> wait_for_topic(KafkaConnection& c, const std::string& topic, int64_t wait_ms,
                                   bool auto_create = false);

// The group coordinator's host:port for `group` (FindCoordinator, retried while it loads).
Result<std::string> find_coordinator(KafkaConnection& c, const std::string& group, int64_t wait_ms);

// One connection per broker, opened on first use.
class Connections {
 public:
  Connections(std::string client_id, int64_t io_timeout_ms) : client_id_(std::move(client_id)), timeout_ms_(io_timeout_ms) {}
  Result<KafkaConnection*> get(const std::string& address);
  void drop(const std::string& address) { conns_.erase(address); }

 private:
  std::string client_id_;
  int64_t timeout_ms_;
  std::map<std::string, std::unique_ptr<KafkaConnection>> conns_;
};

// Kafka's murmur2 (Utils.murmur2, seed 0x9747b28c) and its default partitioner for keyed records:
// (murmur2(key) & 0x7fffffff) % partitions. REQUIRES: partitions > 0.
int32_t kafka_murmur2(std::string_view data);
int32_t kafka_partition_for_key(std::string_view key, int32_t partitions);

std::string join_ids(const std::vector<int32_t>& ids);
// A usage error of `floe <verb>`: prints the message, the verb's usage text and where to find
// more to stderr; returns 2 (the exit status of usage errors).
int usage_error(const char* verb, const std::string& message, const char* usage_text);

}  // namespace floe::admin
