// ControllerApi: the Kafka requests a controller-only node (`floe serve` with
// process.roles=controller) answers on its CONTROLLER listener besides the Raft APIs, which the
// TcpRaftTransport handles itself (raft/transport_tcp.h hands everything else to this fallback):
//   DescribeQuorum (55, v0-2)  the quorum as this node sees it: leader, epoch, high watermark, and
//                              per voter its log end offset and last fetch / caught-up times
//                              (known on the leader; -1 elsewhere), and (v2) every voter's endpoint.
//                              Observers: none tracked yet.
//   CreateTopics   (19, v0-7)  through Controller::create_topics; a follower or a node with no
//                              leader answers NOT_CONTROLLER per topic (the client asks
//                              DescribeQuorum who leads and retries there).
//   Metadata       (3, v0-12)  the topics of this node's COMMITTED image (what a test may rely on
//                              having survived), no brokers, controller_id = the known leader.
// Any other API (or version) closes the connection. Bodies that do not decode close it too.
// The controller is attached after Controller::open returns (the listener must already run so the
// quorum can elect); until then DescribeQuorum reports leader -1 and writes get NOT_CONTROLLER.
// Thread safety: handle() may run on any thread; attach/detach from any thread.
#pragma once

#include <memory>
#include <mutex>

#include "metadata/controller.h"
#include "net/server.h"

namespace floe::admin {

class ControllerApi {
 public:
  // voters: the quorum's CONTROLLER endpoints, reported as DescribeQuorum v2 `nodes` (so a client
  // that asked a follower can ask the leader).
  ControllerApi(raft::NodeId self_id, std::vector<raft::VoterAddress> voters, std::string listener_name)
      : self_id_(self_id), voters_(std::move(voters)), listener_name_(std::move(listener_name)) {}
  void attach(std::shared_ptr<metadata::Controller> controller);
  void detach();
  void handle(net::RequestFrame request, net::Responder responder);

 private:
  std::shared_ptr<metadata::Controller> controller() const;

  raft::NodeId self_id_;
  std::vector<raft::VoterAddress> voters_;
  std::string listener_name_;
  mutable std::mutex mu_;
  std::shared_ptr<metadata::Controller> controller_;
};

}  // namespace floe::admin
