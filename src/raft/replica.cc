#include "raft/replica.h"

#include <algorithm>

#include "protocol/generated/leader_change_message.h"

namespace floe::raft {

const char* role_name(Role role) {
  switch (role) {
    case Role::unattached: return "unattached";
    case Role::prospective: return "prospective";
    case Role::candidate: return "candidate";
    case Role::leader: return "leader";
    case Role::follower: return "follower";
    case Role::resigned: return "resigned";
  }
  return "?";
}

RaftReplica::RaftReplica(RaftConfig config, RaftIo& io, RaftLog& log, QuorumStateStore& store,
                         int64_t now_ms, SnapshotStore* snapshots)
    : config_(std::move(config)), io_(io), log_(log), store_(store), snapshots_(snapshots), now_ms_(now_ms) {
  // A held fetch must come back well within the time that makes a follower stand for election.
  FLOE_ASSERT_MSG(config_.fetch_max_wait_ms >= 0 && config_.fetch_max_wait_ms < config_.fetch_timeout_ms / 2,
                  "fetch_max_wait_ms must be below half of fetch_timeout_ms");
  // Everything below the log start is in a snapshot of committed state.
  high_watermark_ = log_.start_offset();
  is_voter_ = std::find(config_.voters.begin(), config_.voters.end(), config_.node_id) !=
              config_.voters.end();
  if (auto state = store_.load()) {
    persisted_ = *state;
    epoch_ = state->epoch;
    leader_id_ = state->leader_id;
    voted_for_ = state->voted_for;
  }
  reset_election_timer();
  if (leader_id_ == config_.node_id) {
    // A restarted leader lost its in-memory leader state; it must never lead this epoch again.
    role_ = Role::resigned;
  } else if (leader_id_ != kNoNode) {
    role_ = Role::follower;
    last_leader_contact_ms_ = now_ms_;
    next_fetch_ms_ = now_ms_;
  } else {
    role_ = Role::unattached;
  }
}

int64_t RaftReplica::random_below(int64_t bound) {
  FLOE_ASSERT(bound > 0);
  return static_cast<int64_t>(io_.random_u64() % static_cast<uint64_t>(bound));
}

void RaftReplica::reset_election_timer(int64_t extra_ms) {
  election_deadline_ms_ =
      now_ms_ + extra_ms + config_.election_timeout_ms + random_below(config_.election_timeout_ms);
}

Epoch RaftReplica::last_epoch() const {
  Offset end = log_.end_offset();
  return end == log_.start_offset() ? log_.start_epoch() : log_.entry(end - 1).epoch;
}

DivergingEpoch RaftReplica::end_offset_for_epoch(Epoch epoch) const {
  Offset start = log_.start_offset();
  Offset end = log_.end_offset();
  while (end > start && log_.entry(end - 1).epoch > epoch) --end;
  if (end > start) return {log_.entry(end - 1).epoch, end};
  // Only the snapshot is left: its id is the last (offset, epoch) we know. An epoch older than
  // the snapshot's is answered with the snapshot id too (the caller never truncates below it).
  if (start == 0) return {0, 0};
  return {log_.start_epoch(), start};
}

bool RaftReplica::log_at_least_as_up_to_date(Epoch last_epoch_other, Offset end_other) const {
  Epoch mine = last_epoch();
  if (last_epoch_other != mine) return last_epoch_other > mine;
  return end_other >= log_.end_offset();
}

bool RaftReplica::leader_recently_heard() const {
  if (role_ == Role::leader) return true;
  return role_ == Role::follower && now_ms_ - last_leader_heard_ms_ < config_.fetch_timeout_ms;
}

void RaftReplica::persist() {
  QuorumState state{epoch_, leader_id_, voted_for_};
  if (state == persisted_) return;
  auto status = store_.save(state);
  // Without a durable vote we cannot safely take part; crash loudly (the owner restarts us).
  FLOE_ASSERT_MSG(status.ok(), "quorum-state save failed");
  persisted_ = state;
}

// --- transitions ---

void RaftReplica::observe_epoch(Epoch epoch, NodeId leader_id) {
  FLOE_ASSERT(epoch > epoch_);
  if (leader_id != kNoNode && leader_id != config_.node_id) {
    become_follower(epoch, leader_id);
  } else {
    become_unattached(epoch);
  }
}

void RaftReplica::become_unattached(Epoch epoch) {
  FLOE_ASSERT(epoch >= epoch_);
  if (epoch > epoch_) {
    voted_for_ = kNoNode;
    leader_id_ = kNoNode;
  }
  epoch_ = epoch;
  role_ = Role::unattached;
  persist();
  outstanding_fetch_ = 0;
  drop_download();
  next_fetch_ms_ = now_ms_;
  reset_election_timer();
}

void RaftReplica::become_follower(Epoch epoch, NodeId leader_id) {
  FLOE_ASSERT(epoch >= epoch_ && leader_id != config_.node_id);
  if (epoch > epoch_) voted_for_ = kNoNode;
  FLOE_ASSERT_MSG(epoch > epoch_ || leader_id_ == kNoNode || leader_id_ == leader_id,
                  "two leaders in one epoch");
  epoch_ = epoch;
  leader_id_ = leader_id;
  role_ = Role::follower;
  persist();
  last_leader_contact_ms_ = now_ms_;
  outstanding_fetch_ = 0;
  drop_download();
  next_fetch_ms_ = now_ms_;
}

void RaftReplica::become_prospective() {
  FLOE_ASSERT(is_voter_);
  role_ = Role::prospective;
  drop_download();
  granted_ = {config_.node_id};
  reset_election_timer();
  if (granted_.size() >= majority()) {
    become_candidate();
    return;
  }
  VoteRequest request{epoch_ + 1, config_.node_id, last_epoch(), log_.end_offset(), true};
  for (NodeId voter : config_.voters) {
    if (voter != config_.node_id) io_.send(voter, request);
  }
}

void RaftReplica::become_candidate() {
  FLOE_ASSERT(is_voter_);
  epoch_ += 1;
  voted_for_ = config_.node_id;
  leader_id_ = kNoNode;
  role_ = Role::candidate;
  persist();  // our own vote is durable before anyone is asked
  granted_ = {config_.node_id};
  reset_election_timer();
  if (granted_.size() >= majority()) {
    become_leader();
    return;
  }
  VoteRequest request{epoch_, config_.node_id, last_epoch(), log_.end_offset(), false};
  for (NodeId voter : config_.voters) {
    if (voter != config_.node_id) io_.send(voter, request);
  }
}

void RaftReplica::become_leader() {
  FLOE_ASSERT(role_ == Role::candidate);
  role_ = Role::leader;
  leader_id_ = config_.node_id;
  persist();
  epoch_start_offset_ = log_.end_offset();
  log_.append(LogEntry{epoch_, true, leader_change_message(config_.node_id, config_.voters, granted_)});
  durable_end_offset_ = 0;
  matched_offset_.clear();
  last_fetch_ms_.clear();
  observers_.clear();
  drop_download();
  leader_since_ms_ = now_ms_;
  for (NodeId voter : config_.voters) last_fetch_ms_[voter] = now_ms_;
  leader_flush();
  next_begin_quorum_ms_ = now_ms_ + config_.request_timeout_ms;
  for (NodeId voter : config_.voters) {
    if (voter != config_.node_id) io_.send(voter, BeginQuorumEpochRequest{epoch_, config_.node_id});
  }
}

void RaftReplica::become_resigned() {
  FLOE_ASSERT(role_ == Role::leader);
  role_ = Role::resigned;
  parked_fetches_.clear();  // the fetchers resend to whoever leads next
  reset_election_timer();
  EndQuorumEpochRequest request{epoch_, config_.node_id, {}};
  // Most caught-up voters first: they are the ones that can win the next election.
  std::vector<std::pair<Offset, NodeId>> ranked;
  for (NodeId voter : config_.voters) {
    if (voter == config_.node_id) continue;
    auto it = matched_offset_.find(voter);
    ranked.emplace_back(it == matched_offset_.end() ? 0 : it->second, voter);
  }
  std::sort(ranked.begin(), ranked.end(), std::greater<>());
  for (auto& [offset, voter] : ranked) request.preferred_successors.push_back(voter);
  for (NodeId voter : request.preferred_successors) io_.send(voter, request);
}

// --- time ---

void RaftReplica::tick(int64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  switch (role_) {
    case Role::leader:
      leader_tick();
      answer_parked_fetches();  // the flush may have moved the high watermark; waits may be over
      return;
    case Role::follower:
      if (now_ms_ - last_leader_contact_ms_ >= config_.fetch_timeout_ms) {
        if (is_voter_) {
          become_prospective();
        } else {
          leader_id_ = kNoNode;  // observers hold no vote: forget the leader and rediscover it
          become_unattached(epoch_);
        }
        return;
      }
      if (now_ms_ >= next_fetch_ms_) {
        if (download_) {
          send_fetch_snapshot();
        } else {
          send_fetch();
        }
      }
      return;
    case Role::unattached:
      if (is_voter_) {
        if (now_ms_ >= election_deadline_ms_) become_prospective();
      } else if (now_ms_ >= next_fetch_ms_) {
        send_fetch();  // observer: discover the leader by asking a random voter
      }
      return;
    case Role::prospective:
    case Role::candidate:
    case Role::resigned:
      if (now_ms_ >= election_deadline_ms_) become_prospective();
      return;
  }
}

void RaftReplica::leader_tick() {
  leader_flush();
  size_t heard = 0;
  for (NodeId voter : config_.voters) {
    if (voter == config_.node_id || now_ms_ - last_fetch_ms_[voter] < config_.fetch_timeout_ms) {
      ++heard;
    }
  }
  if (heard < majority()) {
    become_resigned();  // check-quorum: we may be on the wrong side of a partition
    return;
  }
  std::erase_if(observers_, [&](const auto& o) { return now_ms_ - o.second.last_fetch_ms >= config_.observer_forget_ms; });
  if (now_ms_ >= next_begin_quorum_ms_) {
    next_begin_quorum_ms_ = now_ms_ + config_.request_timeout_ms;
    for (NodeId voter : config_.voters) {
      if (voter != config_.node_id && !matched_offset_.count(voter)) {
        io_.send(voter, BeginQuorumEpochRequest{epoch_, config_.node_id});
      }
    }
  }
}

void RaftReplica::leader_flush() {
  if (durable_end_offset_ == log_.end_offset()) return;
  auto status = log_.sync();
  FLOE_ASSERT_MSG(status.ok(), "metadata log sync failed");
  durable_end_offset_ = log_.end_offset();
  update_high_watermark();
}

void RaftReplica::update_high_watermark() {
  std::vector<Offset> acked;
  for (NodeId voter : config_.voters) {
    if (voter == config_.node_id) {
      acked.push_back(durable_end_offset_);
    } else {
      auto it = matched_offset_.find(voter);
      acked.push_back(it == matched_offset_.end() ? 0 : it->second);
    }
  }
  std::sort(acked.begin(), acked.end(), std::greater<>());
  Offset candidate = acked[majority() - 1];
  // KRaft: nothing is known committed until this epoch's LeaderChange entry is.
  if (candidate > epoch_start_offset_ && candidate > high_watermark_) high_watermark_ = candidate;
  FLOE_ASSERT(high_watermark_ <= log_.end_offset());
}

Result<Offset> RaftReplica::propose(std::string data, int64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  if (role_ != Role::leader) return Error(Errc::invalid_value, "not the leader");
  if (log_.end_offset() - high_watermark_ >= config_.max_uncommitted_entries) {
    return Error(Errc::too_large, "too many uncommitted entries");
  }
  log_.append(LogEntry{epoch_, false, std::move(data)});
  answer_parked_fetches();  // followers start fetching it while the leader flushes
  return log_.end_offset() - 1;
}

void RaftReplica::resign(int64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  if (role_ == Role::leader) become_resigned();
}

// --- messages ---

void RaftReplica::handle(NodeId from, const RaftMessage& message, int64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  handle_message(from, message);
  // A fetch may have moved the high watermark (tell the held fetchers), or we left leadership.
  if (role_ == Role::leader || !parked_fetches_.empty()) answer_parked_fetches();
}

void RaftReplica::handle_message(NodeId from, const RaftMessage& message) {
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, VoteRequest>) {
          on_vote_request(from, m);
        } else if constexpr (std::is_same_v<T, VoteResponse>) {
          on_vote_response(from, m);
        } else if constexpr (std::is_same_v<T, BeginQuorumEpochRequest>) {
          on_begin_quorum_epoch(from, m);
        } else if constexpr (std::is_same_v<T, EndQuorumEpochRequest>) {
          on_end_quorum_epoch(m);
        } else if constexpr (std::is_same_v<T, FetchRequest>) {
          on_fetch_request(from, m);
        } else if constexpr (std::is_same_v<T, FetchResponse>) {
          on_fetch_response(from, m);
        } else if constexpr (std::is_same_v<T, FetchSnapshotRequest>) {
          on_fetch_snapshot_request(from, m);
        } else if constexpr (std::is_same_v<T, FetchSnapshotResponse>) {
          on_fetch_snapshot_response(from, m);
        } else {
          // BeginQuorumEpoch/EndQuorumEpoch responses carry nothing the leader acts on yet.
          if (m.leader_epoch > epoch_) observe_epoch(m.leader_epoch, m.leader_id);
        }
      },
      message);
}

