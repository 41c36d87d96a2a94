// Controller: floe's metadata controller — topics, brokers, producer ids, and the stream/object
// metadata of the stream layer (stream::StreamMetadata) — as a state machine over the Raft
// metadata log (raft/replicated_log.h: a raft/node.h RaftNode in production, a simulated replica
// in tests/metadata/controller_sim_test.cc) in metadata.log.dir.
//
// How a write works (all on the node thread, in order):
//  1. the call is posted to the node thread; there it is validated against the WORKING state
//     (committed state + this leader's proposals not yet committed), so back-to-back writes see
//     each other without waiting for commits;
//  2. the records it produces are applied to the working state and proposed as ONE Raft entry
//     (a batch applied atomically; one entry per topic for CreateTopics);
//  3. once the entry is committed (fsynced; on a quorum) the node's listener applies it to the
//     COMMITTED state, publishes a new MetadataImage, and only then the callback runs.
// So everything a callback reports as success is durable and visible in image() / the stream
// reads. A write that finds nothing to write (a retry, a heartbeat changing nothing) still read
// the working state: it reports success only once this leader's proposals in flight committed. On leadership loss (or a proposal that could not be appended) the working state is
// dropped and rebuilt from the committed state once nothing is in flight.
// Reads (image(), describe_stream, list_*) come from the committed state, on the caller's thread;
// the object lists read its object index (metadata/object_index.h), so a cold read's list_objects
// holds the lock for O(log objects + answer), never for a scan of every object.
// Snapshots: every snapshot_interval_entries applied entries the committed state becomes a Raft
// snapshot (metadata/snapshot.h, raft/node.h snapshot_here) and the log below it is dropped;
// open() loads the newest snapshot and replays only later entries; a follower behind the
// leader's log start installs the leader's snapshot (KIP-630) and its state is replaced.
//
// Error reporting: topic operations report Kafka error codes per topic (kafka_errors below);
// stream operations report Errc values as stream/metadata.h defines them; "not the controller"
// (not leader, closed) is Errc::internal for stream operations and NOT_CONTROLLER for topics.
// Callbacks run on the node thread (or inline for immediate errors) and must not block.
// Thread safety: every public method may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "metadata/broker_config.h"
#include "metadata/features.h"
#include "metadata/image.h"
#include "metadata/reassignment.h"
#include "protocol/errors.h"
#include "metadata/topic_config.h"
#include "raft/replicated_log.h"
#include "raft/transport.h"
#include "stream/metadata.h"

