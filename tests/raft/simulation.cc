// The seeded Raft simulator (simulation.h): shared by tests/raft (the digest state machine) and
// tests/metadata (the controller's metadata state machine on the same simulated quorum).
#include "simulation.h"

#include <algorithm>

namespace floe::raft::sim {

SimOptions SimOptions::for_seed(uint64_t seed) {
  SimOptions options;
  options.voters = seed % 2 == 0 ? 3 : 5;
  options.observer = seed % 3 == 0;
  Rng rng(seed ^ 0xA5A5A5A5ull);
  // Vary how hostile the world is, so some seeds are calm and some are a storm.
  options.drop_ppm = rng.below(150000);
  options.duplicate_ppm = rng.below(80000);
  options.max_delay_ms = 1 + rng.below(60);
  options.crash_ppm = rng.below(8000);
  options.partition_ppm = rng.below(8000);
  if (seed % 4 == 1) {
    // A storm of leader crashes: many short epochs whose uncommitted tails must be resolved by
    // diverging-epoch truncation (the situations of the Raft paper's figure 8).
    options.leader_crash_ppm = 5000 + rng.below(30000);
    options.restart_ppm = 100000;
    options.propose_ppm = 500000;
  }
  // Most seeds snapshot (some often, so laggards must catch up by FetchSnapshot); a few never do.
  options.snapshot_ppm = seed % 5 == 0 ? 0 : rng.below(40000);
  options.snapshot_chunk_bytes = static_cast<int32_t>(1 + rng.below(16));
  return options;
}

struct Simulation::Node {
  NodeId id;
  MemoryLog log;
  MemoryQuorumStateStore store;
  MemorySnapshotStore snapshots;
  std::unique_ptr<RaftIo> io;
  std::unique_ptr<RaftReplica> replica;
  RaftConfig config;
  Offset applied = 0;
  Epoch last_leader_epoch_checked = 0;
  std::unique_ptr<SimStateMachine> machine;  // with options.state_machine (not hosted)
  std::unique_ptr<SimLog> hosted;  // hosted mode: the owner's log, while the replica is up
};

class SimIo final : public RaftIo {
 public:
  SimIo(Simulation& sim, NodeId id, uint64_t seed) : sim_(sim), id_(id), rng_(seed) {}
  void send(NodeId to, RaftMessage message) override { sim_.send(id_, to, std::move(message)); }
  uint64_t random_u64() override { return rng_.next(); }

