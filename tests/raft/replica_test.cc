// RaftReplica, one rule at a time, driven by hand (the simulator checks them all together).
#include "raft/replica.h"

#include <catch2/catch.hpp>

#include "raft/memory_log.h"

using namespace floe::raft;

namespace {

// Captures sent messages; randomness fixed at 0 so timeouts are exactly election_timeout_ms.
struct CapturingIo final : RaftIo {
  std::vector<std::pair<NodeId, RaftMessage>> sent;
  std::function<void(NodeId, const RaftMessage&)> on_send;
  void send(NodeId to, RaftMessage message) override {
    if (on_send) on_send(to, message);
    sent.emplace_back(to, std::move(message));
  }
  uint64_t random_u64() override { return 0; }

  template <typename T>
  std::vector<std::pair<NodeId, T>> take() {
    std::vector<std::pair<NodeId, T>> out;
    for (auto& [to, message] : sent) {
      if (auto* m = std::get_if<T>(&message)) out.emplace_back(to, *m);
    }
    sent.clear();
    return out;
  }
};

struct Harness {
  CapturingIo io;
  MemoryLog log;
  MemoryQuorumStateStore store;
  RaftConfig config;
  std::unique_ptr<RaftReplica> replica;

  explicit Harness(NodeId id, std::vector<Epoch> log_epochs = {}) {
    config.node_id = id;
    config.voters = {1, 2, 3};
    for (Epoch e : log_epochs) log.append(LogEntry{e, false, "x"});
    (void)log.sync();
    // A log with entries of epoch e implies the replica has lived through epoch e.
    if (!log_epochs.empty()) (void)store.save(QuorumState{log_epochs.back(), kNoNode, kNoNode});
    replica = std::make_unique<RaftReplica>(config, io, log, store, 0);
  }

  // Drives node `config.node_id` through pre-vote and vote to leadership with node 2's help.
  void elect() {
    replica->tick(config.election_timeout_ms);
    REQUIRE(replica->role() == Role::prospective);
    replica->handle(2, VoteResponse{replica->epoch(), kNoNode, true, true, replica->epoch() + 1}, 1001);
    REQUIRE(replica->role() == Role::candidate);
    replica->handle(2, VoteResponse{replica->epoch(), kNoNode, true, false, replica->epoch()}, 1002);
    REQUIRE(replica->role() == Role::leader);
  }
};

}  // namespace

TEST_CASE("quorum_voters_parse_the_kafka_format_and_reject_garbage") {
  auto voters = parse_quorum_voters("1@localhost:9093,2@10.0.0.2:9093,3@[::1]:9094");
  REQUIRE(voters.ok());
  REQUIRE(voters->size() == 3);
  CHECK(voters->at(1).id == 2);
  CHECK(voters->at(1).host == "10.0.0.2");
  CHECK(voters->at(2).host == "[::1]");
  CHECK(voters->at(2).port == 9094);
  for (const char* bad : {"", "1@host", "x@host:1", "1@host:0", "1@host:99999", "1@:9093",
                          "1@a:1,1@b:2", "1@a:1,", "-1@a:1"}) {
    INFO(bad);
    CHECK_FALSE(parse_quorum_voters(bad).ok());
  }
}

TEST_CASE("a_pre_vote_changes_nothing_on_the_voter") {
  Harness voter(2);
  voter.replica->handle(1, VoteRequest{1, 1, 0, 0, true}, 10);
  auto responses = voter.io.take<VoteResponse>();
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].second.vote_granted);
  CHECK(responses[0].second.pre_vote);
  CHECK(voter.replica->epoch() == 0);
  CHECK(voter.replica->voted_for() == kNoNode);
  CHECK(voter.store.saves() == 0);
}

TEST_CASE("a_pre_vote_is_refused_while_the_leader_is_heard_or_the_log_is_behind") {
  Harness voter(2, {1, 1});
  voter.replica->handle(1, VoteRequest{2, 1, 1, 1, true}, 10);  // shorter log
  CHECK_FALSE(voter.io.take<VoteResponse>().at(0).second.vote_granted);
  voter.replica->handle(1, BeginQuorumEpochRequest{1, 1}, 20);
  REQUIRE(voter.replica->role() == Role::follower);
  voter.replica->handle(3, VoteRequest{2, 3, 1, 5, true}, 30);  // longer log, but leader alive
  auto refused = voter.io.take<VoteResponse>().at(0).second;
  CHECK_FALSE(refused.vote_granted);
  CHECK(refused.leader_id == 1);
  voter.replica->handle(3, VoteRequest{2, 3, 1, 5, true}, 30 + voter.config.fetch_timeout_ms);
  CHECK(voter.io.take<VoteResponse>().at(0).second.vote_granted);
}

