#include "raft/node.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "common/log.h"

namespace floe::raft {

class RaftNode::Io final : public RaftIo {
 public:
  explicit Io(RaftTransport* transport) : transport_(transport), rng_(std::random_device{}()) {}
  void send(NodeId to, RaftMessage message) override {
    if (transport_) transport_->send(to, std::move(message));
  }
  uint64_t random_u64() override { return rng_(); }

 private:
  RaftTransport* transport_;
  std::mt19937_64 rng_;
};

RaftNode::RaftNode(RaftNodeOptions options, Listener listener, SnapshotListener snapshot_listener)
    : options_(std::move(options)), listener_(std::move(listener)), snapshot_listener_(std::move(snapshot_listener)) {}

QuorumDescription RaftNode::describe_quorum_here() const {
  const int64_t wall_now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  return describe_quorum(*replica_, log_->end_offset(), now_ms(), wall_now_ms);
}

int64_t RaftNode::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Result<std::unique_ptr<RaftNode>> RaftNode::open(RaftNodeOptions options, Listener listener,
                                                SnapshotListener snapshot_listener) {
  std::unique_ptr<RaftNode> node(new RaftNode(std::move(options), std::move(listener), std::move(snapshot_listener)));
  auto snapshots = FileSnapshotStore::open(node->options_.log_dir, node->options_.snapshot_retention);
  if (!snapshots.ok()) return snapshots.take_error();
  node->snapshots_ = std::move(snapshots.value());
  auto latest = node->snapshots_->latest();
  FileLogOptions log_options;
  log_options.dir = node->options_.log_dir;
  log_options.snapshot = latest;
  auto log = FileLog::open(log_options);
  if (!log.ok()) return log.take_error();
  node->log_ = std::move(log.value());
  if (node->log_->recovery().dropped_for_snapshot) {
    log::warn("raft", "the metadata log did not continue snapshot " + std::to_string(latest->end_offset) +
                          ": it restarts empty there");
  }
  if (latest) {
    if (!node->snapshot_listener_) {
      return Error(Errc::unsupported, node->options_.log_dir + " holds a snapshot but its owner cannot load one");
    }
    auto payload = node->snapshots_->open_payload(*latest);
    if (!payload.ok()) return payload.take_error();
    FLOE_TRY(node->snapshot_listener_(*latest, **payload));
    node->options_.apply_from = std::max(node->options_.apply_from, latest->end_offset);
  }
  auto store = FileQuorumStateStore::open(node->options_.log_dir);
  if (!store.ok()) return store.take_error();
  node->store_ = std::move(store.value());
  if (node->options_.apply_from > node->log_->end_offset()) {
    return Error(Errc::corrupt, "metadata snapshot is at offset " +
                                    std::to_string(node->options_.apply_from) +
                                    " but the log ends at " + std::to_string(node->log_->end_offset()));
  }
  node->io_ = std::make_unique<Io>(node->options_.transport);
  node->replica_ = std::make_unique<RaftReplica>(node->options_.config, *node->io_, *node->log_,
                                                 *node->store_, node->now_ms(), node->snapshots_.get());
  node->applied_end_ = node->options_.apply_from;
  node->last_epoch_ = node->replica_->epoch();
  node->last_role_ = node->replica_->role();
  node->publish_status();
  return node;
}

void RaftNode::start() {
  {
    std::lock_guard lock(mu_);
    FLOE_ASSERT_MSG(!started_, "RaftNode::start called twice");
    started_ = true;
    if (stopping_) return;  // closed before it started: nothing to run
  }
  if (options_.transport) {
    options_.transport->start([this](NodeId from, RaftMessage message) {
      std::lock_guard lock(mu_);
      if (stopping_ || inbound_.size() >= options_.max_inbound_messages) return;
      inbound_.emplace_back(from, std::move(message));
      cv_.notify_one();
    });
  }
  thread_ = std::thread([this] { run(); });
  writer_ = std::thread([this] { write_snapshots(); });
}

RaftNode::~RaftNode() { close(); }

void RaftNode::propose(std::string data, ProposeCallback done) {
  post([this, data = std::move(data), done = std::move(done)]() mutable {
    propose_here(std::move(data), std::move(done));
  });
}

void RaftNode::post(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (!status_.closed) {
      tasks_.push_back(std::move(task));
      cv_.notify_one();
      return;
    }
  }
  task();  // closed: nothing else runs node code any more; the task sees a closed node
}

