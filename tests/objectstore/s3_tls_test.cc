// https endpoints: certificate verification is always on; a private CA works through the CA
// bundle option. The server is a tiny python https listener with a throwaway self-signed cert.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <thread>

#include "objectstore/blocking.h"
#include "objectstore/s3_store.h"
#include "test_util.h"

using namespace floe;
using namespace floe::objectstore;
using floe::objectstore::testing::TempDir;

namespace {

struct TlsServer {
  TempDir dir;
  pid_t pid = -1;
  int port = 0;
  bool ok = false;

  TlsServer() {
    std::string d = dir.path.string();
    std::string gen = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
                      "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " + d + "/key.pem -out " + d +
                      "/cert.pem >/dev/null 2>&1";
    if (std::system(gen.c_str()) != 0) return;
    std::ofstream(dir.path / "server.py")
        << "import http.server, ssl, sys\n"
           "class H(http.server.BaseHTTPRequestHandler):\n"
           "    protocol_version = 'HTTP/1.1'\n"
           "    def do_HEAD(self):\n"
           "        self.send_response(200); self.send_header('Content-Length', '5'); self.end_headers()\n"
           "    def log_message(self, *a): pass\n"
           "s = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
           "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
           "ctx.load_cert_chain('" + d + "/cert.pem', '" + d + "/key.pem')\n"
           "s.socket = ctx.wrap_socket(s.socket, server_side=True)\n"
           "open('" + d + "/port', 'w').write(str(s.server_address[1]))\n"
           "s.timeout = 60\n"
           "for _ in range(20): s.handle_request()\n";
    pid = ::fork();
    if (pid == 0) {
      ::execlp("python3", "python3", (dir.path / "server.py").c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 100 && port == 0; ++i) {  // bounded: 10 s
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      std::ifstream f(dir.path / "port");
      f >> port;
    }
    ok = port > 0;
  }
  ~TlsServer() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
  S3Options options() const {
    S3Options o;
    o.bucket = "tls-bucket";
    o.endpoint = "https://127.0.0.1:" + std::to_string(port);
    o.path_style = true;
    o.credentials = Credentials{"AKIDEXAMPLE", "secret", ""};
    return o;
  }
};

}  // namespace

TEST_CASE("https_with_an_untrusted_certificate_fails_verification_and_is_not_retried") {
  TlsServer server;
  REQUIRE(server.ok);
  S3Store store(server.options());
  auto r = BlockingStore(store).head("k");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().detail().service_code == "FloeTlsVerify");
  CHECK_FALSE(r.error().retryable());
}

TEST_CASE("https_with_the_ca_bundle_option_trusts_a_private_ca") {
  TlsServer server;
  REQUIRE(server.ok);
  S3Options o = server.options();
  o.http.ca_bundle = (server.dir.path / "cert.pem").string();
  S3Store store(o);
  auto r = BlockingStore(store).head("k");
  INFO((r.ok() ? std::string() : r.error().to_string()));
  REQUIRE(r.ok());
  CHECK(r->size_bytes == 5);
}
