#include "group/group_coordinator.h"

#include <chrono>

#include "common/log.h"
#include "group/coordinator_impl.h"

namespace floe::broker {

using namespace kafka_error;

const char* group_state_name(GroupState s) {
  switch (s) {
    case GroupState::empty: return "Empty";
    case GroupState::preparing_rebalance: return "PreparingRebalance";
    case GroupState::completing_rebalance: return "CompletingRebalance";
    case GroupState::stable: return "Stable";
    case GroupState::dead: return "Dead";
  }
  return "Dead";
}

// --- whole-request error answers ---

protocol::JoinGroupResponse join_error(int16_t error, int16_t version, std::string member_id) {
  protocol::JoinGroupResponse r;
  r.error_code = error;
  r.generation_id = -1;
  r.member_id = std::move(member_id);
  if (version >= 7) r.protocol_name = std::nullopt;
  return r;
}

protocol::SyncGroupResponse sync_error(int16_t error) {
  protocol::SyncGroupResponse r;
  r.error_code = error;
  return r;
}

protocol::HeartbeatResponse heartbeat_error(int16_t error) {
  protocol::HeartbeatResponse r;
  r.error_code = error;
  return r;
}

protocol::LeaveGroupResponse leave_error(const protocol::LeaveGroupRequest& req, int16_t version, int16_t error) {
  protocol::LeaveGroupResponse r;
  r.error_code = error;
  (void)req;
  (void)version;
  return r;
}

protocol::OffsetCommitResponse commit_error(const protocol::OffsetCommitRequest& req, int16_t error) {
  protocol::OffsetCommitResponse r;
  for (const auto& t : req.topics) {
    auto& rt = r.topics.emplace_back();
    rt.name = t.name;
    for (const auto& p : t.partitions) {
      auto& rp = rt.partitions.emplace_back();
      rp.partition_index = p.partition_index;
      rp.error_code = error;
    }
  }
  return r;
}

protocol::OffsetFetchResponse fetch_error(const protocol::OffsetFetchRequest& req, int16_t version, int16_t error) {
  protocol::OffsetFetchResponse r;
  if (version >= 8) {
    for (const auto& g : req.groups) {
      auto& rg = r.groups.emplace_back();
      rg.group_id = g.group_id;
      rg.error_code = error;
    }
  } else if (version >= 2) {
    r.error_code = error;
  } else if (req.topics) {  // v0-1 carry errors per partition only
    for (const auto& t : *req.topics) {
      auto& rt = r.topics.emplace_back();
      rt.name = t.name;
      for (int32_t p : t.partition_indexes) {
        auto& rp = rt.partitions.emplace_back();
        rp.partition_index = p;
        rp.committed_offset = -1;
        rp.error_code = error;
      }
    }
  }
  return r;
}

protocol::DescribeGroupsResponse describe_error(const protocol::DescribeGroupsRequest& req, int16_t error) {
  protocol::DescribeGroupsResponse r;
  for (const auto& id : req.groups) {
    auto& g = r.groups.emplace_back();
    g.group_id = id;
    g.error_code = error;
  }
  return r;
}

protocol::ListGroupsResponse list_error(int16_t error) {
  protocol::ListGroupsResponse r;
  r.error_code = error;
  return r;
}

protocol::DeleteGroupsResponse delete_error(const protocol::DeleteGroupsRequest& req, int16_t error) {
  protocol::DeleteGroupsResponse r;
  for (const auto& id : req.groups_names) {
    auto& g = r.results.emplace_back();
    g.group_id = id;
    g.error_code = error;
  }
  return r;
}

protocol::OffsetDeleteResponse offset_delete_error(int16_t error) {
  protocol::OffsetDeleteResponse r;
  r.error_code = error;
  return r;
}

// --- answers of a broker that is not the coordinator ---

protocol::JoinGroupResponse not_coordinator_answer(const protocol::JoinGroupRequest&, int16_t version) {
  return join_error(kNotCoordinator, version);
}
protocol::SyncGroupResponse not_coordinator_answer(const protocol::SyncGroupRequest&, int16_t) {
  return sync_error(kNotCoordinator);
}
protocol::HeartbeatResponse not_coordinator_answer(const protocol::HeartbeatRequest&, int16_t) {
  return heartbeat_error(kNotCoordinator);
}
protocol::LeaveGroupResponse not_coordinator_answer(const protocol::LeaveGroupRequest& req, int16_t version) {
  return leave_error(req, version, kNotCoordinator);
}
protocol::OffsetCommitResponse not_coordinator_answer(const protocol::OffsetCommitRequest& req, int16_t) {
  return commit_error(req, kNotCoordinator);
}
protocol::OffsetFetchResponse not_coordinator_answer(const protocol::OffsetFetchRequest& req, int16_t version) {
  return fetch_error(req, version, kNotCoordinator);
}
protocol::DescribeGroupsResponse not_coordinator_answer(const protocol::DescribeGroupsRequest& req, int16_t) {
  return describe_error(req, kNotCoordinator);
}
protocol::ListGroupsResponse not_coordinator_answer(const protocol::ListGroupsRequest&, int16_t) {
  return list_error(kNone);
}
protocol::DeleteGroupsResponse not_coordinator_answer(const protocol::DeleteGroupsRequest& req, int16_t) {
  return delete_error(req, kNotCoordinator);
}
protocol::OffsetDeleteResponse not_coordinator_answer(const protocol::OffsetDeleteRequest&, int16_t) {
  return offset_delete_error(kNotCoordinator);
}

// --- Impl: life cycle and shared helpers ---

GroupCoordinator::Impl::Impl(GroupCoordinatorOptions options, std::shared_ptr<stream::Stream> stream)
    : options_(std::move(options)), stream_(std::move(stream)), work_(asio::make_work_guard(io_)),
      rng_(std::random_device{}()) {
  FLOE_ASSERT(stream_);
}

void GroupCoordinator::Impl::start(std::function<void(Status)> loaded) {
  loaded_cb_ = std::move(loaded);
  thread_ = std::thread([this] { io_.run(); });
  post([this] {
    retention_timer_ = std::make_unique<asio::steady_timer>(io_);
    begin_load();
  });
}

void GroupCoordinator::Impl::stop() {
  if (stopped_.exchange(true)) return;
  if (!thread_.joinable()) {
    std::lock_guard lock(admit_mu_);
    closed_ = true;
    return;
  }
  std::future<void> drained = drained_.get_future();
  post([this] {
    stopping_ = true;
    if (retention_timer_) retention_timer_->cancel();
    for (auto& [_, g] : groups_) {
      if (g->join_timer) g->join_timer->cancel();
      for (auto& [_, p] : g->pending) p.timer->cancel();
      for (auto& [_, m] : g->members) {
        if (m->heartbeat_timer) m->heartbeat_timer->cancel();
        if (m->join_done) std::exchange(m->join_done, nullptr)(join_error(kNotCoordinator, m->join_version));
        if (m->sync_done) std::exchange(m->sync_done, nullptr)(sync_error(kNotCoordinator));
      }
    }
    auto queued = std::move(queue_);
    queue_.clear();
    for (auto& e : queued) e.done(Status(Errc::timeout, "group coordinator stopping"));
    stream_op_done();  // sets drained_ if nothing is in flight
  });
  drained.wait();
  {
    std::lock_guard lock(admit_mu_);
    closed_ = true;  // from here on requests are answered at once, on their own thread
  }
  // Requests admitted before the door closed are queued ahead of this one (one thread, FIFO):
  // they run, see stopping_ and answer NOT_COORDINATOR, none is dropped by io_.stop().
  std::promise<void> last;
  post([&last] { last.set_value(); });
  last.get_future().wait();
  work_.reset();
  io_.stop();
  thread_.join();
}

void GroupCoordinator::Impl::stream_op_done() {
  if (stopping_ && stream_ops_in_flight_ == 0 && !drained_set_) {
    drained_set_ = true;
    drained_.set_value();
  }
}

int16_t GroupCoordinator::Impl::availability_error() const {
  if (stopping_) return kNotCoordinator;
  if (load_failed_) return kCoordinatorNotAvailable;
  if (!loaded_.load()) return kCoordinatorLoadInProgress;
  return kNone;
}

int64_t GroupCoordinator::Impl::now_ms() const {
  if (options_.now_ms) return options_.now_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Group* GroupCoordinator::Impl::find_group(const std::string& id) {
  auto it = groups_.find(id);
  return it == groups_.end() ? nullptr : it->second.get();
}

Group& GroupCoordinator::Impl::create_group(const std::string& id) {
  auto g = std::make_unique<Group>();
  g->id = id;
  g->state_timestamp_ms = now_ms();
  g->join_timer = std::make_unique<asio::steady_timer>(io_);
  auto& ref = *g;
  groups_.emplace(id, std::move(g));
  return ref;
}

void GroupCoordinator::Impl::maybe_forget_group(const std::string& id) {
  Group* g = find_group(id);
  if (!g || g->state != GroupState::empty) return;
  if (!g->members.empty() || !g->pending.empty() || !g->offsets.empty() || g->persisted || !g->pending_commits.empty() ||
      g->pending_stores > 0)
    return;
  g->join_timer->cancel();
  groups_.erase(id);
}

std::string GroupCoordinator::Impl::new_member_id(const std::string& client_id) {
  Uuid u;
  uint64_t a = rng_(), b = rng_();
  for (int i = 0; i < 8; ++i) {
    u.bytes[i] = static_cast<uint8_t>(a >> (8 * i));
    u.bytes[8 + i] = static_cast<uint8_t>(b >> (8 * i));
  }
  u.bytes[6] = static_cast<uint8_t>((u.bytes[6] & 0x0f) | 0x40);  // version 4
  u.bytes[8] = static_cast<uint8_t>((u.bytes[8] & 0x3f) | 0x80);  // variant 1
  return client_id + "-" + u.to_string();
}

GroupCoordinatorStats GroupCoordinator::Impl::stats_now() const {
  GroupCoordinatorStats s = counters_;
  s.groups = groups_.size();
  s.members = 0;
  s.offsets = 0;
  for (const auto& [_, g] : groups_) {
    s.members += g->members.size();
    s.offsets += g->offsets.size();
  }
  s.stream_records = static_cast<uint64_t>(stream_->end_offset().value() - stream_->start_offset().value());
  return s;
}

// --- public surface: post to the coordinator thread ---

GroupCoordinator::GroupCoordinator(GroupCoordinatorOptions options, std::shared_ptr<stream::Stream> stream)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(stream))) {}

