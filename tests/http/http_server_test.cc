#include <arpa/inet.h>
#include <cerrno>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "../test_util/eventually.h"
#include "http/http_server.h"

using floe::http::HttpResponse;
using floe::http::HttpServer;
using floe::http::HttpServerConfig;

namespace {

// A plain TCP client: connects to 127.0.0.1:port.
struct Client {
  int fd = -1;
  explicit Client(uint16_t port) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    timeval tv{30, 0};  // a bound on every read: the server answers or closes long before
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Client() { ::close(fd); }
  void send(const std::string& s) const {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;  // the server may close early (431)
      off += static_cast<size_t>(n);
    }
  }
  // Everything until the server closes the connection ("" if it closed without answering).
  // closed_by_server tells an orderly close or reset from the 30 s read bound running out.
  mutable bool closed_by_server = false;
  std::string read_all() const {
    std::string out;
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_by_server = n == 0 || errno == ECONNRESET;
        break;
      }
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
};

std::string exchange(uint16_t port, const std::string& request) {
  Client c(port);
  c.send(request);
  return c.read_all();
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::unique_ptr<HttpServer> serve(HttpServerConfig config = {}) {
  auto server = std::make_unique<HttpServer>(config);
  server->route("/metrics", [] {
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = "floe_up 1\n";
    return r;
  });
  REQUIRE(server->start().ok());
  REQUIRE(server->port() != 0);
  return server;
}

}  // namespace

