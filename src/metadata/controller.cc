#include "metadata/controller.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <limits>
#include <set>

#include "common/log.h"
#include "metadata/placement.h"
#include "metadata/snapshot.h"
#include "raft/node.h"

namespace floe::metadata {

namespace ke = kafka_errors;
using stream::Done;
using stream::ObjectKind;
using stream::ObjectMeta;
using stream::ObjectState;
using stream::StreamInfo;
using stream::StreamRange;

namespace {
constexpr size_t kMaxEntryBytes = (1 << 20) - 64;  // below FileLog's max_entry_bytes

int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Adds the committed objects holding a range of `stream` that ends after `from` and starts below
// `below` (the index's ranges of that stream, found in O(log n + k): no scan of every object).
void add_objects_of(const MetadataState& state, StreamId stream, Offset from, Offset below, std::set<ObjectId>& out) {
  for (const auto& slice : state.object_index.list(stream, from, below, UINT32_MAX)) out.insert(slice.object_id);
}

Error not_controller() { return Error(Errc::internal, "not the controller"); }

Error fenced(StreamId id, StreamEpoch got, StreamEpoch have) {
  return Error(Errc::fenced, "stream " + id.to_string() + ": epoch " + got.to_string() + " is stale (current " +
                                 have.to_string() + ")");
}

// Kafka's Topic.validate: 1..249 chars of [a-zA-Z0-9._-], not "." or "..".
std::optional<std::string> invalid_topic_name(const std::string& name) {
  if (name.empty()) return "topic name is empty";
  if (name == "." || name == "..") return "topic name cannot be '.' or '..'";
  if (name.size() > 249) return "topic name is longer than 249 characters";
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-';
    if (!ok) return "topic name '" + name + "' contains a character other than ASCII alphanumerics, '.', '_' and '-'";
  }
  return std::nullopt;
}

// '.' and '_' collide in metric names, so Kafka refuses topics that differ only by them.
std::string collision_key(std::string name) {
  std::replace(name.begin(), name.end(), '.', '_');
  return name;
}

TopicResult topic_error(std::string name, int16_t code, std::string message) {
  TopicResult r;
  r.name = std::move(name);
  r.error_code = code;
  r.error_message = std::move(message);
  return r;
}
}  // namespace

void Controller::Batch::emit(MetadataRecord record) {
  auto status = state.apply(record);
  FLOE_ASSERT_MSG(status.ok(), "controller produced a record its own state rejects");
  records.push_back(std::move(record));
}

Controller::Controller(ControllerOptions options) : options_(std::move(options)) {
  if (!options_.now_ms) options_.now_ms = system_now_ms;
  if (!options_.session_clock_ms) options_.session_clock_ms = steady_now_ms;
  rng_.seed(options_.random_seed != 0 ? options_.random_seed : std::random_device{}());
  image_.store(std::make_shared<const MetadataImage>());
}

Controller::~Controller() { close(); }

Result<std::unique_ptr<Controller>> Controller::open(ControllerOptions options) {
  std::unique_ptr<Controller> controller(new Controller(std::move(options)));
  FLOE_TRY(controller->start());
  if (controller->options_.session_check_interval_ms > 0) {
    Controller* c = controller.get();
    c->session_thread_ = std::thread([c] { c->session_loop(); });
  }
  return controller;
}

Status Controller::start() {
  raft::RaftNodeOptions node_options;
  node_options.log_dir = options_.log_dir;
  node_options.transport = options_.transport;
  node_options.snapshot_retention.max_age_ms = options_.snapshot_retention_ms;
  node_options.snapshot_retention.max_bytes = options_.snapshot_retention_bytes;
  node_options.config.node_id = options_.node_id.value();
  for (const auto& voter : options_.voters) node_options.config.voters.push_back(voter.id);
  if (node_options.config.voters.empty()) node_options.config.voters.push_back(options_.node_id.value());
  // An observer (a broker replaying the log: its id is not a voter) is never alone.
  bool alone = node_options.config.voters.size() == 1 && node_options.config.voters[0] == options_.node_id.value();
  // A single voter has nobody to wait for: elect at once instead of after a randomized timeout.
  if (alone) node_options.config.election_timeout_ms = 5;

  std::error_code ec;
  std::filesystem::create_directories(options_.log_dir, ec);
  // Earlier versions kept a stand-alone snapshot beside a log they never truncated: the log alone
  // rebuilds everything it held.
  if (std::filesystem::remove(options_.log_dir + "/" + kLegacySnapshotFile, ec)) {
    log::info("metadata", "removed the obsolete metadata.snapshot; replaying the whole log");
  }
  // Raft snapshots (at open, and when this follower installs the leader's): replace the state.
  // Decoded as it is read: the payload is never held whole beside the state.
  auto on_snapshot = [this](raft::SnapshotId id, raft::SnapshotPayloadReader& payload) {
    return install_snapshot(id, decode_snapshot([&](char* out, size_t max) { return payload.read(out, max); }, id.end_offset));
  };

  auto node = raft::RaftNode::open(
      std::move(node_options), [this](raft::Offset offset, const std::string& data) { on_committed(offset, data); },
      on_snapshot);
  if (!node.ok()) return node.take_error();
  raft::RaftNode* raft_node = node.value().get();
  node_ = std::move(node.value());
  raft_node->start();  // only now: its callbacks (maybe_snapshot, ...) use node_
  auto ready = raft_node->wait_for(
      [alone, self = options_.node_id.value()](const raft::NodeStatus& s) {
        bool led = alone ? (s.role == raft::Role::leader && s.leader_id == self) : s.leader_id != raft::kNoNode;
        return led && s.high_watermark > s.epoch_start_offset && s.applied_end == s.high_watermark;
      },
      options_.open_timeout_ms);
  if (!ready.ok()) return ready.take_error();
  {
    std::lock_guard lock(mu_);
    FLOE_TRY(fatal_);
  }
  if ((image()->cluster_id.empty() || !initial_feature_records(*image()).empty()) && alone) {
    auto r = stream::meta_wait<Done>([&](auto cb) {
      write<Done>(
          [this](Batch& batch) -> Result<Done> {
            emit_bootstrap(batch);
            return Done{};
          },
          cb);
    });
    if (!r.ok()) return r.take_error();
  }
  return ok_status();
}

Status Controller::install_snapshot(raft::SnapshotId id, Result<MetadataState> state) {
  std::lock_guard lock(mu_);
  if (!state.ok()) {
    fatal_ = Error(state.error().code, "metadata snapshot at offset " + std::to_string(id.end_offset) + ": " +
                                           state.error().message);
    log::error("metadata", fatal_.error().message);
    return fatal_;
  }
  committed_ = std::move(*state);
  image_.store(std::make_shared<const MetadataImage>(committed_.image));
  entries_since_snapshot_ = 0;
  return ok_status();
}

