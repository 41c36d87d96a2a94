// KafkaConnection: a minimal blocking Kafka protocol client for floe's own command-line tools
// (`floe perf produce|consume`). One TCP connection; requests are encoded with the generated
// codecs and may be pipelined (send several, then receive their answers in order). Not used by the
// broker, and never on an asio io_context thread: it blocks.
// Invariants: responses are matched to requests by correlation id, in order; a frame larger than
// max_response_bytes or a mismatched correlation id is an error (the connection is then unusable).
// Every blocking step (connect, each send, each receive) is bounded by io_timeout_ms: a peer that
// accepts but never answers gives Errc::timeout instead of hanging the tool.
#pragma once

#include <asio.hpp>
#include <deque>
#include <string>

#include "common/bytes.h"
#include "common/result.h"
#include "protocol/api.h"
#include "protocol/generated/request_header.h"
#include "protocol/generated/response_header.h"

namespace floe::admin {

class KafkaConnection {
 public:
  // host:port; Errc::io when it cannot connect.
  static Result<std::unique_ptr<KafkaConnection>> connect(const std::string& bootstrap, std::string client_id = "floe-perf",
                                                          int64_t io_timeout_ms = 30000);

  template <typename Request>
  Status send(const Request& request, int16_t version) {
    return send_frame(Request::kApiKey, version, [&](ByteWriter& w) { request.encode(w, version); });
  }
  // Receives the answer to the oldest request not yet received.
  template <typename Response>
  Result<Response> receive() {
    auto body = receive_frame();
    if (!body.ok()) return body.take_error();
    Response response;
    ByteReader r(body->body);
    if (Status s = response.decode(r, body->version); !s.ok()) return s.take_error();
    return response;
  }
  template <typename Response, typename Request>
  Result<Response> call(const Request& request, int16_t version) {
    if (Status s = send(request, version); !s.ok()) return s.take_error();
    return receive<Response>();
  }
  size_t in_flight() const { return pending_.size(); }
  // The last request sent gets no answer (Produce with acks=0): stop waiting for one.
  void forget_last() {
    if (!pending_.empty()) pending_.pop_back();
  }

 private:
  struct Pending {
    int32_t correlation_id;
    int16_t api_key;
    int16_t version;
  };
  struct Frame {
    SharedBytes body;
    int16_t version;
  };
  KafkaConnection() : socket_(io_) {}
  Status send_frame(int16_t api_key, int16_t version, const std::function<void(ByteWriter&)>& encode_body);
  Result<Frame> receive_frame();
  // Runs one asynchronous operation started by `start(handler)` to completion, or cancels it
  // (closing the socket) after io_timeout_ms: asio::error::timed_out.
  asio::error_code run_bounded(const std::function<void(std::function<void(asio::error_code)>)>& start);

  asio::io_context io_;
  asio::ip::tcp::socket socket_;
  std::string client_id_;
  int32_t next_correlation_id_ = 1;
  std::deque<Pending> pending_;
  size_t max_response_bytes_ = 256u << 20;
  int64_t io_timeout_ms_ = 30000;
};

}  // namespace floe::admin
