// GroupCoordinator: Kafka's classic consumer group protocol (JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup, OffsetCommit, OffsetFetch, DescribeGroups, ListGroups, DeleteGroups, OffsetDelete)
// for floe's single-node broker, with its state made durable in one stream.
//
// The broker decodes a request, calls the matching method with the decoded struct and the
// request's version, and encodes the response it is handed at that same version. This class never
// sees bytes or sockets. Error codes follow Kafka's GroupCoordinator (group_errors.h).
//
// Group life cycle (Kafka's): Empty -> PreparingRebalance (joins gather; the first join into an
// Empty group waits initial_rebalance_delay_ms, extended while new members keep arriving, up to
// the rebalance timeout; later rebalances end when every known member rejoined or at the
// rebalance timeout, which drops the laggards) -> CompletingRebalance (the leader got the
// members' metadata; SyncGroup waits for its assignment) -> Stable; a leave, an expiry (no
// heartbeat within the session timeout) or a changed join starts a new rebalance. The protocol is
// one every member supports, chosen by the members' votes. JoinGroup v4+ without a member id gets
// MEMBER_ID_REQUIRED and a fresh id (KIP-394); members with group.instance.id are static
// (KIP-345): rejoining with an empty member id takes the instance over without a rebalance when
// the group is Stable and the protocol stays the same, and the replaced member id is fenced
// (FENCED_INSTANCE_ID).
//
// Durability: every change that must survive a restart appends records (group_record.h) to the
// stream: offset commits, the leader's assignment completing a generation (SyncGroup), a group
// becoming Empty, deletions and expirations (tombstones). The Kafka answer is sent only after the
// append succeeded; in-memory durable state (offsets, the last persisted group record) is updated
// only then too, so it always equals what a replay of the stream gives. start() replays the
// stream; meanwhile requests get COORDINATOR_LOAD_IN_PROGRESS. When the stream holds more than
// compaction_threshold_records records beyond the live state, a snapshot of the live state is
// appended and the stream trimmed to its start.
//
// Threads: one owned thread runs an asio::io_context; every request is posted to it and all state
// lives there. `done` callbacks run on that thread and must not block (the broker posts back to
// its own executor). Stream callbacks are posted back to it as well.
//
// Invariants:
//  (1) Appends to the stream are serialized: one batch in flight, its base offset the stream's end.
//  (2) offsets and persisted group records in memory == the replay of the stream's durable records.
//  (3) Every done callback runs exactly once (before stop() returns, or inline after it).
//  (4) Bounded: groups (groups_max), members and pending members (group_max_size per group,
//      members_total_max overall), offsets (offsets_max), queued appends (append_queue_max).
// Thread safety: every public method may be called from any thread. stop() must not be called from
// a done callback.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "protocol/generated/delete_groups_request.h"
#include "protocol/generated/delete_groups_response.h"
#include "protocol/generated/describe_groups_request.h"
#include "protocol/generated/describe_groups_response.h"
#include "protocol/generated/heartbeat_request.h"
#include "protocol/generated/heartbeat_response.h"
#include "protocol/generated/join_group_request.h"
#include "protocol/generated/join_group_response.h"
#include "protocol/generated/leave_group_request.h"
#include "protocol/generated/leave_group_response.h"
#include "protocol/generated/list_groups_request.h"
#include "protocol/generated/list_groups_response.h"
#include "protocol/generated/offset_commit_request.h"
#include "protocol/generated/offset_commit_response.h"
#include "protocol/generated/offset_delete_request.h"
#include "protocol/generated/offset_delete_response.h"
#include "protocol/generated/offset_fetch_request.h"
#include "protocol/generated/offset_fetch_response.h"
#include "protocol/generated/sync_group_request.h"
#include "protocol/generated/sync_group_response.h"
#include "stream/stream_manager.h"

