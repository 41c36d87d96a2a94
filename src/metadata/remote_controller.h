// RemoteController: the ControllerClient (metadata/controller_client.h) of a broker whose metadata
// quorum runs on other nodes (process.roles=broker, controller.quorum.voters = the controllers).
//
// Reads: the broker replays the metadata log as a Raft OBSERVER (its node id is not a voter: it
// fetches from the leader but never votes) into its own Controller instance — the very replay code
// the controllers run, in metadata.log.dir with the same layout (log, quorum state, snapshot).
// image(), describe_stream and the list_* reads come from that local committed state.
// Writes (topics, configs, reassignments, producer ids, registration, heartbeats, stream and
// object RPCs) go to the quorum leader's CONTROLLER listener (admin/controller_api.h) over one
// pipelined connection
// owned by this object's own thread:
//  - the target is the leader the local replica knows (else the voters in turn); on a dropped
//    connection or a NOT_CONTROLLER answer every unanswered request is resent (same order) after
//    a backoff that doubles from retry_backoff_ms up to retry_backoff_max_ms;
//  - every request has a deadline (request_timeout_ms from its call): past it, its callback gets
//    Errc::timeout; at most max_queued_requests wait (beyond: Errc::too_large at once);
//  - read-your-writes: a successful write reports the metadata offset it is applied at; its
//    callback runs once the local image has applied that offset (bounded by
//    read_your_writes_timeout_ms; past it the callback runs anyway, logged).
//  A resent write may have been applied the first time: stream commits are idempotent by object
//  id; a repeated create/prepare only leaks an id (reclaimed by expiry), a repeated open bumps the
//  epoch once more, and a repeated CreateTopics answers TOPIC_ALREADY_EXISTS.
// Broker lifecycle: register_broker sends BrokerRegistration (with a fresh incarnation id per
// process) and then heartbeats every heartbeat_interval_ms; its callback runs once a heartbeat
// reports the broker unfenced. The LEASE (writes_allowed): true while the last successful
// heartbeat was SENT less than session_timeout_ms ago. controlled_shutdown() heartbeats with
// want_shut_down until the controller says should_shut_down (or the time runs out).
// Callbacks run on this object's thread (never under its lock) and must not block.
// Thread safety: every public method may be called from any thread; close() not from a callback.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "metadata/controller_client.h"

namespace floe::raft {
class TcpRaftTransport;
}

namespace floe::metadata {

struct RemoteControllerOptions {
  NodeId node_id;
  std::string log_dir;                      // metadata.log.dir (this broker's replica of the log)
  std::vector<raft::VoterAddress> voters;   // controller.quorum.voters (none of them is node_id)
  std::string controller_listener_name = "CONTROLLER";
  int64_t open_timeout_ms = 60000;          // until a leader is known and the log replayed
  int64_t request_timeout_ms = 30000;       // per request, retries included
  int64_t retry_backoff_ms = 50;
  int64_t retry_backoff_max_ms = 1000;
  int64_t connect_timeout_ms = 2000;
  int64_t read_your_writes_timeout_ms = 10000;
  size_t max_queued_requests = 10000;
  size_t max_response_bytes = 64u << 20;
  int64_t snapshot_interval_entries = 1000;  // metadata.log.max.snapshot.interval.entries (local replica)
  int64_t snapshot_retention_ms = 600000;       // metadata.max.retention.ms (local replica)
  int64_t snapshot_retention_bytes = 104857600; // metadata.max.retention.bytes (local replica)
  int64_t heartbeat_interval_ms = 2000;     // broker.heartbeat.interval.ms
  int64_t session_timeout_ms = 9000;        // broker.session.timeout.ms
};

class RemoteController final : public ControllerClient {
 public:
  // Blocks (startup only, bounded by open_timeout_ms): starts the observer and waits until it
  // knows a leader and has applied the committed log.
  static Result<std::unique_ptr<RemoteController>> open(RemoteControllerOptions options);
  ~RemoteController() override;
  RemoteController(const RemoteController&) = delete;
  RemoteController& operator=(const RemoteController&) = delete;

  // ControllerClient
  std::shared_ptr<const MetadataImage> image() const override;
  void create_topics(std::vector<TopicSpec> topics, bool validate_only,
                     Callback<std::vector<TopicResult>> done) override;
  void delete_topics(std::vector<std::string> names, Callback<std::vector<TopicResult>> done) override;
  void create_partitions(std::vector<PartitionsSpec> specs, bool validate_only,
                         Callback<std::vector<TopicResult>> done) override;
  void alter_topic_configs(std::string topic, std::vector<ConfigChange> changes, bool incremental,
                           bool validate_only, Callback<TopicResult> done) override;
  void alter_broker_configs(std::string resource, std::vector<BrokerConfigChange> changes, bool incremental,
                            bool validate_only, Callback<TopicResult> done) override;
  void update_features(std::vector<FeatureUpdate> updates, bool validate_only,
                       Callback<std::vector<FeatureUpdateResult>> done) override;
  void register_broker(BrokerRegistration registration, Callback<stream::Done> done) override;
  void allocate_producer_ids(NodeId broker, Callback<ProducerIdBlock> done) override;
  void alter_partition_reassignments(std::vector<PartitionReassignment> items,
                                     Callback<std::vector<ReassignResult>> done) override;
  std::vector<OngoingReassignment> list_partition_reassignments(const ReassignmentFilter& filter) const override;
  int32_t controller_id() const override;
  bool writes_allowed() const override;

  // stream::StreamMetadata
  void create_stream(stream::MetaCallback<stream::StreamInfo> done) override;
  void open_stream(StreamId id, NodeId node, stream::MetaCallback<stream::StreamInfo> done) override;
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

  // Controlled shutdown: from now on heartbeats carry want_shut_down (one is sent at once), so
  // the controller places nothing new here and moves each partition once its stream is closed.
  void begin_controlled_shutdown();
  // Blocks (shutdown only, bounded by timeout_ms) until the controller answers should_shut_down.
  // False on timeout.
  bool controlled_shutdown(int64_t timeout_ms);
  // Stops heartbeats, fails every unanswered request (Errc::internal "closed"), stops the
  // observer. Idempotent.
  void close();

  // The local observer (tests, DescribeQuorum-like tools).
  raft::NodeStatus raft_status() const;

  class Rpc;  // the connection to the leader (remote_controller.cc)

 private:
  explicit RemoteController(RemoteControllerOptions options);
  Status start();
  void heartbeat();  // Rpc thread
  void send_registration(BrokerRegistration registration);

  RemoteControllerOptions options_;
  std::unique_ptr<raft::TcpRaftTransport> transport_;
  std::unique_ptr<Controller> local_;
  std::shared_ptr<Rpc> rpc_;
  std::atomic<bool> closed_{false};

  // Broker lifecycle. broker_epoch_ and heartbeat_in_flight_: written on the Rpc thread.
  std::atomic<int64_t> broker_epoch_{-1};
  std::atomic<bool> heartbeats_started_{false};
  bool heartbeat_in_flight_ = false;
  std::atomic<bool> want_shutdown_{false};
  mutable std::mutex mu_;  // the fields below
  std::condition_variable shutdown_cv_;
  int64_t last_heartbeat_ok_sent_ms_ = -1;  // steady clock; -1: none yet
  bool fenced_ = false;
  bool should_shutdown_ = false;
  Callback<stream::Done> unfenced_waiter_;  // register_broker's callback, until unfenced
  std::optional<BrokerRegistration> registration_;  // resent when the controller forgot it
};

}  // namespace floe::metadata
