#include "group_test_util.h"

using namespace floe;
using namespace floe::broker;
using namespace floe::broker::testing;

TEST_CASE("committed_offsets_are_fetched_back_with_metadata_and_leader_epoch") {
  Env env;
  env.start();
  auto j = env.join_alone("g");
  auto c = env.commit("g", j.generation, j.member_id, {{"t", 0, 100}, {"t", 1, 200}, {"u", 3, 7}});
  REQUIRE(c.topics.size() == 2);
  for (const auto& t : c.topics)
    for (const auto& p : t.partitions) CHECK(p.error_code == 0);
  CHECK(env.fetch_offset("g", "t", 0) == 100);
  CHECK(env.fetch_offset("g", "t", 1) == 200);
  CHECK(env.fetch_offset("g", "u", 3) == 7);
  CHECK(env.fetch_offset("g", "t", 2) == -1);      // never committed
  CHECK(env.fetch_offset("other", "t", 0) == -1);  // unknown group
  // Null topics (v2+): every committed offset of the group.
  OffsetFetchRequest all;
  all.group_id = "g";
  all.topics = std::nullopt;
  Pending<OffsetFetchResponse> p;
  env.gc->offset_fetch(all, 6, "c", "h", p.callback());
  auto r = p.get();
  REQUIRE(r.topics.size() == 2);
  CHECK(r.topics[0].name == "t");
  REQUIRE(r.topics[0].partitions.size() == 2);
  CHECK(r.topics[0].partitions[1].committed_offset == 200);
  CHECK(r.topics[0].partitions[1].committed_leader_epoch == 3);
  CHECK(r.topics[0].partitions[1].metadata == "md");
}

TEST_CASE("offset_fetch_v8_answers_several_groups_at_once") {
  Env env;
  env.start();
  env.commit("a", -1, "", {{"t", 0, 5}});
  env.commit("b", -1, "", {{"t", 0, 6}, {"t", 1, 7}});
  OffsetFetchRequest req;
  auto& ga = req.groups.emplace_back();
  ga.group_id = "a";
  auto& ta = ga.topics->emplace_back();
  ta.name = "t";
  ta.partition_indexes = {0, 1};
  auto& gb = req.groups.emplace_back();
  gb.group_id = "b";
  gb.topics = std::nullopt;  // all
  req.groups.emplace_back().group_id = "none";
  req.require_stable = true;
  Pending<OffsetFetchResponse> p;
  env.gc->offset_fetch(req, 8, "c", "h", p.callback());
  auto r = p.get();
  REQUIRE(r.groups.size() == 3);
  CHECK(r.groups[0].group_id == "a");
  REQUIRE(r.groups[0].topics.size() == 1);
  REQUIRE(r.groups[0].topics[0].partitions.size() == 2);
  CHECK(r.groups[0].topics[0].partitions[0].committed_offset == 5);
  CHECK(r.groups[0].topics[0].partitions[1].committed_offset == -1);
  REQUIRE(r.groups[1].topics.size() == 1);
  REQUIRE(r.groups[1].topics[0].partitions.size() == 2);
  CHECK(r.groups[1].topics[0].partitions[1].committed_offset == 7);
  CHECK(r.groups[2].error_code == 0);
  CHECK(r.groups[2].topics.empty());
}

TEST_CASE("simple_consumers_commit_with_generation_minus_one_into_a_group_without_members") {
  Env env;
  env.start();
  auto c = env.commit("standalone", -1, "", {{"t", 0, 42}});
  CHECK(c.topics[0].partitions[0].error_code == 0);
  CHECK(env.fetch_offset("standalone", "t", 0) == 42);
  // v0 has no generation at all.
  CHECK(env.commit("standalone", 0, "", {{"t", 1, 9}}, 0).topics[0].partitions[0].error_code == 0);
  CHECK(env.fetch_offset("standalone", "t", 1) == 9);
  // A group with members refuses commits from outside it.
  env.join_alone("managed");
  CHECK(env.commit("managed", -1, "", {{"t", 0, 1}}).topics[0].partitions[0].error_code == ke::kUnknownMemberId);
  // No such group and a real generation: a stale member.
  CHECK(env.commit("ghost", 3, "m", {{"t", 0, 1}}).topics[0].partitions[0].error_code == ke::kIllegalGeneration);
}

TEST_CASE("offset_commit_reports_unknown_partitions_and_oversized_metadata_per_partition") {
  Env env;
  env.options.offset_metadata_max_bytes = 10;
  env.start();
  auto c = env.commit("g", -1, "", {{"missing", 0, 1}, {"t", 99, 1}}, 8, "short");
  CHECK(c.topics[0].partitions[0].error_code == ke::kUnknownTopicOrPartition);
  CHECK(c.topics[1].partitions[0].error_code == ke::kUnknownTopicOrPartition);
  auto big = env.commit("g", -1, "", {{"t", 0, 1}}, 8, std::string(11, 'x'));
  CHECK(big.topics[0].partitions[0].error_code == ke::kOffsetMetadataTooLarge);
  CHECK(env.fetch_offset("g", "t", 0) == -1);
}