 private:
  Simulation& sim_;
  NodeId id_;
  Rng rng_;
};

Simulation::Simulation(uint64_t seed, SimOptions options)
    : seed_(seed), options_(options), rng_(seed) {
  int total = options_.voters + (options_.observer ? 1 : 0);
  for (NodeId id = 1; id <= options_.voters; ++id) voters_.push_back(id);
  group_.assign(static_cast<size_t>(total), 0);
  for (NodeId id = 1; id <= total; ++id) {
    auto node = std::make_unique<Node>();
    node->id = id;
    node->config.node_id = id;
    node->config.voters = voters_;
    // Short timeouts: more elections per simulated second.
    node->config.election_timeout_ms = 300;
    node->config.fetch_timeout_ms = 600;
    node->config.fetch_backoff_ms = 20;
    node->config.request_timeout_ms = 150;
    node->config.end_quorum_backoff_ms = 50;
    node->config.max_fetch_entries = 16;
    node->config.max_snapshot_chunk_bytes = options_.snapshot_chunk_bytes;
    node->config.observer_forget_ms = 2000;
    node->io = std::make_unique<SimIo>(*this, id, rng_.next());
    if (options_.state_machine && !options_.host) node->machine = options_.state_machine();
    node->log.set_observer([this](Offset offset, const LogEntry& entry, Epoch previous_epoch) {
      auto key = std::make_pair(offset, entry.epoch);
      auto [it, inserted] = entries_seen_.emplace(key, std::make_pair(entry, previous_epoch));
      if (!inserted && (it->second.first != entry || it->second.second != previous_epoch)) {
        fail("log matching: offset " + std::to_string(offset) + " epoch " +
             std::to_string(entry.epoch) + " names two different entries/prefixes");
      }
    });
    nodes_.push_back(std::move(node));
  }
  for (auto& n : nodes_) {
    n->replica = std::make_unique<RaftReplica>(n->config, *n->io, n->log, n->store, now_ms_, &n->snapshots);
  }
  if (options_.state_machine) reference_ = options_.state_machine();
  FLOE_ASSERT_MSG(!options_.host || reference_, "hosted mode needs a reference state machine");
  if (options_.host) {
    for (auto& n : nodes_) start_owner(*n);
  }
}

void Simulation::start_owner(Node& n) {
  n.hosted = std::make_unique<SimLog>(*this, n.id);
  n.hosted->last_epoch_ = n.replica->epoch();
  n.hosted->last_role_ = n.replica->role();
  if (Status s = options_.host->start(n.id, *n.hosted); !s.ok()) {
    fail("node " + std::to_string(n.id) + ": its owner did not start: " + s.error().to_string());
  }
}

Simulation::~Simulation() {
  // Owners hold their SimLogs: they go first (the host outlives the simulation).
  for (auto& n : nodes_) {
    if (n->hosted) options_.host->stop(n->id);
  }
}

void Simulation::fail(std::string message) {
  if (!failure_) {
    failure_ = "t=" + std::to_string(now_ms_) + "ms step " + std::to_string(stats_.steps) + ": " +
               std::move(message);
  }
}

std::string Simulation::describe_nodes() const {
  std::string text;
  for (auto& n : nodes_) {
    text += " [" + std::to_string(n->id);
    if (n->replica) {
      RaftReplica& r = *n->replica;
      text += std::string(" ") + role_name(r.role()) + " epoch " + std::to_string(r.epoch()) +
              " leader " + std::to_string(r.leader_id()) + " voted " + std::to_string(r.voted_for()) +
              " hw " + std::to_string(r.high_watermark());
    } else {
      text += " down";
    }
    text += " log_end " + std::to_string(n->log.end_offset()) + "]";
  }
  return text;
}

void Simulation::digest(uint64_t value) {
  stats_.trace_digest = (stats_.trace_digest ^ value) * 0x100000001B3ull;
}

void Simulation::send(NodeId from, NodeId to, RaftMessage message) {
  if (rng_.chance_per_million(options_.drop_ppm)) return;
  if (rng_.chance_per_million(options_.duplicate_ppm)) {
    int64_t at_ms = now_ms_ + 1 + rng_.below(options_.max_delay_ms);
    ++seq_;
    network_.emplace(std::make_pair(at_ms, seq_), InFlight{at_ms, seq_, from, to, message});
  }
  int64_t at_ms = now_ms_ + 1 + rng_.below(options_.max_delay_ms);
  ++seq_;
  network_.emplace(std::make_pair(at_ms, seq_), InFlight{at_ms, seq_, from, to, std::move(message)});
}

void Simulation::crash(Node& n) {
  if (!n.replica) return;
  if (n.hosted) {
    options_.host->stop(n.id);  // the owner goes first: its log fails what is pending
    n.hosted.reset();
  }
  stats_.snapshots_installed += n.replica->snapshots_installed();
  n.replica.reset();
  n.log.crash();
  n.snapshots.crash();
  n.applied = 0;
  if (n.machine) n.machine->reset();
  ++stats_.crashes;
  digest(1000 + static_cast<uint64_t>(n.id));
}

void Simulation::restart(Node& n) {
  if (n.replica) return;
  n.replica = std::make_unique<RaftReplica>(n.config, *n.io, n.log, n.store, now_ms_, &n.snapshots);
  if (options_.host) start_owner(n);
  digest(2000 + static_cast<uint64_t>(n.id));
}

void Simulation::propose_to_leader() {
  std::vector<Node*> leaders;
  for (auto& n : nodes_) {
    if (n->replica && n->replica->role() == Role::leader) leaders.push_back(n.get());
  }
  if (leaders.empty()) return;
  Node& leader = *leaders[static_cast<size_t>(rng_.below(static_cast<int64_t>(leaders.size())))];
  ++proposal_seq_;
  std::string data = leader.machine ? leader.machine->next_proposal(static_cast<uint64_t>(proposal_seq_), rng_)
                                    : "p" + std::to_string(proposal_seq_);
  auto offset = leader.replica->propose(data, now_ms_);
  if (offset.ok()) pending_.push_back({leader.id, leader.replica->epoch(), *offset, data});
}

std::string Simulation::snapshot_content(Offset end_offset) const {
  FLOE_ASSERT(end_offset > 0 && static_cast<size_t>(end_offset) <= committed_digest_.size());
  return "state@" + std::to_string(end_offset) + ":" + std::to_string(committed_digest_[static_cast<size_t>(end_offset - 1)]);
}

// The replica's state machine is the committed prefix it applied: its snapshot names that prefix.
void Simulation::take_snapshot(Node& n) {
  Offset end = std::min(n.applied, n.log.durable_end_offset());
  if (!n.replica || end <= n.log.start_offset()) return;
  if (n.machine && end != n.applied) return;  // the machine's state is exactly what it applied
  SnapshotId id{end, n.log.entry(end - 1).epoch};
  n.snapshots.save(id, n.machine ? n.machine->snapshot() : snapshot_content(end));
  n.log.advance_start(id);
  ++stats_.snapshots_taken;
  digest(4000 + static_cast<uint64_t>(n.id));
}

void Simulation::chaos_tick() {
  int64_t count = static_cast<int64_t>(nodes_.size());
  if (rng_.chance_per_million(options_.crash_ppm)) crash(*nodes_[static_cast<size_t>(rng_.below(count))]);
  if (rng_.chance_per_million(options_.restart_ppm)) restart(*nodes_[static_cast<size_t>(rng_.below(count))]);
  if (rng_.chance_per_million(options_.partition_ppm)) {
    for (int& g : group_) g = static_cast<int>(rng_.below(2));
    digest(3000);
  }
  if (rng_.chance_per_million(options_.heal_ppm)) group_.assign(group_.size(), 0);
  if (rng_.chance_per_million(options_.resign_ppm)) {
    for (auto& n : nodes_) {
      if (n->replica && n->replica->role() == Role::leader) n->replica->resign(now_ms_);
    }
  }
  if (rng_.chance_per_million(options_.leader_crash_ppm)) {
    for (auto& n : nodes_) {
      if (n->replica && n->replica->role() == Role::leader) crash(*n);
    }
  }
}

// One step: deliver the next message due before the next tick, or tick every live node.
bool Simulation::step(int64_t until_ms, bool chaos) {
  if (!network_.empty() && network_.begin()->second.deliver_ms <= next_tick_ms_) {
    InFlight message = std::move(network_.begin()->second);
    network_.erase(network_.begin());
    now_ms_ = message.deliver_ms;
    Node& to = node(message.to);
    bool reachable = to.replica && group_[static_cast<size_t>(message.from - 1)] ==
                                       group_[static_cast<size_t>(message.to - 1)];
    if (reachable) {
      digest(static_cast<uint64_t>(message.deliver_ms) * 131 + message.message.index() * 17 +
             static_cast<uint64_t>(message.to));
      ++stats_.messages_delivered;
      to.replica->handle(message.from, message.message, now_ms_);
    }
  } else {
    if (next_tick_ms_ >= until_ms) return false;
    now_ms_ = next_tick_ms_;
    next_tick_ms_ += options_.tick_ms;
    if (chaos) {
      chaos_tick();
      if (rng_.chance_per_million(options_.propose_ppm)) {
        if (options_.host) options_.host->act(rng_, now_ms_);
        else propose_to_leader();
      }
    }
    for (auto& n : nodes_) {
      if (n->hosted) n->hosted->run_tasks();  // as RaftNode: the tasks, then one tick
      if (n->replica) n->replica->tick(now_ms_);
    }
    for (auto& n : nodes_) {
      if (!options_.host && rng_.chance_per_million(options_.snapshot_ppm)) take_snapshot(*n);
    }
  }
  ++stats_.steps;
  check_after_step();
  return true;
}

void Simulation::check_after_step() {
  for (auto& n : nodes_) {
    if (!n->replica) continue;
    RaftReplica& r = *n->replica;
    if (r.role() == Role::leader) {
      auto [it, inserted] = leader_of_epoch_.emplace(r.epoch(), n->id);
      if (!inserted && it->second != n->id) {
        fail("election safety: epoch " + std::to_string(r.epoch()) + " has leaders " +
             std::to_string(it->second) + " and " + std::to_string(n->id));
      }
      if (inserted) ++stats_.elections;
      if (n->last_leader_epoch_checked != r.epoch()) {
        n->last_leader_epoch_checked = r.epoch();
        for (size_t o = 0; o < committed_.size(); ++o) {
          if (committed_[o].commit_epoch >= r.epoch()) continue;
          Offset offset = static_cast<Offset>(o);
          if (offset < n->log.start_offset()) continue;  // in its snapshot (checked when loaded)
          if (offset >= n->log.end_offset() || n->log.entry(offset) != committed_[o].entry) {
            fail("leader completeness: leader " + std::to_string(n->id) + " of epoch " +
                 std::to_string(r.epoch()) + " lacks committed offset " + std::to_string(o));
            break;
          }
        }
      }
    }
    if (r.high_watermark() > n->log.end_offset()) fail("high watermark beyond log end");
    bool restored_now = false;
    if (n->applied < n->log.start_offset()) {
      // Its state is now a snapshot (its own, reloaded after a restart, or the leader's).
      Offset start = n->log.start_offset();
      auto latest = n->snapshots.latest();
      if (!latest || latest->end_offset != start) {
        fail("node " + std::to_string(n->id) + ": log starts at " + std::to_string(start) + " without a snapshot there");
        return;
      }
      if (static_cast<size_t>(start) > committed_.size()) {
        fail("node " + std::to_string(n->id) + " holds a snapshot beyond anything committed");
        return;
      }
      auto content = n->snapshots.load(*latest);
      bool same = content.ok() && committed_[static_cast<size_t>(start - 1)].entry.epoch == latest->epoch;
      if (same && n->machine) {
        // The machine is replaced by the snapshot; it must be the reference state at that offset.
        Status restored = n->machine->restore(*content);
        same = restored.ok() && n->machine->fingerprint() == reference_fingerprint_[static_cast<size_t>(start - 1)];
      } else if (same && n->hosted) {
        // RaftNode's contract: the owner is told to replace its state (at open, or an install).
        n->hosted->pending_snapshot_.reset();
        Status restored = n->hosted->snapshot_listener_ ? n->hosted->snapshot_listener_(*latest, *content)
                                                        : Status(Error(Errc::unsupported, "no snapshot listener"));
        same = restored.ok() &&
               options_.host->fingerprint(n->id) == reference_fingerprint_[static_cast<size_t>(start - 1)];
        if (!restored.ok()) {
          fail("state machine: node " + std::to_string(n->id) + " cannot load the snapshot at " +
               std::to_string(start) + ": " + restored.error().to_string());
          return;
        }
      } else if (same) {
        same = *content == snapshot_content(start);
      }
      if (!same) {
        fail("state machine safety: node " + std::to_string(n->id) + " loads a snapshot at " + std::to_string(start) +
             " that is not the committed prefix");
        return;
      }
      n->applied = start;
      restored_now = true;
    }
    const Offset applied_before = n->applied;
    // Apply committed entries in order; the first replica to commit an offset defines it.
    for (Offset o = n->applied; o < r.high_watermark(); ++o) {
      const LogEntry& entry = n->log.entry(o);
      size_t index = static_cast<size_t>(o);
      if (index == committed_.size()) {
        committed_.push_back({entry, r.epoch()});
        uint64_t previous = committed_digest_.empty() ? 0xcbf29ce484222325ull : committed_digest_.back();
        uint64_t h = previous;
        for (char c : std::to_string(entry.epoch) + "/" + (entry.control ? "c" : "d") + entry.data) {
          h = (h ^ static_cast<uint8_t>(c)) * 0x100000001B3ull;
        }
        committed_digest_.push_back(h);
        if (reference_) {
          if (!entry.control) {
            if (Status s = reference_->apply(entry.data); !s.ok()) {
              fail("state machine: committed entry at offset " + std::to_string(o) + " does not apply: " +
                   s.error().to_string());
              return;
            }
          }
          reference_fingerprint_.push_back(reference_->fingerprint());
        }
      } else if (committed_[index].entry != entry) {
        fail("state machine safety: node " + std::to_string(n->id) + " applies a different entry at offset " +
             std::to_string(o));
      }
      if (n->machine) {
        if (!entry.control) {
          ++stats_.machine_applies;
          if (Status s = n->machine->apply(entry.data); !s.ok()) {
            fail("state machine: node " + std::to_string(n->id) + " cannot apply offset " + std::to_string(o) + ": " +
                 s.error().to_string());
            return;
          }
        }
        if (n->machine->fingerprint() != reference_fingerprint_[index]) {
          fail("state machine safety: node " + std::to_string(n->id) + " has a different state after offset " +
               std::to_string(o));
          return;
        }
      } else if (n->hosted) {
        if (!entry.control) {
          ++stats_.machine_applies;
          if (n->hosted->listener_) n->hosted->listener_(o, entry.data);
        }
        n->applied = o + 1;  // the owner may ask for a snapshot of what it applied so far
        if (options_.host->fingerprint(n->id) != reference_fingerprint_[index]) {
          fail("state machine safety: node " + std::to_string(n->id) + "'s owner has a different state after offset " +
               std::to_string(o));
          return;
        }
      }
    }
    const bool delivered = applied_before < r.high_watermark() || restored_now;
    n->applied = std::max(n->applied, r.high_watermark());
    if (n->hosted) {
      deliver_hosted(*n);
      if (failure_) return;
      if (delivered) {
        if (auto why = options_.host->check(n->id)) {
          fail("node " + std::to_string(n->id) + ": " + *why);
          return;
        }
      }
    }
  }
  // A proposal is acknowledged to its client once its leader, still leading that epoch, has
  // committed it; the committed entry must be exactly what was proposed.
  for (size_t i = 0; i < pending_.size();) {
    Proposal& p = pending_[i];
    Node& n = node(p.node);
    bool still_leader = n.replica && n.replica->role() == Role::leader && n.replica->epoch() == p.epoch;
    if (still_leader && n.replica->high_watermark() > p.offset) {
      size_t index = static_cast<size_t>(p.offset);
      if (index >= committed_.size() || committed_[index].entry != LogEntry{p.epoch, false, p.data}) {
        fail("acknowledged proposal " + p.data + " is not the committed entry at its offset");
      }
      ++stats_.acked_proposals;
    } else if (still_leader) {
      ++i;
      continue;
    }
    pending_[i] = std::move(pending_.back());
    pending_.pop_back();
  }
}

std::optional<std::string> Simulation::run() {
  while (!failure_ && step(options_.chaos_ms, true)) {
  }
  if (failure_) return failure_;
  // Heal: everyone up, one partition, no more crashes; messages still delayed and reordered.
  group_.assign(group_.size(), 0);
  options_.drop_ppm = 0;
  options_.duplicate_ppm = 0;
  for (auto& n : nodes_) restart(*n);
  int64_t heal_end_ms = options_.chaos_ms + options_.heal_ms;
  while (!failure_ && step(heal_end_ms, false)) {
  }
  if (failure_) return failure_;
  Node* leader = nullptr;
  for (auto& n : nodes_) {
    RaftReplica& r = *n->replica;
    if (r.role() == Role::leader && (!leader || r.epoch() > leader->replica->epoch())) leader = n.get();
  }
  if (!leader) return "liveness: no leader " + std::to_string(options_.heal_ms) + "ms after healing; nodes:" + describe_nodes();
  // Hosted: the reference machine makes it (no owner acts any more; it must apply on top of
  // whatever the owners still had in flight).
  SimStateMachine* final_maker = leader->machine ? leader->machine.get() : options_.host ? reference_.get() : nullptr;
  const std::string final_data =
      final_maker ? final_maker->next_proposal(static_cast<uint64_t>(++proposal_seq_), rng_) : "final";
  auto final_offset = leader->replica->propose(final_data, now_ms_);
  if (!final_offset.ok()) return "liveness: leader refused the final proposal: " + final_offset.error().to_string();
  while (!failure_ && step(heal_end_ms + 3000, false)) {
  }
  if (failure_) return failure_;
  for (auto& n : nodes_) {
    if (n->applied <= *final_offset) {
      return "liveness: node " + std::to_string(n->id) + " applied " + std::to_string(n->applied) +
             " entries, the final proposal is at offset " + std::to_string(*final_offset) +
             "; nodes:" + describe_nodes();
    }
  }
  if (committed_.size() <= static_cast<size_t>(*final_offset) || committed_[static_cast<size_t>(*final_offset)].entry.data != final_data) {
    return std::string("liveness: the final proposal was not the entry committed at its offset");
  }
  stats_.committed_entries = committed_.size();
  for (auto& n : nodes_) stats_.snapshots_installed += n->replica->snapshots_installed();
  return std::nullopt;
}

// Hosted mode, after node n's deliveries of a step (RaftNode::deliver_committed's order): store
// the owner's snapshot, fail its proposals when leadership of their epoch is over, then
// acknowledge the committed ones.
void Simulation::deliver_hosted(Node& n) {
  SimLog& log = *n.hosted;
  RaftReplica& r = *n.replica;
  if (log.pending_snapshot_) {
    auto [end, payload] = std::move(*log.pending_snapshot_);
    log.pending_snapshot_.reset();
    if (end > n.log.start_offset() && end <= n.applied && end <= n.log.durable_end_offset()) {
      SnapshotId id{end, n.log.entry(end - 1).epoch};
      n.snapshots.save(id, payload);
      n.log.advance_start(id);
      ++stats_.owner_snapshots;
      digest(5000 + static_cast<uint64_t>(n.id));
    }
  }
  if (r.epoch() != log.last_epoch_ || (log.last_role_ == Role::leader && r.role() != Role::leader)) {
    log.last_epoch_ = r.epoch();
    log.fail_pending("not the leader (leadership changed)");
  }
  log.last_role_ = r.role();
  while (!log.pending_.empty() && log.pending_.begin()->first < n.applied) {
    auto node = log.pending_.extract(log.pending_.begin());
    Offset offset = node.key();
    SimLog::Pending& p = node.mapped();
    if (p.epoch != r.epoch() || r.role() != Role::leader) {
      fail("hosted: a proposal of epoch " + std::to_string(p.epoch) + " outlived its leadership");
      return;
    }
    size_t index = static_cast<size_t>(offset);
    if (index >= committed_.size() || committed_[index].entry != LogEntry{p.epoch, false, p.data}) {
      fail("acknowledged proposal at offset " + std::to_string(offset) + " (node " + std::to_string(n.id) +
           ") is not the committed entry there");
      return;
    }
    ++stats_.acked_proposals;
    p.done(offset);
  }
}

SimLog::~SimLog() { close(); }

void SimLog::attach(Listener listener, SnapshotListener snapshot_listener) {
  listener_ = std::move(listener);
  snapshot_listener_ = std::move(snapshot_listener);
}

std::unique_ptr<ReplicatedLog> SimLog::handle() {
  class Handle final : public ReplicatedLog {
   public:
    explicit Handle(SimLog& log) : log_(log) {}
    void post(std::function<void()> task) override { log_.post(std::move(task)); }
    void propose_here(std::string data, ProposeCallback done) override { log_.propose_here(std::move(data), std::move(done)); }
    Role role_here() const override { return log_.role_here(); }
    Epoch epoch_here() const override { return log_.epoch_here(); }
    Offset applied_end_here() const override { return log_.applied_end_here(); }
    Offset log_end_here() const override { return log_.log_end_here(); }
    void snapshot_here(Offset end_offset, std::string payload) override { log_.snapshot_here(end_offset, std::move(payload)); }
    QuorumDescription describe_quorum_here() const override { return log_.describe_quorum_here(); }
    NodeStatus status() const override { return log_.status(); }
    void close() override { log_.close(); }

   private:
    SimLog& log_;
  };
  return std::make_unique<Handle>(*this);
}

int64_t SimLog::now_ms() const { return sim_.now_ms_; }

void SimLog::post(std::function<void()> task) {
  if (closed_) {
    task();
    return;
  }
  tasks_.push_back(std::move(task));
}

void SimLog::run_tasks() {
  auto tasks = std::move(tasks_);
  tasks_.clear();
  for (auto& task : tasks) task();
}

void SimLog::propose_here(std::string data, ProposeCallback done) {
  if (closed_) {
    done(Error(Errc::internal, "metadata node closed"));
    return;
  }
  RaftReplica& r = *sim_.node(id_).replica;
  auto offset = r.propose(data, sim_.now_ms_);
  if (!offset.ok()) {
    done(offset.error().code == Errc::too_large ? offset.take_error() : Error(Errc::internal, "not the leader"));
    return;
  }
  pending_.emplace(*offset, Pending{r.epoch(), std::move(data), std::move(done)});
}

Role SimLog::role_here() const { return sim_.node(id_).replica->role(); }
Epoch SimLog::epoch_here() const { return sim_.node(id_).replica->epoch(); }
Offset SimLog::applied_end_here() const { return sim_.node(id_).applied; }
Offset SimLog::log_end_here() const { return sim_.node(id_).log.end_offset(); }

void SimLog::snapshot_here(Offset end_offset, std::string payload) {
  pending_snapshot_.emplace(end_offset, std::move(payload));
}

QuorumDescription SimLog::describe_quorum_here() const {
  // Simulated time stands for the wall clock too.
  return describe_quorum(*sim_.node(id_).replica, sim_.node(id_).log.end_offset(), sim_.now_ms_, sim_.now_ms_);
}

NodeStatus SimLog::status() const {
  const auto& n = sim_.node(id_);
  const RaftReplica& r = *n.replica;
  NodeStatus s;
  s.role = r.role();
  s.epoch = r.epoch();
  s.leader_id = r.leader_id();
  s.high_watermark = r.high_watermark();
  s.applied_end = n.applied;
  s.log_end = n.log.end_offset();
  s.epoch_start_offset = r.epoch_start_offset();
  s.log_start = n.log.start_offset();
  s.snapshots_installed = r.snapshots_installed();
  s.closed = closed_;
  return s;
}

void SimLog::fail_pending(const std::string& why) {
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [offset, p] : pending) p.done(Error(Errc::internal, why));
}

void SimLog::close() {
  if (closed_) return;
  closed_ = true;
  run_tasks();  // as RaftNode: tasks still queued run against a closed log
  fail_pending("metadata node closed");
}

}  // namespace floe::raft::sim
