// Placement: which broker leads each partition — pure functions over a MetadataState, used by the
// controller (metadata/controller.h documents the rules as the contract brokers rely on).
//
// A broker is ELIGIBLE to lead when it is registered, unfenced and not in controlled shutdown.
// LeaderLoad counts the partitions each eligible broker leads; pick() is the least-loaded one
// (ties: the lowest id), so a sequence of pick()+add() spreads partitions evenly.
// repair_leaders() returns the PartitionChangeRecords that restore the invariant "every partition's
// leader is eligible, or -1 when nobody may take it":
//  - leader eligible: untouched;
//  - leader draining (unfenced, in controlled shutdown): moves to pick() unless it holds the stream
//    open (then it moves once the broker closes it);
//  - otherwise (leader -1, fenced or unregistered): a stream still OPEN goes back to its owner when
//    the owner is eligible, else stays offline (-1) unless the topic allows unclean leader
//    election; a CLOSED stream (or an unclean-allowed one) moves to pick(); nobody eligible: -1.
// Deterministic: topics in name order, partitions in index order, so every replica planning from
// the same state gets the same records (only the leader plans; followers apply the records).
// Thread safety: pure functions.
#pragma once

#include <map>
#include <optional>
#include <vector>

#include "metadata/image.h"

namespace floe::metadata {

inline constexpr int32_t kNoLeader = -1;

bool broker_eligible(const MetadataImage& image, NodeId id);
// True when the topic accepts losing an un-uploaded tail to keep a partition available
// (unclean.leader.election.enable=true among its configs).
bool unclean_election_enabled(const TopicImage& topic);

class LeaderLoad {
 public:
  explicit LeaderLoad(const MetadataImage& image);
  bool empty() const { return load_.empty(); }
  std::optional<NodeId> pick() const;
  void add(NodeId id);
  void remove(NodeId id);
  size_t led_by(NodeId id) const;

 private:
  std::map<NodeId, size_t> load_;  // eligible brokers only
};

// The number of partitions `id` leads.
size_t partitions_led(const MetadataImage& image, NodeId id);
// The number of partitions `id` leads whose stream it holds open (data possibly only in its WAL).
size_t open_partitions_led(const MetadataState& state, NodeId id);

// At most max_changes records (one Raft entry must stay small); the rest on the next call (the
// controller's session timer repairs again every check).
inline constexpr size_t kMaxLeaderChangesPerEntry = 5000;
std::vector<protocol::PartitionChangeRecord> repair_leaders(const MetadataState& state,
                                                            size_t max_changes = kMaxLeaderChangesPerEntry);

}  // namespace floe::metadata
