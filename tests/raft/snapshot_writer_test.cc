// Snapshots off the node thread, read incrementally, and kept while they are being fetched:
//  - RaftNode writes its owner's snapshot on a background thread: the node keeps committing
//    while the write is slow, drops the log only once the snapshot is durable, writes one at a
//    time (a newer request waits as one), and a kill -9 mid-write leaves the previous snapshot
//    and every committed entry;
//  - FileSnapshotStore hands payloads out one batch at a time and keeps an older snapshot that
//    a follower is downloading, pruning the others by age, bytes and count (SnapshotRetention).
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "raft/memory_log.h"
#include "raft/node.h"
#include "raft/replica.h"
#include "raft/snapshot_store.h"
#include "raft_test_util.h"

using namespace floe;
using namespace floe::raft;
namespace fs = std::filesystem;

using floe::raft::testing::TempDir;

namespace {

RaftNodeOptions single_voter(const std::string& dir) {
  RaftNodeOptions options;
  options.config.node_id = 1;
  options.config.voters = {1};
  options.config.election_timeout_ms = 10;
  options.log_dir = dir;
  return options;
}

bool leading(const NodeStatus& s) {
  return s.role == Role::leader && s.high_watermark > s.epoch_start_offset && s.applied_end == s.high_watermark;
}

Result<Offset> propose(RaftNode& node, std::string data) {
  std::promise<Result<Offset>> done;
  node.propose(std::move(data), [&](Result<Offset> r) { done.set_value(std::move(r)); });
  return done.get_future().get();
}

bool has_temp_files(const std::string& dir) {
  for (const auto& item : fs::directory_iterator(dir)) {
    if (item.path().extension() == ".tmp" || item.path().extension() == ".part") return true;
  }
  return false;
}

}  // namespace

