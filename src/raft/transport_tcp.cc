#include "raft/transport_tcp.h"

#include <asio.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "common/assert.h"
#include "common/log.h"
#include "net/server.h"

namespace floe::raft {

namespace {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

constexpr size_t kMaxWritesQueued = 64;  // encoded frames per connection awaiting the socket

Bytes with_size_prefix(const Bytes& body) {
  Bytes framed(4 + body.size());
  auto n = static_cast<uint32_t>(body.size());
  framed[0] = static_cast<uint8_t>(n >> 24);
  framed[1] = static_cast<uint8_t>(n >> 16);
  framed[2] = static_cast<uint8_t>(n >> 8);
  framed[3] = static_cast<uint8_t>(n);
  std::copy(body.begin(), body.end(), framed.begin() + 4);
  return framed;
}

struct AtomicStats {
  std::atomic<uint64_t> requests_sent{0}, responses_received{0}, requests_received{0}, responses_sent{0},
      dropped_queue_full{0}, dropped_unknown_peer{0}, dropped_unmatched_response{0}, error_answers{0}, connects{0},
      connect_failures{0}, malformed_frames{0};
};

}  // namespace

struct TcpRaftTransport::Impl {
  // One outbound connection attempt and, once connected, the connection.
  struct Link {
    explicit Link(asio::io_context& io) : socket(io), resolver(io), connect_timer(io) {}
    tcp::socket socket;
    tcp::resolver resolver;
    asio::steady_timer connect_timer;
    bool connected = false;
    bool closed = false;
    bool writing = false;
    std::deque<Bytes> writes;
    std::map<int32_t, OutboundRequest> in_flight;
    int32_t next_correlation_id = 1;
    uint8_t size_buf[4] = {};
    Bytes body;
  };

  struct Peer {
    explicit Peer(asio::io_context& io) : retry_timer(io) {}
    NodeId id = kNoNode;
    std::string host;
    uint16_t port = 0;
    std::deque<RaftMessage> queue;
    std::shared_ptr<Link> link;
    asio::steady_timer retry_timer;
    bool retry_pending = false;
    int64_t backoff_ms = 0;
  };

  // An inbound request awaiting the replica's answer.
  struct Pending {
    NodeId from = kNoNode;
    RequestKey key;
    uint64_t connection_id = 0;
    RaftMessage request;
    net::Responder responder;
    Clock::time_point received;
  };

  class Handler final : public net::RequestHandler {
   public:
    explicit Handler(Impl& impl) : impl_(impl) {}
    void handle(net::RequestFrame request, net::Responder responder) override {
      asio::post(impl_.io, [&impl = impl_, request = std::move(request), responder = std::move(responder)]() mutable {
        impl.on_request(std::move(request), std::move(responder));
      });
    }
    void connection_closed(uint64_t connection_id) override {
      asio::post(impl_.io, [&impl = impl_, connection_id] { impl.on_connection_closed(connection_id); });
    }

   private:
    Impl& impl_;
  };

  explicit Impl(TcpTransportConfig c) : config(std::move(c)), sweep_timer(io), handler(*this) {
    for (const VoterAddress& v : config.voters) {
      if (v.id == config.self_id) continue;
      auto peer = std::make_unique<Peer>(io);
      peer->id = v.id;
      peer->host = v.host;
      peer->port = v.port;
      peers[v.id] = std::move(peer);
    }
  }

  // ---- lifecycle (any thread, under lifecycle_mu) ----

  void ensure_thread() {
    if (thread.joinable()) return;
    guard.emplace(asio::make_work_guard(io));
    thread = std::thread([this] {
      io_thread_id.store(std::this_thread::get_id());
      io.run();
    });
    asio::post(io, [this] { arm_sweep(); });
  }

  // ---- inbound requests (transport thread) ----

