#include "group_test_util.h"

using namespace floe;
using namespace floe::broker;
using namespace floe::broker::testing;

TEST_CASE("one_member_joins_syncs_and_the_group_is_stable") {
  Env env;
  env.start();
  auto j = env.join_alone("g");
  CHECK(j.generation == 1);
  auto d = env.describe("g");
  CHECK(d.group_state == "Stable");
  CHECK(d.protocol_type == "consumer");
  CHECK(d.protocol_data == "range");
  REQUIRE(d.members.size() == 1);
  CHECK(str(d.members[0].member_assignment) == "a");
  CHECK(env.heartbeat("g", j.generation, j.member_id) == 0);
}

TEST_CASE("member_id_is_required_from_v4_but_not_before") {
  Env env;
  env.start();
  auto r = env.join(env.join_request("g", ""), 4);
  CHECK(r.error_code == ke::kMemberIdRequired);
  CHECK_FALSE(r.member_id.empty());
  // v3: the member gets its id with the join itself.
  auto r3 = env.join(env.join_request("h", ""), 3);
  CHECK(r3.error_code == 0);
  CHECK_FALSE(r3.member_id.empty());
  CHECK(r3.leader == r3.member_id);
  // An id that the coordinator never handed out is unknown.
  CHECK(env.join(env.join_request("g", "made-up")).error_code == ke::kUnknownMemberId);
}

namespace {

// n members join one group; returns their join responses (all of one generation).
std::vector<JoinGroupResponse> join_many(Env& env, const std::string& group, int n) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back(env.member_id_for(group));
  std::vector<Pending<JoinGroupResponse>> pending;
  for (auto& id : ids) pending.push_back(env.join_async(env.join_request(group, id)));
  std::vector<JoinGroupResponse> out;
  for (auto& p : pending) out.push_back(p.get());
  return out;
}

// Everyone syncs; the leader hands each member its own id as the assignment.
void sync_all(Env& env, const std::string& group, const std::vector<JoinGroupResponse>& joins) {
  std::vector<Pending<SyncGroupResponse>> pending;
  for (const auto& j : joins) {
    std::vector<std::pair<std::string, std::string>> assignments;
    for (const auto& m : j.members) assignments.emplace_back(m.member_id, "for-" + m.member_id);
    pending.push_back(env.sync_async(group, j.generation_id, j.member_id, assignments));
  }
  for (size_t i = 0; i < joins.size(); ++i) {
    auto s = pending[i].get();
    REQUIRE(s.error_code == 0);
    CHECK(str(s.assignment) == "for-" + joins[i].member_id);
    CHECK(s.protocol_name == "range");
  }
}

}  // namespace

TEST_CASE("three_members_form_one_generation_with_one_leader_who_gets_the_metadata") {
  Env env;
  env.start();
  auto joins = join_many(env, "g", 3);
  int leaders = 0;
  for (const auto& j : joins) {
    REQUIRE(j.error_code == 0);
    CHECK(j.generation_id == joins[0].generation_id);
    CHECK(j.leader == joins[0].leader);
    CHECK(j.protocol_name == "range");
    if (j.member_id == j.leader) {
      ++leaders;
      CHECK(j.members.size() == 3);
      for (const auto& m : j.members) CHECK(m.metadata == subscription({"t"}));
    } else {
      CHECK(j.members.empty());
    }
  }
  CHECK(leaders == 1);
  sync_all(env, "g", joins);
  CHECK(env.describe("g").group_state == "Stable");
}

TEST_CASE("fifty_members_join_in_one_rebalance") {
  Env env;
  env.options.initial_rebalance_delay_ms = 1000;  // the 50 first joins arrive inside the delay, even on a loaded machine
  env.start();
  auto joins = join_many(env, "big", 50);
  std::set<std::string> ids;
  for (const auto& j : joins) {
    REQUIRE(j.error_code == 0);
    CHECK(j.generation_id == 1);
    ids.insert(j.member_id);
  }
  CHECK(ids.size() == 50);
  sync_all(env, "big", joins);
  CHECK(env.describe("big").members.size() == 50);
}

