#include "metadata/remote_controller.h"

#include <algorithm>

#include <asio.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <random>
#include <thread>

#include "common/log.h"
#include "metadata/controller_rpc.h"
#include "protocol/api.h"
#include "protocol/messages.h"
#include "raft/transport_tcp.h"

namespace floe::metadata {

namespace p = protocol;
using stream::Done;

namespace {

int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Non-zero (0: no request id).
int64_t random_request_id() {
  static std::mutex mu;
  static std::mt19937_64 rng([] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(steady_now_ms());
  }());
  std::lock_guard lock(mu);
  int64_t id = 0;
  while (id == 0) id = static_cast<int64_t>(rng());
  return id;
}

Uuid random_uuid() {
  std::random_device rd;
  std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(steady_now_ms()));
  Uuid u;
  for (auto& b : u.bytes) b = static_cast<uint8_t>(rng());
  return u;
}

Error closed_error() { return Error(Errc::internal, "the controller client is closed"); }

constexpr int16_t kCreateTopicsVersion = 7;
constexpr int16_t kDeleteTopicsVersion = 6;
constexpr int16_t kCreatePartitionsVersion = 3;
constexpr int16_t kIncrementalAlterConfigsVersion = 1;
constexpr int16_t kAlterConfigsVersion = 2;
constexpr int16_t kBrokerRegistrationVersion = 0;
constexpr int16_t kBrokerHeartbeatVersion = 0;
constexpr int16_t kAllocateProducerIdsVersion = 0;
constexpr int16_t kUpdateFeaturesVersion = 1;  // per-feature results
constexpr int16_t kAlterPartitionReassignmentsVersion = 0;
constexpr int8_t kResourceTopic = 2;

}  // namespace

// ---------------------------------------------------------------------------------------------
// Rpc: one pipelined connection to the quorum leader, on its own io thread. All members below
// "io-thread state" are touched only on that thread.

class RemoteController::Rpc : public std::enable_shared_from_this<RemoteController::Rpc> {
 public:
  // A response body, or an error (timeout, closed). The handler returns true to resend the
  // request to the (new) leader: the answer was NOT_CONTROLLER.
  using Handler = std::function<bool(Result<SharedBytes>)>;

  Rpc(const RemoteControllerOptions& options, std::function<raft::NodeId()> leader_hint,
      std::function<int64_t()> applied_offset)
      : options_(options),
        leader_hint_(std::move(leader_hint)),
        applied_offset_(std::move(applied_offset)),
        socket_(io_),
        resolver_(io_),
        connect_timer_(io_),
        backoff_timer_(io_),
        sweep_timer_(io_),
        applied_timer_(io_),
        heartbeat_timer_(io_) {
    backoff_ms_ = options_.retry_backoff_ms;
  }

  void start() {
    work_.emplace(io_.get_executor());
    thread_ = std::thread([this] { io_.run(); });
    asio::post(io_, [self = shared_from_this()] { self->arm_sweep(); });
  }

  void stop() {
    if (stopped_.exchange(true)) return;
    asio::post(io_, [self = shared_from_this()] { self->shut(); });
    work_.reset();
    if (thread_.joinable()) thread_.join();
    io_.stop();
  }

  asio::io_context& io() { return io_; }
  bool stopped() const { return stopped_; }

  // Encodes and queues one request.
  // timeout_ms < 0: options.request_timeout_ms.
  template <typename Request>
  void call(const Request& request, int16_t version, Handler handler, int64_t timeout_ms = -1) {
    ByteWriter w(128);
    request.encode(w, version);
    auto r = std::make_shared<Pending>();
    r->api_key = Request::kApiKey;
    r->version = version;
    r->body = w.take();
    r->handler = std::move(handler);
    r->deadline_ms = steady_now_ms() + (timeout_ms < 0 ? options_.request_timeout_ms : timeout_ms);
    if (stopped_) {
      r->handler(closed_error());
      return;
    }
    asio::post(io_, [self = shared_from_this(), r] { self->enqueue(r); });
  }

  // Runs fn (on the io thread) once the local image applied `offset` (read-your-writes).
  void after_applied(int64_t offset, std::function<void()> fn) {
    if (offset < 0 || applied_offset_() >= offset) return fn();
    applied_waiters_.push_back({offset, steady_now_ms() + options_.read_your_writes_timeout_ms, std::move(fn)});
    arm_applied();
  }

  // Heartbeats (io thread): `tick` is called every heartbeat interval until stop.
  void start_heartbeats(std::function<void()> tick) {
    asio::post(io_, [self = shared_from_this(), tick = std::move(tick)] {
      self->heartbeat_tick_ = tick;
      self->arm_heartbeat(0);
    });
  }

 private:
  struct Pending {
    int16_t api_key = 0;
    int16_t version = 0;
    Bytes body;
    Handler handler;  // reset once answered (or timed out)
    int64_t deadline_ms = 0;
    int64_t sent_ms = 0;
    int32_t correlation_id = 0;
  };
  struct AppliedWaiter {
    int64_t offset;
    int64_t deadline_ms;
    std::function<void()> fn;
  };

  static void finish(const std::shared_ptr<Pending>& r, Result<SharedBytes> result) {
    if (!r->handler) return;
    auto handler = std::move(r->handler);
    r->handler = nullptr;
    handler(std::move(result));
  }