  void on_request(net::RequestFrame frame, net::Responder responder) {
    if (stopping.load()) return responder.no_response();
    if (frame.api_key == raft_api::kApiVersions) {
      std::optional<ApiVersionsFeatures> levels;
      if (features) levels = features();
      return responder.respond(encode_api_versions_response(frame.api_version, frame.correlation_id,
                                                            config.fallback_apis, levels ? &*levels : nullptr));
    }
    bool raft_api = frame.api_key == raft_api::kFetch || frame.api_key == raft_api::kVote ||
                    frame.api_key == raft_api::kBeginQuorumEpoch || frame.api_key == raft_api::kEndQuorumEpoch ||
                    frame.api_key == raft_api::kFetchSnapshot;
    if (!raft_api && fallback) return fallback(std::move(frame), std::move(responder));
    auto in = decode_request(frame.frame, config.wire);
    if (!in.ok()) {
      stats.malformed_frames.fetch_add(1);
      log::warn("raft", "closing inbound connection from " + frame.peer + ": " + in.error().to_string());
      return responder.close();
    }
    if ((in->to != kNoNode && in->to != config.self_id) || !inbound) {
      // Meant for another node, or the node is not listening to us yet.
      stats.error_answers.fetch_add(1);
      return responder.respond(
          encode_error_response(in->key, inbound ? kafka_error::kInvalidRequest : kafka_error::kRequestTimedOut));
    }
    uint64_t token = next_token++;
    if (auto* fetch = std::get_if<FetchRequest>(&in->message)) fetch->request_id = token;
    if (auto* fetch = std::get_if<FetchSnapshotRequest>(&in->message)) fetch->request_id = token;
    if (pending.size() >= config.max_pending_inbound) answer_with_error(pending.begin());
    pending.emplace(token, Pending{in->from, in->key, frame.connection_id, in->message, std::move(responder),
                                   Clock::now()});
    stats.requests_received.fetch_add(1);
    deliver(in->from, std::move(in->message));
  }

  void on_connection_closed(uint64_t connection_id) {
    for (auto it = pending.begin(); it != pending.end();) {
      if (it->second.connection_id == connection_id) {
        it->second.responder.no_response();  // the connection is gone: nothing to write
        it = pending.erase(it);
      } else {
        ++it;
      }
    }
  }

  std::map<uint64_t, Pending>::iterator answer_with_error(std::map<uint64_t, Pending>::iterator it) {
    stats.error_answers.fetch_add(1);
    it->second.responder.respond(encode_error_response(it->second.key, kafka_error::kRequestTimedOut));
    return pending.erase(it);
  }

  bool answers(const Pending& p, const RaftMessage& response, uint64_t token) const {
    if (p.key.api_key != api_key_of(response)) return false;
    if (const auto* fetch = std::get_if<FetchResponse>(&response)) return fetch->request_id == token;
    if (const auto* fetch = std::get_if<FetchSnapshotResponse>(&response)) return fetch->request_id == token;
    if (const auto* vote = std::get_if<VoteResponse>(&response)) {
      const auto& asked = std::get<VoteRequest>(p.request);
      return asked.candidate_epoch == vote->candidate_epoch && asked.pre_vote == vote->pre_vote;
    }
    return true;
  }

  void answer(NodeId to, const RaftMessage& response) {
    auto match = pending.begin();
    for (; match != pending.end(); ++match) {
      if (match->second.from == to && answers(match->second, response, match->first)) break;
    }
    if (match == pending.end()) {
      stats.dropped_unmatched_response.fetch_add(1);
      return;
    }
    // Responses leave a connection in request order, and the replica answers in arrival order:
    // an older request on the same connection still unanswered now never will be.
    for (auto it = pending.begin(); it != match;) {
      it = it->second.connection_id == match->second.connection_id ? answer_with_error(it) : std::next(it);
    }
    auto bytes = encode_response(response, match->second.key);
    if (bytes.ok()) {
      stats.responses_sent.fetch_add(1);
      match->second.responder.respond(std::move(*bytes));
    } else {
      log::error("raft", "cannot encode " + std::string(message_name(response)) + ": " + bytes.error().to_string());
      stats.error_answers.fetch_add(1);
      match->second.responder.respond(encode_error_response(match->second.key, kafka_error::kUnknownServerError));
    }
    pending.erase(match);
  }

  void arm_sweep() {
    if (stopping.load()) return;
    sweep_timer.expires_after(Ms(std::max<int64_t>(config.answer_timeout_ms / 4, 10)));
    sweep_timer.async_wait([this](asio::error_code ec) {
      if (ec || stopping.load()) return;
      auto deadline = Clock::now() - Ms(config.answer_timeout_ms);
      for (auto it = pending.begin(); it != pending.end();) {
        it = it->second.received <= deadline ? answer_with_error(it) : std::next(it);
      }
      arm_sweep();
    });
  }

  void deliver(NodeId from, RaftMessage message) {
    if (stopping.load() || !inbound) return;
    inbound(from, std::move(message));
  }

