// The seam between a RaftReplica and the world: outgoing messages, randomness, the metadata log
// and the quorum-state record. The replica is pure and single-threaded; everything it does to the
// outside goes through these three interfaces, so a simulator (tests/raft/) can drive the real
// code deterministically and a production Env (net/ transport, on-disk log) can drive it for real.
//
// Durability contract:
//  (1) RaftLog::append/truncate_to are visible at once but durable only after sync(); a crash
//      may lose anything not synced (the simulator's MemoryLog does exactly that).
//      start_advanced_to/reset_to (the log's front moves past a snapshot) are durable at once.
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

// The log holds entries [start_offset(), end_offset()); everything below start_offset() is in a
// snapshot whose id is {start_offset(), start_epoch()} (KIP-630). A log that never had a snapshot
// starts at 0 with start_epoch() 0.
class RaftLog {
 public:
  virtual ~RaftLog() = default;
  virtual Offset start_offset() const = 0;
  // The epoch of the entry at start_offset() - 1 (the snapshot's epoch); 0 when start is 0.
  virtual Epoch start_epoch() const = 0;
  virtual Offset end_offset() const = 0;
  // REQUIRES: start_offset() <= offset < end_offset().
  virtual const LogEntry& entry(Offset offset) const = 0;
  virtual void append(LogEntry entry) = 0;
  // Drops every entry at or after end. REQUIRES: start_offset() <= end <= end_offset().
  virtual void truncate_to(Offset end) = 0;
  virtual Status sync() = 0;
  // A snapshot covering every entry below snapshot.end_offset is durable: forget those entries.
  // REQUIRES: start_offset() <= snapshot.end_offset <= end_offset(), the entries below it are
  // durable, and the entry at snapshot.end_offset - 1 has epoch snapshot.epoch.
  virtual void advance_start(SnapshotId snapshot) = 0;
  // A snapshot from the leader was installed: drop the whole log; it restarts empty at
  // snapshot.end_offset.
  virtual void reset_to(SnapshotId snapshot) = 0;
};

// Where a replica's snapshots live (KIP-630). A snapshot is an opaque file of bytes (the state
// machine's image at its id plus whatever framing the store adds); the leader serves it by byte
// position and a follower downloads it chunk by chunk, then installs it atomically.
class SnapshotStore {
 public:
  virtual ~SnapshotStore() = default;
  virtual std::optional<SnapshotId> latest() const = 0;
  // The size of a stored snapshot file; Errc::not_found if the store no longer has it.
  virtual Result<int64_t> size_bytes(SnapshotId id) const = 0;
  // Up to max_bytes of the file from position. REQUIRES: 0 <= position <= size.
  virtual Result<std::string> read(SnapshotId id, int64_t position, int32_t max_bytes) const = 0;
  // Starts downloading `id` (discarding any other partial download).
  virtual Status begin_download(SnapshotId id) = 0;
  // Appends the chunk at `position`, which must be the bytes received so far.
  virtual Status write_chunk(SnapshotId id, int64_t position, std::string_view bytes) = 0;
  // Validates the downloaded file and makes it durable and latest() (atomically: a crash leaves
  // either the old set of snapshots or the new one).
  virtual Status finish_download(SnapshotId id) = 0;
  // Drops an unfinished download (its partial file), if any.
  virtual void abort_download() {}
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