  void enqueue(std::shared_ptr<Pending> r) {
    if (stopped_) return finish(r, closed_error());
    if (queue_.size() + inflight_.size() >= options_.max_queued_requests) {
      return finish(r, Error(Errc::too_large, "too many controller requests waiting"));
    }
    queue_.push_back(std::move(r));
    pump();
  }

  void pump() {
    if (stopped_) return;
    if (!connected_) {
      if (!connecting_ && !backing_off_ && !queue_.empty()) connect();
      return;
    }
    if (writing_ || queue_.empty()) return;
    auto r = queue_.front();
    queue_.pop_front();
    if (!r->handler) return pump();  // timed out while queued
    r->correlation_id = next_correlation_id_++;
    r->sent_ms = steady_now_ms();
    ByteWriter w(r->body.size() + 64);
    size_t size_at = w.reserve_slot(4);
    p::RequestHeader header;
    header.request_api_key = r->api_key;
    header.request_api_version = r->version;
    header.correlation_id = r->correlation_id;
    header.client_id = "floe-broker-" + std::to_string(options_.node_id.value());
    header.encode(w, p::request_header_version(r->api_key, r->version));
    w.write_bytes(r->body);
    Bytes frame = w.take();
    uint32_t size = static_cast<uint32_t>(frame.size() - 4);
    frame[size_at] = static_cast<uint8_t>(size >> 24);
    frame[size_at + 1] = static_cast<uint8_t>(size >> 16);
    frame[size_at + 2] = static_cast<uint8_t>(size >> 8);
    frame[size_at + 3] = static_cast<uint8_t>(size);
    inflight_.push_back(r);
    writing_ = true;
    auto buffer = std::make_shared<Bytes>(std::move(frame));
    asio::async_write(socket_, asio::buffer(*buffer),
                      [self = shared_from_this(), buffer, gen = generation_](const asio::error_code& ec, size_t) {
                        if (gen != self->generation_) return;
                        self->writing_ = false;
                        if (ec) return self->drop("write failed: " + ec.message());
                        self->pump();
                      });
  }

  const raft::VoterAddress* pick_target() {
    raft::NodeId leader = leader_hint_();
    for (const auto& v : options_.voters) {
      if (v.id == leader) return &v;
    }
    if (options_.voters.empty()) return nullptr;
    return &options_.voters[next_voter_++ % options_.voters.size()];
  }

  void connect() {
    const raft::VoterAddress* target = pick_target();
    if (target == nullptr) return;
    connecting_ = true;
    target_id_ = target->id;
    uint64_t gen = ++generation_;
    resolver_.async_resolve(
        target->host, std::to_string(target->port),
        [self = shared_from_this(), gen, name = target->host](const asio::error_code& ec,
                                                               asio::ip::tcp::resolver::results_type results) {
          if (gen != self->generation_ || self->stopped_) return;
          if (ec) return self->drop("cannot resolve " + name + ": " + ec.message());
          self->connect_timer_.expires_after(std::chrono::milliseconds(self->options_.connect_timeout_ms));
          self->connect_timer_.async_wait([self, gen](const asio::error_code& tec) {
            if (tec || gen != self->generation_ || !self->connecting_) return;
            self->drop("connect timed out");
          });
          asio::async_connect(self->socket_, results,
                              [self, gen](const asio::error_code& cec, const asio::ip::tcp::endpoint&) {
                                if (gen != self->generation_ || self->stopped_) return;
                                self->connect_timer_.cancel();
                                if (cec) return self->drop("connect failed: " + cec.message());
                                self->connecting_ = false;
                                self->connected_ = true;
                                asio::error_code ignored;
                                self->socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
                                self->read_next();
                                self->pump();
                              });
        });
  }

