// DescribeGroups, ListGroups, DeleteGroups (group_coordinator.h).
#include <algorithm>
#include <cctype>

#include "group/coordinator_impl.h"

namespace floe::broker {

using namespace kafka_error;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

void GroupCoordinator::Impl::describe(const protocol::DescribeGroupsRequest& req, int16_t version,
                                      std::function<void(protocol::DescribeGroupsResponse)> done) {
  if (int16_t e = availability_error()) return done(describe_error(req, e));
  protocol::DescribeGroupsResponse resp;
  for (const auto& id : req.groups) {
    auto& d = resp.groups.emplace_back();
    d.group_id = id;
    if (id.empty()) {
      d.error_code = kInvalidGroupId;
      continue;
    }
    Group* g = find_group(id);
    if (!g || g->state == GroupState::dead) {
      // Before v6 an unknown group is described as Dead without error; v6 says so with an error.
      d.group_state = group_state_name(GroupState::dead);
      if (version >= 6) {
        d.error_code = kGroupIdNotFound;
        d.error_message = "group " + id + " not found";
      }
      continue;
    }
    d.group_state = group_state_name(g->state);
    d.protocol_type = g->protocol_type;
    const bool stable = g->state == GroupState::stable && g->protocol;
    d.protocol_data = stable ? *g->protocol : std::string();
    for (const auto& [mid, m] : g->members) {
      auto& dm = d.members.emplace_back();
      dm.member_id = mid;
      dm.group_instance_id = m->instance_id;
      dm.client_id = m->client_id;
      dm.client_host = m->client_host;
      if (stable) {  // metadata and assignment only mean something once the generation is complete
        if (const SharedBytes* md = m->metadata_for(*g->protocol)) dm.member_metadata = *md;
        dm.member_assignment = m->assignment;
      }
    }
  }
  done(std::move(resp));
}

void GroupCoordinator::Impl::list(const protocol::ListGroupsRequest& req, int16_t version,
                                  std::function<void(protocol::ListGroupsResponse)> done) {
  // Stopping (no longer the coordinator): no groups here, no error, as a broker coordinating none.
  if (stopping_) return done(not_coordinator_answer(req, version));
  if (int16_t e = availability_error()) return done(list_error(e));
  protocol::ListGroupsResponse resp;
  for (const auto& [id, g] : groups_) {
    if (g->state == GroupState::dead) continue;
    const char* state = group_state_name(g->state);
    if (version >= 4 && !req.states_filter.empty() &&
        std::none_of(req.states_filter.begin(), req.states_filter.end(),
                     [&](const std::string& s) { return iequals(s, state); }))
      continue;
    if (version >= 5 && !req.types_filter.empty() &&
        std::none_of(req.types_filter.begin(), req.types_filter.end(),
                     [](const std::string& s) { return iequals(s, "classic"); }))
      continue;
    auto& l = resp.groups.emplace_back();
    l.group_id = id;
    l.protocol_type = g->protocol_type;
    l.group_state = state;
    l.group_type = "classic";
  }
  done(std::move(resp));
}

void GroupCoordinator::Impl::delete_groups(const protocol::DeleteGroupsRequest& req, int16_t,
                                           std::function<void(protocol::DeleteGroupsResponse)> done) {
  if (int16_t e = availability_error()) return done(delete_error(req, e));
  auto resp = std::make_shared<protocol::DeleteGroupsResponse>();
  Bytes bytes;
  uint32_t count = 0;
  auto deleting = std::make_shared<std::vector<std::pair<size_t, std::string>>>();  // result index, group
  for (const auto& id : req.groups_names) {
    auto& r = resp->results.emplace_back();
    r.group_id = id;
    if (id.empty()) {
      r.error_code = kInvalidGroupId;
      continue;
    }
    Group* g = find_group(id);
    if (!g || g->state == GroupState::dead) {
      r.error_code = kGroupIdNotFound;
      continue;
    }
    if (g->state != GroupState::empty || !g->pending.empty()) {
      r.error_code = kNonEmptyGroup;
      continue;
    }
    // Tombstones for the group and every offset, including commits still being appended.
    std::set<TopicPartition> tps;
    for (const auto& [tp, _] : g->offsets) tps.insert(tp);
    for (const auto& [tp, _] : g->pending_commits) tps.insert(tp);
    for (const auto& tp : tps) {
      group_format::append_record(bytes, group_format::offset_record(id, tp.first, tp.second, std::nullopt));
      ++count;
    }
    group_format::append_record(bytes, group_format::group_record(id, std::nullopt));
    ++count;
    transition(*g, GroupState::dead);
    deleting->emplace_back(resp->results.size() - 1, id);
  }
  if (count == 0) return done(std::move(*resp));
  auto finish = [this, resp, deleting, done](Status st) {
    for (const auto& [index, id] : *deleting) {
      Group* g = find_group(id);
      if (st.ok()) {
        if (g) {
          offsets_total_ -= g->offsets.size();
          g->join_timer->cancel();
          groups_.erase(id);
        }
      } else {
        resp->results[index].error_code = append_error(st);
        if (g) transition(*g, GroupState::empty);
      }
    }
    done(std::move(*resp));
  };
  if (!enqueue(std::move(bytes), count, finish)) finish(Status(Errc::too_large, "group coordinator append queue full"));
}

}  // namespace floe::broker
