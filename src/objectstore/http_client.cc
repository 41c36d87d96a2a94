#include "objectstore/http_client.h"

#include <curl/curl.h>

#include <chrono>
#include <cstring>
#include <optional>

#include "common/log.h"
#include "objectstore/executor.h"

namespace floe::objectstore {

namespace {

using Clock = std::chrono::steady_clock;

std::once_flag g_curl_init;

Error transport_error(Errc code, std::string message, bool retryable, const char* s3_code) {
  return store_error(code, std::move(message), s3_code, 0, retryable);
}

}  // namespace

struct HttpClient::Transfer {
  HttpRequest request;
  std::function<void(Result<HttpResponse>)> done;
  HttpResponse response;
  curl_slist* header_list = nullptr;
  size_t upload_offset = 0;
  Clock::time_point started;
  Clock::time_point upload_done;
  bool upload_finished = false;
  bool got_first_byte = false;
  bool first_byte_timed_out = false;
  bool too_large = false;
  uint32_t first_byte_timeout_ms = 0;
  char error_buffer[CURL_ERROR_SIZE] = {0};

  ~Transfer() {
    if (header_list) curl_slist_free_all(header_list);
  }

  static size_t on_read(char* buffer, size_t size, size_t nitems, void* user) {
    auto* t = static_cast<Transfer*>(user);
    size_t left = t->request.body.size() - t->upload_offset;
    size_t n = std::min(left, size * nitems);
    if (n > 0) std::memcpy(buffer, t->request.body.data() + t->upload_offset, n);
    t->upload_offset += n;
    if (t->upload_offset == t->request.body.size() && !t->upload_finished) {
      t->upload_finished = true;
      t->upload_done = Clock::now();
    }
    return n;
  }

  static size_t on_write(char* data, size_t size, size_t nmemb, void* user) {
    auto* t = static_cast<Transfer*>(user);
    size_t n = size * nmemb;
    t->got_first_byte = true;
    if (t->response.body.size() + n > t->request.max_response_bytes) {
      t->too_large = true;
      return 0;  // CURLE_WRITE_ERROR
    }
    t->response.body.insert(t->response.body.end(), data, data + n);
    return n;
  }

  static size_t on_header(char* data, size_t size, size_t nitems, void* user) {
    auto* t = static_cast<Transfer*>(user);
    size_t n = size * nitems;
    t->got_first_byte = true;
    std::string_view line(data, n);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
    if (line.rfind("HTTP/", 0) == 0) {
      t->response.headers.clear();  // a new status line (after 100 Continue or a redirect)
      return n;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return n;
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (name == "content-length") {
      // Reserve once for the body, but never more than the cap allows.
      uint64_t len = std::strtoull(std::string(value).c_str(), nullptr, 10);
      if (len <= t->request.max_response_bytes) t->response.body.reserve(static_cast<size_t>(len));
    }
    t->response.headers[name] = std::string(value);
    return n;
  }

  static int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* t = static_cast<Transfer*>(user);
    if (t->got_first_byte || t->first_byte_timeout_ms == 0) return 0;
    Clock::time_point since = t->request.body.size() > 0 ? (t->upload_finished ? t->upload_done : Clock::time_point::max())
                                                         : t->started;
    if (since == Clock::time_point::max()) return 0;
    if (Clock::now() - since > std::chrono::milliseconds(t->first_byte_timeout_ms)) {
      t->first_byte_timed_out = true;
      return 1;  // abort: CURLE_ABORTED_BY_CALLBACK
    }
    return 0;
  }
};

HttpClient::HttpClient(HttpOptions options) : options_(std::move(options)) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  multi_ = curl_multi_init();
  FLOE_ASSERT(multi_ != nullptr);
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(options_.max_concurrent));
  curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(options_.max_concurrent));
  thread_ = std::thread([this] {
    lower_current_thread_priority(options_.thread_nice);
    run();
  });
}

HttpClient::~HttpClient() {
  stop();
  for (void* e : idle_easy_) curl_easy_cleanup(e);
  curl_multi_cleanup(multi_);
}

void HttpClient::submit(HttpRequest request, std::function<void(Result<HttpResponse>)> done) {
  auto t = std::make_unique<Transfer>();
  t->request = std::move(request);
  t->done = std::move(done);
  std::optional<Error> rejected;
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      rejected = store_stopped("http client");
    } else if (queued_.size() >= options_.max_queued) {
      rejected = queue_full("http client");
    } else {
      queued_.push_back(std::move(t));
    }
  }
  if (rejected) {
    t->done(std::move(*rejected));
    return;
  }
  curl_multi_wakeup(multi_);
}

void HttpClient::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  curl_multi_wakeup(multi_);
  if (thread_.joinable()) thread_.join();
}