  // Closes the connection; unanswered requests go back to the head of the queue (same order)
  // and are resent after the backoff.
  void drop(const std::string& why) {
    ++generation_;
    if (connected_ || connecting_) {
      log::debug("controller-client", "connection to controller " + std::to_string(target_id_) + ": " + why);
    }
    asio::error_code ignored;
    socket_.close(ignored);
    connect_timer_.cancel();
    connected_ = connecting_ = writing_ = false;
    while (!inflight_.empty()) {
      auto r = inflight_.back();
      inflight_.pop_back();
      if (r->handler) queue_.push_front(r);
    }
    if (stopped_) return;
    backing_off_ = true;
    backoff_timer_.expires_after(std::chrono::milliseconds(backoff_ms_));
    backoff_ms_ = std::min(backoff_ms_ * 2, options_.retry_backoff_max_ms);
    backoff_timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      if (ec) return;
      self->backing_off_ = false;
      self->pump();
    });
  }

  void read_next() {
    auto size_buf = std::make_shared<std::array<uint8_t, 4>>();
    asio::async_read(socket_, asio::buffer(*size_buf),
                     [self = shared_from_this(), size_buf, gen = generation_](const asio::error_code& ec, size_t) {
                       if (gen != self->generation_) return;
                       if (ec) return self->drop("read failed: " + ec.message());
                       uint32_t size = (uint32_t((*size_buf)[0]) << 24) | (uint32_t((*size_buf)[1]) << 16) |
                                       (uint32_t((*size_buf)[2]) << 8) | uint32_t((*size_buf)[3]);
                       if (size < 4 || size > self->options_.max_response_bytes) {
                         return self->drop("bad response size " + std::to_string(size));
                       }
                       auto body = std::make_shared<Bytes>(size);
                       asio::async_read(self->socket_, asio::buffer(*body),
                                        [self, body, gen](const asio::error_code& bec, size_t) {
                                          if (gen != self->generation_) return;
                                          if (bec) return self->drop("read failed: " + bec.message());
                                          self->on_response(SharedBytes(std::move(*body)));
                                        });
                     });
  }

  void on_response(SharedBytes frame) {
    if (inflight_.empty()) return drop("a response nobody asked for");
    auto r = inflight_.front();
    ByteReader reader(frame);
    p::ResponseHeader header;
    if (!header.decode(reader, p::response_header_version(r->api_key, r->version)).ok() ||
        header.correlation_id != r->correlation_id) {
      return drop("response out of order");
    }
    inflight_.pop_front();
    const uint64_t gen = generation_;
    if (r->handler) {
      auto handler = r->handler;
      bool resend = handler(frame.slice(reader.pos(), frame.size() - reader.pos()));
      if (resend && r->deadline_ms > steady_now_ms()) {
        // Not the leader (any more): resend to the one the replica knows next, after the backoff,
        // ahead of the requests sent after it (drop() requeues those).
        drop("NOT_CONTROLLER");
        queue_.push_front(r);
        return;
      }
      if (resend) finish(r, Error(Errc::timeout, "no controller leader found in time"));
      r->handler = nullptr;
      backoff_ms_ = options_.retry_backoff_ms;
    }
    if (gen == generation_ && connected_) read_next();
  }

 private:
  void arm_sweep() {
    if (stopped_) return;
    sweep_timer_.expires_after(std::chrono::milliseconds(100));
    sweep_timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      if (ec) return;
      self->sweep();
      self->arm_sweep();
    });
  }

  void sweep() {
    int64_t now = steady_now_ms();
    auto expire = [&](const std::shared_ptr<Pending>& r) {
      if (r->handler && r->deadline_ms <= now) {
        finish(r, Error(Errc::timeout, "no answer from the controller quorum within " +
                                           std::to_string(options_.request_timeout_ms) + " ms"));
      }
    };
    for (auto& r : queue_) expire(r);
    for (auto& r : inflight_) expire(r);
    std::erase_if(queue_, [](const auto& r) { return !r->handler; });
    // A connection whose oldest request waits too long is presumed dead.
    if (connected_ && !inflight_.empty() &&
        inflight_.front()->sent_ms + std::min<int64_t>(options_.request_timeout_ms, 10000) <= now) {
      drop("no response for " + std::to_string(now - inflight_.front()->sent_ms) + " ms");
    }
  }

  void arm_applied() {
    if (applied_armed_ || applied_waiters_.empty()) return;
    applied_armed_ = true;
    applied_timer_.expires_after(std::chrono::milliseconds(5));
    applied_timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      self->applied_armed_ = false;
      if (ec) return;
      int64_t applied = self->applied_offset_();
      int64_t now = steady_now_ms();
      std::vector<std::function<void()>> ready;
      std::erase_if(self->applied_waiters_, [&](AppliedWaiter& w) {
        if (w.offset <= applied) {
          ready.push_back(std::move(w.fn));
          return true;
        }
        if (w.deadline_ms <= now) {
          log::warn("controller-client", "metadata offset " + std::to_string(w.offset) +
                                             " not replayed locally in time (at " + std::to_string(applied) + ")");
          ready.push_back(std::move(w.fn));
          return true;
        }
        return false;
      });
      for (auto& fn : ready) fn();
      self->arm_applied();
    });
  }

  void arm_heartbeat(int64_t delay_ms) {
    if (stopped_) return;
    heartbeat_timer_.expires_after(std::chrono::milliseconds(delay_ms));
    heartbeat_timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      if (ec || self->stopped_) return;
      self->heartbeat_tick_();
      self->arm_heartbeat(self->options_.heartbeat_interval_ms);
    });
  }

  void shut() {
    ++generation_;
    asio::error_code ignored;
    socket_.close(ignored);
    resolver_.cancel();
    connect_timer_.cancel();
    backoff_timer_.cancel();
    sweep_timer_.cancel();
    applied_timer_.cancel();
    heartbeat_timer_.cancel();
    auto queued = std::move(queue_);
    auto inflight = std::move(inflight_);
    for (auto& r : inflight) finish(r, closed_error());
    for (auto& r : queued) finish(r, closed_error());
    auto waiters = std::move(applied_waiters_);
    for (auto& w : waiters) w.fn();
  }

  RemoteControllerOptions options_;
  std::function<raft::NodeId()> leader_hint_;
  std::function<int64_t()> applied_offset_;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread thread_;
  std::atomic<bool> stopped_{false};

  // io-thread state
  asio::ip::tcp::socket socket_;
  asio::ip::tcp::resolver resolver_;
  asio::steady_timer connect_timer_;
  asio::steady_timer backoff_timer_;
  asio::steady_timer sweep_timer_;
  asio::steady_timer applied_timer_;
  asio::steady_timer heartbeat_timer_;
  std::deque<std::shared_ptr<Pending>> queue_;
  std::deque<std::shared_ptr<Pending>> inflight_;
  std::vector<AppliedWaiter> applied_waiters_;
  std::function<void()> heartbeat_tick_;
  uint64_t generation_ = 0;
  bool connected_ = false;
  bool connecting_ = false;
  bool writing_ = false;
  bool backing_off_ = false;
  bool applied_armed_ = false;
  int64_t backoff_ms_ = 50;
  int32_t next_correlation_id_ = 1;
  size_t next_voter_ = 0;
  raft::NodeId target_id_ = raft::kNoNode;
};