TEST_CASE("commits_during_a_rebalance_follow_kafkas_rules") {
  Env env;
  env.start();
  auto j = env.join_alone("g");
  // CompletingRebalance: a second member joined, the generation is not assigned yet.
  auto id2 = env.member_id_for("g");
  auto second = env.join_async(env.join_request("g", id2));
  auto first = env.join(env.join_request("g", j.member_id));
  auto r2 = second.get();
  REQUIRE(first.generation_id == j.generation + 1);
  auto c = env.commit("g", first.generation_id, j.member_id, {{"t", 0, 1}});
  CHECK(c.topics[0].partitions[0].error_code == ke::kRebalanceInProgress);
  (void)r2;
}

TEST_CASE("delete_groups_removes_empty_groups_and_refuses_non_empty_ones") {
  Env env;
  env.start();
  env.join_alone("busy");
  env.commit("idle", -1, "", {{"t", 0, 5}});
  auto r = env.delete_groups({"busy", "idle", "unknown", ""});
  REQUIRE(r.results.size() == 4);
  CHECK(r.results[0].error_code == ke::kNonEmptyGroup);
  CHECK(r.results[1].error_code == 0);
  CHECK(r.results[2].error_code == ke::kGroupIdNotFound);
  CHECK(r.results[3].error_code == ke::kInvalidGroupId);
  CHECK(env.fetch_offset("idle", "t", 0) == -1);
  CHECK(env.delete_groups({"idle"}).results[0].error_code == ke::kGroupIdNotFound);
  // A deleted group stays deleted across a restart.
  env.restart();
  CHECK(env.fetch_offset("idle", "t", 0) == -1);
  CHECK(env.describe("idle").group_state == "Dead");
}

TEST_CASE("offset_delete_refuses_topics_the_group_consumes") {
  Env env;
  env.start();
  auto j = env.join_alone("g", {"consumed"});
  env.commit("g", j.generation, j.member_id, {{"consumed", 0, 1}, {"old", 0, 2}});
  OffsetDeleteRequest req;
  req.group_id = "g";
  for (const char* t : {"consumed", "old"}) {
    auto& rt = req.topics.emplace_back();
    rt.name = t;
    rt.partitions.emplace_back().partition_index = 0;
  }
  Pending<OffsetDeleteResponse> p;
  env.gc->offset_delete(req, 0, "c", "h", p.callback());
  auto r = p.get();
  CHECK(r.error_code == 0);
  CHECK(r.topics[0].partitions[0].error_code == ke::kGroupSubscribedToTopic);
  CHECK(r.topics[1].partitions[0].error_code == 0);
  CHECK(env.fetch_offset("g", "consumed", 0) == 1);
  CHECK(env.fetch_offset("g", "old", 0) == -1);
  OffsetDeleteRequest none;
  none.group_id = "nope";
  Pending<OffsetDeleteResponse> q;
  env.gc->offset_delete(none, 0, "c", "h", q.callback());
  CHECK(q.get().error_code == ke::kGroupIdNotFound);
}

TEST_CASE("offsets_expire_retention_after_the_group_became_empty") {
  Env env;
  auto clock = std::make_shared<std::atomic<int64_t>>(1'000'000);
  env.options.now_ms = [clock] { return clock->load(); };
  env.options.offsets_retention_ms = 60'000;
  env.options.offsets_retention_check_interval_ms = 20;
  env.start();
  auto j = env.join_alone("consumers");
  env.commit("consumers", j.generation, j.member_id, {{"t", 0, 10}});
  env.commit("simple", -1, "", {{"t", 0, 20}});
  // The retention check runs on the coordinator's timer: wait (bounded) for the pass that
  // expires an offset rather than assuming it ran within some fixed time.
  auto expired_within_10s = [&](const std::string& group) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (env.fetch_offset(group, "t", 0) != -1 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return env.fetch_offset(group, "t", 0) == -1;
  };
  // The consumer group still has a member: its offsets stay however old they are.
  clock->fetch_add(120'000);
  CHECK(expired_within_10s("simple"));  // aged from its commit...
  CHECK(env.fetch_offset("consumers", "t", 0) == 10);  // ...in the same pass that kept these
  // Once the group is empty its offsets last retention from then on.
  env.leave("consumers", j.member_id);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (env.describe("consumers").group_state != "Empty" && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(env.describe("consumers").group_state == "Empty");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a few retention passes
  CHECK(env.fetch_offset("consumers", "t", 0) == 10);
  clock->fetch_add(61'000);
  CHECK(expired_within_10s("consumers"));
  CHECK(env.describe("consumers").group_state == "Dead");
  env.restart();
  CHECK(env.fetch_offset("consumers", "t", 0) == -1);
  CHECK(env.list().groups.empty());
}