  // ---- outbound (transport thread) ----

  void on_send(NodeId to, RaftMessage message) {
    if (stopping.load()) return;
    if (!is_request(message)) return answer(to, message);
    auto it = peers.find(to);
    if (it == peers.end() || it->second->port == 0) {
      stats.dropped_unknown_peer.fetch_add(1);
      return;
    }
    Peer& peer = *it->second;
    peer.queue.push_back(std::move(message));
    while (peer.queue.size() > config.max_queued_messages) {
      peer.queue.pop_front();
      stats.dropped_queue_full.fetch_add(1);
    }
    if (!peer.link && !peer.retry_pending) connect(peer);
    flush(peer);
  }

  void connect(Peer& peer) {
    auto link = std::make_shared<Link>(io);
    peer.link = link;
    link->connect_timer.expires_after(Ms(config.connect_timeout_ms));
    link->connect_timer.async_wait([this, &peer, link](asio::error_code ec) {
      if (!ec && !link->connected) fail(peer, link, "connect timed out");
    });
    auto on_connected = [this, &peer, link](asio::error_code ec) {
      if (link->closed) return;
      if (ec) return fail(peer, link, "connect: " + ec.message());
      link->connected = true;
      link->connect_timer.cancel();
      asio::error_code ignored;
      link->socket.set_option(tcp::no_delay(true), ignored);
      peer.backoff_ms = 0;
      stats.connects.fetch_add(1);
      read_size(peer, link);
      flush(peer);
    };
    asio::error_code ec;
    auto address = asio::ip::make_address(peer.host, ec);
    if (!ec) {
      link->socket.async_connect(tcp::endpoint(address, peer.port), on_connected);
      return;
    }
    link->resolver.async_resolve(
        peer.host, std::to_string(peer.port),
        [this, &peer, link, on_connected](asio::error_code rec, tcp::resolver::results_type results) {
          if (link->closed) return;
          if (rec) return fail(peer, link, "resolve " + peer.host + ": " + rec.message());
          asio::async_connect(link->socket, results,
                              [on_connected](asio::error_code cec, const tcp::endpoint&) { on_connected(cec); });
        });
  }

  void close_link(Link& link) {
    link.closed = true;
    asio::error_code ignored;
    link.socket.shutdown(tcp::socket::shutdown_both, ignored);
    link.socket.close(ignored);
    link.resolver.cancel();
    link.connect_timer.cancel();
  }

  void fail(Peer& peer, const std::shared_ptr<Link>& link, const std::string& why) {
    if (link->closed) return;
    if (!link->connected) stats.connect_failures.fetch_add(1);
    log::debug("raft", "connection to node " + std::to_string(peer.id) + " (" + peer.host + ":" +
                           std::to_string(peer.port) + ") failed: " + why);
    close_link(*link);
    if (peer.link == link) peer.link.reset();
    if (!stopping.load()) schedule_retry(peer);
  }

  void schedule_retry(Peer& peer) {
    if (peer.retry_pending) return;
    peer.backoff_ms = peer.backoff_ms == 0 ? config.reconnect_backoff_ms
                                           : std::min(peer.backoff_ms * 2, config.reconnect_backoff_max_ms);
    peer.retry_pending = true;
    peer.retry_timer.expires_after(Ms(peer.backoff_ms));
    peer.retry_timer.async_wait([this, &peer](asio::error_code ec) {
      peer.retry_pending = false;
      if (ec || stopping.load()) return;
      if (!peer.link && !peer.queue.empty()) connect(peer);  // else idle until the next send
    });
  }

  void flush(Peer& peer) {
    std::shared_ptr<Link> link = peer.link;
    if (!link || !link->connected || link->closed) return;
    while (!peer.queue.empty() && link->writes.size() < kMaxWritesQueued) {
      if (link->next_correlation_id == INT32_MAX) {
        return fail(peer, link, "correlation ids exhausted; reconnecting");
      }
      RaftMessage message = std::move(peer.queue.front());
      peer.queue.pop_front();
      int32_t correlation_id = link->next_correlation_id++;
      int16_t api = api_key_of(message);
      Bytes body = encode_request(message, peer.id, correlation_id, config.wire);
      link->in_flight.emplace(correlation_id, OutboundRequest{{api, write_version(api), correlation_id}, std::move(message)});
      while (link->in_flight.size() > config.max_in_flight) link->in_flight.erase(link->in_flight.begin());
      link->writes.push_back(with_size_prefix(body));
      stats.requests_sent.fetch_add(1);
    }
    write_next(peer, link);
  }

