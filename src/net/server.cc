#include "net/server.h"

#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <thread>
#include <vector>

#include "common/log.h"

namespace floe::net {

class Responder::Sink {
 public:
  virtual ~Sink() = default;
  virtual void complete(uint64_t sequence, std::optional<Bytes> response, bool close) = 0;
};

Responder::~Responder() {
  if (sink_) {
    log::error("net", "a request handler dropped its responder without answering; closing the connection");
    complete(std::nullopt, true);
  }
}
void Responder::respond(Bytes response) { complete(std::move(response), false); }
void Responder::no_response() { complete(std::nullopt, false); }
void Responder::close() { complete(std::nullopt, true); }
void Responder::complete(std::optional<Bytes> response, bool close) {
  FLOE_ASSERT_MSG(sink_ != nullptr, "a request was answered twice");
  auto sink = std::move(sink_);
  sink_.reset();
  sink->complete(sequence_, std::move(response), close);
}

namespace {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// Counters and limits shared by the server and its connections. Connections hold it by
// shared_ptr so a late completion never touches a destroyed Server.
struct Shared {
  ServerConfig config;
  RequestHandler* handler = nullptr;
  std::atomic<uint64_t> next_connection_id{1};
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_open{0};
  std::atomic<uint64_t> connections_rejected{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> framing_errors{0};
  std::atomic<uint64_t> inflight_bytes{0};
  // Set once the I/O threads are gone: late answers are dropped instead of queued on a context
  // that will never run again (which would keep the connection alive forever).
  std::atomic<bool> threads_stopped{false};
};

constexpr auto kGlobalBackpressurePoll = std::chrono::milliseconds(2);
constexpr size_t kMinHeaderBytes = 8;  // api_key, api_version, correlation_id

class Connection final : public Responder::Sink, public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<Shared> shared, std::shared_ptr<asio::io_context> context, tcp::socket socket)
      : shared_(std::move(shared)),
        context_(std::move(context)),
        socket_(std::move(socket)),
        idle_timer_(*context_),
        backpressure_timer_(*context_),
        id_(shared_->next_connection_id.fetch_add(1)) {
    asio::error_code ec;
    auto ep = socket_.remote_endpoint(ec);
    if (!ec) peer_ = ep.address().to_string() + ":" + std::to_string(ep.port());
    socket_.set_option(tcp::no_delay(true), ec);
  }

  void start() {
    last_activity_ = Clock::now();
    arm_idle_timer();
    read_size();
  }

  // Runs on this connection's context.
  void close_now() {
    if (closed_) return;
    closed_ = true;
    asio::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    idle_timer_.cancel();
    backpressure_timer_.cancel();
    for (auto& [seq, bytes] : pending_request_bytes_) shared_->inflight_bytes.fetch_sub(bytes);
    pending_request_bytes_.clear();
    completed_.clear();
    write_queue_.clear();
    shared_->connections_open.fetch_sub(1);
    shared_->handler->connection_closed(id_);
  }

  void complete(uint64_t sequence, std::optional<Bytes> response, bool close) override {
    if (shared_->threads_stopped.load()) return;
    asio::post(*context_, [self = shared_from_this(), sequence, response = std::move(response), close]() mutable {
      self->on_complete(sequence, std::move(response), close);
    });
  }

 private:
  struct Completed {
    std::optional<Bytes> response;
    bool close = false;
  };

  void read_size() {
    if (closed_) return;
    reading_ = true;
    asio::async_read(socket_, asio::buffer(size_buf_), [self = shared_from_this()](asio::error_code ec, size_t) {
      self->reading_ = false;
      if (ec) return self->close_now();
      self->on_size();
    });
  }

