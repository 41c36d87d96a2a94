#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>

#include "raft/node.h"

using namespace floe;
using namespace floe::raft;

namespace {
std::string temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("floe-node-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir.string();
}

RaftNodeOptions single_voter(const std::string& dir, Offset apply_from = 0) {
  RaftNodeOptions options;
  options.config.node_id = 1;
  options.config.voters = {1};
  options.config.election_timeout_ms = 10;
  options.log_dir = dir;
  options.apply_from = apply_from;
  return options;
}

struct Applied {
  std::mutex mu;
  std::vector<std::pair<Offset, std::string>> entries;
  RaftNode::Listener listener() {
    return [this](Offset offset, const std::string& data) {
      std::lock_guard lock(mu);
      entries.emplace_back(offset, data);
    };
  }
};

bool leading_and_caught_up(const NodeStatus& s) {
  return s.role == Role::leader && s.high_watermark > s.epoch_start_offset && s.applied_end == s.high_watermark;
}
}  // namespace

TEST_CASE("single_voter_elects_itself_and_commits_proposals_in_order") {
  auto dir = temp_dir("commit");
  Applied applied;
  auto node = RaftNode::open(single_voter(dir), applied.listener());
  REQUIRE(node.ok());
  (*node)->start();
  REQUIRE((*node)->wait_for(leading_and_caught_up, 30000).ok());
  std::vector<std::promise<Result<Offset>>> results(100);
  std::vector<char> listener_first(100, 0);  // written on the node thread before set_value
  for (int i = 0; i < 100; ++i) {
    (*node)->propose("entry-" + std::to_string(i), [&, i](Result<Offset> r) {
      // The listener saw the entry before its proposer hears of the commit (checked on the test
      // thread: Catch's assertions are not thread-safe).
      if (r.ok()) {
        std::lock_guard lock(applied.mu);
        listener_first[static_cast<size_t>(i)] = applied.entries.back().first >= *r;
      }
      results[i].set_value(std::move(r));
    });
  }
  Offset last = -1;
  for (size_t i = 0; i < results.size(); ++i) {
    auto r = results[i].get_future().get();
    REQUIRE(r.ok());
    CHECK(listener_first[i]);
    CHECK(*r > last);
    last = *r;
  }
  (*node)->close();
  std::lock_guard lock(applied.mu);
  REQUIRE(applied.entries.size() == 100);
  for (int i = 0; i < 100; ++i) CHECK(applied.entries[i].second == "entry-" + std::to_string(i));
  std::filesystem::remove_all(dir);
}

TEST_CASE("reopened_node_replays_committed_entries_once_from_apply_from") {
  auto dir = temp_dir("replay");
  {
    Applied applied;
    auto node = RaftNode::open(single_voter(dir), applied.listener());
    REQUIRE(node.ok());
    (*node)->start();
    REQUIRE((*node)->wait_for(leading_and_caught_up, 30000).ok());
    for (int i = 0; i < 10; ++i) {
      std::promise<Result<Offset>> done;
      (*node)->propose(std::to_string(i), [&](Result<Offset> r) { done.set_value(std::move(r)); });
      REQUIRE(done.get_future().get().ok());
    }
  }
  Applied all;
  {
    auto node = RaftNode::open(single_voter(dir), all.listener());
    REQUIRE(node.ok());
    (*node)->start();
    REQUIRE((*node)->wait_for(leading_and_caught_up, 30000).ok());
  }
  REQUIRE(all.entries.size() == 10);
  CHECK(all.entries.front().second == "0");
  Applied tail;
  {
    auto node = RaftNode::open(single_voter(dir, all.entries[5].first), tail.listener());
    REQUIRE(node.ok());
    (*node)->start();
    REQUIRE((*node)->wait_for(leading_and_caught_up, 30000).ok());
  }
  REQUIRE(tail.entries.size() == 5);
  CHECK(tail.entries.front().second == "5");
  std::filesystem::remove_all(dir);
}

TEST_CASE("proposals_after_close_fail_and_close_is_idempotent") {
  auto dir = temp_dir("close");
  Applied applied;
  auto node = RaftNode::open(single_voter(dir), applied.listener());
  REQUIRE(node.ok());
  (*node)->start();
  (*node)->close();
  (*node)->close();
  std::promise<Result<Offset>> done;
  (*node)->propose("late", [&](Result<Offset> r) { done.set_value(std::move(r)); });
  auto r = done.get_future().get();  // answered (inline), never left hanging
  CHECK_FALSE(r.ok());
  std::filesystem::remove_all(dir);
}

TEST_CASE("a_voter_that_is_not_alone_does_not_lead_without_peers") {
  auto dir = temp_dir("peers");
  auto options = single_voter(dir);
  options.config.voters = {1, 2, 3};
  Applied applied;
  auto node = RaftNode::open(options, applied.listener());
  REQUIRE(node.ok());
  (*node)->start();
  auto r = (*node)->wait_for([](const NodeStatus& s) { return s.role == Role::leader; }, 300);
  CHECK_FALSE(r.ok());
  std::filesystem::remove_all(dir);
}

TEST_CASE("nothing_runs_on_a_node_before_start_and_what_was_posted_meanwhile_runs_after_it") {
  // The owner stores the node pointer its callbacks use between open() and start().
  auto dir = temp_dir("start");
  Applied applied;
  auto node = RaftNode::open(single_voter(dir), applied.listener());
  REQUIRE(node.ok());
  std::atomic<bool> started{false};
  std::promise<bool> ran_after_start;
  (*node)->post([&] { ran_after_start.set_value(started.load()); });
  std::promise<Result<Offset>> proposed;
  (*node)->propose("early", [&](Result<Offset> r) { proposed.set_value(std::move(r)); });
  started = true;
  (*node)->start();
  CHECK(ran_after_start.get_future().get());
  // Proposed before the election: refused (not the leader), but answered.
  (void)proposed.get_future().get();
  REQUIRE((*node)->wait_for(leading_and_caught_up, 30000).ok());
  (*node)->close();
  std::filesystem::remove_all(dir);
}

TEST_CASE("a_node_closed_before_start_answers_what_was_posted_to_it") {
  auto dir = temp_dir("never-started");
  Applied applied;
  auto node = RaftNode::open(single_voter(dir), applied.listener());
  REQUIRE(node.ok());
  std::promise<Result<Offset>> proposed;
  (*node)->propose("never", [&](Result<Offset> r) { proposed.set_value(std::move(r)); });
  (*node)->close();
  auto answer = proposed.get_future();
  REQUIRE(answer.wait_for(std::chrono::seconds(0)) == std::future_status::ready);  // during close()
  CHECK_FALSE(answer.get().ok());
  CHECK((*node)->status().closed);
  (*node)->close();
  std::filesystem::remove_all(dir);
}