void RaftReplica::on_vote_request(NodeId from, const VoteRequest& request) {
  VoteResponse response{epoch_, known_leader(), false, request.pre_vote, request.candidate_epoch};
  bool known_voter = std::find(config_.voters.begin(), config_.voters.end(), from) !=
                     config_.voters.end();
  if (!is_voter_ || !known_voter || from != request.candidate_id) {
    io_.send(from, response);
    return;
  }
  bool log_ok = log_at_least_as_up_to_date(request.last_offset_epoch, request.last_offset);
  if (request.pre_vote) {
    // KIP-996: a pre-vote changes nothing here; we only say whether a real election could
    // succeed. The one exception: the sender's CURRENT epoch (candidate_epoch - 1) is real (it
    // only ever bumps after winning pre-votes), and a voter stuck above the quorum's epoch would
    // otherwise never hear of the leader again; so a newer current epoch is observed as usual.
    if (request.candidate_epoch - 1 > epoch_) become_unattached(request.candidate_epoch - 1);
    response.leader_epoch = epoch_;
    response.leader_id = known_leader();
    response.vote_granted =
        request.candidate_epoch > epoch_ && !leader_recently_heard() && log_ok;
    io_.send(from, response);
    return;
  }
  if (request.candidate_epoch < epoch_) {
    io_.send(from, response);
    return;
  }
  if (request.candidate_epoch > epoch_) become_unattached(request.candidate_epoch);
  bool free_to_vote = leader_id_ == kNoNode && role_ != Role::leader &&
                      (voted_for_ == kNoNode || voted_for_ == request.candidate_id);
  if (free_to_vote && log_ok) {
    voted_for_ = request.candidate_id;
    persist();  // the vote is durable before it is sent
    reset_election_timer();
    response.vote_granted = true;
  }
  response.leader_epoch = epoch_;
  response.leader_id = known_leader();
  io_.send(from, response);
}