namespace floe::metadata {

namespace kafka_errors = ::floe::protocol::kerr;  // the Kafka error codes (protocol/errors.h)

struct TopicSpec {
  std::string name;
  int32_t num_partitions = -1;  // -1: default (ControllerOptions::default_num_partitions)
  std::map<std::string, std::string> configs;
  bool internal = false;  // required to create Kafka's internal topic names (__consumer_offsets...)
};
struct TopicResult {
  std::string name;
  Uuid topic_id;
  int32_t num_partitions = 0;
  int16_t error_code = 0;
  std::string error_message;
};
struct PartitionsSpec {
  std::string name;
  int32_t total_count = 0;
};
enum class ConfigOp : int8_t { set = 0, remove = 1 /* back to default */ };
struct ConfigChange {
  std::string key;
  ConfigOp op = ConfigOp::set;
  std::optional<std::string> value;
};
// --- Broker lifecycle (Kafka's KRaft BrokerRegistration / BrokerHeartbeat) ---
// register_broker: a broker process announces itself (one incarnation id per process start). It
// is (re)registered FENCED with a new broker epoch; the same incarnation id again is a retry (same
// epoch, nothing written); a new incarnation id replaces the old registration (the old process is
// gone: its partitions are handled as for a fenced broker, see "Placement" below).
// Exception, the in-process broker: a broker whose id is this controller's own node id runs in
// this process (combined broker,controller mode calling the Controller directly). It reads the
// committed image itself, so it is registered UNFENCED and this leader never fences it by session
// timeout (heartbeats are accepted but not needed).
// The broker's supported feature ranges are stored with its registration (RegisterBrokerRecord
// Features); UpdateFeatures refuses a level a registered broker's ranges exclude (fenced ones too). None listed (an
// older floe broker, the in-process one): floe's ranges. A range with min > max: INVALID_REQUEST.
struct BrokerRegistration {
  NodeId id;
  Uuid incarnation_id;
  std::vector<BrokerListener> listeners;
  std::optional<std::string> rack;
  std::map<std::string, FeatureRange> features;
};
struct BrokerRegistrationReply {
  int16_t error_code = 0;  // NONE, NOT_CONTROLLER, INVALID_REQUEST (bad listener)
  std::string error_message;
  int64_t broker_epoch = -1;  // to send in every heartbeat of this incarnation
};
// broker_heartbeat: every broker.heartbeat.interval.ms. Heartbeat times are soft state on the
// leader (not logged). State changes, each one Raft entry:
//  - fenced, !want_fence, !want_shutdown, current_metadata_offset >= broker_epoch (it replayed its
//    own registration: "caught up") -> UnfenceBrokerRecord; then orphaned partitions are placed;
//  - unfenced and want_fence -> FenceBrokerRecord (+ partition moves);
//  - want_shutdown (controlled shutdown) -> BrokerRegistrationChangeRecord(in controlled shutdown);
//    no new partitions go to it; each partition it leads moves away once its stream is CLOSED
//    (the broker uploads, then closes); should_shutdown once it holds none of them open (then it
//    is fenced; with no other eligible broker its closed partitions go offline until one unfences).
// A broker (other than the in-process one) whose last heartbeat is older than
// broker_session_timeout_ms is fenced by FenceBrokerRecord (leader timer, see
// check_broker_sessions). A new leader starts every broker's session afresh (no fencing right
// after a failover). LEASE: the broker may keep writing only until (the time it SENT its last
// successful heartbeat) + lease_ms; the controller fences no earlier than (the time it RECEIVED
// that heartbeat) + lease_ms, so a broker that obeys its lease has stopped before another broker
// can take its partitions (clocks' rates assumed close).
struct BrokerHeartbeat {
  NodeId id;
  int64_t broker_epoch = -1;
  int64_t current_metadata_offset = -1;  // the highest metadata log offset the broker applied
  bool want_fence = false;
  bool want_shutdown = false;
};
struct BrokerHeartbeatReply {
  int16_t error_code = 0;  // NONE, NOT_CONTROLLER, BROKER_ID_NOT_REGISTERED, STALE_BROKER_EPOCH
  std::string error_message;
  bool is_caught_up = false;
  bool is_fenced = true;
  bool should_shutdown = false;
  int64_t lease_ms = 0;  // = broker_session_timeout_ms (see LEASE above)
};
// --- Placement and moves ---
// A broker is ELIGIBLE when registered, unfenced and not in controlled shutdown. New partitions
// (create_topics, create_partitions) go to the eligible broker leading the fewest partitions (ties:
// lowest id). With brokers registered but none eligible, create_topics/create_partitions fail with
// INVALID_REPLICATION_FACTOR (Kafka's answer); with NO broker registered at all (a bare controller
// quorum) partitions are created leaderless (leader -1) and placed when the first broker unfences.
// Whenever a broker is fenced (or re-registers), each partition it leads:
//  - whose stream is CLOSED (clean: all its data is in the object store) moves to the least-loaded
//    eligible broker (PartitionChangeRecord: leader, leader epoch + 1);
//  - whose stream is still OPEN by it (crash: data may sit only in its WAL) goes OFFLINE (leader -1,
//    epoch + 1); the stream keeps its owner, so when that broker is back and unfenced the
//    partition returns to it. Unless the topic has unclean.leader.election.enable=true: then it
//    moves like a clean one (the un-uploaded tail may be lost).
// So in every image a partition's leader is -1 or a registered, unfenced broker.
// A new leader should open the stream (open_stream bumps the stream epoch, fencing the old owner's
// writes); it is the broker's job to wait for a CLOSED stream when the old owner is alive.
// open_stream of a partition's stream by a broker that is not its leader fails (Errc::fenced).
// ReassignResult, PartitionReassignment: metadata/reassignment.h.
struct ProducerIdBlock {
  int64_t first_id = 0;
  int32_t size = 0;
};
template <typename T>
using Callback = std::function<void(Result<T>)>;

struct ControllerOptions {
  NodeId node_id;
  std::string log_dir;  // metadata.log.dir
  std::vector<raft::VoterAddress> voters;  // controller.quorum.voters (empty: {node_id} alone)
  raft::RaftTransport* transport = nullptr;  // nullptr for a single voter
  int32_t default_num_partitions = 1;  // num.partitions
  std::function<int64_t()> now_ms;  // wall clock (object expiry/destroy times); default: system clock
  int64_t open_timeout_ms = 15000;
  int64_t snapshot_interval_entries = 1000;
  int64_t snapshot_retention_ms = 600000;           // metadata.max.retention.ms
  int64_t snapshot_retention_bytes = 104857600;     // metadata.max.retention.bytes
  int64_t broker_session_timeout_ms = 9000;  // broker.session.timeout.ms
  // How often the leader looks for expired broker sessions; <= 0: never (tests call
  // check_broker_sessions themselves).
  int64_t session_check_interval_ms = 250;
  std::function<int64_t()> session_clock_ms;  // heartbeat times; default: a monotonic clock
  uint64_t random_seed = 0;  // topic and cluster ids; 0: seeded from std::random_device
};

inline constexpr int32_t kMaxPartitionsPerTopic = 10000;  // one entry per topic: bounds its size
inline constexpr uint32_t kMaxPrepareObjects = 10000;
inline constexpr size_t kMaxBrokerFeatures = 1000;  // per registration (each one is in the image)
inline constexpr int32_t kProducerIdBlockSize = 1000;

class Controller final : public stream::StreamMetadata {
 public:
  // Blocks (startup only): loads the snapshot, opens the log, replays it, starts the node, waits
  // (bounded by open_timeout_ms) until this node leads (single voter) and everything in the log
  // is applied; a single voter's very first start also commits a generated cluster id and floe's
  // feature levels (a quorum's leader does so with its first check_broker_sessions).
  static Result<std::unique_ptr<Controller>> open(ControllerOptions options);
  // For the deterministic simulator (tests/metadata): the controller on a ReplicatedLog that
  // `make_log` builds around the controller's committed-entry and snapshot listeners (it may call
  // the snapshot listener before returning, as RaftNode::open does). Starts no thread and waits for
  // nothing: whoever drives the log drives the controller (with session_check_interval_ms <= 0 and
  // the clocks and random_seed of the options). log_dir, voters, transport, open_timeout_ms are
  // unused and no cluster id is written at open (check_broker_sessions writes it, as on a quorum).
  using LogFactory = std::function<Result<std::unique_ptr<raft::ReplicatedLog>>(
      raft::ReplicatedLog::Listener listener, raft::ReplicatedLog::SnapshotListener snapshot_listener)>;
  static Result<std::unique_ptr<Controller>> open_on(ControllerOptions options, const LogFactory& make_log);
  ~Controller() override;
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // The committed image; lock-free (never waits for the controller's lock, see image_), so any
  // thread may call it, including a transport thread that must not block.
  std::shared_ptr<const MetadataImage> image() const;

