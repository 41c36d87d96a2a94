// Snapshots (KIP-630): the log's front moves past a snapshot on disk and in memory, a leader
// answers fetches below its log start with its snapshot id, a follower downloads it chunk by
// chunk with FetchSnapshot and installs it; plus LeaderChange control records and observers.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>

#include <filesystem>
#include <fstream>
#include <future>

#include "raft/log_store.h"
#include "raft/memory_log.h"
#include "raft/node.h"
#include "raft/replica.h"
#include "raft/snapshot_store.h"
#include "raft/transport_tcp.h"
#include "raft_test_util.h"

using namespace floe;
using namespace floe::raft;
namespace fs = std::filesystem;

using floe::raft::testing::TempDir;

namespace {

struct Io final : RaftIo {
  std::vector<std::pair<NodeId, RaftMessage>> sent;
  void send(NodeId to, RaftMessage message) override { sent.emplace_back(to, std::move(message)); }
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

struct Member {
  Io io;
  MemoryLog log;
  MemoryQuorumStateStore store;
  MemorySnapshotStore snapshots;
  RaftConfig config;
  std::unique_ptr<RaftReplica> replica;
  Member(NodeId id, std::vector<NodeId> voters) {
    config.node_id = id;
    config.voters = std::move(voters);
    config.max_snapshot_chunk_bytes = 4;
    config.observer_forget_ms = 1000;
    replica = std::make_unique<RaftReplica>(config, io, log, store, 0, &snapshots);
  }
};

// Node 1 leads {1, 2, 3} in epoch 1 with `entries` committed entries (node 2 acked them) and a
// snapshot of its first `snapshot_end` offsets; the log below it is gone.
void lead_with_snapshot(Member& leader, Offset entries, Offset snapshot_end) {
  leader.replica->tick(leader.config.election_timeout_ms);
  leader.replica->handle(2, VoteResponse{0, kNoNode, true, true, 1}, 1001);
  leader.replica->handle(2, VoteResponse{1, kNoNode, true, false, 1}, 1002);
  REQUIRE(leader.replica->role() == Role::leader);
  for (Offset i = 0; i < entries; ++i) REQUIRE(leader.replica->propose("e" + std::to_string(i), 1003).ok());
  leader.replica->tick(1004);  // fsync
  leader.replica->handle(2, FetchRequest{1, 2, 1, leader.log.end_offset(), 1}, 1005);
  REQUIRE(leader.replica->high_watermark() == leader.log.end_offset());
  SnapshotId id{snapshot_end, leader.log.entry(snapshot_end - 1).epoch};
  leader.snapshots.save(id, "state-after-" + std::to_string(snapshot_end));
  leader.log.advance_start(id);
  leader.io.sent.clear();
}

void deliver_all(Member& from, Member& to, int64_t now_ms) {
  for (auto& [target, message] : from.io.sent) {
    if (target == to.config.node_id) to.replica->handle(from.config.node_id, message, now_ms);
  }
  from.io.sent.clear();
}

}  // namespace

TEST_CASE("a_fetch_below_the_leader_log_start_is_answered_with_its_snapshot_id") {
  Member leader(1, {1, 2, 3});
  lead_with_snapshot(leader, 10, 8);
  leader.replica->handle(3, FetchRequest{7, 3, 1, 2, 1}, 1100);
  auto answers = leader.io.take<FetchResponse>();
  REQUIRE(answers.size() == 1);
  REQUIRE(answers[0].second.snapshot_id);
  CHECK(*answers[0].second.snapshot_id == SnapshotId{8, 1});
  CHECK(answers[0].second.records.empty());
  CHECK_FALSE(answers[0].second.diverging);
  CHECK(answers[0].second.log_start_offset == 8);
  // At the log start with the snapshot's epoch the log itself answers.
  leader.replica->handle(3, FetchRequest{8, 3, 1, 8, 1}, 1101);
  answers = leader.io.take<FetchResponse>();
  REQUIRE(answers.size() == 1);
  CHECK_FALSE(answers[0].second.snapshot_id);
  CHECK(answers[0].second.records.size() == 3);  // entries 8, 9, 10
}

TEST_CASE("a_lagging_follower_downloads_the_snapshot_in_chunks_installs_it_and_fetches_on") {
  Member leader(1, {1, 2, 3});
  lead_with_snapshot(leader, 10, 8);
  Member follower(3, {1, 2, 3});
  follower.log.append(LogEntry{1, true, "old"});  // one stale entry below the snapshot
  (void)follower.log.sync();
  follower.replica->handle(1, BeginQuorumEpochRequest{1, 1}, 1100);
  REQUIRE(follower.replica->role() == Role::follower);
  follower.io.sent.clear();
  int64_t now = 1101;
  for (int round = 0; round < 100 && follower.log.end_offset() < leader.log.end_offset(); ++round) {
    follower.replica->tick(now += 60);
    deliver_all(follower, leader, now);
    deliver_all(leader, follower, now);
  }
  CHECK(follower.snapshots.installs() == 1);
  CHECK(follower.replica->snapshots_installed() == 1);
  REQUIRE(follower.snapshots.latest());
  CHECK(*follower.snapshots.latest() == SnapshotId{8, 1});
  CHECK(*follower.snapshots.load(SnapshotId{8, 1}) == "state-after-8");  // 13 bytes in 4-byte chunks
  CHECK(follower.log.start_offset() == 8);
  CHECK(follower.log.end_offset() == leader.log.end_offset());
  for (Offset o = 8; o < leader.log.end_offset(); ++o) CHECK(follower.log.entry(o) == leader.log.entry(o));
  CHECK(follower.replica->high_watermark() >= 8);
  CHECK_FALSE(follower.replica->downloading());
}

TEST_CASE("a_snapshot_larger_than_the_follower_accepts_is_never_installed") {
  Member leader(1, {1, 2, 3});
  lead_with_snapshot(leader, 10, 8);
  Member follower(3, {1, 2, 3});
  follower.config.max_snapshot_bytes = 10;  // the leader's is 13 bytes
  follower.replica = std::make_unique<RaftReplica>(follower.config, follower.io, follower.log, follower.store, 0,
                                                   &follower.snapshots);
  follower.replica->handle(1, BeginQuorumEpochRequest{1, 1}, 1100);
  follower.io.sent.clear();
  int64_t now = 1101;
  for (int round = 0; round < 20; ++round) {
    follower.replica->tick(now += 60);
    deliver_all(follower, leader, now);
    deliver_all(leader, follower, now);
  }
  CHECK(follower.snapshots.installs() == 0);
  CHECK(follower.log.start_offset() == 0);
  CHECK(follower.replica->high_watermark() == 0);
}

TEST_CASE("a_snapshot_download_that_the_leader_lost_restarts_from_fetch") {
  Member leader(1, {1, 2, 3});
  lead_with_snapshot(leader, 10, 8);
  Member follower(3, {1, 2, 3});
  follower.replica->handle(1, BeginQuorumEpochRequest{1, 1}, 1100);
  follower.io.sent.clear();
  follower.replica->tick(1200);
  deliver_all(follower, leader, 1200);  // Fetch
  deliver_all(leader, follower, 1200);  // SnapshotId -> first FetchSnapshot
  REQUIRE(follower.replica->downloading());
  auto asks = follower.io.take<FetchSnapshotRequest>();
  REQUIRE(asks.size() == 1);
  leader.replica->handle(3, FetchSnapshotRequest{asks[0].second.request_id, 3, 1, SnapshotId{5, 1}, 0, 4}, 1201);
  auto answers = leader.io.take<FetchSnapshotResponse>();
  REQUIRE(answers.size() == 1);
  CHECK(answers[0].second.error == RaftError::snapshot_not_found);
  answers[0].second.snapshot_id = asks[0].second.snapshot_id;  // as if the snapshot vanished mid-way
  follower.replica->handle(1, answers[0].second, 1202);
  CHECK_FALSE(follower.replica->downloading());
  follower.replica->tick(1300);
  CHECK(follower.io.take<FetchRequest>().size() == 1);  // back to Fetch
}

TEST_CASE("the_leader_change_entry_is_kafkas_leader_change_message") {
  Member fresh(2, {1, 2, 3});
  fresh.replica->tick(fresh.config.election_timeout_ms);
  fresh.replica->handle(3, VoteResponse{0, kNoNode, true, true, 1}, 1001);
  fresh.replica->handle(3, VoteResponse{1, kNoNode, true, false, 1}, 1002);
  REQUIRE(fresh.replica->role() == Role::leader);
  const LogEntry& entry = fresh.log.entry(0);
  CHECK(entry.control);
  auto change = decode_leader_change(entry.data);
  REQUIRE(change.ok());
  CHECK(change->leader_id == 2);
  CHECK(change->voters == std::vector<NodeId>{1, 2, 3});
  CHECK(change->granting_voters == std::vector<NodeId>{2, 3});
  CHECK_FALSE(decode_leader_change("leader_change:1").ok());
}

TEST_CASE("the_leader_tracks_observers_that_fetch_and_forgets_silent_ones") {
  Member leader(1, {1, 2, 3});
  lead_with_snapshot(leader, 4, 2);
  Offset end = leader.log.end_offset();
  leader.replica->handle(2, FetchRequest{2, 2, 1, end, 1}, 1100);  // keeps the quorum alive
  leader.replica->handle(7, FetchRequest{1, 7, 1, end, 1}, 1100);
  leader.replica->handle(8, FetchRequest{1, 8, 1, 0, 0}, 1100);  // below the log start: snapshot
  const auto& observers = leader.replica->observers();
  REQUIRE(observers.size() == 2);
  CHECK(observers.at(7).log_end_offset == end);
  CHECK(observers.at(7).last_fetch_ms == 1100);
  CHECK(observers.at(7).last_caught_up_ms == std::optional<int64_t>(1100));
  CHECK(observers.at(8).log_end_offset == -1);
  CHECK_FALSE(observers.at(8).last_caught_up_ms);
  CHECK_FALSE(observers.count(2));  // voters are not observers
  leader.replica->handle(2, FetchRequest{3, 2, 1, end, 1}, 1600);
  leader.replica->handle(7, FetchRequest{2, 7, 1, end, 1}, 1600);
  leader.replica->tick(2150);  // observer 8 silent for 1050 ms > observer_forget_ms
  CHECK(leader.replica->observers().size() == 1);
  CHECK(leader.replica->observers().count(7));
}

TEST_CASE("advance_start_drops_whole_segments_and_a_reopen_starts_at_the_snapshot") {
  TempDir dir;
  auto open = [&](std::optional<SnapshotId> snapshot) {
    FileLogOptions options{dir.path, 300, 1 << 20, snapshot};
    auto log = FileLog::open(options);
    REQUIRE(log.ok());
    return std::move(log).value();
  };
  auto count_segments = [&] {
    int n = 0;
    for (auto& item : fs::directory_iterator(dir.path)) n += item.path().extension() == ".log";
    return n;
  };
  {
    auto log = open(std::nullopt);
    for (int i = 0; i < 40; ++i) log->append(LogEntry{1 + i / 20, false, "entry-" + std::to_string(i)});
    REQUIRE(log->sync().ok());
    int before = count_segments();
    REQUIRE(before > 3);
    log->advance_start(SnapshotId{30, 2});
    CHECK(log->start_offset() == 30);
    CHECK(log->start_epoch() == 2);
    CHECK(log->end_offset() == 40);
    CHECK(log->entry(30).data == "entry-30");
    CHECK(count_segments() < before);
    log->append(LogEntry{3, false, "entry-40"});  // rolls a new segment
    REQUIRE(log->sync().ok());
  }
  {
    auto log = open(SnapshotId{30, 2});
    CHECK(log->start_offset() == 30);
    CHECK(log->end_offset() == 41);
    CHECK(log->entry(40).data == "entry-40");
    CHECK_FALSE(log->recovery().dropped_for_snapshot);
    log->truncate_to(35);
    CHECK(log->end_offset() == 35);
    log->reset_to(SnapshotId{100, 5});
    CHECK(count_segments() == 0);
    CHECK(log->start_offset() == 100);
    CHECK(log->end_offset() == 100);
    log->append(LogEntry{5, false, "entry-100"});
    REQUIRE(log->sync().ok());
  }
  auto log = open(SnapshotId{100, 5});
  CHECK(log->start_offset() == 100);
  REQUIRE(log->end_offset() == 101);
  CHECK(log->entry(100).data == "entry-100");
}

TEST_CASE("a_log_that_does_not_continue_the_snapshot_is_dropped_at_open") {
  TempDir dir;
  {
    auto log = FileLog::open(FileLogOptions{dir.path, 8 << 20, 1 << 20, {}});
    REQUIRE(log.ok());
    for (int i = 0; i < 10; ++i) (*log)->append(LogEntry{1, false, "x"});
    REQUIRE((*log)->sync().ok());
  }
  // A leader's snapshot at 20 (epoch 3) was installed, then the process died before the old
  // log was dropped: it ends before the snapshot, so nothing of it can be trusted.
  auto log = FileLog::open(FileLogOptions{dir.path, 8 << 20, 1 << 20, SnapshotId{20, 3}});
  REQUIRE(log.ok());
  CHECK((*log)->recovery().dropped_for_snapshot);
  CHECK((*log)->start_offset() == 20);
  CHECK((*log)->end_offset() == 20);
  // Same with a log that reaches past the snapshot but with another epoch at its end.
  (*log)->reset_to(SnapshotId{0, 0});
  for (int i = 0; i < 30; ++i) (*log)->append(LogEntry{1, false, "x"});
  REQUIRE((*log)->sync().ok());
  log->reset();
  auto again = FileLog::open(FileLogOptions{dir.path, 8 << 20, 1 << 20, SnapshotId{20, 3}});
  REQUIRE(again.ok());
  CHECK((*again)->recovery().dropped_for_snapshot);
  CHECK((*again)->end_offset() == 20);
}

TEST_CASE("the_snapshot_store_checks_every_byte_and_installs_downloads_atomically") {
  TempDir dir;
  SnapshotId id{42, 3};
  std::string file;
  {
    auto store = FileSnapshotStore::open(dir.path);
    REQUIRE(store.ok());
    CHECK_FALSE((*store)->latest());
    REQUIRE((*store)->save(id, "payload-42").ok());
    CHECK((*store)->latest() == std::optional<SnapshotId>(id));
    CHECK(*(*store)->load(id) == "payload-42");
    auto size = (*store)->size_bytes(id);
    REQUIRE(size.ok());
    file = *(*store)->read(id, 0, 1 << 20);
    CHECK(static_cast<int64_t>(file.size()) == *size);
    CHECK(*(*store)->read(id, 3, 4) == file.substr(3, 4));
    CHECK(fs::exists(dir.path + "/00000000000000000042-0000000003.checkpoint"));
    CHECK((*store)->size_bytes(SnapshotId{1, 1}).error().code == Errc::not_found);
  }
  // Kafka's layout: v2 batches (magic 2 at byte 16), the first a control batch (attributes bit 5)
  // at the snapshot's end offset; cut anywhere before the footer, the file is refused.
  CHECK(static_cast<uint8_t>(file[16]) == 2);
  CHECK((static_cast<uint8_t>(file[22]) & 0x20) != 0);
  CHECK(FileSnapshotStore::unframe(id, file).ok());
  for (size_t cut : {file.size() - 1, file.size() - 40, size_t{61}}) {
    CHECK_FALSE(FileSnapshotStore::unframe(id, std::string_view(file).substr(0, cut)).ok());
  }
  std::string big(200000, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
  auto back = FileSnapshotStore::unframe(SnapshotId{5, 2}, FileSnapshotStore::frame(SnapshotId{5, 2}, big));
  REQUIRE(back.ok());
  CHECK(*back == big);  // several 64 KiB data records
  CHECK(*FileSnapshotStore::unframe(SnapshotId{5, 2}, FileSnapshotStore::frame(SnapshotId{5, 2}, "")) == "");

  TempDir other;
  auto store = FileSnapshotStore::open(other.path);
  REQUIRE(store.ok());
  // A download whose bytes were damaged on the way is refused and leaves nothing behind.
  std::string damaged = file;
  damaged[20] ^= 1;
  REQUIRE((*store)->begin_download(id).ok());
  REQUIRE((*store)->write_chunk(id, 0, damaged).ok());
  CHECK_FALSE((*store)->finish_download(id).ok());
  CHECK_FALSE((*store)->latest());
  // Bytes of another snapshot id are refused too (the header names the id).
  REQUIRE((*store)->begin_download(SnapshotId{43, 3}).ok());
  REQUIRE((*store)->write_chunk(SnapshotId{43, 3}, 0, file).ok());
  CHECK_FALSE((*store)->finish_download(SnapshotId{43, 3}).ok());
  // In order, chunk by chunk: installed.
  REQUIRE((*store)->begin_download(id).ok());
  CHECK_FALSE((*store)->write_chunk(id, 5, file.substr(5)).ok());  // a gap
  for (size_t pos = 0; pos < file.size(); pos += 5) REQUIRE((*store)->write_chunk(id, static_cast<int64_t>(pos), file.substr(pos, 5)).ok());
  REQUIRE((*store)->finish_download(id).ok());
  CHECK(*(*store)->load(id) == "payload-42");
  // Retention (here at most two files); an unfinished download is cleaned up at open.
  SnapshotRetention two;
  two.max_count = 2;
  store->reset();
  store = FileSnapshotStore::open(other.path, two);
  REQUIRE(store.ok());
  REQUIRE((*store)->save(SnapshotId{50, 3}, "b").ok());
  REQUIRE((*store)->save(SnapshotId{60, 4}, "c").ok());
  CHECK((*store)->snapshots() == std::vector<SnapshotId>{{50, 3}, {60, 4}});
  REQUIRE((*store)->begin_download(SnapshotId{70, 4}).ok());
  store->reset();
  auto reopened = FileSnapshotStore::open(other.path);
  REQUIRE(reopened.ok());
  CHECK((*reopened)->latest() == std::optional<SnapshotId>(SnapshotId{60, 4}));
  for (auto& item : fs::directory_iterator(other.path)) CHECK(item.path().extension() != ".part");
  // A corrupt newest snapshot is an error at open, never silently skipped.
  {
    std::fstream f(other.path + "/00000000000000000060-0000000004.checkpoint", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(18);
    f.put('!');
  }
  CHECK(FileSnapshotStore::open(other.path).error().code == Errc::corrupt);
}

TEST_CASE("a_node_hands_its_owner_the_snapshot_at_open_and_replays_only_what_follows") {
  TempDir dir;
  RaftNodeOptions options;
  options.config.node_id = 1;
  options.config.voters = {1};
  options.config.election_timeout_ms = 10;
  options.log_dir = dir.path;
  auto leading = [](const NodeStatus& s) {
    return s.role == Role::leader && s.high_watermark > s.epoch_start_offset && s.applied_end == s.high_watermark;
  };
  std::mutex mu;
  std::vector<std::string> applied;
  RaftNode* self = nullptr;
  auto listener = [&](Offset offset, const std::string& data) {
    std::lock_guard lock(mu);
    applied.push_back(data);
    if (data == "5") self->snapshot_here(offset + 1, "state:" + std::to_string(applied.size()));
  };
  {
    auto node = RaftNode::open(options, listener, [](SnapshotId, SnapshotPayloadReader&) { return ok_status(); });
    REQUIRE(node.ok());
    self = node->get();
    (*node)->start();
    REQUIRE((*node)->wait_for(leading, 30000).ok());
    for (int i = 0; i < 8; ++i) {
      std::promise<Result<Offset>> done;
      (*node)->propose(std::to_string(i), [&](Result<Offset> r) { done.set_value(std::move(r)); });
      REQUIRE(done.get_future().get().ok());
    }
    auto s = (*node)->wait_for([](const NodeStatus& s) { return s.log_start > 0; }, 30000);
    REQUIRE(s.ok());
    CHECK(s->log_start == 7);  // LeaderChange at 0, entries "0".."5" at 1..6
  }
  std::vector<std::pair<SnapshotId, std::string>> loaded;
  applied.clear();
  {
    auto node = RaftNode::open(options, listener, [&](SnapshotId id, SnapshotPayloadReader& payload) {
      loaded.emplace_back(id, *payload.read_all());
      return ok_status();
    });
    REQUIRE(node.ok());
    self = node->get();
    (*node)->start();
    REQUIRE((*node)->wait_for(leading, 30000).ok());
  }
  REQUIRE(loaded.size() == 1);
  CHECK(loaded[0].first == SnapshotId{7, 1});
  CHECK(loaded[0].second == "state:6");
  CHECK(applied == std::vector<std::string>{"6", "7"});
  // Without a snapshot listener the node refuses a dir that needs one.
  CHECK(RaftNode::open(options, listener).error().code == Errc::unsupported);
}

TEST_CASE("kill_minus_9_while_snapshotting_never_loses_a_committed_entry_or_the_snapshot_under_it") {
  // A real process runs a single-voter replica on the on-disk log, snapshots every 16 committed
  // entries (the log below is dropped: small segments, so files are deleted all the time) and
  // reports every high watermark through a pipe; we SIGKILL it at a random moment and reopen.
  TempDir dir;
  RaftConfig config;
  config.node_id = 1;
  config.voters = {1};
  config.election_timeout_ms = 2;
  uint64_t rng = 777;
  Offset committed = 0;
  int snapshots_seen = 0;
  for (int round = 0; round < 8; ++round) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      ::close(fds[0]);
      struct NullIo final : RaftIo {
        void send(NodeId, RaftMessage) override {}
        uint64_t random_u64() override { return 0; }
      } io;
      auto snapshots = FileSnapshotStore::open(dir.path);
      if (!snapshots.ok()) ::_exit(3);
      auto log = FileLog::open(FileLogOptions{dir.path, 512, 1 << 20, (*snapshots)->latest()});
      auto store = FileQuorumStateStore::open(dir.path);
      if (!log.ok() || !store.ok()) ::_exit(3);
      RaftReplica replica(config, io, **log, **store, 0, snapshots->get());
      Offset reported = -1;
      for (int64_t now = 1;; ++now) {
        replica.tick(now);
        if (replica.role() == Role::leader) {
          (void)replica.propose("r" + std::to_string(round) + "-" + std::to_string(now), now);
          replica.tick(now);
        }
        Offset hw = replica.high_watermark();
        if (hw - (*log)->start_offset() >= 16) {
          SnapshotId id{hw, (*log)->entry(hw - 1).epoch};
          if (!(*snapshots)->save(id, "upto-" + std::to_string(hw)).ok()) ::_exit(5);
          (*log)->advance_start(id);
        }
        if (hw != reported) {
          reported = hw;
          if (::write(fds[1], &hw, sizeof(hw)) != sizeof(hw)) ::_exit(4);
        }
      }
    }
    ::close(fds[1]);
    Offset last = 0;
    Offset target = committed + 50 + static_cast<Offset>((rng = rng * 6364136223846793005ull + 1) >> 58);
    while (last < target && ::read(fds[0], &last, sizeof(last)) == sizeof(last)) {
    }
    ::usleep(static_cast<useconds_t>((rng = rng * 6364136223846793005ull + 1) >> 53));  // up to ~2 ms more
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    Offset value;
    while (::read(fds[0], &value, sizeof(value)) == sizeof(value)) last = value;
    ::close(fds[0]);
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGKILL);  // killed by us, not an assertion (SIGABRT)
    INFO("round " << round << ": child reported high watermark " << last);
    auto snapshots = FileSnapshotStore::open(dir.path);
    REQUIRE(snapshots.ok());
    auto latest = (*snapshots)->latest();
    auto log = FileLog::open(FileLogOptions{dir.path, 512, 1 << 20, latest});
    REQUIRE(log.ok());
    CHECK_FALSE((*log)->recovery().dropped_for_snapshot);
    if (latest) {
      ++snapshots_seen;
      CHECK(*(*snapshots)->load(*latest) == "upto-" + std::to_string(latest->end_offset));
      CHECK((*log)->start_offset() == latest->end_offset);
    }
    REQUIRE((*log)->end_offset() >= last);
    for (Offset o = (*log)->start_offset() + 1; o < (*log)->end_offset(); ++o) {
      REQUIRE((*log)->entry(o).epoch >= (*log)->entry(o - 1).epoch);
    }
    committed = last;
  }
  CHECK(committed > 400);
  CHECK(snapshots_seen == 8);
}

