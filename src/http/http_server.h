// HttpServer: the operators' HTTP endpoint (DESIGN.md http/): GET /metrics and GET /health on
// `http.listeners`, for Prometheus scrapers, load balancers and `curl`. It is not a general web
// server: each connection carries one request (the answer says "Connection: close"), and only
// GET and HEAD of the registered paths are served.
//
// Threading: one thread running one asio::io_context; handlers run on it, so they must be quick
// and must not block (the metrics collectors read counters and take short locks).
//
// Invariants:
//  (1) Bounded: at most max_connections are open (further accepts are closed at once); a request
//      head larger than max_request_bytes is answered 431 and closed; a connection that has not
//      sent its request and read the answer within request_timeout_ms is closed. Nothing read from a client
//      allocates beyond max_request_bytes.
//  (2) Every request that reached a complete head gets one answer: 200 from a handler, 400 for a
//      malformed request line, 404 for an unknown path, 405 (with Allow) for other methods,
//      505 for a protocol other than HTTP/1.x.
//  (3) stop() closes the listener and every connection (accepted ones too) and joins the thread;
//      after it no handler runs.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/result.h"

namespace floe::http {

struct HttpServerConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: pick a free port (tests)
  size_t max_connections = 64;
  size_t max_request_bytes = 8192;
  int64_t request_timeout_ms = 10000;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse()>;

  explicit HttpServer(HttpServerConfig config);
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Registers the handler of GET/HEAD `path` (exact match; a query string is ignored). Before start().
  void route(std::string path, Handler handler);
  // Binds, listens and starts the thread. The error names host:port and the reason.
  Status start();
  uint16_t port() const;
  void stop();

  struct Stats {
    uint64_t requests = 0;           // answered, whatever the status
    uint64_t connections_rejected = 0;  // over max_connections
    uint64_t connections_open = 0;
  };
  Stats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace floe::http