  void on_size() {
    int32_t size = static_cast<int32_t>((uint32_t{size_buf_[0]} << 24) | (uint32_t{size_buf_[1]} << 16) |
                                        (uint32_t{size_buf_[2]} << 8) | uint32_t{size_buf_[3]});
    if (size < static_cast<int32_t>(kMinHeaderBytes) || static_cast<size_t>(size) > shared_->config.max_request_bytes) {
      shared_->framing_errors.fetch_add(1);
      log::warn("net", "closing " + peer_ + ": request frame size " + std::to_string(size) + " outside [" +
                           std::to_string(kMinHeaderBytes) + ", " + std::to_string(shared_->config.max_request_bytes) +
                           "] (socket.request.max.bytes)");
      return close_now();
    }
    body_ = std::make_shared<Bytes>(static_cast<size_t>(size));
    reading_ = true;
    asio::async_read(socket_, asio::buffer(*body_), [self = shared_from_this()](asio::error_code ec, size_t) {
      self->reading_ = false;
      if (ec) return self->close_now();
      self->on_frame();
    });
  }

  void on_frame() {
    last_activity_ = Clock::now();
    const Bytes& b = *body_;
    RequestFrame req;
    req.connection_id = id_;
    req.api_key = static_cast<int16_t>((b[0] << 8) | b[1]);
    req.api_version = static_cast<int16_t>((b[2] << 8) | b[3]);
    req.correlation_id = static_cast<int32_t>((uint32_t{b[4]} << 24) | (uint32_t{b[5]} << 16) | (uint32_t{b[6]} << 8) | b[7]);
    req.peer = peer_;
    size_t bytes = b.size();
    req.frame = SharedBytes(std::shared_ptr<const Bytes>(std::move(body_)), b.data(), bytes);
    body_.reset();

    uint64_t seq = next_sequence_++;
    pending_request_bytes_[seq] = bytes;
    conn_inflight_bytes_ += bytes;
    shared_->inflight_bytes.fetch_add(bytes);
    shared_->requests.fetch_add(1);
    shared_->handler->handle(std::move(req), Responder(shared_from_this(), seq));
    maybe_read_next();
  }

  bool over_limits() const {
    return conn_inflight_bytes_ + queued_write_bytes_ > shared_->config.max_inflight_bytes_per_connection ||
           shared_->inflight_bytes.load() > shared_->config.max_inflight_bytes_total;
  }

  void maybe_read_next() {
    if (closed_ || reading_) return;
    if (!over_limits()) return read_size();
    // Per-connection pressure is released by this connection's own completions (on_complete
    // calls back here); server-wide pressure by others', so poll for it.
    backpressure_timer_.expires_after(kGlobalBackpressurePoll);
    backpressure_timer_.async_wait([self = shared_from_this()](asio::error_code ec) {
      if (!ec) self->maybe_read_next();
    });
  }

  void on_complete(uint64_t sequence, std::optional<Bytes> response, bool close) {
    if (closed_) return;
    auto it = pending_request_bytes_.find(sequence);
    FLOE_ASSERT(it != pending_request_bytes_.end());
    conn_inflight_bytes_ -= it->second;
    shared_->inflight_bytes.fetch_sub(it->second);
    pending_request_bytes_.erase(it);
    completed_.emplace(sequence, Completed{std::move(response), close});
    // Invariant (1): release answers strictly in arrival order.
    while (!completed_.empty() && completed_.begin()->first == next_sequence_to_write_) {
      Completed c = std::move(completed_.begin()->second);
      completed_.erase(completed_.begin());
      ++next_sequence_to_write_;
      if (c.close) return close_now();
      if (c.response) enqueue_write(std::move(*c.response));
    }
    maybe_read_next();
  }

  void enqueue_write(Bytes response) {
    Bytes framed(4 + response.size());
    uint32_t n = static_cast<uint32_t>(response.size());
    framed[0] = static_cast<uint8_t>(n >> 24);
    framed[1] = static_cast<uint8_t>(n >> 16);
    framed[2] = static_cast<uint8_t>(n >> 8);
    framed[3] = static_cast<uint8_t>(n);
    std::copy(response.begin(), response.end(), framed.begin() + 4);
    queued_write_bytes_ += framed.size();
    write_queue_.push_back(std::move(framed));
    if (!writing_) write_next();
  }

