// RaftNode: the runtime that drives a pure RaftReplica (raft/replica.h) for real — one thread, a
// steady clock, the on-disk FileLog + FileQuorumStateStore in the metadata log directory, and a
// RaftTransport for the other voters (nullptr for a single voter).
//
// What it promises its owner (the controller):
//  (1) propose(data, done): `done` runs exactly once, on the node thread. Ok(offset) only after
//      the entry is committed (the high watermark passed it while this node still led the epoch
//      it was proposed in; the leader fsyncs before the watermark moves) AND the committed-entry
//      listener has been called for it. An error (Errc::internal "not the leader", "closed",
//      Errc::too_large on backpressure) otherwise; such an entry may still commit later under a
//      new leader, as in any Raft.
//  (2) The listener receives every committed non-control entry exactly once, in log order, on
//      the node thread — starting at options.apply_from (entries below it are already reflected
//      in the owner's state), including entries replayed from the log at startup.
//  (2b) Snapshots (KIP-630): the snapshot listener is told "replace your state with this
//      snapshot" — at open() with the newest snapshot in the log dir (before any entry; the log
//      replays from its end), and on the node thread whenever a snapshot downloaded from the
//      leader was installed (the follower was behind the leader's log start); entries then
//      continue from the snapshot's end. The listener reads the payload incrementally
//      (SnapshotPayloadReader, one batch at a time), so an install costs the decoded state plus
//      one batch. The owner hands the node its own snapshots with snapshot_here(end_offset,
//      payload) (state after every entry below end_offset, which must already be applied); a
//      background writer thread stores it atomically (raft/snapshot_store.h: temp file, fsync,
//      rename, directory fsync) while the node thread keeps ticking and answering, and only
//      once it is durable does the node thread drop the log below it (raft/log_store.h), so
//      memory and disk are bounded by what follows it. At most one snapshot is being written;
//      one handed over meanwhile waits (a newer one replaces it). A crash at any point leaves
//      the previous snapshot and the log under the new one intact.
//  (3) post(fn) runs fn on the node thread, in order with proposals, inbound messages and ticks;
//      fn may call propose_here() (the same as propose, without the hop). After close(), fn runs
//      inline on the caller's thread and sees a closed node (propose fails at once).
//  (4) close() stops the thread; callbacks of unfinished proposals and tasks get an error; no
//      callback runs after close() returns. Idempotent.
// With voters == {self}, the replica elects itself after one (short) election timeout.
// Thread safety: propose/post/status/wait_for/close may be called from any thread; the listener,
// callbacks and posted tasks must not block (they run on the node thread) and must not call
// wait_for or close.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "raft/log_store.h"
#include "raft/replica.h"
#include "raft/replicated_log.h"
#include "raft/snapshot_store.h"
#include "raft/transport.h"

namespace floe::raft {

struct RaftNodeOptions {
  RaftConfig config;
  std::string log_dir;
  RaftTransport* transport = nullptr;  // nullptr: no peers (single voter)
  int64_t tick_interval_ms = 10;
  Offset apply_from = 0;  // the first offset the listener needs
  size_t max_inbound_messages = 10000;  // beyond this, inbound messages are dropped (Raft retries)
  SnapshotRetention snapshot_retention;  // which older snapshots stay (raft/snapshot_store.h)
  // Tests: runs on the snapshot writer thread once a snapshot's temp file is written, before it
  // is synced and renamed (a slow disk, or a crash mid-write).
  std::function<void(SnapshotId)> snapshot_write_hook;
};

// The production ReplicatedLog (raft/replicated_log.h).
class RaftNode final : public ReplicatedLog {
 public:
  // "Replace your state with this snapshot" (the payload as given to snapshot_here, on whichever
  // node took it, read incrementally: reading it to its end (0) also checks it is complete). An
  // error at open fails open; at an install from the leader it stops the node (fail-stop).
  // (ReplicatedLog's listener takes the payload whole; RaftNode never holds it whole.)
  using SnapshotListener = std::function<Status(SnapshotId id, SnapshotPayloadReader& payload)>;

