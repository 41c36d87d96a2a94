// In-memory RaftLog and QuorumStateStore with crash semantics, for tests and the simulator.
//
// MemoryLog keeps two images: the visible one (what the replica reads) and the durable one (as of
// the last sync()). crash() throws the visible image away and restarts from the durable one,
// which models a disk that loses unsynced writes on power loss. advance_start/reset_to change
// both images at once (they are durable when they return, as on disk).
// Invariants: (1) durable entries are a prefix-snapshot of some earlier visible state;
//             (2) after sync(), durable == visible.
// An optional observer sees every appended entry (the simulator's log-matching check).
// Thread safety: none.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "raft/env.h"

namespace floe::raft {

class MemoryLog final : public RaftLog {
 public:
  // Called on append with (offset, entry, epoch of the previous entry or 0).
  using AppendObserver = std::function<void(Offset, const LogEntry&, Epoch)>;

  Offset start_offset() const override { return start_; }
  Epoch start_epoch() const override { return start_epoch_; }
  Offset end_offset() const override { return start_ + static_cast<Offset>(visible_.size()); }
  const LogEntry& entry(Offset offset) const override;
  void append(LogEntry entry) override;
  void truncate_to(Offset end) override;
  Status sync() override;
  void advance_start(SnapshotId snapshot) override;
  void reset_to(SnapshotId snapshot) override;

  void crash();  // lose everything not synced
  Offset durable_end_offset() const { return start_ + static_cast<Offset>(durable_.size()); }
  void set_observer(AppendObserver observer) { observer_ = std::move(observer); }

 private:
  Offset start_ = 0;
  Epoch start_epoch_ = 0;
  std::vector<LogEntry> visible_;  // entries from start_
  std::vector<LogEntry> durable_;
  size_t first_dirty_ = 0;  // visible_[0, first_dirty_) == durable_[0, first_dirty_)
  AppendObserver observer_;
};

// Snapshots as byte strings; everything stored is durable at once (a crash loses only a partial
// download). finish_download checks the bytes against the expected content only through the
// optional validator (the simulator's), as FileSnapshotStore checks its CRC.
class MemorySnapshotStore final : public SnapshotStore {
 public:
  using Validator = std::function<Status(SnapshotId, const std::string&)>;
  std::optional<SnapshotId> latest() const override;
  Result<int64_t> size_bytes(SnapshotId id) const override;
  Result<std::string> read(SnapshotId id, int64_t position, int32_t max_bytes) const override;
  Status begin_download(SnapshotId id) override;
  Status write_chunk(SnapshotId id, int64_t position, std::string_view bytes) override;
  Status finish_download(SnapshotId id) override;
  void abort_download() override { partial_.reset(); }

  // The owner's own snapshot; keeps the newest `keep` snapshots.
  void save(SnapshotId id, std::string bytes, size_t keep = 2);
  Result<std::string> load(SnapshotId id) const;
  void crash() { partial_.reset(); }
  void set_validator(Validator validator) { validator_ = std::move(validator); }
  int installs() const { return installs_; }

 private:
  std::vector<std::pair<SnapshotId, std::string>> snapshots_;  // by end offset, ascending
  std::optional<std::pair<SnapshotId, std::string>> partial_;
  Validator validator_;
  int installs_ = 0;
};

class MemoryQuorumStateStore final : public QuorumStateStore {
 public:
  std::optional<QuorumState> load() override { return state_; }
  Status save(const QuorumState& state) override {
    state_ = state;
    ++saves_;
    return ok_status();
  }
  int saves() const { return saves_; }

 private:
  std::optional<QuorumState> state_;
  int saves_ = 0;
};

}  // namespace floe::raft