  void write_next() {
    if (closed_ || write_queue_.empty()) return;
    writing_ = true;
    asio::async_write(socket_, asio::buffer(write_queue_.front()), [self = shared_from_this()](asio::error_code ec, size_t) {
      self->writing_ = false;
      if (ec || self->closed_) return self->close_now();
      self->queued_write_bytes_ -= self->write_queue_.front().size();
      self->write_queue_.pop_front();
      self->last_activity_ = Clock::now();
      self->write_next();
      self->maybe_read_next();
    });
  }

  void arm_idle_timer() {
    if (shared_->config.idle_timeout_ms <= 0) return;
    auto period = std::chrono::milliseconds(std::max<int64_t>(shared_->config.idle_timeout_ms / 4, 10));
    idle_timer_.expires_after(period);
    idle_timer_.async_wait([self = shared_from_this()](asio::error_code ec) {
      if (ec || self->closed_) return;
      auto idle = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - self->last_activity_).count();
      if (idle >= self->shared_->config.idle_timeout_ms && self->pending_request_bytes_.empty() && !self->writing_) {
        log::debug("net", "closing idle connection " + self->peer_);
        return self->close_now();
      }
      self->arm_idle_timer();
    });
  }

  std::shared_ptr<Shared> shared_;
  std::shared_ptr<asio::io_context> context_;
  tcp::socket socket_;
  asio::steady_timer idle_timer_;
  asio::steady_timer backpressure_timer_;
  uint64_t id_;
  std::string peer_;
  uint8_t size_buf_[4] = {};
  std::shared_ptr<Bytes> body_;
  bool closed_ = false;
  bool reading_ = false;
  bool writing_ = false;
  Clock::time_point last_activity_;
  uint64_t next_sequence_ = 0;
  uint64_t next_sequence_to_write_ = 0;
  std::map<uint64_t, size_t> pending_request_bytes_;
  std::map<uint64_t, Completed> completed_;
  size_t conn_inflight_bytes_ = 0;
  std::deque<Bytes> write_queue_;
  size_t queued_write_bytes_ = 0;
};

}  // namespace

struct Server::Impl {
  std::shared_ptr<Shared> shared = std::make_shared<Shared>();
  std::vector<std::shared_ptr<asio::io_context>> contexts;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::thread> threads;
  std::unique_ptr<tcp::acceptor> acceptor;
  // Connections per context, touched only on that context's thread; weak so a closed
  // connection frees itself.
  std::vector<std::vector<std::weak_ptr<Connection>>> connections;
  size_t next_context = 0;
  uint16_t port = 0;
  bool started = false;
  std::atomic<bool> stopped{false};

  void accept_next() {
    size_t index = next_context++ % contexts.size();
    auto context = contexts[index];
    acceptor->async_accept(*context, [this, index, context](asio::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;  // stop_accepting/stop
        log::warn("net", "accept failed: " + ec.message());
        return accept_next();
      }
      if (shared->connections_open.load() >= shared->config.max_connections) {
        shared->connections_rejected.fetch_add(1);
        asio::error_code ignored;
        socket.close(ignored);
        return accept_next();
      }
      shared->connections_accepted.fetch_add(1);
      shared->connections_open.fetch_add(1);
      asio::post(*context, [this, index, context, s = std::make_shared<tcp::socket>(std::move(socket))]() mutable {
        if (stopped.load()) {
          shared->connections_open.fetch_sub(1);
          return;  // the socket closes as s goes away
        }
        auto conn = std::make_shared<Connection>(shared, context, std::move(*s));
        auto& list = connections[index];
        std::erase_if(list, [](const std::weak_ptr<Connection>& w) { return w.expired(); });
        list.push_back(conn);
        conn->start();
      });
      accept_next();
    });
  }
};