Result<std::unique_ptr<Controller>> Controller::open_on(ControllerOptions options, const LogFactory& make_log) {
  std::unique_ptr<Controller> controller(new Controller(std::move(options)));
  Controller* c = controller.get();
  auto log = make_log([c](raft::Offset offset, const std::string& data) { c->on_committed(offset, data); },
                      [c](raft::SnapshotId id, const std::string& payload) { return c->install_snapshot(id, decode_snapshot(payload, id.end_offset)); });
  if (!log.ok()) return log.take_error();
  c->node_ = std::move(log.value());
  {
    std::lock_guard lock(c->mu_);
    FLOE_TRY(c->fatal_);
  }
  return controller;
}

void Controller::close() {
  closed_ = true;
  {
    std::lock_guard lock(session_mu_);
    session_stop_ = true;
  }
  session_cv_.notify_all();
  if (session_thread_.joinable() && session_thread_.get_id() != std::this_thread::get_id()) session_thread_.join();
  if (node_) node_->close();
}

void Controller::session_loop() {
  std::unique_lock lock(session_mu_);
  while (!session_stop_) {
    session_cv_.wait_for(lock, std::chrono::milliseconds(options_.session_check_interval_ms));
    if (session_stop_) break;
    lock.unlock();
    check_broker_sessions([](Result<std::vector<NodeId>>) {});
    lock.lock();
  }
}

std::shared_ptr<const MetadataImage> Controller::image() const { return image_.load(); }  // never waits for mu_

void Controller::while_locked_for_test(const std::function<void()>& fn) const {
  std::lock_guard lock(mu_);
  fn();
}

StreamTable Controller::streams() const {
  std::lock_guard lock(mu_);
  return committed_.streams;
}

MetadataState Controller::committed_state() const {
  std::lock_guard lock(mu_);
  return committed_;
}

std::optional<ObjectMeta> Controller::object(ObjectId id) const {
  std::lock_guard lock(mu_);
  auto it = committed_.streams.objects.find(id);
  if (it == committed_.streams.objects.end()) return std::nullopt;
  return it->second;
}

// --- node thread: committed entries ---

void Controller::on_committed(raft::Offset offset, const std::string& data) {
  std::unique_lock lock(mu_);
  if (!fatal_.ok()) return;
  auto records = decode_batch(data);
  Status status = records.ok() ? committed_.apply_all(*records) : Status(records.take_error());
  if (!status.ok()) {
    // Replicas would diverge from here: stop the state machine, loudly.
    fatal_ = Error(status.error().code, "metadata entry at offset " + std::to_string(offset) + ": " +
                                            status.error().message);
    log::error("metadata", fatal_.error().message);
    return;
  }
  committed_.image.offset = offset;
  image_.store(std::make_shared<const MetadataImage>(committed_.image));
  lock.unlock();
  maybe_snapshot(offset);
}

void Controller::maybe_snapshot(raft::Offset offset) {
  if (++entries_since_snapshot_ < options_.snapshot_interval_entries) return;
  entries_since_snapshot_ = 0;
  std::string payload;
  {
    std::lock_guard lock(mu_);
    payload = encode_snapshot(committed_);
  }
  node_->snapshot_here(offset + 1, std::move(payload));  // the node stores it, then drops the log below
}

// --- node thread: writes ---

bool Controller::ensure_working() {
  if (closed_) return false;
  {
    std::lock_guard lock(mu_);
    if (!fatal_.ok()) return false;
  }
  if (node_->role_here() != raft::Role::leader) {
    working_.reset();
    return false;
  }
  if (working_ && working_epoch_ == node_->epoch_here()) return true;
  // Rebuild from the committed state only when it holds everything in the log (our own
  // LeaderChange included, nothing of ours in flight).
  if (node_->applied_end_here() != node_->log_end_here()) return false;
  std::lock_guard lock(mu_);
  working_ = committed_;
  working_epoch_ = node_->epoch_here();
  return true;
}

void Controller::propose(std::vector<MetadataRecord> records, std::function<void(Status)> done) {
  std::string data = encode_batch(records);
  if (data.size() > kMaxEntryBytes) {
    working_.reset();  // the records are in the working state but will never be in the log
    done(Error(Errc::too_large, "metadata entry of " + std::to_string(data.size()) + " bytes"));
    return;
  }
  // An error delivered inline means the entry was never appended: the working state holds
  // records the log never will, so it is dropped (rebuilt from the committed state later).
  auto appending = std::make_shared<bool>(true);
  auto in_flight = std::make_shared<InFlight>();
  last_proposal_ = in_flight;
  node_->propose_here(std::move(data), [this, done = std::move(done), appending, in_flight](Result<raft::Offset> r) {
    if (*appending && !r.ok()) working_.reset();
    Status status = r.ok() ? ok_status() : Status(r.error());
    done(status);
    in_flight->resolved = true;
    in_flight->status = status;
    auto waiters = std::move(in_flight->waiters);
    for (auto& waiter : waiters) waiter(status);
  });
  *appending = false;
}

void Controller::after_in_flight(std::function<void(Status)> then) {
  if (!last_proposal_ || last_proposal_->resolved) {
    then(ok_status());
    return;
  }
  last_proposal_->waiters.push_back(std::move(then));
}

template <typename T>
void Controller::write(std::function<Result<T>(Batch&)> plan, Callback<T> done) {
  node_->post([this, plan = std::move(plan), done = std::move(done)]() mutable {
    if (!ensure_working()) {
      done(not_controller());
      return;
    }
    Batch batch{*working_, {}};
    auto result = plan(batch);
    if (batch.records.empty()) {
      // Nothing to write, but the answer was read from the working state: it may rest on this
      // leader's proposals still in flight (a retried registration or commit, a heartbeat of a
      // broker being unfenced). Success only once they committed (Kafka does the same).
      if (!result.ok()) {
        done(std::move(result));
        return;
      }
      after_in_flight([done = std::move(done), result = std::move(result)](Status s) mutable {
        if (s.ok()) done(std::move(result));
        else done(s.take_error());
      });
      return;
    }
    if (!result.ok()) {
      // Only housekeeping (expiry) was emitted before the plan failed: commit it anyway.
      propose(std::move(batch.records), [](Status) {});
      done(std::move(result));
      return;
    }
    propose(std::move(batch.records), [done = std::move(done), result = std::move(result)](Status s) mutable {
      if (s.ok()) done(std::move(result));
      else done(s.take_error());
    });
  });
}

Uuid Controller::random_uuid() {
  for (;;) {
    Uuid id;
    uint64_t a = rng_(), b = rng_();
    for (int i = 0; i < 8; ++i) {
      id.bytes[static_cast<size_t>(i)] = static_cast<uint8_t>(a >> (8 * i));
      id.bytes[static_cast<size_t>(8 + i)] = static_cast<uint8_t>(b >> (8 * i));
    }
    // Kafka never hands out the zero id, the metadata topic's id (1) or one printing with '-'.
    bool reserved = id.is_zero() || (std::all_of(id.bytes.begin(), id.bytes.end() - 1, [](uint8_t x) { return x == 0; }) &&
                                     id.bytes[15] == 1);
    if (!reserved && id.to_base64url()[0] != '-') return id;
  }
}