void HttpClient::start_transfer(std::unique_ptr<Transfer> t) {
  if (t->request.prepare) t->request.prepare(t->request);
  CURL* easy;
  if (!idle_easy_.empty()) {
    easy = static_cast<CURL*>(idle_easy_.back());
    idle_easy_.pop_back();
    curl_easy_reset(easy);
  } else {
    easy = curl_easy_init();
  }
  Transfer* raw = t.get();
  raw->started = Clock::now();
  raw->first_byte_timeout_ms = options_.first_byte_timeout_ms;
  curl_easy_setopt(easy, CURLOPT_URL, raw->request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_PRIVATE, raw);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, raw->error_buffer);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout_ms));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout_ms));
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.ca_bundle.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_bundle.c_str());
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Transfer::on_write);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, raw);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Transfer::on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, raw);
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, &Transfer::on_progress);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, raw);
  const std::string& m = raw->request.method;
  if (m == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else if (m == "PUT" || m == "POST") {
    curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(easy, CURLOPT_READFUNCTION, &Transfer::on_read);
    curl_easy_setopt(easy, CURLOPT_READDATA, raw);
    curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(raw->request.body.size()));
    if (m == "POST") curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, "POST");
    if (raw->request.body.empty()) {
      raw->upload_finished = true;
      raw->upload_done = raw->started;
    }
  } else if (m != "GET") {
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, m.c_str());
  }
  // No "Expect: 100-continue" round trip; no chunked encoding (sizes are always known).
  raw->header_list = curl_slist_append(raw->header_list, "Expect:");
  for (const auto& [name, value] : raw->request.headers) {
    std::string line = name + ": " + value;
    raw->header_list = curl_slist_append(raw->header_list, line.c_str());
  }
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, raw->header_list);
  active_.emplace(easy, std::move(t));
  curl_multi_add_handle(multi_, easy);
}

void HttpClient::finish(void* easy_handle, int code) {
  auto* easy = static_cast<CURL*>(easy_handle);
  FLOE_ASSERT(active_.count(easy) == 1);
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  long new_connections = 0;
  curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &new_connections);
  connections_opened_ += static_cast<uint64_t>(new_connections);
  curl_multi_remove_handle(multi_, easy);
  std::unique_ptr<Transfer> owned = std::move(active_[easy]);
  active_.erase(easy);
  if (idle_easy_.size() < options_.max_concurrent) {
    idle_easy_.push_back(easy);
  } else {
    curl_easy_cleanup(easy);
  }

  auto c = static_cast<CURLcode>(code);
  if (c == CURLE_OK) {
    owned->response.status = static_cast<int>(status);
    owned->done(std::move(owned->response));
    return;
  }
  std::string detail = owned->error_buffer[0] ? owned->error_buffer : curl_easy_strerror(c);
  std::string where = owned->request.method + " " + owned->request.url + ": ";
  Error e;
  if (owned->too_large) {
    e = transport_error(Errc::too_large, where + "response larger than " + std::to_string(owned->request.max_response_bytes) +
                                             " bytes", false, "FloeResponseTooLarge");
  } else if (owned->first_byte_timed_out) {
    e = transport_error(Errc::timeout, where + "no response within " + std::to_string(options_.first_byte_timeout_ms) +
                                           " ms (first byte timeout)", true, "FloeFirstByteTimeout");
  } else if (c == CURLE_OPERATION_TIMEDOUT) {
    e = transport_error(Errc::timeout, where + detail, true, "FloeTimeout");
  } else if (c == CURLE_PEER_FAILED_VERIFICATION || c == CURLE_SSL_CACERT_BADFILE) {
    e = transport_error(Errc::config, where + detail + " (check the endpoint's certificate or set caBundle)", false,
                        "FloeTlsVerify");
  } else if (c == CURLE_UNSUPPORTED_PROTOCOL || c == CURLE_URL_MALFORMAT) {
    e = transport_error(Errc::config, where + detail, false, "FloeBadEndpoint");
  } else if (c == CURLE_COULDNT_CONNECT || c == CURLE_COULDNT_RESOLVE_HOST) {
    e = transport_error(Errc::io, where + detail, true, "FloeConnectFailed");
  } else {
    // Resets, truncated replies, send/receive errors: transient by nature.
    e = transport_error(Errc::io, where + detail, true, "FloeConnectionError");
  }
  owned->done(std::move(e));
}

void HttpClient::run() {
  for (;;) {
    std::deque<std::unique_ptr<Transfer>> starting;
    bool stopping;
    {
      std::lock_guard lock(mu_);
      stopping = stopping_;
      while (!stopping && !queued_.empty() && active_.size() + starting.size() < options_.max_concurrent) {
        starting.push_back(std::move(queued_.front()));
        queued_.pop_front();
      }
      if (stopping) {
        while (!queued_.empty()) {
          starting.push_back(std::move(queued_.front()));
          queued_.pop_front();
        }
      }
    }
    if (stopping) {
      for (auto& t : starting) t->done(store_stopped("http client"));
      while (!active_.empty()) {
        auto it = active_.begin();
        CURL* easy = static_cast<CURL*>(it->first);
        std::unique_ptr<Transfer> t = std::move(it->second);
        active_.erase(it);
        curl_multi_remove_handle(multi_, easy);
        curl_easy_cleanup(easy);
        t->done(store_stopped("http client"));
      }
      return;
    }
    for (auto& t : starting) start_transfer(std::move(t));
    int running = 0;
    curl_multi_perform(multi_, &running);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      finish(msg->easy_handle, msg->data.result);
    }
    // Wake at least every 100 ms so first-byte timeouts are checked even on a silent socket.
    curl_multi_poll(multi_, nullptr, 0, 100, nullptr);
  }
}

}  // namespace floe::objectstore