GroupCoordinator::~GroupCoordinator() { stop(); }

void GroupCoordinator::start(std::function<void(Status)> loaded) { impl_->start(std::move(loaded)); }
void GroupCoordinator::stop() { impl_->stop(); }
bool GroupCoordinator::loaded() const { return impl_->loaded_.load(); }

void GroupCoordinator::join_group(const protocol::JoinGroupRequest& req, int16_t version, std::string client_id,
                                  std::string client_host, std::function<void(protocol::JoinGroupResponse)> done) {
  impl_->submit(req, version, std::move(done),
                [impl = impl_.get(), req, version, client_id = std::move(client_id),
                 client_host = std::move(client_host)](auto d) mutable {
                  impl->join(std::move(req), version, std::move(client_id), std::move(client_host), std::move(d));
                });
}

void GroupCoordinator::sync_group(const protocol::SyncGroupRequest& req, int16_t version, std::string,
                                  std::string, std::function<void(protocol::SyncGroupResponse)> done) {
  impl_->submit(req, version, std::move(done), [impl = impl_.get(), req, version](auto d) mutable {
    impl->sync(std::move(req), version, std::move(d));
  });
}

void GroupCoordinator::heartbeat(const protocol::HeartbeatRequest& req, int16_t version, std::string, std::string,
                                 std::function<void(protocol::HeartbeatResponse)> done) {
  impl_->submit(req, version, std::move(done), [impl = impl_.get(), req, version](auto d) mutable {
    impl->heartbeat(req, version, std::move(d));
  });
}