std::optional<std::string> Controller::placement_impossible(const MetadataImage& image) const {
  // No broker at all (a bare controller quorum): partitions wait leaderless for the first one.
  if (image.brokers.empty() || !LeaderLoad(image).empty()) return std::nullopt;
  return "Unable to replicate the partition 1 time(s): the target replication factor of 1 cannot be reached "
         "because none of the " + std::to_string(image.brokers.size()) + " registered broker(s) is unfenced";
}

void Controller::repair_leaders(Batch& batch) {
  for (auto& r : metadata::repair_leaders(batch.state)) batch.emit(std::move(r));
}

void Controller::add_partitions(Batch& batch, const TopicImage& topic, int32_t total_count) {
  Uuid topic_id = topic.id;
  LeaderLoad load(batch.state.image);
  for (auto index = static_cast<int32_t>(topic.partitions.size()); index < total_count; ++index) {
    NodeId leader = load.pick().value_or(NodeId(kNoLeader));
    load.add(leader);
    StreamInfo stream;
    stream.id = StreamId(batch.state.streams.next_stream_id);
    stream.owner = leader;
    protocol::FloeIdCountersRecord counters = batch.state.counters_record();
    counters.next_stream_id += 1;
    batch.emit(counters);
    batch.emit(batch.state.stream_record(stream));
    batch.emit(protocol::FloePartitionRecord{topic_id, index, static_cast<int64_t>(stream.id.value()),
                                             leader.value(), 0, {}});
  }
}

TopicResult Controller::plan_create_topic(const TopicSpec& spec, bool validate_only, Batch& batch) {
  const auto& image = batch.state.image;
  if (auto why = invalid_topic_name(spec.name)) return topic_error(spec.name, ke::kInvalidTopicException, *why);
  if (image.topics.count(spec.name)) {
    return topic_error(spec.name, ke::kTopicAlreadyExists, "topic '" + spec.name + "' already exists");
  }
  for (const auto& [name, topic] : image.topics) {
    if (collision_key(name) == collision_key(spec.name)) {
      return topic_error(spec.name, ke::kInvalidTopicException, "topic '" + spec.name + "' collides with existing topic '" + name + "'");
    }
  }
  if (is_internal_topic_name(spec.name) && !spec.internal) {
    return topic_error(spec.name, ke::kInvalidRequest, "topic '" + spec.name + "' is reserved for internal use");
  }
  int32_t partitions = spec.num_partitions == -1 ? options_.default_num_partitions : spec.num_partitions;
  if (partitions <= 0) return topic_error(spec.name, ke::kInvalidPartitions, "number of partitions must be positive");
  if (partitions > kMaxPartitionsPerTopic) {
    return topic_error(spec.name, ke::kInvalidPartitions,
                       "number of partitions is above the limit of " + std::to_string(kMaxPartitionsPerTopic));
  }
  for (const auto& [key, value] : spec.configs) {
    auto status = validate_topic_config(key, value);
    if (!status.ok()) return topic_error(spec.name, ke::kInvalidConfig, status.error().message);
  }
  if (auto why = placement_impossible(image)) return topic_error(spec.name, ke::kInvalidReplicationFactor, *why);
  TopicResult result;
  result.name = spec.name;
  result.num_partitions = partitions;
  if (validate_only) return result;
  result.topic_id = random_uuid();
  batch.emit(protocol::TopicRecord{spec.name, result.topic_id, {}});
  for (const auto& [key, value] : spec.configs) {
    batch.emit(protocol::ConfigRecord{kTopicResourceType, spec.name, key, value, {}});
  }
  add_partitions(batch, *batch.state.image.topic(spec.name), partitions);
  return result;
}

void Controller::describe_quorum(std::function<void(raft::QuorumDescription)> done) {
  node_->post([this, done = std::move(done)] { done(node_->describe_quorum_here()); });
}

void Controller::create_topics(std::vector<TopicSpec> topics, bool validate_only,
                               Callback<std::vector<TopicResult>> done) {
  node_->post([this, topics = std::move(topics), validate_only, done = std::move(done)]() mutable {
    if (!ensure_working()) {
      std::vector<TopicResult> results;
      for (const auto& t : topics) results.push_back(topic_error(t.name, ke::kNotController, "not the controller"));
      done(std::move(results));
      return;
    }
    std::map<std::string, int> seen;
    for (const auto& t : topics) ++seen[t.name];
    auto results = std::make_shared<std::vector<TopicResult>>(topics.size());
    auto outstanding = std::make_shared<size_t>(1);
    auto finish = [results, outstanding, done]() mutable {
      if (--*outstanding == 0) done(std::move(*results));
    };
    for (size_t i = 0; i < topics.size(); ++i) {
      const auto& spec = topics[i];
      if (seen[spec.name] > 1) {
        (*results)[i] = topic_error(spec.name, ke::kInvalidRequest, "topic '" + spec.name + "' appears more than once");
        continue;
      }
      if (!working_) {  // an earlier proposal of this request could not be appended
        (*results)[i] = topic_error(spec.name, ke::kNotController, "not the controller");
        continue;
      }
      Batch batch{*working_, {}};
      (*results)[i] = plan_create_topic(spec, validate_only, batch);
      if (batch.records.empty()) continue;
      ++*outstanding;
      propose(std::move(batch.records), [results, i, finish](Status s) mutable {
        if (!s.ok()) {
          auto& r = (*results)[i];
          r = topic_error(r.name, ke::kNotController, s.error().message);
        }
        finish();
      });
    }
    finish();
  });
}

void Controller::delete_topics(std::vector<std::string> names, Callback<std::vector<TopicResult>> done) {
  write<std::vector<TopicResult>>(
      [this, names = std::move(names)](Batch& batch) -> Result<std::vector<TopicResult>> {
        std::map<std::string, int> seen;
        for (const auto& n : names) ++seen[n];
        std::vector<TopicResult> results;
        std::set<ObjectId> orphans;  // objects holding ranges of the removed streams
        for (const auto& name : names) {
          const TopicImage* topic = batch.state.image.topic(name);
          if (seen[name] > 1) {
            results.push_back(topic_error(name, ke::kInvalidRequest, "topic '" + name + "' appears more than once"));
          } else if (!topic) {
            results.push_back(topic_error(name, ke::kUnknownTopicOrPartition, "unknown topic '" + name + "'"));
          } else {
            TopicResult r;
            r.name = name;
            r.topic_id = topic->id;
            r.num_partitions = static_cast<int32_t>(topic->partitions.size());
            std::vector<StreamId> streams;
            for (const auto& p : topic->partitions) streams.push_back(p.stream_id);
            batch.emit(protocol::RemoveTopicRecord{r.topic_id, {}});
            for (auto id : streams) {
              batch.emit(protocol::FloeRemoveStreamRecord{static_cast<int64_t>(id.value()), {}});
              add_objects_of(batch.state, id, Offset(std::numeric_limits<int64_t>::min()),
                             Offset(std::numeric_limits<int64_t>::max()), orphans);
            }
            results.push_back(std::move(r));
          }
        }
        destroy_unreferenced(batch, orphans);
        return results;
      },
      [done = std::move(done), names](Result<std::vector<TopicResult>> r) {
        if (r.ok()) {
          done(std::move(r));
          return;
        }
        std::vector<TopicResult> results;
        for (const auto& n : names) results.push_back(topic_error(n, ke::kNotController, r.error().message));
        done(std::move(results));
      });
}