// ---------------------------------------------------------------------------------------------

namespace {

template <typename Response>
bool not_controller(const Response& r) {
  auto any = [](const auto& list) {
    return std::any_of(list.begin(), list.end(), [](const auto& x) { return x.error_code == rpc::kNotController; });
  };
  if constexpr (requires { r.error_code; }) {
    return r.error_code == rpc::kNotController;
  } else if constexpr (requires { r.topics; }) {
    return any(r.topics);
  } else if constexpr (requires { r.results; }) {
    return any(r.results);
  } else {
    return any(r.responses);
  }
}

template <typename Response>
int64_t written_offset(const Response& r) {
  if constexpr (requires { r.metadata_offset; }) {
    return r.metadata_offset;
  } else {
    return rpc::metadata_offset(r.unknown_tagged_fields);
  }
}

// Sends one request; `done` gets the decoded response once the local image has applied the
// write (or the error). Runs on the Rpc thread.
template <typename Response, typename Request>
void send(const std::shared_ptr<RemoteController::Rpc>& rpc, const Request& request, int16_t version,
          std::function<void(Result<Response>)> done, int64_t timeout_ms = -1) {
  std::weak_ptr<RemoteController::Rpc> weak = rpc;
  rpc->call(request, version, [weak, version, done](Result<SharedBytes> body) -> bool {
    if (!body.ok()) {
      done(body.take_error());
      return false;
    }
    Response response;
    ByteReader r(*body);
    if (Status s = response.decode(r, version); !s.ok()) {
      done(Error(Errc::corrupt, "undecodable controller response: " + s.error().message));
      return false;
    }
    if (not_controller(response)) return true;
    auto rpc = weak.lock();
    if (!rpc) {
      done(std::move(response));
      return false;
    }
    int64_t offset = written_offset(response);
    auto shared = std::make_shared<Response>(std::move(response));
    rpc->after_applied(offset, [done, shared] { done(std::move(*shared)); });
    return false;
  }, timeout_ms);
}

template <typename Response>
Status wire_status(const Response& r) {
  return rpc::from_wire(r.error_code, r.status_code, r.error_message);
}

}  // namespace

RemoteController::RemoteController(RemoteControllerOptions options) : options_(std::move(options)) {}

RemoteController::~RemoteController() { close(); }

Result<std::unique_ptr<RemoteController>> RemoteController::open(RemoteControllerOptions options) {
  std::unique_ptr<RemoteController> c(new RemoteController(std::move(options)));
  if (Status s = c->start(); !s.ok()) {
    c->close();
    return s.error();
  }
  return c;
}

