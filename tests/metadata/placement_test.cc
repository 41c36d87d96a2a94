// Broker lifecycle (registration, heartbeats, fencing on session timeout), placement of new
// partitions, and partition moves (clean, unclean, controlled shutdown, reassignment) in the
// controller, with a fake session clock (check_broker_sessions is called by the test, not a timer).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "metadata/placement.h"
#include "metadata_test_util.h"

using namespace floe;
using namespace floe::metadata;
using namespace floe::metadata::testing;
namespace ke = floe::metadata::kafka_errors;

namespace {
constexpr int64_t kSessionMs = 9000;

// A single-voter controller (node 100, so no broker runs "in process") and remote brokers.
struct Cluster {
  TempDir dir;
  std::shared_ptr<std::atomic<int64_t>> clock_ms = std::make_shared<std::atomic<int64_t>>(1000000);
  std::unique_ptr<Controller> c;
  std::map<int32_t, int64_t> epochs;
  int incarnations = 0;

  Cluster() { open(); }
  void open() {
    c.reset();
    auto options = single_node(dir.path);
    options.node_id = NodeId(100);
    options.broker_session_timeout_ms = kSessionMs;
    options.session_check_interval_ms = 0;
    options.session_clock_ms = [clock = clock_ms] { return clock->load(); };
    c = open_controller(std::move(options));
  }
  void advance(int64_t ms) { *clock_ms += ms; }
  std::shared_ptr<const MetadataImage> image() const { return c->image(); }

  BrokerRegistrationReply register_broker(int32_t id) {
    Uuid incarnation;
    incarnation.bytes[0] = static_cast<uint8_t>(++incarnations);
    BrokerRegistration reg{NodeId(id), incarnation, {{"PLAINTEXT", "127.0.0.1", 9000 + id}}, std::nullopt, {}};
    auto r = call<BrokerRegistrationReply>([&](auto cb) { c->register_broker(reg, cb); });
    REQUIRE(r.ok());
    REQUIRE(r->error_code == ke::kNone);
    epochs[id] = r->broker_epoch;
    return *r;
  }
  BrokerHeartbeatReply heartbeat(int32_t id, bool want_fence = false, bool want_shutdown = false,
                                 std::optional<int64_t> offset = std::nullopt) {
    BrokerHeartbeat hb{NodeId(id), epochs[id], offset.value_or(image()->offset), want_fence, want_shutdown};
    auto r = call<BrokerHeartbeatReply>([&](auto cb) { c->broker_heartbeat(hb, cb); });
    REQUIRE(r.ok());
    return *r;
  }
  void live(int32_t id) {
    register_broker(id);
    REQUIRE_FALSE(heartbeat(id).is_fenced);
  }
  std::vector<NodeId> check_sessions() {
    auto r = call<std::vector<NodeId>>([&](auto cb) { c->check_broker_sessions(cb); });
    REQUIRE(r.ok());
    return *r;
  }
  bool fenced(int32_t id) const { return image()->brokers.at(NodeId(id)).fenced; }
  const PartitionImage& partition(const std::string& topic, int32_t index) const {
    image_ = image();
    return image_->topic(topic)->partitions.at(static_cast<size_t>(index));
  }
  std::map<int32_t, int> leaders() const {
    std::map<int32_t, int> out;
    for (const auto& [name, t] : image()->topics) {
      for (const auto& p : t.partitions) ++out[p.leader.value()];
    }
    return out;
  }
  stream::StreamInfo open_stream(const std::string& topic, int32_t index, int32_t broker) {
    auto r = call<stream::StreamInfo>([&](auto cb) { c->open_stream(partition(topic, index).stream_id, NodeId(broker), cb); });
    REQUIRE(r.ok());
    return *r;
  }
  void close_stream(const stream::StreamInfo& info) {
    REQUIRE(call<stream::Done>([&](auto cb) { c->close_stream(info.id, info.epoch, cb); }).ok());
  }
  mutable std::shared_ptr<const MetadataImage> image_;
};
}  // namespace