void Controller::create_partitions(std::vector<PartitionsSpec> specs, bool validate_only,
                                   Callback<std::vector<TopicResult>> done) {
  write<std::vector<TopicResult>>(
      [this, specs = std::move(specs), validate_only](Batch& batch) -> Result<std::vector<TopicResult>> {
        std::map<std::string, int> seen;
        for (const auto& s : specs) ++seen[s.name];
        std::vector<TopicResult> results;
        for (const auto& spec : specs) {
          const TopicImage* topic = batch.state.image.topic(spec.name);
          if (seen[spec.name] > 1) {
            results.push_back(topic_error(spec.name, ke::kInvalidRequest, "topic '" + spec.name + "' appears more than once"));
            continue;
          }
          if (!topic) {
            results.push_back(topic_error(spec.name, ke::kUnknownTopicOrPartition, "unknown topic '" + spec.name + "'"));
            continue;
          }
          auto current = static_cast<int32_t>(topic->partitions.size());
          if (spec.total_count <= current) {
            results.push_back(topic_error(spec.name, ke::kInvalidPartitions,
                                          "topic has " + std::to_string(current) + " partitions; the new count must be larger"));
            continue;
          }
          if (spec.total_count > kMaxPartitionsPerTopic) {
            results.push_back(topic_error(spec.name, ke::kInvalidPartitions,
                                          "number of partitions is above the limit of " + std::to_string(kMaxPartitionsPerTopic)));
            continue;
          }
          if (auto why = placement_impossible(batch.state.image)) {
            results.push_back(topic_error(spec.name, ke::kInvalidReplicationFactor, *why));
            continue;
          }
          TopicResult r;
          r.name = spec.name;
          r.topic_id = topic->id;
          r.num_partitions = spec.total_count;
          if (!validate_only) add_partitions(batch, *topic, spec.total_count);
          results.push_back(std::move(r));
        }
        return results;
      },
      [done = std::move(done), specs](Result<std::vector<TopicResult>> r) {
        if (r.ok()) {
          done(std::move(r));
          return;
        }
        std::vector<TopicResult> results;
        for (const auto& s : specs) results.push_back(topic_error(s.name, ke::kNotController, r.error().message));
        done(std::move(results));
      });
}

TopicResult Controller::plan_alter_configs(const std::string& topic_name, const std::vector<ConfigChange>& changes,
                                           bool incremental, bool validate_only, Batch& batch) {
  const TopicImage* topic = batch.state.image.topic(topic_name);
  if (!topic) return topic_error(topic_name, ke::kUnknownTopicOrPartition, "unknown topic '" + topic_name + "'");
  std::set<std::string> keys;
  for (const auto& change : changes) {
    if (!keys.insert(change.key).second) {
      return topic_error(topic_name, ke::kInvalidRequest, "config " + change.key + " appears more than once");
    }
    if (change.op == ConfigOp::remove) {
      if (!find_topic_config(change.key)) return topic_error(topic_name, ke::kInvalidConfig, "unknown topic config " + change.key);
      continue;
    }
    if (!change.value) return topic_error(topic_name, ke::kInvalidConfig, "config " + change.key + " has no value");
    auto status = validate_topic_config(change.key, *change.value);
    if (!status.ok()) return topic_error(topic_name, ke::kInvalidConfig, status.error().message);
  }
  std::map<std::string, std::string> next = incremental ? topic->configs : std::map<std::string, std::string>{};
  for (const auto& change : changes) {
    if (change.op == ConfigOp::set) next[change.key] = *change.value;
    else next.erase(change.key);
  }
  TopicResult result;
  result.name = topic_name;
  result.topic_id = topic->id;
  result.num_partitions = static_cast<int32_t>(topic->partitions.size());
  std::vector<MetadataRecord> records;
  for (const auto& [key, value] : topic->configs) {
    if (!next.count(key)) records.push_back(protocol::ConfigRecord{kTopicResourceType, topic_name, key, std::nullopt, {}});
  }
  for (const auto& [key, value] : next) {
    auto it = topic->configs.find(key);
    if (it == topic->configs.end() || it->second != value) {
      records.push_back(protocol::ConfigRecord{kTopicResourceType, topic_name, key, value, {}});
    }
  }
  if (!validate_only) {
    for (auto& r : records) batch.emit(std::move(r));
  }
  return result;
}

void Controller::alter_topic_configs(std::string topic, std::vector<ConfigChange> changes, bool incremental,
                                     bool validate_only, Callback<TopicResult> done) {
  write<TopicResult>(
      [this, topic, changes = std::move(changes), incremental, validate_only](Batch& batch) -> Result<TopicResult> {
        return plan_alter_configs(topic, changes, incremental, validate_only, batch);
      },
      [done = std::move(done), topic](Result<TopicResult> r) {
        if (r.ok()) done(std::move(r));
        else done(topic_error(topic, ke::kNotController, r.error().message));
      });
}

void Controller::alter_broker_configs(std::string resource, std::vector<BrokerConfigChange> changes, bool incremental,
                                      bool validate_only, Callback<TopicResult> done) {
  write<TopicResult>(
      [resource, changes = std::move(changes), incremental, validate_only](Batch& batch) -> Result<TopicResult> {
        BrokerConfigPlan plan = plan_broker_configs(batch.state.image, resource, changes, incremental);
        if (!validate_only) {
          for (auto& r : plan.records) batch.emit(std::move(r));
        }
        return topic_error(resource, plan.error_code, plan.error_message);
      },
      [done = std::move(done), resource](Result<TopicResult> r) {
        if (r.ok()) done(std::move(r));
        else done(topic_error(resource, ke::kNotController, r.error().message));
      });
}