TEST_CASE("a_slow_snapshot_write_never_stalls_the_node_and_the_log_goes_only_once_it_is_durable") {
  TempDir dir;
  RaftNodeOptions options = single_voter(dir.path);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::mutex mu;
  std::vector<SnapshotId> writes;  // as the writer thread began syncing them
  options.snapshot_write_hook = [&](SnapshotId id) {
    {
      std::lock_guard lock(mu);
      writes.push_back(id);
    }
    released.wait();  // a disk that takes as long as the test wants
  };
  RaftNode* self = nullptr;
  // LeaderChange at 0, "0".."9" at 1..10: snapshots after "3" (end 5), "6" (end 8), "7" (end 9).
  auto listener = [&](Offset offset, const std::string& data) {
    if (data == "3" || data == "6" || data == "7") self->snapshot_here(offset + 1, "state-" + std::to_string(offset + 1));
  };
  auto node = RaftNode::open(options, listener, [](SnapshotId, SnapshotPayloadReader&) { return ok_status(); });
  REQUIRE(node.ok());
  self = node->get();
  (*node)->start();
  REQUIRE((*node)->wait_for(leading, 30000).ok());
  // The first snapshot's write hangs in the disk; proposals keep committing meanwhile.
  for (int i = 0; i < 10; ++i) REQUIRE(propose(**node, std::to_string(i)).ok());
  auto waited = (*node)->wait_for([](const NodeStatus& s) { return s.applied_end == 11; }, 30000);
  REQUIRE(waited.ok());
  // The writer thread may not have reached the disk yet: wait (bounded) until it hangs there.
  for (int i = 0; i < 1000; ++i) {
    {
      std::lock_guard lock(mu);
      if (!writes.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  NodeStatus during = (*node)->status();
  CHECK(during.snapshot_writing);
  CHECK(during.log_start == 0);  // not durable yet: the log below it stays
  CHECK(during.applied_end == 11);
  CHECK(during.snapshots_written == 0);
  {
    std::lock_guard lock(mu);
    CHECK(writes == std::vector<SnapshotId>{{5, 1}});  // one at a time
  }
  CHECK(fs::exists(dir.path + "/00000000000000000005-0000000001.checkpoint.tmp"));
  release.set_value();
  // Durable: the log goes below it; then the newest waiting request (end 9; end 8 was replaced).
  auto after = (*node)->wait_for([](const NodeStatus& s) { return s.snapshots_written == 2 && !s.snapshot_writing; }, 30000);
  REQUIRE(after.ok());
  CHECK(after->log_start == 9);
  {
    std::lock_guard lock(mu);
    CHECK(writes == std::vector<SnapshotId>{{5, 1}, {9, 1}});
  }
  (*node)->close();
  CHECK_FALSE(has_temp_files(dir.path));
  auto reopened = FileSnapshotStore::open(dir.path);
  REQUIRE(reopened.ok());
  CHECK((*reopened)->latest() == std::optional<SnapshotId>(SnapshotId{9, 1}));
  CHECK(*(*reopened)->load(SnapshotId{9, 1}) == "state-9");
}

TEST_CASE("kill_minus_9_in_the_middle_of_a_snapshot_write_keeps_the_previous_snapshot_and_every_committed_entry") {
  TempDir dir;
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // A real node snapshots after every 5th entry; the second snapshot's write never finishes
    // (the temp file is written, not yet synced or renamed) and the node commits on regardless.
    ::close(fds[0]);
    auto report = [&](int64_t value) {
      if (::write(fds[1], &value, sizeof(value)) != sizeof(value)) ::_exit(4);
    };
    RaftNodeOptions options = single_voter(dir.path);
    std::atomic<int> writes{0};
    options.snapshot_write_hook = [&](SnapshotId) {
      if (++writes < 2) return;
      report(-1);
      for (;;) ::pause();
    };
    RaftNode* self = nullptr;
    int delivered = 0;
    auto listener = [&](Offset offset, const std::string&) {
      if (++delivered % 5 == 0) self->snapshot_here(offset + 1, "upto-" + std::to_string(offset + 1));
    };
    auto node = RaftNode::open(options, listener, [](SnapshotId, SnapshotPayloadReader&) { return ok_status(); });
    if (!node.ok()) ::_exit(3);
    self = node->get();
    (*node)->start();
    if (!(*node)->wait_for(leading, 30000).ok()) ::_exit(3);
    for (int i = 0;; ++i) {
      auto offset = propose(**node, "e" + std::to_string(i));
      if (!offset.ok()) ::_exit(5);
      report(*offset);
      if ((*node)->status().snapshots_written == 1) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // no need to hurry once the first is in
      }
    }
  }
  ::close(fds[1]);
  Offset last_committed = -1;
  int after_hang = -1;
  int64_t value = 0;
  while (after_hang < 20 && ::read(fds[0], &value, sizeof(value)) == sizeof(value)) {
    if (value == -1) {
      after_hang = 0;
    } else {
      last_committed = value;
      if (after_hang >= 0) ++after_hang;  // committed while the write hangs
    }
  }
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(fds[0]);
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(WTERMSIG(status) == SIGKILL);
  REQUIRE(after_hang == 20);
  bool temp_left = false;
  for (const auto& item : fs::directory_iterator(dir.path)) temp_left |= item.path().extension() == ".tmp";
  CHECK(temp_left);  // the write was caught in the middle

  // Reopened: the first snapshot (after 5 entries: end 6) and every committed entry after it.
  std::vector<std::pair<SnapshotId, std::string>> loaded;
  std::vector<Offset> replayed;
  auto node = RaftNode::open(
      single_voter(dir.path), [&](Offset offset, const std::string&) { replayed.push_back(offset); },
      [&](SnapshotId id, SnapshotPayloadReader& payload) {
        loaded.emplace_back(id, *payload.read_all());
        return ok_status();
      });
  REQUIRE(node.ok());
  (*node)->start();
  REQUIRE((*node)->wait_for(leading, 30000).ok());
  (*node)->close();
  REQUIRE(loaded.size() == 1);
  CHECK(loaded[0].first == SnapshotId{6, 1});
  CHECK(loaded[0].second == "upto-6");
  REQUIRE_FALSE(replayed.empty());
  CHECK(replayed.front() == 6);
  CHECK(replayed.back() >= last_committed);
  CHECK_FALSE(has_temp_files(dir.path));
}

TEST_CASE("a_payload_is_read_one_batch_at_a_time_and_every_damage_is_reported") {
  TempDir dir;
  auto store = FileSnapshotStore::open(dir.path);
  REQUIRE(store.ok());
  std::string payload(3 * 1024 * 1024 + 17, '\0');  // several 1 MiB batches of 64 KiB records
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 31 + (i >> 16));
  SnapshotId id{100, 4};
  REQUIRE((*store)->save(id, payload).ok());
  auto reader = (*store)->open_payload(id);
  REQUIRE(reader.ok());
  std::string back;
  char buffer[10000];  // odd-sized reads straddle records and batches
  for (;;) {
    auto n = (*reader)->read(buffer, sizeof(buffer));
    REQUIRE(n.ok());
    if (*n == 0) break;
    back.append(buffer, *n);
  }
  CHECK(back == payload);
  // A flipped byte deep inside (a later batch) fails the read there, and for good.
  {
    std::string path = (*store)->path_of(id);
    std::FILE* f = std::fopen(path.c_str(), "r+b");
    REQUIRE(f);
    std::fseek(f, 2 * 1024 * 1024, SEEK_SET);
    int c = std::fgetc(f);
    std::fseek(f, 2 * 1024 * 1024, SEEK_SET);
    std::fputc(c ^ 0x40, f);
    std::fclose(f);
  }
  auto damaged = (*store)->open_payload(id);
  REQUIRE(damaged.ok());
  auto all = (*damaged)->read_all();
  REQUIRE_FALSE(all.ok());
  CHECK(all.error().code == Errc::corrupt);
  CHECK_FALSE((*damaged)->read(buffer, sizeof(buffer)).ok());
  CHECK(FileSnapshotStore::open(dir.path).error().code == Errc::corrupt);
}

