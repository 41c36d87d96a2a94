// Private to src/group/: the state and helpers of GroupCoordinator (group_coordinator.h), split
// over membership.cc (join/sync/heartbeat/leave), offsets.cc (commit/fetch/delete/retention),
// admin.cc (describe/list/delete groups) and persistence.cc (append queue, load, compaction).
// Everything here runs on the coordinator thread unless a comment says otherwise.
#pragma once

#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <deque>
#include <future>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "group/group_coordinator.h"
#include "group/group_errors.h"
#include "group/group_record.h"

namespace floe::broker {

enum class GroupState { empty, preparing_rebalance, completing_rebalance, stable, dead };
const char* group_state_name(GroupState s);

using SteadyClock = std::chrono::steady_clock;
using TopicPartition = std::pair<std::string, int32_t>;

struct MemberProtocol {
  std::string name;
  SharedBytes metadata;
  friend bool operator==(const MemberProtocol&, const MemberProtocol&) = default;
};

struct Member {
  std::string id;
  std::optional<std::string> instance_id;
  std::string client_id;
  std::string client_host;
  int32_t rebalance_timeout_ms = 0;
  int32_t session_timeout_ms = 0;
  std::vector<MemberProtocol> protocols;
  SharedBytes assignment;
  std::function<void(protocol::JoinGroupResponse)> join_done;  // set while awaiting the join's end
  int16_t join_version = 0;
  std::function<void(protocol::SyncGroupResponse)> sync_done;  // set while awaiting the assignment
  int16_t sync_version = 0;
  bool is_new = false;
  SteadyClock::time_point last_heartbeat;
  std::unique_ptr<asio::steady_timer> heartbeat_timer;
  uint64_t heartbeat_seq = 0;

  const SharedBytes* metadata_for(const std::string& protocol) const {
    for (const auto& p : protocols)
      if (p.name == protocol) return &p.metadata;
    return nullptr;
  }
};

struct PendingMember {  // got MEMBER_ID_REQUIRED, expected to rejoin with its id
  std::unique_ptr<asio::steady_timer> timer;
};

struct Group {
  std::string id;
  GroupState state = GroupState::empty;
  std::string protocol_type;  // empty: none (offsets-only group)
  int32_t generation = 0;
  std::optional<std::string> protocol;
  std::string leader;
  int64_t state_timestamp_ms = -1;
  std::map<std::string, std::unique_ptr<Member>> members;
  std::map<std::string, std::string> static_members;  // instance id -> member id
  std::map<std::string, PendingMember> pending;
  // The join phase timer (initial delay or rebalance timeout).
  std::unique_ptr<asio::steady_timer> join_timer;
  uint64_t join_seq = 0;
  bool initial_join_phase = false;
  bool new_member_added = false;
  int64_t initial_remaining_ms = 0;
  // Durable state (invariant 2).
  std::map<TopicPartition, group_format::OffsetValue> offsets;
  std::optional<group_format::GroupValue> persisted;
  std::map<TopicPartition, int> pending_commits;  // offset records appended, not yet durable
  int pending_stores = 0;                         // group records appended, not yet durable

  bool has_member(const std::string& member_id) const { return members.count(member_id) != 0; }
  Member* member(const std::string& member_id) {
    auto it = members.find(member_id);
    return it == members.end() ? nullptr : it->second.get();
  }
  int32_t rebalance_timeout_ms() const {
    int32_t t = 0;
    for (const auto& [_, m] : members) t = std::max(t, m->rebalance_timeout_ms);
    return t;
  }
  bool static_member_fenced(const std::optional<std::string>& instance_id, const std::string& member_id) const {
    if (!instance_id) return false;
    auto it = static_members.find(*instance_id);
    return it != static_members.end() && it->second != member_id;
  }
};

// Whole-request error answers (not loaded, stopped, invalid group id).
protocol::JoinGroupResponse join_error(int16_t error, int16_t version, std::string member_id = {});
protocol::SyncGroupResponse sync_error(int16_t error);
protocol::HeartbeatResponse heartbeat_error(int16_t error);
protocol::LeaveGroupResponse leave_error(const protocol::LeaveGroupRequest& req, int16_t version, int16_t error);
protocol::OffsetCommitResponse commit_error(const protocol::OffsetCommitRequest& req, int16_t error);
protocol::OffsetFetchResponse fetch_error(const protocol::OffsetFetchRequest& req, int16_t version, int16_t error);
protocol::DescribeGroupsResponse describe_error(const protocol::DescribeGroupsRequest& req, int16_t error);
protocol::ListGroupsResponse list_error(int16_t error);
protocol::DeleteGroupsResponse delete_error(const protocol::DeleteGroupsRequest& req, int16_t error);
protocol::OffsetDeleteResponse offset_delete_error(int16_t error);

class GroupCoordinator::Impl {
 public:
  Impl(GroupCoordinatorOptions options, std::shared_ptr<stream::Stream> stream);

