// RaftTransport: how a running Raft node (raft/node.h) exchanges RaftMessages with the other
// members of the quorum. The replica stays pure (raft/replica.h); the node's RaftIo::send hands
// messages to a transport, and the transport delivers inbound messages through the callback given
// to start().
//
// Contract:
//  (1) send() is best effort and never blocks: a message to an unreachable or unknown peer is
//      dropped (Raft retries on its own timers). Per peer, the outbound queue is bounded; when it
//      is full the oldest queued message is dropped.
//  (2) Inbound messages are delivered one at a time per transport (never concurrently); the node
//      serializes them with its own tick/propose calls.
//  (3) A single-voter quorum needs no transport at all (the node accepts nullptr).
// Implementations: the TCP transport over the controller listener (Kafka framing, generated
// codecs: raft/wire.h), and the simulator's in-memory network in tests.
// Thread safety: send/start/stop may be called from any thread.
#pragma once

#include <functional>

#include "raft/types.h"

namespace floe::raft {

class RaftTransport {
 public:
  using Inbound = std::function<void(NodeId from, RaftMessage message)>;
  virtual ~RaftTransport() = default;
  // Starts delivering inbound messages to `inbound` (set once, before any delivery).
  virtual void start(Inbound inbound) = 0;
  virtual void send(NodeId to, RaftMessage message) = 0;
  // Stops delivery and closes connections; no callback runs after stop() returns. Idempotent.
  virtual void stop() = 0;
};

}  // namespace floe::raft