  void write_next(Peer& peer, const std::shared_ptr<Link>& link) {
    if (link->writing || link->closed || link->writes.empty()) return;
    link->writing = true;
    asio::async_write(link->socket, asio::buffer(link->writes.front()), [this, &peer, link](asio::error_code ec, size_t) {
      link->writing = false;
      if (link->closed) return;
      if (ec) return fail(peer, link, "write: " + ec.message());
      link->writes.pop_front();
      write_next(peer, link);
      if (peer.link == link) flush(peer);
    });
  }

  void read_size(Peer& peer, const std::shared_ptr<Link>& link) {
    asio::async_read(link->socket, asio::buffer(link->size_buf), [this, &peer, link](asio::error_code ec, size_t) {
      if (link->closed) return;
      if (ec) return fail(peer, link, "read: " + ec.message());
      const uint8_t* b = link->size_buf;
      auto size = static_cast<int32_t>((uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3]);
      if (size < 4 || static_cast<size_t>(size) > config.max_frame_bytes) {
        stats.malformed_frames.fetch_add(1);
        return fail(peer, link, "response frame size " + std::to_string(size) + " out of bounds");
      }
      link->body.assign(static_cast<size_t>(size), 0);
      asio::async_read(link->socket, asio::buffer(link->body), [this, &peer, link](asio::error_code rec, size_t) {
        if (link->closed) return;
        if (rec) return fail(peer, link, "read: " + rec.message());
        on_response(peer, link, SharedBytes(std::move(link->body)));
        if (!link->closed) read_size(peer, link);
      });
    });
  }

  void on_response(Peer& peer, const std::shared_ptr<Link>& link, const SharedBytes& frame) {
    auto correlation_id = peek_correlation_id(frame.span());
    if (!correlation_id.ok()) return fail(peer, link, "short response");
    auto it = link->in_flight.find(*correlation_id);
    if (it == link->in_flight.end()) {
      log::debug("raft", "node " + std::to_string(peer.id) + " answered unknown correlation id " +
                             std::to_string(*correlation_id));
      return;
    }
    OutboundRequest request = std::move(it->second);
    // Answers arrive in request order: anything older is never going to be answered.
    link->in_flight.erase(link->in_flight.begin(), std::next(it));
    auto out = decode_response(frame, request, config.wire);
    if (!out.ok()) {
      stats.malformed_frames.fetch_add(1);
      log::warn("raft", "closing connection to node " + std::to_string(peer.id) + ": " + out.error().to_string());
      return fail(peer, link, "malformed response");
    }
    if (!out->has_value()) return;  // an error answer: Raft retries on its own timers
    stats.responses_received.fetch_add(1);
    deliver(peer.id, std::move(**out));
  }

  void shutdown_on_io() {
    sweep_timer.cancel();
    for (auto& [id, peer] : peers) {
      peer->retry_timer.cancel();
      if (peer->link) close_link(*peer->link);
      peer->link.reset();
      peer->queue.clear();
    }
    for (auto& [token, p] : pending) p.responder.no_response();
    pending.clear();
  }

