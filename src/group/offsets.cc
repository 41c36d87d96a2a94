// OffsetCommit, OffsetFetch, OffsetDelete and offset retention (group_coordinator.h).
#include "common/log.h"
#include "group/coordinator_impl.h"

namespace floe::broker {

using namespace kafka_error;
using group_format::OffsetValue;

namespace {

// Which commits a group accepts (Kafka's rules), kNone or the error for every partition.
int16_t commit_group_error(Group* g, int32_t generation, const std::string& member,
                           const std::optional<std::string>& instance) {
  if (!g) return generation < 0 ? kNone : kIllegalGeneration;  // < 0: a simple consumer, no group needed
  if (g->state == GroupState::dead) return kCoordinatorNotAvailable;
  if (g->static_member_fenced(instance, member)) return kFencedInstanceId;
  if (generation < 0 && g->state == GroupState::empty) return kNone;  // offsets-only use of the group
  if (!g->has_member(member)) return kUnknownMemberId;
  if (generation != g->generation) return kIllegalGeneration;
  if (g->state == GroupState::completing_rebalance) return kRebalanceInProgress;
  return kNone;
}

}  // namespace

void GroupCoordinator::Impl::offset_commit(const protocol::OffsetCommitRequest& req, int16_t version,
                                           std::function<void(protocol::OffsetCommitResponse)> done) {
  if (int16_t e = availability_error()) return done(commit_error(req, e));
  if (req.group_id.empty()) return done(commit_error(req, kInvalidGroupId));
  const int32_t generation = version >= 1 ? req.generation_id_or_member_epoch : -1;
  const std::string member = version >= 1 ? req.member_id : std::string();
  const std::optional<std::string> instance = version >= 7 ? req.group_instance_id : std::nullopt;
  Group* g = find_group(req.group_id);
  if (int16_t e = commit_group_error(g, generation, member, instance)) return done(commit_error(req, e));
  if (!g) {
    if (groups_.size() >= options_.groups_max) return done(commit_error(req, kCoordinatorNotAvailable));
    g = &create_group(req.group_id);
  }
  if (Member* m = g->member(member)) heartbeat_member(*g, *m);

  const int64_t now = now_ms();
  protocol::OffsetCommitResponse resp;
  struct Write {
    size_t topic_index;
    size_t partition_index;
    TopicPartition tp;
    OffsetValue value;
  };
  std::vector<Write> writes;
  Bytes bytes;
  size_t new_entries = 0;
  for (const auto& t : req.topics) {
    auto& rt = resp.topics.emplace_back();
    rt.name = t.name;
    for (const auto& p : t.partitions) {
      auto& rp = rt.partitions.emplace_back();
      rp.partition_index = p.partition_index;
      TopicPartition tp{t.name, p.partition_index};
      bool exists = !options_.partition_exists || options_.partition_exists(t.name, p.partition_index);
      bool is_new = !g->offsets.count(tp) && !g->pending_commits.count(tp);
      if (!exists) {
        rp.error_code = kUnknownTopicOrPartition;
      } else if (p.committed_metadata && p.committed_metadata->size() > options_.offset_metadata_max_bytes) {
        rp.error_code = kOffsetMetadataTooLarge;
      } else if (is_new && offsets_total_ + new_entries >= options_.offsets_max) {
        rp.error_code = kCoordinatorNotAvailable;
      } else {
        OffsetValue v;
        v.offset = p.committed_offset;
        v.leader_epoch = version >= 6 ? p.committed_leader_epoch : -1;
        v.commit_timestamp_ms = version == 1 && p.commit_timestamp != -1 ? p.commit_timestamp : now;
        if (version >= 2 && version <= 4 && req.retention_time_ms != -1)
          v.expire_timestamp_ms = v.commit_timestamp_ms + req.retention_time_ms;
        v.metadata = p.committed_metadata;
        group_format::append_record(bytes, group_format::offset_record(g->id, t.name, p.partition_index, v));
        writes.push_back({resp.topics.size() - 1, rt.partitions.size() - 1, tp, std::move(v)});
        if (is_new) ++new_entries;
      }
    }
  }
  if (writes.empty()) {
    done(std::move(resp));
    return maybe_forget_group(req.group_id);
  }
  for (const auto& w : writes) ++g->pending_commits[w.tp];
  uint32_t count = static_cast<uint32_t>(writes.size());
  auto writes_shared = std::make_shared<std::vector<Write>>(std::move(writes));
  auto resp_shared = std::make_shared<protocol::OffsetCommitResponse>(std::move(resp));
  auto finish = [this, gid = g->id, writes_shared, resp_shared, done](Status st) {
    Group* g2 = find_group(gid);
    int16_t error = st.ok() ? kNone : append_error(st);
    for (auto& w : *writes_shared) {
      resp_shared->topics[w.topic_index].partitions[w.partition_index].error_code = error;
      if (!g2) continue;
      auto it = g2->pending_commits.find(w.tp);
      if (it != g2->pending_commits.end() && --it->second == 0) g2->pending_commits.erase(it);
      if (st.ok() && g2->state != GroupState::dead) {
        auto [pos, inserted] = g2->offsets.insert_or_assign(w.tp, w.value);
        (void)pos;
        if (inserted) ++offsets_total_;
      }
    }
    done(std::move(*resp_shared));
    if (g2) maybe_forget_group(gid);
  };
  if (!enqueue(std::move(bytes), count, finish)) finish(Status(Errc::too_large, "group coordinator append queue full"));
}

void GroupCoordinator::Impl::offset_fetch(const protocol::OffsetFetchRequest& req, int16_t version,
                                          std::function<void(protocol::OffsetFetchResponse)> done) {
  if (int16_t e = availability_error()) return done(fetch_error(req, version, e));
  // One group's answer, in either shape (the v8+ multi-group form uses separate struct types).
  auto answer = [this](const std::string& group_id, const auto* topics, auto& out) {
    using TopicOut = typename std::remove_reference_t<decltype(out)>::value_type;
    using PartitionOut = typename decltype(TopicOut::partitions)::value_type;
    Group* g = find_group(group_id);
    auto fill = [](PartitionOut& p, const OffsetValue* v) {
      p.committed_offset = v ? v->offset : -1;
      p.committed_leader_epoch = v ? v->leader_epoch : -1;
      p.metadata = v && v->metadata ? *v->metadata : std::string();
      p.error_code = kNone;
    };
    if (!topics) {  // every committed offset of the group
      if (!g) return;
      for (const auto& [tp, v] : g->offsets) {
        if (out.empty() || out.back().name != tp.first) out.emplace_back().name = tp.first;
        auto& p = out.back().partitions.emplace_back();
        p.partition_index = tp.second;
        fill(p, &v);
      }
      return;
    }
    for (const auto& t : *topics) {
      auto& rt = out.emplace_back();
      rt.name = t.name;
      for (int32_t pi : t.partition_indexes) {
        auto& p = rt.partitions.emplace_back();
        p.partition_index = pi;
        const OffsetValue* v = nullptr;
        if (g) {
          auto it = g->offsets.find({t.name, pi});
          if (it != g->offsets.end()) v = &it->second;
        }
        fill(p, v);
      }
    }
  };
  protocol::OffsetFetchResponse resp;
  if (version >= 8) {
    for (const auto& rg : req.groups) {
      auto& og = resp.groups.emplace_back();
      og.group_id = rg.group_id;
      if (rg.group_id.empty()) {
        og.error_code = kInvalidGroupId;
        continue;
      }
      answer(rg.group_id, rg.topics ? &*rg.topics : nullptr, og.topics);
    }
  } else {
    if (req.group_id.empty()) return done(fetch_error(req, version, kInvalidGroupId));
    // v0-1 cannot ask for "all topics" (null); treat an absent list the same way from v2.
    answer(req.group_id, req.topics ? &*req.topics : nullptr, resp.topics);
  }
  done(std::move(resp));
}

void GroupCoordinator::Impl::offset_delete(const protocol::OffsetDeleteRequest& req, int16_t,
                                           std::function<void(protocol::OffsetDeleteResponse)> done) {
  if (int16_t e = availability_error()) return done(offset_delete_error(e));
  if (req.group_id.empty()) return done(offset_delete_error(kInvalidGroupId));
  Group* g = find_group(req.group_id);
  if (!g || g->state == GroupState::dead) return done(offset_delete_error(kGroupIdNotFound));
  std::optional<std::set<std::string>> subscribed;  // nullopt with members: every topic counts as subscribed
  bool all_subscribed = false;
  if (g->state != GroupState::empty) {
    if (g->protocol_type != "consumer") return done(offset_delete_error(kNonEmptyGroup));
    subscribed = subscribed_topics(*g);
    all_subscribed = !subscribed;
  }
  protocol::OffsetDeleteResponse resp;
  Bytes bytes;
  uint32_t count = 0;
  auto deleted = std::make_shared<std::vector<TopicPartition>>();
  for (const auto& t : req.topics) {
    auto& rt = resp.topics.emplace_back();
    rt.name = t.name;
    bool topic_subscribed = all_subscribed || (subscribed && subscribed->count(t.name));
    for (const auto& p : t.partitions) {
      auto& rp = rt.partitions.emplace_back();
      rp.partition_index = p.partition_index;
      TopicPartition tp{t.name, p.partition_index};
      if (options_.partition_exists && !options_.partition_exists(t.name, p.partition_index)) {
        rp.error_code = kUnknownTopicOrPartition;
      } else if (topic_subscribed) {
        rp.error_code = kGroupSubscribedToTopic;
      } else if (g->offsets.count(tp) || g->pending_commits.count(tp)) {
        group_format::append_record(bytes, group_format::offset_record(g->id, t.name, p.partition_index, std::nullopt));
        ++count;
        deleted->push_back(tp);
      }
    }
  }
  if (count == 0) return done(std::move(resp));
  auto resp_shared = std::make_shared<protocol::OffsetDeleteResponse>(std::move(resp));
  auto finish = [this, gid = g->id, deleted, resp_shared, done](Status st) {
    if (!st.ok()) return done(offset_delete_error(append_error(st)));
    if (Group* g2 = find_group(gid)) {
      for (const auto& tp : *deleted) offsets_total_ -= g2->offsets.erase(tp);
      maybe_forget_group(gid);
    }
    done(std::move(*resp_shared));
  };
  if (!enqueue(std::move(bytes), count, finish)) finish(Status(Errc::too_large, "group coordinator append queue full"));
}

// --- retention (offsets.retention.ms) ---

void GroupCoordinator::Impl::schedule_retention_timer() {
  retention_timer_->expires_after(std::chrono::milliseconds(options_.offsets_retention_check_interval_ms));
  retention_timer_->async_wait([this](const asio::error_code& ec) {
    if (ec || stopping_) return;
    expire_offsets();
    schedule_retention_timer();
  });
}

void GroupCoordinator::Impl::expire_offsets() {
  const int64_t now = now_ms();
  const int64_t retention = options_.offsets_retention_ms;
  Bytes bytes;
  uint32_t count = 0;
  auto expired = std::make_shared<std::vector<std::pair<std::string, TopicPartition>>>();
  auto dead_groups = std::make_shared<std::vector<std::string>>();
  for (auto& [gid, g] : groups_) {
    if (g->state == GroupState::dead || g->pending_stores > 0) continue;
    // Kafka's rules: a group with a protocol keeps its offsets while it has members (Stable
    // consumer groups lose those of topics no member subscribes to); once Empty, offsets go
    // retention after the group became empty. Offsets-only groups age from each commit.
    bool empty_with_protocol = !g->protocol_type.empty() && g->state == GroupState::empty;
    std::optional<std::set<std::string>> subscribed;
    if (!g->protocol_type.empty() && !empty_with_protocol) {
      if (g->protocol_type != "consumer" || g->state != GroupState::stable) continue;
      subscribed = subscribed_topics(*g);
      if (!subscribed) continue;
    }
    size_t group_expired = 0;
    for (const auto& [tp, v] : g->offsets) {
      if (g->pending_commits.count(tp)) continue;
      if (subscribed && subscribed->count(tp.first)) continue;
      bool gone;
      if (v.expire_timestamp_ms != -1) {
        gone = now >= v.expire_timestamp_ms;
      } else {
        int64_t base = empty_with_protocol && g->state_timestamp_ms >= 0 ? g->state_timestamp_ms : v.commit_timestamp_ms;
        gone = now - base >= retention;
      }
      if (!gone) continue;
      group_format::append_record(bytes, group_format::offset_record(gid, tp.first, tp.second, std::nullopt));
      ++count;
      ++group_expired;
      expired->emplace_back(gid, tp);
    }
    bool group_gone = g->state == GroupState::empty && g->members.empty() && g->pending.empty() &&
                      g->pending_commits.empty() && group_expired == g->offsets.size();
    if (group_gone && (g->persisted || !g->offsets.empty())) {
      if (g->persisted) {
        group_format::append_record(bytes, group_format::group_record(gid, std::nullopt));
        ++count;
      }
      dead_groups->push_back(gid);
      transition(*g, GroupState::dead);
    }
  }
  if (count == 0) return;
  log::info("group", "retention: expiring " + std::to_string(expired->size()) + " offsets and " +
                         std::to_string(dead_groups->size()) + " groups");
  auto finish = [this, expired, dead_groups](Status st) {
    for (const auto& gid : *dead_groups) {
      Group* g = find_group(gid);
      if (!g) continue;
      if (st.ok()) {
        offsets_total_ -= g->offsets.size();
        groups_.erase(gid);
      } else {
        transition(*g, GroupState::empty);
      }
    }
    if (!st.ok()) return;
    for (const auto& [gid, tp] : *expired)
      if (Group* g = find_group(gid)) offsets_total_ -= g->offsets.erase(tp);
  };
  if (!enqueue(std::move(bytes), count, finish)) finish(Status(Errc::too_large, "group coordinator append queue full"));
}

}  // namespace floe::broker