void Controller::update_features(std::vector<FeatureUpdate> updates, bool validate_only,
                                 Callback<std::vector<FeatureUpdateResult>> done) {
  write<std::vector<FeatureUpdateResult>>(
      [updates, validate_only](Batch& batch) -> Result<std::vector<FeatureUpdateResult>> {
        FeaturePlan plan = plan_feature_updates(batch.state.image, updates);
        if (!validate_only) {
          for (auto& r : plan.records) batch.emit(std::move(r));
        }
        return plan.results;
      },
      [done = std::move(done), updates](Result<std::vector<FeatureUpdateResult>> r) {
        if (r.ok()) return done(std::move(r));
        std::vector<FeatureUpdateResult> out;
        for (const auto& u : updates) out.push_back({u.feature, ke::kNotController, r.error().message});
        done(std::move(out));
      });
}

// --- broker lifecycle ---

void Controller::sync_sessions() {
  raft::Epoch epoch = node_->epoch_here();
  if (epoch == sessions_epoch_) return;
  // A new leadership: every broker's session starts now (nobody is fenced for the silence of
  // the failover), and the legacy exemptions of the previous leader are gone.
  sessions_epoch_ = epoch;
  sessions_start_ms_ = session_now();
  last_heartbeat_ms_.clear();
  lease_exempt_.clear();
}

Result<BrokerRegistrationReply> Controller::plan_register(const BrokerRegistration& registration, bool legacy,
                                                          Batch& batch) {
  for (const auto& l : registration.listeners) {
    if (l.port < 0 || l.port > 65535) return Error(Errc::invalid_value, "listener port " + std::to_string(l.port));
  }
  for (const auto& [name, range] : registration.features) {
    if (range.min_level > range.max_level) {
      return Error(Errc::invalid_value, "feature " + name + ": minimum level " + std::to_string(range.min_level) +
                                            " above maximum " + std::to_string(range.max_level));
    }
  }
  if (registration.features.size() > kMaxBrokerFeatures) {
    return Error(Errc::invalid_value, std::to_string(registration.features.size()) + " features (at most " +
                                          std::to_string(kMaxBrokerFeatures) + ")");
  }
  sync_sessions();
  const auto& brokers = batch.state.image.brokers;
  auto old = brokers.find(registration.id);
  bool in_process = legacy || registration.id == options_.node_id;
  if (old != brokers.end() && old->second.incarnation_id == registration.incarnation_id &&
      old->second.listeners == registration.listeners && old->second.rack == registration.rack &&
      old->second.features == registration.features && !old->second.in_controlled_shutdown && (!in_process || !old->second.fenced)) {
    // A retry of the registration that is in place: same epoch, nothing written.
    if (legacy) lease_exempt_.insert(registration.id);
    last_heartbeat_ms_[registration.id] = session_now();
    BrokerRegistrationReply reply;
    reply.broker_epoch = old->second.epoch;
    return reply;
  }
  protocol::RegisterBrokerRecord r;
  r.broker_id = registration.id.value();
  r.incarnation_id = registration.incarnation_id;
  // Kafka's broker epoch: the log offset of the registration (nothing else is appended between
  // this plan and its proposal on the node thread), so it grows with every registration.
  r.broker_epoch = std::max<int64_t>(node_->log_end_here(), old == brokers.end() ? 0 : old->second.epoch + 1);
  for (const auto& l : registration.listeners) {
    protocol::RegisterBrokerRecord::BrokerEndpoint e;
    e.name = l.name;
    e.host = l.host;
    e.port = static_cast<uint16_t>(l.port);
    r.end_points.push_back(e);
  }
  r.rack = registration.rack;
  r.features = feature_list<protocol::RegisterBrokerRecord::BrokerFeature>(registration.features);
  r.fenced = !in_process;  // a remote broker is fenced until a heartbeat says it caught up
  r.in_controlled_shutdown = false;
  BrokerRegistrationReply reply;
  reply.broker_epoch = r.broker_epoch;
  batch.emit(std::move(r));
  // The previous incarnation is gone: what it led is handled as for a fenced broker (or, for an
  // in-process broker registered unfenced, orphans find a leader).
  repair_leaders(batch);
  if (legacy) lease_exempt_.insert(registration.id);
  else lease_exempt_.erase(registration.id);
  last_heartbeat_ms_[registration.id] = session_now();
  return reply;
}

void Controller::register_broker(BrokerRegistration registration, Callback<BrokerRegistrationReply> done) {
  write<BrokerRegistrationReply>(
      [this, registration = std::move(registration)](Batch& batch) { return plan_register(registration, false, batch); },
      [done = std::move(done)](Result<BrokerRegistrationReply> r) {
        if (r.ok()) return done(std::move(r));
        BrokerRegistrationReply reply;
        reply.error_code = r.error().code == Errc::invalid_value ? ke::kInvalidRequest : ke::kNotController;
        reply.error_message = r.error().message;
        done(std::move(reply));
      });
}

void Controller::register_broker(BrokerRegistration registration, Callback<Done> done) {
  write<Done>(
      [this, registration = std::move(registration)](Batch& batch) -> Result<Done> {
        FLOE_TRY(plan_register(registration, true, batch));
        return Done{};
      },
      std::move(done));
}

Result<BrokerHeartbeatReply> Controller::plan_heartbeat(const BrokerHeartbeat& hb, Batch& batch) {
  sync_sessions();
  BrokerHeartbeatReply reply;
  reply.lease_ms = options_.broker_session_timeout_ms;
  const auto& brokers = batch.state.image.brokers;
  auto it = brokers.find(hb.id);
  if (it == brokers.end()) {
    reply.error_code = ke::kBrokerIdNotRegistered;
    reply.error_message = "broker " + hb.id.to_string() + " is not registered";
    return reply;
  }
  const BrokerImage& b = it->second;
  if (b.epoch != hb.broker_epoch) {
    reply.error_code = ke::kStaleBrokerEpoch;
    reply.error_message = "broker " + hb.id.to_string() + ": epoch " + std::to_string(hb.broker_epoch) +
                          " is not the registered " + std::to_string(b.epoch);
    return reply;
  }
  last_heartbeat_ms_[hb.id] = session_now();
  reply.is_caught_up = hb.current_metadata_offset >= b.epoch;
  if (hb.want_shutdown) {
    if (!b.fenced && !b.in_controlled_shutdown) {
      batch.emit(protocol::BrokerRegistrationChangeRecord{hb.id.value(), b.epoch, 0, 1, {}, {}});
      repair_leaders(batch);  // what it already closed moves now; the rest once closed
    }
    if (!b.fenced && open_partitions_led(batch.state, hb.id) == 0) {
      // Done: nothing of its data is only in its WAL, so it may stop. Fenced so that nothing is
      // placed on it; what it still leads (nobody else could take it) goes offline until a
      // broker unfences, and its closed streams then move there.
      batch.emit(protocol::FenceBrokerRecord{hb.id.value(), b.epoch, {}});
      repair_leaders(batch);
    }
    reply.should_shutdown = b.fenced;
  } else if (hb.want_fence) {
    if (!b.fenced) {
      batch.emit(protocol::FenceBrokerRecord{hb.id.value(), b.epoch, {}});
      repair_leaders(batch);
    }
  } else if (b.fenced && reply.is_caught_up && !b.in_controlled_shutdown) {
    batch.emit(protocol::UnfenceBrokerRecord{hb.id.value(), b.epoch, {}});
    repair_leaders(batch);  // orphans get a leader; its offline partitions come back to it
  }
  reply.is_fenced = b.fenced;  // `b` is the working state after this heartbeat's records
  return reply;
}