bool RaftReplica::maybe_learn_leader(NodeId leader_id) {
  // KIP-996: a prospective (or unattached/candidate) replica that hears of a live leader in its
  // own epoch follows it; the election it was running or waiting for is over.
  bool electing = role_ == Role::unattached || role_ == Role::prospective || role_ == Role::candidate;
  if (!electing || leader_id == kNoNode || leader_id == config_.node_id) return false;
  if (leader_id_ != kNoNode && leader_id_ != leader_id) return false;
  become_follower(epoch_, leader_id);
  return true;
}

NodeId RaftReplica::known_leader() const {
  // Only a live relationship is news worth spreading: a prospective or resigned replica may still
  // remember the leader of its epoch, but that leader is presumed gone.
  if (role_ == Role::leader) return leader_id_;
  bool heard = now_ms_ - last_leader_heard_ms_ < config_.fetch_timeout_ms;
  return role_ == Role::follower && heard ? leader_id_ : kNoNode;
}

void RaftReplica::on_vote_response(NodeId from, const VoteResponse& response) {
  if (response.leader_epoch > epoch_) {
    observe_epoch(response.leader_epoch, response.leader_id);
    return;
  }
  if (response.leader_epoch == epoch_ && maybe_learn_leader(response.leader_id)) return;
  if (!response.vote_granted) return;
  if (response.pre_vote && role_ == Role::prospective && response.candidate_epoch == epoch_ + 1) {
    granted_.insert(from);
    if (granted_.size() >= majority()) become_candidate();
  } else if (!response.pre_vote && role_ == Role::candidate &&
             response.candidate_epoch == epoch_) {
    granted_.insert(from);
    if (granted_.size() >= majority()) become_leader();
  }
}

