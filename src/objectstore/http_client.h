// HttpClient: asynchronous HTTP/1.1 over one libcurl multi handle driven by a dedicated thread.
//
// The S3 store's transport. One thread owns the multi handle and every easy handle; it waits in
// curl_multi_poll and is woken by curl_multi_wakeup when a request is queued or stop() is called,
// so no asio thread ever blocks on the network. Easy handles are reset and reused, and the multi
// handle's connection cache keeps connections alive between requests (keep-alive reuse).
//
// Timeouts: connect (CURLOPT_CONNECTTIMEOUT_MS), first byte (measured from the end of the request
// upload, enforced in the progress callback), whole request (CURLOPT_TIMEOUT_MS).
// TLS: peer and host verification always on; the CA bundle is configurable.
//
// Invariants:
//  (1) At most max_concurrent transfers run at once; at most max_queued wait. submit() beyond
//      that completes at once with queue_full (backpressure).
//  (2) A response body never grows beyond the request's max_response_bytes: the transfer fails
//      with Errc::too_large instead.
//  (3) Every submitted request completes exactly once, on the client thread (a request refused
//      at submit, queue full or stopped, completes inside submit); stop() fails what is queued or
//      running with store_stopped and joins the thread.
//  (4) prepare() runs on the client thread right before the transfer starts (the S3 store signs
//      there, so a request that waited in the queue still carries a fresh timestamp).
// Thread safety: submit() and stop() may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/bytes.h"
#include "objectstore/object_store.h"

namespace floe::objectstore {

struct HttpOptions {
  size_t max_concurrent = 64;
  size_t max_queued = 4096;
  uint32_t connect_timeout_ms = 5000;
  uint32_t first_byte_timeout_ms = 30000;
  uint32_t request_timeout_ms = 120000;
  std::string ca_bundle;  // empty: the system default
  int thread_nice = 0;    // > 0: the transfer thread runs at a lower CPU priority (cold reads)
};

struct HttpRequest {
  std::string method = "GET";  // GET PUT POST HEAD DELETE
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  SharedBytes body;
  uint64_t max_response_bytes = 16ull << 20;
  std::function<void(HttpRequest&)> prepare;  // runs on the client thread just before sending
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased; the last value of a repeated name
  Bytes body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class HttpClient {
 public:
  explicit HttpClient(HttpOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Completes with the response (any status) or a transport error (connect, timeout, reset, TLS).
  void submit(HttpRequest request, std::function<void(Result<HttpResponse>)> done);
  void stop();

  uint64_t connections_opened() const { return connections_opened_.load(); }

 private:
  struct Transfer;
  void run();
  void start_transfer(std::unique_ptr<Transfer> t);
  void finish(void* easy, int curl_code);

  HttpOptions options_;
  void* multi_ = nullptr;  // CURLM*
  std::mutex mu_;
  std::deque<std::unique_ptr<Transfer>> queued_;
  bool stopping_ = false;
  std::map<void*, std::unique_ptr<Transfer>> active_;  // easy handle -> transfer (client thread only)
  std::vector<void*> idle_easy_;                         // client thread only
  std::atomic<uint64_t> connections_opened_{0};
  std::thread thread_;
};

}  // namespace floe::objectstore
