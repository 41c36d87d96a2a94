// RaftReplica: one member (voter or observer) of a KRaft-style metadata quorum, as a pure,
// single-threaded, deterministic state machine. No threads, sockets or wall clock: the owner
// calls tick(now_ms) and handle(from, message, now_ms); the replica answers through its Env
// (raft/env.h). The same code runs under the simulator (tests/raft/) and, later, in the broker.
//
// Protocol (KIP-595 + KIP-996):
//  - Roles: Unattached, Prospective (pre-vote), Candidate, Leader, Follower, Resigned.
//  - Pre-vote: a voter whose election timer fires asks for pre-votes for epoch+1 WITHOUT bumping
//    its epoch. A voter grants one only if it has not heard from a leader within fetch_timeout_ms
//    and the sender's log is at least as up to date (last epoch, then end offset).
//  - Vote: with a majority of pre-votes it bumps the epoch, votes for itself (persisted) and asks
//    for votes. A voter saves voted_for BEFORE it answers. One vote per epoch.
//  - The new leader appends a LeaderChange control entry and sends BeginQuorumEpoch (resent until
//    each voter fetches). EndQuorumEpoch announces a resignation so voters elect sooner.
//  - Pull replication: followers/observers send Fetch(fetch_offset, last_fetched_epoch). The
//    leader answers with records, or with DivergingEpoch (its end offset for the largest epoch
//    <= last_fetched_epoch) and the follower truncates to min(that, its own end for the epoch).
//    A follower syncs its log before its next fetch, so a fetch offset is a durable ack.
//    Long poll: a fetch with nothing new is held by the leader (one per fetcher) until an entry
//    is appended, the high watermark passes what the fetcher was told, or fetch_max_wait_ms
//    pass; the fetcher then fetches again at once. So a commit costs no polling delay.
//  - High watermark: the largest offset durable on a majority of voters (leader: its synced end),
//    advanced only past the leader's epoch start offset (its own LeaderChange entry committed).
//  - Check-quorum: a leader that has not heard fetches from a majority within fetch_timeout_ms
//    resigns. Observers fetch but never vote or count; the leader tracks their progress for
//    DescribeQuorum and forgets one not heard from for observer_forget_ms.
//  - Snapshots (KIP-630): the log may start above 0 (log_.start_offset(); everything below is in
//    the snapshot {start_offset, start_epoch}, which the owner took of committed state). The
//    leader answers a fetch below its log start — or at it with another epoch, or with an epoch
//    older than its snapshot's — with its latest SnapshotId; the follower downloads that
//    snapshot with FetchSnapshot (chunks by byte position, resent on timeout), installs it
//    atomically through its SnapshotStore, resets its log to start empty at the snapshot's end
//    and fetches on from there. The owner notices log_.start_offset() moving past what it applied.
//
// Invariants (asserted here, and checked globally by the simulator after every step):
//  (1) at most one leader per epoch (votes are persisted before they are sent);
//  (2) a leader never truncates its log; entries below high_watermark() are never truncated;
//  (3) high_watermark() <= log end offset, and it never decreases while the replica runs;
//  (4) the epoch never decreases, and quorum state is persisted before any message that depends
//      on it is sent.
// Thread safety: none; the owner serializes all calls.
#pragma once

#include <map>
#include <set>

#include "raft/env.h"

namespace floe::raft {

enum class Role : uint8_t { unattached, prospective, candidate, leader, follower, resigned };
const char* role_name(Role role);

// The payload of the control entry each new leader appends: Kafka's LeaderChangeMessage (v0:
// leader id, voters, granting voters), the value of a LEADER_CHANGE control record (type 2).
struct LeaderChange {
  NodeId leader_id = kNoNode;
  std::vector<NodeId> voters;
  std::vector<NodeId> granting_voters;
};
std::string leader_change_message(NodeId leader, const std::vector<NodeId>& voters, const std::set<NodeId>& granting);
Result<LeaderChange> decode_leader_change(std::string_view data);

class RaftReplica {
 public:
  // Loads the quorum state from `store`; a replica that was leader restarts Resigned.
  // `snapshots` may be null: the replica then never serves or installs snapshots.
  RaftReplica(RaftConfig config, RaftIo& io, RaftLog& log, QuorumStateStore& store, int64_t now_ms,
              SnapshotStore* snapshots = nullptr);

  void tick(int64_t now_ms);
  void handle(NodeId from, const RaftMessage& message, int64_t now_ms);

  // Leader only: appends an entry of the current epoch and returns its offset. It is committed
  // once high_watermark() > offset while this replica is still leader of the same epoch.
  Result<Offset> propose(std::string data, int64_t now_ms);
  // Leader only: graceful resignation (EndQuorumEpoch to the other voters).
  void resign(int64_t now_ms);

  Role role() const { return role_; }
  Epoch epoch() const { return epoch_; }
  NodeId leader_id() const { return leader_id_; }
  NodeId voted_for() const { return voted_for_; }
  NodeId node_id() const { return config_.node_id; }
  bool is_voter() const { return is_voter_; }
  Offset high_watermark() const { return high_watermark_; }
  Offset epoch_start_offset() const { return epoch_start_offset_; }
  // Leader only (empty otherwise), for DescribeQuorum: the voters' acknowledged (durable) end
  // offsets and the time (now_ms clock) of their last valid fetch in this epoch.
  const std::map<NodeId, Offset>& voter_matched_offsets() const { return matched_offset_; }
  const std::map<NodeId, int64_t>& voter_last_fetch_ms() const { return last_fetch_ms_; }
  const std::vector<NodeId>& voters() const { return config_.voters; }
  // Leader only: the non-voters that fetched recently (DescribeQuorum observers).
  struct ObserverState {
    Offset log_end_offset = -1;  // the fetch offset of its last valid fetch (-1: snapshot only)
    int64_t last_fetch_ms = 0;
    std::optional<int64_t> last_caught_up_ms;  // last fetch at or past the high watermark
  };
  const std::map<NodeId, ObserverState>& observers() const { return observers_; }
  // A snapshot download in progress (follower/observer), for status and tests.
  std::optional<SnapshotId> downloading() const {
    return download_ ? std::optional<SnapshotId>(download_->id) : std::nullopt;
  }
  int snapshots_installed() const { return snapshots_installed_; }