void RaftReplica::on_begin_quorum_epoch(NodeId from, const BeginQuorumEpochRequest& request) {
  io_.send(from, BeginQuorumEpochResponse{epoch_, known_leader()});
  if (request.leader_id != from || request.leader_id == config_.node_id) return;
  if (request.leader_epoch > epoch_) {
    become_follower(request.leader_epoch, request.leader_id);
  } else if (request.leader_epoch == epoch_ && role_ != Role::leader &&
             (leader_id_ == kNoNode || leader_id_ == request.leader_id)) {
    if (role_ != Role::follower) {
      become_follower(epoch_, request.leader_id);
    } else {
      last_leader_contact_ms_ = now_ms_;
    }
  } else {
    return;
  }
  last_leader_heard_ms_ = now_ms_;
}

void RaftReplica::on_end_quorum_epoch(const EndQuorumEpochRequest& request) {
  if (request.leader_epoch > epoch_) {
    become_unattached(request.leader_epoch);
  }
  if (request.leader_epoch != epoch_ || leader_id_ != request.leader_id || !is_voter_) return;
  if (role_ != Role::follower && role_ != Role::unattached) return;
  // The leader is gone: stop treating it as alive (so we grant pre-votes) and stand for election
  // after a backoff that favours the most caught-up successors.
  auto& successors = request.preferred_successors;
  auto rank = std::find(successors.begin(), successors.end(), config_.node_id) - successors.begin();
  role_ = Role::unattached;
  last_leader_contact_ms_ = INT64_MIN / 2;
  last_leader_heard_ms_ = INT64_MIN / 2;
  outstanding_fetch_ = 0;
  election_deadline_ms_ = now_ms_ + static_cast<int64_t>(rank) * config_.end_quorum_backoff_ms +
                          random_below(config_.end_quorum_backoff_ms);
}