void RaftNode::propose_here(std::string data, ProposeCallback done) {
  if (status_.closed) {
    done(Error(Errc::internal, "metadata node closed"));
    return;
  }
  auto offset = replica_->propose(data, now_ms());
  if (!offset.ok() && offset.error().code == Errc::too_large) {
    replica_->tick(now_ms());  // flush what is queued (a single voter commits it at once), retry
    deliver_committed();
    offset = replica_->propose(std::move(data), now_ms());
  }
  if (!offset.ok()) {
    done(offset.error().code == Errc::too_large ? offset.take_error()
                                                : Error(Errc::internal, "not the leader"));
    return;
  }
  pending_.emplace(*offset, Pending{replica_->epoch(), std::move(done)});
}

void RaftNode::run() {
  int64_t next_tick_ms = now_ms();
  for (;;) {
    std::deque<std::function<void()>> tasks;
    std::deque<std::pair<NodeId, RaftMessage>> inbound;
    std::optional<std::pair<SnapshotId, Status>> written;
    {
      std::unique_lock lock(mu_);
      auto wait_ms = std::max<int64_t>(0, next_tick_ms - now_ms());
      cv_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                   [&] { return stopping_ || !tasks_.empty() || !inbound_.empty() || write_done_; });
      if (stopping_) break;
      tasks.swap(tasks_);
      inbound.swap(inbound_);
      written.swap(write_done_);
    }
    for (auto& [from, message] : inbound) replica_->handle(from, message, now_ms());
    for (auto& task : tasks) task();
    if (written) snapshot_written(written->first, written->second);
    if (now_ms() >= next_retention_ms_) {  // old snapshots age out (raft/snapshot_store.h)
      next_retention_ms_ = now_ms() + 1000;
      if (Status kept = snapshots_->apply_retention(); !kept.ok()) {
        log::warn("raft", "snapshot retention: " + kept.error().to_string());
      }
    }
    // One tick per batch of work: the leader fsyncs everything proposed above at once (group
    // commit) and moves the high watermark.
    replica_->tick(now_ms());
    next_tick_ms = now_ms() + options_.tick_interval_ms;
    deliver_committed();
    publish_status();
  }
  // Closing: tasks still queued run against a closed node (their proposals fail at once).
  std::deque<std::function<void()>> tasks;
  {
    std::lock_guard lock(mu_);
    status_.closed = true;
    tasks.swap(tasks_);
  }
  for (auto& task : tasks) task();
  fail_pending("metadata node closed");
}

void RaftNode::snapshot_here(Offset end_offset, std::string payload) {
  pending_snapshot_.emplace(end_offset, std::move(payload));
}

void RaftNode::take_pending_snapshot() {
  if (!pending_snapshot_ || writing_snapshot_) return;  // one write at a time; the newest waits
  auto [end, payload] = std::move(*pending_snapshot_);
  pending_snapshot_.reset();
  if (end <= log_->start_offset() || end > applied_end_) return;
  SnapshotId id{end, log_->entry(end - 1).epoch};
  writing_snapshot_ = true;
  std::lock_guard lock(mu_);
  write_job_.emplace(id, std::move(payload));
  writer_cv_.notify_one();
}

void RaftNode::write_snapshots() {
  for (;;) {
    std::pair<SnapshotId, std::string> job;
    {
      std::unique_lock lock(mu_);
      writer_cv_.wait(lock, [&] { return writer_stopping_ || write_job_; });
      if (writer_stopping_) return;  // a job not begun is dropped: the next open snapshots again
      job = std::move(*write_job_);
      write_job_.reset();
    }
    const SnapshotId id = job.first;
    std::function<void()> hook;
    if (options_.snapshot_write_hook) hook = [&] { options_.snapshot_write_hook(id); };
    Status status = snapshots_->write_durable(id, job.second, hook);
    job.second = std::string();  // the payload goes before the node thread hears of it
    std::lock_guard lock(mu_);
    write_done_.emplace(id, std::move(status));
    cv_.notify_one();
  }
}

void RaftNode::snapshot_written(SnapshotId id, const Status& status) {
  writing_snapshot_ = false;
  if (!status.ok()) {
    log::warn("raft", "snapshot at " + std::to_string(id.end_offset) + " not saved: " + status.error().to_string());
    return;
  }
  ++snapshots_written_;
  // A leader's snapshot installed meanwhile may have reset the log past (or away from) this one:
  // then it describes nothing the log still holds, and the newer install stands.
  auto snapshots = snapshots_->snapshots();
  const bool listed = std::find(snapshots.begin(), snapshots.end(), id) != snapshots.end();
  if (id.end_offset <= log_->start_offset() || id.end_offset > log_->end_offset() ||
      log_->entry(id.end_offset - 1).epoch != id.epoch) {
    if (!listed) ::unlink(snapshots_->path_of(id).c_str());
    return;
  }
  if (Status added = snapshots_->add_written(id); !added.ok()) {
    log::warn("raft", "snapshot at " + std::to_string(id.end_offset) + " not listed: " + added.error().to_string());
    return;
  }
  log_->advance_start(id);  // durable: only now does the log below it go
}

