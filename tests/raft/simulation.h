// Deterministic simulation of a Raft quorum: the real RaftReplica code, driven by a seeded
// simulator of network (drop, delay, duplicate, reorder, partition), disks (MemoryLog loses
// unsynced writes on crash) and a clock. Everything random comes from one seed, so a failing
// seed replays exactly (FLOE_RAFT_SEED=<n>).
//
// Checked after EVERY step (message delivery or tick):
//  - election safety: at most one leader per epoch;
//  - log matching: an (offset, epoch) pair always names the same entry and the same previous
//    epoch (checked at every append; by induction same offset+epoch => identical prefix);
//  - leader completeness: a new leader of epoch E holds every entry committed in epochs < E;
//  - state machine safety: no two replicas apply different entries at the same offset, and an
//    entry acknowledged to a client as committed is the one every replica applies; a replica
//    whose state comes from a snapshot (its own after a restart, or the leader's, downloaded
//    with FetchSnapshot) gets exactly the committed prefix the snapshot's id names.
// Snapshots (KIP-630): at random ticks a replica snapshots its applied state (the content is a
// digest of the committed prefix) and its log drops everything below; laggards and restarted
// replicas catch up through FetchSnapshot, in small chunks.
// At the end, with the network healed and every node up: liveness — one leader is elected, a
// final proposal commits, and every replica (voters and observer) has applied every committed
// entry.
// State machine: by default each replica's "state" is the digest of the committed prefix. With
// SimOptions::state_machine, each replica also runs a real state machine (e.g. the controller's
// metadata state, tests/metadata): the leader's machine makes the proposals, every replica
// applies its committed non-control entries to its own machine, snapshots carry the machine's
// bytes, and after every apply and every snapshot load the replica's state must equal a
// reference machine fed the committed entries in order (checked by fingerprint).
// Hosted mode (SimOptions::host): each replica instead runs a real OWNER of a ReplicatedLog
// (raft/replicated_log.h) — the metadata controller — on a SimLog over the simulated replica: the
// owner proposes through it (propose_here; its tasks run at the node's ticks), the simulator
// delivers committed entries and snapshots to the owner's listeners (the RaftNode contract:
// in order, exactly once, callbacks after the listener, errors on leadership change) and stores
// the snapshots the owner takes (snapshot_here). The reference machine (SimOptions::state_machine)
// is still fed the committed entries, and after every delivery the owner's fingerprint must equal
// the reference's; every acknowledged proposal must be the committed entry at its offset.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "raft/memory_log.h"
#include "raft/replica.h"
#include "raft/replicated_log.h"

namespace floe::raft::sim {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {  // splitmix64: tiny, portable, good enough to drive a simulator
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  int64_t below(int64_t bound) { return static_cast<int64_t>(next() % static_cast<uint64_t>(bound)); }
  bool chance_per_million(int64_t ppm) { return below(1000000) < ppm; }

 private:
  uint64_t state_;
};

// A replicated state machine for the simulator (one instance per replica, plus the reference).
class SimStateMachine {
 public:
  virtual ~SimStateMachine() = default;
  // The data of a new entry, made by the leader's machine from its applied state; `seq` is unique
  // per simulation (names made from it never collide). Must apply to any state that contains at
  // least what this machine has applied (a proposal may commit after later ones are made).
  virtual std::string next_proposal(uint64_t seq, Rng& rng) = 0;
  virtual Status apply(const std::string& data) = 0;
  virtual std::string snapshot() const = 0;
  virtual Status restore(const std::string& snapshot) = 0;  // replace the state
  virtual void reset() = 0;                                   // a crash: back to empty
  virtual std::string fingerprint() const = 0;                // equal states <=> equal strings
};

class SimLog;

// The test's side of hosted mode: builds and destroys the owners, calls their APIs, checks them.
class SimHost {
 public:
  virtual ~SimHost() = default;
  // Node `id` (re)started: build its owner over `log` (valid until stop(id)); the owner hands its
  // listeners to log.attach (Controller::open_on does, through a LogFactory).
  virtual Status start(NodeId id, SimLog& log) = 0;
  // Node `id` crashes: destroy its owner (while its replica still exists).
  virtual void stop(NodeId id) = 0;
  // The chaos phase chose to act at this tick: call the owners' APIs (on any live node).
  virtual void act(Rng& rng, int64_t now_ms) = 0;
  // The owner's applied state, comparable with the reference machine's fingerprint().
  virtual std::string fingerprint(NodeId id) const = 0;
  // After node `id`'s owner applied entries or a snapshot: the first violated invariant (of its
  // state or of what its callbacks reported), if any.
  virtual std::optional<std::string> check(NodeId id) = 0;
};

struct SimOptions {
  int voters = 3;
  bool observer = false;
  int64_t chaos_ms = 8000;
  int64_t heal_ms = 8000;
  int64_t tick_ms = 5;
  int64_t max_delay_ms = 20;
  int64_t drop_ppm = 50000;  // per message
  int64_t duplicate_ppm = 30000;
  int64_t crash_ppm = 3000;  // per tick
  int64_t resign_ppm = 1000;  // per tick: the leader resigns gracefully (EndQuorumEpoch)
  int64_t leader_crash_ppm = 0;  // per tick: crash whoever leads (leaves uncommitted tails behind)
  int64_t restart_ppm = 20000;
  int64_t partition_ppm = 3000;
  int64_t heal_ppm = 5000;
  int64_t propose_ppm = 200000;
  int64_t snapshot_ppm = 0;  // per tick per live node: snapshot what it applied
  int32_t snapshot_chunk_bytes = 7;
  std::function<std::unique_ptr<SimStateMachine>()> state_machine;  // empty: the digest only
  // Hosted mode (needs state_machine for the reference; the replicas get no machine): the test's
  // host, not owned, outliving the Simulation. Owners take their own snapshots: snapshot_ppm is
  // unused.
  SimHost* host = nullptr;
  static SimOptions for_seed(uint64_t seed);
};

struct SimStats {
  uint64_t steps = 0;
  uint64_t messages_delivered = 0;
  int elections = 0;  // distinct (epoch, leader) pairs
  int crashes = 0;
  size_t committed_entries = 0;
  int acked_proposals = 0;
  int snapshots_taken = 0;
  int snapshots_installed = 0;  // downloaded from a leader
  uint64_t trace_digest = 0;  // order-sensitive hash of every event, for the replay test
  uint64_t machine_applies = 0;  // entries applied to replicas' state machines (with one)
  uint64_t owner_snapshots = 0;  // hosted mode: snapshots the owners took (snapshot_here)
};

class Simulation {
 public:
  Simulation(uint64_t seed, SimOptions options);
  ~Simulation();
  // Runs chaos then the healed phase; returns a description of the first violated property.
  std::optional<std::string> run();
  const SimStats& stats() const { return stats_; }