void RaftReplica::on_fetch_request(NodeId from, const FetchRequest& request) {
  if (request.current_leader_epoch > epoch_) observe_epoch(request.current_leader_epoch, kNoNode);
  if (role_ == Role::leader) {
    FetchResponse answer = leader_fetch_answer(from, request, now_ms_);
    // Long poll, for as long as both sides allow (a fetcher asking for 0 gets an answer at once).
    const int64_t wait_ms = request.max_wait_ms < 0 ? config_.fetch_max_wait_ms
                                                    : std::min<int64_t>(request.max_wait_ms, config_.fetch_max_wait_ms);
    const bool nothing_new = answer.error == RaftError::none && !answer.diverging && !answer.snapshot_id &&
                             answer.records.empty() && wait_ms > 0;
    if (nothing_new) {
      // Hold it (replacing an older one from the same fetcher, which gave up on it).
      parked_fetches_[from] = ParkedFetch{request, answer.high_watermark, now_ms_, now_ms_ + wait_ms};
      return;
    }
    parked_fetches_.erase(from);
    io_.send(from, answer);
    return;
  }
  FetchResponse response;
  response.request_id = request.request_id;
  response.error = RaftError::not_leader_or_follower;
  response.leader_epoch = epoch_;
  response.leader_id = known_leader();
  response.fetch_offset = request.fetch_offset;
  response.last_fetched_epoch = request.last_fetched_epoch;
  io_.send(from, response);
}