TEST_CASE("a_vote_is_durable_before_it_is_sent_and_given_once_per_epoch") {
  Harness voter(2);
  bool checked = false;
  voter.io.on_send = [&](NodeId, const RaftMessage& message) {
    if (auto* response = std::get_if<VoteResponse>(&message); response && response->vote_granted) {
      auto state = voter.store.load();
      REQUIRE(state.has_value());
      CHECK(state->epoch == 1);
      CHECK(state->voted_for == 1);
      checked = true;
    }
  };
  voter.replica->handle(1, VoteRequest{1, 1, 0, 0, false}, 10);
  CHECK(checked);
  voter.replica->handle(3, VoteRequest{1, 3, 0, 0, false}, 11);
  auto responses = voter.io.take<VoteResponse>();
  REQUIRE(responses.size() == 2);
  CHECK(responses[0].second.vote_granted);
  CHECK_FALSE(responses[1].second.vote_granted);
}

TEST_CASE("an_elected_leader_appends_leader_change_and_announces_its_epoch") {
  Harness node(1);
  node.replica->tick(node.config.election_timeout_ms);
  CHECK(node.replica->epoch() == 0);  // pre-vote: no bump yet
  auto pre_votes = node.io.take<VoteRequest>();
  REQUIRE(pre_votes.size() == 2);
  CHECK(pre_votes[0].second.pre_vote);
  CHECK(pre_votes[0].second.candidate_epoch == 1);
  node.replica->handle(2, VoteResponse{0, kNoNode, true, true, 1}, 1001);
  CHECK(node.replica->epoch() == 1);
  CHECK(node.store.load()->voted_for == 1);
  auto votes = node.io.take<VoteRequest>();
  REQUIRE(votes.size() == 2);
  CHECK_FALSE(votes[0].second.pre_vote);
  node.replica->handle(3, VoteResponse{1, kNoNode, true, false, 1}, 1002);
  REQUIRE(node.replica->role() == Role::leader);
  CHECK(node.log.end_offset() == 1);
  CHECK(node.log.entry(0).control);
  CHECK(node.log.entry(0).epoch == 1);
  CHECK(node.log.durable_end_offset() == 1);
  CHECK(node.io.take<BeginQuorumEpochRequest>().size() == 2);
}

TEST_CASE("the_high_watermark_waits_for_an_entry_of_the_leaders_epoch") {
  Harness leader(1, {1, 1, 1});
  leader.elect();
  Epoch epoch = leader.replica->epoch();
  REQUIRE(epoch == 2);
  REQUIRE(leader.replica->epoch_start_offset() == 3);
  leader.replica->handle(2, FetchRequest{1, 2, epoch, 3, 1}, 1100);
  CHECK(leader.replica->high_watermark() == 0);  // old entries on a majority are not enough
  leader.replica->handle(2, FetchRequest{2, 2, epoch, 4, epoch}, 1110);
  CHECK(leader.replica->high_watermark() == 4);
}

TEST_CASE("the_leader_answers_a_diverging_fetch_with_its_end_offset_for_that_epoch") {
  Harness leader(1, {1, 1});
  leader.elect();
  Epoch epoch = leader.replica->epoch();
  leader.io.sent.clear();
  // Follower claims 4 entries ending in epoch 1; the leader has only 2 of epoch 1.
  leader.replica->handle(2, FetchRequest{7, 2, epoch, 4, 1}, 1100);
  auto answer = leader.io.take<FetchResponse>().at(0).second;
  REQUIRE(answer.diverging.has_value());
  CHECK(answer.diverging->epoch == 1);
  CHECK(answer.diverging->end_offset == 2);
  CHECK(answer.records.empty());
  CHECK(answer.request_id == 7);
}

