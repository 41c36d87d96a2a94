#include "broker/broker.h"

#include <charconv>

#include <chrono>
#include <thread>
#include <future>
#include <random>

#include "broker/call.h"
#include "common/assert.h"
#include "common/log.h"
#include "protocol/generated/request_header.h"

namespace floe::broker {

namespace {
// What floe serves. Minimums: record batches are magic 2 only (Produce v3+, Fetch v4+).
// Maximums: the highest version whose semantics the handlers implement (Fetch 13+ needs topic
// ids; its session keys are names, mapped from ids; Produce 10+ and Metadata 13 are not sent by
// the clients tested here).
constexpr SupportedApi kSupported[] = {
    {0, 3, 9},    // Produce
    {1, 4, 16},   // Fetch (13+: topic ids)
    {2, 1, 7},    // ListOffsets
    {3, 0, 12},   // Metadata
    {8, 0, 8},    // OffsetCommit
    {9, 0, 8},    // OffsetFetch
    {10, 0, 4},   // FindCoordinator
    {11, 0, 9},   // JoinGroup
    {12, 0, 4},   // Heartbeat
    {13, 0, 5},   // LeaveGroup
    {14, 0, 5},   // SyncGroup
    {15, 0, 5},   // DescribeGroups
    {16, 0, 4},   // ListGroups
    {18, 0, 3},   // ApiVersions
    {19, 0, 7},   // CreateTopics
    {20, 0, 6},   // DeleteTopics
    {21, 0, 2},   // DeleteRecords
    {22, 0, 4},   // InitProducerId
    {23, 0, 4},   // OffsetForLeaderEpoch
    {32, 0, 4},   // DescribeConfigs
    {33, 0, 2},   // AlterConfigs
    {35, 0, 4},   // DescribeLogDirs
    {37, 0, 3},   // CreatePartitions
    {42, 0, 2},   // DeleteGroups
    {44, 0, 1},   // IncrementalAlterConfigs
    {45, 0, 0},   // AlterPartitionReassignments
    {46, 0, 0},   // ListPartitionReassignments
    {47, 0, 0},   // OffsetDelete
    {57, 0, 2},   // UpdateFeatures
    {60, 0, 1},   // DescribeCluster
};

bool is_group_api(int16_t key) {
  switch (key) {
    case 8: case 9: case 11: case 12: case 13: case 14: case 15: case 16: case 42: case 47:
      return true;
    default:
      return false;
  }
}

int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Uuid random_uuid() {
  std::random_device rd;
  std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(system_now_ms()));
  Uuid u;
  for (auto& b : u.bytes) b = static_cast<uint8_t>(rng());
  return u;
}

template <typename T>
T wait_for(std::future<T>& f, int64_t timeout_ms, T on_timeout) {
  if (f.wait_for(std::chrono::milliseconds(timeout_ms)) != std::future_status::ready) return on_timeout;
  return f.get();
}
}  // namespace

std::span<const SupportedApi> supported_apis() { return kSupported; }

const SupportedApi* find_supported_api(int16_t key) {
  for (const auto& a : kSupported) {
    if (a.key == key) return &a;
  }
  return nullptr;
}

Broker::Broker(BrokerOptions options, metadata::ControllerClient& controller, stream::StreamManager& streams)
    : options_(std::move(options)), controller_(controller), streams_(streams) {
  if (!options_.now_ms) options_.now_ms = system_now_ms;
}

Broker::~Broker() { stop(); }

int64_t Broker::now_ms() const { return options_.now_ms(); }