FetchResponse RaftReplica::leader_fetch_answer(NodeId from, const FetchRequest& request, int64_t fetch_ms) {
  FetchResponse response;
  response.request_id = request.request_id;
  response.leader_epoch = epoch_;
  response.leader_id = config_.node_id;
  response.fetch_offset = request.fetch_offset;
  response.last_fetched_epoch = request.last_fetched_epoch;
  if (request.current_leader_epoch < epoch_) {
    response.error = RaftError::fenced_leader_epoch;
    return response;
  }
  response.high_watermark = high_watermark_;
  response.log_start_offset = log_.start_offset();
  bool voter = std::find(config_.voters.begin(), config_.voters.end(), from) !=
               config_.voters.end();
  // KIP-630 (as Kafka's validateOffsetAndEpoch): below our log start, at it with another epoch,
  // or with an epoch older than our snapshot's, only the snapshot can bring the fetcher on.
  const Offset start = log_.start_offset();
  if (start > 0 && snapshots_ &&
      (request.fetch_offset < start ||
       (request.fetch_offset == start && request.last_fetched_epoch != log_.start_epoch()) ||
       request.last_fetched_epoch < log_.start_epoch())) {
    auto latest = snapshots_->latest();
    FLOE_ASSERT_MSG(latest && latest->end_offset >= start, "log starts above 0 without a snapshot");
    response.snapshot_id = *latest;
    if (voter) {
      last_fetch_ms_[from] = fetch_ms;
    } else {
      note_observer(from, -1);
    }
    return response;
  }
  DivergingEpoch mine = end_offset_for_epoch(request.last_fetched_epoch);
  if (request.fetch_offset < 0 || mine.epoch != request.last_fetched_epoch ||
      mine.end_offset < request.fetch_offset) {
    response.diverging = mine;
    return response;
  }
  // The follower's log equals ours up to fetch_offset, durably (it syncs before fetching).
  if (!voter) note_observer(from, request.fetch_offset);
  if (voter) {
    Offset& matched = matched_offset_[from];
    matched = std::max(matched, request.fetch_offset);
    last_fetch_ms_[from] = fetch_ms;
    update_high_watermark();
    response.high_watermark = high_watermark_;
  }
  Offset end = std::min<Offset>(log_.end_offset(),
                                request.fetch_offset + static_cast<Offset>(config_.max_fetch_entries));
  for (Offset offset = request.fetch_offset; offset < end; ++offset) {
    response.records.push_back(log_.entry(offset));
  }
  return response;
}

void RaftReplica::answer_parked_fetches() {
  if (role_ != Role::leader) {
    parked_fetches_.clear();
    return;
  }
  for (auto it = parked_fetches_.begin(); it != parked_fetches_.end();) {
    const ParkedFetch& parked = it->second;
    if (log_.end_offset() > parked.request.fetch_offset || high_watermark_ > parked.high_watermark ||
        now_ms_ >= parked.deadline_ms) {
      io_.send(it->first, leader_fetch_answer(it->first, parked.request, parked.arrived_ms));
      it = parked_fetches_.erase(it);
    } else {
      ++it;
    }
  }
}

void RaftReplica::send_fetch() {
  NodeId target = leader_id_;
  if (role_ != Role::follower) {
    // Observer discovery: ask any voter; it answers with the leader it knows.
    target = config_.voters[static_cast<size_t>(random_below(static_cast<int64_t>(config_.voters.size())))];
    if (target == config_.node_id) return;
  }
  FetchRequest request{++fetch_seq_, config_.node_id, epoch_, log_.end_offset(), last_epoch(),
                       static_cast<int32_t>(config_.fetch_max_wait_ms)};
  outstanding_fetch_ = request.request_id;
  fetch_sent_ms_ = now_ms_;
  fetch_target_ = target;
  // The leader may hold it up to fetch_max_wait_ms (long poll) before the round trip starts.
  next_fetch_ms_ = now_ms_ + config_.request_timeout_ms + config_.fetch_max_wait_ms;
  io_.send(target, request);
}

