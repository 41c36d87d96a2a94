// TcpRaftTransport: the RaftTransport (raft/transport.h) over TCP, speaking Kafka's KRaft APIs
// (Vote, BeginQuorumEpoch, EndQuorumEpoch, Fetch, FetchSnapshot) with the frames of raft/wire.h.
//
// Request/response pairing. Kafka's Raft APIs are request/response; floe's replica instead emits
// every answer as a separate send(to = requester). The transport joins the two:
//  - Outbound: a message that is a request (Vote/BeginQuorumEpoch/EndQuorumEpoch/Fetch request)
//    goes out on this node's own connection to the peer (one per peer, from the voters'
//    addresses), tagged with a fresh correlation id; the transport remembers correlation id ->
//    request. The peer's response is decoded against that request (which supplies what Kafka's
//    response lacks: Vote's pre_vote/candidate_epoch, Fetch's request_id/fetch_offset/
//    last_fetched_epoch) and delivered as coming from the peer.
//  - Inbound: a request arriving on the listener is delivered as coming from the node it names
//    (CandidateId / LeaderId / ReplicaId) and kept pending with its connection's responder. A
//    response message the replica then sends to that node is written as the Kafka response of
//    the pending request it answers: a FetchResponse the one whose request_id it echoes (the
//    transport sets an inbound FetchRequest's request_id to a token of its own); a VoteResponse
//    the oldest pending Vote with the same candidate_epoch and pre_vote; the others the oldest
//    pending request of their API from that node. A response matching nothing is dropped.
//    Since a connection's responses go out in request order and the replica answers in order,
//    older pending requests on the same connection that are still unanswered when a later one is
//    answered (EndQuorumEpoch, which the replica never answers) get an error response
//    (REQUEST_TIMED_OUT) first, as does any request unanswered for answer_timeout_ms. The
//    requester drops error responses.
// ApiVersions (which Kafka peers send first on a connection) is answered by the transport itself
// (raft/wire.h encode_api_versions_response), with the feature levels (v3+) the features source
// gives (set_api_versions_features; none without one).
// Other APIs (anything but Fetch/Vote/BeginQuorumEpoch/EndQuorumEpoch/ApiVersions) go to the
// fallback handler when one is set (set_fallback, before listen), else close the connection. The
// fallback runs on the transport's thread, must not block, and may answer later from any thread
// (the controller listener's DescribeQuorum/CreateTopics/Metadata: admin/controller_api.h).
//
// Threads: one io_context thread owned by the transport runs every outbound connection, the
// pairing state and all deliveries; the listener (net::Server, one I/O thread) hands requests to
// it. The Inbound callback therefore runs on the transport's thread, one message at a time, and
// must not block (queue the message); calling send() from it is fine, stop() is not.
// Bounds: per peer at most max_queued_messages wait for the connection (the oldest is dropped),
// at most max_in_flight requests await responses (the oldest is forgotten), inbound pending
// requests are bounded by max_pending_inbound (the oldest is answered with an error), frames
// larger than max_frame_bytes close the connection. Reconnects back off exponentially from
// reconnect_backoff_ms to reconnect_backoff_max_ms; a connect attempt is abandoned after
// connect_timeout_ms. Malformed frames close only the connection that carried them.
// Thread safety: listen/start/send/stop/set_peer_address/stats may be called from any thread
// (stop not from the Inbound callback).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "net/server.h"
#include "raft/transport.h"
#include "raft/wire.h"

namespace floe::raft {

struct TcpTransportConfig {
  NodeId self_id = kNoNode;
  std::vector<VoterAddress> voters;  // the quorum's controller endpoints (this node's own is ignored)
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;  // 0 = an ephemeral port (tests): see port()
  WireOptions wire;
  size_t max_queued_messages = 256;  // per peer, waiting for a connection or a write slot
  size_t max_in_flight = 1024;  // per peer connection
  size_t max_pending_inbound = 4096;
  int64_t connect_timeout_ms = 1000;
  int64_t reconnect_backoff_ms = 50;
  int64_t reconnect_backoff_max_ms = 1000;
  int64_t answer_timeout_ms = 2000;
  size_t max_frame_bytes = 64 << 20;
  std::vector<ApiVersionRange> fallback_apis;  // what the fallback serves: listed in ApiVersions
};

struct TcpTransportStats {
  uint64_t requests_sent = 0;  // written to a peer connection
  uint64_t responses_received = 0;  // decoded and delivered
  uint64_t requests_received = 0;  // decoded and delivered
  uint64_t responses_sent = 0;  // paired with a pending request and written
  uint64_t dropped_queue_full = 0;
  uint64_t dropped_unknown_peer = 0;
  uint64_t dropped_unmatched_response = 0;
  uint64_t error_answers = 0;  // pending requests answered with an error response
  uint64_t connects = 0;
  uint64_t connect_failures = 0;
  uint64_t malformed_frames = 0;  // connections closed for a bad frame
};

class TcpRaftTransport final : public RaftTransport {
 public:
  explicit TcpRaftTransport(TcpTransportConfig config);
  ~TcpRaftTransport() override;  // stop()
  TcpRaftTransport(const TcpRaftTransport&) = delete;
  TcpRaftTransport& operator=(const TcpRaftTransport&) = delete;

  // Binds the listener and starts the threads. Requests that arrive before start() get an error
  // response. Optional: start() calls it if needed (and logs a failure: outbound only then).
  Status listen();
  uint16_t port() const;  // the bound port (after listen)
  // A peer's address (new peers allowed); takes effect at the next connect.
  void set_peer_address(NodeId id, std::string host, uint16_t port);

  // Handler for non-Raft requests on the listener (see above). Set it before listen().
  using Fallback = std::function<void(net::RequestFrame request, net::Responder responder)>;
  void set_fallback(Fallback fallback);
  // ApiVersions v3+'s SupportedFeatures/FinalizedFeatures/FinalizedFeaturesEpoch: asked at each
  // ApiVersions request, on the transport's thread (must not block). Set it before listen().
  using FeaturesSource = std::function<ApiVersionsFeatures()>;
  void set_api_versions_features(FeaturesSource source);

  void start(Inbound inbound) override;
  void send(NodeId to, RaftMessage message) override;
  void stop() override;

  TcpTransportStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace floe::raft
