#include "objectstore/retrying_store.h"

#include <chrono>

#include "common/log.h"

namespace floe::objectstore {

RetryingStore::RetryingStore(std::shared_ptr<ObjectStore> inner, RetryPolicy policy)
    : inner_(std::move(inner)), policy_(policy), rng_(std::random_device{}()), timer_(65536) {
  FLOE_ASSERT(policy_.max_attempts >= 1);
}

RetryingStore::~RetryingStore() { timer_.stop(); }

uint32_t RetryingStore::backoff_ms(uint32_t attempt) {
  uint64_t cap = policy_.base_delay_ms;
  for (uint32_t i = 0; i < attempt && cap < policy_.max_delay_ms; ++i) cap *= 2;
  cap = std::min<uint64_t>(cap, policy_.max_delay_ms);
  std::lock_guard lock(rng_mu_);
  return static_cast<uint32_t>(std::uniform_int_distribution<uint64_t>(0, cap)(rng_));
}

RetryingStore::Stats RetryingStore::stats() const {
  return Stats{operations_.load(), retries_.load(), failures_.load(), gave_up_.load()};
}

void RetryingStore::warn_limited(LogLimiter& limiter, const std::string& message) {
  uint64_t suppressed;
  {
    std::lock_guard lock(log_mu_);
    auto now = std::chrono::steady_clock::now();
    if (limiter.last != std::chrono::steady_clock::time_point{} && now - limiter.last < std::chrono::seconds(1)) {
      ++limiter.suppressed;
      return;
    }
    limiter.last = now;
    suppressed = limiter.suppressed;
    limiter.suppressed = 0;
  }
  floe::log::warn("objectstore", inner_->describe() + ": " + message +
                                     (suppressed > 0 ? " (" + std::to_string(suppressed) + " more since the last such line)"
                                                     : std::string()));
}

namespace {
template <typename T>
struct RetryState {
  std::function<void(Callback<T>)> attempt;
  Callback<T> done;
  uint32_t attempts = 0;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};
}  // namespace

template <typename T>
void RetryingStore::with_retry(std::function<void(Callback<T>)> attempt, Callback<T> done) {
  ++operations_;
  auto state = std::make_shared<RetryState<T>>();
  state->attempt = std::move(attempt);
  state->done = std::move(done);
  // The step closure owns itself through the state only while an attempt is in flight.
  auto step = std::make_shared<std::function<void()>>();
  *step = [this, state, weak_step = std::weak_ptr<std::function<void()>>(step)] {
    auto self_step = weak_step.lock();
    ++state->attempts;
    state->attempt([this, state, self_step](Result<T> r) {
      if (r.ok() || !r.error().retryable()) {
        if (!r.ok()) ++failures_;
        state->done(std::move(r));
        return;
      }
      auto elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                              state->started).count();
      uint32_t delay = backoff_ms(state->attempts);
      bool out_of_budget = state->attempts >= policy_.max_attempts ||
                           elapsed_ms + static_cast<int64_t>(delay) > static_cast<int64_t>(policy_.max_total_ms);
      // Counted when the retry starts (on the timer thread): the counter never goes down.
      if (!out_of_budget && timer_.schedule(std::chrono::milliseconds(delay), [this, self_step] {
            ++retries_;
            (*self_step)();
          })) {
        warn_limited(retry_log_, r.error().to_string() + "; retry " + std::to_string(state->attempts) + " in " +
                                     std::to_string(delay) + " ms");
        return;
      }
      Error e = r.error();
      e.message += " (after " + std::to_string(state->attempts) + " attempts)";
      ++failures_;
      ++gave_up_;
      warn_limited(gave_up_log_, "gave up: " + e.to_string());
      state->done(std::move(e));
    });
  };
  (*step)();
}

void RetryingStore::put_object(std::string key, SharedBytes body, Callback<PutResult> done) {
  with_retry<PutResult>([this, key, body](Callback<PutResult> cb) { inner_->put_object(key, body, std::move(cb)); },
                        std::move(done));
}

void RetryingStore::get(std::string key, ByteRange range, Callback<GetResult> done) {
  with_retry<GetResult>([this, key, range](Callback<GetResult> cb) { inner_->get(key, range, std::move(cb)); },
                        std::move(done));
}

void RetryingStore::head(std::string key, Callback<ObjectInfo> done) {
  with_retry<ObjectInfo>([this, key](Callback<ObjectInfo> cb) { inner_->head(key, std::move(cb)); }, std::move(done));
}

void RetryingStore::list(ListRequest request, Callback<ListPage> done) {
  with_retry<ListPage>([this, request](Callback<ListPage> cb) { inner_->list(request, std::move(cb)); },
                       std::move(done));
}

void RetryingStore::delete_batch(std::vector<std::string> keys, Callback<DeleteResult> done) {
  with_retry<DeleteResult>([this, keys](Callback<DeleteResult> cb) { inner_->delete_batch(keys, std::move(cb)); },
                           std::move(done));
}

void RetryingStore::create_multipart(std::string key, Callback<std::string> done) {
  with_retry<std::string>([this, key](Callback<std::string> cb) { inner_->create_multipart(key, std::move(cb)); },
                          std::move(done));
}

void RetryingStore::upload_part(std::string key, std::string upload_id, int part_number, SharedBytes body,
                                Callback<std::string> done) {
  with_retry<std::string>(
      [this, key, upload_id, part_number, body](Callback<std::string> cb) {
        inner_->upload_part(key, upload_id, part_number, body, std::move(cb));
      },
      std::move(done));
}

void RetryingStore::complete_multipart(std::string key, std::string upload_id, std::vector<PartInfo> parts,
                                       Callback<PutResult> done) {
  with_retry<PutResult>(
      [this, key, upload_id, parts](Callback<PutResult> cb) {
        inner_->complete_multipart(key, upload_id, parts, std::move(cb));
      },
      std::move(done));
}

void RetryingStore::abort_multipart(std::string key, std::string upload_id, Callback<Unit> done) {
  with_retry<Unit>([this, key, upload_id](Callback<Unit> cb) { inner_->abort_multipart(key, upload_id, std::move(cb)); },
                   std::move(done));
}

void RetryingStore::list_multipart_uploads(std::string prefix, Callback<std::vector<UploadInfo>> done) {
  with_retry<std::vector<UploadInfo>>(
      [this, prefix](Callback<std::vector<UploadInfo>> cb) { inner_->list_multipart_uploads(prefix, std::move(cb)); },
      std::move(done));
}

}  // namespace floe::objectstore
