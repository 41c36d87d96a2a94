#include "raft/replicated_log.h"

namespace floe::raft {

QuorumDescription describe_quorum(const RaftReplica& r, Offset own_log_end, int64_t replica_now_ms,
                                  int64_t wall_now_ms) {
  QuorumDescription d;
  d.self_id = r.node_id();
  d.role = r.role();
  d.leader_id = r.leader_id();
  d.epoch = r.epoch();
  d.high_watermark = r.high_watermark();
  auto wall = [&](int64_t replica_ms) { return wall_now_ms - (replica_now_ms - replica_ms); };
  const bool leading = r.role() == Role::leader;
  for (NodeId id : r.voters()) {
    QuorumReplicaState v;
    v.replica_id = id;
    if (id == r.node_id()) {
      v.log_end_offset = own_log_end;
      if (leading) v.last_caught_up_timestamp_ms = wall_now_ms;  // Kafka reports "now" for the leader
    } else if (leading) {
      if (auto it = r.voter_matched_offsets().find(id); it != r.voter_matched_offsets().end()) {
        v.log_end_offset = it->second;
      }
      if (auto it = r.voter_last_fetch_ms().find(id); it != r.voter_last_fetch_ms().end()) {
        v.last_fetch_timestamp_ms = wall(it->second);
        // A fetch at or past the high watermark means the voter was caught up when it fetched.
        if (v.log_end_offset >= r.high_watermark()) v.last_caught_up_timestamp_ms = v.last_fetch_timestamp_ms;
      }
    }
    d.voters.push_back(v);
  }
  if (leading) {
    for (const auto& [id, o] : r.observers()) {
      QuorumReplicaState v;
      v.replica_id = id;
      v.log_end_offset = o.log_end_offset;
      v.last_fetch_timestamp_ms = wall(o.last_fetch_ms);
      if (o.last_caught_up_ms) v.last_caught_up_timestamp_ms = wall(*o.last_caught_up_ms);
      d.observers.push_back(v);
    }
  }
  return d;
}

}  // namespace floe::raft
