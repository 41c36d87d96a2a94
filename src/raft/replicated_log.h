// ReplicatedLog: what a state machine owner (the metadata controller) needs from a Raft node,
// and nothing else — so the same owner code runs on the production RaftNode (raft/node.h: a
// thread, files, a steady clock) and on a replica of the deterministic simulator
// (tests/raft/simulation.h), which implements it single-threaded with simulated time.
//
// The contract (RaftNode's header states it in full; an implementation must keep all of it):
//  - post(fn) runs fn on the node's thread ("here"), in order with deliveries and proposals;
//    after close() it runs inline and sees a closed log (proposals fail at once).
//  - propose_here(data, done): `done` runs exactly once, here. Ok(offset) only after the entry
//    is committed while this node still led the epoch it was proposed in AND the committed-entry
//    listener was called for it; an error otherwise (the entry may still commit later). An error
//    delivered inline (before propose_here returns) means the entry was not appended.
//  - The listener sees every committed non-control entry exactly once, in log order, here; the
//    snapshot listener is told to replace the state with a snapshot (at open, or when a snapshot
//    from the leader was installed), after which entries continue from the snapshot's end.
//  - snapshot_here(end, payload): the owner's state after every entry below `end` (already
//    delivered); the log may then drop everything below it.
//  - *_here() accessors: only on the node's thread. status(): any thread.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/result.h"
#include "raft/replica.h"  // Role
#include "raft/types.h"

namespace floe::raft {

// A consistent view of the node, taken on the node thread after each loop iteration.
struct NodeStatus {
  Role role = Role::unattached;
  Epoch epoch = 0;
  NodeId leader_id = kNoNode;
  Offset high_watermark = 0;
  Offset applied_end = 0;  // every committed entry below this was delivered to the listener
  Offset log_end = 0;
  Offset epoch_start_offset = 0;  // leader only
  Offset log_start = 0;  // the latest snapshot's end (0: none)
  int snapshots_installed = 0;  // downloaded from a leader since open
  int snapshots_written = 0;  // own snapshots made durable since open (RaftNode)
  bool snapshot_writing = false;  // one is being written right now (RaftNode)
  bool closed = false;
};

// What DescribeQuorum reports (KIP-595/KIP-836), as this node sees it. Per-voter progress is
// known only on the leader; elsewhere log_end_offset and the timestamps are -1 (except for self).
struct QuorumReplicaState {
  NodeId replica_id = kNoNode;
  Offset log_end_offset = -1;
  int64_t last_fetch_timestamp_ms = -1;       // wall clock; -1 unknown
  int64_t last_caught_up_timestamp_ms = -1;   // wall clock; -1 unknown
};
struct QuorumDescription {
  NodeId self_id = kNoNode;
  Role role = Role::unattached;
  NodeId leader_id = kNoNode;
  Epoch epoch = 0;
  Offset high_watermark = 0;
  std::vector<QuorumReplicaState> voters;  // in the configured voter order
  std::vector<QuorumReplicaState> observers;  // leader only: non-voters that fetched recently
};

// The QuorumDescription of replica `r`, for every ReplicatedLog (RaftNode, the simulator's SimLog):
// own_log_end is r's log end; the replica's times (last fetches, catch-ups) are in its own clock,
// where it is now replica_now_ms, and are reported on the wall clock, where it is now wall_now_ms.
QuorumDescription describe_quorum(const RaftReplica& r, Offset own_log_end, int64_t replica_now_ms,
                                  int64_t wall_now_ms);

class ReplicatedLog {
 public:
  using Listener = std::function<void(Offset offset, const std::string& data)>;
  using ProposeCallback = std::function<void(Result<Offset>)>;
  // "Replace your state with this snapshot". An error is logged; the log carries on from the
  // snapshot's end regardless (RaftNode fail-stops when installing a leader's snapshot fails).
  using SnapshotListener = std::function<Status(SnapshotId id, const std::string& payload)>;

  virtual ~ReplicatedLog() = default;

  virtual void post(std::function<void()> task) = 0;
  virtual void propose_here(std::string data, ProposeCallback done) = 0;
  virtual Role role_here() const = 0;
  virtual Epoch epoch_here() const = 0;
  // Every committed entry below it was delivered to the listener.
  virtual Offset applied_end_here() const = 0;
  virtual Offset log_end_here() const = 0;
  virtual void snapshot_here(Offset end_offset, std::string payload) = 0;
  virtual QuorumDescription describe_quorum_here() const = 0;
  virtual NodeStatus status() const = 0;
  // Stops delivering; callbacks of unfinished proposals get an error. Idempotent.
  virtual void close() = 0;
};

}  // namespace floe::raft