void RaftReplica::on_fetch_response(NodeId from, const FetchResponse& response) {
  if (response.leader_epoch > epoch_) {
    observe_epoch(response.leader_epoch, response.leader_id);
    return;
  }
  if (response.leader_epoch == epoch_ && maybe_learn_leader(response.leader_id)) return;
  if (!fetch_answer_is_current(from, response.leader_epoch, response.leader_id, response.request_id) ||
      response.error != RaftError::none || download_) {
    return;  // stale, duplicated or not for us
  }
  if (response.fetch_offset != log_.end_offset() || response.last_fetched_epoch != last_epoch()) {
    return;
  }
  outstanding_fetch_ = 0;
  last_leader_contact_ms_ = now_ms_;
  last_leader_heard_ms_ = now_ms_;
  if (response.snapshot_id) {
    // Everything below the snapshot's end is committed, so it can never be below what we know
    // committed; a leader saying otherwise is ignored (we fetch again).
    if (!snapshots_ || response.snapshot_id->end_offset < high_watermark_ ||
        response.snapshot_id->end_offset <= 0 || response.snapshot_id->epoch <= 0 ||
        response.snapshot_id->epoch > epoch_) {
      next_fetch_ms_ = now_ms_ + config_.fetch_backoff_ms;
      return;
    }
    start_download(*response.snapshot_id);
    return;
  }
  if (response.diverging) {
    DivergingEpoch local = end_offset_for_epoch(response.diverging->epoch);
    // Never below our log start: what the snapshot holds is committed.
    Offset truncate_to = std::max(log_.start_offset(), std::min(response.diverging->end_offset, local.end_offset));
    FLOE_ASSERT_MSG(truncate_to >= high_watermark_, "would truncate a committed entry");
    log_.truncate_to(truncate_to);
    next_fetch_ms_ = now_ms_;
    return;
  }
  for (const LogEntry& entry : response.records) log_.append(entry);
  if (!response.records.empty()) {
    auto status = log_.sync();  // our next fetch offset is an ack: it must be durable
    FLOE_ASSERT_MSG(status.ok(), "metadata log sync failed");
  }
  Offset hw = std::min(response.high_watermark, log_.end_offset());
  const bool progress = !response.records.empty() || hw > high_watermark_;
  if (hw > high_watermark_) high_watermark_ = hw;
  // After records or news of the high watermark, or an empty answer the leader held for the wait
  // we asked for (long poll), fetch again at once; an empty answer that came back much sooner (a
  // leader that does not hold fetches) waits fetch_backoff_ms, so we never spin.
  const bool held = now_ms_ - fetch_sent_ms_ >= config_.fetch_max_wait_ms / 2;
  next_fetch_ms_ = progress || held ? now_ms_ : now_ms_ + config_.fetch_backoff_ms;
}

// --- snapshots (KIP-630) and observers ---

void RaftReplica::drop_download() {
  if (download_ && snapshots_) snapshots_->abort_download();  // its partial file goes too
  download_.reset();
}

bool RaftReplica::fetch_answer_is_current(NodeId from, Epoch leader_epoch, NodeId leader_id, uint64_t request_id) {
  return role_ == Role::follower && from == leader_id_ && leader_id == leader_id_ && leader_epoch == epoch_ &&
         request_id == outstanding_fetch_ && request_id != 0 && from == fetch_target_;
}

void RaftReplica::note_observer(NodeId from, Offset fetch_offset) {
  auto it = observers_.find(from);
  if (it == observers_.end()) {
    if (observers_.size() >= config_.max_observers) {
      auto stalest = std::min_element(observers_.begin(), observers_.end(), [](const auto& a, const auto& b) {
        return a.second.last_fetch_ms < b.second.last_fetch_ms;
      });
      observers_.erase(stalest);
    }
    it = observers_.emplace(from, ObserverState{}).first;
  }
  ObserverState& o = it->second;
  o.last_fetch_ms = now_ms_;
  if (fetch_offset >= 0) {
    o.log_end_offset = fetch_offset;
    if (fetch_offset >= high_watermark_) o.last_caught_up_ms = now_ms_;
  }
}

void RaftReplica::start_download(SnapshotId id) {
  auto begun = snapshots_->begin_download(id);
  if (!begun.ok()) {
    next_fetch_ms_ = now_ms_ + config_.fetch_backoff_ms;
    return;
  }
  download_ = Download{id, 0, -1};
  send_fetch_snapshot();
}

void RaftReplica::send_fetch_snapshot() {
  FLOE_ASSERT(download_ && role_ == Role::follower);
  FetchSnapshotRequest request{++fetch_seq_, config_.node_id, epoch_, download_->id, download_->position,
                               config_.max_snapshot_chunk_bytes};
  outstanding_fetch_ = request.request_id;
  fetch_target_ = leader_id_;
  next_fetch_ms_ = now_ms_ + config_.request_timeout_ms;
  io_.send(leader_id_, request);
}