  void create_topics(std::vector<TopicSpec> topics, bool validate_only, Callback<std::vector<TopicResult>> done);
  void delete_topics(std::vector<std::string> names, Callback<std::vector<TopicResult>> done);
  void create_partitions(std::vector<PartitionsSpec> specs, bool validate_only,
                         Callback<std::vector<TopicResult>> done);
  void alter_topic_configs(std::string topic, std::vector<ConfigChange> changes, bool incremental,
                           bool validate_only, Callback<TopicResult> done);
  // Dynamic broker configs of resource "" (cluster default) or "<id>" (metadata/broker_config.h);
  // the result's name is the resource.
  void alter_broker_configs(std::string resource, std::vector<BrokerConfigChange> changes, bool incremental,
                            bool validate_only, Callback<TopicResult> done);
  // UpdateFeatures (metadata/features.h): all or nothing; one result per update, in order.
  void update_features(std::vector<FeatureUpdate> updates, bool validate_only,
                       Callback<std::vector<FeatureUpdateResult>> done);
  void register_broker(BrokerRegistration registration, Callback<BrokerRegistrationReply> done);
  // LEGACY form (callers written before heartbeats existed): registers the broker UNFENCED and
  // exempt from session expiry on this leader (soft state: a new leader gives it a normal session,
  // so it must heartbeat from then on). Remote brokers should use the reply form + broker_heartbeat.
  void register_broker(BrokerRegistration registration, Callback<stream::Done> done);
  void broker_heartbeat(BrokerHeartbeat heartbeat, Callback<BrokerHeartbeatReply> done);
  // Fences every broker whose session expired and finishes partition moves left for later (a
  // single entry moves at most kMaxLeaderChangesPerEntry partitions); the leader's timer calls
  // this every session_check_interval_ms. `done` gets the ids it fenced. Not the leader: empty.
  // A cluster without an id gets one here (with floe's feature levels): a quorum's bootstrap.
  void check_broker_sessions(Callback<std::vector<NodeId>> done);
  // Moves a partition to `target` (an eligible broker) now: leader = target, leader epoch + 1. The
  // old owner sees the change, uploads and closes; the new one opens (stream epoch + 1). For the
  // auto-balancer and tools. Target already the leader: nothing changes (success).
  void reassign_partition(std::string topic, int32_t partition, NodeId target, Callback<ReassignResult> done);
  // AlterPartitionReassignments (the rules: metadata/reassignment.h): every item planned in order
  // on the working state, all changes in one Raft entry; results aligned with `items`. Not the
  // leader: Errc::internal "not the controller".
  void alter_partition_reassignments(std::vector<PartitionReassignment> items,
                                     Callback<std::vector<ReassignResult>> done);
  // ListPartitionReassignments: the moves in progress in the committed state.
  std::vector<OngoingReassignment> list_partition_reassignments(const ReassignmentFilter& filter) const;
  void allocate_producer_ids(NodeId broker, Callback<ProducerIdBlock> done);

