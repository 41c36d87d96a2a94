// HttpClient against a minimal local HTTP/1.1 server: keep-alive reuse and bounded concurrency.
// (moto answers "Connection: close", so connection reuse cannot be observed against it.)
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "objectstore/blocking.h"
#include "objectstore/http_client.h"

using namespace floe;
using namespace floe::objectstore;

namespace {

// Accepts connections one at a time and answers every request on each with a small 200,
// keeping the connection open. Counts accepted connections.
class KeepAliveServer {
 public:
  KeepAliveServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~KeepAliveServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int port() const { return port_; }
  int connections() const { return connections_.load(); }

 private:
  void serve() {
    for (;;) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      ++connections_;
      std::string buf;
      char chunk[4096];
      for (;;) {
        ssize_t n = ::recv(c, chunk, sizeof chunk, 0);
        if (n <= 0) break;
        buf.append(chunk, static_cast<size_t>(n));
        size_t end;
        while ((end = buf.find("\r\n\r\n")) != std::string::npos) {
          buf.erase(0, end + 4);
          const char* reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nx-amz-request-id: R1\r\n\r\nok";
          ::send(c, reply, std::strlen(reply), MSG_NOSIGNAL);
        }
      }
      ::close(c);
    }
  }
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> connections_{0};
  std::thread thread_;
};

}  // namespace

TEST_CASE("http_client_reuses_one_keep_alive_connection_for_sequential_requests") {
  KeepAliveServer server;
  HttpClient client(HttpOptions{});
  for (int i = 0; i < 20; ++i) {
    HttpRequest r;
    r.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/k" + std::to_string(i);
    auto resp = wait_for<HttpResponse>([&](Callback<HttpResponse> cb) { client.submit(r, std::move(cb)); });
    REQUIRE(resp.ok());
    CHECK(resp->status == 200);
    CHECK(std::string(resp->body.begin(), resp->body.end()) == "ok");
    CHECK(resp->header("x-amz-request-id") == "R1");
  }
  CHECK(server.connections() == 1);
  CHECK(client.connections_opened() == 1);
}

TEST_CASE("http_client_response_body_is_capped") {
  KeepAliveServer server;
  HttpClient client(HttpOptions{});
  HttpRequest r;
  r.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/big";
  r.max_response_bytes = 1;
  auto resp = wait_for<HttpResponse>([&](Callback<HttpResponse> cb) { client.submit(r, std::move(cb)); });
  REQUIRE_FALSE(resp.ok());
  CHECK(resp.error().code == Errc::too_large);
  CHECK_FALSE(resp.error().retryable());
}

TEST_CASE("http_client_queue_is_bounded_and_stop_fails_pending_requests") {
  // A server that never answers keeps every request in flight or queued.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, 64) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::atomic<int> queue_full{0};
  std::atomic<int> stopped{0};
  {
    HttpOptions o;
    o.max_concurrent = 2;
    o.max_queued = 3;
    HttpClient client(o);
    for (int i = 0; i < 10; ++i) {
      HttpRequest r;
      r.url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/";
      client.submit(r, [&](Result<HttpResponse> resp) {
        if (resp.ok()) return;
        if (resp.error().detail().service_code == "FloeQueueFull") ++queue_full;
        if (resp.error().detail().service_code == "FloeStopped") ++stopped;
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    client.stop();
  }
  ::close(fd);
  CHECK(queue_full.load() >= 5);
  CHECK(queue_full.load() + stopped.load() == 10);
}
