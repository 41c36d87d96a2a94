// Helpers for the group coordinator tests: a real StreamManager (stream/'s test Harness: a
// BlockWal on a temp file, a mem object store, in-memory stream metadata), a coordinator on one of
// its streams, synchronous and asynchronous request wrappers, and a consumer-protocol member.
#pragma once

#include <catch2/catch.hpp>
#include <future>
#include <set>

#include "../stream/stream_test_util.h"
#include "group/group_coordinator.h"
#include "group/group_errors.h"

namespace floe::broker::testing {

using namespace floe::protocol;
namespace ke = floe::broker::kafka_error;

template <typename Resp>
struct Pending {
  std::shared_ptr<std::promise<Resp>> promise = std::make_shared<std::promise<Resp>>();
  std::future<Resp> future = promise->get_future();
  std::function<void(Resp)> callback() {
    return [p = promise](Resp r) { p->set_value(std::move(r)); };
  }
  bool ready(int wait_ms = 0) {
    return future.wait_for(std::chrono::milliseconds(wait_ms)) == std::future_status::ready;
  }
  Resp get() {
    REQUIRE(future.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    return future.get();
  }
};

// ConsumerProtocolSubscription v0, written by hand: version, topics, null user data.
inline SharedBytes subscription(const std::vector<std::string>& topics) {
  ByteWriter w;
  w.write_i16(0);
  w.write_i32(static_cast<int32_t>(topics.size()));
  for (const auto& t : topics) {
    w.write_i16(static_cast<int16_t>(t.size()));
    w.write_string(t);
  }
  w.write_i32(-1);
  return SharedBytes(w.take());
}

struct Env {
  stream::testing::Harness h;
  StreamId stream_id;
  std::shared_ptr<stream::Stream> stream;
  GroupCoordinatorOptions options;
  std::unique_ptr<GroupCoordinator> gc;

  Env() {
    h.start();
    stream_id = h.create();
    options.initial_rebalance_delay_ms = 500;  // concurrent first joins land in one generation
    options.min_session_timeout_ms = 10;
    options.partition_exists = [](std::string_view topic, int32_t partition) {
      return topic != "missing" && partition >= 0 && partition < 16;
    };
  }
  ~Env() { stop(); }

  void start() {
    stream = h.open(stream_id);
    gc = std::make_unique<GroupCoordinator>(options, stream);
    Pending<Status> loaded;
    gc->start(loaded.callback());
    REQUIRE(loaded.get().ok());
  }
  void stop() {
    if (gc) gc->stop();
    gc.reset();
    stream.reset();
  }
  // A restart: the coordinator and the stream manager go away and come back on the same WAL file
  // and object store; the stream is reopened (its epoch bumps) and the coordinator reloads.
  void restart() {
    stop();
    h.restart();
    start();
  }