void Controller::broker_heartbeat(BrokerHeartbeat heartbeat, Callback<BrokerHeartbeatReply> done) {
  write<BrokerHeartbeatReply>(
      [this, heartbeat](Batch& batch) { return plan_heartbeat(heartbeat, batch); },
      [done = std::move(done)](Result<BrokerHeartbeatReply> r) {
        if (r.ok()) return done(std::move(r));
        BrokerHeartbeatReply reply;
        reply.error_code = ke::kNotController;
        reply.error_message = r.error().message;
        done(std::move(reply));
      });
}

// The records of a new cluster: its id and floe's feature levels (metadata.version). A single
// voter writes them at open(); a quorum's first leader with its first session check.
void Controller::emit_bootstrap(Batch& batch) {
  if (batch.state.image.cluster_id.empty()) {
    Uuid id = random_uuid();
    batch.emit(protocol::FloeClusterRecord{id.to_base64url(), {}});
  }
  for (auto& r : initial_feature_records(batch.state.image)) batch.emit(std::move(r));
}

void Controller::check_broker_sessions(Callback<std::vector<NodeId>> done) {
  write<std::vector<NodeId>>(
      [this](Batch& batch) -> Result<std::vector<NodeId>> {
        emit_bootstrap(batch);
        sync_sessions();
        int64_t now_ms = session_now();
        std::vector<NodeId> fenced_now;
        for (const auto& [id, b] : batch.state.image.brokers) {
          if (b.fenced || id == options_.node_id || lease_exempt_.count(id)) continue;
          auto last = last_heartbeat_ms_.find(id);
          int64_t last_ms = last == last_heartbeat_ms_.end() ? sessions_start_ms_ : last->second;
          if (now_ms - last_ms > options_.broker_session_timeout_ms) fenced_now.push_back(id);
        }
        for (NodeId id : fenced_now) {
          log::warn("metadata", "fencing broker " + id.to_string() + ": no heartbeat for " +
                                    std::to_string(options_.broker_session_timeout_ms) + " ms");
          batch.emit(protocol::FenceBrokerRecord{id.value(), batch.state.image.brokers.at(id).epoch, {}});
        }
        // Also finishes moves a capped entry left over (nothing to do: nothing emitted).
        repair_leaders(batch);
        return fenced_now;
      },
      [done = std::move(done)](Result<std::vector<NodeId>> r) {
        done(r.ok() ? std::move(r) : Result<std::vector<NodeId>>(std::vector<NodeId>{}));
      });
}

void Controller::reassign_partition(std::string topic, int32_t partition, NodeId target,
                                    Callback<ReassignResult> done) {
  write<ReassignResult>(
      [topic, partition, target](Batch& batch) -> Result<ReassignResult> {
        ReassignResult result;
        const TopicImage* t = batch.state.image.topic(topic);
        if (!t || partition < 0 || static_cast<size_t>(partition) >= t->partitions.size()) {
          result.error_code = ke::kUnknownTopicOrPartition;
          result.error_message = "unknown partition " + topic + "-" + std::to_string(partition);
          return result;
        }
        if (!broker_eligible(batch.state.image, target)) {
          result.error_code = ke::kInvalidReplicaAssignment;
          result.error_message = "broker " + target.to_string() + " is not registered, fenced or shutting down";
          return result;
        }
        const PartitionImage& p = t->partitions[static_cast<size_t>(partition)];
        if (p.leader != target) {
          protocol::PartitionChangeRecord r;
          r.topic_id = t->id;
          r.partition_id = partition;
          r.leader = target.value();
          batch.emit(std::move(r));
        }
        result.leader_epoch = batch.state.image.topic(topic)->partitions[static_cast<size_t>(partition)].leader_epoch;
        return result;
      },
      [done = std::move(done)](Result<ReassignResult> r) {
        if (r.ok()) return done(std::move(r));
        ReassignResult result;
        result.error_code = ke::kNotController;
        result.error_message = r.error().message;
        done(std::move(result));
      });
}

void Controller::alter_partition_reassignments(std::vector<PartitionReassignment> items,
                                               Callback<std::vector<ReassignResult>> done) {
  write<std::vector<ReassignResult>>(
      [items = std::move(items)](Batch& batch) -> Result<std::vector<ReassignResult>> {
        std::vector<ReassignResult> results;
        results.reserve(items.size());
        for (const auto& item : items) {
          if (items.size() > kMaxReassignmentsPerRequest) {
            ReassignResult r;
            r.error_code = ke::kInvalidRequest;
            r.error_message = "more than " + std::to_string(kMaxReassignmentsPerRequest) + " partitions in one request";
            results.push_back(std::move(r));
            continue;
          }
          std::optional<protocol::PartitionChangeRecord> change;
          ReassignResult r = plan_reassignment(batch.state, item, &change);
          if (change) {
            batch.emit(std::move(*change));
            r.leader_epoch = batch.state.image.topic(item.topic)->partitions[static_cast<size_t>(item.partition)].leader_epoch;
          }
          results.push_back(std::move(r));
        }
        return results;
      },
      std::move(done));
}

std::vector<OngoingReassignment> Controller::list_partition_reassignments(const ReassignmentFilter& filter) const {
  std::lock_guard lock(mu_);
  return ongoing_reassignments(committed_, filter);
}

void Controller::allocate_producer_ids(NodeId broker, Callback<ProducerIdBlock> done) {
  write<ProducerIdBlock>(
      [broker](Batch& batch) -> Result<ProducerIdBlock> {
        ProducerIdBlock block{batch.state.image.next_producer_id, kProducerIdBlockSize};
        protocol::ProducerIdsRecord r;
        r.broker_id = broker.value();
        r.next_producer_id = block.first_id + block.size;
        batch.emit(r);
        return block;
      },
      std::move(done));
}

// --- stream metadata: writes ---

void Controller::destroy_object(Batch& batch, ObjectId id) {
  auto it = batch.state.streams.objects.find(id);
  if (it == batch.state.streams.objects.end() || it->second.state == ObjectState::destroyed) return;
  ObjectMeta m = it->second;
  m.state = ObjectState::destroyed;
  m.destroyed_ms = now();
  batch.emit(MetadataState::object_record(m, 0));
}

