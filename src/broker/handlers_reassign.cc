// Partition reassignment: AlterPartitionReassignments (45) forwarded to the controller, and
// ListPartitionReassignments (46) from the committed metadata this broker replays. The rules are
// metadata/reassignment.h's; the hidden group-state topic is neither moved nor listed here
// (UNKNOWN_TOPIC_OR_PARTITION, as every API answers for it).
#include "broker/broker.h"
#include "broker/call.h"
#include "metadata/reassignment.h"
#include "protocol/messages.h"

namespace floe::broker {

void Broker::handle_alter_partition_reassignments(std::shared_ptr<Call> call) {
  auto req = decode_request<protocol::AlterPartitionReassignmentsRequest>(*call);
  if (!req) return;
  std::vector<metadata::PartitionReassignment> all = metadata::reassignments_from_wire(*req);
  std::vector<metadata::PartitionReassignment> forwarded;
  for (const auto& item : all) {
    if (!hidden_topic(item.topic)) forwarded.push_back(item);
  }
  // Results for `all`: hidden items answered here, the others from the controller, in order.
  auto finish = [this, call, all](Result<std::vector<metadata::ReassignResult>> r) {
    if (!r.ok()) return call->reply(metadata::reassign_response(all, r));
    std::vector<metadata::ReassignResult> results;
    size_t next = 0;
    for (const auto& item : all) {
      if (hidden_topic(item.topic) || next >= r->size()) {
        metadata::ReassignResult hidden;
        hidden.error_code = kerr::kUnknownTopicOrPartition;
        hidden.error_message = "unknown partition " + item.topic + "-" + std::to_string(item.partition);
        results.push_back(std::move(hidden));
      } else {
        results.push_back((*r)[next++]);
      }
    }
    call->reply(metadata::reassign_response(all, std::move(results)));
  };
  if (forwarded.empty()) return finish(std::vector<metadata::ReassignResult>{});
  controller_.alter_partition_reassignments(std::move(forwarded), [this, finish](Result<std::vector<metadata::ReassignResult>> r) {
    // The moves show in this broker's image now: start following them at once (the old owner
    // closes, the new one opens) instead of at the next sync tick.
    sync_partitions([finish, r = std::move(r)]() mutable { finish(std::move(r)); });
  });
}

void Broker::handle_list_partition_reassignments(std::shared_ptr<Call> call) {
  auto req = decode_request<protocol::ListPartitionReassignmentsRequest>(*call);
  if (!req) return;
  auto list = controller_.list_partition_reassignments(metadata::reassignment_filter(*req));
  std::erase_if(list, [this](const metadata::OngoingReassignment& o) { return hidden_topic(o.topic); });
  call->reply(metadata::list_reassignments_response(list));
}

}  // namespace floe::broker