TEST_CASE("retention_keeps_the_newest_and_a_snapshot_being_fetched_and_prunes_the_rest_by_age_bytes_and_count") {
  TempDir dir;
  int64_t now = 1'700'000'000'000;
  SnapshotRetention retention;
  retention.max_age_ms = 1000;
  retention.in_use_ms = 5000;
  retention.clock_ms = [&] { return now; };
  auto store = FileSnapshotStore::open(dir.path, retention);
  REQUIRE(store.ok());
  SnapshotId a{10, 1}, b{20, 1}, c{30, 2}, d{40, 2};
  REQUIRE((*store)->save(a, "a").ok());
  REQUIRE((*store)->save(b, "b").ok());
  CHECK((*store)->snapshots() == std::vector<SnapshotId>{a, b});  // young: both stay
  now += 500;
  REQUIRE((*store)->read(a, 0, 4).ok());  // a follower is fetching a
  now += 1100;
  REQUIRE((*store)->save(c, "c").ok());
  CHECK((*store)->snapshots() == std::vector<SnapshotId>{a, c});  // b aged out; a is in use
  now += 3400;  // a last served 4500 ms ago
  REQUIRE((*store)->apply_retention().ok());
  CHECK((*store)->snapshots() == std::vector<SnapshotId>{a, c});
  now += 600;  // quiet for 5100 ms: the download was given up
  REQUIRE((*store)->apply_retention().ok());
  CHECK((*store)->snapshots() == std::vector<SnapshotId>{c});
  CHECK_FALSE(fs::exists((*store)->path_of(a)));
  now += 5000;
  REQUIRE((*store)->apply_retention().ok());
  CHECK((*store)->snapshots() == std::vector<SnapshotId>{c});  // the newest, however old

  // Bytes and count: oldest first, skipping one in use.
  TempDir other;
  SnapshotRetention small;
  small.clock_ms = [&] { return now; };
  auto size_of = [](const std::string& payload) { return static_cast<int64_t>(FileSnapshotStore::frame(SnapshotId{1, 1}, payload).size()); };
  small.max_bytes = 2 * size_of("x") + size_of("x") / 2;  // room for two and a half
  auto sized = FileSnapshotStore::open(other.path, small);
  REQUIRE(sized.ok());
  REQUIRE((*sized)->save(a, "x").ok());
  REQUIRE((*sized)->save(b, "x").ok());
  REQUIRE((*sized)->read(a, 0, 1).ok());
  REQUIRE((*sized)->save(c, "x").ok());
  CHECK((*sized)->snapshots() == std::vector<SnapshotId>{a, c});  // b went, not a (in use)
  now += 61000;  // the default in_use_ms (60 s) after a's last chunk
  REQUIRE((*sized)->save(d, "x").ok());
  CHECK((*sized)->snapshots() == std::vector<SnapshotId>{c, d});
  small.max_bytes = INT64_MAX;
  small.max_age_ms = INT64_MAX / 2;
  small.max_count = 2;
  sized->reset();
  sized = FileSnapshotStore::open(other.path, small);
  REQUIRE(sized.ok());
  REQUIRE((*sized)->save(SnapshotId{50, 3}, "x").ok());
  CHECK((*sized)->snapshots() == std::vector<SnapshotId>{d, {50, 3}});
}

