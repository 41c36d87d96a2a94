#include "http/http_server.h"

#include <asio.hpp>
#include <atomic>
#include <optional>
#include <thread>

#include "common/assert.h"
#include "common/log.h"

namespace floe::http {

using asio::ip::tcp;

namespace {

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

HttpResponse plain(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace

struct HttpServer::Impl {
  explicit Impl(HttpServerConfig c) : config(std::move(c)) {}

  // Declared before `io`: connections still queued in io's handlers are destroyed with it and
  // touch these on the way out.
  HttpServerConfig config;
  std::map<std::string, Handler> routes;
  std::atomic<size_t> open_connections{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> connections_rejected{0};
  asio::io_context io{1};
  std::unique_ptr<tcp::acceptor> acceptor;
  std::thread thread;
  bool started = false;
  bool stopped = false;
  uint16_t port = 0;

  struct Connection : std::enable_shared_from_this<Connection> {
    Connection(Impl& impl, tcp::socket s)
        : impl(impl), socket(std::move(s)), timer(impl.io), buffer(impl.config.max_request_bytes) {}
    ~Connection() { impl.open_connections.fetch_sub(1); }

    Impl& impl;
    tcp::socket socket;
    asio::steady_timer timer;
    asio::streambuf buffer;
    std::string out;

    void start() {
      auto self = shared_from_this();
      // One deadline for reading the request and writing the answer: a client that never reads
      // its answer does not keep the slot either.
      timer.expires_after(std::chrono::milliseconds(impl.config.request_timeout_ms));
      timer.async_wait([self](asio::error_code ec) {
        if (ec) return;  // cancelled: the answer was written
        self->close();
      });
      asio::async_read_until(socket, buffer, "\r\n\r\n", [self](asio::error_code ec, size_t head_bytes) {
        if (ec == asio::error::not_found) return self->answer(plain(431, "request head too large\n"), false);
        if (ec) return self->close();  // closed, reset or timed out: nothing to answer; free the slot now
        self->on_head(head_bytes);
      });
    }

    void on_head(size_t head_bytes) {
      std::string head(asio::buffers_begin(buffer.data()), asio::buffers_begin(buffer.data()) + static_cast<long>(head_bytes));
      std::string line = head.substr(0, head.find("\r\n"));
      // request-line = method SP request-target SP HTTP-version
      size_t sp1 = line.find(' ');
      size_t sp2 = sp1 == std::string::npos ? std::string::npos : line.find(' ', sp1 + 1);
      if (sp1 == std::string::npos || sp2 == std::string::npos || line.find(' ', sp2 + 1) != std::string::npos ||
          sp1 == 0 || sp2 == sp1 + 1) {
        return answer(plain(400, "malformed request line\n"), false);
      }
      std::string method = line.substr(0, sp1);
      std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
      std::string version = line.substr(sp2 + 1);
      if (version.rfind("HTTP/1.", 0) != 0 || version.size() != 8) {
        return answer(plain(505, "only HTTP/1.x\n"), false);
      }
      bool head_only = method == "HEAD";
      std::string path = target.substr(0, target.find('?'));
      auto route = impl.routes.find(path);
      if (route == impl.routes.end()) return answer(plain(404, "not found; try /metrics or /health\n"), head_only);
      if (method != "GET" && !head_only) {
        HttpResponse r = plain(405, "only GET and HEAD\n");
        return answer(std::move(r), false, "Allow: GET, HEAD\r\n");
      }
      answer(route->second(), head_only);
    }

    void answer(HttpResponse r, bool head_only, const std::string& extra_headers = "") {
      impl.requests.fetch_add(1);
      out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason_phrase(r.status) + "\r\n";
      out += "Content-Type: " + r.content_type + "\r\n";
      out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
      out += extra_headers;
      out += "Connection: close\r\n\r\n";
      if (!head_only) out += r.body;
      auto self = shared_from_this();
      asio::async_write(socket, asio::buffer(out), [self](asio::error_code, size_t) {
        asio::error_code ignored;
        self->socket.shutdown(tcp::socket::shutdown_both, ignored);
        self->close();
      });
    }

    void close() {
      asio::error_code ignored;
      timer.cancel();
      socket.close(ignored);
    }
  };

  // Live connections (touched on the io thread only), so that stop() can close them.
  std::vector<std::weak_ptr<Connection>> live;
  asio::steady_timer accept_retry_timer{io};
  std::chrono::steady_clock::time_point last_accept_warning{};

  void accept_next() {
    acceptor->async_accept([this](asio::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
      if (ec) {
        // E.g. EMFILE: log it and try again shortly instead of spinning on the error.
        // At most one line per 10 s (a process out of file descriptors would log 10 a second).
        auto now = std::chrono::steady_clock::now();
        if (now - last_accept_warning >= std::chrono::seconds(10)) {
          last_accept_warning = now;
          floe::log::warn("http", "accept: " + ec.message() + "; retrying every 100 ms");
        }
        accept_retry_timer.expires_after(std::chrono::milliseconds(100));
        accept_retry_timer.async_wait([this](asio::error_code wec) {
          if (!wec && acceptor->is_open()) accept_next();
        });
        return;
      }
      if (open_connections.load() >= config.max_connections) {
        connections_rejected.fetch_add(1);
        asio::error_code ignored;
        socket.close(ignored);
      } else {
        open_connections.fetch_add(1);
        auto c = std::make_shared<Connection>(*this, std::move(socket));
        std::erase_if(live, [](const std::weak_ptr<Connection>& w) { return w.expired(); });
        live.push_back(c);
        c->start();
      }
      accept_next();
    });
  }
};

HttpServer::HttpServer(HttpServerConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {
  FLOE_ASSERT(impl_->config.max_connections > 0 && impl_->config.max_request_bytes >= 64);
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::route(std::string path, Handler handler) {
  FLOE_ASSERT(!impl_->started && handler);
  impl_->routes[std::move(path)] = std::move(handler);
}

Status HttpServer::start() {
  FLOE_ASSERT(!impl_->started);
  impl_->started = true;
  const auto& cfg = impl_->config;
  asio::error_code ec;
  tcp::resolver resolver(impl_->io);
  auto endpoints = resolver.resolve(cfg.host, std::to_string(cfg.port), tcp::resolver::passive, ec);
  if (ec || endpoints.empty()) return Error(Errc::config, "cannot resolve host '" + cfg.host + "': " + ec.message());
  auto acceptor = std::make_unique<tcp::acceptor>(impl_->io);
  if (acceptor->open(endpoints.begin()->endpoint().protocol(), ec); ec) return Error(Errc::io, "socket: " + ec.message());
  acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (acceptor->bind(endpoints.begin()->endpoint(), ec); ec)
    return Error(Errc::io, "cannot listen on " + cfg.host + ":" + std::to_string(cfg.port) + ": " + ec.message());
  if (acceptor->listen(asio::socket_base::max_listen_connections, ec); ec) return Error(Errc::io, "listen: " + ec.message());
  impl_->port = acceptor->local_endpoint().port();
  impl_->acceptor = std::move(acceptor);
  impl_->accept_next();
  impl_->thread = std::thread([impl = impl_.get()] { impl->io.run(); });
  return {};
}

uint16_t HttpServer::port() const { return impl_->port; }

void HttpServer::stop() {
  if (!impl_->started || impl_->stopped) return;
  impl_->stopped = true;
  if (impl_->thread.joinable()) {
    asio::post(impl_->io, [impl = impl_.get()] {
      asio::error_code ignored;
      impl->acceptor->close(ignored);
      impl->accept_retry_timer.cancel();
      for (auto& w : impl->live) {
        if (auto c = w.lock()) c->close();
      }
      impl->live.clear();
      impl->io.stop();
    });
    impl_->thread.join();
  }
}

HttpServer::Stats HttpServer::stats() const {
  return Stats{impl_->requests.load(), impl_->connections_rejected.load(), impl_->open_connections.load()};
}

}  // namespace floe::http
