// Group APIs: FindCoordinator, and the classic consumer group protocol, served by the group
// coordinator (group/).
#include "broker/broker.h"
#include "broker/call.h"
#include "protocol/messages.h"

namespace floe::broker {

void Broker::handle_find_coordinator(std::shared_ptr<Call> call) {
  auto req = decode_request<protocol::FindCoordinatorRequest>(*call);
  if (!req) return;
  protocol::FindCoordinatorResponse resp;
  // key_type 0: a consumer group; 1: a transactional id (transactions are not supported yet).
  auto answer = [&](int8_t key_type, int32_t& node_id, std::string& host, int32_t& port, int16_t& error_code,
                    std::optional<std::string>& error_message) {
    if (key_type != 0) {
      node_id = -1;
      host = "";
      port = -1;
      error_code = kerr::kCoordinatorNotAvailable;
      error_message = "floe has no transaction coordinator yet";
      return;
    }
    Endpoint e = coordinator_endpoint();
    node_id = e.node_id;
    host = e.host;
    port = e.port;
    error_code = e.node_id < 0 ? kerr::kCoordinatorNotAvailable : kerr::kNone;
    error_message = e.node_id < 0 ? std::optional<std::string>("the group coordinator is moving") : std::nullopt;
  };
  if (call->version() >= 4) {
    for (const auto& key : req->coordinator_keys) {
      protocol::FindCoordinatorResponse::Coordinator c;
      c.key = key;
      answer(req->key_type, c.node_id, c.host, c.port, c.error_code, c.error_message);
      resp.coordinators.push_back(std::move(c));
    }
  } else {
    answer(req->key_type, resp.node_id, resp.host, resp.port, resp.error_code, resp.error_message);
  }
  call->reply(resp);
}

namespace {
// Kafka reports a member's host as "/ip".
std::string client_host(const std::string& peer) {
  auto colon = peer.rfind(':');
  return "/" + (colon == std::string::npos ? peer : peer.substr(0, colon));
}

// No coordinator here (null): the NOT_COORDINATOR answer, and the client finds the coordinator again.
template <typename Request, typename Response, typename Method>
void forward(GroupCoordinator* coordinator, const std::shared_ptr<Broker::Call>& call, Method method) {
  auto req = decode_request<Request>(*call);
  if (!req) return;
  if (coordinator == nullptr) {
    Response resp = not_coordinator_answer(*req, call->version());
    return call->reply(resp);
  }
  (coordinator->*method)(*req, call->version(), call->client_id, client_host(call->frame.peer),
                        [call](Response resp) { call->reply(resp); });
}
}  // namespace

void Broker::handle_group_api(std::shared_ptr<Call> call) {
  // Held for the call: a coordinator stopped meanwhile answers NOT_COORDINATOR itself.
  std::shared_ptr<GroupCoordinator> coordinator = this->coordinator();
  GroupCoordinator* c = coordinator.get();
  switch (call->api_key()) {
    case 8: return forward<protocol::OffsetCommitRequest, protocol::OffsetCommitResponse>(c, call, &GroupCoordinator::offset_commit);
    case 9: return forward<protocol::OffsetFetchRequest, protocol::OffsetFetchResponse>(c, call, &GroupCoordinator::offset_fetch);
    case 11: return forward<protocol::JoinGroupRequest, protocol::JoinGroupResponse>(c, call, &GroupCoordinator::join_group);
    case 12: return forward<protocol::HeartbeatRequest, protocol::HeartbeatResponse>(c, call, &GroupCoordinator::heartbeat);
    case 13: return forward<protocol::LeaveGroupRequest, protocol::LeaveGroupResponse>(c, call, &GroupCoordinator::leave_group);
    case 14: return forward<protocol::SyncGroupRequest, protocol::SyncGroupResponse>(c, call, &GroupCoordinator::sync_group);
    case 15: return forward<protocol::DescribeGroupsRequest, protocol::DescribeGroupsResponse>(c, call, &GroupCoordinator::describe_groups);
    case 16: return forward<protocol::ListGroupsRequest, protocol::ListGroupsResponse>(c, call, &GroupCoordinator::list_groups);
    case 42: return forward<protocol::DeleteGroupsRequest, protocol::DeleteGroupsResponse>(c, call, &GroupCoordinator::delete_groups);
    case 47: return forward<protocol::OffsetDeleteRequest, protocol::OffsetDeleteResponse>(c, call, &GroupCoordinator::offset_delete);
    default:
      ++closed_bad_requests_;
      return call->close();
  }
}

}  // namespace floe::broker
