// The seam between a RaftReplica and the world: outgoing messages, randomness, the metadata log
// and the quorum-state record. The replica is pure and single-threaded; everything it does to the
// outside goes through these three interfaces, so a simulator (tests/raft/) can drive the real
// code deterministically and a production Env (net/ transport, on-disk log) can drive it for real.
//
// Durability contract:
//  (1) RaftLog::append/truncate_to are visible at once but durable only after sync(); a crash
//      may lose anything not synced (the simulator's MemoryLog does exactly that).
//  (2) QuorumStateStore::save is durable when it returns (atomic temp+fsync+rename on disk). The
//      replica saves before it answers a vote, so a vote is never forgotten.
// Thread safety: none; one replica owns its Env objects.
#pragma once

#include <optional>

#include "raft/types.h"

namespace floe::raft {

class RaftIo {
 public:
  virtual ~RaftIo() = default;
  virtual void send(NodeId to, RaftMessage message) = 0;
  virtual uint64_t random_u64() = 0;  // seeded in simulation
};

class RaftLog {
 public:
  virtual ~RaftLog() = default;
  virtual Offset end_offset() const = 0;
  // REQUIRES: offset < end_offset().
  virtual const LogEntry& entry(Offset offset) const = 0;
  virtual void append(LogEntry entry) = 0;
  // Drops every entry at or after end. REQUIRES: end <= end_offset().
  virtual void truncate_to(Offset end) = 0;
  virtual Status sync() = 0;
};

struct QuorumState {
  Epoch epoch = 0;
  NodeId leader_id = kNoNode;
  NodeId voted_for = kNoNode;
  bool operator==(const QuorumState&) const = default;
};

class QuorumStateStore {
 public:
  virtual ~QuorumStateStore() = default;
  virtual std::optional<QuorumState> load() = 0;
  virtual Status save(const QuorumState& state) = 0;
};

}  // namespace floe::raft