Status RemoteController::start() {
  if (options_.voters.empty()) return Error(Errc::config, "controller.quorum.voters: no controller");
  for (const auto& v : options_.voters) {
    if (v.id == options_.node_id.value()) {
      return Error(Errc::config, "controller.quorum.voters: a broker-only node (" +
                                     std::to_string(v.id) + ") cannot be a voter");
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(options_.log_dir, ec);
  if (ec) return Error(Errc::io, "metadata.log.dir: cannot create '" + options_.log_dir + "': " + ec.message());

  raft::TcpTransportConfig tc;
  tc.self_id = options_.node_id.value();
  tc.voters = options_.voters;
  tc.listen_host = "127.0.0.1";  // an observer is only ever answered on its own connections
  tc.listen_port = 0;
  tc.wire.listener_name = options_.controller_listener_name;
  transport_ = std::make_unique<raft::TcpRaftTransport>(tc);

  ControllerOptions co;
  co.node_id = options_.node_id;
  co.log_dir = options_.log_dir;
  co.voters = options_.voters;
  co.transport = transport_.get();
  co.open_timeout_ms = options_.open_timeout_ms;
  co.snapshot_interval_entries = options_.snapshot_interval_entries;
  co.snapshot_retention_ms = options_.snapshot_retention_ms;
  co.snapshot_retention_bytes = options_.snapshot_retention_bytes;
  auto local = Controller::open(co);
  if (!local.ok()) return local.take_error();
  local_ = std::move(*local);

  Controller* local_ptr = local_.get();
  rpc_ = std::make_shared<Rpc>(
      options_, [local_ptr] { return local_ptr->raft_status().leader_id; },
      [local_ptr] { return local_ptr->image()->offset; });
  rpc_->start();
  return ok_status();
}

void RemoteController::close() {
  if (closed_.exchange(true)) return;
  if (rpc_) rpc_->stop();
  if (local_) local_->close();
  if (transport_) transport_->stop();
}

raft::NodeStatus RemoteController::raft_status() const { return local_->raft_status(); }

std::shared_ptr<const MetadataImage> RemoteController::image() const { return local_->image(); }

int32_t RemoteController::controller_id() const { return local_->raft_status().leader_id; }

// ---- topics ----

namespace {
std::vector<TopicResult> failed_topics(const std::vector<std::string>& names, const Error& e) {
  std::vector<TopicResult> out;
  for (const auto& n : names) {
    TopicResult t;
    t.name = n;
    t.error_code = e.code == Errc::timeout ? kafka_errors::kRequestTimedOut : kafka_errors::kUnknownServerError;
    t.error_message = e.message;
    out.push_back(std::move(t));
  }
  return out;
}
}  // namespace

void RemoteController::create_topics(std::vector<TopicSpec> topics, bool validate_only,
                                     Callback<std::vector<TopicResult>> done) {
  p::CreateTopicsRequest req;
  req.timeout_ms = static_cast<int32_t>(options_.request_timeout_ms);
  req.validate_only = validate_only;
  std::vector<std::string> names;
  for (const auto& t : topics) {
    auto& out = req.topics.emplace_back();
    out.name = t.name;
    out.num_partitions = t.num_partitions;
    out.replication_factor = -1;
    for (const auto& [k, v] : t.configs) {
      auto& cfg = out.configs.emplace_back();
      cfg.name = k;
      cfg.value = v;
    }
    names.push_back(t.name);
  }
  send<p::CreateTopicsResponse>(rpc_, req, kCreateTopicsVersion, [done, names](Result<p::CreateTopicsResponse> r) {
    if (!r.ok()) return done(failed_topics(names, r.error()));
    std::vector<TopicResult> out;
    for (const auto& t : r->topics) {
      TopicResult tr;
      tr.name = t.name;
      tr.topic_id = t.topic_id;
      tr.num_partitions = t.num_partitions;
      tr.error_code = t.error_code;
      tr.error_message = t.error_message.value_or("");
      out.push_back(std::move(tr));
    }
    done(std::move(out));
  });
}

void RemoteController::delete_topics(std::vector<std::string> names, Callback<std::vector<TopicResult>> done) {
  p::DeleteTopicsRequest req;
  req.timeout_ms = static_cast<int32_t>(options_.request_timeout_ms);
  for (const auto& n : names) req.topics.emplace_back().name = n;
  send<p::DeleteTopicsResponse>(rpc_, req, kDeleteTopicsVersion, [done, names](Result<p::DeleteTopicsResponse> r) {
    if (!r.ok()) return done(failed_topics(names, r.error()));
    std::vector<TopicResult> out;
    for (const auto& t : r->responses) {
      TopicResult tr;
      tr.name = t.name.value_or("");
      tr.topic_id = t.topic_id;
      tr.error_code = t.error_code;
      tr.error_message = t.error_message.value_or("");
      out.push_back(std::move(tr));
    }
    done(std::move(out));
  });
}

void RemoteController::create_partitions(std::vector<PartitionsSpec> specs, bool validate_only,
                                         Callback<std::vector<TopicResult>> done) {
  p::CreatePartitionsRequest req;
  req.timeout_ms = static_cast<int32_t>(options_.request_timeout_ms);
  req.validate_only = validate_only;
  std::vector<std::string> names;
  for (const auto& s : specs) {
    auto& t = req.topics.emplace_back();
    t.name = s.name;
    t.count = s.total_count;
    t.assignments.reset();
    names.push_back(s.name);
  }
  send<p::CreatePartitionsResponse>(rpc_, req, kCreatePartitionsVersion,
                                    [done, names](Result<p::CreatePartitionsResponse> r) {
                                      if (!r.ok()) return done(failed_topics(names, r.error()));
                                      std::vector<TopicResult> out;
                                      for (const auto& t : r->results) {
                                        TopicResult tr;
                                        tr.name = t.name;
                                        tr.error_code = t.error_code;
                                        tr.error_message = t.error_message.value_or("");
                                        out.push_back(std::move(tr));
                                      }
                                      done(std::move(out));
                                    });
}

namespace {
// One resource's (Incremental)AlterConfigs to the controller listener; ops are Kafka's OpType.
struct WireConfigChange {
  std::string key;
  int8_t op = 0;
  std::optional<std::string> value;
};
void send_alter_configs(const std::shared_ptr<RemoteController::Rpc>& rpc, int8_t resource_type,
                        const std::string& resource, const std::vector<WireConfigChange>& changes, bool incremental,
                        bool validate_only, Callback<TopicResult> done) {
  auto to_result = [resource](int16_t code, const std::optional<std::string>& message) {
    TopicResult tr;
    tr.name = resource;
    tr.error_code = code;
    tr.error_message = message.value_or("");
    return tr;
  };
  auto on_error = [to_result](const Error& e) {
    return to_result(e.code == Errc::timeout ? kafka_errors::kRequestTimedOut : kafka_errors::kUnknownServerError,
                     e.message);
  };
  if (incremental) {
    p::IncrementalAlterConfigsRequest req;
    req.validate_only = validate_only;
    auto& res = req.resources.emplace_back();
    res.resource_type = resource_type;
    res.resource_name = resource;
    for (const auto& c : changes) {
      auto& cfg = res.configs.emplace_back();
      cfg.name = c.key;
      cfg.config_operation = c.op;
      cfg.value = c.value;
    }
    return send<p::IncrementalAlterConfigsResponse>(
        rpc, req, kIncrementalAlterConfigsVersion, [done, to_result, on_error](Result<p::IncrementalAlterConfigsResponse> r) {
          if (!r.ok()) return done(on_error(r.error()));
          if (r->responses.empty()) return done(to_result(kafka_errors::kUnknownServerError, "empty answer"));
          done(to_result(r->responses[0].error_code, r->responses[0].error_message));
        });
  }
  p::AlterConfigsRequest req;
  req.validate_only = validate_only;
  auto& res = req.resources.emplace_back();
  res.resource_type = resource_type;
  res.resource_name = resource;
  for (const auto& c : changes) {
    auto& cfg = res.configs.emplace_back();
    cfg.name = c.key;
    cfg.value = c.value;
  }
  send<p::AlterConfigsResponse>(rpc, req, kAlterConfigsVersion,
                                [done, to_result, on_error](Result<p::AlterConfigsResponse> r) {
                                  if (!r.ok()) return done(on_error(r.error()));
                                  if (r->responses.empty()) {
                                    return done(to_result(kafka_errors::kUnknownServerError, "empty answer"));
                                  }
                                  done(to_result(r->responses[0].error_code, r->responses[0].error_message));
                                });
}
}  // namespace

void RemoteController::alter_topic_configs(std::string topic, std::vector<ConfigChange> changes, bool incremental,
                                           bool validate_only, Callback<TopicResult> done) {
  std::vector<WireConfigChange> wire;
  for (auto& c : changes) wire.push_back({std::move(c.key), static_cast<int8_t>(c.op), std::move(c.value)});
  send_alter_configs(rpc_, kResourceTopic, topic, wire, incremental, validate_only, std::move(done));
}

void RemoteController::alter_broker_configs(std::string resource, std::vector<BrokerConfigChange> changes,
                                            bool incremental, bool validate_only, Callback<TopicResult> done) {
  std::vector<WireConfigChange> wire;
  for (auto& c : changes) wire.push_back({std::move(c.key), static_cast<int8_t>(c.op), std::move(c.value)});
  send_alter_configs(rpc_, kBrokerResourceType, resource, wire, incremental, validate_only, std::move(done));
}

void RemoteController::update_features(std::vector<FeatureUpdate> updates, bool validate_only,
                                       Callback<std::vector<FeatureUpdateResult>> done) {
  p::UpdateFeaturesRequest req;
  req.validate_only = validate_only;
  for (const auto& u : updates) {
    auto& key = req.feature_updates.emplace_back();
    key.feature = u.feature;
    key.max_version_level = u.level;
    key.upgrade_type = static_cast<int8_t>(u.type);
  }
  send<p::UpdateFeaturesResponse>(
      rpc_, req, kUpdateFeaturesVersion, [done, updates](Result<p::UpdateFeaturesResponse> r) {
        std::vector<FeatureUpdateResult> out;
        for (const auto& u : updates) {
          FeatureUpdateResult result{u.feature, 0, ""};
          if (!r.ok()) {
            result.error_code = r.error().code == Errc::timeout ? kafka_errors::kRequestTimedOut
                                                                : kafka_errors::kUnknownServerError;
            result.error_message = r.error().message;
          } else if (r->error_code != 0) {
            result.error_code = r->error_code;
            result.error_message = r->error_message.value_or("");
          } else {
            for (const auto& f : r->results) {
              if (f.feature != u.feature) continue;
              result.error_code = f.error_code;
              result.error_message = f.error_message.value_or("");
            }
          }
          out.push_back(std::move(result));
        }
        done(std::move(out));
      });
}

void RemoteController::allocate_producer_ids(NodeId broker, Callback<ProducerIdBlock> done) {
  p::AllocateProducerIdsRequest req;
  req.broker_id = broker.value();
  req.broker_epoch = broker_epoch_;
  send<p::AllocateProducerIdsResponse>(rpc_, req, kAllocateProducerIdsVersion,
                                       [done](Result<p::AllocateProducerIdsResponse> r) {
                                         if (!r.ok()) return done(r.take_error());
                                         if (r->error_code != 0) {
                                           return done(Error(Errc::internal, "AllocateProducerIds: error " +
                                                                                 std::to_string(r->error_code)));
                                         }
                                         done(ProducerIdBlock{r->producer_id_start, r->producer_id_len});
                                       });
}

void RemoteController::alter_partition_reassignments(std::vector<PartitionReassignment> items,
                                                     Callback<std::vector<ReassignResult>> done) {
  p::AlterPartitionReassignmentsRequest req = reassignments_to_wire(items);
  req.timeout_ms = static_cast<int32_t>(options_.request_timeout_ms);
  const size_t count = items.size();
  send<p::AlterPartitionReassignmentsResponse>(
      rpc_, req, kAlterPartitionReassignmentsVersion, [done, count](Result<p::AlterPartitionReassignmentsResponse> r) {
        if (!r.ok()) return done(r.take_error());
        auto results = reassign_results(*r);
        if (results.ok() && results->size() != count) {
          return done(Error(Errc::corrupt, "AlterPartitionReassignments: " + std::to_string(results->size()) +
                                               " results for " + std::to_string(count) + " partitions"));
        }
        done(std::move(results));
      });
}

std::vector<OngoingReassignment> RemoteController::list_partition_reassignments(const ReassignmentFilter& filter) const {
  return local_->list_partition_reassignments(filter);
}

// ---- broker lifecycle ----

void RemoteController::register_broker(BrokerRegistration registration, Callback<Done> done) {
  if (registration.incarnation_id.is_zero()) registration.incarnation_id = random_uuid();
  {
    std::lock_guard lock(mu_);
    registration_ = registration;
    unfenced_waiter_ = std::move(done);
  }
  send_registration(std::move(registration));
}

void RemoteController::send_registration(BrokerRegistration registration) {
  p::BrokerRegistrationRequest req;
  req.broker_id = registration.id.value();
  req.cluster_id = image()->cluster_id;
  req.incarnation_id = registration.incarnation_id;
  for (const auto& l : registration.listeners) {
    auto& out = req.listeners.emplace_back();
    out.name = l.name;
    out.host = l.host;
    out.port = static_cast<uint16_t>(l.port);
    out.security_protocol = 0;  // PLAINTEXT
  }
  req.rack = registration.rack;
  req.features = feature_list<p::BrokerRegistrationRequest::Feature>(supported_features());  // as Kafka brokers do
  std::weak_ptr<Rpc> weak = rpc_;
  send<p::BrokerRegistrationResponse>(
      rpc_, req, kBrokerRegistrationVersion, [this, weak](Result<p::BrokerRegistrationResponse> r) {
        if (!r.ok() || r->error_code != 0) {
          Callback<Done> waiter;
          {
            std::lock_guard lock(mu_);
            waiter = std::move(unfenced_waiter_);
            unfenced_waiter_ = nullptr;
          }
          Error e = r.ok() ? Error(Errc::internal, "BrokerRegistration: error " + std::to_string(r->error_code))
                           : r.error();
          log::warn("controller-client", "registration failed: " + e.message);
          if (waiter) waiter(e);
          return;
        }
        broker_epoch_ = r->broker_epoch;
        log::info("controller-client", "registered with broker epoch " + std::to_string(r->broker_epoch));
        auto rpc = weak.lock();
        if (!rpc || heartbeats_started_.exchange(true)) return;
        rpc->start_heartbeats([this] { heartbeat(); });
      });
}

void RemoteController::heartbeat() {
  // Rpc thread; one heartbeat in flight at a time.
  if (heartbeat_in_flight_ || broker_epoch_ < 0) return;
  heartbeat_in_flight_ = true;
  p::BrokerHeartbeatRequest req;
  req.broker_id = options_.node_id.value();
  req.broker_epoch = broker_epoch_;
  req.current_metadata_offset = local_->image()->offset;
  req.want_fence = false;
  req.want_shut_down = want_shutdown_.load();
  const int64_t sent_ms = steady_now_ms();
  send<p::BrokerHeartbeatResponse>(rpc_, req, kBrokerHeartbeatVersion, [this, sent_ms](Result<p::BrokerHeartbeatResponse> r) {
    heartbeat_in_flight_ = false;
    if (!r.ok()) {
      log::debug("controller-client", "heartbeat failed: " + r.error().message);
      return;
    }
    if (r->error_code == kafka_errors::kStaleBrokerEpoch || r->error_code == kafka_errors::kBrokerIdNotRegistered) {
      // The controller forgot this registration (replaced, or a new leader): register again.
      std::optional<BrokerRegistration> registration;
      {
        std::lock_guard lock(mu_);
        registration = registration_;
      }
      log::warn("controller-client", "heartbeat refused (error " + std::to_string(r->error_code) + "): registering again");
      broker_epoch_ = -1;
      if (registration) send_registration(*registration);
      return;
    }
    if (r->error_code != 0) {
      log::debug("controller-client", "heartbeat failed: error " + std::to_string(r->error_code));
      return;
    }
    Callback<Done> waiter;
    {
      std::lock_guard lock(mu_);
      last_heartbeat_ok_sent_ms_ = sent_ms;
      if (fenced_ != r->is_fenced) {
        log::info("controller-client", r->is_fenced ? "this broker is fenced" : "this broker is unfenced");
      }
      fenced_ = r->is_fenced;
      if (r->should_shut_down) should_shutdown_ = true;
      if (!r->is_fenced && unfenced_waiter_) {
        waiter = std::move(unfenced_waiter_);
        unfenced_waiter_ = nullptr;
      }
    }
    shutdown_cv_.notify_all();
    if (waiter) waiter(Done{});
  }, options_.session_timeout_ms);  // a later answer could not extend the lease anyway
}

bool RemoteController::writes_allowed() const {
  std::lock_guard lock(mu_);
  if (last_heartbeat_ok_sent_ms_ < 0) return true;  // not registered yet (startup)
  return !fenced_ && steady_now_ms() - last_heartbeat_ok_sent_ms_ < options_.session_timeout_ms;
}

void RemoteController::begin_controlled_shutdown() {
  want_shutdown_ = true;
  if (broker_epoch_ < 0 || !rpc_ || rpc_->stopped()) return;
  asio::post(rpc_->io(), [this] { heartbeat(); });
}

bool RemoteController::controlled_shutdown(int64_t timeout_ms) {
  want_shutdown_ = true;
  if (broker_epoch_ < 0) return true;
  std::unique_lock lock(mu_);
  return shutdown_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return should_shutdown_; });
}

