// RemoteController (metadata/remote_controller.h) against a real one-voter quorum in this process:
// the voter's CONTROLLER listener (TcpRaftTransport) answers floe's CreateStream through a fallback
// that can refuse (NOT_CONTROLLER) or stay silent, so the client's retry, deadline and
// read-your-writes promises are checked without other processes. AlterPartitionReassignments is
// answered as the controller listener does (metadata/reassignment.h wire forms).
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <future>

#include "broker/call.h"
#include "metadata/controller.h"
#include "metadata/controller_rpc.h"
#include "metadata/reassignment.h"
#include "metadata/remote_controller.h"
#include "protocol/generated/floe_create_stream_request.h"
#include "protocol/generated/floe_create_stream_response.h"
#include "protocol/generated/request_header.h"
#include "raft/transport_tcp.h"

using namespace floe;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/floe-remote-controller-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// One voter (node 1) plus a fallback for CreateStream: the first `refusals` calls answer
// NOT_CONTROLLER; with `silent`, none is answered at all.
struct Quorum {
  TempDir dir;
  std::unique_ptr<raft::TcpRaftTransport> transport;
  std::shared_ptr<metadata::Controller> controller;
  std::atomic<int> refusals{0};
  std::atomic<bool> silent{false};
  std::atomic<int> calls{0};
  std::vector<raft::VoterAddress> voters;

  Quorum() {
    raft::TcpTransportConfig tc;
    tc.self_id = 1;
    tc.listen_host = "127.0.0.1";
    tc.listen_port = 0;
    tc.wire.listener_name = "CONTROLLER";
    transport = std::make_unique<raft::TcpRaftTransport>(tc);
    transport->set_fallback([this](net::RequestFrame frame, net::Responder responder) {
      handle(std::move(frame), std::move(responder));
    });
    REQUIRE(transport->listen().ok());
    voters = {raft::VoterAddress{1, "127.0.0.1", transport->port()}};
    metadata::ControllerOptions co;
    co.node_id = NodeId(1);
    co.log_dir = dir.path + "/voter";
    co.voters = voters;
    co.transport = transport.get();
    auto opened = metadata::Controller::open(co);
    REQUIRE(opened.ok());
    controller = std::move(*opened);
  }
  ~Quorum() {
    controller->close();
    transport->stop();
  }

  void reassign(const std::shared_ptr<broker::KafkaCall>& call);
  void handle(net::RequestFrame frame, net::Responder responder) {
    auto call = std::make_shared<broker::KafkaCall>(std::move(frame), std::move(responder));
    ByteReader r(call->frame.frame);
    protocol::RequestHeader header;
    // (No Catch assertions here: this runs on the transport's thread.)
    if (!header.decode(r, protocol::request_header_version(call->api_key(), call->version())).ok()) {
      return call->close();
    }
    call->body_offset = r.pos();
    if (call->api_key() == protocol::AlterPartitionReassignmentsRequest::kApiKey) return reassign(call);
    if (call->api_key() != protocol::FloeCreateStreamRequest::kApiKey) return call->close();
    ++calls;
    if (silent) return call->no_response();
    if (refusals.fetch_sub(1) > 0) {
      protocol::FloeCreateStreamResponse response;
      response.error_code = 41;
      return call->reply(response);
    }
    auto c = controller;
    c->create_stream([call, c](Result<stream::StreamInfo> info) {
      protocol::FloeCreateStreamResponse response;
      if (!info.ok()) {
        response.error_code = -1;
        response.status_code = static_cast<int16_t>(info.error().code);
        return call->reply(response);
      }
      response.stream_id = static_cast<int64_t>(info->id.value());
      response.epoch = static_cast<int64_t>(info->epoch.value());
      response.owner = info->owner.value();
      response.metadata_offset = c->image()->offset;
      call->reply(response);
    });
  }
};

// The controller listener's AlterPartitionReassignments (admin/controller_api.cc does the same).
void Quorum::reassign(const std::shared_ptr<broker::KafkaCall>& call) {
  auto req = broker::decode_request<protocol::AlterPartitionReassignmentsRequest>(*call);
  if (!req) return;
  auto items = metadata::reassignments_from_wire(*req);
  auto c = controller;
  c->alter_partition_reassignments(items, [call, items, c](Result<std::vector<metadata::ReassignResult>> results) {
    auto response = metadata::reassign_response(items, results);
    if (results.ok()) metadata::rpc::set_metadata_offset(response.unknown_tagged_fields, c->image()->offset);
    call->reply(response);
  });
}

