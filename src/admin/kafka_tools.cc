#include "admin/kafka_tools.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "common/assert.h"
#include "protocol/errors.h"
#include "protocol/generated/find_coordinator_request.h"
#include "protocol/generated/find_coordinator_response.h"
#include "protocol/generated/list_offsets_request.h"
#include "protocol/generated/list_offsets_response.h"
#include "protocol/generated/metadata_request.h"

namespace floe::admin {

namespace {
constexpr int16_t kMetadataVersion = 12;
constexpr int16_t kFindCoordinatorVersion = 3;
constexpr int16_t kListOffsetsVersion = 5;

struct ErrorName {
  int16_t code;
  const char* name;
};
// Kafka's Errors table, the codes a client of floe can meet.
constexpr ErrorName kErrorNames[] = {
    {-1, "UNKNOWN_SERVER_ERROR"},
    {1, "OFFSET_OUT_OF_RANGE"},
    {2, "CORRUPT_MESSAGE"},
    {3, "UNKNOWN_TOPIC_OR_PARTITION"},
    {4, "INVALID_FETCH_SIZE"},
    {5, "LEADER_NOT_AVAILABLE"},
    {6, "NOT_LEADER_OR_FOLLOWER"},
    {7, "REQUEST_TIMED_OUT"},
    {8, "BROKER_NOT_AVAILABLE"},
    {10, "MESSAGE_TOO_LARGE"},
    {12, "OFFSET_METADATA_TOO_LARGE"},
    {14, "COORDINATOR_LOAD_IN_PROGRESS"},
    {15, "COORDINATOR_NOT_AVAILABLE"},
    {16, "NOT_COORDINATOR"},
    {17, "INVALID_TOPIC_EXCEPTION"},
    {18, "RECORD_LIST_TOO_LARGE"},
    {19, "NOT_ENOUGH_REPLICAS"},
    {21, "INVALID_REQUIRED_ACKS"},
    {22, "ILLEGAL_GENERATION"},
    {23, "INCONSISTENT_GROUP_PROTOCOL"},
    {24, "INVALID_GROUP_ID"},
    {25, "UNKNOWN_MEMBER_ID"},
    {26, "INVALID_SESSION_TIMEOUT"},
    {27, "REBALANCE_IN_PROGRESS"},
    {28, "INVALID_COMMIT_OFFSET_SIZE"},
    {29, "TOPIC_AUTHORIZATION_FAILED"},
    {30, "GROUP_AUTHORIZATION_FAILED"},
    {31, "CLUSTER_AUTHORIZATION_FAILED"},
    {32, "INVALID_TIMESTAMP"},
    {35, "UNSUPPORTED_VERSION"},
    {36, "TOPIC_ALREADY_EXISTS"},
    {37, "INVALID_PARTITIONS"},
    {38, "INVALID_REPLICATION_FACTOR"},
    {39, "INVALID_REPLICA_ASSIGNMENT"},
    {40, "INVALID_CONFIG"},
    {41, "NOT_CONTROLLER"},
    {42, "INVALID_REQUEST"},
    {43, "UNSUPPORTED_FOR_MESSAGE_FORMAT"},
    {44, "POLICY_VIOLATION"},
    {45, "OUT_OF_ORDER_SEQUENCE_NUMBER"},
    {46, "DUPLICATE_SEQUENCE_NUMBER"},
    {47, "INVALID_PRODUCER_EPOCH"},
    {48, "INVALID_TXN_STATE"},
    {49, "INVALID_PRODUCER_ID_MAPPING"},
    {53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"},
    {54, "SECURITY_DISABLED"},
    {56, "KAFKA_STORAGE_ERROR"},
    {59, "UNKNOWN_PRODUCER_ID"},
    {60, "REASSIGNMENT_IN_PROGRESS"},
    {68, "NON_EMPTY_GROUP"},
    {69, "GROUP_ID_NOT_FOUND"},
    {72, "LISTENER_NOT_FOUND"},
    {73, "TOPIC_DELETION_DISABLED"},
    {74, "FENCED_LEADER_EPOCH"},
    {76, "UNKNOWN_LEADER_EPOCH"},
    {77, "STALE_BROKER_EPOCH"},
    {78, "OFFSET_NOT_AVAILABLE"},
    {79, "MEMBER_ID_REQUIRED"},
    {81, "GROUP_MAX_SIZE_REACHED"},
    {82, "FENCED_INSTANCE_ID"},
    {85, "NO_REASSIGNMENT_IN_PROGRESS"},
    {86, "GROUP_SUBSCRIBED_TO_TOPIC"},
    {87, "INVALID_RECORD"},
    {100, "UNKNOWN_TOPIC_ID"},
    {103, "INCONSISTENT_TOPIC_ID"},
};

bool parse_i64(const std::string& s, int64_t* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end != s.c_str() + s.size()) return false;
  *out = v;
  return true;
}
}  // namespace

std::string kafka_error_name(int16_t code) {
  for (const auto& e : kErrorNames) {
    if (e.code == code) return e.name;
  }
  return "ERROR_" + std::to_string(code);
}

std::string kafka_error_text(int16_t code, const std::optional<std::string>& message) {
  std::string s = kafka_error_name(code);
  if (message && !message->empty()) s += ": " + *message;
  return s;
}

bool ArgWalker::take(const char* name, std::string* value) {
  std::string n = name;
  if (cur_ == n) {
    if (i_ >= argc_) {
      if (error.empty()) error = n + " needs a value";
      return true;
    }
    *value = argv_[i_++];
    return true;
  }
  if (cur_.size() > n.size() && cur_.starts_with(n) && cur_[n.size()] == '=') {
    *value = cur_.substr(n.size() + 1);
    return true;
  }
  return false;
}

bool ArgWalker::take_int(const char* name, int64_t lo, int64_t hi, int64_t* value) {
  std::string v;
  if (!take(name, &v)) return false;
  if (!error.empty()) return true;
  int64_t n = 0;
  if (!parse_i64(v, &n) || n < lo || n > hi) {
    error = std::string(name) + " needs a number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got '" +
            v + "'";
    return true;
  }
  *value = n;
  return true;
}

const TopicView* ClusterView::find(const std::string& topic) const {
  for (const auto& t : topics) {
    if (t.name == topic) return &t;
  }
  return nullptr;
}

std::string ClusterView::address(int32_t node) const {
  auto it = brokers.find(node);
  return it == brokers.end() ? std::string() : it->second;
}

Result<ClusterView> fetch_cluster(KafkaConnection& c, const std::optional<std::vector<std::string>>& topics,
                                  bool auto_create) {
  protocol::MetadataRequest req;
  if (topics) {
    req.topics = std::vector<protocol::MetadataRequest::MetadataRequestTopic>{};
    for (const auto& t : *topics) req.topics->push_back({Uuid{}, t, {}});
  } else {
    req.topics = std::nullopt;
  }
  req.allow_auto_topic_creation = auto_create;
  auto resp = c.call<protocol::MetadataResponse>(req, kMetadataVersion);
  if (!resp.ok()) return resp.take_error();
  ClusterView view;
  view.controller_id = resp->controller_id;
  for (const auto& b : resp->brokers) view.brokers[b.node_id] = b.host + ":" + std::to_string(b.port);
  for (const auto& t : resp->topics) {
    TopicView tv;
    tv.name = t.name.value_or("");
    tv.id = t.topic_id;
    tv.error_code = t.error_code;
    tv.internal = t.is_internal;
    for (const auto& p : t.partitions) {
      tv.partitions.push_back({p.partition_index, p.leader_id, p.error_code, p.replica_nodes, p.isr_nodes});
    }
    std::sort(tv.partitions.begin(), tv.partitions.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
    view.topics.push_back(std::move(tv));
  }
  std::sort(view.topics.begin(), view.topics.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return view;
}

Result<ClusterView> wait_for_topic(KafkaConnection& c, const std::string& topic, int64_t wait_ms, bool auto_create) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  int16_t last_error = 0;
  while (true) {
    auto view = fetch_cluster(c, std::vector<std::string>{topic}, auto_create);
    if (!view.ok()) return view.take_error();
    const TopicView* t = view->find(topic);
    last_error = t == nullptr ? protocol::kerr::kUnknownTopicOrPartition : t->error_code;
    // With auto-creation the topic may be created but not yet in this broker's metadata: retry.
    if (last_error == protocol::kerr::kUnknownTopicOrPartition && !auto_create) {
      return Error{Errc::not_found, "topic '" + topic + "': " + kafka_error_name(last_error)};
    }
    if (last_error == 0 && !t->partitions.empty()) {
      bool ready = std::all_of(t->partitions.begin(), t->partitions.end(), [&](const PartitionView& p) {
        return p.error_code == 0 && !view->address(p.leader).empty();
      });
      if (ready) return view;
      last_error = protocol::kerr::kLeaderNotAvailable;
    } else if (last_error != protocol::kerr::kLeaderNotAvailable && last_error != protocol::kerr::kUnknownTopicOrPartition) {
      return Error{Errc::io, "topic '" + topic + "': " + kafka_error_name(last_error)};
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Error{Errc::timeout, "topic '" + topic + "': " + kafka_error_name(last_error) + " after " +
                                  std::to_string(wait_ms) + " ms"};
}

Result<KafkaConnection*> Connections::get(const std::string& address) {
  auto it = conns_.find(address);
  if (it != conns_.end()) return it->second.get();
  auto c = KafkaConnection::connect(address, client_id_, timeout_ms_);
  if (!c.ok()) return c.take_error();
  KafkaConnection* raw = c->get();
  conns_[address] = std::move(*c);
  return raw;
}

Result<std::map<TopicPartition, OffsetAnswer>> list_offsets(Connections& conns, const ClusterView& view,
                                                            const std::vector<OffsetQuery>& queries) {
  std::map<TopicPartition, OffsetAnswer> answers;
  std::map<std::string, protocol::ListOffsetsRequest> per_leader;
  for (const auto& q : queries) {
    std::string address;
    if (const TopicView* t = view.find(q.topic)) {
      auto p = std::find_if(t->partitions.begin(), t->partitions.end(), [&](const auto& x) { return x.index == q.partition; });
      if (p != t->partitions.end()) address = view.address(p->leader);
    }
    if (address.empty()) {
      answers[{q.topic, q.partition}] = {protocol::kerr::kLeaderNotAvailable, -1};
      continue;
    }
    auto& req = per_leader[address];
    req.replica_id = -1;
    auto t = std::find_if(req.topics.begin(), req.topics.end(), [&](const auto& x) { return x.name == q.topic; });
    if (t == req.topics.end()) t = req.topics.insert(req.topics.end(), {q.topic, {}, {}});
    t->partitions.push_back({q.partition, -1, q.timestamp, 1, {}});
  }
  for (const auto& [address, req] : per_leader) {
    auto c = conns.get(address);
    if (!c.ok()) return Error{c.error().code, "cannot reach " + address + ": " + c.error().message};
    auto resp = (*c)->call<protocol::ListOffsetsResponse>(req, kListOffsetsVersion);
    if (!resp.ok()) {
      conns.drop(address);
      return Error{resp.error().code, address + ": " + resp.error().message};
    }
    for (const auto& t : resp->topics) {
      for (const auto& p : t.partitions) answers[{t.name, p.partition_index}] = {p.error_code, p.offset};
    }
  }
  return answers;
}

bool is_coordinator_error(int16_t code) {
  return code == protocol::kerr::kCoordinatorLoadInProgress || code == protocol::kerr::kCoordinatorNotAvailable ||
         code == protocol::kerr::kNotCoordinator;
}

std::vector<std::string> brokers_to_ask(const std::string& bootstrap, const ClusterView& view) {
  std::vector<std::string> out{bootstrap};
  for (const auto& [id, address] : view.brokers) {
    if (std::find(out.begin(), out.end(), address) == out.end()) out.push_back(address);
  }
  return out;
}

void CoordinatorLink::learn_brokers(const ClusterView& view) { brokers_ = brokers_to_ask(bootstrap_, view); }

Result<KafkaConnection*> CoordinatorLink::connection() {
  if (address_.empty()) {
    // FindCoordinator through the bootstrap broker, else through each broker learnt from Metadata;
    // the first answer counts (an error answer too: while the coordinator moves, every broker
    // would say so).
    protocol::FindCoordinatorRequest req;
    req.key = group_;
    req.key_type = 0;
    auto resp = ask_brokers(conns_, brokers_, [&](KafkaConnection& c) -> Result<protocol::FindCoordinatorResponse> {
      auto r = c.call<protocol::FindCoordinatorResponse>(req, kFindCoordinatorVersion);
      if (!r.ok()) return Error{r.error().code, "FindCoordinator: " + r.error().message};
      return r;
    });
    if (!resp.ok()) return Error{Errc::io, resp.error().message};  // only an answer may refuse the group
    if (resp->error_code != 0) {
      std::string why = "FindCoordinator: " + kafka_error_text(resp->error_code, resp->error_message);
      if (!is_coordinator_error(resp->error_code)) return Error{Errc::invalid_value, "group '" + group_ + "': " + why};
      return Error{Errc::io, why};
    }
    address_ = resp->host + ":" + std::to_string(resp->port);
  }
  auto c = conns_.get(address_);
  if (!c.ok()) {
    std::string why = "cannot reach " + address_ + ": " + c.error().message;
    lost(/*broken=*/true, why);
    return Error{Errc::io, why};
  }
  return c;
}

void CoordinatorLink::lost(bool broken, const std::string& why) {
  if (broken) conns_.drop(address_);
  address_.clear();
  ++moves_;
  std::fprintf(stderr, "floe %s: %s; finding the group coordinator again\n", verb_.c_str(), why.c_str());
}

bool CoordinatorLink::back_off(int attempt, std::chrono::steady_clock::time_point deadline) {
  auto now = std::chrono::steady_clock::now();
  if (now >= deadline) return false;
  auto delay = std::chrono::milliseconds(std::min(1000, 100 << std::min(attempt, 4)));
  std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(delay, deadline - now));
  return true;
}

int32_t kafka_murmur2(std::string_view data) {
  const uint32_t m = 0x5bd1e995;
  const int r = 24;
  const auto length = static_cast<uint32_t>(data.size());
  uint32_t h = 0x9747b28c ^ length;
  const auto* d = reinterpret_cast<const uint8_t*>(data.data());
  for (uint32_t i = 0; i < length / 4; ++i) {
    uint32_t k = uint32_t(d[i * 4]) | (uint32_t(d[i * 4 + 1]) << 8) | (uint32_t(d[i * 4 + 2]) << 16) |
                 (uint32_t(d[i * 4 + 3]) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  const uint32_t tail = length & ~3u;
  switch (length % 4) {
    case 3: h ^= uint32_t(d[tail + 2]) << 16; [[fallthrough]];
    case 2: h ^= uint32_t(d[tail + 1]) << 8; [[fallthrough]];
    case 1: h ^= uint32_t(d[tail]); h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

int32_t kafka_partition_for_key(std::string_view key, int32_t partitions) {
  FLOE_ASSERT(partitions > 0);
  return (kafka_murmur2(key) & 0x7fffffff) % partitions;
}

std::string join_ids(const std::vector<int32_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s;
}

int usage_error(const char* verb, const std::string& message, const char* usage_text) {
  std::fprintf(stderr, "floe %s: %s\n%s(run 'floe --help' for usage)\n", verb, message.c_str(), usage_text);
  return 2;
}

}  // namespace floe::admin
