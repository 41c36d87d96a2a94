// Shared pieces of the client-side admin verbs (`floe topic|produce|consume|group`, `floe perf`): option
// parsing with usage errors that name the option, Kafka error names, a cluster view from Metadata,
// one blocking connection per broker, cluster-wide questions asked of the bootstrap broker and
// then of every broker learnt from Metadata, ListOffsets asked of each partition's leader, and
// requests to a group's coordinator that follow it when it moves. Everything here blocks; never
// used by the broker.
// Invariants: ClusterView::address() is empty when a partition has no live leader; a Connections
// pool holds at most one connection per broker address, each bounded by io_timeout_ms;
// brokers_to_ask() starts with the bootstrap broker and names each address once; a
// CoordinatorLink retries only coordinator errors and broken connections, starting no new attempt
// after its wait_ms per request.
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "admin/kafka_client.h"
#include "common/assert.h"
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

// The brokers to ask a cluster-wide question (Metadata, FindCoordinator), in the order Kafka's
// clients fall back: the bootstrap broker, then every other broker `view` names; each address once.
std::vector<std::string> brokers_to_ask(const std::string& bootstrap, const ClusterView& view);

// What ask_brokers does after one broker's ask failed.
enum class AfterFailure { next_broker, stop };

// Asks the brokers `addresses` (brokers_to_ask) in order until one answers: ask(KafkaConnection&)
// returns a Result. A broker that cannot be reached is passed over; one whose ask fails has its
// connection dropped from `conns` and is passed over too, unless after_failure(error) says stop
// (the error would be the same at every broker). With no answer, the last error, naming its broker.
// REQUIRES: addresses is not empty.
template <std::invocable<KafkaConnection&> Ask, std::invocable<const Error&> AfterFailureOf>
auto ask_brokers(Connections& conns, const std::vector<std::string>& addresses, Ask ask, AfterFailureOf after_failure)
    -> std::invoke_result_t<Ask&, KafkaConnection&> {
  FLOE_ASSERT(!addresses.empty());
  Error last{Errc::internal, "no broker to ask"};
  for (const auto& address : addresses) {
    auto c = conns.get(address);
    if (!c.ok()) {
      last = Error{c.error().code, "cannot reach " + address + ": " + c.error().message};
      continue;
    }
    auto answer = ask(**c);
    if (answer.ok()) return answer;
    conns.drop(address);
    last = Error{answer.error().code, address + ": " + answer.error().message};
    if (after_failure(answer.error()) == AfterFailure::stop) break;
  }
  return last;
}
// The same, passing over every failure.
template <std::invocable<KafkaConnection&> Ask>
auto ask_brokers(Connections& conns, const std::vector<std::string>& addresses, Ask ask) {
  return ask_brokers(conns, addresses, std::move(ask), [](const Error&) { return AfterFailure::next_broker; });
}

// ListOffsets (v5, isolation READ_UNCOMMITTED) for many partitions: one request per leader, each
// partition asked of its leader in `view`. timestamp: -2 earliest, -1 latest, else a time in ms.
struct OffsetQuery {
  std::string topic;
  int32_t partition = 0;
  int64_t timestamp = -1;
};
struct OffsetAnswer {
  int16_t error_code = 0;  // LEADER_NOT_AVAILABLE, unasked, when `view` names no live leader
  int64_t offset = -1;
};
using TopicPartition = std::pair<std::string, int32_t>;
// Error (naming the broker) when a leader cannot be reached or its answer not read; the failed
// connection is dropped from `conns`.
Result<std::map<TopicPartition, OffsetAnswer>> list_offsets(Connections& conns, const ClusterView& view,
                                                            const std::vector<OffsetQuery>& queries);

// The errors after which a Kafka client finds a group's coordinator again and resends:
// COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR.
bool is_coordinator_error(int16_t code);

// Requests to one group's coordinator that follow it when it moves, as Kafka's clients do: an
// answer with a coordinator error, or a connection that breaks, makes the link find the
// coordinator again (FindCoordinator through the bootstrap broker, else through any broker learnt
// from Metadata) and resend, backing off 100 ms doubling to 1 s; no new attempt starts after
// wait_ms per request (one already started ends within its connections' I/O timeouts).
// Every move is reported on stderr as "floe <verb>: ...; finding the group coordinator again".
class CoordinatorLink {
 public:
  CoordinatorLink(Connections& conns, std::string verb, std::string bootstrap, std::string group, int64_t wait_ms)
      : conns_(conns), verb_(std::move(verb)), bootstrap_(std::move(bootstrap)), group_(std::move(group)),
        wait_ms_(wait_ms), brokers_{bootstrap_} {}
  // Other brokers to ask FindCoordinator when the bootstrap broker cannot be reached.
  void learn_brokers(const ClusterView& view);
  // The coordinator's host:port as last found ("" before the first request or after a move).
  const std::string& address() const { return address_; }
  size_t moves() const { return moves_; }

  // Sends `request`; error_of(response) is the answer's coordinator-level error code (0: none).
  // Errors other than coordinator errors are the caller's to judge: returned as answered.
  template <typename Response, typename Request, typename ErrorOf>
  Result<Response> call(const Request& request, int16_t version, ErrorOf error_of) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms_);
    for (int attempt = 0;; ++attempt) {
      std::string why;
      auto c = connection();
      if (!c.ok()) {
        if (c.error().code == Errc::invalid_value) return c.take_error();  // FindCoordinator refused the group
        why = c.error().message;
      } else {
        auto resp = (*c)->template call<Response>(request, version);
        if (!resp.ok()) {
          why = address_ + ": " + resp.error().message;
          lost(/*broken=*/true, why);
        } else if (int16_t code = error_of(*resp); is_coordinator_error(code)) {
          why = address_ + ": " + kafka_error_name(code);
          lost(/*broken=*/false, why);
        } else {
          return resp;
        }
      }
      if (!back_off(attempt, deadline)) {
        return Error{Errc::timeout, "group '" + group_ + "': " + why + " (still after " + std::to_string(wait_ms_) +
                                        " ms of finding the coordinator again)"};
      }
    }
  }

 private:
  // The coordinator's connection, finding the coordinator first when none is known.
  // Errc::invalid_value: FindCoordinator answered an error no retry cures.
  Result<KafkaConnection*> connection();
  void lost(bool broken, const std::string& why);
  static bool back_off(int attempt, std::chrono::steady_clock::time_point deadline);

  Connections& conns_;
  std::string verb_, bootstrap_, group_;
  int64_t wait_ms_;
  std::vector<std::string> brokers_;  // brokers_to_ask(): the bootstrap broker first
  std::string address_;
  size_t moves_ = 0;
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
