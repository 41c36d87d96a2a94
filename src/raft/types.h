// Raft (KRaft-style) vocabulary: ids, log entries, the messages replicas exchange, the config.
//
// The messages are floe-internal structs that mirror the fields of Kafka's VoteRequest/Response,
// BeginQuorumEpoch*, EndQuorumEpoch* (/work/shared/kafka-protocol/raft/) and FetchRequest/Response
// (KRaft flavour: LastFetchedEpoch, DivergingEpoch, HighWatermark). NEXT STEP: encode them on the
// wire with the generated codecs in src/protocol/generated/ (vote_request.h etc., namespace
// floe::protocol, decode/encode(ByteWriter&, version)); the replica itself never sees bytes.
// A few fields exist only because this layer has no TCP underneath yet: FetchRequest.request_id
// plays the role of Kafka's correlation id, and FetchResponse echoes the fetch position so a
// duplicated or reordered response is recognised as stale and ignored.
//
// Invariants:
//  (1) epochs start at 1; epoch 0 means "no entry" (an empty log's last epoch).
//  (2) offsets are positions in the log starting at 0; "end offset" is one past the last entry.
//  (3) a LogEntry's epoch is the epoch of the leader that appended it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/result.h"

namespace floe::raft {

using NodeId = int32_t;
using Epoch = int32_t;
using Offset = int64_t;

inline constexpr NodeId kNoNode = -1;

// Kafka's snapshot id (KIP-630): a snapshot holds the state after every entry below end_offset;
// epoch is the epoch of the entry at end_offset - 1. {0, 0} would be the empty state.
struct SnapshotId {
  Offset end_offset = 0;
  Epoch epoch = 0;
  bool operator==(const SnapshotId&) const = default;
};

struct LogEntry {
  Epoch epoch = 0;
  bool control = false;  // LeaderChange marker appended by each new leader (KRaft control record)
  std::string data;