  // --- requests ---
  JoinGroupRequest join_request(const std::string& group, const std::string& member_id,
                                std::vector<std::string> topics = {"t"}, int32_t session_ms = 10000,
                                int32_t rebalance_ms = 10000) {
    JoinGroupRequest r;
    r.group_id = group;
    r.member_id = member_id;
    r.session_timeout_ms = session_ms;
    r.rebalance_timeout_ms = rebalance_ms;
    r.protocol_type = "consumer";
    auto& p = r.protocols.emplace_back();
    p.name = "range";
    p.metadata = subscription(std::move(topics));
    return r;
  }
  Pending<JoinGroupResponse> join_async(const JoinGroupRequest& r, int16_t version = 7) {
    Pending<JoinGroupResponse> p;
    gc->join_group(r, version, "client", "/127.0.0.1", p.callback());
    return p;
  }
  JoinGroupResponse join(const JoinGroupRequest& r, int16_t version = 7) { return join_async(r, version).get(); }
  // v4+: the first join hands out a member id; returns it.
  std::string member_id_for(const std::string& group, int16_t version = 7) {
    auto r = join(join_request(group, ""), version);
    REQUIRE(r.error_code == ke::kMemberIdRequired);
    REQUIRE_FALSE(r.member_id.empty());
    return r.member_id;
  }
  Pending<SyncGroupResponse> sync_async(const std::string& group, int32_t generation, const std::string& member,
                                        std::vector<std::pair<std::string, std::string>> assignments = {},
                                        int16_t version = 5) {
    SyncGroupRequest r;
    r.group_id = group;
    r.generation_id = generation;
    r.member_id = member;
    for (auto& [m, a] : assignments) {
      auto& e = r.assignments.emplace_back();
      e.member_id = m;
      e.assignment = SharedBytes(Bytes(a.begin(), a.end()));
    }
    Pending<SyncGroupResponse> p;
    gc->sync_group(r, version, "client", "/127.0.0.1", p.callback());
    return p;
  }
  SyncGroupResponse sync(const std::string& group, int32_t generation, const std::string& member,
                         std::vector<std::pair<std::string, std::string>> assignments = {}) {
    return sync_async(group, generation, member, std::move(assignments)).get();
  }
  int16_t heartbeat(const std::string& group, int32_t generation, const std::string& member,
                    std::optional<std::string> instance = std::nullopt) {
    HeartbeatRequest r;
    r.group_id = group;
    r.generation_id = generation;
    r.member_id = member;
    r.group_instance_id = instance;
    Pending<HeartbeatResponse> p;
    gc->heartbeat(r, 4, "client", "/127.0.0.1", p.callback());
    return p.get().error_code;
  }
  LeaveGroupResponse leave(const std::string& group, const std::string& member, int16_t version = 5) {
    LeaveGroupRequest r;
    r.group_id = group;
    if (version >= 3)
      r.members.emplace_back().member_id = member;
    else
      r.member_id = member;
    Pending<LeaveGroupResponse> p;
    gc->leave_group(r, version, "client", "/127.0.0.1", p.callback());
    return p.get();
  }
  OffsetCommitResponse commit(const std::string& group, int32_t generation, const std::string& member,
                              std::vector<std::tuple<std::string, int32_t, int64_t>> offsets, int16_t version = 8,
                              std::string metadata = "md") {
    OffsetCommitRequest r;
    r.group_id = group;
    r.generation_id_or_member_epoch = generation;
    r.member_id = member;
    for (auto& [topic, partition, offset] : offsets) {
      if (r.topics.empty() || r.topics.back().name != topic) r.topics.emplace_back().name = topic;
      auto& p = r.topics.back().partitions.emplace_back();
      p.partition_index = partition;
      p.committed_offset = offset;
      p.committed_leader_epoch = 3;
      p.committed_metadata = metadata;
    }
    Pending<OffsetCommitResponse> p;
    gc->offset_commit(r, version, "client", "/127.0.0.1", p.callback());
    return p.get();
  }
  // The committed offset of one partition (-1: none), via OffsetFetch v7.
  int64_t fetch_offset(const std::string& group, const std::string& topic, int32_t partition) {
    OffsetFetchRequest r;
    r.group_id = group;
    auto& t = r.topics->emplace_back();
    t.name = topic;
    t.partition_indexes = {partition};
    Pending<OffsetFetchResponse> p;
    gc->offset_fetch(r, 7, "client", "/127.0.0.1", p.callback());
    auto resp = p.get();
    REQUIRE(resp.error_code == 0);
    REQUIRE(resp.topics.size() == 1);
    REQUIRE(resp.topics[0].partitions.size() == 1);
    return resp.topics[0].partitions[0].committed_offset;
  }
  DescribeGroupsResponse::DescribedGroup describe(const std::string& group, int16_t version = 5) {
    DescribeGroupsRequest r;
    r.groups = {group};
    Pending<DescribeGroupsResponse> p;
    gc->describe_groups(r, version, "client", "/127.0.0.1", p.callback());
    auto resp = p.get();
    REQUIRE(resp.groups.size() == 1);
    return resp.groups[0];
  }
  ListGroupsResponse list(std::vector<std::string> states = {}, int16_t version = 4) {
    ListGroupsRequest r;
    r.states_filter = std::move(states);
    Pending<ListGroupsResponse> p;
    gc->list_groups(r, version, "client", "/127.0.0.1", p.callback());
    return p.get();
  }
  DeleteGroupsResponse delete_groups(std::vector<std::string> groups) {
    DeleteGroupsRequest r;
    r.groups_names = std::move(groups);
    Pending<DeleteGroupsResponse> p;
    gc->delete_groups(r, 2, "client", "/127.0.0.1", p.callback());
    return p.get();
  }

  // One member through MEMBER_ID_REQUIRED, join and sync (as leader, assigning itself "a").
  struct Joined {
    std::string member_id;
    int32_t generation = -1;
  };
  Joined join_alone(const std::string& group, std::vector<std::string> topics = {"t"}) {
    std::string id = member_id_for(group);
    auto r = join(join_request(group, id, std::move(topics)));
    REQUIRE(r.error_code == 0);
    REQUIRE(r.leader == id);
    auto s = sync(group, r.generation_id, id, {{id, "a"}});
    REQUIRE(s.error_code == 0);
    return {id, r.generation_id};
  }
};

inline std::string str(const SharedBytes& b) { return std::string(b.data(), b.data() + b.size()); }

}  // namespace floe::broker::testing