  // stream::StreamMetadata (same semantics as stream/in_memory_metadata.h).
  void create_stream(stream::MetaCallback<stream::StreamInfo> done) override;
  void open_stream(StreamId id, NodeId node, stream::MetaCallback<stream::StreamInfo> done) override;
  // open_stream with the opener's request id (FloeOpenStreamRequest.RequestId; 0: none, the same
  // as above): when the stream is open, owned by `node`, and its current epoch was set by an open
  // with this request id, this is a retry of that open (its answer was lost): the same epoch
  // back, nothing written. Any other open still bumps the epoch, and the leader check is first.
  void open_stream(StreamId id, NodeId node, int64_t request_id, stream::MetaCallback<stream::StreamInfo> done);
  void close_stream(StreamId id, StreamEpoch epoch, stream::MetaCallback<stream::Done> done) override;
  void describe_stream(StreamId id, stream::MetaCallback<stream::StreamInfo> done) override;
  void trim_stream(StreamId id, StreamEpoch epoch, Offset new_start, stream::MetaCallback<stream::Done> done) override;
  void prepare_objects(uint32_t count, int64_t ttl_ms, stream::MetaCallback<ObjectId> done) override;
  void commit_stream_set_object(stream::StreamSetObjectCommit commit, stream::MetaCallback<stream::Done> done) override;
  void commit_stream_object(stream::StreamObjectCommit commit, stream::MetaCallback<stream::Done> done) override;
  void list_objects(StreamId id, Offset start, Offset end, uint32_t limit,
                    stream::MetaCallback<std::vector<stream::ObjectSlice>> done) override;
  void list_stream_set_objects(NodeId node, uint32_t limit,
                               stream::MetaCallback<std::vector<stream::ObjectMeta>> done) override;
  void list_destroyed_objects(int64_t before_ms, uint32_t limit,
                              stream::MetaCallback<std::vector<stream::ObjectMeta>> done) override;
  void erase_objects(std::vector<ObjectId> ids, stream::MetaCallback<stream::Done> done) override;

  // The Raft quorum as this node sees it (DescribeQuorum); `done` runs on the node thread (or
  // inline after close) and must not block.
  void describe_quorum(std::function<void(raft::QuorumDescription)> done);
  // This node's view of the leader (kNoNode when unknown) and epoch; any thread.
  raft::NodeStatus raft_status() const { return node_->status(); }

  // Stops the node; idempotent; callbacks of unfinished proposals get an error.
  void close();

  // For tests and tools: a copy of the committed stream/object table.
  StreamTable streams() const;
  // For tests: a copy of the whole committed state (the controller simulation compares it).
  MetadataState committed_state() const;
  std::optional<stream::ObjectMeta> object(ObjectId id) const;
  // For tests (a debug check): FLOE_ASSERTs that the committed state's object index (what
  // list_objects, list_stream_set_objects and list_destroyed_objects read) equals one rebuilt by
  // scanning every object.
  void check_object_index() const;
  // For tests: runs fn while holding the lock that guards the committed state (as applying an
  // entry or encoding a snapshot does), to show which reads do not wait for it.
  void while_locked_for_test(const std::function<void()>& fn) const;