TEST_CASE("a_leaving_member_triggers_a_rebalance_and_the_rest_rejoin") {
  Env env;
  env.start();
  auto joins = join_many(env, "g", 3);
  sync_all(env, "g", joins);
  int32_t gen = joins[0].generation_id;
  const std::string leaving = joins[1].member_id;
  auto left = env.leave("g", leaving);
  REQUIRE(left.members.size() == 1);
  CHECK(left.members[0].error_code == 0);
  CHECK(env.describe("g").group_state == "PreparingRebalance");
  // The others learn of the rebalance through their heartbeat and rejoin.
  CHECK(env.heartbeat("g", gen, joins[0].member_id) == ke::kRebalanceInProgress);
  auto a = env.join_async(env.join_request("g", joins[0].member_id));
  auto b = env.join_async(env.join_request("g", joins[2].member_id));
  auto ra = a.get(), rb = b.get();
  CHECK(ra.generation_id == gen + 1);
  CHECK(rb.generation_id == gen + 1);
  sync_all(env, "g", {ra, rb});
  CHECK(env.describe("g").members.size() == 2);
  // The one that left is unknown now; v0-2 carry the error at the top.
  CHECK(env.leave("g", leaving, 1).error_code == ke::kUnknownMemberId);
}

TEST_CASE("a_member_without_heartbeats_expires_after_its_session_timeout") {
  Env env;
  env.start();
  auto stay_id = env.member_id_for("g");
  auto quiet_id = env.member_id_for("g");
  // The member that stays has a long session (a test thread descheduled for 400 ms on a loaded
  // machine must not expire it too); the quiet one's is short.
  auto a = env.join_async(env.join_request("g", stay_id, {"t"}, 30000));
  auto b = env.join_async(env.join_request("g", quiet_id, {"t"}, 400));
  auto ra = a.get(), rb = b.get();
  sync_all(env, "g", {ra, rb});
  // Only one member keeps heartbeating.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int16_t hb = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    hb = env.heartbeat("g", ra.generation_id, stay_id);
    if (hb == ke::kRebalanceInProgress) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(hb == ke::kRebalanceInProgress);
  auto again = env.join(env.join_request("g", stay_id, {"t"}, 30000));
  CHECK(again.error_code == 0);
  CHECK(again.generation_id == ra.generation_id + 1);
  CHECK(again.members.size() == 1);
  CHECK(env.heartbeat("g", again.generation_id, quiet_id) == ke::kUnknownMemberId);
}

TEST_CASE("the_rebalance_timeout_drops_members_that_do_not_rejoin") {
  Env env;
  env.start();
  std::vector<std::string> ids = {env.member_id_for("g"), env.member_id_for("g")};
  auto a = env.join_async(env.join_request("g", ids[0], {"t"}, 10000, 300));
  auto b = env.join_async(env.join_request("g", ids[1], {"t"}, 10000, 300));
  auto ra = a.get(), rb = b.get();
  sync_all(env, "g", {ra, rb});
  // The first member rejoins (say, its subscription changed); the second never does.
  auto start = std::chrono::steady_clock::now();
  auto r = env.join(env.join_request("g", ids[0], {"t", "u"}, 10000, 300));
  auto waited = std::chrono::steady_clock::now() - start;
  CHECK(waited >= std::chrono::milliseconds(250));
  REQUIRE(r.error_code == 0);
  CHECK(r.generation_id == ra.generation_id + 1);
  REQUIRE(r.members.size() == 1);
  CHECK(r.members[0].member_id == ids[0]);
  CHECK(env.heartbeat("g", rb.generation_id, ids[1]) == ke::kUnknownMemberId);
}

