// RetryingStore: retries an inner store's retryable failures with capped exponential backoff and
// full jitter (delay uniform in [0, min(max_delay, base * 2^attempt)]).
//
// Retried: errors whose retryable flag is set (5xx, SlowDown, timeouts, connection resets).
// Never retried: everything else (AccessDenied, SignatureDoesNotMatch, NoSuchKey, ...), which
// surfaces at once.
// Invariants:
//  (1) At most max_attempts calls per operation, and no new attempt starts after max_total_ms
//      from the first one; the last error is returned, annotated with the attempt count.
//  (2) Retries wait on the wrapper's own timer thread (bounded queue); a full queue ends the
//      operation with its last error.
//  (3) Every retry (once scheduled) and every operation that gives up on a retryable error is
//      counted (stats(), exported as metrics) and logged as a warning, at most one retry line and
//      one give-up line per second per store (a line says how many were left out before it).
// Completions run on the inner store's threads or on the timer thread.
// Thread safety: all methods are thread-safe. The inner store must outlive this wrapper.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <random>

#include "objectstore/executor.h"
#include "objectstore/object_store.h"

namespace floe::objectstore {

struct RetryPolicy {
  uint32_t max_attempts = 8;
  uint32_t base_delay_ms = 50;
  uint32_t max_delay_ms = 2000;
  uint32_t max_total_ms = 60000;
};

class RetryingStore final : public ObjectStore {
 public:
  RetryingStore(std::shared_ptr<ObjectStore> inner, RetryPolicy policy);
  ~RetryingStore() override;

  std::string describe() const override { return inner_->describe(); }
  MultipartPolicy multipart_policy() const override { return inner_->multipart_policy(); }
  uint64_t retries() const { return retries_.load(); }
  struct Stats {
    uint64_t operations = 0;  // started
    uint64_t retries = 0;     // attempts after the first
    uint64_t failures = 0;    // operations that ended in an error (after retries, or not retryable)
    uint64_t gave_up = 0;     // of those, the retryable errors that ran out of attempts or time
  };
  Stats stats() const;

  void put_object(std::string key, SharedBytes body, Callback<PutResult> done) override;
  void get(std::string key, ByteRange range, Callback<GetResult> done) override;
  void head(std::string key, Callback<ObjectInfo> done) override;
  void list(ListRequest request, Callback<ListPage> done) override;
  void delete_batch(std::vector<std::string> keys, Callback<DeleteResult> done) override;
  void create_multipart(std::string key, Callback<std::string> done) override;
  void upload_part(std::string key, std::string upload_id, int part_number, SharedBytes body,
                   Callback<std::string> done) override;
  void complete_multipart(std::string key, std::string upload_id, std::vector<PartInfo> parts,
                          Callback<PutResult> done) override;
  void abort_multipart(std::string key, std::string upload_id, Callback<Unit> done) override;
  void list_multipart_uploads(std::string prefix, Callback<std::vector<UploadInfo>> done) override;

 private:
  template <typename T>
  void with_retry(std::function<void(Callback<T>)> attempt, Callback<T> done);
  uint32_t backoff_ms(uint32_t attempt);
  // Logs a warning unless this limiter logged one less than a second ago (then counts it as
  // left out; the next line logged says how many were). Retries and give-ups have one each, so
  // a storm of retry lines never hides a give-up.
  struct LogLimiter {
    std::chrono::steady_clock::time_point last{};
    uint64_t suppressed = 0;
  };
  void warn_limited(LogLimiter& limiter, const std::string& message);

  std::shared_ptr<ObjectStore> inner_;
  RetryPolicy policy_;
  std::atomic<uint64_t> operations_{0};
  std::atomic<uint64_t> retries_{0};
  std::atomic<uint64_t> failures_{0};
  std::atomic<uint64_t> gave_up_{0};
  std::mutex log_mu_;
  LogLimiter retry_log_;
  LogLimiter gave_up_log_;
  std::mutex rng_mu_;
  std::mt19937_64 rng_;
  TimerQueue timer_;
};

}  // namespace floe::objectstore
