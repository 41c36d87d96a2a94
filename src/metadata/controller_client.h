// ControllerClient: what a broker (and, through stream::StreamMetadata, its stream layer) needs
// from the metadata controller. Two implementations:
//  - LocalControllerClient (below): the in-process Controller of a combined broker,controller
//    node (a single-voter quorum). Every call goes straight to the Controller.
//  - RemoteController (metadata/remote_controller.h): a broker of a cluster whose quorum runs on
//    other nodes. It replays the metadata log as a Raft observer (reads: image(), describe_stream,
//    list_*) and forwards writes to the quorum leader over the controller listener.
//
// Promises (both implementations):
//  (1) callbacks run exactly once, never on the caller's stack with a lock the caller holds, and
//      must not block;
//  (2) read-your-writes: once a write's callback reports success, image() and the stream reads
//      reflect that write;
//  (3) writes_allowed() is the broker's lease: false once this broker could not reach the quorum
//      for its session timeout (the controller may fence it and move its partitions at any
//      moment), so the broker refuses produce requests instead of accepting writes that another
//      broker may also accept.
// Thread safety: every method may be called from any thread.
#pragma once

#include <memory>

#include "metadata/controller.h"

namespace floe::metadata {

class ControllerClient : public stream::StreamMetadata {
 public:
  ~ControllerClient() override = default;

  virtual std::shared_ptr<const MetadataImage> image() const = 0;
  virtual void create_topics(std::vector<TopicSpec> topics, bool validate_only,
                             Callback<std::vector<TopicResult>> done) = 0;
  virtual void delete_topics(std::vector<std::string> names, Callback<std::vector<TopicResult>> done) = 0;
  virtual void create_partitions(std::vector<PartitionsSpec> specs, bool validate_only,
                                 Callback<std::vector<TopicResult>> done) = 0;
  virtual void alter_topic_configs(std::string topic, std::vector<ConfigChange> changes, bool incremental,
                                   bool validate_only, Callback<TopicResult> done) = 0;
  // Dynamic broker configs (metadata/broker_config.h): resource "" or "<id>".
  virtual void alter_broker_configs(std::string resource, std::vector<BrokerConfigChange> changes, bool incremental,
                                    bool validate_only, Callback<TopicResult> done) = 0;
  // UpdateFeatures (metadata/features.h).
  virtual void update_features(std::vector<FeatureUpdate> updates, bool validate_only,
                               Callback<std::vector<FeatureUpdateResult>> done) = 0;
  virtual void register_broker(BrokerRegistration registration, Callback<stream::Done> done) = 0;
  virtual void allocate_producer_ids(NodeId broker, Callback<ProducerIdBlock> done) = 0;
  // Partition reassignment (metadata/reassignment.h): a controller write; the list is a read of
  // the committed state (the local replica for RemoteController).
  virtual void alter_partition_reassignments(std::vector<PartitionReassignment> items,
                                             Callback<std::vector<ReassignResult>> done) = 0;
  virtual std::vector<OngoingReassignment> list_partition_reassignments(const ReassignmentFilter& filter) const = 0;

  // The quorum leader as this node knows it (-1 unknown): Metadata's controller_id.
  virtual int32_t controller_id() const = 0;
  // The broker's lease (promise 3).
  virtual bool writes_allowed() const { return true; }
};

// The in-process controller (single node): a thin forwarder.
class LocalControllerClient final : public ControllerClient {
 public:
  explicit LocalControllerClient(std::shared_ptr<Controller> controller) : c_(std::move(controller)) {}