TEST_CASE("a_new_broker_is_fenced_until_a_heartbeat_says_it_caught_up") {
  Cluster k;
  auto reg = k.register_broker(1);
  CHECK(reg.broker_epoch >= 0);
  CHECK(k.fenced(1));
  CHECK(k.image()->brokers.at(NodeId(1)).epoch == reg.broker_epoch);
  auto behind = k.heartbeat(1, false, false, reg.broker_epoch - 1);  // has not replayed its registration
  CHECK(behind.error_code == ke::kNone);
  CHECK_FALSE(behind.is_caught_up);
  CHECK(behind.is_fenced);
  CHECK(k.fenced(1));
  auto caught_up = k.heartbeat(1);
  CHECK(caught_up.is_caught_up);
  CHECK_FALSE(caught_up.is_fenced);
  CHECK_FALSE(caught_up.should_shutdown);
  CHECK(caught_up.lease_ms == kSessionMs);
  CHECK_FALSE(k.fenced(1));  // committed: in the image every replica replays
  auto wants_fence = k.heartbeat(1, true);
  CHECK(wants_fence.is_fenced);
  CHECK(k.fenced(1));
}

TEST_CASE("heartbeats_of_unknown_brokers_and_stale_epochs_are_refused") {
  Cluster k;
  BrokerHeartbeat ghost{NodeId(7), 1, 0, false, false};
  CHECK(call<BrokerHeartbeatReply>([&](auto cb) { k.c->broker_heartbeat(ghost, cb); })->error_code ==
        ke::kBrokerIdNotRegistered);
  auto first = k.register_broker(1);
  k.heartbeat(1);
  // The same incarnation again is a retry: same epoch, still unfenced.
  BrokerRegistration again{NodeId(1), Uuid{}, {{"PLAINTEXT", "127.0.0.1", 9001}}, std::nullopt, {}};
  again.incarnation_id.bytes[0] = 1;
  auto retry = call<BrokerRegistrationReply>([&](auto cb) { k.c->register_broker(again, cb); });
  CHECK(retry->broker_epoch == first.broker_epoch);
  CHECK_FALSE(k.fenced(1));
  // A restarted process (new incarnation) replaces the registration: new epoch, fenced again.
  auto second = k.register_broker(1);
  CHECK(second.broker_epoch > first.broker_epoch);
  CHECK(k.fenced(1));
  BrokerHeartbeat stale{NodeId(1), first.broker_epoch, k.image()->offset, false, false};
  CHECK(call<BrokerHeartbeatReply>([&](auto cb) { k.c->broker_heartbeat(stale, cb); })->error_code ==
        ke::kStaleBrokerEpoch);
  BrokerRegistration bad{NodeId(2), Uuid{}, {{"PLAINTEXT", "h", 70000}}, std::nullopt, {}};
  CHECK(call<BrokerRegistrationReply>([&](auto cb) { k.c->register_broker(bad, cb); })->error_code ==
        ke::kInvalidRequest);
}

TEST_CASE("a_broker_silent_for_the_session_timeout_is_fenced_and_one_that_heartbeats_is_not") {
  Cluster k;
  k.live(1);
  k.live(2);
  k.advance(kSessionMs / 2);
  CHECK(k.check_sessions().empty());
  k.heartbeat(1);
  k.advance(kSessionMs / 2 + 1);  // broker 2 silent for longer than the timeout, broker 1 not
  CHECK(k.check_sessions() == std::vector<NodeId>{NodeId(2)});
  CHECK(k.fenced(2));
  CHECK_FALSE(k.fenced(1));
  CHECK(k.check_sessions().empty());  // fenced once
  // It comes back: the next caught-up heartbeat unfences it.
  CHECK_FALSE(k.heartbeat(2).is_fenced);
  CHECK_FALSE(k.fenced(2));
}