TEST_CASE("a_follower_truncates_on_a_diverging_epoch_and_refetches_from_there") {
  Harness follower(2, {1, 1, 2, 2});
  follower.replica->handle(1, BeginQuorumEpochRequest{3, 1}, 10);
  follower.replica->tick(10);
  auto fetch = follower.io.take<FetchRequest>().at(0).second;
  CHECK(fetch.fetch_offset == 4);
  CHECK(fetch.last_fetched_epoch == 2);
  FetchResponse diverging;
  diverging.request_id = fetch.request_id;
  diverging.leader_epoch = 3;
  diverging.leader_id = 1;
  diverging.fetch_offset = 4;
  diverging.last_fetched_epoch = 2;
  diverging.diverging = DivergingEpoch{1, 2};
  follower.replica->handle(1, diverging, 20);
  CHECK(follower.log.end_offset() == 2);
  follower.replica->handle(1, diverging, 21);  // a duplicate is recognised as stale
  CHECK(follower.log.end_offset() == 2);
  follower.replica->tick(21);
  auto refetch = follower.io.take<FetchRequest>().at(0).second;
  CHECK(refetch.fetch_offset == 2);
  CHECK(refetch.last_fetched_epoch == 1);
  FetchResponse records;
  records.request_id = refetch.request_id;
  records.leader_epoch = 3;
  records.leader_id = 1;
  records.high_watermark = 3;
  records.fetch_offset = 2;
  records.last_fetched_epoch = 1;
  records.records = {LogEntry{3, true, "leader_change:1"}};
  follower.replica->handle(1, records, 30);
  CHECK(follower.log.end_offset() == 3);
  CHECK(follower.log.durable_end_offset() == 3);  // synced before the next fetch acks it
  CHECK(follower.replica->high_watermark() == 3);
}

TEST_CASE("a_leader_that_stops_hearing_a_majority_resigns") {
  Harness leader(1);
  leader.elect();
  leader.io.sent.clear();
  Epoch epoch = leader.replica->epoch();
  leader.replica->tick(1002 + leader.config.fetch_timeout_ms - 1);
  CHECK(leader.replica->role() == Role::leader);
  leader.replica->tick(1002 + leader.config.fetch_timeout_ms);
  CHECK(leader.replica->role() == Role::resigned);
  auto end_quorum = leader.io.take<EndQuorumEpochRequest>();
  CHECK(end_quorum.size() == 2);
  CHECK(end_quorum.at(0).second.leader_epoch == epoch);
  CHECK_FALSE(leader.replica->propose("late", 4000).ok());
}

TEST_CASE("a_restarted_leader_comes_back_resigned_never_leader_of_the_same_epoch") {
  Harness leader(1);
  leader.elect();
  RaftReplica restarted(leader.config, leader.io, leader.log, leader.store, 5000);
  CHECK(restarted.role() == Role::resigned);
  CHECK(restarted.epoch() == leader.replica->epoch());
}

TEST_CASE("memory_log_crash_loses_exactly_the_unsynced_writes") {
  MemoryLog log;
  log.append(LogEntry{1, false, "a"});
  log.append(LogEntry{1, false, "b"});
  REQUIRE(log.sync().ok());
  log.truncate_to(1);
  log.append(LogEntry{2, false, "c"});
  log.crash();
  REQUIRE(log.end_offset() == 2);
  CHECK(log.entry(1).data == "b");
  log.truncate_to(1);
  log.append(LogEntry{2, false, "c"});
  REQUIRE(log.sync().ok());
  log.crash();
  REQUIRE(log.end_offset() == 2);
  CHECK(log.entry(1).data == "c");
}

TEST_CASE("a_prospective_that_hears_of_a_live_leader_in_its_epoch_follows_it") {
  Harness node(2, {1});
  node.replica->handle(1, BeginQuorumEpochRequest{1, 1}, 10);
  node.replica->tick(10 + node.config.fetch_timeout_ms);  // leader silent: stand for election
  REQUIRE(node.replica->role() == Role::prospective);
  node.io.sent.clear();
  node.replica->handle(3, VoteResponse{1, 1, false, true, 2}, 2100);  // "no: 1 leads epoch 1"
  CHECK(node.replica->role() == Role::follower);
  CHECK(node.replica->leader_id() == 1);
  node.replica->tick(2100);
  CHECK(node.io.take<FetchRequest>().size() == 1);
}

TEST_CASE("hearsay_about_a_leader_is_neither_advertised_nor_a_reason_to_refuse_pre_votes") {
  // Found by the simulator: followers that re-joined a dead leader on each other's word kept one
  // another out of elections forever. Only real contact with the leader counts.
  Harness node(2, {1});
  node.replica->tick(node.config.election_timeout_ms);
  REQUIRE(node.replica->role() == Role::prospective);
  node.replica->handle(3, VoteResponse{1, 1, false, true, 2}, 1001);
  REQUIRE(node.replica->role() == Role::follower);
  node.io.sent.clear();
  node.replica->handle(3, VoteRequest{2, 3, 1, 1, true}, 1002);
  auto answer = node.io.take<VoteResponse>().at(0).second;
  CHECK(answer.vote_granted);
  CHECK(answer.leader_id == kNoNode);
}