 private:
  struct Node;
  struct InFlight {
    int64_t deliver_ms;
    uint64_t seq;
    NodeId from;
    NodeId to;
    RaftMessage message;
  };
  struct Committed {
    LogEntry entry;
    Epoch commit_epoch;
  };
  struct Proposal {
    NodeId node;
    Epoch epoch;
    Offset offset;
    std::string data;
  };
  friend class SimIo;
  friend class SimLog;

  void send(NodeId from, NodeId to, RaftMessage message);
  bool step(int64_t until_ms, bool chaos);
  void chaos_tick();
  void crash(Node& node);
  void restart(Node& node);
  void propose_to_leader();
  void take_snapshot(Node& node);
  void deliver_hosted(Node& node);
  void start_owner(Node& node);
  std::string snapshot_content(Offset end_offset) const;
  void check_after_step();
  void fail(std::string message);
  void digest(uint64_t value);
  std::string describe_nodes() const;
  Node& node(NodeId id) { return *nodes_[static_cast<size_t>(id - 1)]; }

  uint64_t seed_;
  SimOptions options_;
  Rng rng_;
  int64_t now_ms_ = 0;
  int64_t next_tick_ms_ = 0;
  uint64_t seq_ = 0;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<NodeId> voters_;
  std::vector<int> group_;  // partition group per node index
  // Keyed by (delivery time, send sequence): a map rather than a heap, so messages never move
  // (and gcc 12 does not warn about variant moves inside heap operations).
  std::map<std::pair<int64_t, uint64_t>, InFlight> network_;
  std::map<Epoch, NodeId> leader_of_epoch_;
  std::map<std::pair<Offset, Epoch>, std::pair<LogEntry, Epoch>> entries_seen_;  // log matching
  std::vector<Committed> committed_;
  std::vector<uint64_t> committed_digest_;  // digest of committed_[0..i]
  std::unique_ptr<SimStateMachine> reference_;  // with options_.state_machine: fed committed_ in order
  std::vector<std::string> reference_fingerprint_;  // reference state after committed_[0..i]
  std::vector<Proposal> pending_;
  int proposal_seq_ = 0;
  std::optional<std::string> failure_;
  SimStats stats_;
};

// A ReplicatedLog over one incarnation of a simulated replica (hosted mode). Single-threaded:
// everything runs inside Simulation steps ("the node thread").
class SimLog final : public ReplicatedLog {
 public:
  SimLog(Simulation& sim, NodeId id) : sim_(sim), id_(id) {}
  ~SimLog() override;
  // Installs the owner's listeners (before anything is delivered).
  void attach(Listener listener, SnapshotListener snapshot_listener);
  // A ReplicatedLog forwarding here, for an owner that takes ownership of its log (the owner must
  // be destroyed before this SimLog: SimHost::stop).
  std::unique_ptr<ReplicatedLog> handle();
  int64_t now_ms() const;

  void post(std::function<void()> task) override;
  void propose_here(std::string data, ProposeCallback done) override;
  Role role_here() const override;
  Epoch epoch_here() const override;
  Offset applied_end_here() const override;
  Offset log_end_here() const override;
  void snapshot_here(Offset end_offset, std::string payload) override;
  QuorumDescription describe_quorum_here() const override;
  NodeStatus status() const override;
  void close() override;

 private:
  friend class Simulation;
  struct Pending {
    Epoch epoch;
    std::string data;
    ProposeCallback done;
  };
  void run_tasks();
  void fail_pending(const std::string& why);

  Simulation& sim_;
  NodeId id_;
  Listener listener_;
  SnapshotListener snapshot_listener_;
  std::vector<std::function<void()>> tasks_;
  std::map<Offset, Pending> pending_;
  std::optional<std::pair<Offset, std::string>> pending_snapshot_;
  Epoch last_epoch_ = 0;
  Role last_role_ = Role::unattached;
  bool closed_ = false;
};

}  // namespace floe::raft::sim