 private:
  void handle_message(NodeId from, const RaftMessage& message);
  void drop_download();
  void on_vote_request(NodeId from, const VoteRequest& request);
  void on_vote_response(NodeId from, const VoteResponse& response);
  void on_begin_quorum_epoch(NodeId from, const BeginQuorumEpochRequest& request);
  void on_end_quorum_epoch(const EndQuorumEpochRequest& request);
  void on_fetch_request(NodeId from, const FetchRequest& request);
  void on_fetch_response(NodeId from, const FetchResponse& response);
  void on_fetch_snapshot_request(NodeId from, const FetchSnapshotRequest& request);
  void on_fetch_snapshot_response(NodeId from, const FetchSnapshotResponse& response);
  bool fetch_answer_is_current(NodeId from, Epoch leader_epoch, NodeId leader_id, uint64_t request_id);
  void start_download(SnapshotId id);
  void send_fetch_snapshot();
  void note_observer(NodeId from, Offset fetch_offset);
  // `fetch_ms`: when the fetch arrived (a held fetch answered later still dates from then, so it
  // does not keep a dead voter alive for check-quorum).
  FetchResponse leader_fetch_answer(NodeId from, const FetchRequest& request, int64_t fetch_ms);
  // Leader: answers the held fetches that now have something to say (entries past their offset,
  // a higher high watermark than they were told) or whose wait is over.
  void answer_parked_fetches();

  // Transitions. Each persists the quorum state it changes before returning.
  void observe_epoch(Epoch epoch, NodeId leader_id);  // a message carried a newer epoch
  void become_unattached(Epoch epoch);
  void become_follower(Epoch epoch, NodeId leader_id);
  void become_prospective();
  void become_candidate();
  void become_leader();
  void become_resigned();
  void persist();

  void send_fetch();
  void leader_tick();
  void leader_flush();
  void update_high_watermark();
  void reset_election_timer(int64_t extra_ms = 0);
  int64_t random_below(int64_t bound);
  bool log_at_least_as_up_to_date(Epoch last_epoch, Offset end_offset) const;
  Epoch last_epoch() const;
  // Largest epoch e <= epoch present in the log and the end offset of e's entries ({0,0} if none).
  DivergingEpoch end_offset_for_epoch(Epoch epoch) const;
  size_t majority() const { return config_.voters.size() / 2 + 1; }
  bool leader_recently_heard() const;
  bool maybe_learn_leader(NodeId leader_id);  // same-epoch leader news; true if now following
  NodeId known_leader() const;  // the leader to advertise: only while leading or following

  RaftConfig config_;
  RaftIo& io_;
  RaftLog& log_;
  QuorumStateStore& store_;
  SnapshotStore* snapshots_ = nullptr;
  bool is_voter_ = false;
  int64_t now_ms_ = 0;

  Role role_ = Role::unattached;
  Epoch epoch_ = 0;
  NodeId leader_id_ = kNoNode;
  NodeId voted_for_ = kNoNode;
  QuorumState persisted_;

  Offset high_watermark_ = 0;
  int64_t election_deadline_ms_ = 0;
  int64_t last_leader_contact_ms_ = INT64_MIN / 2;  // follower timeout clock (incl. grace on joining)
  // Last message actually from the leader (fetch answer, BeginQuorumEpoch). Only this makes us
  // reject pre-votes or advertise the leader, so hearsay about a dead leader cannot loop forever.
  int64_t last_leader_heard_ms_ = INT64_MIN / 2;
  std::set<NodeId> granted_;  // pre-votes or votes in the current round, including our own

  // Follower/observer fetch state.
  int64_t next_fetch_ms_ = 0;
  uint64_t fetch_seq_ = 0;
  uint64_t outstanding_fetch_ = 0;  // 0 = none
  int64_t fetch_sent_ms_ = 0;  // when the outstanding fetch went out
  NodeId fetch_target_ = kNoNode;
  struct Download {
    SnapshotId id;
    int64_t position = 0;
    int64_t size_bytes = -1;  // from the first answer
  };
  std::optional<Download> download_;
  int snapshots_installed_ = 0;

  // Leader state (valid while role_ == leader).
  Offset epoch_start_offset_ = 0;
  Offset durable_end_offset_ = 0;
  std::map<NodeId, Offset> matched_offset_;  // voters' acknowledged (durable) end offsets
  std::map<NodeId, int64_t> last_fetch_ms_;  // voters' last valid fetch in this epoch
  std::map<NodeId, ObserverState> observers_;
  int64_t next_begin_quorum_ms_ = 0;
  int64_t leader_since_ms_ = 0;
  // Fetches held by the leader (long poll), one per fetcher: its request, the high watermark
  // its answer would have carried, and when to answer anyway. Cleared on leaving leadership.
  struct ParkedFetch {
    FetchRequest request;
    Offset high_watermark = 0;
    int64_t arrived_ms = 0;
    int64_t deadline_ms = 0;
  };
  std::map<NodeId, ParkedFetch> parked_fetches_;
};

}  // namespace floe::raft