TEST_CASE("the_in_process_broker_is_registered_unfenced_and_never_times_out") {
  TempDir dir;
  auto clock = std::make_shared<std::atomic<int64_t>>(0);
  auto options = single_node(dir.path);  // node 1
  options.session_check_interval_ms = 0;
  options.session_clock_ms = [clock] { return clock->load(); };
  auto c = open_controller(std::move(options));
  BrokerRegistration self{NodeId(1), Uuid{}, {{"PLAINTEXT", "127.0.0.1", 9092}}, std::nullopt, {}};
  REQUIRE(call<BrokerRegistrationReply>([&](auto cb) { c->register_broker(self, cb); })->error_code == ke::kNone);
  CHECK_FALSE(c->image()->brokers.at(NodeId(1)).fenced);
  *clock += 10 * kSessionMs;
  CHECK(call<std::vector<NodeId>>([&](auto cb) { c->check_broker_sessions(cb); })->empty());
  CHECK_FALSE(c->image()->brokers.at(NodeId(1)).fenced);
}

TEST_CASE("new_partitions_go_to_the_least_loaded_unfenced_broker") {
  Cluster k;
  k.live(1);
  k.live(2);
  k.live(3);
  k.register_broker(4);  // registered but fenced: gets nothing
  REQUIRE(create_one(*k.c, "six", 6).error_code == ke::kNone);
  CHECK(k.leaders() == std::map<int32_t, int>{{1, 2}, {2, 2}, {3, 2}});
  k.heartbeat(3, true);  // broker 3 asks to be fenced; its (never opened, so clean) partitions move
  CHECK(k.leaders() == std::map<int32_t, int>{{1, 3}, {2, 3}});
  REQUIRE(create_one(*k.c, "one", 1).error_code == ke::kNone);
  auto r = call<std::vector<TopicResult>>([&](auto cb) { k.c->create_partitions({{"six", 9}}, false, cb); });
  REQUIRE(r->at(0).error_code == ke::kNone);
  auto led = k.leaders();
  CHECK(led[1] + led[2] == 10);
  CHECK(std::abs(led[1] - led[2]) <= 1);
  CHECK(led.count(3) == 0);
  CHECK(led.count(4) == 0);
}

TEST_CASE("with_every_broker_fenced_create_topics_fails_with_invalid_replication_factor") {
  Cluster k;
  k.register_broker(1);  // fenced: no heartbeat yet
  auto r = create_one(*k.c, "nowhere", 2);
  CHECK(r.error_code == ke::kInvalidReplicationFactor);
  CHECK(k.image()->topic("nowhere") == nullptr);
  auto validate = create(*k.c, {TopicSpec{"nowhere", 1, {}, false}}, true);
  CHECK(validate[0].error_code == ke::kInvalidReplicationFactor);
}

TEST_CASE("partitions_created_before_any_broker_wait_leaderless_for_the_first_one") {
  Cluster k;
  REQUIRE(create_one(*k.c, "early", 2).error_code == ke::kNone);
  CHECK(k.partition("early", 0).leader == NodeId(kNoLeader));
  CHECK(k.partition("early", 1).leader == NodeId(kNoLeader));
  k.live(1);
  CHECK(k.partition("early", 0).leader == NodeId(1));
  CHECK(k.partition("early", 1).leader == NodeId(1));
}