Status Broker::start() {
  constexpr int64_t kStartupTimeoutMs = 60000;
  {
    metadata::BrokerRegistration reg;
    reg.id = options_.node_id;
    reg.incarnation_id = random_uuid();
    reg.listeners.push_back(metadata::BrokerListener{"PLAINTEXT", options_.advertised_host, options_.advertised_port});
    reg.rack = options_.rack;
    auto promise = std::make_shared<std::promise<Status>>();
    auto future = promise->get_future();
    controller_.register_broker(std::move(reg), [promise](Result<stream::Done> r) {
      promise->set_value(r.ok() ? Status{} : Status(r.error()));
    });
    Status s = wait_for(future, kStartupTimeoutMs, Status(Error{Errc::timeout, "broker registration timed out"}));
    if (!s.ok()) return s;
  }
  if (controller_.image()->topic(kGroupStateTopic) == nullptr) {
    metadata::TopicSpec spec;
    spec.name = kGroupStateTopic;
    spec.num_partitions = 1;
    spec.internal = true;
    auto promise = std::make_shared<std::promise<Status>>();
    auto future = promise->get_future();
    controller_.create_topics({spec}, false, [promise](Result<std::vector<metadata::TopicResult>> r) {
      if (!r.ok()) return promise->set_value(r.error());
      if (r->empty() || ((*r)[0].error_code != 0 && (*r)[0].error_code != kerr::kTopicAlreadyExists)) {
        return promise->set_value(Error{Errc::internal, "creating the group state topic failed: " +
                                                            (r->empty() ? std::string() : (*r)[0].error_message)});
      }
      promise->set_value(Status{});
    });
    Status s = wait_for(future, kStartupTimeoutMs, Status(Error{Errc::timeout, "creating the group state topic timed out"}));
    if (!s.ok()) return s;
    // Another broker may have created it first (TOPIC_ALREADY_EXISTS carries no metadata offset to
    // wait for): wait until this broker's image shows it.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kStartupTimeoutMs);
    while (controller_.image()->topic(kGroupStateTopic) == nullptr) {
      if (std::chrono::steady_clock::now() >= deadline) {
        return Error{Errc::timeout, "the group state topic did not appear in this broker's metadata"};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  {
    auto promise = std::make_shared<std::promise<void>>();
    auto future = promise->get_future();
    sync_partitions([promise] { promise->set_value(); });
    if (future.wait_for(std::chrono::milliseconds(kStartupTimeoutMs)) != std::future_status::ready) {
      return Error{Errc::timeout, "opening partitions timed out"};
    }
  }
  {
    auto image = controller_.image();
    const metadata::TopicImage* t = image->topic(kGroupStateTopic);
    if (t == nullptr || t->partitions.empty()) return Error{Errc::internal, "the group state topic is missing"};
    if (t->partitions[0].leader == options_.node_id) {
      if (Status s = start_coordinator(kStartupTimeoutMs); !s.ok()) return s;
    }
  }
  timer_work_.emplace(timer_io_.get_executor());
  timer_thread_ = std::thread([this] { timer_io_.run(); });
  maintenance_timer_ = std::make_unique<asio::steady_timer>(timer_io_);
  last_retention_ms_ = now_ms();
  schedule_maintenance();
  return {};
}

Status Broker::start_coordinator(int64_t timeout_ms) {
  auto image = controller_.image();
  const metadata::TopicImage* t = image->topic(kGroupStateTopic);
  if (t == nullptr || t->partitions.empty()) return Error{Errc::internal, "the group state topic is missing"};
  auto opened = std::make_shared<std::promise<Result<std::shared_ptr<stream::Stream>>>>();
  auto opened_future = opened->get_future();
  streams_.open_stream(t->partitions[0].stream_id,
                       [opened](Result<std::shared_ptr<stream::Stream>> r) { opened->set_value(std::move(r)); });
  if (opened_future.wait_for(std::chrono::milliseconds(timeout_ms)) != std::future_status::ready) {
    return Error{Errc::timeout, "opening the group state stream timed out"};
  }
  auto stream = opened_future.get();
  if (!stream.ok()) return Error{stream.error().code, "opening the group state stream: " + stream.error().message};
  GroupCoordinatorOptions go = options_.group;
  go.now_ms = options_.now_ms;
  go.partition_exists = [this](std::string_view topic, int32_t partition) {
    auto image = controller_.image();
    const auto* t = image->topic(topic);
    return t != nullptr && !hidden_topic(topic) && partition >= 0 &&
           partition < static_cast<int32_t>(t->partitions.size());
  };
  auto coordinator = std::make_shared<GroupCoordinator>(go, *stream);
  auto loaded = std::make_shared<std::promise<Status>>();
  auto loaded_future = loaded->get_future();
  coordinator->start([loaded](Status s) { loaded->set_value(s); });
  if (loaded_future.wait_for(std::chrono::milliseconds(timeout_ms)) != std::future_status::ready) {
    return Error{Errc::timeout, "loading consumer groups timed out"};
  }
  Status loaded_status = loaded_future.get();
  if (!loaded_status.ok()) return loaded_status;
  std::lock_guard lock(mu_);
  group_stream_ = *stream;
  coordinator_ = std::move(coordinator);
  return {};
}

std::shared_ptr<GroupCoordinator> Broker::coordinator() const {
  std::lock_guard lock(mu_);
  return coordinator_;
}

void Broker::maybe_start_coordinator(int64_t timeout_ms) {
  if (stopped_ || draining_) return;
  auto image = controller_.image();
  const metadata::TopicImage* t = image->topic(kGroupStateTopic);
  if (t == nullptr || t->partitions.empty()) return;
  const metadata::PartitionImage& p = t->partitions[0];
  if (p.leader != options_.node_id) {
    // The group state moved away while this broker runs: stop and close, so its new leader can
    // open the stream without fencing our last writes.
    std::shared_ptr<GroupCoordinator> coordinator;
    std::shared_ptr<stream::Stream> stream;
    {
      std::lock_guard lock(mu_);
      coordinator = std::move(coordinator_);
      stream = std::move(group_stream_);
      coordinator_.reset();
      group_stream_.reset();
    }
    if (coordinator) {
      floe::log::info("broker", "the group state moved to broker " + std::to_string(p.leader.value()) +
                                    ": stopping the group coordinator here");
      coordinator->stop();
    }
    if (stream) stream->close([](Result<stream::Done>) {});
    return;
  }
  if (coordinator() || coordinator_starting_.exchange(true)) return;
  // Its previous owner, alive, still has the stream open: wait until it closed it.
  auto info = stream::meta_wait<stream::StreamInfo>([&](auto cb) { controller_.describe_stream(p.stream_id, cb); });
  if (info.ok() && info->open && info->owner != options_.node_id) {
    auto it = image->brokers.find(info->owner);
    if (it != image->brokers.end() && !it->second.fenced) {
      coordinator_starting_ = false;
      return;
    }
  }
  floe::log::info("broker", "this broker leads the group state: starting the group coordinator");
  if (Status s = start_coordinator(timeout_ms); !s.ok()) {
    floe::log::warn("broker", "starting the group coordinator failed (retrying): " + s.error().message);
  }
  coordinator_starting_ = false;
}

Broker::Endpoint Broker::coordinator_endpoint() const {
  auto image = controller_.image();
  const metadata::TopicImage* t = image->topic(kGroupStateTopic);
  Endpoint e;
  if (t == nullptr || t->partitions.empty()) return e;
  NodeId leader = t->partitions[0].leader;
  if (leader == options_.node_id) {
    if (!coordinator()) return e;
    return Endpoint{options_.node_id.value(), options_.advertised_host, options_.advertised_port};
  }
  auto it = image->brokers.find(leader);
  if (it == image->brokers.end() || it->second.fenced) return e;
  for (const auto& l : it->second.listeners) {
    if (l.name == "PLAINTEXT") return Endpoint{leader.value(), l.host, l.port};
  }
  return e;
}

void Broker::schedule_maintenance() {
  maintenance_timer_->expires_after(std::chrono::milliseconds(options_.partition_sync_interval_ms));
  maintenance_timer_->async_wait([this](const asio::error_code& ec) {
    if (ec || stopped_) return;
    sync_partitions();
    maybe_start_coordinator(30000);
    int64_t now = now_ms();
    if (now - last_retention_ms_ >= options_.retention_check_interval_ms) {
      last_retention_ms_ = now;
      for (auto& p : open_partitions()) {
        if (p->topic() != kGroupStateTopic) p->enforce_retention();
      }
    }
    schedule_maintenance();
  });
}

void Broker::begin_shutdown() {
  draining_ = true;
  for (auto& p : open_partitions()) wake_fetchers(p.get());
}

void Broker::stop() {
  if (stopped_.exchange(true)) return;
  if (maintenance_timer_) {
    asio::post(timer_io_, [this] { maintenance_timer_->cancel(); });
  }
  // Wake every waiting fetch (stopped_ is set, so each answers at once with what it has).
  std::vector<const log::Partition*> watched;
  {
    std::lock_guard lock(mu_);
    for (auto& [p, list] : waiters_) watched.push_back(p);
  }
  for (const auto* p : watched) wake_fetchers(p);
  if (auto c = coordinator()) c->stop();
  timer_work_.reset();
  if (timer_thread_.joinable()) {
    timer_io_.stop();
    timer_thread_.join();
  }
  // Close partitions: each uploads its tail. Bounded: a stuck store must not hang shutdown.
  auto partitions = open_partitions();
  std::shared_ptr<stream::Stream> group_stream;
  {
    std::lock_guard lock(mu_);
    group_stream = group_stream_;
  }
  auto remaining = std::make_shared<std::atomic<size_t>>(partitions.size() + (group_stream ? 1 : 0));
  auto all_closed = std::make_shared<std::promise<void>>();
  auto closed_future = all_closed->get_future();
  if (partitions.empty() && !group_stream) all_closed->set_value();
  if (group_stream) {
    group_stream->close([remaining, all_closed](Result<stream::Done>) {
      if (remaining->fetch_sub(1) == 1) all_closed->set_value();
    });
  }
  for (auto& p : partitions) {
    p->close([remaining, all_closed](int16_t) {
      if (remaining->fetch_sub(1) == 1) all_closed->set_value();
    });
  }
  if (closed_future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    floe::log::warn("broker", "some partitions did not close within 30 s; their data stays in the WAL");
  }
  std::lock_guard lock(mu_);
  topics_.clear();
}

BrokerStats Broker::stats() const {
  BrokerStats s;
  s.requests = requests_;
  s.closed_bad_requests = closed_bad_requests_;
  s.produce_requests = produce_requests_;
  s.fetch_requests = fetch_requests_;
  s.open_partitions = open_partitions().size();
  return s;
}

// ---- requests ----

void Broker::handle(net::RequestFrame request, net::Responder responder) {
  ++requests_;
  auto call = std::make_shared<Call>(std::move(request), std::move(responder));
  const protocol::ApiInfo* api = protocol::find_api(call->api_key());
  if (api == nullptr) {
    ++closed_bad_requests_;
    floe::log::debug("broker", "closing " + call->frame.peer + ": unknown API key " + std::to_string(call->api_key()));
    return call->close();
  }
  const SupportedApi* supported = find_supported_api(call->api_key());
  bool version_ok = supported != nullptr && call->version() >= supported->min_version &&
                    call->version() <= supported->max_version;
  // The header's own version follows the request's; an ApiVersions request newer than ours is
  // still parsed with the header we know (v2 for flexible), then answered at v0.
  int16_t header_version = protocol::request_header_version(
      call->api_key(), std::clamp(call->version(), api->min_version, api->max_version));
  ByteReader r(call->frame.frame);
  protocol::RequestHeader header;
  if (Status s = header.decode(r, header_version); !s.ok()) {
    ++closed_bad_requests_;
    floe::log::debug("broker", "closing " + call->frame.peer + ": bad request header: " + s.error().message);
    return call->close();
  }
  call->client_id = header.client_id.value_or("");
  call->body_offset = r.pos();
  if (!version_ok) {
    if (call->api_key() == protocol::api_key::kApiVersions) return handle_api_versions(call);
    ++closed_bad_requests_;
    floe::log::debug("broker", "closing " + call->frame.peer + ": unsupported version " +
                                   std::to_string(call->version()) + " of " + api->name);
    return call->close();
  }
  dispatch(std::move(call));
}

void Broker::connection_closed(uint64_t) {}

void Broker::dispatch(std::shared_ptr<Call> call) {
  switch (call->api_key()) {
    case 0: return handle_produce(std::move(call));
    case 1: return handle_fetch(std::move(call));
    case 2: return handle_list_offsets(std::move(call));
    case 3: return handle_metadata(std::move(call));
    case 10: return handle_find_coordinator(std::move(call));
    case 18: return handle_api_versions(std::move(call));
    case 19: return handle_create_topics(std::move(call));
    case 20: return handle_delete_topics(std::move(call));
    case 21: return handle_delete_records(std::move(call));
    case 22: return handle_init_producer_id(std::move(call));
    case 23: return handle_offset_for_leader_epoch(std::move(call));
    case 32: return handle_describe_configs(std::move(call));
    case 33: return handle_alter_configs(std::move(call));
    case 35: return handle_describe_log_dirs(std::move(call));
    case 37: return handle_create_partitions(std::move(call));
    case 44: return handle_incremental_alter_configs(std::move(call));
    case 57: return handle_update_features(std::move(call));
    case 45: return handle_alter_partition_reassignments(std::move(call));
    case 46: return handle_list_partition_reassignments(std::move(call));
    case 60: return handle_describe_cluster(std::move(call));
    default:
      if (is_group_api(call->api_key())) return handle_group_api(std::move(call));
      ++closed_bad_requests_;
      return call->close();
  }
}

// ---- partitions ----

log::PartitionConfig Broker::partition_config(const metadata::MetadataImage& image,
                                              const metadata::TopicImage& topic) const {
  log::PartitionConfig c;
  // Each value: the topic's config, else the dynamic broker configs, else server.properties, else
  // the default (metadata/broker_config.h); values were validated, a parse failure keeps the default.
  auto effective = [&](const char* key) -> std::string {
    const metadata::TopicConfigDef* def = metadata::find_topic_config(key);
    FLOE_ASSERT(def != nullptr);
    return metadata::effective_topic_config(image, &topic, *def, options_.node_id, options_.static_configs).value;
  };
  auto to_long = [](const std::string& s, int64_t fallback) {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && end == s.data() + s.size() && !s.empty() ? v : fallback;
  };
  int64_t max_bytes = to_long(effective("max.message.bytes"), int64_t(c.max_message_bytes));
  if (max_bytes >= 0) c.max_message_bytes = static_cast<uint64_t>(max_bytes);
  c.retention_ms = to_long(effective("retention.ms"), c.retention_ms);
  c.retention_bytes = to_long(effective("retention.bytes"), c.retention_bytes);
  c.log_append_time = effective("message.timestamp.type") == "LogAppendTime";
  // A broker-wide static key (not per topic, not dynamic here).
  if (auto v = metadata::effective_broker_config(image, "producer.id.expiration.ms", options_.node_id,
                                                 options_.static_configs)) {
    c.producer_id_expiration_ms = to_long(v->value, c.producer_id_expiration_ms);
  }
  return c;
}

std::vector<std::shared_ptr<log::Partition>> Broker::open_partitions() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<log::Partition>> out;
  for (auto& [id, t] : topics_) {
    for (auto& slot : t.partitions) {
      if (slot.partition) out.push_back(slot.partition);
    }
  }
  return out;
}

Broker::Lookup Broker::lookup(std::string_view topic, int32_t partition) const {
  auto image = controller_.image();
  const metadata::TopicImage* t = image->topic(topic);
  if (t == nullptr || hidden_topic(topic) || partition < 0 || partition >= static_cast<int32_t>(t->partitions.size())) {
    return {kerr::kUnknownTopicOrPartition, nullptr};
  }
  if (t->partitions[partition].leader != options_.node_id) return {kerr::kNotLeaderOrFollower, nullptr};
  std::lock_guard lock(mu_);
  auto it = topics_.find(t->id);
  if (it == topics_.end() || partition >= static_cast<int32_t>(it->second.partitions.size()) ||
      !it->second.partitions[partition].partition) {
    return {kerr::kLeaderNotAvailable, nullptr};
  }
  return {kerr::kNone, it->second.partitions[partition].partition};
}

void Broker::sync_partitions(std::function<void()> done) {
  struct Opening {
    metadata::TopicImage topic;
    metadata::PartitionImage partition;
  };
  std::vector<Opening> to_open;
  std::vector<std::shared_ptr<log::Partition>> to_close;
  std::vector<std::shared_ptr<log::Partition>> deleted;  // of topics no longer in the image
  std::vector<std::function<void()>> orphaned;  // waiters on opens of deleted topics: nothing left to wait for
  // `done` runs when every open this call waits for has ended; one extra count for this call's
  // own setup, so it cannot run before every open is counted.
  auto pending = std::make_shared<std::atomic<size_t>>(1);
  auto shared_done = std::make_shared<std::function<void()>>(std::move(done));
  auto arrive = [pending, shared_done] {
    if (pending->fetch_sub(1) == 1 && *shared_done) (*shared_done)();
  };
  auto image = controller_.image();
  {
    std::lock_guard sync_lock(sync_mu_);
    std::lock_guard lock(mu_);
    if (!stopped_) {
      for (auto it = topics_.begin(); it != topics_.end();) {
        if (image->topic(it->first) == nullptr) {
          for (auto& slot : it->second.partitions) {
            if (slot.partition) deleted.push_back(slot.partition);
            for (auto& w : slot.open_waiters) orphaned.push_back(std::move(w));
          }
          it = topics_.erase(it);
        } else {
          ++it;
        }
      }
      for (const auto& [name, topic] : image->topics) {
        if (hidden_topic(name)) continue;  // its stream belongs to the group coordinator
        TopicState& state = topics_[topic.id];
        state.name = topic.name;
        if (state.partitions.size() < topic.partitions.size()) state.partitions.resize(topic.partitions.size());
        for (const auto& p : topic.partitions) {
          PartitionSlot& slot = state.partitions[p.index];
          if (p.leader != options_.node_id) {
            if (slot.partition) to_close.push_back(slot.partition);
            slot.partition.reset();
            continue;
          }
          if (slot.partition) slot.partition->set_config(partition_config(*image, topic));
          if (slot.opening) {  // another sync (the timer's) is opening it: done waits for that open too
            if (*shared_done) {
              pending->fetch_add(1);
              slot.open_waiters.push_back(arrive);
            }
            continue;
          }
          if (slot.partition) continue;
          slot.opening = true;
          to_open.push_back({topic, p});
        }
      }
      pending->fetch_add(to_open.size());
    }
  }
  for (auto& p : to_close) p->close(nullptr);
  // A deleted topic's partitions: their checkpoints go too (best effort; a broker that was down
  // when the topic was deleted leaves them behind).
  for (auto& p : deleted) {
    p->close([checkpoints = streams_.checkpoints(), stream = p->stream_id(), name = p->name()](int16_t) {
      checkpoints->remove_all(stream, [name](Status st) {
        if (!st.ok()) floe::log::warn("broker", "deleting the checkpoints of " + name + ": " + st.error().message);
      });
    });
  }
  for (auto& w : orphaned) w();
  for (auto& o : to_open) open_partition(o.topic, o.partition, arrive);
  arrive();  // this call's own count
}

void Broker::open_partition(const metadata::TopicImage& topic, const metadata::PartitionImage& p,
                            std::function<void()> done) {
  Uuid topic_id = topic.id;
  int32_t index = p.index;
  std::string name = topic.name;
  log::PartitionConfig config = partition_config(*controller_.image(), topic);
  // Ends this open (loaded, failed or deferred): the slot may be opened again, and the syncs that
  // waited for it carry on.
  auto clear_opening = [this, topic_id, index] {
    std::vector<std::function<void()>> waiters;
    {
      std::lock_guard lock(mu_);
      auto it = topics_.find(topic_id);
      if (it != topics_.end() && index < static_cast<int32_t>(it->second.partitions.size())) {
        it->second.partitions[index].opening = false;
        waiters.swap(it->second.partitions[index].open_waiters);
      }
    }
    for (auto& w : waiters) w();
  };
  // A partition moved here while its previous owner is alive (a reassignment): that owner uploads
  // its tail and closes the stream; opening before would fence its last writes. Wait for the
  // close (the next sync retries); a fenced or unregistered owner is not waited for.
  StreamId stream_id = p.stream_id;
  controller_.describe_stream(stream_id, [this, stream_id, name, index, config, done, clear_opening, topic_id](
                                             Result<stream::StreamInfo> info) {
    if (info.ok() && info->open && info->owner != options_.node_id) {
      auto image = controller_.image();
      auto it = image->brokers.find(info->owner);
      if (it != image->brokers.end() && !it->second.fenced) {
        floe::log::debug("broker", name + "-" + std::to_string(index) + ": waiting for broker " +
                                       std::to_string(info->owner.value()) + " to close it");
        clear_opening();
        done();
        return;
      }
    }
    open_stream_of(topic_id, index, name, stream_id, config, done, clear_opening);
  });
}

void Broker::open_stream_of(Uuid topic_id, int32_t index, std::string name, StreamId stream_id,
                            log::PartitionConfig config, std::function<void()> done,
                            std::function<void()> clear_opening) {
  streams_.open_stream(stream_id, [this, topic_id, index, name, config, done, clear_opening](
                                        Result<std::shared_ptr<stream::Stream>> r) {
    if (!r.ok()) {
      floe::log::warn("broker", "opening " + name + "-" + std::to_string(index) + " failed: " + r.error().message);
      clear_opening();
      done();
      return;
    }
    // The open ends when the partition is both loaded and in its slot, in either order: an empty
    // stream loads inside Partition::open, before the slot holds it.
    auto steps = std::make_shared<std::atomic<int>>(2);
    auto step_done = [steps, done, clear_opening] {
      if (steps->fetch_sub(1) != 1) return;
      clear_opening();
      done();
    };
    auto partition = log::Partition::open(name, index, *r, config, options_.now_ms,
                                          [name, index, step_done](Status s) {
                                            if (!s.ok()) {
                                              floe::log::warn("broker", "loading " + name + "-" + std::to_string(index) +
                                                                            " failed: " + s.error().message);
                                            }
                                            step_done();
                                          },
                                          streams_.checkpoints());
    bool keep = false;
    {
      std::lock_guard lock(mu_);
      auto it = topics_.find(topic_id);
      if (it != topics_.end() && index < static_cast<int32_t>(it->second.partitions.size()) && !stopped_) {
        it->second.partitions[index].partition = partition;
        keep = true;
      }
    }
    if (!keep) partition->close(nullptr);  // deleted (or stopping) while opening
    step_done();
  });
}

}  // namespace floe::broker