  TcpTransportConfig config;
  AtomicStats stats;
  asio::io_context io{1};  // destroyed last: every socket and timer below belongs to it
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  asio::steady_timer sweep_timer;
  std::map<NodeId, std::unique_ptr<Peer>> peers;  // transport thread only (after construction)
  std::map<uint64_t, Pending> pending;  // by arrival token; transport thread only
  uint64_t next_token = 1;
  Inbound inbound;  // transport thread only
  TcpRaftTransport::Fallback fallback;  // set before listen(), then read on the transport thread
  TcpRaftTransport::FeaturesSource features;  // likewise
  std::atomic<bool> stopping{false};
  std::atomic<std::thread::id> io_thread_id{};
  Handler handler;
  std::unique_ptr<net::Server> server;  // after handler: destroyed before it
  std::thread thread;
  std::mutex lifecycle_mu;
  bool listened = false;
  bool stopped = false;
  uint16_t port = 0;
};

TcpRaftTransport::TcpRaftTransport(TcpTransportConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}

TcpRaftTransport::~TcpRaftTransport() { stop(); }

Status TcpRaftTransport::listen() {
  std::lock_guard lock(impl_->lifecycle_mu);
  if (impl_->stopped) return Error(Errc::invalid_value, "raft transport is stopped");
  if (impl_->listened) return ok_status();
  net::ServerConfig server_config;
  server_config.host = impl_->config.listen_host;
  server_config.port = impl_->config.listen_port;
  server_config.io_threads = 1;
  server_config.max_request_bytes = impl_->config.max_frame_bytes;
  auto server = std::make_unique<net::Server>(server_config, impl_->handler);
  FLOE_TRY(server->start());
  impl_->port = server->port();
  impl_->server = std::move(server);
  impl_->listened = true;
  impl_->ensure_thread();
  return ok_status();
}

uint16_t TcpRaftTransport::port() const {
  std::lock_guard lock(impl_->lifecycle_mu);
  return impl_->port;
}

void TcpRaftTransport::set_peer_address(NodeId id, std::string host, uint16_t port) {
  if (id == impl_->config.self_id) return;
  asio::post(impl_->io, [impl = impl_.get(), id, host = std::move(host), port]() mutable {
    auto& peer = impl->peers[id];
    if (!peer) {
      peer = std::make_unique<Impl::Peer>(impl->io);
      peer->id = id;
    }
    peer->host = std::move(host);
    peer->port = port;
  });
}

void TcpRaftTransport::set_fallback(Fallback fallback) {
  std::lock_guard lock(impl_->lifecycle_mu);
  FLOE_ASSERT_MSG(!impl_->listened, "set_fallback after listen");
  impl_->fallback = std::move(fallback);
}

void TcpRaftTransport::set_api_versions_features(FeaturesSource source) {
  std::lock_guard lock(impl_->lifecycle_mu);
  FLOE_ASSERT_MSG(!impl_->listened, "set_api_versions_features after listen");
  impl_->features = std::move(source);
}

void TcpRaftTransport::start(Inbound inbound) {
  bool listened = false;
  {
    std::lock_guard lock(impl_->lifecycle_mu);
    if (impl_->stopped) return;
    listened = impl_->listened;
  }
  if (!listened) {
    auto status = listen();
    if (!status.ok()) log::error("raft", "raft transport cannot listen (outbound only): " + status.error().to_string());
  }
  std::lock_guard lock(impl_->lifecycle_mu);
  if (impl_->stopped) return;
  impl_->ensure_thread();
  asio::post(impl_->io, [impl = impl_.get(), inbound = std::move(inbound)]() mutable { impl->inbound = std::move(inbound); });
}

void TcpRaftTransport::send(NodeId to, RaftMessage message) {
  if (impl_->stopping.load()) return;
  asio::post(impl_->io, [impl = impl_.get(), to, message = std::move(message)]() mutable {
    impl->on_send(to, std::move(message));
  });
}

void TcpRaftTransport::stop() {
  {
    std::lock_guard lock(impl_->lifecycle_mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
  }
  FLOE_ASSERT_MSG(impl_->io_thread_id.load() != std::this_thread::get_id(),
                  "TcpRaftTransport::stop() called from its own thread (an Inbound callback)");
  impl_->stopping.store(true);
  if (impl_->server) impl_->server->stop();  // no request is handed over after this
  if (impl_->thread.joinable()) {
    asio::post(impl_->io, [impl = impl_.get()] { impl->shutdown_on_io(); });
    impl_->guard.reset();
    impl_->thread.join();
  }
  // Run what is left (aborted operations, late posts): each sees `stopping` and does nothing.
  impl_->io.restart();
  impl_->io.poll();
  impl_->shutdown_on_io();
}

TcpTransportStats TcpRaftTransport::stats() const {
  const AtomicStats& s = impl_->stats;
  TcpTransportStats out;
  out.requests_sent = s.requests_sent.load();
  out.responses_received = s.responses_received.load();
  out.requests_received = s.requests_received.load();
  out.responses_sent = s.responses_sent.load();
  out.dropped_queue_full = s.dropped_queue_full.load();
  out.dropped_unknown_peer = s.dropped_unknown_peer.load();
  out.dropped_unmatched_response = s.dropped_unmatched_response.load();
  out.error_answers = s.error_answers.load();
  out.connects = s.connects.load();
  out.connect_failures = s.connect_failures.load();
  out.malformed_frames = s.malformed_frames.load();
  return out;
}

}  // namespace floe::raft