TEST_CASE("a_fenced_brokers_closed_partitions_move_and_its_open_ones_go_offline_until_it_returns") {
  Cluster k;
  k.live(1);
  REQUIRE(create_one(*k.c, "clean", 1).error_code == ke::kNone);
  REQUIRE(create_one(*k.c, "dirty", 1).error_code == ke::kNone);
  REQUIRE(create_one(*k.c, "lossy", 1, {{"unclean.leader.election.enable", "true"}}).error_code == ke::kNone);
  k.live(2);
  auto clean = k.open_stream("clean", 0, 1);
  k.close_stream(clean);  // uploaded everything and closed
  k.open_stream("dirty", 0, 1);  // still open: its tail may be only in broker 1's WAL
  k.open_stream("lossy", 0, 1);
  k.advance(kSessionMs / 2);
  k.heartbeat(2);
  k.advance(kSessionMs / 2 + 1);
  REQUIRE(k.check_sessions() == std::vector<NodeId>{NodeId(1)});
  CHECK(k.partition("clean", 0).leader == NodeId(2));
  CHECK(k.partition("clean", 0).leader_epoch == 1);
  CHECK(k.partition("dirty", 0).leader == NodeId(kNoLeader));  // offline, not silently truncated
  CHECK(k.partition("dirty", 0).leader_epoch == 1);
  CHECK(k.partition("lossy", 0).leader == NodeId(2));  // the topic accepts losing the tail
  // Broker 1 restarts (new incarnation) and catches up: its offline partition comes back to it.
  k.register_broker(1);
  CHECK(k.partition("dirty", 0).leader == NodeId(kNoLeader));  // fenced until its heartbeat
  CHECK_FALSE(k.heartbeat(1).is_fenced);
  CHECK(k.partition("dirty", 0).leader == NodeId(1));
  CHECK(k.partition("dirty", 0).leader_epoch == 2);
  CHECK(k.partition("clean", 0).leader == NodeId(2));  // moved partitions stay where they went
}

TEST_CASE("a_restarted_broker_that_registers_again_loses_its_clean_partitions_at_once") {
  Cluster k;
  k.live(1);
  REQUIRE(create_one(*k.c, "t", 2).error_code == ke::kNone);
  k.live(2);
  k.register_broker(1);  // new incarnation: the old process is gone
  CHECK(k.partition("t", 0).leader == NodeId(2));
  CHECK(k.partition("t", 1).leader == NodeId(2));
}

TEST_CASE("controlled_shutdown_moves_partitions_as_their_streams_close_then_says_shut_down") {
  Cluster k;
  k.live(1);
  REQUIRE(create_one(*k.c, "t", 2).error_code == ke::kNone);
  k.live(2);
  auto s0 = k.open_stream("t", 0, 1);
  auto s1 = k.open_stream("t", 1, 1);
  k.close_stream(s0);  // the broker uploaded and closed partition 0 already
  auto first = k.heartbeat(1, false, true);
  CHECK_FALSE(first.should_shutdown);
  CHECK_FALSE(first.is_fenced);
  CHECK(k.image()->brokers.at(NodeId(1)).in_controlled_shutdown);
  CHECK(k.partition("t", 0).leader == NodeId(2));
  CHECK(k.partition("t", 1).leader == NodeId(1));  // still open: it keeps it until it closes
  REQUIRE(create_one(*k.c, "later", 2).error_code == ke::kNone);  // nothing new for a draining broker
  CHECK(k.partition("later", 0).leader == NodeId(2));
  CHECK(k.partition("later", 1).leader == NodeId(2));
  k.close_stream(s1);  // closing moves it
  CHECK(k.partition("t", 1).leader == NodeId(2));
  auto last = k.heartbeat(1, false, true);
  CHECK(last.should_shutdown);
  CHECK(last.is_fenced);
  CHECK(k.fenced(1));
}

TEST_CASE("reassign_moves_a_partition_to_an_unfenced_broker_with_a_new_leader_epoch") {
  Cluster k;
  k.live(1);
  REQUIRE(create_one(*k.c, "t", 1).error_code == ke::kNone);
  k.live(2);
  k.register_broker(3);  // fenced
  auto moved = call<ReassignResult>([&](auto cb) { k.c->reassign_partition("t", 0, NodeId(2), cb); });
  CHECK(moved->error_code == ke::kNone);
  CHECK(moved->leader_epoch == 1);
  CHECK(k.partition("t", 0).leader == NodeId(2));
  CHECK(k.partition("t", 0).leader_epoch == 1);
  // The old leader, acting on its old image, cannot take the stream back from the new one.
  auto sid = k.partition("t", 0).stream_id;
  CHECK(call<stream::StreamInfo>([&](auto cb) { k.c->open_stream(sid, NodeId(1), cb); }).error().code == Errc::fenced);
  CHECK(k.open_stream("t", 0, 2).epoch == StreamEpoch(1));
  auto same = call<ReassignResult>([&](auto cb) { k.c->reassign_partition("t", 0, NodeId(2), cb); });
  CHECK(same->error_code == ke::kNone);
  CHECK(same->leader_epoch == 1);
  CHECK(call<ReassignResult>([&](auto cb) { k.c->reassign_partition("t", 0, NodeId(3), cb); })->error_code ==
        ke::kInvalidReplicaAssignment);
  CHECK(call<ReassignResult>([&](auto cb) { k.c->reassign_partition("t", 1, NodeId(1), cb); })->error_code ==
        ke::kUnknownTopicOrPartition);
  CHECK(call<ReassignResult>([&](auto cb) { k.c->reassign_partition("x", 0, NodeId(1), cb); })->error_code ==
        ke::kUnknownTopicOrPartition);
}