void Controller::expire_prepared(Batch& batch) {
  int64_t t = now();
  std::vector<ObjectId> expired;
  for (const auto& [id, deadline] : batch.state.streams.prepared_deadline_ms) {
    if (deadline <= t) expired.push_back(id);
  }
  for (auto id : expired) destroy_object(batch, id);
}

void Controller::destroy_unreferenced(Batch& batch, const std::set<ObjectId>& candidates) {
  const auto& streams = batch.state.streams.streams;
  std::vector<ObjectId> dead;
  for (ObjectId id : candidates) {
    auto it = batch.state.streams.objects.find(id);
    if (it == batch.state.streams.objects.end() || it->second.state != ObjectState::committed) continue;
    const ObjectMeta& m = it->second;
    bool all_below = std::all_of(m.ranges.begin(), m.ranges.end(), [&](const StreamRange& r) {
      auto s = streams.find(r.stream_id);
      return s == streams.end() || r.end_offset <= s->second.start_offset;
    });
    if (all_below) dead.push_back(id);
  }
  for (auto id : dead) destroy_object(batch, id);
}

void Controller::create_stream(stream::MetaCallback<StreamInfo> done) {
  write<StreamInfo>(
      [](Batch& batch) -> Result<StreamInfo> {
        StreamInfo info;
        info.id = StreamId(batch.state.streams.next_stream_id);
        auto counters = batch.state.counters_record();
        counters.next_stream_id += 1;
        batch.emit(counters);
        batch.emit(batch.state.stream_record(info));
        return info;
      },
      std::move(done));
}

void Controller::open_stream(StreamId id, NodeId node, stream::MetaCallback<StreamInfo> done) {
  open_stream(id, node, 0, std::move(done));
}

void Controller::open_stream(StreamId id, NodeId node, int64_t request_id, stream::MetaCallback<StreamInfo> done) {
  write<StreamInfo>(
      [id, node, request_id](Batch& batch) -> Result<StreamInfo> {
        auto it = batch.state.streams.streams.find(id);
        if (it == batch.state.streams.streams.end()) return Error(Errc::not_found, "stream " + id.to_string());
        // Only a partition's leader may open its stream: a broker acting on an old image (it was
        // fenced, the partition moved) must not take the stream from the new leader.
        if (const PartitionImage* p = batch.state.partition_of(id); p && p->leader != node) {
          return Error(Errc::fenced, "stream " + id.to_string() + ": broker " + node.to_string() +
                                         " does not lead its partition (leader " + p->leader.to_string() + ")");
        }
        StreamInfo info = it->second;
        if (request_id != 0 && info.open && info.owner == node) {
          auto opened_by = batch.state.streams.open_request_ids.find(id);
          if (opened_by != batch.state.streams.open_request_ids.end() && opened_by->second == request_id) {
            return info;  // a retry of the open that set this epoch: nothing to write
          }
        }
        info.epoch = StreamEpoch(info.epoch.value() + 1);
        info.open = true;
        info.owner = node;
        protocol::FloeStreamRecord record = batch.state.stream_record(info);
        record.open_request_id = request_id;
        batch.emit(std::move(record));
        return info;
      },
      std::move(done));
}

void Controller::close_stream(StreamId id, StreamEpoch epoch, stream::MetaCallback<Done> done) {
  write<Done>(
      [this, id, epoch](Batch& batch) -> Result<Done> {
        auto it = batch.state.streams.streams.find(id);
        if (it == batch.state.streams.streams.end()) return Error(Errc::not_found, "stream " + id.to_string());
        if (it->second.epoch != epoch) return fenced(id, epoch, it->second.epoch);
        StreamInfo info = it->second;
        info.open = false;
        batch.emit(batch.state.stream_record(info));
        // The owner closed after uploading: a partition waiting for that (its owner is shutting
        // down or fenced) can move now.
        if (!broker_eligible(batch.state.image, info.owner)) repair_leaders(batch);
        return Done{};
      },
      std::move(done));
}

void Controller::trim_stream(StreamId id, StreamEpoch epoch, Offset new_start, stream::MetaCallback<Done> done) {
  write<Done>(
      [this, id, epoch, new_start](Batch& batch) -> Result<Done> {
        auto it = batch.state.streams.streams.find(id);
        if (it == batch.state.streams.streams.end()) return Error(Errc::not_found, "stream " + id.to_string());
        if (it->second.epoch != epoch) return fenced(id, epoch, it->second.epoch);
        const Offset old_start = it->second.start_offset;
        if (new_start <= old_start) return Done{};
        StreamInfo info = it->second;
        info.start_offset = new_start;  // may pass the committed end (data still in the owner's WAL)
        batch.emit(batch.state.stream_record(info));
        // The objects this trim may leave with nothing live: those with a range of this stream in
        // [old start, new start), in O(log n + k). A range ending at or below the old start was
        // dead already; its object, if still committed, holds a live range this trim leaves alone
        // (every committed object holds one: metadata/invariants.h).
        std::set<ObjectId> below;
        add_objects_of(batch.state, id, old_start, new_start, below);
        destroy_unreferenced(batch, below);
        return Done{};
      },
      std::move(done));
}

void Controller::prepare_objects(uint32_t count, int64_t ttl_ms, stream::MetaCallback<ObjectId> done) {
  if (count == 0 || count > kMaxPrepareObjects || ttl_ms < 0) {
    done(Error(Errc::invalid_value, "prepare_objects: count " + std::to_string(count) + ", ttl " +
                                        std::to_string(ttl_ms) + " ms"));
    return;
  }
  write<ObjectId>(
      [this, count, ttl_ms](Batch& batch) -> Result<ObjectId> {
        expire_prepared(batch);
        ObjectId first(batch.state.streams.next_object_id);
        auto counters = batch.state.counters_record();
        counters.next_object_id += count;
        batch.emit(counters);
        int64_t deadline = now() + ttl_ms;
        for (uint32_t i = 0; i < count; ++i) {
          ObjectMeta m;
          m.id = ObjectId(first.value() + i);
          m.state = ObjectState::prepared;
          batch.emit(MetadataState::object_record(m, deadline));
        }
        return first;
      },
      std::move(done));
}