TEST_CASE("a_voter_stuck_in_a_higher_epoch_pulls_the_quorum_up_through_its_pre_vote") {
  // Found by the simulator: a candidate whose vote requests were all lost sits in epoch 2 while the
  // quorum runs epoch 1; its pre-votes carry its real epoch, which voters adopt.
  Harness voter(2, {1});
  voter.replica->handle(1, BeginQuorumEpochRequest{1, 1}, 10);
  REQUIRE(voter.replica->role() == Role::follower);
  voter.replica->handle(3, VoteRequest{3, 3, 0, 0, true}, 20);  // node 3 is in epoch 2, log behind
  CHECK(voter.replica->epoch() == 2);
  CHECK(voter.replica->role() == Role::unattached);
  auto answer = voter.io.take<VoteResponse>().back().second;
  CHECK_FALSE(answer.vote_granted);  // its log is behind: it cannot win, but it unsticks
  CHECK(answer.leader_epoch == 2);
}

TEST_CASE("end_quorum_epoch_lets_the_most_caught_up_successor_stand_first") {
  Harness leader(1);
  leader.elect();
  Epoch epoch = leader.replica->epoch();
  leader.replica->handle(3, FetchRequest{1, 3, epoch, 1, epoch}, 1100);  // 3 is caught up, 2 is not
  leader.io.sent.clear();
  leader.replica->resign(1200);
  CHECK(leader.replica->role() == Role::resigned);
  auto requests = leader.io.take<EndQuorumEpochRequest>();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].second.preferred_successors == std::vector<NodeId>{3, 2});

  Harness first(3), second(2);
  for (Harness* voter : {&first, &second}) {
    voter->replica->handle(1, BeginQuorumEpochRequest{epoch, 1}, 1000);
    voter->replica->handle(1, requests[0].second, 1201);
    CHECK(voter->replica->role() == Role::unattached);
  }
  first.replica->tick(1201);
  second.replica->tick(1201 + second.config.end_quorum_backoff_ms - 1);
  CHECK(first.replica->role() == Role::prospective);  // rank 0: no wait (random part is 0 here)
  CHECK(second.replica->role() == Role::unattached);  // rank 1: waits one backoff
  second.replica->tick(1201 + second.config.end_quorum_backoff_ms);
  CHECK(second.replica->role() == Role::prospective);
}

TEST_CASE("a_caught_up_fetch_is_held_until_an_entry_arrives_and_one_asking_for_no_wait_is_answered_at_once") {
  Harness leader(1);
  leader.elect();
  const Epoch epoch = leader.replica->epoch();
  const Offset end = leader.log.end_offset();  // the leader's LeaderChange entry
  leader.replica->handle(2, FetchRequest{1, 2, epoch, end, epoch}, 1100);
  leader.io.sent.clear();
  // Caught up: nothing new, so the leader holds it (long poll) ...
  leader.replica->handle(2, FetchRequest{2, 2, epoch, end, epoch}, 1110);
  CHECK(leader.io.take<FetchResponse>().empty());
  // ... and answers it the moment an entry is proposed, with that entry.
  auto offset = leader.replica->propose("topic-a", 1120);
  REQUIRE(offset.ok());
  auto answers = leader.io.take<FetchResponse>();
  REQUIRE(answers.size() == 1);
  CHECK(answers[0].second.request_id == 2);
  REQUIRE(answers[0].second.records.size() == 1);
  CHECK(answers[0].second.records[0].data == "topic-a");
  // A fetcher that asks for no wait (MaxWaitMs 0, as some Kafka peers send) is answered at once.
  leader.replica->handle(3, FetchRequest{1, 3, epoch, *offset + 1, epoch, 0}, 1130);
  auto immediate = leader.io.take<FetchResponse>();
  REQUIRE(immediate.size() == 1);
  CHECK(immediate[0].second.records.empty());
  // A held fetch is answered (empty) once its wait is over.
  leader.replica->handle(3, FetchRequest{2, 3, epoch, *offset + 1, epoch, 50}, 1140);
  CHECK(leader.io.take<FetchResponse>().empty());
  leader.replica->tick(1195);
  auto late = leader.io.take<FetchResponse>();
  REQUIRE(late.size() == 1);
  CHECK(late[0].second.request_id == 2);
}
