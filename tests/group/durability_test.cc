#include "group_test_util.h"

using namespace floe;
using namespace floe::broker;
using namespace floe::broker::testing;

TEST_CASE("groups_and_offsets_survive_a_restart") {
  Env env;
  env.start();
  auto j = env.join_alone("g");
  auto sreq = env.join_request("s", "");
  sreq.group_instance_id = "static-1";
  auto sj = env.join(sreq);
  REQUIRE(env.sync("s", sj.generation_id, sj.member_id, {{sj.member_id, "static-assignment"}}).error_code == 0);
  for (int i = 0; i < 20; ++i) env.commit("g", j.generation, j.member_id, {{"t", i % 4, 100 + i}});
  env.commit("simple", -1, "", {{"u", 0, 77}});

  env.restart();

  CHECK(env.fetch_offset("g", "t", 0) == 116);
  CHECK(env.fetch_offset("g", "t", 3) == 119);
  CHECK(env.fetch_offset("simple", "u", 0) == 77);
  auto d = env.describe("g");
  CHECK(d.group_state == "Stable");
  REQUIRE(d.members.size() == 1);
  CHECK(d.members[0].member_id == j.member_id);
  CHECK(str(d.members[0].member_assignment) == "a");
  // The member carries on in the same generation, as if nothing happened.
  CHECK(env.heartbeat("g", j.generation, j.member_id) == 0);
  auto s = env.sync("g", j.generation, j.member_id);
  CHECK(s.error_code == 0);
  CHECK(str(s.assignment) == "a");
  CHECK(env.commit("g", j.generation, j.member_id, {{"t", 0, 500}}).topics[0].partitions[0].error_code == 0);
  // The static member's instance is known: a restart of it takes over without a rebalance.
  auto again = env.join(sreq);
  CHECK(again.error_code == 0);
  CHECK(again.generation_id == sj.generation_id);
  CHECK(env.heartbeat("s", sj.generation_id, sj.member_id, "static-1") == ke::kFencedInstanceId);

  env.restart();
  CHECK(env.fetch_offset("g", "t", 0) == 500);
  CHECK(env.describe("s").members.at(0).member_id == again.member_id);
}

TEST_CASE("a_group_that_emptied_comes_back_empty_with_its_generation") {
  Env env;
  env.start();
  auto j = env.join_alone("g");
  env.commit("g", j.generation, j.member_id, {{"t", 0, 3}});
  env.leave("g", j.member_id);
  // The leave completes a rebalance into Empty (generation + 1), which is persisted.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (env.describe("g").group_state != "Empty" && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  env.restart();
  auto d = env.describe("g");
  CHECK(d.group_state == "Empty");
  CHECK(d.members.empty());
  CHECK(env.fetch_offset("g", "t", 0) == 3);
  // The next generation continues from the persisted one.
  auto next = env.join_alone("g");
  CHECK(next.generation == j.generation + 2);
}

