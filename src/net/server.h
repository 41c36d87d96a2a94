// net/: Kafka-protocol TCP listener. Accepts connections, frames requests, hands each to a
// RequestHandler, and writes responses back in request order.
//
// Threading: one asio::io_context per I/O thread (`io_threads`, default: one per core). The
// acceptor runs on context 0 and deals accepted sockets round-robin to all contexts. A
// connection lives on one context; every touch of its state happens on that context's thread,
// so connections need no locks. A handler may answer from any thread: the Responder posts
// the answer back to the connection's context.
//
// Framing: [int32 size][size bytes: request header + body]. The first 8 bytes of every header
// version are api_key int16, api_version int16, correlation_id int32, which this layer reads
// to tag the request; everything else is the handler's.
//
// Invariants:
//  (1) Responses on a connection are written in the order their requests arrived, whatever
//      order handlers answer in (Kafka clients rely on this).
//  (2) A frame whose size is negative, below 8, or above max_request_bytes closes only that
//      connection; nothing is allocated for it.
//  (3) A connection stops reading while its unanswered request bytes exceed
//      max_inflight_bytes_per_connection, and while the server-wide total exceeds
//      max_inflight_bytes_total (backpressure instead of unbounded memory).
//  (4) At most max_connections are open; further accepts are closed at once.
//  (5) stop() closes the listener and every connection and joins every thread it started.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "common/result.h"

namespace floe::net {

struct ServerConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 9092;  // 0 = pick a free port (tests)
  size_t io_threads = 0;  // 0 = one per core
  size_t max_request_bytes = 100 * 1024 * 1024;                 // socket.request.max.bytes
  size_t max_inflight_bytes_per_connection = 100 * 1024 * 1024;
  size_t max_inflight_bytes_total = 500 * 1024 * 1024;          // queued.max.request.bytes
  int64_t idle_timeout_ms = 600'000;                            // connections.max.idle.ms
  size_t max_connections = 65'536;
};

// One framed request. `frame` holds the header and body (the size prefix stripped).
struct RequestFrame {
  uint64_t connection_id = 0;
  int16_t api_key = 0;
  int16_t api_version = 0;
  int32_t correlation_id = 0;
  SharedBytes frame;
  std::string peer;  // "ip:port"
};

// Completes one request. Call exactly once, from any thread:
//  - respond(bytes): bytes are the response header + body (no size prefix);
//  - no_response(): the request needs no answer (Produce with acks=0);
//  - close(): a protocol error so severe that the connection must close.
class Responder {
 public:
  class Sink;
  Responder(std::shared_ptr<Sink> sink, uint64_t sequence) : sink_(std::move(sink)), sequence_(sequence) {}
  Responder(Responder&&) = default;
  Responder& operator=(Responder&&) = default;
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;
  ~Responder();

  void respond(Bytes response);
  void no_response();
  void close();

 private:
  void complete(std::optional<Bytes> response, bool close);
  std::shared_ptr<Sink> sink_;
  uint64_t sequence_ = 0;
};

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // Called on the connection's I/O thread; must not block. May answer later from any thread.
  virtual void handle(RequestFrame request, Responder responder) = 0;
  // The connection closed (peer hang-up, error, idle timeout or shutdown).
  virtual void connection_closed(uint64_t /*connection_id*/) {}
};

struct ServerStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_open = 0;
  uint64_t connections_rejected = 0;
  uint64_t requests = 0;
  uint64_t framing_errors = 0;
  uint64_t inflight_bytes = 0;
};

class Server {
 public:
  Server(ServerConfig config, RequestHandler& handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts the I/O threads. Errors (address in use, bad host) come back as values.
  Status start();
  // Graceful shutdown, step 1: closes the listener (no new connections); open connections go on.
  // Idempotent.
  void stop_accepting();
  // Step 2: waits until no request is waiting for its answer (or timeout_ms passes); true if drained.
  bool wait_idle(int64_t timeout_ms) const;
  // Closes the listener and all connections, joins the I/O threads. Idempotent.
  void stop();
  uint16_t port() const;
  ServerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace floe::net