void RaftReplica::on_fetch_snapshot_request(NodeId from, const FetchSnapshotRequest& request) {
  if (request.current_leader_epoch > epoch_) observe_epoch(request.current_leader_epoch, kNoNode);
  FetchSnapshotResponse response;
  response.request_id = request.request_id;
  response.leader_epoch = epoch_;
  response.leader_id = known_leader();
  response.snapshot_id = request.snapshot_id;
  response.position = request.position;
  if (role_ != Role::leader) {
    response.error = RaftError::not_leader_or_follower;
  } else if (request.current_leader_epoch < epoch_) {
    response.error = RaftError::fenced_leader_epoch;
  } else {
    auto size = snapshots_ ? snapshots_->size_bytes(request.snapshot_id) : Result<int64_t>(Error(Errc::not_found, ""));
    if (!size.ok()) {
      response.error = RaftError::snapshot_not_found;
    } else if (request.position < 0 || request.position > *size) {
      response.error = RaftError::position_out_of_range;
    } else {
      int32_t max_bytes = request.max_bytes > 0 ? std::min(request.max_bytes, config_.max_snapshot_chunk_bytes)
                                                : config_.max_snapshot_chunk_bytes;
      auto bytes = snapshots_->read(request.snapshot_id, request.position, max_bytes);
      if (!bytes.ok()) {
        response.error = RaftError::snapshot_not_found;
      } else {
        response.size_bytes = *size;
        response.bytes = std::move(*bytes);
        bool voter = std::find(config_.voters.begin(), config_.voters.end(), from) != config_.voters.end();
        if (voter) {
          last_fetch_ms_[from] = now_ms_;  // a voter downloading our snapshot is alive and following
        } else {
          note_observer(from, -1);
        }
      }
    }
  }
  io_.send(from, std::move(response));
}

void RaftReplica::on_fetch_snapshot_response(NodeId from, const FetchSnapshotResponse& response) {
  if (response.leader_epoch > epoch_) {
    observe_epoch(response.leader_epoch, response.leader_id);
    return;
  }
  if (response.leader_epoch == epoch_ && maybe_learn_leader(response.leader_id)) return;
  if (!download_ || !fetch_answer_is_current(from, response.leader_epoch, response.leader_id, response.request_id) ||
      response.snapshot_id != download_->id || response.position != download_->position) {
    return;  // stale, duplicated or not for us
  }
  outstanding_fetch_ = 0;
  last_leader_contact_ms_ = now_ms_;
  last_leader_heard_ms_ = now_ms_;
  auto abandon = [&] {  // back to Fetch: the leader tells us which snapshot to get now
    drop_download();
    next_fetch_ms_ = now_ms_ + config_.fetch_backoff_ms;
  };
  if (response.error != RaftError::none) return abandon();
  const auto chunk = static_cast<int64_t>(response.bytes.size());
  if ((download_->size_bytes >= 0 && response.size_bytes != download_->size_bytes) ||
      response.size_bytes > config_.max_snapshot_bytes ||
      response.position + chunk > response.size_bytes || (chunk == 0 && response.position < response.size_bytes)) {
    return abandon();  // inconsistent with earlier chunks (or no progress): start over
  }
  download_->size_bytes = response.size_bytes;
  if (!snapshots_->write_chunk(download_->id, download_->position, response.bytes).ok()) return abandon();
  download_->position += chunk;
  if (download_->position < download_->size_bytes) {
    send_fetch_snapshot();
    return;
  }
  SnapshotId id = download_->id;
  if (!snapshots_->finish_download(id).ok()) return abandon();
  // The snapshot is durable: the log restarts empty at its end (our old entries are either in
  // it or diverged from the leader's log), and everything in it is committed.
  download_.reset();
  log_.reset_to(id);
  high_watermark_ = std::max(high_watermark_, id.end_offset);
  ++snapshots_installed_;
  next_fetch_ms_ = now_ms_;
}

std::string leader_change_message(NodeId leader, const std::vector<NodeId>& voters, const std::set<NodeId>& granting) {
  protocol::LeaderChangeMessage m;
  m.version = 0;
  m.leader_id = leader;
  for (NodeId v : voters) m.voters.emplace_back().voter_id = v;
  for (NodeId v : granting) m.granting_voters.emplace_back().voter_id = v;
  ByteWriter w(64);
  m.encode(w, 0);
  return std::string(reinterpret_cast<const char*>(w.bytes().data()), w.size());
}

Result<LeaderChange> decode_leader_change(std::string_view data) {
  protocol::LeaderChangeMessage m;
  ByteReader r(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
  FLOE_TRY(m.decode(r, 0));
  if (!r.at_end()) return Error(Errc::invalid_value, "LeaderChangeMessage: trailing bytes");
  LeaderChange out;
  out.leader_id = m.leader_id;
  for (const auto& v : m.voters) out.voters.push_back(v.voter_id);
  for (const auto& v : m.granting_voters) out.granting_voters.push_back(v.voter_id);
  return out;
}

}  // namespace floe::raft