// ---- stream metadata ----

void RemoteController::create_stream(stream::MetaCallback<stream::StreamInfo> done) {
  send<p::FloeCreateStreamResponse>(rpc_, p::FloeCreateStreamRequest{}, 0,
                                    [done](Result<p::FloeCreateStreamResponse> r) {
                                      if (!r.ok()) return done(r.take_error());
                                      if (Status s = wire_status(*r); !s.ok()) return done(s.error());
                                      done(rpc::get_stream_info(*r));
                                    });
}

void RemoteController::open_stream(StreamId id, NodeId node, stream::MetaCallback<stream::StreamInfo> done) {
  p::FloeOpenStreamRequest req;
  req.stream_id = static_cast<int64_t>(id.value());
  req.node_id = node.value();
  // One id per open, in every resend of it (the request is encoded once): a resend whose first
  // answer was lost gets the epoch that first attempt set instead of bumping it again.
  req.request_id = random_request_id();
  send<p::FloeOpenStreamResponse>(rpc_, req, 0, [done](Result<p::FloeOpenStreamResponse> r) {
    if (!r.ok()) return done(r.take_error());
    if (Status s = wire_status(*r); !s.ok()) return done(s.error());
    done(rpc::get_stream_info(*r));
  });
}

namespace {
template <typename Response>
std::function<void(Result<Response>)> done_only(stream::MetaCallback<Done> done) {
  return [done](Result<Response> r) {
    if (!r.ok()) return done(r.take_error());
    if (Status s = wire_status(*r); !s.ok()) return done(s.error());
    done(Done{});
  };
}
}  // namespace