  std::shared_ptr<const MetadataImage> image() const override { return c_->image(); }
  void create_topics(std::vector<TopicSpec> topics, bool validate_only,
                     Callback<std::vector<TopicResult>> done) override {
    c_->create_topics(std::move(topics), validate_only, std::move(done));
  }
  void delete_topics(std::vector<std::string> names, Callback<std::vector<TopicResult>> done) override {
    c_->delete_topics(std::move(names), std::move(done));
  }
  void create_partitions(std::vector<PartitionsSpec> specs, bool validate_only,
                         Callback<std::vector<TopicResult>> done) override {
    c_->create_partitions(std::move(specs), validate_only, std::move(done));
  }
  void alter_topic_configs(std::string topic, std::vector<ConfigChange> changes, bool incremental,
                           bool validate_only, Callback<TopicResult> done) override {
    c_->alter_topic_configs(std::move(topic), std::move(changes), incremental, validate_only, std::move(done));
  }
  void alter_broker_configs(std::string resource, std::vector<BrokerConfigChange> changes, bool incremental,
                            bool validate_only, Callback<TopicResult> done) override {
    c_->alter_broker_configs(std::move(resource), std::move(changes), incremental, validate_only, std::move(done));
  }
  void update_features(std::vector<FeatureUpdate> updates, bool validate_only,
                       Callback<std::vector<FeatureUpdateResult>> done) override {
    c_->update_features(std::move(updates), validate_only, std::move(done));
  }
  void register_broker(BrokerRegistration registration, Callback<stream::Done> done) override {
    c_->register_broker(std::move(registration), std::move(done));
  }
  void allocate_producer_ids(NodeId broker, Callback<ProducerIdBlock> done) override {
    c_->allocate_producer_ids(broker, std::move(done));
  }
  void alter_partition_reassignments(std::vector<PartitionReassignment> items,
                                     Callback<std::vector<ReassignResult>> done) override {
    c_->alter_partition_reassignments(std::move(items), std::move(done));
  }
  std::vector<OngoingReassignment> list_partition_reassignments(const ReassignmentFilter& filter) const override {
    return c_->list_partition_reassignments(filter);
  }
  int32_t controller_id() const override { return c_->raft_status().leader_id; }

  void create_stream(stream::MetaCallback<stream::StreamInfo> done) override { c_->create_stream(std::move(done)); }
  void open_stream(StreamId id, NodeId node, stream::MetaCallback<stream::StreamInfo> done) override {
    c_->open_stream(id, node, std::move(done));
  }
  void close_stream(StreamId id, StreamEpoch epoch, stream::MetaCallback<stream::Done> done) override {
    c_->close_stream(id, epoch, std::move(done));
  }
  void describe_stream(StreamId id, stream::MetaCallback<stream::StreamInfo> done) override {
    c_->describe_stream(id, std::move(done));
  }
  void trim_stream(StreamId id, StreamEpoch epoch, Offset new_start, stream::MetaCallback<stream::Done> done) override {
    c_->trim_stream(id, epoch, new_start, std::move(done));
  }
  void prepare_objects(uint32_t count, int64_t ttl_ms, stream::MetaCallback<ObjectId> done) override {
    c_->prepare_objects(count, ttl_ms, std::move(done));
  }
  void commit_stream_set_object(stream::StreamSetObjectCommit commit, stream::MetaCallback<stream::Done> done) override {
    c_->commit_stream_set_object(std::move(commit), std::move(done));
  }
  void commit_stream_object(stream::StreamObjectCommit commit, stream::MetaCallback<stream::Done> done) override {
    c_->commit_stream_object(std::move(commit), std::move(done));
  }
  void list_objects(StreamId id, Offset start, Offset end, uint32_t limit,
                    stream::MetaCallback<std::vector<stream::ObjectSlice>> done) override {
    c_->list_objects(id, start, end, limit, std::move(done));
  }
  void list_stream_set_objects(NodeId node, uint32_t limit,
                               stream::MetaCallback<std::vector<stream::ObjectMeta>> done) override {
    c_->list_stream_set_objects(node, limit, std::move(done));
  }
  void list_destroyed_objects(int64_t before_ms, uint32_t limit,
                              stream::MetaCallback<std::vector<stream::ObjectMeta>> done) override {
    c_->list_destroyed_objects(before_ms, limit, std::move(done));
  }
  void erase_objects(std::vector<ObjectId> ids, stream::MetaCallback<stream::Done> done) override {
    c_->erase_objects(std::move(ids), std::move(done));
  }

 private:
  std::shared_ptr<Controller> c_;
};

}  // namespace floe::metadata