  bool operator==(const LogEntry&) const = default;
};

// KIP-595 VoteRequest; pre_vote = KIP-996 (candidate_epoch is the epoch the sender WOULD use; a
// pre-vote changes nothing on the receiver).
struct VoteRequest {
  Epoch candidate_epoch = 0;
  NodeId candidate_id = kNoNode;
  Epoch last_offset_epoch = 0;
  Offset last_offset = 0;  // the candidate's log end offset
  bool pre_vote = false;
};

struct VoteResponse {
  Epoch leader_epoch = 0;  // the responder's epoch
  NodeId leader_id = kNoNode;  // the leader the responder knows in that epoch, if any
  bool vote_granted = false;
  bool pre_vote = false;
  Epoch candidate_epoch = 0;  // echoed, so a grant is only counted for the round it answers
};

struct BeginQuorumEpochRequest {
  Epoch leader_epoch = 0;
  NodeId leader_id = kNoNode;
};

struct BeginQuorumEpochResponse {
  Epoch leader_epoch = 0;
  NodeId leader_id = kNoNode;
};

struct EndQuorumEpochRequest {
  Epoch leader_epoch = 0;
  NodeId leader_id = kNoNode;
  std::vector<NodeId> preferred_successors;  // earlier = should time out sooner
};

struct EndQuorumEpochResponse {
  Epoch leader_epoch = 0;
  NodeId leader_id = kNoNode;
};

struct FetchRequest {
  uint64_t request_id = 0;
  NodeId replica_id = kNoNode;
  Epoch current_leader_epoch = 0;
  Offset fetch_offset = 0;
  Epoch last_fetched_epoch = 0;
  int32_t max_wait_ms = -1;  // how long the leader may hold it with nothing new (-1: the leader's own)
};

enum class RaftError : uint8_t {
  none,
  fenced_leader_epoch,
  not_leader_or_follower,
  snapshot_not_found,  // FetchSnapshot: the leader no longer (or never) had that snapshot
  position_out_of_range,  // FetchSnapshot: position beyond the snapshot's size
};

struct DivergingEpoch {
  Epoch epoch = 0;
  Offset end_offset = 0;
};

struct FetchResponse {
  uint64_t request_id = 0;
  RaftError error = RaftError::none;
  Epoch leader_epoch = 0;
  NodeId leader_id = kNoNode;
  Offset high_watermark = 0;
  Offset fetch_offset = 0;  // echoed: records start here
  Epoch last_fetched_epoch = 0;  // echoed
  std::optional<DivergingEpoch> diverging;
  // KIP-630: the fetch offset is below the leader's log start (or its epoch predates the leader's
  // snapshot): download this snapshot with FetchSnapshot, then fetch from its end.
  std::optional<SnapshotId> snapshot_id;
  Offset log_start_offset = 0;
  std::vector<LogEntry> records;
};

// KIP-630 FetchSnapshot: one chunk of the leader's snapshot file, by byte position.
struct FetchSnapshotRequest {
  uint64_t request_id = 0;
  NodeId replica_id = kNoNode;
  Epoch current_leader_epoch = 0;
  SnapshotId snapshot_id;
  int64_t position = 0;
  int32_t max_bytes = 0;
};

struct FetchSnapshotResponse {
  uint64_t request_id = 0;  // echoed (the transport's token), like FetchResponse
  RaftError error = RaftError::none;
  Epoch leader_epoch = 0;
  NodeId leader_id = kNoNode;
  SnapshotId snapshot_id;
  int64_t size_bytes = 0;  // the whole snapshot file
  int64_t position = 0;  // where `bytes` starts
  std::string bytes;
};

using RaftMessage = std::variant<VoteRequest, VoteResponse, BeginQuorumEpochRequest,
                                 BeginQuorumEpochResponse, EndQuorumEpochRequest,
                                 EndQuorumEpochResponse, FetchRequest, FetchResponse,
                                 FetchSnapshotRequest, FetchSnapshotResponse>;

const char* message_name(const RaftMessage& message);

struct VoterAddress {
  NodeId id = kNoNode;
  std::string host;
  uint16_t port = 0;
};

// Parses controller.quorum.voters: "1@host:port,2@host:port,...". Ids must be unique, >= 0.
Result<std::vector<VoterAddress>> parse_quorum_voters(std::string_view text);

struct RaftConfig {
  NodeId node_id = kNoNode;
  std::vector<NodeId> voters;  // the static quorum; a node not listed is an observer
  int64_t election_timeout_ms = 1000;  // randomized in [t, 2t)
  int64_t fetch_timeout_ms = 2000;  // follower: no leader contact => election; leader: check-quorum
  int64_t fetch_backoff_ms = 50;  // follower: pause before fetching again after a refused or useless answer
  // Leader: a fetch with nothing new to return is held (long poll) until an entry is appended, the
  // high watermark moves, or this long has passed; a fetcher resends after request_timeout_ms +
  // fetch_max_wait_ms without an answer.
  int64_t fetch_max_wait_ms = 200;
  int64_t request_timeout_ms = 500;  // resend a BeginQuorumEpoch (a fetch: + fetch_max_wait_ms) after this
  int64_t end_quorum_backoff_ms = 100;  // per rank in EndQuorumEpoch.preferred_successors
  size_t max_fetch_entries = 64;  // records per FetchResponse
  Offset max_uncommitted_entries = 1000;  // leader backpressure on propose()
  int32_t max_snapshot_chunk_bytes = 1 << 20;  // FetchSnapshot: bytes per chunk asked / served
  // FetchSnapshot: a larger snapshot is refused. An install holds the file and its payload in
  // memory a few times over, so this bounds its peak memory too.
  int64_t max_snapshot_bytes = int64_t{1} << 30;
  int64_t observer_forget_ms = 300000;  // leader: drop an observer not heard from for this long
  size_t max_observers = 1024;  // leader: observers tracked at most (the stalest is forgotten)
};

}  // namespace floe::raft
