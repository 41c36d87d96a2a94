// Reassignment: Kafka's AlterPartitionReassignments (45) / ListPartitionReassignments (46) over
// floe's single-copy partitions. A floe partition has one "replica", its leader broker; its data
// lives in the object store, so moving it is a leadership change: the old owner uploads its tail
// and closes the stream, the new leader then opens it (stream epoch + 1).
//
// Rules (plan_reassignment; the controller applies them on its working state, one Raft entry per
// request, items in request order):
//  - unknown topic or partition index: UNKNOWN_TOPIC_OR_PARTITION;
//  - replicas [b]: b must be registered (else INVALID_REPLICA_ASSIGNMENT "no such broker is
//    registered", Kafka's words) and eligible to lead (unfenced, not shutting down; else
//    INVALID_REPLICA_ASSIGNMENT); the partition's leader becomes b (leader epoch + 1) unless it
//    already is (nothing changes, success);
//  - an empty list, a broker twice, or more than one broker: INVALID_REPLICA_ASSIGNMENT (floe
//    keeps one copy; object storage replicates the data);
//  - replicas null (cancel): NO_REASSIGNMENT_IN_PROGRESS unless one is in progress; otherwise the
//    partition goes back to the broker still owning its stream (it must be eligible, else
//    INVALID_REPLICA_ASSIGNMENT).
// IN PROGRESS (ongoing_reassignments): the partition has a leader, its stream has been opened
// before (epoch > 0) and its owner is another broker: the move is not finished until the new
// leader opened the stream. Reported as Kafka does: replicas [target, source], adding [target],
// removing [source]. Any leadership move counts (a tool's or the controller's own, e.g. after a
// fence), since each is finished the same way.
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "metadata/image.h"
#include "protocol/generated/alter_partition_reassignments_request.h"
#include "protocol/generated/alter_partition_reassignments_response.h"
#include "protocol/generated/list_partition_reassignments_request.h"
#include "protocol/generated/list_partition_reassignments_response.h"
#include "protocol/generated/partition_change_record.h"

namespace floe::metadata {

// One request can name at most this many partitions (one Raft entry holds all the changes).
inline constexpr size_t kMaxReassignmentsPerRequest = 10000;

struct PartitionReassignment {
  std::string topic;
  int32_t partition = 0;
  std::optional<std::vector<int32_t>> replicas;  // nullopt: cancel
};
struct ReassignResult {
  int16_t error_code = 0;  // NONE, NOT_CONTROLLER, UNKNOWN_TOPIC_OR_PARTITION, INVALID_REPLICA_ASSIGNMENT,
                           // NO_REASSIGNMENT_IN_PROGRESS, INVALID_REQUEST (too many)
  std::string error_message;
  int32_t leader_epoch = -1;  // the partition's leader epoch after the move
};
struct OngoingReassignment {
  std::string topic;
  int32_t partition = 0;
  NodeId target;  // the leader, not owning the stream yet
  NodeId source;  // the broker owning the stream (open or closed)
};
// Which partitions to list: nullopt = every partition; per topic, the partition indexes.
using ReassignmentFilter = std::optional<std::vector<std::pair<std::string, std::vector<int32_t>>>>;

// The move in progress of one partition, if any.
std::optional<OngoingReassignment> ongoing_reassignment(const MetadataState& state, const TopicImage& topic,
                                                        const PartitionImage& partition);
// In topic name order (filter: in its order), partitions by index; unknown names are skipped.
std::vector<OngoingReassignment> ongoing_reassignments(const MetadataState& state, const ReassignmentFilter& filter);

// Validates one item against `state`; on success *change holds the leader change to apply (none
// when nothing changes).
ReassignResult plan_reassignment(const MetadataState& state, const PartitionReassignment& item,
                                 std::optional<protocol::PartitionChangeRecord>* change);

// --- wire forms (shared by the controller listener, the broker listener and RemoteController) ---
std::vector<PartitionReassignment> reassignments_from_wire(const protocol::AlterPartitionReassignmentsRequest& req);
protocol::AlterPartitionReassignmentsRequest reassignments_to_wire(const std::vector<PartitionReassignment>& items);
// The answer to `items` (results aligned with them; an error: every partition gets it, and the
// top-level error is set too).
protocol::AlterPartitionReassignmentsResponse reassign_response(const std::vector<PartitionReassignment>& items,
                                                                const Result<std::vector<ReassignResult>>& results);
// The per-partition results of a response, in order (the inverse of reassign_response).
Result<std::vector<ReassignResult>> reassign_results(const protocol::AlterPartitionReassignmentsResponse& resp);
ReassignmentFilter reassignment_filter(const protocol::ListPartitionReassignmentsRequest& req);
protocol::ListPartitionReassignmentsResponse list_reassignments_response(const std::vector<OngoingReassignment>& list);
// The Kafka error code for a failed controller call: NOT_CONTROLLER, REQUEST_TIMED_OUT or UNKNOWN_SERVER_ERROR.
int16_t controller_error_code(const Error& e);

}  // namespace floe::metadata
