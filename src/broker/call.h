// KafkaCall / Broker::Call: one Kafka request in flight: its decoded header, its body, and the
// one-shot way to answer it (encode a response at the request's version with the right response
// header, answer nothing, or close the connection).
// Invariant: exactly one of reply/no_response/close runs per call (asserted).
#pragma once

#include <atomic>

#include "broker/broker.h"
#include "common/assert.h"
#include "common/log.h"
#include "protocol/generated/response_header.h"

namespace floe::broker {

// One framed Kafka request and the one-shot way to answer it; shared by every Kafka listener
// (the broker's, and the controller listener's: admin/controller_api.h).
struct KafkaCall {
  net::RequestFrame frame;
  net::Responder responder;
  std::string client_id;
  size_t body_offset = 0;
  std::atomic<bool> completed{false};

  KafkaCall(net::RequestFrame f, net::Responder r) : frame(std::move(f)), responder(std::move(r)) {}

  int16_t api_key() const { return frame.api_key; }
  int16_t version() const { return frame.api_version; }
  ByteReader body() const {
    ByteReader r(frame.frame);
    FLOE_ASSERT(r.skip(body_offset).ok());
    return r;
  }

  template <typename Response>
  void reply(const Response& response) {
    FLOE_ASSERT_MSG(!completed.exchange(true), "a request was answered twice");
    ByteWriter w(256);
    protocol::ResponseHeader header;
    header.correlation_id = frame.correlation_id;
    header.encode(w, protocol::response_header_version(frame.api_key, frame.api_version));
    response.encode(w, frame.api_version);
    responder.respond(w.take());
  }
  void no_response() {
    FLOE_ASSERT_MSG(!completed.exchange(true), "a request was answered twice");
    responder.no_response();
  }
  void close() {
    FLOE_ASSERT_MSG(!completed.exchange(true), "a request was answered twice");
    responder.close();
  }
};

struct Broker::Call : KafkaCall {
  using KafkaCall::KafkaCall;
};

// Decodes the call's body as Request at the call's version; on failure closes the connection
// (a body that does not parse is framing-level garbage) and returns nullopt.
template <typename Request>
std::optional<Request> decode_request(KafkaCall& call) {
  Request request;
  ByteReader r = call.body();
  if (Status s = request.decode(r, call.version()); !s.ok()) {
    floe::log::debug("broker", "closing " + call.frame.peer + ": undecodable request body (api " +
                                   std::to_string(call.api_key()) + " v" + std::to_string(call.version()) +
                                   "): " + s.error().message);
    call.close();
    return std::nullopt;
  }
  return request;
}

}  // namespace floe::broker