 private:
  // Records produced by one write, applied to the working state as they are emitted.
  struct Batch {
    MetadataState& state;
    std::vector<MetadataRecord> records;
    void emit(MetadataRecord record);
  };

  explicit Controller(ControllerOptions options);
  Status start();
  Status install_snapshot(raft::SnapshotId id, Result<MetadataState> state);  // decoded (or why not)
  int64_t now() const { return options_.now_ms(); }

  // Node thread.
  template <typename T>
  void write(std::function<Result<T>(Batch&)> plan, Callback<T> done);
  bool ensure_working();
  void propose(std::vector<MetadataRecord> records, std::function<void(Status)> done);
  // Runs `then` once every proposal made so far is resolved: ok when the latest committed (so all
  // before it did), its error otherwise; at once when nothing is in flight.
  void after_in_flight(std::function<void(Status)> then);
  void on_committed(raft::Offset offset, const std::string& data);
  void maybe_snapshot(raft::Offset offset);
  Uuid random_uuid();
  void emit_bootstrap(Batch& batch);
  void expire_prepared(Batch& batch);
  // Destroys the committed objects among `candidates` left with no live range (each range's stream
  // removed, or starting at or above the range's end). Every other committed object still holds
  // a live range (metadata/invariants.h), so a write passes only the objects it may have orphaned:
  // those with ranges of the streams it removed or trimmed, or the ones it committed.
  void destroy_unreferenced(Batch& batch, const std::set<ObjectId>& candidates);
  void destroy_object(Batch& batch, ObjectId id);
  Result<BrokerRegistrationReply> plan_register(const BrokerRegistration& registration, bool legacy, Batch& batch);
  Result<BrokerHeartbeatReply> plan_heartbeat(const BrokerHeartbeat& heartbeat, Batch& batch);
  void repair_leaders(Batch& batch);
  std::optional<std::string> placement_impossible(const MetadataImage& image) const;
  // Broker sessions (node thread; leader soft state).
  void sync_sessions();
  int64_t session_now() const { return options_.session_clock_ms(); }
  void session_loop();
  void add_partitions(Batch& batch, const TopicImage& topic, int32_t total_count);
  Result<stream::Done> plan_commit(Batch& batch, const stream::StreamSetObjectCommit& commit);
  TopicResult plan_create_topic(const TopicSpec& spec, bool validate_only, Batch& batch);
  TopicResult plan_alter_configs(const std::string& topic, const std::vector<ConfigChange>& changes,
                                 bool incremental, bool validate_only, Batch& batch);
  std::vector<stream::ObjectMeta> destroyed_before(int64_t before_ms, uint32_t limit) const;

  ControllerOptions options_;
  std::unique_ptr<raft::ReplicatedLog> node_;  // a raft::RaftNode, or a simulated replica
  std::atomic<bool> closed_{false};

  // Committed state: written on the node thread under mu_, read by any thread under mu_.
  mutable std::mutex mu_;
  MetadataState committed_;
  // The committed image, published (on the node thread, under mu_, with committed_) for readers
  // that never take mu_: image() does not wait while an entry applies or a snapshot is encoded,
  // so neither do the broker's reads nor the controller listener's ApiVersions answer (finalized
  // features, on the Raft transport's thread).
  std::atomic<std::shared_ptr<const MetadataImage>> image_;
  Status fatal_;  // a committed entry that did not apply: the state machine stops

  // Node-thread only.
  std::optional<MetadataState> working_;
  struct InFlight {
    bool resolved = false;
    Status status;
    std::vector<std::function<void(Status)>> waiters;
  };
  std::shared_ptr<InFlight> last_proposal_;  // the latest proposal (its waiters: after_in_flight)
  raft::Epoch working_epoch_ = 0;
  int64_t entries_since_snapshot_ = 0;
  std::mt19937_64 rng_;
  std::map<NodeId, int64_t> last_heartbeat_ms_;  // session clock; absent: sessions_start_ms_
  std::set<NodeId> lease_exempt_;  // registered through the legacy form on this leader
  raft::Epoch sessions_epoch_ = 0;  // the epoch the sessions belong to (a new epoch starts afresh)
  int64_t sessions_start_ms_ = 0;

  // The session timer: posts check_broker_sessions every session_check_interval_ms.
  std::thread session_thread_;
  std::mutex session_mu_;
  std::condition_variable session_cv_;
  bool session_stop_ = false;
};

}  // namespace floe::metadata
