// FileLog / FileQuorumStateStore: the metadata log on disk and its recovery after a crash.
#include "raft/log_store.h"

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>

#include "raft/replica.h"
#include "raft_test_util.h"

using namespace floe::raft;
namespace fs = std::filesystem;

using floe::raft::testing::TempDir;

namespace {

std::unique_ptr<FileLog> open_log(const std::string& dir, int64_t segment_bytes = 8 << 20) {
  auto log = FileLog::open(FileLogOptions{dir, segment_bytes, 1 << 20, {}});
  REQUIRE(log.ok());
  return std::move(log).value();
}

LogEntry entry_for(Offset offset, Epoch epoch) {
  return LogEntry{epoch, offset % 7 == 0, "entry-" + std::to_string(offset)};
}

void fill(FileLog& log, Offset count, Epoch epoch) {
  for (Offset o = log.end_offset(); o < count; ++o) log.append(entry_for(o, epoch));
  REQUIRE(log.sync().ok());
}

std::vector<fs::path> segments_of(const std::string& dir) {
  std::vector<fs::path> files;
  for (auto& item : fs::directory_iterator(dir)) {
    if (item.path().extension() == ".log") files.push_back(item.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

TEST_CASE("synced_entries_survive_reopen_across_segments") {
  TempDir dir;
  {
    auto log = open_log(dir.path, 200);
    fill(*log, 50, 1);
    for (Offset o = 50; o < 60; ++o) log->append(entry_for(o, 2));
    REQUIRE(log->sync().ok());
    CHECK(log->segment_count() > 3);
  }
  auto log = open_log(dir.path, 200);
  REQUIRE(log->end_offset() == 60);
  CHECK(log->recovery().truncated_bytes == 0);
  for (Offset o = 0; o < 60; ++o) CHECK(log->entry(o) == entry_for(o, o < 50 ? 1 : 2));
}

TEST_CASE("a_crash_at_any_byte_of_the_tail_recovers_the_complete_records_before_it") {
  TempDir dir;
  std::vector<int64_t> record_ends;
  {
    auto log = open_log(dir.path);
    for (Offset o = 0; o < 6; ++o) {
      log->append(entry_for(o, 1));
      REQUIRE(log->sync().ok());
      record_ends.push_back(static_cast<int64_t>(fs::file_size(segments_of(dir.path).at(0))));
    }
  }
  fs::path segment = segments_of(dir.path).at(0);
  std::string full;
  {
    std::ifstream in(segment, std::ios::binary);
    full.assign(std::istreambuf_iterator<char>(in), {});
  }
  for (size_t cut = 0; cut <= full.size(); ++cut) {
    INFO("cut at byte " << cut);
    {
      std::ofstream out(segment, std::ios::binary | std::ios::trunc);
      out.write(full.data(), static_cast<std::streamsize>(cut));
    }
    auto log = open_log(dir.path);
    Offset complete = std::count_if(record_ends.begin(), record_ends.end(),
                                    [&](int64_t end) { return end <= static_cast<int64_t>(cut); });
    REQUIRE(log->end_offset() == complete);
    // The torn tail is gone from disk too, and the log keeps working after it.
    log->append(entry_for(complete, 3));
    REQUIRE(log->sync().ok());
    log.reset();
    auto again = open_log(dir.path);
    REQUIRE(again->end_offset() == complete + 1);
    CHECK(again->entry(complete).epoch == 3);
  }
}

TEST_CASE("a_flipped_bit_in_the_last_record_fails_its_crc_and_is_dropped") {
  TempDir dir;
  {
    auto log = open_log(dir.path);
    fill(*log, 5, 1);
  }
  fs::path segment = segments_of(dir.path).at(0);
  {
    std::fstream file(segment, std::ios::binary | std::ios::in | std::ios::out);
    file.seekp(-2, std::ios::end);
    file.put('\x7f');
  }
  auto log = open_log(dir.path);
  CHECK(log->end_offset() == 4);
  CHECK(log->recovery().truncated_bytes > 0);
}

TEST_CASE("a_garbage_length_at_the_tail_is_cut_without_being_trusted") {
  TempDir dir;
  {
    auto log = open_log(dir.path);
    fill(*log, 3, 1);
  }
  fs::path segment = segments_of(dir.path).at(0);
  {
    std::ofstream out(segment, std::ios::binary | std::ios::app);
    const char huge[] = "\x7f\xff\xff\xff\x00\x00\x00\x00garbage";
    out.write(huge, sizeof(huge) - 1);
  }
  auto log = open_log(dir.path);
  CHECK(log->end_offset() == 3);
  CHECK(log->recovery().truncated_bytes == 15);
}

TEST_CASE("segments_after_a_corrupt_segment_are_deleted") {
  TempDir dir;
  {
    auto log = open_log(dir.path, 100);
    fill(*log, 30, 1);
  }
  auto files = segments_of(dir.path);
  REQUIRE(files.size() >= 3);
  fs::resize_file(files[1], fs::file_size(files[1]) - 1);
  auto log = open_log(dir.path, 100);
  CHECK(log->recovery().segments_deleted == static_cast<int>(files.size()) - 2);
  CHECK(segments_of(dir.path).size() == 2);
  for (Offset o = 0; o < log->end_offset(); ++o) CHECK(log->entry(o) == entry_for(o, 1));
}

TEST_CASE("truncation_is_durable_and_later_appends_replace_the_tail") {
  TempDir dir;
  {
    auto log = open_log(dir.path, 150);
    fill(*log, 40, 1);
    size_t before = log->segment_count();
    log->truncate_to(10);
    CHECK(log->segment_count() < before);
    log->append(LogEntry{2, false, "new-10"});
    log->append(LogEntry{2, false, "new-11"});
    REQUIRE(log->sync().ok());
  }
  auto log = open_log(dir.path, 150);
  REQUIRE(log->end_offset() == 12);
  CHECK(log->entry(9) == entry_for(9, 1));
  CHECK(log->entry(10).data == "new-10");
  CHECK(log->entry(11).epoch == 2);
}

TEST_CASE("quorum_state_is_replaced_atomically_and_corruption_is_an_error") {
  TempDir dir;
  {
    auto store = FileQuorumStateStore::open(dir.path);
    REQUIRE(store.ok());
    CHECK_FALSE((*store)->load().has_value());
    REQUIRE((*store)->save(QuorumState{3, 1, 2}).ok());
    REQUIRE((*store)->save(QuorumState{4, kNoNode, 5}).ok());
  }
  CHECK_FALSE(fs::exists(dir.path + "/quorum-state.tmp"));
  {
    std::ofstream leftover(dir.path + "/quorum-state.tmp");  // a crash mid-save leaves this
    leftover << "half";
  }
  auto store = FileQuorumStateStore::open(dir.path);
  REQUIRE(store.ok());
  REQUIRE((*store)->load().has_value());
  CHECK(*(*store)->load() == QuorumState{4, kNoNode, 5});
  {
    std::fstream file(dir.path + "/quorum-state", std::ios::binary | std::ios::in | std::ios::out);
    file.seekp(6);
    file.put('\x01');
  }
  auto corrupt = FileQuorumStateStore::open(dir.path);
  REQUIRE_FALSE(corrupt.ok());
  CHECK(corrupt.error().code == floe::Errc::corrupt);
}

TEST_CASE("a_single_voter_replica_on_disk_commits_and_recovers_its_log_and_vote") {
  TempDir dir;
  struct NullIo final : RaftIo {
    void send(NodeId, RaftMessage) override {}
    uint64_t random_u64() override { return 0; }
  } io;
  RaftConfig config;
  config.node_id = 1;
  config.voters = {1};
  {
    auto log = open_log(dir.path);
    auto store = std::move(FileQuorumStateStore::open(dir.path)).value();
    RaftReplica replica(config, io, *log, *store, 0);
    replica.tick(config.election_timeout_ms);
    REQUIRE(replica.role() == Role::leader);
    REQUIRE(replica.propose("hello", 1000).ok());
    replica.tick(1001);
    CHECK(replica.high_watermark() == 2);
  }
  auto log = open_log(dir.path);
  auto store = std::move(FileQuorumStateStore::open(dir.path)).value();
  REQUIRE(log->end_offset() == 2);
  CHECK(log->entry(1).data == "hello");
  CHECK(store->load()->voted_for == 1);
  RaftReplica restarted(config, io, *log, *store, 5000);
  CHECK(restarted.role() == Role::resigned);
  restarted.tick(5000 + 2 * config.election_timeout_ms);
  CHECK(restarted.role() == Role::leader);
  CHECK(restarted.epoch() == 2);
}

TEST_CASE("kill_minus_9_at_random_points_never_loses_a_committed_entry") {
  // A real process runs a single-voter replica on the on-disk log and reports every high
  // watermark through a pipe; we SIGKILL it at a random moment, reopen, and check that every
  // entry it reported committed is there, then let the next incarnation carry on.
  TempDir dir;
  RaftConfig config;
  config.node_id = 1;
  config.voters = {1};
  config.election_timeout_ms = 2;
  uint64_t rng = 12345;
  Offset committed = 0;
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
      auto log = FileLog::open(FileLogOptions{dir.path, 4096, 1 << 20, {}});
      auto store = FileQuorumStateStore::open(dir.path);
      if (!log.ok() || !store.ok()) ::_exit(3);
      RaftReplica replica(config, io, **log, **store, 0);
      Offset reported = -1;
      for (int64_t now = 1;; ++now) {
        replica.tick(now);
        if (replica.role() == Role::leader) {
          (void)replica.propose("r" + std::to_string(round) + "-" + std::to_string(now), now);
          replica.tick(now);
        }
        Offset hw = replica.high_watermark();
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
    auto log = open_log(dir.path, 4096);
    REQUIRE(log->end_offset() >= last);
    for (Offset o = 1; o < log->end_offset(); ++o) REQUIRE(log->entry(o).epoch >= log->entry(o - 1).epoch);
    auto store = FileQuorumStateStore::open(dir.path);
    REQUIRE(store.ok());
    REQUIRE((*store)->load().has_value());
    CHECK((*store)->load()->epoch == round + 1);  // each incarnation leads a new epoch
    committed = last;
  }
  CHECK(committed > 400);
}