void GroupCoordinator::leave_group(const protocol::LeaveGroupRequest& req, int16_t version, std::string,
                                   std::string, std::function<void(protocol::LeaveGroupResponse)> done) {
  impl_->submit(req, version, std::move(done), [impl = impl_.get(), req, version](auto d) mutable {
    impl->leave(req, version, std::move(d));
  });
}

void GroupCoordinator::offset_commit(const protocol::OffsetCommitRequest& req, int16_t version, std::string,
                                     std::string, std::function<void(protocol::OffsetCommitResponse)> done) {
  impl_->submit(req, version, std::move(done), [impl = impl_.get(), req, version](auto d) mutable {
    impl->offset_commit(req, version, std::move(d));
  });
}

void GroupCoordinator::offset_fetch(const protocol::OffsetFetchRequest& req, int16_t version, std::string,
                                    std::string, std::function<void(protocol::OffsetFetchResponse)> done) {
  impl_->submit(req, version, std::move(done), [impl = impl_.get(), req, version](auto d) mutable {
    impl->offset_fetch(req, version, std::move(d));
  });
}

void GroupCoordinator::describe_groups(const protocol::DescribeGroupsRequest& req, int16_t version, std::string,
                                       std::string, std::function<void(protocol::DescribeGroupsResponse)> done) {
  impl_->submit(req, version, std::move(done), [impl = impl_.get(), req, version](auto d) mutable {
    impl->describe(req, version, std::move(d));
  });
}

void GroupCoordinator::list_groups(const protocol::ListGroupsRequest& req, int16_t version, std::string,
                                   std::string, std::function<void(protocol::ListGroupsResponse)> done) {
  impl_->submit(req, version, std::move(done), [impl = impl_.get(), req, version](auto d) mutable {
    impl->list(req, version, std::move(d));
  });
}

void GroupCoordinator::delete_groups(const protocol::DeleteGroupsRequest& req, int16_t version, std::string,
                                     std::string, std::function<void(protocol::DeleteGroupsResponse)> done) {
  impl_->submit(req, version, std::move(done), [impl = impl_.get(), req, version](auto d) mutable {
    impl->delete_groups(req, version, std::move(d));
  });
}

void GroupCoordinator::offset_delete(const protocol::OffsetDeleteRequest& req, int16_t version, std::string,
                                     std::string, std::function<void(protocol::OffsetDeleteResponse)> done) {
  impl_->submit(req, version, std::move(done), [impl = impl_.get(), req, version](auto d) mutable {
    impl->offset_delete(req, version, std::move(d));
  });
}

GroupCoordinatorStats GroupCoordinator::stats() {
  std::promise<GroupCoordinatorStats> p;
  auto f = p.get_future();
  {
    std::lock_guard lock(impl_->admit_mu_);
    if (impl_->stopped_ || impl_->closed_) return {};
    impl_->post([&] { p.set_value(impl_->stats_now()); });
  }
  return f.get();
}

}  // namespace floe::broker
