// On-disk metadata log (metadata.log.dir) and quorum-state file for a RaftReplica.
//
// FileLog: the RaftLog as segment files "<base offset, 20 digits>.log", each a run of records
//   record := u32 body_bytes | u32 crc32c(body) | body
//   body   := i64 offset | i32 epoch | u8 flags (bit 0 = control) | data (body_bytes - 13 bytes)
// all big-endian. The whole log is also held in memory (the metadata log is small; snapshots will
// bound it). append() writes at once (page cache); sync() fdatasyncs every segment written since
// the last sync and fsyncs the directory if segments were created or removed.
// truncate_to() is made durable immediately (ftruncate + fdatasync), so later appends can never
// reappear after a crash on top of entries that were truncated away.
//
// Recovery (open): segments are read in order; the first record that is short, too large, fails
// its CRC, has the wrong offset or a decreasing epoch ends the log: that segment is cut there and
// every later segment is deleted. What survives is a prefix of the log as some earlier sync left it
// plus, possibly, whole unsynced records written after it, which the replica never acknowledged.
// I/O errors during append/truncate are sticky and reported by the next sync() (the replica treats
// a failed sync as fatal and restarts through recovery).
//
// FileQuorumStateStore: "quorum-state" := "FLQS" | u8 version=1 | i32 epoch | i32 leader_id |
//   i32 voted_for | u32 crc32c(of the preceding 17 bytes); written to "quorum-state.tmp", fsynced,
//   renamed over, and the directory fsynced: a reader sees the old or the new state, never a mix.
//   A corrupt file is an error at open (never silently "no vote").
// Thread safety: none; one replica owns them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "raft/env.h"

namespace floe::raft {

struct FileLogOptions {
  std::string dir;
  int64_t segment_bytes = 8 << 20;  // roll to a new segment file past this size
  size_t max_entry_bytes = 1 << 20;  // larger records are treated as corruption on recovery
};

struct RecoveryReport {
  Offset entries = 0;
  int64_t truncated_bytes = 0;  // torn or corrupt tail bytes cut away
  int segments_deleted = 0;
};

class FileLog final : public RaftLog {
 public:
  static Result<std::unique_ptr<FileLog>> open(FileLogOptions options);
  ~FileLog() override;
  FileLog(const FileLog&) = delete;
  FileLog& operator=(const FileLog&) = delete;

  Offset end_offset() const override { return static_cast<Offset>(entries_.size()); }
  const LogEntry& entry(Offset offset) const override;
  void append(LogEntry entry) override;
  void truncate_to(Offset end) override;
  Status sync() override;

  const RecoveryReport& recovery() const { return recovery_; }
  size_t segment_count() const { return segments_.size(); }

 private:
  struct Segment {
    Offset base_offset = 0;
    std::string path;
    int fd = -1;
    int64_t size_bytes = 0;
  };
  struct Position {
    size_t segment;
    int64_t file_offset;
  };

  explicit FileLog(FileLogOptions options) : options_(std::move(options)) {}
  Status recover();
  Status recover_segment(size_t index, bool& stop);
  Status open_segment(Offset base_offset);
  void note(Status status);

  FileLogOptions options_;
  int dir_fd_ = -1;
  std::vector<Segment> segments_;
  std::vector<LogEntry> entries_;
  std::vector<Position> positions_;  // where each entry's record starts
  size_t first_unsynced_segment_ = SIZE_MAX;
  bool dir_dirty_ = false;
  Status error_;  // sticky
  RecoveryReport recovery_;
};

class FileQuorumStateStore final : public QuorumStateStore {
 public:
  static Result<std::unique_ptr<FileQuorumStateStore>> open(const std::string& dir);
  std::optional<QuorumState> load() override { return state_; }
  Status save(const QuorumState& state) override;

 private:
  explicit FileQuorumStateStore(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
  std::optional<QuorumState> state_;
};

}  // namespace floe::raft