void RemoteController::close_stream(StreamId id, StreamEpoch epoch, stream::MetaCallback<Done> done) {
  p::FloeCloseStreamRequest req;
  req.stream_id = static_cast<int64_t>(id.value());
  req.epoch = static_cast<int64_t>(epoch.value());
  send<p::FloeCloseStreamResponse>(rpc_, req, 0, done_only<p::FloeCloseStreamResponse>(std::move(done)));
}

void RemoteController::trim_stream(StreamId id, StreamEpoch epoch, Offset new_start, stream::MetaCallback<Done> done) {
  p::FloeTrimStreamRequest req;
  req.stream_id = static_cast<int64_t>(id.value());
  req.epoch = static_cast<int64_t>(epoch.value());
  req.new_start_offset = new_start.value();
  send<p::FloeTrimStreamResponse>(rpc_, req, 0, done_only<p::FloeTrimStreamResponse>(std::move(done)));
}

void RemoteController::prepare_objects(uint32_t count, int64_t ttl_ms, stream::MetaCallback<ObjectId> done) {
  if (count == 0 || count > kMaxPrepareObjects) {
    return done(Error(Errc::invalid_value, "prepare_objects: count " + std::to_string(count)));
  }
  p::FloePrepareObjectsRequest req;
  req.count = static_cast<int32_t>(count);
  req.ttl_ms = ttl_ms;
  send<p::FloePrepareObjectsResponse>(rpc_, req, 0, [done](Result<p::FloePrepareObjectsResponse> r) {
    if (!r.ok()) return done(r.take_error());
    if (Status s = wire_status(*r); !s.ok()) return done(s.error());
    done(ObjectId(static_cast<uint64_t>(r->first_object_id)));
  });
}