namespace floe::broker {

struct GroupCoordinatorOptions {
  int64_t initial_rebalance_delay_ms = 3000;        // group.initial.rebalance.delay.ms
  int32_t min_session_timeout_ms = 6000;            // group.min.session.timeout.ms
  int32_t max_session_timeout_ms = 1800000;         // group.max.session.timeout.ms
  int32_t group_max_size = std::numeric_limits<int32_t>::max();  // group.max.size
  int64_t new_member_join_timeout_ms = 300000;      // a new member that never rejoins is dropped
  int64_t offsets_retention_ms = 7ll * 24 * 3600 * 1000;        // offsets.retention.ms
  int64_t offsets_retention_check_interval_ms = 600000;         // offsets.retention.check.interval.ms
  size_t offset_metadata_max_bytes = 4096;          // offset.metadata.max.bytes
  size_t groups_max = 100000;
  size_t members_total_max = 1000000;               // members + pending members, all groups
  size_t offsets_max = 10000000;                    // committed offsets, all groups
  uint64_t compaction_threshold_records = 10000;    // stream records beyond the live state
  uint64_t append_batch_bytes_max = 512 << 10;      // one stream batch (coalesced records)
  size_t append_queue_max = 10000;                  // queued appends waiting for the one in flight
  uint64_t load_fetch_bytes = 1 << 20;              // one fetch while loading
  // Whether a topic partition exists (OffsetCommit answers UNKNOWN_TOPIC_OR_PARTITION if not).
  // Called on the coordinator thread; must not block. Null: every partition exists.
  std::function<bool(std::string_view topic, int32_t partition)> partition_exists;
  // Wall clock in ms (commit timestamps, retention). Null: the system clock.
  std::function<int64_t()> now_ms;
};

struct GroupCoordinatorStats {
  size_t groups = 0;
  size_t members = 0;
  size_t offsets = 0;
  uint64_t stream_records = 0;   // stream end - stream start
  uint64_t appends = 0;          // stream batches appended
  uint64_t compactions = 0;      // snapshots written and trimmed
  uint64_t loaded_records = 0;   // records replayed by start()
};

// How a broker that is not the group coordinator answers (the group-state partition is led by
// another broker, or no coordinator runs here yet): NOT_COORDINATOR wherever the API carries an
// error (per request, per group or per partition, at the request's version), so the client looks
// the coordinator up again (FindCoordinator) and resends; the connection stays open. ListGroups:
// no groups and no error, as Kafka answers on a broker coordinating none (admin clients ask every
// broker and merge the lists).
protocol::JoinGroupResponse not_coordinator_answer(const protocol::JoinGroupRequest& req, int16_t version);
protocol::SyncGroupResponse not_coordinator_answer(const protocol::SyncGroupRequest& req, int16_t version);
protocol::HeartbeatResponse not_coordinator_answer(const protocol::HeartbeatRequest& req, int16_t version);
protocol::LeaveGroupResponse not_coordinator_answer(const protocol::LeaveGroupRequest& req, int16_t version);
protocol::OffsetCommitResponse not_coordinator_answer(const protocol::OffsetCommitRequest& req, int16_t version);
protocol::OffsetFetchResponse not_coordinator_answer(const protocol::OffsetFetchRequest& req, int16_t version);
protocol::DescribeGroupsResponse not_coordinator_answer(const protocol::DescribeGroupsRequest& req, int16_t version);
protocol::ListGroupsResponse not_coordinator_answer(const protocol::ListGroupsRequest& req, int16_t version);
protocol::DeleteGroupsResponse not_coordinator_answer(const protocol::DeleteGroupsRequest& req, int16_t version);
protocol::OffsetDeleteResponse not_coordinator_answer(const protocol::OffsetDeleteRequest& req, int16_t version);

class GroupCoordinator {
 public:
  // REQUIRES: stream is open and reserved for this coordinator's records.
  GroupCoordinator(GroupCoordinatorOptions options, std::shared_ptr<stream::Stream> stream);
  ~GroupCoordinator();  // stop()
  GroupCoordinator(const GroupCoordinator&) = delete;
  GroupCoordinator& operator=(const GroupCoordinator&) = delete;

  // Starts the thread and replays the stream; loaded(status) runs on the coordinator thread when
  // done. A failed load leaves the coordinator answering COORDINATOR_NOT_AVAILABLE.
  void start(std::function<void(Status)> loaded = {});
  // Answers waiting joins and syncs with NOT_COORDINATOR, fails queued appends, waits for the
  // stream operations in flight, stops the thread. Idempotent. Requests after stop() are answered
  // inline with NOT_COORDINATOR.
  void stop();
  bool loaded() const;

  void join_group(const protocol::JoinGroupRequest& req, int16_t version, std::string client_id,
                  std::string client_host, std::function<void(protocol::JoinGroupResponse)> done);
  void sync_group(const protocol::SyncGroupRequest& req, int16_t version, std::string client_id,
                  std::string client_host, std::function<void(protocol::SyncGroupResponse)> done);
  void heartbeat(const protocol::HeartbeatRequest& req, int16_t version, std::string client_id,
                 std::string client_host, std::function<void(protocol::HeartbeatResponse)> done);
  void leave_group(const protocol::LeaveGroupRequest& req, int16_t version, std::string client_id,
                   std::string client_host, std::function<void(protocol::LeaveGroupResponse)> done);
  void offset_commit(const protocol::OffsetCommitRequest& req, int16_t version, std::string client_id,
                     std::string client_host, std::function<void(protocol::OffsetCommitResponse)> done);
  void offset_fetch(const protocol::OffsetFetchRequest& req, int16_t version, std::string client_id,
                    std::string client_host, std::function<void(protocol::OffsetFetchResponse)> done);
  void describe_groups(const protocol::DescribeGroupsRequest& req, int16_t version, std::string client_id,
                       std::string client_host, std::function<void(protocol::DescribeGroupsResponse)> done);
  void list_groups(const protocol::ListGroupsRequest& req, int16_t version, std::string client_id,
                   std::string client_host, std::function<void(protocol::ListGroupsResponse)> done);
  void delete_groups(const protocol::DeleteGroupsRequest& req, int16_t version, std::string client_id,
                     std::string client_host, std::function<void(protocol::DeleteGroupsResponse)> done);
  void offset_delete(const protocol::OffsetDeleteRequest& req, int16_t version, std::string client_id,
                     std::string client_host, std::function<void(protocol::OffsetDeleteResponse)> done);

  // A consistent snapshot of the counters. Blocks the caller until the coordinator thread answers:
  // never call from a done callback.
  GroupCoordinatorStats stats();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace floe::broker