namespace {

struct NullIo final : RaftIo {
  std::vector<std::pair<NodeId, RaftMessage>> sent;
  void send(NodeId to, RaftMessage message) override { sent.emplace_back(to, std::move(message)); }
  uint64_t random_u64() override { return 0; }
};

// A replica on a FileSnapshotStore (the leader's retention is what is under test).
struct FileMember {
  NullIo io;
  MemoryLog log;
  MemoryQuorumStateStore store;
  std::unique_ptr<FileSnapshotStore> snapshots;
  RaftConfig config;
  std::unique_ptr<RaftReplica> replica;
  FileMember(NodeId id, const std::string& dir, SnapshotRetention retention) {
    config.node_id = id;
    config.voters = {1, 2, 3};
    config.max_snapshot_chunk_bytes = 1000;
    snapshots = std::move(FileSnapshotStore::open(dir, std::move(retention)).value());
    replica = std::make_unique<RaftReplica>(config, io, log, store, 0, snapshots.get());
  }
};

void deliver(FileMember& from, FileMember& to, int64_t now_ms) {
  auto sent = std::move(from.io.sent);
  from.io.sent.clear();
  for (auto& [target, message] : sent) {
    if (target == to.config.node_id) to.replica->handle(from.config.node_id, message, now_ms);
  }
}

// Node 1 leads epoch 1 (node 2 voted and acknowledges everything) and snapshots at its log end.
void commit_and_snapshot(FileMember& leader, int entries, int64_t now_ms, const std::string& state) {
  for (int i = 0; i < entries; ++i) REQUIRE(leader.replica->propose("e", now_ms).ok());
  leader.replica->tick(now_ms);
  leader.replica->handle(2, FetchRequest{static_cast<uint64_t>(now_ms), 2, 1, leader.log.end_offset(), 1}, now_ms);
  leader.io.sent.clear();
  Offset end = leader.replica->high_watermark();
  REQUIRE(end == leader.log.end_offset());
  SnapshotId id{end, leader.log.entry(end - 1).epoch};
  REQUIRE(leader.snapshots->save(id, state).ok());
  leader.log.advance_start(id);
}

struct DownloadOutcome {
  int started = 0;  // downloads the follower began
  int installed = 0;
};

// A slow follower downloads the leader's snapshot while the leader snapshots every few chunks.
DownloadOutcome download_while_snapshotting(const SnapshotRetention& leader_retention, int64_t& clock) {
  TempDir leader_dir, follower_dir;
  FileMember leader(1, leader_dir.path, leader_retention);
  leader.replica->tick(leader.config.election_timeout_ms);
  leader.replica->handle(2, VoteResponse{0, kNoNode, true, true, 1}, 1001);
  leader.replica->handle(2, VoteResponse{1, kNoNode, true, false, 1}, 1002);
  REQUIRE(leader.replica->role() == Role::leader);
  commit_and_snapshot(leader, 10, 1003, std::string(20000, 'S'));  // 20+ chunks of 1000 bytes
  FileMember follower(3, follower_dir.path, {});
  follower.replica->handle(1, BeginQuorumEpochRequest{1, 1}, 1100);
  follower.io.sent.clear();
  int started = 0, chunks = 0;
  int64_t now = 1100;
  for (int round = 0; round < 400 && follower.replica->snapshots_installed() == 0; ++round) {
    clock += 700;  // a slow follower: 0.7 s a chunk, far beyond the leader's max_age_ms
    follower.replica->tick(now += 60);
    bool was_downloading = follower.replica->downloading().has_value();
    deliver(follower, leader, now);
    deliver(leader, follower, now);
    if (!was_downloading && follower.replica->downloading()) ++started;
    if (follower.replica->downloading() && ++chunks % 5 == 0) {
      commit_and_snapshot(leader, 3, now, std::string(20000, 'T'));  // and a newer one, again
    }
  }
  return DownloadOutcome{started, follower.replica->snapshots_installed()};
}

}  // namespace

TEST_CASE("a_follower_slowly_downloading_a_snapshot_finishes_it_while_the_leader_makes_newer_ones") {
  int64_t clock = 1'700'000'000'000;
  SnapshotRetention retention;
  retention.max_age_ms = 1000;
  retention.max_count = 2;
  retention.in_use_ms = 5000;
  retention.clock_ms = [&] { return clock; };
  DownloadOutcome kept = download_while_snapshotting(retention, clock);
  CHECK(kept.started == 1);  // the snapshot being fetched stayed
  CHECK(kept.installed == 1);
  // Without the in-use rule (as with retention by count alone) newer snapshots pruned the one
  // being fetched and the download started over, again and again: it never finished.
  retention.in_use_ms = 0;
  DownloadOutcome pruned = download_while_snapshotting(retention, clock);
  CHECK(pruned.started > 1);
  CHECK(pruned.installed == 0);
}