void RemoteController::commit_stream_set_object(stream::StreamSetObjectCommit commit, stream::MetaCallback<Done> done) {
  send<p::FloeCommitStreamSetObjectResponse>(rpc_, rpc::to_wire(commit), 0,
                                             done_only<p::FloeCommitStreamSetObjectResponse>(std::move(done)));
}

void RemoteController::commit_stream_object(stream::StreamObjectCommit commit, stream::MetaCallback<Done> done) {
  send<p::FloeCommitStreamObjectResponse>(rpc_, rpc::to_wire(commit), 0,
                                          done_only<p::FloeCommitStreamObjectResponse>(std::move(done)));
}

void RemoteController::erase_objects(std::vector<ObjectId> ids, stream::MetaCallback<Done> done) {
  p::FloeEraseObjectsRequest req;
  for (auto id : ids) req.object_ids.push_back(static_cast<int64_t>(id.value()));
  send<p::FloeEraseObjectsResponse>(rpc_, req, 0, done_only<p::FloeEraseObjectsResponse>(std::move(done)));
}

// Reads: the local replica of the committed state.
void RemoteController::describe_stream(StreamId id, stream::MetaCallback<stream::StreamInfo> done) {
  local_->describe_stream(id, std::move(done));
}
void RemoteController::list_objects(StreamId id, Offset start, Offset end, uint32_t limit,
                                    stream::MetaCallback<std::vector<stream::ObjectSlice>> done) {
  local_->list_objects(id, start, end, limit, std::move(done));
}
void RemoteController::list_stream_set_objects(NodeId node, uint32_t limit,
                                               stream::MetaCallback<std::vector<stream::ObjectMeta>> done) {
  local_->list_stream_set_objects(node, limit, std::move(done));
}
void RemoteController::list_destroyed_objects(int64_t before_ms, uint32_t limit,
                                              stream::MetaCallback<std::vector<stream::ObjectMeta>> done) {
  local_->list_destroyed_objects(before_ms, limit, std::move(done));
}

}  // namespace floe::metadata