TEST_CASE("an_observer_over_tcp_catches_up_by_snapshot_and_the_leader_lists_it_in_describe_quorum") {
  TempDir leader_dir, observer_dir;
  TcpTransportConfig leader_tc;
  leader_tc.self_id = 1;
  leader_tc.voters = {VoterAddress{1, "127.0.0.1", 1}};  // its own address is not used
  TcpRaftTransport leader_transport(leader_tc);
  REQUIRE(leader_transport.listen().ok());

  RaftNodeOptions leader_options;
  leader_options.config.node_id = 1;
  leader_options.config.voters = {1};
  leader_options.config.election_timeout_ms = 10;
  leader_options.config.max_snapshot_chunk_bytes = 64;  // several chunks over TCP
  leader_options.log_dir = leader_dir.path;
  leader_options.transport = &leader_transport;
  RaftNode* leader_self = nullptr;
  int delivered = 0;
  auto leader_listener = [&](Offset offset, const std::string&) {
    if (++delivered == 40) leader_self->snapshot_here(offset + 1, std::string(300, 'S') + std::to_string(offset + 1));
  };
  auto leader = RaftNode::open(leader_options, leader_listener, [](SnapshotId, SnapshotPayloadReader&) { return ok_status(); });
  REQUIRE(leader.ok());
  leader_self = leader->get();
  (*leader)->start();
  REQUIRE((*leader)->wait_for([](const NodeStatus& s) { return s.role == Role::leader; }, 30000).ok());
  for (int i = 0; i < 50; ++i) {
    std::promise<Result<Offset>> done;
    (*leader)->propose("e" + std::to_string(i), [&](Result<Offset> r) { done.set_value(std::move(r)); });
    REQUIRE(done.get_future().get().ok());
  }
  auto leader_status = (*leader)->wait_for([](const NodeStatus& s) { return s.log_start == 41; }, 30000);
  REQUIRE(leader_status.ok());

  TcpTransportConfig observer_tc;
  observer_tc.self_id = 2;
  observer_tc.voters = {VoterAddress{1, "127.0.0.1", leader_transport.port()}};
  TcpRaftTransport observer_transport(observer_tc);
  RaftNodeOptions observer_options;
  observer_options.config.node_id = 2;
  observer_options.config.voters = {1};  // not a voter: an observer
  observer_options.config.request_timeout_ms = 200;
  observer_options.log_dir = observer_dir.path;
  observer_options.transport = &observer_transport;
  std::mutex mu;
  std::vector<std::pair<SnapshotId, std::string>> installed;
  std::vector<std::string> entries;
  auto observer = RaftNode::open(
      observer_options,
      [&](Offset, const std::string& data) {
        std::lock_guard lock(mu);
        entries.push_back(data);
      },
      [&](SnapshotId id, SnapshotPayloadReader& payload) {
        std::lock_guard lock(mu);
        installed.emplace_back(id, *payload.read_all());
        return ok_status();
      });
  REQUIRE(observer.ok());
  (*observer)->start();
  Offset target = leader_status->high_watermark;
  auto caught_up = (*observer)->wait_for([&](const NodeStatus& s) { return s.applied_end >= target; }, 10000);
  REQUIRE(caught_up.ok());
  CHECK(caught_up->snapshots_installed == 1);
  CHECK(caught_up->log_start == 41);
  {
    std::lock_guard lock(mu);
    REQUIRE(installed.size() == 1);
    CHECK(installed[0].first == SnapshotId{41, 1});
    CHECK(installed[0].second == std::string(300, 'S') + "41");
    REQUIRE(entries.size() == 10);  // e40..e49 at offsets 41..50, by Fetch after the snapshot
    CHECK(entries.front() == "e40");
    CHECK(entries.back() == "e49");
  }
  std::promise<QuorumDescription> described;
  (*leader)->post([&] { described.set_value((*leader)->describe_quorum_here()); });
  auto q = described.get_future().get();
  REQUIRE(q.observers.size() == 1);
  CHECK(q.observers[0].replica_id == 2);
  CHECK(q.observers[0].log_end_offset >= 41);
  CHECK(q.observers[0].last_fetch_timestamp_ms > 0);
  (*observer)->close();
  (*leader)->close();
}