TEST_CASE("a_static_member_rejoins_without_a_rebalance_and_its_old_id_is_fenced") {
  Env env;
  env.start();
  auto req = env.join_request("g", "");
  req.group_instance_id = "instance-1";
  auto first = env.join(req);  // static members skip MEMBER_ID_REQUIRED
  REQUIRE(first.error_code == 0);
  auto s = env.sync("g", first.generation_id, first.member_id, {{first.member_id, "mine"}});
  REQUIRE(s.error_code == 0);
  // The same instance restarts: a new member id, same generation, no rebalance.
  auto second = env.join(req);
  REQUIRE(second.error_code == 0);
  CHECK(second.member_id != first.member_id);
  CHECK(second.generation_id == first.generation_id);
  CHECK(second.skip_assignment == false);  // v7 has no skip_assignment field
  CHECK(env.describe("g").group_state == "Stable");
  auto s2 = env.sync("g", second.generation_id, second.member_id);
  CHECK(s2.error_code == 0);
  CHECK(str(s2.assignment) == "mine");
  // The old incarnation is fenced everywhere.
  CHECK(env.heartbeat("g", first.generation_id, first.member_id, "instance-1") == ke::kFencedInstanceId);
  auto old_join = first.member_id;
  auto rejoin_old = env.join_request("g", old_join);
  rejoin_old.group_instance_id = "instance-1";
  CHECK(env.join(rejoin_old).error_code == ke::kFencedInstanceId);
  CHECK(env.heartbeat("g", second.generation_id, second.member_id, "instance-1") == 0);
  // v9: the rejoining leader is told it need not assign again.
  auto third = env.join(req, 9);
  CHECK(third.error_code == 0);
  CHECK(third.skip_assignment);
  CHECK(third.members.size() == 1);
}

TEST_CASE("a_member_without_a_common_protocol_is_rejected") {
  Env env;
  env.start();
  env.join_alone("g");
  auto id = env.member_id_for("g");
  auto r = env.join_request("g", id);
  r.protocols[0].name = "roundrobin";
  CHECK(env.join(r).error_code == ke::kInconsistentGroupProtocol);
  auto other_type = env.join_request("g", "");
  other_type.protocol_type = "connect";
  CHECK(env.join(other_type).error_code == ke::kInconsistentGroupProtocol);
}

TEST_CASE("stale_generations_are_illegal") {
  Env env;
  env.start();
  auto j = env.join_alone("g");
  CHECK(env.heartbeat("g", j.generation + 1, j.member_id) == ke::kIllegalGeneration);
  CHECK(env.sync("g", j.generation - 1, j.member_id).error_code == ke::kIllegalGeneration);
  auto c = env.commit("g", j.generation + 5, j.member_id, {{"t", 0, 10}});
  CHECK(c.topics[0].partitions[0].error_code == ke::kIllegalGeneration);
  CHECK(env.heartbeat("nope", 1, "x") == ke::kUnknownMemberId);
}

TEST_CASE("invalid_session_timeouts_and_group_ids_are_rejected") {
  Env env;
  env.options.min_session_timeout_ms = 1000;
  env.options.max_session_timeout_ms = 5000;
  env.start();
  CHECK(env.join(env.join_request("g", "", {"t"}, 999)).error_code == ke::kInvalidSessionTimeout);
  CHECK(env.join(env.join_request("g", "", {"t"}, 5001)).error_code == ke::kInvalidSessionTimeout);
  CHECK(env.join(env.join_request("", "", {"t"}, 2000)).error_code == ke::kInvalidGroupId);
}

TEST_CASE("group_max_size_bounds_the_members") {
  Env env;
  env.options.group_max_size = 2;
  env.start();
  env.member_id_for("g");
  env.member_id_for("g");
  CHECK(env.join(env.join_request("g", "")).error_code == ke::kGroupMaxSizeReached);
}