TEST_CASE("members_restored_by_a_restart_still_expire_without_heartbeats") {
  Env env;
  env.start();
  auto id = env.member_id_for("g");
  auto r = env.join(env.join_request("g", id, {"t"}, 200));
  REQUIRE(env.sync("g", r.generation_id, id, {{id, "x"}}).error_code == 0);
  env.restart();
  CHECK(env.describe("g").group_state == "Stable");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (env.describe("g").group_state != "Empty" && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(env.describe("g").group_state == "Empty");
}

TEST_CASE("compaction_snapshots_live_state_trims_the_stream_and_keeps_every_offset") {
  Env env;
  env.options.compaction_threshold_records = 50;
  env.start();
  auto j = env.join_alone("g");
  // Many commits of few partitions: the log grows, the live state does not.
  for (int i = 0; i < 400; ++i) {
    auto c = env.commit("g", j.generation, j.member_id, {{"t", i % 5, i}});
    REQUIRE(c.topics[0].partitions[0].error_code == 0);
  }
  env.commit("other", -1, "", {{"u", 1, 1234}});
  auto stats = env.gc->stats();
  CHECK(stats.compactions >= 1);
  CHECK(stats.stream_records <= 6 + 1 + 50 + 5);  // live (5 + 1 offsets, 1 group) + threshold + slack
  CHECK(stats.offsets == 6);
  for (int p = 0; p < 5; ++p) CHECK(env.fetch_offset("g", "t", p) == 395 + p);

  env.restart();
  CHECK(env.gc->stats().loaded_records < 100);
  for (int p = 0; p < 5; ++p) CHECK(env.fetch_offset("g", "t", p) == 395 + p);
  CHECK(env.fetch_offset("other", "u", 1) == 1234);
  auto d = env.describe("g");
  CHECK(d.group_state == "Stable");
  REQUIRE(d.members.size() == 1);
  CHECK(str(d.members[0].member_assignment) == "a");
}

TEST_CASE("requests_during_load_get_coordinator_load_in_progress") {
  Env env;
  env.start();
  for (int i = 0; i < 50; ++i) env.commit("g", -1, "", {{"t", 0, i}});
  env.stop();
  env.h.restart();
  env.stream = env.h.open(env.stream_id);
  env.gc = std::make_unique<GroupCoordinator>(env.options, env.stream);
  // Not started: nothing loaded yet.
  CHECK_FALSE(env.gc->loaded());
  Pending<Status> loaded;
  env.gc->start(loaded.callback());
  // A request racing the load is either refused as loading or served after it: never wrong.
  auto early = env.commit("g", -1, "", {{"t", 1, 1}});
  int16_t e = early.topics[0].partitions[0].error_code;
  CHECK((e == 0 || e == ke::kCoordinatorLoadInProgress));
  REQUIRE(loaded.get().ok());
  CHECK(env.fetch_offset("g", "t", 0) == 49);
}

TEST_CASE("a_fenced_stream_turns_commits_into_not_coordinator") {
  Env env;
  env.start();
  env.commit("g", -1, "", {{"t", 0, 1}});
  // Another owner opens the stream: our appends are refused from the next upload on.
  REQUIRE(stream::testing::sync<stream::StreamInfo>([&](auto cb) {
            env.h.meta->open_stream(env.stream_id, NodeId(2), cb);
          }).ok());
  env.h.flush();
  auto c = env.commit("g", -1, "", {{"t", 0, 2}});
  CHECK(c.topics[0].partitions[0].error_code == ke::kNotCoordinator);
  CHECK(env.fetch_offset("g", "t", 0) == 1);  // memory holds only what is durable
}

TEST_CASE("stop_answers_waiting_joins_with_not_coordinator") {
  Env env;
  env.options.initial_rebalance_delay_ms = 60000;
  env.start();
  auto waiting = env.join_async(env.join_request("g", ""), 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  env.gc->stop();
  REQUIRE(waiting.ready(1000));
  CHECK(waiting.get().error_code == ke::kNotCoordinator);
  Pending<HeartbeatResponse> after;
  env.gc->heartbeat(HeartbeatRequest{}, 0, "c", "h", after.callback());
  CHECK(after.get().error_code == ke::kNotCoordinator);
}

TEST_CASE("requests_racing_stop_are_each_answered_exactly_once") {
  // Senders keep calling while stop() runs: every request gets one answer (served, or
  // NOT_COORDINATOR / no groups) and none is dropped when the coordinator's thread ends. A
  // fourth thread keeps asking for stats(), which blocks on the coordinator's thread: each call
  // returns (a snapshot before the stop, an empty one after), none hangs on a thread that ended.
  for (int round = 0; round < 20; ++round) {
    Env env;
    env.start();
    env.commit("g", -1, "", {{"t", 0, 1}});
    std::atomic<int> sent{0}, answered{0};
    std::atomic<int> stats_calls{0}, stats_with_group{0}, stats_empty{0};
    std::atomic<bool> go{true};
    std::atomic<int> running{0};
    std::vector<std::thread> senders;
    for (int t = 0; t < 4; ++t) {
      senders.emplace_back([&, t] {
        ++running;
        while (go) {
          if (t == 3) {
            const GroupCoordinatorStats st = env.gc->stats();
            ++stats_calls;
            if (st.groups == 1) ++stats_with_group;
            if (st.groups == 0 && st.offsets == 0) ++stats_empty;
            continue;
          }
          ++sent;
          auto count = [&answered](auto) { ++answered; };
          if (t == 0) env.gc->heartbeat(HeartbeatRequest{}, 0, "c", "h", count);
          if (t == 1) env.gc->list_groups(ListGroupsRequest{}, 3, "c", "h", count);
          if (t == 2) {
            OffsetFetchRequest req;
            req.group_id = "g";
            env.gc->offset_fetch(req, 5, "c", "h", count);
          }
        }
      });
    }
    while (running.load() < 4) std::this_thread::yield();  // every thread races the stop
    std::this_thread::sleep_for(std::chrono::milliseconds(round % 5));
    env.gc->stop();
    go = false;
    for (auto& s : senders) s.join();
    CHECK(answered.load() == sent.load());
    // Every stats() call returned (the join above), with the one group or, once stopped, nothing.
    CHECK(stats_with_group.load() + stats_empty.load() == stats_calls.load());
    CHECK(env.gc->stats().groups == 0);  // a stopped coordinator reports nothing, and never hangs
  }
}