void RaftNode::install_snapshot_from_log_start() {
  // The replica installed a snapshot from the leader: the log now starts past what we applied.
  auto latest = snapshots_->latest();
  FLOE_ASSERT_MSG(latest && latest->end_offset == log_->start_offset(), "log start without its snapshot");
  auto payload = snapshots_->open_payload(*latest);
  Status status = payload.ok() ? (snapshot_listener_ ? snapshot_listener_(*latest, **payload)
                                                     : Status(Error(Errc::unsupported, "no snapshot listener")))
                               : Status(payload.take_error());
  if (!status.ok()) {
    // Fail-stop, as open() does: applying later entries on top of the old state would diverge
    // from every other replica. A restart loads the snapshot again (or says why it cannot).
    log::error("raft", "installing snapshot " + std::to_string(latest->end_offset) + ": " + status.error().to_string());
    FLOE_ASSERT_MSG(false, "the state machine could not install the leader's snapshot");
  }
  log::info("raft", "installed the leader's snapshot at offset " + std::to_string(latest->end_offset) + " (epoch " +
                        std::to_string(latest->epoch) + ")");
  applied_end_ = latest->end_offset;
  pending_snapshot_.reset();
}

void RaftNode::deliver_committed() {
  if (applied_end_ < log_->start_offset()) install_snapshot_from_log_start();
  Offset hw = replica_->high_watermark();
  while (applied_end_ < hw) {
    const LogEntry& entry = log_->entry(applied_end_);
    if (!entry.control) listener_(applied_end_, entry.data);
    ++applied_end_;
  }
  take_pending_snapshot();
  if (replica_->epoch() != last_epoch_ || (last_role_ == Role::leader && replica_->role() != Role::leader)) {
    // Leadership of the epoch the proposals were made in is over: they may never commit.
    last_epoch_ = replica_->epoch();
    fail_pending("not the leader (leadership changed)");
  }
  last_role_ = replica_->role();
  while (!pending_.empty() && pending_.begin()->first < applied_end_) {
    auto node = pending_.extract(pending_.begin());
    FLOE_ASSERT(node.mapped().epoch == replica_->epoch() && replica_->role() == Role::leader);
    node.mapped().done(node.key());
  }
}

void RaftNode::fail_pending(const std::string& why) {
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [offset, p] : pending) p.done(Error(Errc::internal, why));
}

void RaftNode::publish_status() {
  NodeStatus s;
  s.role = replica_->role();
  s.epoch = replica_->epoch();
  s.leader_id = replica_->leader_id();
  s.high_watermark = replica_->high_watermark();
  s.applied_end = applied_end_;
  s.log_end = log_->end_offset();
  s.epoch_start_offset = replica_->epoch_start_offset();
  s.log_start = log_->start_offset();
  s.snapshots_installed = replica_->snapshots_installed();
  s.snapshots_written = snapshots_written_;
  s.snapshot_writing = writing_snapshot_;
  std::lock_guard lock(mu_);
  s.closed = status_.closed;
  status_ = s;
  status_cv_.notify_all();
}

NodeStatus RaftNode::status() const {
  std::lock_guard lock(mu_);
  return status_;
}

Result<NodeStatus> RaftNode::wait_for(const std::function<bool(const NodeStatus&)>& pred,
                                      int64_t timeout_ms) {
  std::unique_lock lock(mu_);
  bool ok = status_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                                [&] { return pred(status_) || status_.closed; });
  if (!ok) return Error(Errc::timeout, "metadata node: condition not reached in " + std::to_string(timeout_ms) + " ms");
  if (!pred(status_)) return Error(Errc::internal, "metadata node closed");
  return status_;
}

void RaftNode::close() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    cv_.notify_one();
  }
  if (options_.transport) options_.transport->stop();
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard lock(mu_);
    writer_stopping_ = true;  // a write under way finishes (durable or not, never half-visible)
    writer_cv_.notify_one();
  }
  if (writer_.joinable()) writer_.join();
  std::deque<std::function<void()>> never_run;  // posted to a node that never started
  {
    std::lock_guard lock(mu_);
    status_.closed = true;
    never_run.swap(tasks_);
    status_cv_.notify_all();
  }
  for (auto& task : never_run) task();  // they see a closed node, as after the thread's end
}

}  // namespace floe::raft