TEST_CASE("a_new_leader_starts_every_broker_session_afresh") {
  Cluster k;
  k.live(1);
  k.live(2);
  k.c->close();
  k.advance(3 * kSessionMs);  // the failover took longer than a session
  k.open();
  CHECK(k.check_sessions().empty());  // nobody is fenced for the controller's own absence
  k.advance(kSessionMs / 2);
  k.heartbeat(1);
  k.advance(kSessionMs / 2 + 1);
  CHECK(k.check_sessions() == std::vector<NodeId>{NodeId(2)});
}

TEST_CASE("broker_and_leader_changes_replay_and_snapshot_to_the_same_state") {
  Cluster k;
  k.live(1);
  REQUIRE(create_one(*k.c, "t", 3).error_code == ke::kNone);
  k.live(2);
  k.open_stream("t", 0, 1);
  k.heartbeat(1, false, true);  // controlled shutdown in progress
  auto moved = call<ReassignResult>([&](auto cb) { k.c->reassign_partition("t", 2, NodeId(1), cb); });
  CHECK(moved->error_code == ke::kInvalidReplicaAssignment);  // draining brokers take nothing
  k.register_broker(3);
  auto before = k.image();
  auto streams_before = k.c->streams();
  CHECK(before->brokers.at(NodeId(1)).in_controlled_shutdown);
  CHECK(before->brokers.at(NodeId(3)).fenced);
  // A snapshot (to_records) rebuilds the same state.
  MetadataState state;
  state.image = *before;
  state.streams = streams_before;
  MetadataState rebuilt;
  REQUIRE(rebuilt.apply_all(state.to_records()).ok());
  CHECK(rebuilt.image.same_content(*before));
  // A replay of the log rebuilds the same state.
  k.c->close();
  k.open();
  CHECK(k.image()->same_content(*before));
  CHECK(same_streams(k.c->streams(), streams_before));
}

TEST_CASE("broker_records_for_unknown_brokers_or_stale_epochs_are_corrupt") {
  MetadataState s;
  CHECK(s.apply(protocol::FenceBrokerRecord{1, 0, {}}).error().code == Errc::corrupt);
  protocol::RegisterBrokerRecord r;
  r.broker_id = 1;
  r.broker_epoch = 5;
  REQUIRE(s.apply(r).ok());
  CHECK(s.image.brokers.at(NodeId(1)).fenced);  // Kafka's default: fenced
  CHECK(s.apply(protocol::UnfenceBrokerRecord{1, 4, {}}).error().code == Errc::corrupt);
  REQUIRE(s.apply(protocol::UnfenceBrokerRecord{1, 5, {}}).ok());
  CHECK_FALSE(s.image.brokers.at(NodeId(1)).fenced);
  protocol::PartitionChangeRecord change;
  change.leader = 1;
  CHECK(s.apply(change).error().code == Errc::corrupt);  // no such topic
}

