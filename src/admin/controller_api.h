// ControllerApi: the Kafka and floe requests a controller (`floe serve` with
// process.roles=controller) answers on its CONTROLLER listener besides the Raft APIs, which the
// TcpRaftTransport handles itself (raft/transport_tcp.h hands everything else to this fallback):
//   DescribeQuorum (55)        the quorum as this node sees it: leader, epoch, high watermark, and
//                              per voter its log end offset and last fetch / caught-up times
//                              (known on the leader; -1 elsewhere), and (v2) every voter's endpoint.
//   Metadata (3, v0-12)        the topics and unfenced brokers of this node's COMMITTED image,
//                              controller_id = the known leader.
//   ListPartitionReassignments (46) the partition moves in progress in the committed state
//                              (metadata/reassignment.h).
//   Writes, served by the Controller of the quorum LEADER (a follower, or a node whose controller
//   is not attached yet, answers NOT_CONTROLLER; the client asks the leader and retries there):
//     CreateTopics (19), DeleteTopics (20), AlterConfigs (33), CreatePartitions (37),
//     IncrementalAlterConfigs (44), AlterPartitionReassignments (45), BrokerRegistration (62),
//     BrokerHeartbeat (63), AllocateProducerIds (67) as Kafka defines them; and floe's stream and
//     object RPCs (1100-1107, src/protocol/schemas/Floe*Request.json): create/open/close/trim
//     stream, prepare objects, commit stream-set object, commit stream object, erase objects.
//   A successful write reports the metadata offset it is applied at (metadata/controller_rpc.h):
//   a broker replaying the log waits for it before it reads (read-your-writes).
// ApiVersions is the transport's, with the feature levels of api_versions_features() (v3+).
// Any other API (or version) closes the connection. Bodies that do not decode close it too.
// The controller is attached after Controller::open returns (the listener must already run so the
// quorum can elect); until then DescribeQuorum reports leader -1 and writes get NOT_CONTROLLER.
// Thread safety: handle() may run on any thread; attach/detach from any thread.
#pragma once

#include <memory>
#include <mutex>
#include <span>

#include "metadata/controller.h"
#include "net/server.h"
#include "raft/wire.h"

namespace floe::broker {
struct KafkaCall;
}

namespace floe::admin {

class ControllerApi {
 public:
  struct Served {
    int16_t key;
    int16_t min_version;
    int16_t max_version;
  };
  // Every API handle() serves (besides the transport's own Raft APIs and ApiVersions).
  static std::span<const Served> served_apis();

  // voters: the quorum's CONTROLLER endpoints, reported as DescribeQuorum v2 `nodes` (so a client
  // that asked a follower can ask the leader).
  ControllerApi(raft::NodeId self_id, std::vector<raft::VoterAddress> voters, std::string listener_name)
      : self_id_(self_id), voters_(std::move(voters)), listener_name_(std::move(listener_name)) {}
  void attach(std::shared_ptr<metadata::Controller> controller);
  void detach();
  void handle(net::RequestFrame request, net::Responder responder);
  // ApiVersions v3+'s feature levels (the transport answers ApiVersions): floe's supported ranges,
  // and the attached controller's finalized levels at its committed image's offset (none before
  // attach), as a broker reports them (broker/handlers_meta.cc).
  raft::ApiVersionsFeatures api_versions_features() const;

 private:
  using CallPtr = std::shared_ptr<broker::KafkaCall>;
  using ControllerPtr = std::shared_ptr<metadata::Controller>;
  std::shared_ptr<metadata::Controller> controller() const;
  void describe_quorum(const CallPtr& call, const ControllerPtr& c);
  void metadata(const CallPtr& call, const ControllerPtr& c);
  void kafka_write(const CallPtr& call, const ControllerPtr& c);
  void floe_rpc(const CallPtr& call, const ControllerPtr& c);

  raft::NodeId self_id_;
  std::vector<raft::VoterAddress> voters_;
  std::string listener_name_;
  mutable std::mutex mu_;
  std::shared_ptr<metadata::Controller> controller_;
};

}  // namespace floe::admin