  void start(std::function<void(Status)> loaded);
  void stop();

  template <typename F>
  void post(F f) { asio::post(io_, std::move(f)); }

  // A request from outside: runs `handle(done)` on the coordinator thread, or, once stop() has
  // closed the door, answers NOT_COORDINATOR at once on the calling thread. Either way `done`
  // runs exactly once: stop() runs every request admitted before it closed (they see stopping_).
  template <typename Req, typename Resp, typename Handle>
  void submit(const Req& req, int16_t version, std::function<void(Resp)> done, Handle handle) {
    {
      std::lock_guard lock(admit_mu_);
      if (!closed_) {
        asio::post(io_, [handle = std::move(handle), done = std::move(done)]() mutable { handle(std::move(done)); });
        return;
      }
    }
    done(not_coordinator_answer(req, version));
  }

  // Handlers (coordinator thread).
  void join(protocol::JoinGroupRequest req, int16_t version, std::string client_id, std::string client_host,
            std::function<void(protocol::JoinGroupResponse)> done);
  void sync(protocol::SyncGroupRequest req, int16_t version, std::function<void(protocol::SyncGroupResponse)> done);
  void heartbeat(const protocol::HeartbeatRequest& req, int16_t version,
                 std::function<void(protocol::HeartbeatResponse)> done);
  void leave(const protocol::LeaveGroupRequest& req, int16_t version,
             std::function<void(protocol::LeaveGroupResponse)> done);
  void offset_commit(const protocol::OffsetCommitRequest& req, int16_t version,
                     std::function<void(protocol::OffsetCommitResponse)> done);
  void offset_fetch(const protocol::OffsetFetchRequest& req, int16_t version,
                    std::function<void(protocol::OffsetFetchResponse)> done);
  void offset_delete(const protocol::OffsetDeleteRequest& req, int16_t version,
                     std::function<void(protocol::OffsetDeleteResponse)> done);
  void describe(const protocol::DescribeGroupsRequest& req, int16_t version,
                std::function<void(protocol::DescribeGroupsResponse)> done);
  void list(const protocol::ListGroupsRequest& req, int16_t version,
            std::function<void(protocol::ListGroupsResponse)> done);
  void delete_groups(const protocol::DeleteGroupsRequest& req, int16_t version,
                     std::function<void(protocol::DeleteGroupsResponse)> done);
  GroupCoordinatorStats stats_now() const;

  std::atomic<bool> loaded_{false};
  std::atomic<bool> stopped_{false};
  std::mutex admit_mu_;
  bool closed_ = false;  // guarded by admit_mu_: no request is posted any more (stop() closed it)

 private:
  using Protocols = std::vector<protocol::JoinGroupRequest::JoinGroupRequestProtocol>;
  struct JoinArgs {
    protocol::JoinGroupRequest req;
    int16_t version = 0;
    std::string client_id;
    std::string client_host;
    int32_t rebalance_timeout_ms = 0;
    std::function<void(protocol::JoinGroupResponse)> done;
  };
  struct AppendEntry {
    Bytes bytes;
    uint32_t records = 0;
    std::function<void(Status)> done;
  };