TEST_CASE("the_last_broker_may_shut_down_once_its_streams_are_closed_and_its_partitions_wait_offline") {
  Cluster k;
  k.live(1);
  REQUIRE(create_one(*k.c, "t", 2).error_code == ke::kNone);
  auto s0 = k.open_stream("t", 0, 1);
  CHECK_FALSE(k.heartbeat(1, false, true).should_shutdown);  // partition 0 is open: upload first
  CHECK(k.partition("t", 0).leader == NodeId(1));
  CHECK(k.partition("t", 1).leader == NodeId(1));  // nobody else could take it
  k.close_stream(s0);
  auto done = k.heartbeat(1, false, true);
  CHECK(done.should_shutdown);
  CHECK(k.partition("t", 0).leader == NodeId(kNoLeader));
  CHECK(k.partition("t", 1).leader == NodeId(kNoLeader));
  k.live(2);  // the next broker picks them up: everything was uploaded
  CHECK(k.partition("t", 0).leader == NodeId(2));
  CHECK(k.partition("t", 1).leader == NodeId(2));
}

TEST_CASE("the_leaders_session_timer_fences_a_silent_broker_by_itself") {
  TempDir dir;
  auto clock = std::make_shared<std::atomic<int64_t>>(0);
  auto options = single_node(dir.path);
  options.node_id = NodeId(100);
  options.broker_session_timeout_ms = 1000;
  options.session_check_interval_ms = 5;
  options.session_clock_ms = [clock] { return clock->load(); };
  auto c = open_controller(std::move(options));
  BrokerRegistration reg{NodeId(1), Uuid{}, {{"PLAINTEXT", "127.0.0.1", 9001}}, std::nullopt, {}};
  auto r = call<BrokerRegistrationReply>([&](auto cb) { c->register_broker(reg, cb); });
  BrokerHeartbeat hb{NodeId(1), r->broker_epoch, c->image()->offset, false, false};
  REQUIRE_FALSE(call<BrokerHeartbeatReply>([&](auto cb) { c->broker_heartbeat(hb, cb); })->is_fenced);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK_FALSE(c->image()->brokers.at(NodeId(1)).fenced);  // the clock has not moved
  *clock += 1001;
  bool fenced = false;
  for (int i = 0; i < 400 && !fenced; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    fenced = c->image()->brokers.at(NodeId(1)).fenced;
  }
  CHECK(fenced);
}

TEST_CASE("repairs_are_capped_per_entry_and_finish_on_the_next_pass") {
  Cluster k;
  k.live(1);
  REQUIRE(create_one(*k.c, "wide", 7).error_code == ke::kNone);
  k.live(2);
  MetadataState state;
  REQUIRE(state.apply_all(MetadataState{}.to_records()).ok());
  state.image = *k.image();
  state.streams = k.c->streams();
  state.image.brokers.at(NodeId(1)).fenced = true;
  auto first = repair_leaders(state, 3);
  CHECK(first.size() == 3);
  for (const auto& r : first) REQUIRE(state.apply(r).ok());
  auto rest = repair_leaders(state, 3);
  CHECK(rest.size() == 3);
  for (const auto& r : rest) REQUIRE(state.apply(r).ok());
  CHECK(repair_leaders(state, 3).size() == 1);
  for (const auto& r : repair_leaders(state, 3)) REQUIRE(state.apply(r).ok());
  CHECK(repair_leaders(state).empty());  // a fixed point
  for (const auto& p : state.image.topic("wide")->partitions) CHECK(p.leader == NodeId(2));
}

// --- AlterPartitionReassignments / ListPartitionReassignments (metadata/reassignment.h) ---
namespace {
std::vector<ReassignResult> reassign(Cluster& k, std::vector<PartitionReassignment> items) {
  auto r = call<std::vector<ReassignResult>>([&](auto cb) { k.c->alter_partition_reassignments(items, cb); });
  REQUIRE(r.ok());
  REQUIRE(r->size() == items.size());
  return *r;
}
std::vector<int32_t> one(int32_t broker) { return {broker}; }
}  // namespace