Result<Done> Controller::plan_commit(Batch& batch, const stream::StreamSetObjectCommit& c) {
  const auto& objects = batch.state.streams.objects;
  std::vector<ObjectId> ids;
  if (c.object_id) ids.push_back(*c.object_id);
  for (const auto& so : c.stream_objects) ids.push_back(so.object_id);
  auto in_state = [&](ObjectId id, ObjectState state) {
    auto it = objects.find(id);
    return it != objects.end() && it->second.state == state;
  };
  if (!ids.empty() && std::all_of(ids.begin(), ids.end(), [&](ObjectId id) { return in_state(id, ObjectState::committed); })) {
    return Done{};  // a retry of a commit that succeeded
  }
  if (ids.empty()) return Error(Errc::invalid_value, "commit names no object");
  for (auto id : ids) {
    if (!in_state(id, ObjectState::prepared)) return Error(Errc::not_found, "object " + id.to_string() + " is not prepared (expired?)");
  }
  std::vector<StreamRange> all = c.ranges;
  for (const auto& so : c.stream_objects) all.push_back(so.range);
  std::stable_sort(all.begin(), all.end(), [](const StreamRange& a, const StreamRange& b) {
    return std::tie(a.stream_id, a.start_offset) < std::tie(b.stream_id, b.start_offset);
  });
  bool compaction = !c.compacted_object_ids.empty();
  const auto& streams = batch.state.streams.streams;
  if (compaction) {
    for (auto id : c.compacted_object_ids) {
      if (!in_state(id, ObjectState::committed)) return Error(Errc::not_found, "compacted object " + id.to_string() + " is not committed");
    }
  } else {
    std::map<StreamId, Offset> next;
    for (const auto& r : all) {
      auto s = streams.find(r.stream_id);
      // A stream deleted (its topic deleted) while its data waited for upload: the range is
      // committed as garbage (destroy_unreferenced below destroys an object left with nothing
      // live), so the uploader's other streams go on.
      if (s == streams.end()) continue;
      if (s->second.epoch != r.epoch) return fenced(r.stream_id, r.epoch, s->second.epoch);
      Offset expect = next.count(r.stream_id) ? next[r.stream_id] : s->second.end_offset;
      if (r.start_offset != expect || r.end_offset <= r.start_offset) {
        return Error(Errc::invalid_value, "stream " + r.stream_id.to_string() + ": commit of [" +
                                              std::to_string(r.start_offset.value()) + ", " +
                                              std::to_string(r.end_offset.value()) + ") does not start at its end " +
                                              std::to_string(expect.value()));
      }
      next[r.stream_id] = r.end_offset;
    }
  }
  int64_t t = now();
  auto put = [&](ObjectId id, ObjectKind kind, uint64_t size, std::vector<StreamRange> ranges) {
    ObjectMeta m;
    m.id = id;
    m.kind = kind;
    m.state = ObjectState::committed;
    m.node_id = c.node_id;
    m.size_bytes = size;
    m.ranges = std::move(ranges);
    m.committed_ms = t;
    batch.emit(MetadataState::object_record(m, 0));
  };
  if (c.object_id) put(*c.object_id, ObjectKind::stream_set, c.object_size_bytes, c.ranges);
  for (const auto& so : c.stream_objects) put(so.object_id, ObjectKind::stream, so.object_size_bytes, {so.range});
  if (compaction) {
    for (auto id : c.compacted_object_ids) destroy_object(batch, id);
  } else {
    std::map<StreamId, Offset> ends;
    for (const auto& r : all) {
      if (streams.count(r.stream_id)) ends[r.stream_id] = r.end_offset;
    }
    for (const auto& [id, end] : ends) {
      StreamInfo info = streams.at(id);
      info.end_offset = end;
      batch.emit(batch.state.stream_record(info));
    }
  }
  destroy_unreferenced(batch, std::set<ObjectId>(ids.begin(), ids.end()));  // only the new objects can be
  return Done{};
}

void Controller::commit_stream_set_object(stream::StreamSetObjectCommit commit, stream::MetaCallback<Done> done) {
  write<Done>(
      [this, commit = std::move(commit)](Batch& batch) -> Result<Done> {
        expire_prepared(batch);
        return plan_commit(batch, commit);
      },
      std::move(done));
}

void Controller::commit_stream_object(stream::StreamObjectCommit commit, stream::MetaCallback<Done> done) {
  stream::StreamSetObjectCommit set;
  set.compacted_object_ids = commit.compacted_object_ids;
  set.stream_objects.push_back(std::move(commit));
  commit_stream_set_object(std::move(set), std::move(done));
}

void Controller::erase_objects(std::vector<ObjectId> ids, stream::MetaCallback<Done> done) {
  write<Done>(
      [ids = std::move(ids)](Batch& batch) -> Result<Done> {
        for (auto id : ids) {
          auto it = batch.state.streams.objects.find(id);
          if (it != batch.state.streams.objects.end() && it->second.state == ObjectState::destroyed) {
            batch.emit(protocol::FloeRemoveObjectRecord{static_cast<int64_t>(id.value()), {}});
          }
        }
        return Done{};
      },
      std::move(done));
}

// --- stream metadata: reads (committed state) ---

void Controller::describe_stream(StreamId id, stream::MetaCallback<StreamInfo> done) {
  Result<StreamInfo> r = Error(Errc::not_found, "stream " + id.to_string());
  {
    std::lock_guard lock(mu_);
    if (auto it = committed_.streams.streams.find(id); it != committed_.streams.streams.end()) r = it->second;
  }
  done(std::move(r));
}

void Controller::list_objects(StreamId id, Offset start, Offset end, uint32_t limit,
                              stream::MetaCallback<std::vector<stream::ObjectSlice>> done) {
  std::vector<stream::ObjectSlice> out;
  {
    std::lock_guard lock(mu_);
    out = committed_.object_index.list(id, start, end, limit);  // O(log objects + answer)
  }
  done(std::move(out));
}

void Controller::list_stream_set_objects(NodeId node, uint32_t limit,
                                         stream::MetaCallback<std::vector<ObjectMeta>> done) {
  std::vector<ObjectMeta> out;
  {
    std::lock_guard lock(mu_);
    for (ObjectId id : committed_.object_index.stream_set_objects(node, limit)) {
      out.push_back(committed_.streams.objects.at(id));
    }
  }
  done(std::move(out));
}

std::vector<ObjectMeta> Controller::destroyed_before(int64_t before_ms, uint32_t limit) const {
  std::vector<ObjectMeta> out;
  std::lock_guard lock(mu_);
  // The destroyed objects only (GC erases them once deleted from the store: a short list).
  for (ObjectId id : committed_.object_index.destroyed()) {
    if (out.size() >= limit) break;
    const ObjectMeta& m = committed_.streams.objects.at(id);
    if (m.destroyed_ms <= before_ms) out.push_back(m);
  }
  return out;
}

void Controller::check_object_index() const {
  std::lock_guard lock(mu_);
  auto why = committed_.object_index.check(committed_.streams.objects);
  FLOE_ASSERT_MSG(!why, why->c_str());
}

void Controller::list_destroyed_objects(int64_t before_ms, uint32_t limit,
                                        stream::MetaCallback<std::vector<ObjectMeta>> done) {
  // Expired prepared objects become destroyed first (a committed write), as the contract says.
  write<Done>([this](Batch& batch) -> Result<Done> {
    expire_prepared(batch);
    return Done{};
  },
              [this, before_ms, limit, done = std::move(done)](Result<Done>) {
                // Not the controller: answer from the committed state all the same (a read).
                done(destroyed_before(before_ms, limit));
              });
}

}  // namespace floe::metadata