  // Availability: kNone when loaded, else the error every request gets.
  int16_t availability_error() const;
  int64_t now_ms() const;
  Group* find_group(const std::string& id);
  Group& create_group(const std::string& id);
  // Erases a group that holds nothing (no members, pending members, offsets or durable record).
  void maybe_forget_group(const std::string& id);
  std::string new_member_id(const std::string& client_id);

  // membership.cc
  void new_member_join(Group& g, JoinArgs a);
  void static_member_join(Group& g, JoinArgs a, std::string new_id);
  void current_member_join(Group& g, JoinArgs a);
  bool supports_protocols(const Group& g, const std::string& type, const Protocols& protocols) const;
  std::optional<std::string> select_protocol(const Group& g) const;
  void add_member_and_rebalance(Group& g, JoinArgs a, std::string member_id);
  void update_member_and_rebalance(Group& g, Member& m, JoinArgs a);
  void update_member(Member& m, const JoinArgs& a);
  void maybe_prepare_rebalance(Group& g);
  void prepare_rebalance(Group& g);
  void try_complete_join(Group& g);
  void complete_join(Group& g);
  void on_join_timer(const std::string& group_id, uint64_t seq);
  void schedule_join_timer(Group& g, int64_t delay_ms);
  protocol::JoinGroupResponse join_result(const Group& g, const Member& m, int16_t version, bool with_members) const;
  void reset_and_propagate_assignment_error(Group& g, int16_t error);
  void propagate_assignment(Group& g);
  void remove_member(Group& g, const std::string& member_id, int16_t callback_error);
  void remove_member_and_update_group(Group& g, const std::string& member_id);
  void heartbeat_member(Group& g, Member& m);
  void schedule_heartbeat(Group& g, Member& m, SteadyClock::duration after);
  void on_heartbeat_timer(const std::string& group_id, const std::string& member_id, uint64_t seq);
  void add_pending(Group& g, const std::string& member_id, int32_t session_timeout_ms);
  void on_pending_timer(const std::string& group_id, const std::string& member_id);
  void transition(Group& g, GroupState s);
  group_format::GroupValue group_value(const Group& g, const std::map<std::string, SharedBytes>* assignments) const;
  // Appends g's group record; done(status) after the append. False: the queue is full.
  bool store_group(Group& g, group_format::GroupValue value, std::function<void(int16_t error)> done);
  std::optional<std::set<std::string>> subscribed_topics(const Group& g) const;
  int16_t leave_one(Group& g, const protocol::LeaveGroupRequest::MemberIdentity& who);

  // offsets.cc
  void expire_offsets();
  void schedule_retention_timer();

  // persistence.cc
  bool enqueue(Bytes bytes, uint32_t records, std::function<void(Status)> done);
  void pump();
  void on_append_done(std::vector<std::function<void(Status)>> dones, Result<Offset> r);
  void maybe_compact();
  void begin_load();
  void load_from(int64_t offset);
  void on_load_chunk(Result<stream::FetchResult> r);
  void apply_loaded(const group_format::Record& rec);
  void finish_load(Status st);
  void stream_op_done();
  int16_t append_error(const Status& st) const;

  GroupCoordinatorOptions options_;
  std::shared_ptr<stream::Stream> stream_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  std::mt19937_64 rng_;

  std::map<std::string, std::unique_ptr<Group>> groups_;
  size_t members_total_ = 0;  // members + pending members
  size_t offsets_total_ = 0;
  std::unique_ptr<asio::steady_timer> retention_timer_;

  // Persistence.
  std::deque<AppendEntry> queue_;
  bool append_in_flight_ = false;
  int64_t next_offset_ = 0;
  int stream_ops_in_flight_ = 0;
  bool compaction_in_progress_ = false;
  uint64_t next_compaction_check_records_ = 0;
  std::function<void(Status)> loaded_cb_;
  bool load_failed_ = false;
  int64_t load_start_ = 0;
  int64_t load_end_ = 0;
  std::map<std::string, std::optional<group_format::GroupValue>> loading_groups_;
  std::map<std::string, std::map<TopicPartition, group_format::OffsetValue>> loading_offsets_;
  bool stopping_ = false;
  std::promise<void> drained_;
  bool drained_set_ = false;
  GroupCoordinatorStats counters_;
};

}  // namespace floe::broker