TEST_CASE("a_reassignment_is_listed_in_progress_until_the_target_opens_the_stream") {
  Cluster k;
  k.live(1);
  REQUIRE(create_one(*k.c, "t", 2).error_code == ke::kNone);
  k.live(2);
  auto first = k.open_stream("t", 0, 1);
  k.open_stream("t", 1, 1);
  CHECK(k.c->list_partition_reassignments(std::nullopt).empty());
  auto r = reassign(k, {{"t", 0, one(2)}});
  CHECK(r[0].error_code == ke::kNone);
  CHECK(r[0].leader_epoch == 1);
  CHECK(k.partition("t", 0).leader == NodeId(2));
  auto list = k.c->list_partition_reassignments(std::nullopt);
  REQUIRE(list.size() == 1);
  CHECK(list[0].topic == "t");
  CHECK(list[0].partition == 0);
  CHECK(list[0].target == NodeId(2));
  CHECK(list[0].source == NodeId(1));
  // A filter naming other partitions (or unknown topics) does not list it.
  CHECK(k.c->list_partition_reassignments(ReassignmentFilter{{{"t", {1}}, {"nope", {0}}}}).empty());
  CHECK(k.c->list_partition_reassignments(ReassignmentFilter{{{"t", {0, 7}}}}).size() == 1);
  // The old owner closes (uploaded), still in progress; the target opens: done.
  k.close_stream(first);
  CHECK(k.c->list_partition_reassignments(std::nullopt).size() == 1);
  k.open_stream("t", 0, 2);
  CHECK(k.c->list_partition_reassignments(std::nullopt).empty());
}

TEST_CASE("reassignment_requests_follow_kafkas_validation_with_one_copy_per_partition") {
  Cluster k;
  k.live(1);
  REQUIRE(create_one(*k.c, "t", 1).error_code == ke::kNone);
  k.live(2);
  k.register_broker(3);  // registered, fenced
  auto r = reassign(k, {{"t", 0, std::vector<int32_t>{1, 2}},
                        {"t", 0, std::vector<int32_t>{}},
                        {"t", 0, std::vector<int32_t>{2, 2}},
                        {"t", 0, one(9)},
                        {"t", 0, one(3)},
                        {"t", 5, one(2)},
                        {"x", 0, one(2)},
                        {"t", 0, std::nullopt},
                        {"t", 0, one(1)}});
  CHECK(r[0].error_code == ke::kInvalidReplicaAssignment);
  CHECK(r[0].error_message.find("one copy") != std::string::npos);
  CHECK(r[1].error_code == ke::kInvalidReplicaAssignment);  // empty
  CHECK(r[2].error_code == ke::kInvalidReplicaAssignment);  // twice
  CHECK(r[3].error_code == ke::kInvalidReplicaAssignment);  // not registered
  CHECK(r[3].error_message.find("no such broker is registered") != std::string::npos);
  CHECK(r[4].error_code == ke::kInvalidReplicaAssignment);  // fenced
  CHECK(r[5].error_code == ke::kUnknownTopicOrPartition);
  CHECK(r[6].error_code == ke::kUnknownTopicOrPartition);
  CHECK(r[7].error_code == ke::kNoReassignmentInProgress);  // nothing to cancel
  CHECK(r[8].error_code == ke::kNone);                      // already its leader: nothing changes
  CHECK(k.partition("t", 0).leader == NodeId(1));
  CHECK(k.partition("t", 0).leader_epoch == 0);
}

TEST_CASE("cancelling_a_reassignment_in_progress_gives_the_partition_back_to_its_stream_owner") {
  Cluster k;
  k.live(1);
  REQUIRE(create_one(*k.c, "t", 1).error_code == ke::kNone);
  k.live(2);
  k.open_stream("t", 0, 1);
  REQUIRE(reassign(k, {{"t", 0, one(2)}})[0].error_code == ke::kNone);
  CHECK(k.partition("t", 0).leader == NodeId(2));
  auto cancel = reassign(k, {{"t", 0, std::nullopt}});
  CHECK(cancel[0].error_code == ke::kNone);
  CHECK(k.partition("t", 0).leader == NodeId(1));
  CHECK(k.partition("t", 0).leader_epoch == 2);
  CHECK(k.c->list_partition_reassignments(std::nullopt).empty());
  CHECK(reassign(k, {{"t", 0, std::nullopt}})[0].error_code == ke::kNoReassignmentInProgress);
}