  // Opens the snapshots, log and quorum state in options.log_dir; the snapshot listener is
  // called (on the caller's thread) with the newest snapshot there. Starts no thread: the node
  // runs once start() is called, so the owner can first store the pointer its callbacks use.
  // A log dir holding a snapshot needs a snapshot listener (else Errc::unsupported). Snapshot
  // payloads are as given to snapshot_here, on whichever node took it.
  static Result<std::unique_ptr<RaftNode>> open(RaftNodeOptions options, Listener listener,
                                                SnapshotListener snapshot_listener = nullptr);
  // Starts the node thread, the snapshot writer and the transport's inbound delivery. Call once,
  // after open. Until then no callback runs; tasks and proposals posted meanwhile wait for it
  // (status() is the state as opened). close() before start() just closes.
  void start();
  ~RaftNode() override;
  RaftNode(const RaftNode&) = delete;
  RaftNode& operator=(const RaftNode&) = delete;

  void propose(std::string data, ProposeCallback done);
  void post(std::function<void()> task) override;
  // REQUIRES: on the node thread (inside a posted task or callback).
  void propose_here(std::string data, ProposeCallback done) override;
  // REQUIRES: on the node thread.
  const RaftReplica& replica_here() const { return *replica_; }
  Role role_here() const override { return replica_->role(); }
  Epoch epoch_here() const override { return replica_->epoch(); }
  // REQUIRES: on the node thread. Every committed entry below it was delivered to the listener.
  Offset applied_end_here() const override { return applied_end_; }
  // REQUIRES: on the node thread.
  Offset log_end_here() const override { return log_->end_offset(); }
  // REQUIRES: on the node thread (typically inside the listener, for the entry just delivered:
  // end_offset = its offset + 1). Handed to the writer thread right after the current delivery
  // round (or when the write in flight is done), if every entry below end_offset was delivered
  // by then; the log below it is dropped once it is durable. A failure is logged and the log
  // kept.
  void snapshot_here(Offset end_offset, std::string payload) override;

  // REQUIRES: on the node thread. The quorum as this node sees it (DescribeQuorum).
  QuorumDescription describe_quorum_here() const override;

  NodeStatus status() const override;
  // Waits until pred(status) holds, at most timeout_ms; returns the status that satisfied it.
  Result<NodeStatus> wait_for(const std::function<bool(const NodeStatus&)>& pred, int64_t timeout_ms);
  void close() override;

 private:
  class Io;
  struct Pending {
    Epoch epoch;
    ProposeCallback done;
  };

  explicit RaftNode(RaftNodeOptions options, Listener listener, SnapshotListener snapshot_listener);
  void run();
  void deliver_committed();
  void take_pending_snapshot();
  void snapshot_written(SnapshotId id, const Status& status);
  void write_snapshots();  // the writer thread
  void install_snapshot_from_log_start();
  void fail_pending(const std::string& why);
  void publish_status();
  int64_t now_ms() const;

  RaftNodeOptions options_;
  Listener listener_;
  SnapshotListener snapshot_listener_;
  std::unique_ptr<FileSnapshotStore> snapshots_;
  std::unique_ptr<FileLog> log_;
  std::unique_ptr<FileQuorumStateStore> store_;
  std::unique_ptr<Io> io_;
  std::unique_ptr<RaftReplica> replica_;

  // Node-thread state.
  Offset applied_end_ = 0;
  std::map<Offset, Pending> pending_;  // proposals awaiting commit, by offset
  Epoch last_epoch_ = 0;
  Role last_role_ = Role::unattached;
  std::optional<std::pair<Offset, std::string>> pending_snapshot_;
  bool writing_snapshot_ = false;  // a job is with the writer thread
  int snapshots_written_ = 0;
  int64_t next_retention_ms_ = 0;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // tasks arrived (node thread waits)
  std::condition_variable status_cv_;  // status changed (wait_for waits)
  std::deque<std::function<void()>> tasks_;
  std::deque<std::pair<NodeId, RaftMessage>> inbound_;
  NodeStatus status_;
  bool stopping_ = false;
  bool started_ = false;  // start() was called
  std::thread thread_;
  // The snapshot writer (guarded by mu_): at most one job, and its result for the node thread.
  std::condition_variable writer_cv_;
  std::optional<std::pair<SnapshotId, std::string>> write_job_;
  std::optional<std::pair<SnapshotId, Status>> write_done_;
  bool writer_stopping_ = false;
  std::thread writer_;
};

}  // namespace floe::raft
