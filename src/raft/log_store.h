// On-disk metadata log (metadata.log.dir) and quorum-state file for a RaftReplica.
//
// FileLog: the RaftLog as segment files "<base offset, 20 digits>.log", each a run of records
//   record := u32 body_bytes | u32 crc32c(body) | body
//   body   := i64 offset | i32 epoch | u8 flags (bit 0 = control) | data (body_bytes - 13 bytes)
// all big-endian. The log from its start offset is also held in memory; snapshots bound it.
// append() writes at once (page cache); sync() fdatasyncs every segment written since the last
// sync and fsyncs the directory if segments were created or removed.
// Snapshots (KIP-630): advance_start(id) moves the log start to id.end_offset, forgets the
// entries below it in memory and deletes the segment files wholly below it (the next append
// rolls a new segment, so the next snapshot frees the current one); reset_to(id) deletes every
// segment (the log restarts empty at id.end_offset). Both fsync the directory before returning.
// truncate_to() is made durable immediately (ftruncate + fdatasync), so later appends can never
// reappear after a crash on top of entries that were truncated away.
//
// Recovery (open): segments are read in order; the first record that is short, too large, fails
// its CRC, has the wrong offset or a decreasing epoch ends the log: that segment is cut there and
// every later segment is deleted. What survives is a prefix of the log as some earlier sync left it
// plus, possibly, whole unsynced records written after it, which the replica never acknowledged.
// With FileLogOptions::snapshot = S (the latest durable snapshot): segments wholly below
// S.end_offset are deleted, records below it are checked but not kept, and the log starts at
// S.end_offset. If the log cannot be shown to continue S — it ends before S.end_offset, has a gap
// there, or its entry at S.end_offset - 1 has another epoch (a crash between installing a leader's
// snapshot and dropping the old log) — every segment is deleted and the log starts empty at S.
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
#include <optional>
#include <string>
#include <vector>

#include "raft/env.h"

namespace floe::raft {

struct FileLogOptions {
  std::string dir;
  int64_t segment_bytes = 8 << 20;  // roll to a new segment file past this size
  size_t max_entry_bytes = 1 << 20;  // larger records are treated as corruption on recovery
  std::optional<SnapshotId> snapshot;  // the latest durable snapshot: the log starts at its end
};

struct RecoveryReport {
  Offset entries = 0;
  int64_t truncated_bytes = 0;  // torn or corrupt tail bytes cut away
  int segments_deleted = 0;
  bool dropped_for_snapshot = false;  // the log did not continue the snapshot: it starts empty at it
};

class FileLog final : public RaftLog {
 public:
  static Result<std::unique_ptr<FileLog>> open(FileLogOptions options);
  ~FileLog() override;
  FileLog(const FileLog&) = delete;
  FileLog& operator=(const FileLog&) = delete;

  Offset start_offset() const override { return start_offset_; }
  Epoch start_epoch() const override { return start_epoch_; }
  Offset end_offset() const override { return start_offset_ + static_cast<Offset>(entries_.size()); }
  const LogEntry& entry(Offset offset) const override;
  void append(LogEntry entry) override;
  void truncate_to(Offset end) override;
  Status sync() override;
  void advance_start(SnapshotId snapshot) override;
  void reset_to(SnapshotId snapshot) override;

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
  Status delete_all_segments();
  void note(Status status);

  FileLogOptions options_;
  int dir_fd_ = -1;
  std::vector<Segment> segments_;
  Offset start_offset_ = 0;
  Epoch start_epoch_ = 0;
  std::vector<LogEntry> entries_;  // from start_offset_
  std::vector<Position> positions_;  // where each entry's record starts
  // Recovery only: the offset and epoch of the last record read (kept or not).
  Offset read_end_ = 0;
  Epoch read_last_epoch_ = 0;
  Epoch epoch_before_start_ = -1;  // the record at start - 1, if recovery read one
  bool roll_next_ = false;  // open a new segment at the next append (after advance_start)
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