TEST_CASE("get_of_a_route_answers_200_with_its_body_length_and_connection_close") {
  auto server = serve();
  std::string r = exchange(server->port(), "GET /metrics HTTP/1.1\r\nHost: x\r\nUser-Agent: test\r\n\r\n");
  CHECK(starts_with(r, "HTTP/1.1 200 OK\r\n"));
  CHECK(contains(r, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  CHECK(contains(r, "Content-Length: 10\r\n"));
  CHECK(contains(r, "Connection: close\r\n"));
  CHECK(r.substr(r.find("\r\n\r\n") + 4) == "floe_up 1\n");
  // A query string is not part of the path; HTTP/1.0 is served too.
  r = exchange(server->port(), "GET /metrics?name[]=floe_up HTTP/1.0\r\n\r\n");
  CHECK(starts_with(r, "HTTP/1.1 200 OK\r\n"));
  CHECK(server->stats().requests == 2);
}

TEST_CASE("head_answers_the_headers_without_the_body") {
  auto server = serve();
  std::string r = exchange(server->port(), "HEAD /metrics HTTP/1.1\r\n\r\n");
  CHECK(starts_with(r, "HTTP/1.1 200 OK\r\n"));
  CHECK(contains(r, "Content-Length: 10\r\n"));
  CHECK(r.substr(r.find("\r\n\r\n") + 4).empty());
}

TEST_CASE("unknown_paths_other_methods_bad_request_lines_and_other_protocols_get_their_status") {
  auto server = serve();
  CHECK(starts_with(exchange(server->port(), "GET /nope HTTP/1.1\r\n\r\n"), "HTTP/1.1 404 Not Found\r\n"));
  std::string r = exchange(server->port(), "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  CHECK(starts_with(r, "HTTP/1.1 405 Method Not Allowed\r\n"));
  CHECK(contains(r, "Allow: GET, HEAD\r\n"));
  CHECK(starts_with(exchange(server->port(), "garbage\r\n\r\n"), "HTTP/1.1 400 Bad Request\r\n"));
  CHECK(starts_with(exchange(server->port(), "GET  /metrics HTTP/1.1\r\n\r\n"), "HTTP/1.1 400 Bad Request\r\n"));
  CHECK(starts_with(exchange(server->port(), "GET /metrics HTTP/1.1 extra\r\n\r\n"), "HTTP/1.1 400 Bad Request\r\n"));
  CHECK(starts_with(exchange(server->port(), "GET /metrics HTTP/2.0\r\n\r\n"), "HTTP/1.1 505 HTTP Version Not Supported\r\n"));
  CHECK(starts_with(exchange(server->port(), "GET /metrics SPDY/3\r\n\r\n"), "HTTP/1.1 505 HTTP Version Not Supported\r\n"));
  // The server still serves after all of them.
  CHECK(starts_with(exchange(server->port(), "GET /metrics HTTP/1.1\r\n\r\n"), "HTTP/1.1 200 OK\r\n"));
}

TEST_CASE("a_request_head_larger_than_the_limit_is_answered_431_and_closed") {
  HttpServerConfig config;
  config.max_request_bytes = 1024;
  auto server = serve(config);
  std::string huge = "GET /metrics HTTP/1.1\r\nX-Pad: " + std::string(4096, 'a') + "\r\n\r\n";
  CHECK(starts_with(exchange(server->port(), huge), "HTTP/1.1 431 Request Header Fields Too Large\r\n"));
  // A head that never ends is cut at the same limit.
  Client c(server->port());
  c.send("GET /metrics HTTP/1.1\r\nX-Pad: " + std::string(2048, 'b'));
  CHECK(starts_with(c.read_all(), "HTTP/1.1 431"));
  CHECK(starts_with(exchange(server->port(), "GET /metrics HTTP/1.1\r\n\r\n"), "HTTP/1.1 200 OK\r\n"));
}

TEST_CASE("a_client_that_never_finishes_its_request_is_closed_after_the_request_timeout") {
  HttpServerConfig config;
  config.request_timeout_ms = 100;
  auto server = serve(config);
  Client silent(server->port());
  silent.send("GET /metr");
  CHECK(silent.read_all().empty());  // closed without an answer
  CHECK(silent.closed_by_server);
  CHECK(starts_with(exchange(server->port(), "GET /metrics HTTP/1.1\r\n\r\n"), "HTTP/1.1 200 OK\r\n"));
}

TEST_CASE("a_client_that_closes_before_its_request_frees_its_slot_at_once") {
  // (Health checks and port scanners connect and close; a minute-long request timeout must not
  // keep their slots.)
  HttpServerConfig config;
  config.max_connections = 1;
  config.request_timeout_ms = 120000;
  auto server = serve(config);
  {
    Client gone(server->port());
    REQUIRE(floe::testing::eventually([&] { return server->stats().connections_open == 1; }));
  }  // closed without a request
  CHECK(floe::testing::eventually([&] { return server->stats().connections_open == 0; }));  // 30 s bound < 120 s
  CHECK(starts_with(exchange(server->port(), "GET /metrics HTTP/1.1\r\n\r\n"), "HTTP/1.1 200 OK\r\n"));
}

TEST_CASE("connections_beyond_max_connections_are_closed_at_once_and_the_rest_are_served") {
  HttpServerConfig config;
  config.max_connections = 2;
  auto server = serve(config);
  Client a(server->port());
  Client b(server->port());
  Client c(server->port());  // accepted after a and b (one listen queue, one acceptor): over the limit
  CHECK(c.read_all().empty());
  CHECK(c.closed_by_server);
  CHECK(floe::testing::eventually([&] { return server->stats().connections_rejected == 1; }));
  a.send("GET /metrics HTTP/1.1\r\n\r\n");
  CHECK(starts_with(a.read_all(), "HTTP/1.1 200 OK\r\n"));
  b.send("GET /metrics HTTP/1.1\r\n\r\n");
  CHECK(starts_with(b.read_all(), "HTTP/1.1 200 OK\r\n"));
  // Their slots are free again once they are closed.
  CHECK(floe::testing::eventually(
      [&] { return starts_with(exchange(server->port(), "GET /metrics HTTP/1.1\r\n\r\n"), "HTTP/1.1 200 OK\r\n"); }));
}

TEST_CASE("stop_closes_the_listener_and_idle_connections_and_returns") {
  auto server = serve();
  uint16_t port = server->port();
  Client idle(port);
  REQUIRE(floe::testing::eventually([&] { return server->stats().connections_open == 1; }));  // accepted
  server->stop();
  CHECK(idle.read_all().empty());
  CHECK(idle.closed_by_server);  // closed by stop(), not by the 30 s read bound
  server->stop();  // idempotent
  server.reset();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0);
  ::close(fd);
}

TEST_CASE("a_port_in_use_is_an_error_naming_host_and_port") {
  auto first = serve();
  HttpServerConfig config;
  config.port = first->port();
  HttpServer second(config);
  auto st = second.start();
  REQUIRE(!st.ok());
  CHECK(contains(st.error().message, "127.0.0.1:" + std::to_string(first->port())));
}
