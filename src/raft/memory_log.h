// In-memory RaftLog and QuorumStateStore with crash semantics, for tests and the simulator.
//
// MemoryLog keeps two images: the visible one (what the replica reads) and the durable one (as of
// the last sync()). crash() throws the visible image away and restarts from the durable one,
// which models a disk that loses unsynced writes on power loss.
// Invariants: (1) durable entries are a prefix-snapshot of some earlier visible state;
//             (2) after sync(), durable == visible.
// An optional observer sees every appended entry (the simulator's log-matching check).
// Thread safety: none.
#pragma once

#include <functional>
#include <vector>

#include "raft/env.h"

namespace floe::raft {

class MemoryLog final : public RaftLog {
 public:
  // Called on append with (offset, entry, epoch of the previous entry or 0).
  using AppendObserver = std::function<void(Offset, const LogEntry&, Epoch)>;

  Offset end_offset() const override { return static_cast<Offset>(visible_.size()); }
  const LogEntry& entry(Offset offset) const override;
  void append(LogEntry entry) override;
  void truncate_to(Offset end) override;
  Status sync() override;

  void crash();  // lose everything not synced
  Offset durable_end_offset() const { return static_cast<Offset>(durable_.size()); }
  void set_observer(AppendObserver observer) { observer_ = std::move(observer); }

 private:
  std::vector<LogEntry> visible_;
  std::vector<LogEntry> durable_;
  size_t first_dirty_ = 0;  // visible_[0, first_dirty_) == durable_[0, first_dirty_)
  AppendObserver observer_;
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