TEST_CASE("the_initial_rebalance_delay_gathers_the_first_members") {
  Env env;
  env.options.initial_rebalance_delay_ms = 2000;  // long enough that b arrives inside it on a loaded machine
  env.start();
  auto a = env.join_async(env.join_request("g", ""), 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a join without the delay would be answered by now
  CHECK_FALSE(a.ready());
  auto b = env.join_async(env.join_request("g", ""), 3);
  auto ra = a.get(), rb = b.get();
  CHECK(ra.generation_id == 1);
  CHECK(rb.generation_id == 1);
  CHECK(ra.leader == rb.leader);
}

TEST_CASE("list_and_describe_report_states_and_honour_the_states_filter") {
  Env env;
  env.start();
  env.join_alone("stable-group");
  env.commit("offsets-only", -1, "", {{"t", 0, 1}});
  auto pending = env.join_async(env.join_request("preparing", "", {"t"}), 3);  // completes at once (delay 0)
  pending.get();
  auto all = env.list();
  std::map<std::string, std::string> states;
  for (const auto& g : all.groups) states[g.group_id] = g.group_state;
  CHECK(states["stable-group"] == "Stable");
  CHECK(states["offsets-only"] == "Empty");
  CHECK(states["preparing"] == "CompletingRebalance");
  auto stable = env.list({"stable"});
  REQUIRE(stable.groups.size() == 1);
  CHECK(stable.groups[0].group_id == "stable-group");
  CHECK(env.list({"Empty", "CompletingRebalance"}).groups.size() == 2);
  auto unknown = env.describe("unknown");
  CHECK(unknown.error_code == 0);
  CHECK(unknown.group_state == "Dead");
  CHECK(env.describe("unknown", 6).error_code == ke::kGroupIdNotFound);
  auto d = env.describe("preparing");
  CHECK(d.group_state == "CompletingRebalance");
  REQUIRE(d.members.size() == 1);
  CHECK(d.members[0].member_metadata.empty());  // metadata only once Stable
  CHECK(d.members[0].client_id == "client");
}

TEST_CASE("the_protocol_is_chosen_by_the_members_votes_among_those_all_support") {
  Env env;
  env.start();
  auto with = [&](std::vector<std::string> names) {
    auto r = env.join_request("g", "");
    r.protocols.clear();
    for (auto& n : names) {
      auto& p = r.protocols.emplace_back();
      p.name = n;
      p.metadata = subscription({"t"});
    }
    return r;
  };
  // "sticky" is not supported by everyone; of the rest, two prefer roundrobin, one range.
  auto a = env.join_async(with({"range", "roundrobin", "sticky"}), 3);
  auto b = env.join_async(with({"roundrobin", "range"}), 3);
  auto c = env.join_async(with({"sticky", "roundrobin", "range"}), 3);
  for (auto* p : {&a, &b, &c}) {
    auto r = p->get();
    REQUIRE(r.error_code == 0);
    CHECK(r.protocol_name == "roundrobin");
  }
}

TEST_CASE("a_member_id_handed_out_but_never_used_expires_and_does_not_block_the_join") {
  Env env;
  env.start();
  auto j = env.join_alone("g");
  // A second consumer gets its id (MEMBER_ID_REQUIRED) and vanishes; the leader rejoins. The
  // pending id expires 300 ms after the coordinator handed it out, which is after `start`: the
  // rejoin, which waits for it, cannot finish earlier however slow this thread is.
  auto start = std::chrono::steady_clock::now();
  auto r = env.join(env.join_request("g", "", {"t"}, 300));
  REQUIRE(r.error_code == ke::kMemberIdRequired);
  auto again = env.join(env.join_request("g", j.member_id));
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(250));
  CHECK(again.error_code == 0);
  CHECK(again.members.size() == 1);
}

TEST_CASE("heartbeats_between_join_and_sync_are_accepted") {
  Env env;
  env.start();
  auto id = env.member_id_for("g");
  auto r = env.join(env.join_request("g", id));
  CHECK(env.describe("g").group_state == "CompletingRebalance");
  CHECK(env.heartbeat("g", r.generation_id, id) == 0);
  // A follower's sync waits for the leader's; here the leader is the only member.
  auto s = env.sync("g", r.generation_id, id, {{id, "x"}});
  CHECK(str(s.assignment) == "x");
}
