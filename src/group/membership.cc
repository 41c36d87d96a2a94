// JoinGroup, SyncGroup, Heartbeat, LeaveGroup: the rebalance state machine (group_coordinator.h).
#include <algorithm>

#include "common/log.h"
#include "group/coordinator_impl.h"
#include "protocol/generated/consumer_protocol_subscription.h"

namespace floe::broker {

using namespace kafka_error;
using namespace std::chrono;

namespace {

bool same_protocols(const std::vector<MemberProtocol>& have,
                    const std::vector<protocol::JoinGroupRequest::JoinGroupRequestProtocol>& want) {
  if (have.size() != want.size()) return false;
  for (size_t i = 0; i < have.size(); ++i)
    if (have[i].name != want[i].name || !(have[i].metadata == want[i].metadata)) return false;
  return true;
}

}  // namespace

void GroupCoordinator::Impl::transition(Group& g, GroupState s) {
  g.state = s;
  g.state_timestamp_ms = now_ms();
}

// --- JoinGroup ---

void GroupCoordinator::Impl::join(protocol::JoinGroupRequest req, int16_t version, std::string client_id,
                                  std::string client_host, std::function<void(protocol::JoinGroupResponse)> done) {
  if (int16_t e = availability_error()) return done(join_error(e, version));
  if (req.group_id.empty()) return done(join_error(kInvalidGroupId, version, req.member_id));
  if (req.session_timeout_ms < options_.min_session_timeout_ms || req.session_timeout_ms > options_.max_session_timeout_ms)
    return done(join_error(kInvalidSessionTimeout, version, req.member_id));
  JoinArgs a;
  // v0 has no rebalance timeout: the session timeout serves as both.
  a.rebalance_timeout_ms = version >= 1 && req.rebalance_timeout_ms > 0 ? req.rebalance_timeout_ms : req.session_timeout_ms;
  a.version = version;
  a.client_id = std::move(client_id);
  a.client_host = std::move(client_host);
  a.done = std::move(done);
  if (version < 5) req.group_instance_id = std::nullopt;
  a.req = std::move(req);
  const std::string group_id = a.req.group_id;
  const bool unknown_member = a.req.member_id.empty();

  Group* g = find_group(group_id);
  if (!g) {
    if (!unknown_member) return a.done(join_error(kUnknownMemberId, version, a.req.member_id));
    if (groups_.size() >= options_.groups_max) return a.done(join_error(kCoordinatorNotAvailable, version));
    g = &create_group(group_id);
  }
  // group.max.size: a member already in the group (or taking over a static instance) may rejoin.
  bool known = g->has_member(a.req.member_id) || g->pending.count(a.req.member_id) ||
               (a.req.group_instance_id && g->static_members.count(*a.req.group_instance_id));
  if (!known && (g->members.size() + g->pending.size() >= static_cast<size_t>(options_.group_max_size) ||
                 members_total_ >= options_.members_total_max)) {
    a.done(join_error(kGroupMaxSizeReached, version, a.req.member_id));
    return maybe_forget_group(group_id);
  }
  if (unknown_member)
    new_member_join(*g, std::move(a));
  else
    current_member_join(*g, std::move(a));
  maybe_forget_group(group_id);
}

bool GroupCoordinator::Impl::supports_protocols(const Group& g, const std::string& type, const Protocols& protocols) const {
  if (type.empty() || protocols.empty()) return false;
  if (g.members.empty()) return true;
  if (type != g.protocol_type) return false;
  for (const auto& p : protocols) {
    bool all = true;
    for (const auto& [_, m] : g.members)
      if (!m->metadata_for(p.name)) { all = false; break; }
    if (all) return true;
  }
  return false;
}

std::optional<std::string> GroupCoordinator::Impl::select_protocol(const Group& g) const {
  if (g.members.empty()) return std::nullopt;
  // Candidates: the protocols every member supports, in the leader's (or first member's) order.
  const Member* first = g.members.count(g.leader) ? g.members.at(g.leader).get() : g.members.begin()->second.get();
  std::vector<std::string> candidates;
  for (const auto& p : first->protocols) {
    bool all = true;
    for (const auto& [_, m] : g.members)
      if (!m->metadata_for(p.name)) { all = false; break; }
    if (all) candidates.push_back(p.name);
  }
  if (candidates.empty()) return std::nullopt;
  // Each member votes for its most preferred candidate; most votes wins, ties to the earlier one.
  std::map<std::string, int> votes;
  for (const auto& [_, m] : g.members)
    for (const auto& p : m->protocols)
      if (std::find(candidates.begin(), candidates.end(), p.name) != candidates.end()) {
        ++votes[p.name];
        break;
      }
  std::string best = candidates.front();
  for (const auto& c : candidates)
    if (votes[c] > votes[best]) best = c;
  return best;
}

void GroupCoordinator::Impl::new_member_join(Group& g, JoinArgs a) {
  if (g.state == GroupState::dead) return a.done(join_error(kCoordinatorNotAvailable, a.version));
  if (!supports_protocols(g, a.req.protocol_type, a.req.protocols))
    return a.done(join_error(kInconsistentGroupProtocol, a.version));
  std::string id = new_member_id(a.client_id);
  if (a.req.group_instance_id) return static_member_join(g, std::move(a), std::move(id));
  if (a.version >= 4) {  // KIP-394: hand out the id; the member rejoins with it
    add_pending(g, id, a.req.session_timeout_ms);
    return a.done(join_error(kMemberIdRequired, a.version, id));
  }
  add_member_and_rebalance(g, std::move(a), std::move(id));
}

void GroupCoordinator::Impl::static_member_join(Group& g, JoinArgs a, std::string new_id) {
  const std::string instance = *a.req.group_instance_id;
  auto sit = g.static_members.find(instance);
  if (sit == g.static_members.end()) return add_member_and_rebalance(g, std::move(a), std::move(new_id));
  // KIP-345: the instance restarted (or a duplicate appeared): it takes over under a new id and
  // the old id is fenced.
  const std::string old_id = sit->second;
  auto node = g.members.extract(old_id);
  FLOE_ASSERT(!node.empty());
  Member& m = *node.mapped();
  if (m.join_done) std::exchange(m.join_done, nullptr)(join_error(kFencedInstanceId, m.join_version, old_id));
  if (m.sync_done) std::exchange(m.sync_done, nullptr)(sync_error(kFencedInstanceId));
  m.id = new_id;
  node.key() = new_id;
  g.members.insert(std::move(node));
  sit->second = new_id;
  if (g.leader == old_id) g.leader = new_id;
  Member& member = *g.members.at(new_id);
  switch (g.state) {
    case GroupState::stable: {
      auto before = g.protocol;
      update_member(member, a);
      if (select_protocol(g) != before) {
        member.join_done = std::move(a.done);
        member.join_version = a.version;
        return prepare_rebalance(g);
      }
      heartbeat_member(g, member);
      // No rebalance: persist the new member id, then answer with the current generation. The
      // leader learns the members but need not assign again (skip_assignment, KIP-814).
      auto value = group_value(g, nullptr);
      bool is_leader = g.leader == new_id;
      auto respond = [this, gid = g.id, new_id, is_leader, a = std::move(a)](int16_t error) mutable {
        Group* g2 = find_group(gid);
        Member* m2 = g2 ? g2->member(new_id) : nullptr;
        if (error || !m2) return a.done(join_error(error ? error : kUnknownMemberId, a.version, new_id));
        auto r = join_result(*g2, *m2, a.version, is_leader);
        r.skip_assignment = is_leader && a.version >= 9;
        a.done(std::move(r));
      };
      auto shared = std::make_shared<decltype(respond)>(std::move(respond));
      if (!store_group(g, std::move(value), [shared](int16_t e) { (*shared)(e); }))
        (*shared)(kCoordinatorNotAvailable);
      return;
    }
    case GroupState::completing_rebalance:
    case GroupState::preparing_rebalance:
      return update_member_and_rebalance(g, member, std::move(a));
    case GroupState::empty:
    case GroupState::dead:
      return a.done(join_error(kUnknownMemberId, a.version, new_id));
  }
}

void GroupCoordinator::Impl::current_member_join(Group& g, JoinArgs a) {
  if (g.state == GroupState::dead) return a.done(join_error(kCoordinatorNotAvailable, a.version, a.req.member_id));
  if (!supports_protocols(g, a.req.protocol_type, a.req.protocols))
    return a.done(join_error(kInconsistentGroupProtocol, a.version, a.req.member_id));
  const std::string id = a.req.member_id;
  if (g.pending.count(id)) {
    if (a.req.group_instance_id) return a.done(join_error(kUnknownMemberId, a.version, id));
    return add_member_and_rebalance(g, std::move(a), id);
  }
  if (g.static_member_fenced(a.req.group_instance_id, id)) return a.done(join_error(kFencedInstanceId, a.version, id));
  Member* m = g.member(id);
  if (!m) return a.done(join_error(kUnknownMemberId, a.version, id));
  switch (g.state) {
    case GroupState::preparing_rebalance:
      return update_member_and_rebalance(g, *m, std::move(a));
    case GroupState::completing_rebalance:
      if (same_protocols(m->protocols, a.req.protocols)) {  // a retried join: the same answer again
        heartbeat_member(g, *m);
        return a.done(join_result(g, *m, a.version, g.leader == id));
      }
      return update_member_and_rebalance(g, *m, std::move(a));
    case GroupState::stable:
      if (g.leader == id || !same_protocols(m->protocols, a.req.protocols))
        return update_member_and_rebalance(g, *m, std::move(a));
      heartbeat_member(g, *m);
      return a.done(join_result(g, *m, a.version, false));
    case GroupState::empty:
    case GroupState::dead:
      return a.done(join_error(kUnknownMemberId, a.version, id));
  }
}

void GroupCoordinator::Impl::update_member(Member& m, const JoinArgs& a) {
  m.protocols.clear();
  for (const auto& p : a.req.protocols) m.protocols.push_back({p.name, p.metadata});
  m.rebalance_timeout_ms = a.rebalance_timeout_ms;
  m.session_timeout_ms = a.req.session_timeout_ms;
  m.client_id = a.client_id;
  m.client_host = a.client_host;
}

void GroupCoordinator::Impl::add_member_and_rebalance(Group& g, JoinArgs a, std::string member_id) {
  auto m = std::make_unique<Member>();
  m->id = member_id;
  m->instance_id = a.req.group_instance_id;
  update_member(*m, a);
  m->is_new = true;
  m->join_done = std::move(a.done);
  m->join_version = a.version;
  m->heartbeat_timer = std::make_unique<asio::steady_timer>(io_);
  if (m->instance_id) {
    g.static_members[*m->instance_id] = member_id;
  } else if (g.pending.erase(member_id)) {
    --members_total_;
  }
  if (g.state == GroupState::preparing_rebalance && g.initial_join_phase) g.new_member_added = true;
  if (g.members.empty()) g.protocol_type = a.req.protocol_type;
  if (g.leader.empty() || !g.has_member(g.leader)) g.leader = member_id;
  Member& ref = *m;
  g.members.emplace(member_id, std::move(m));
  ++members_total_;
  heartbeat_member(g, ref);
  maybe_prepare_rebalance(g);
}

void GroupCoordinator::Impl::update_member_and_rebalance(Group& g, Member& m, JoinArgs a) {
  update_member(m, a);
  // A client never has two joins outstanding; if an old one is still waiting, answer it so the
  // connection's responses keep flowing.
  if (m.join_done) std::exchange(m.join_done, nullptr)(join_error(kRebalanceInProgress, m.join_version, m.id));
  m.join_done = std::move(a.done);
  m.join_version = a.version;
  heartbeat_member(g, m);
  maybe_prepare_rebalance(g);
}

void GroupCoordinator::Impl::maybe_prepare_rebalance(Group& g) {
  switch (g.state) {
    case GroupState::stable:
    case GroupState::completing_rebalance:
    case GroupState::empty:
      return prepare_rebalance(g);
    case GroupState::preparing_rebalance:
      return try_complete_join(g);
    case GroupState::dead:
      return;
  }
}

void GroupCoordinator::Impl::prepare_rebalance(Group& g) {
  if (g.state == GroupState::completing_rebalance) reset_and_propagate_assignment_error(g, kRebalanceInProgress);
  const bool initial = g.state == GroupState::empty;
  transition(g, GroupState::preparing_rebalance);
  if (initial) {
    // group.initial.rebalance.delay.ms: let the first consumers of a fresh group arrive together.
    g.initial_join_phase = true;
    g.new_member_added = false;
    int64_t delay = options_.initial_rebalance_delay_ms;
    g.initial_remaining_ms = std::max<int64_t>(g.rebalance_timeout_ms() - delay, 0);
    return schedule_join_timer(g, delay);
  }
  g.initial_join_phase = false;
  schedule_join_timer(g, g.rebalance_timeout_ms());
  try_complete_join(g);
}

void GroupCoordinator::Impl::schedule_join_timer(Group& g, int64_t delay_ms) {
  uint64_t seq = ++g.join_seq;
  g.join_timer->expires_after(milliseconds(std::max<int64_t>(delay_ms, 0)));
  g.join_timer->async_wait([this, gid = g.id, seq](const asio::error_code& ec) {
    if (!ec) on_join_timer(gid, seq);
  });
}

void GroupCoordinator::Impl::on_join_timer(const std::string& group_id, uint64_t seq) {
  Group* g = find_group(group_id);
  if (!g || g->join_seq != seq || g->state != GroupState::preparing_rebalance || stopping_) return;
  if (g->initial_join_phase && g->new_member_added && g->initial_remaining_ms > 0) {
    g->new_member_added = false;
    int64_t delay = std::min(options_.initial_rebalance_delay_ms, g->initial_remaining_ms);
    g->initial_remaining_ms -= delay;
    return schedule_join_timer(*g, delay);
  }
  complete_join(*g);
  maybe_forget_group(group_id);
}

void GroupCoordinator::Impl::try_complete_join(Group& g) {
  if (g.state != GroupState::preparing_rebalance || g.initial_join_phase) return;
  if (!g.pending.empty()) return;
  for (const auto& [_, m] : g.members)
    if (!m->join_done) return;
  complete_join(g);
}

void GroupCoordinator::Impl::complete_join(Group& g) {
  ++g.join_seq;  // the join timer is now stale
  g.join_timer->cancel();
  g.initial_join_phase = false;
  // Members that did not rejoin in time are dropped (static ones too).
  std::vector<std::string> laggards;
  for (const auto& [id, m] : g.members)
    if (!m->join_done) laggards.push_back(id);
  for (const auto& id : laggards) remove_member(g, id, kUnknownMemberId);

  ++g.generation;
  if (g.members.empty()) {
    g.protocol = std::nullopt;
    transition(g, GroupState::empty);
    // The group became empty: persist it so a restart does not resurrect the old generation.
    auto value = group_value(g, nullptr);
    store_group(g, std::move(value), [](int16_t) {});
    return;
  }
  g.protocol = select_protocol(g);
  FLOE_ASSERT(g.protocol.has_value());  // supports_protocols admitted only compatible members
  transition(g, GroupState::completing_rebalance);
  for (auto& [id, m] : g.members) {
    auto r = join_result(g, *m, m->join_version, id == g.leader);
    std::exchange(m->join_done, nullptr)(std::move(r));
    m->is_new = false;
    heartbeat_member(g, *m);
  }
}

protocol::JoinGroupResponse GroupCoordinator::Impl::join_result(const Group& g, const Member& m, int16_t version,
                                                                bool with_members) const {
  protocol::JoinGroupResponse r;
  r.error_code = kNone;
  r.generation_id = g.generation;
  r.protocol_type = g.protocol_type;
  r.protocol_name = g.protocol;
  if (version < 7 && !r.protocol_name) r.protocol_name = std::string();
  r.leader = g.leader;
  r.member_id = m.id;
  if (with_members && g.protocol) {
    for (const auto& [id, other] : g.members) {
      auto& e = r.members.emplace_back();
      e.member_id = id;
      e.group_instance_id = other->instance_id;
      if (const SharedBytes* md = other->metadata_for(*g.protocol)) e.metadata = *md;
    }
  }
  return r;
}

// --- membership bookkeeping ---

void GroupCoordinator::Impl::remove_member(Group& g, const std::string& member_id, int16_t callback_error) {
  auto it = g.members.find(member_id);
  if (it == g.members.end()) return;
  Member& m = *it->second;
  if (m.heartbeat_timer) m.heartbeat_timer->cancel();
  if (m.join_done) std::exchange(m.join_done, nullptr)(join_error(callback_error, m.join_version, member_id));
  if (m.sync_done) std::exchange(m.sync_done, nullptr)(sync_error(callback_error));
  if (m.instance_id) {
    auto sit = g.static_members.find(*m.instance_id);
    if (sit != g.static_members.end() && sit->second == member_id) g.static_members.erase(sit);
  }
  g.members.erase(it);
  --members_total_;
  if (g.leader == member_id) g.leader = g.members.empty() ? std::string() : g.members.begin()->first;
}

void GroupCoordinator::Impl::remove_member_and_update_group(Group& g, const std::string& member_id) {
  remove_member(g, member_id, kUnknownMemberId);
  switch (g.state) {
    case GroupState::dead:
    case GroupState::empty:
      return;
    case GroupState::stable:
    case GroupState::completing_rebalance:
      return maybe_prepare_rebalance(g);
    case GroupState::preparing_rebalance:
      return try_complete_join(g);
  }
}

void GroupCoordinator::Impl::heartbeat_member(Group& g, Member& m) {
  m.last_heartbeat = SteadyClock::now();
  schedule_heartbeat(g, m, milliseconds(m.session_timeout_ms));
}

void GroupCoordinator::Impl::schedule_heartbeat(Group& g, Member& m, SteadyClock::duration after) {
  uint64_t seq = ++m.heartbeat_seq;
  m.heartbeat_timer->expires_after(after);
  m.heartbeat_timer->async_wait([this, gid = g.id, mid = m.id, seq](const asio::error_code& ec) {
    if (!ec) on_heartbeat_timer(gid, mid, seq);
  });
}

void GroupCoordinator::Impl::on_heartbeat_timer(const std::string& group_id, const std::string& member_id, uint64_t seq) {
  if (stopping_) return;
  Group* g = find_group(group_id);
  Member* m = g ? g->member(member_id) : nullptr;
  if (!m || m->heartbeat_seq != seq) return;
  auto now = SteadyClock::now();
  if (m->join_done) {
    // A member waiting in a join phase stays: the rebalance timeout decides about it. A new
    // member whose join answer was lost and never came back goes after new_member_join_timeout_ms.
    auto limit = m->last_heartbeat + milliseconds(options_.new_member_join_timeout_ms);
    if (!m->is_new || now < limit) return schedule_heartbeat(*g, *m, milliseconds(m->session_timeout_ms));
  }
  log::info("group", "member " + member_id + " of group " + group_id + " expired (no heartbeat)");
  remove_member_and_update_group(*g, member_id);
  maybe_forget_group(group_id);
}

void GroupCoordinator::Impl::add_pending(Group& g, const std::string& member_id, int32_t session_timeout_ms) {
  auto& p = g.pending[member_id];
  ++members_total_;
  p.timer = std::make_unique<asio::steady_timer>(io_);
  p.timer->expires_after(milliseconds(session_timeout_ms));
  p.timer->async_wait([this, gid = g.id, member_id](const asio::error_code& ec) {
    if (!ec) on_pending_timer(gid, member_id);
  });
}

void GroupCoordinator::Impl::on_pending_timer(const std::string& group_id, const std::string& member_id) {
  if (stopping_) return;
  Group* g = find_group(group_id);
  if (!g || !g->pending.erase(member_id)) return;
  --members_total_;
  if (g->state == GroupState::preparing_rebalance) try_complete_join(*g);
  maybe_forget_group(group_id);
}

// --- SyncGroup ---

group_format::GroupValue GroupCoordinator::Impl::group_value(const Group& g,
                                                             const std::map<std::string, SharedBytes>* assignments) const {
  group_format::GroupValue v;
  v.protocol_type = g.protocol_type;
  v.generation = g.generation;
  v.protocol = g.protocol;
  v.leader = g.leader;
  v.state_timestamp_ms = g.state_timestamp_ms;
  if (!g.protocol) return v;
  for (const auto& [id, m] : g.members) {
    auto& mv = v.members.emplace_back();
    mv.member_id = id;
    mv.instance_id = m->instance_id;
    mv.client_id = m->client_id;
    mv.client_host = m->client_host;
    mv.rebalance_timeout_ms = m->rebalance_timeout_ms;
    mv.session_timeout_ms = m->session_timeout_ms;
    if (const SharedBytes* md = m->metadata_for(*g.protocol)) mv.subscription = *md;
    if (assignments) {
      auto it = assignments->find(id);
      if (it != assignments->end()) mv.assignment = it->second;
    } else {
      mv.assignment = m->assignment;
    }
  }
  return v;
}

bool GroupCoordinator::Impl::store_group(Group& g, group_format::GroupValue value, std::function<void(int16_t)> done) {
  Bytes bytes;
  group_format::append_record(bytes, group_format::group_record(g.id, value));
  bool queued = enqueue(std::move(bytes), 1,
                 [this, gid = g.id, value = std::move(value), done = std::move(done)](Status st) mutable {
                   Group* g2 = find_group(gid);
                   if (g2) --g2->pending_stores;
                   if (st.ok() && g2 && g2->state != GroupState::dead) g2->persisted = std::move(value);
                   done(st.ok() ? kNone : append_error(st));
                   if (g2) maybe_forget_group(gid);
                 });
  if (queued) ++g.pending_stores;
  return queued;
}

void GroupCoordinator::Impl::sync(protocol::SyncGroupRequest req, int16_t version,
                                  std::function<void(protocol::SyncGroupResponse)> done) {
  if (int16_t e = availability_error()) return done(sync_error(e));
  if (req.group_id.empty()) return done(sync_error(kInvalidGroupId));
  if (version < 3) req.group_instance_id = std::nullopt;
  Group* g = find_group(req.group_id);
  if (!g) return done(sync_error(kUnknownMemberId));
  if (g->state == GroupState::dead) return done(sync_error(kCoordinatorNotAvailable));
  if (g->static_member_fenced(req.group_instance_id, req.member_id)) return done(sync_error(kFencedInstanceId));
  Member* m = g->member(req.member_id);
  if (!m) return done(sync_error(kUnknownMemberId));
  if (req.generation_id != g->generation) return done(sync_error(kIllegalGeneration));
  if (version >= 5 && ((req.protocol_type && *req.protocol_type != g->protocol_type) ||
                       (req.protocol_name && req.protocol_name != g->protocol)))
    return done(sync_error(kInconsistentGroupProtocol));
  switch (g->state) {
    case GroupState::empty:
    case GroupState::dead:
      return done(sync_error(kUnknownMemberId));
    case GroupState::preparing_rebalance:
      return done(sync_error(kRebalanceInProgress));
    case GroupState::stable: {
      heartbeat_member(*g, *m);
      protocol::SyncGroupResponse r;
      r.protocol_type = g->protocol_type;
      r.protocol_name = g->protocol;
      r.assignment = m->assignment;
      return done(std::move(r));
    }
    case GroupState::completing_rebalance:
      break;
  }
  if (m->sync_done) std::exchange(m->sync_done, nullptr)(sync_error(kRebalanceInProgress));
  m->sync_done = std::move(done);
  m->sync_version = version;
  heartbeat_member(*g, *m);
  if (g->leader != req.member_id) return;
  // The leader's assignment completes the generation: persist it, then hand it out.
  std::map<std::string, SharedBytes> assignments;
  for (const auto& a : req.assignments)
    if (g->has_member(a.member_id)) assignments[a.member_id] = a.assignment;
  auto value = group_value(*g, &assignments);
  int32_t generation = g->generation;
  bool queued = store_group(*g, std::move(value),
                            [this, gid = g->id, generation, assignments = std::move(assignments)](int16_t error) {
                              Group* g2 = find_group(gid);
                              if (!g2 || g2->state != GroupState::completing_rebalance || g2->generation != generation)
                                return;  // the group moved on; its members were answered then
                              if (error) {
                                reset_and_propagate_assignment_error(*g2, error);
                                return maybe_prepare_rebalance(*g2);
                              }
                              for (auto& [id, mem] : g2->members) {
                                auto it = assignments.find(id);
                                mem->assignment = it == assignments.end() ? SharedBytes() : it->second;
                              }
                              propagate_assignment(*g2);
                              transition(*g2, GroupState::stable);
                            });
  if (!queued) {
    reset_and_propagate_assignment_error(*g, kCoordinatorNotAvailable);
    maybe_prepare_rebalance(*g);
  }
}

void GroupCoordinator::Impl::reset_and_propagate_assignment_error(Group& g, int16_t error) {
  for (auto& [_, m] : g.members) {
    m->assignment = SharedBytes();
    if (m->sync_done) std::exchange(m->sync_done, nullptr)(sync_error(error));
  }
}

void GroupCoordinator::Impl::propagate_assignment(Group& g) {
  for (auto& [_, m] : g.members) {
    if (!m->sync_done) continue;
    protocol::SyncGroupResponse r;
    r.protocol_type = g.protocol_type;
    r.protocol_name = g.protocol;
    r.assignment = m->assignment;
    std::exchange(m->sync_done, nullptr)(std::move(r));
    heartbeat_member(g, *m);
  }
}

// --- Heartbeat ---

void GroupCoordinator::Impl::heartbeat(const protocol::HeartbeatRequest& req, int16_t version,
                                       std::function<void(protocol::HeartbeatResponse)> done) {
  if (int16_t e = availability_error()) return done(heartbeat_error(e));
  if (req.group_id.empty()) return done(heartbeat_error(kInvalidGroupId));
  Group* g = find_group(req.group_id);
  if (!g) return done(heartbeat_error(kUnknownMemberId));
  if (g->state == GroupState::dead) return done(heartbeat_error(kCoordinatorNotAvailable));
  std::optional<std::string> instance = version >= 3 ? req.group_instance_id : std::nullopt;
  if (g->static_member_fenced(instance, req.member_id)) return done(heartbeat_error(kFencedInstanceId));
  Member* m = g->member(req.member_id);
  if (!m || g->state == GroupState::empty) return done(heartbeat_error(kUnknownMemberId));
  if (req.generation_id != g->generation) return done(heartbeat_error(kIllegalGeneration));
  heartbeat_member(*g, *m);
  done(heartbeat_error(g->state == GroupState::preparing_rebalance ? kRebalanceInProgress : kNone));
}

// --- LeaveGroup ---

int16_t GroupCoordinator::Impl::leave_one(Group& g, const protocol::LeaveGroupRequest::MemberIdentity& who) {
  if (g.state == GroupState::dead) return kCoordinatorNotAvailable;
  std::string id = who.member_id;
  if (who.group_instance_id) {
    auto sit = g.static_members.find(*who.group_instance_id);
    if (sit == g.static_members.end()) return kUnknownMemberId;
    if (!id.empty() && sit->second != id) return kFencedInstanceId;
    id = sit->second;
  }
  if (g.pending.erase(id)) {
    --members_total_;
    if (g.state == GroupState::preparing_rebalance) try_complete_join(g);
    return kNone;
  }
  if (!g.has_member(id)) return kUnknownMemberId;
  log::info("group", "member " + id + " left group " + g.id);
  remove_member_and_update_group(g, id);
  return kNone;
}

void GroupCoordinator::Impl::leave(const protocol::LeaveGroupRequest& req, int16_t version,
                                   std::function<void(protocol::LeaveGroupResponse)> done) {
  if (int16_t e = availability_error()) return done(leave_error(req, version, e));
  if (req.group_id.empty()) return done(leave_error(req, version, kInvalidGroupId));
  std::vector<protocol::LeaveGroupRequest::MemberIdentity> who;
  if (version >= 3) {
    who = req.members;
  } else {
    who.emplace_back().member_id = req.member_id;
  }
  protocol::LeaveGroupResponse r;
  Group* g = find_group(req.group_id);
  for (const auto& w : who) {
    auto& mr = r.members.emplace_back();
    mr.member_id = w.member_id;
    mr.group_instance_id = w.group_instance_id;
    mr.error_code = g ? leave_one(*g, w) : kUnknownMemberId;
  }
  if (version < 3) {  // one member, its error is the request's
    r.error_code = r.members.front().error_code;
    r.members.clear();
  }
  if (g) maybe_forget_group(req.group_id);
  done(std::move(r));
}

std::optional<std::set<std::string>> GroupCoordinator::Impl::subscribed_topics(const Group& g) const {
  if (g.protocol_type != "consumer" || !g.protocol) return std::nullopt;
  std::set<std::string> topics;
  for (const auto& [_, m] : g.members) {
    const SharedBytes* md = m->metadata_for(*g.protocol);
    if (!md) return std::nullopt;
    ByteReader r(md->span());
    auto v = r.read_i16();
    if (!v || *v < 0) return std::nullopt;
    protocol::ConsumerProtocolSubscription sub;
    int16_t version = std::min<int16_t>(*v, protocol::ConsumerProtocolSubscription::kHighestVersion);
    if (!sub.decode(r, version).ok()) return std::nullopt;
    topics.insert(sub.topics.begin(), sub.topics.end());
  }
  return topics;
}

}  // namespace floe::broker
