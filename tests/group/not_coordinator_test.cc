// A broker that is not the group coordinator answers every group API with NOT_COORDINATOR where
// the API carries an error (so the client re-finds the coordinator), and ListGroups with no groups.
#include <catch2/catch.hpp>

#include "group/group_coordinator.h"
#include "protocol/errors.h"

using namespace floe;
using namespace floe::broker;
namespace kerr = floe::protocol::kerr;

TEST_CASE("join_sync_heartbeat_leave_get_not_coordinator_from_a_broker_that_is_not_it") {
  protocol::JoinGroupRequest join;
  join.group_id = "g";
  for (int16_t v : {0, 5, 9}) {
    auto r = not_coordinator_answer(join, v);
    CHECK(r.error_code == kerr::kNotCoordinator);
    CHECK(r.generation_id == -1);
  }
  CHECK(not_coordinator_answer(protocol::SyncGroupRequest{}, 5).error_code == kerr::kNotCoordinator);
  CHECK(not_coordinator_answer(protocol::HeartbeatRequest{}, 4).error_code == kerr::kNotCoordinator);
  CHECK(not_coordinator_answer(protocol::LeaveGroupRequest{}, 5).error_code == kerr::kNotCoordinator);
}

TEST_CASE("offset_commit_to_a_broker_that_is_not_the_coordinator_fails_every_partition_with_not_coordinator") {
  protocol::OffsetCommitRequest req;
  req.group_id = "g";
  auto& t = req.topics.emplace_back();
  t.name = "t";
  t.partitions.emplace_back().partition_index = 0;
  t.partitions.emplace_back().partition_index = 3;
  auto r = not_coordinator_answer(req, 8);
  REQUIRE(r.topics.size() == 1);
  CHECK(r.topics[0].name == "t");
  REQUIRE(r.topics[0].partitions.size() == 2);
  CHECK(r.topics[0].partitions[1].partition_index == 3);
  for (const auto& p : r.topics[0].partitions) CHECK(p.error_code == kerr::kNotCoordinator);
}

TEST_CASE("offset_fetch_from_a_broker_that_is_not_the_coordinator_says_not_coordinator_per_group_from_v8") {
  protocol::OffsetFetchRequest req;
  req.group_id = "g";
  CHECK(not_coordinator_answer(req, 7).error_code == kerr::kNotCoordinator);
  req.groups.emplace_back().group_id = "a";
  req.groups.emplace_back().group_id = "b";
  auto r = not_coordinator_answer(req, 8);
  REQUIRE(r.groups.size() == 2);
  CHECK(r.groups[1].group_id == "b");
  for (const auto& g : r.groups) CHECK(g.error_code == kerr::kNotCoordinator);
}

TEST_CASE("describe_and_delete_groups_on_a_broker_that_is_not_the_coordinator_answer_not_coordinator_per_group") {
  protocol::DescribeGroupsRequest d;
  d.groups = {"a", "b"};
  auto dr = not_coordinator_answer(d, 5);
  REQUIRE(dr.groups.size() == 2);
  CHECK(dr.groups[0].group_id == "a");
  for (const auto& g : dr.groups) CHECK(g.error_code == kerr::kNotCoordinator);
  protocol::DeleteGroupsRequest del;
  del.groups_names = {"a"};
  auto delr = not_coordinator_answer(del, 2);
  REQUIRE(delr.results.size() == 1);
  CHECK(delr.results[0].error_code == kerr::kNotCoordinator);
  CHECK(not_coordinator_answer(protocol::OffsetDeleteRequest{}, 0).error_code == kerr::kNotCoordinator);
}

TEST_CASE("list_groups_on_a_broker_that_coordinates_none_lists_nothing_without_error") {
  auto r = not_coordinator_answer(protocol::ListGroupsRequest{}, 4);
  CHECK(r.error_code == kerr::kNone);
  CHECK(r.groups.empty());
}
