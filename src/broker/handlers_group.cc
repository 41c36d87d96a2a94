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
    node_id = static_cast<int32_t>(options_.node_id.value());
    host = options_.advertised_host;
    port = options_.advertised_port;
    error_code = kerr::kNone;
    error_message = std::nullopt;
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

void Broker::handle_group_api(std::shared_ptr<Call> call) {
  // The group coordinator is wired in once group/ lands.
  ++closed_bad_requests_;
  call->close();
}

}  // namespace floe::broker