Server::Server(ServerConfig config, RequestHandler& handler) : impl_(std::make_unique<Impl>()) {
  impl_->shared->config = std::move(config);
  impl_->shared->handler = &handler;
}

Server::~Server() { stop(); }

Status Server::start() {
  FLOE_ASSERT(!impl_->started);
  impl_->started = true;
  const ServerConfig& cfg = impl_->shared->config;
  size_t n = cfg.io_threads != 0 ? cfg.io_threads : std::max<size_t>(1, std::thread::hardware_concurrency());
  for (size_t i = 0; i < n; ++i) {
    impl_->contexts.push_back(std::make_shared<asio::io_context>(1));
    impl_->guards.push_back(asio::make_work_guard(*impl_->contexts.back()));
  }
  impl_->connections.resize(n);

  asio::error_code ec;
  tcp::resolver resolver(*impl_->contexts[0]);
  auto endpoints = resolver.resolve(cfg.host, std::to_string(cfg.port), tcp::resolver::passive, ec);
  if (ec || endpoints.empty()) return Error(Errc::config, "cannot resolve listener host '" + cfg.host + "': " + ec.message());
  tcp::endpoint endpoint = endpoints.begin()->endpoint();
  auto acceptor = std::make_unique<tcp::acceptor>(*impl_->contexts[0]);
  if (acceptor->open(endpoint.protocol(), ec); ec) return Error(Errc::io, "socket: " + ec.message());
  acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (acceptor->bind(endpoint, ec); ec)
    return Error(Errc::io, "cannot listen on " + cfg.host + ":" + std::to_string(cfg.port) + ": " + ec.message());
  if (acceptor->listen(asio::socket_base::max_listen_connections, ec); ec) return Error(Errc::io, "listen: " + ec.message());
  impl_->port = acceptor->local_endpoint().port();
  impl_->acceptor = std::move(acceptor);
  impl_->accept_next();
  for (auto& ctx : impl_->contexts) {
    impl_->threads.emplace_back([ctx] { ctx->run(); });
  }
  return {};
}

void Server::stop_accepting() {
  if (!impl_->started || impl_->stopped) return;
  asio::post(*impl_->contexts[0], [this] {
    asio::error_code ec;
    if (impl_->acceptor) impl_->acceptor->close(ec);
  });
}

bool Server::wait_idle(int64_t timeout_ms) const {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (impl_->shared->inflight_bytes.load() != 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

void Server::stop() {
  if (!impl_->started || impl_->stopped) return;
  impl_->stopped = true;
  // Close the listener and every connection on their own threads, then let the contexts drain.
  asio::post(*impl_->contexts[0], [this] {
    asio::error_code ec;
    if (impl_->acceptor) impl_->acceptor->close(ec);  // none when start() failed to listen
  });
  for (size_t i = 0; i < impl_->contexts.size(); ++i) {
    asio::post(*impl_->contexts[i], [this, i] {
      for (auto& weak : impl_->connections[i])
        if (auto conn = weak.lock()) conn->close_now();
      impl_->connections[i].clear();
    });
  }
  // With the listener and connections closed, every pending operation completes (aborted)
  // and each context runs out of work, so its thread returns.
  for (auto& g : impl_->guards) g.reset();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  impl_->shared->threads_stopped.store(true);
  // Run what was posted while the threads wound down (answers to closed connections: no-ops).
  for (auto& ctx : impl_->contexts) {
    ctx->restart();
    ctx->poll();
  }
}

uint16_t Server::port() const { return impl_->port; }

ServerStats Server::stats() const {
  const Shared& s = *impl_->shared;
  return {s.connections_accepted.load(), s.connections_open.load(), s.connections_rejected.load(),
          s.requests.load(), s.framing_errors.load(), s.inflight_bytes.load()};
}

}  // namespace floe::net