std::unique_ptr<metadata::RemoteController> open_remote(Quorum& q, int64_t request_timeout_ms) {
  metadata::RemoteControllerOptions ro;
  ro.node_id = NodeId(7);
  ro.log_dir = q.dir.path + "/broker";
  ro.voters = q.voters;
  ro.request_timeout_ms = request_timeout_ms;
  ro.retry_backoff_ms = 10;
  ro.retry_backoff_max_ms = 40;
  ro.open_timeout_ms = 15000;
  auto remote = metadata::RemoteController::open(ro);
  REQUIRE(remote.ok());
  return std::move(*remote);
}

}  // namespace

TEST_CASE("a_write_refused_as_not_controller_is_resent_and_its_result_is_readable_locally", "[remote_controller]") {
  Quorum q;
  auto remote = open_remote(q, 10000);
  q.refusals = 3;
  auto created = stream::meta_wait<stream::StreamInfo>([&](auto cb) { remote->create_stream(cb); });
  REQUIRE(created.ok());
  CHECK(q.calls == 4);  // three refusals, then the answer
  // Read-your-writes: the observer's own replica already has the new stream.
  auto described = stream::meta_wait<stream::StreamInfo>([&](auto cb) { remote->describe_stream(created->id, cb); });
  REQUIRE(described.ok());
  CHECK(described->id == created->id);
  remote->close();
}

TEST_CASE("a_write_nobody_answers_fails_with_timeout_within_its_deadline", "[remote_controller]") {
  Quorum q;
  auto remote = open_remote(q, 300);
  q.silent = true;
  auto t0 = std::chrono::steady_clock::now();
  auto created = stream::meta_wait<stream::StreamInfo>([&](auto cb) { remote->create_stream(cb); });
  auto took_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  REQUIRE_FALSE(created.ok());
  CHECK(created.error().code == Errc::timeout);
  CHECK(took_ms < 20000);  // failed by its 300 ms deadline rather than hanging (loose: a loaded machine is slow)
  remote->close();
}

TEST_CASE("remote_calls_after_close_fail_instead_of_hanging", "[remote_controller]") {
  Quorum q;
  auto remote = open_remote(q, 10000);
  remote->close();
  auto created = stream::meta_wait<stream::StreamInfo>([&](auto cb) { remote->create_stream(cb); });
  REQUIRE_FALSE(created.ok());
}

TEST_CASE("a_reassignment_sent_through_the_remote_controller_is_applied_and_listed_by_its_replica",
          "[remote_controller]") {
  Quorum q;
  for (int32_t id : {1, 2}) {
    metadata::BrokerRegistration reg{NodeId(id), Uuid{}, {{"PLAINTEXT", "127.0.0.1", 9000 + id}}, std::nullopt, {}};
    reg.incarnation_id.bytes[0] = static_cast<uint8_t>(id);
    REQUIRE(stream::meta_wait<stream::Done>([&](auto cb) { q.controller->register_broker(reg, cb); }).ok());
  }
  auto created = stream::meta_wait<std::vector<metadata::TopicResult>>(
      [&](auto cb) { q.controller->create_topics({metadata::TopicSpec{"t", 1, {}, false}}, false, cb); });
  REQUIRE(created.ok());
  REQUIRE((*created)[0].error_code == 0);
  const auto& p0 = q.controller->image()->topic("t")->partitions[0];
  REQUIRE(p0.leader == NodeId(1));
  REQUIRE(stream::meta_wait<stream::StreamInfo>([&](auto cb) { q.controller->open_stream(p0.stream_id, NodeId(1), cb); }).ok());

  auto remote = open_remote(q, 10000);
  std::vector<metadata::PartitionReassignment> items = {{"t", 0, std::vector<int32_t>{1, 2}},
                                                        {"t", 0, std::vector<int32_t>{2}}};
  auto results = stream::meta_wait<std::vector<metadata::ReassignResult>>(
      [&](auto cb) { remote->alter_partition_reassignments(items, cb); });
  REQUIRE(results.ok());
  REQUIRE(results->size() == 2);
  CHECK((*results)[0].error_code == protocol::kerr::kInvalidReplicaAssignment);
  CHECK((*results)[0].error_message.find("one copy") != std::string::npos);
  CHECK((*results)[1].error_code == protocol::kerr::kNone);
  // Read-your-writes: the broker's replica shows the new leader and the move in progress.
  CHECK(remote->image()->topic("t")->partitions[0].leader == NodeId(2));
  auto ongoing = remote->list_partition_reassignments(std::nullopt);
  REQUIRE(ongoing.size() == 1);
  CHECK(ongoing[0].target == NodeId(2));
  CHECK(ongoing[0].source == NodeId(1));
  remote->close();
}
