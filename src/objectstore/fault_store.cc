#include "objectstore/fault_store.h"

namespace floe::objectstore {

FaultStore::FaultStore(std::shared_ptr<ObjectStore> inner, FaultConfig config)
    : inner_(std::move(inner)), config_(std::move(config)), rng_(config_.seed), timer_(65536) {}

FaultStore::~FaultStore() { timer_.stop(); }

void FaultStore::set_config(FaultConfig config) {
  std::lock_guard lock(mu_);
  config_ = std::move(config);
}

FaultCounts FaultStore::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

FaultStore::Decision FaultStore::decide(StoreOp op, const std::string& key, int part_number) {
  std::lock_guard lock(mu_);
  Decision d;
  ++counts_.calls;
  if (config_.latency_ms_max > 0) {
    d.delay_ms = std::uniform_int_distribution<uint32_t>(config_.latency_ms_min,
                                                         std::max(config_.latency_ms_min, config_.latency_ms_max))(rng_);
  }
  if (op == StoreOp::get) d.delay_ms += config_.first_byte_delay_ms;
  if (config_.rule) {
    if (auto e = config_.rule(op, key, part_number)) {
      d.fate = Fate::rule;
      d.rule_error = std::move(e);
      ++counts_.rule_errors;
      return d;
    }
  }
  if (config_.drop_response && config_.drop_response(op, key, part_number)) {
    d.fate = Fate::timeout_after;
    ++counts_.dropped_responses;
    return d;
  }
  double roll = std::uniform_real_distribution<double>(0, 1)(rng_);
  if (roll < config_.error_rate) {
    d.fate = Fate::error;
    ++counts_.errors;
  } else if (roll < config_.error_rate + config_.slowdown_rate) {
    d.fate = Fate::slowdown;
    ++counts_.slowdowns;
  } else if (roll < config_.error_rate + config_.slowdown_rate + config_.timeout_rate) {
    d.fate = (rng_() & 1) ? Fate::timeout_after : Fate::timeout_before;
    d.delay_ms += config_.timeout_ms;
    ++counts_.timeouts;
  }
  return d;
}

namespace {
Error injected(int status, const char* code, const char* message) {
  ErrorDetail d;
  d.http_status = status;
  d.service_code = code;
  d.request_id = "fault-injected";
  d.retryable = true;
  return Error(Errc::io, std::string("injected: ") + message, std::move(d));
}
}  // namespace

template <typename T>
void FaultStore::inject(StoreOp op, const std::string& key, int part_number, std::function<void(Callback<T>)> forward,
                        Callback<T> done) {
  Decision d = decide(op, key, part_number);
  auto act = [d, forward = std::move(forward), done = std::move(done)]() mutable {
    switch (d.fate) {
      case Fate::pass:
        forward(std::move(done));
        return;
      case Fate::error:
        done(injected(500, "InternalError", "We encountered an internal error. Please try again."));
        return;
      case Fate::slowdown:
        done(injected(503, "SlowDown", "Please reduce your request rate."));
        return;
      case Fate::timeout_before:
        done(store_error(Errc::timeout, "injected: request timed out", "", 0, true));
        return;
      case Fate::timeout_after:
        // The request reaches the store; its answer is lost.
        forward([done = std::move(done)](Result<T>) {
          done(store_error(Errc::timeout, "injected: response timed out", "", 0, true));
        });
        return;
      case Fate::rule:
        done(*d.rule_error);
        return;
    }
  };
  if (d.delay_ms == 0 && d.fate == Fate::pass) {
    act();
    return;
  }
  auto shared_act = std::make_shared<decltype(act)>(std::move(act));
  if (!timer_.schedule(std::chrono::milliseconds(d.delay_ms), [shared_act] { (*shared_act)(); })) {
    (*shared_act)();
  }
}

void FaultStore::put_object(std::string key, SharedBytes body, Callback<PutResult> done) {
  inject<PutResult>(StoreOp::put_object, key, 0,
                    [this, key, body](Callback<PutResult> cb) { inner_->put_object(key, body, std::move(cb)); },
                    std::move(done));
}

void FaultStore::get(std::string key, ByteRange range, Callback<GetResult> done) {
  inject<GetResult>(StoreOp::get, key, 0,
                    [this, key, range](Callback<GetResult> cb) { inner_->get(key, range, std::move(cb)); },
                    std::move(done));
}

void FaultStore::head(std::string key, Callback<ObjectInfo> done) {
  inject<ObjectInfo>(StoreOp::head, key, 0, [this, key](Callback<ObjectInfo> cb) { inner_->head(key, std::move(cb)); },
                     std::move(done));
}

void FaultStore::list(ListRequest request, Callback<ListPage> done) {
  inject<ListPage>(StoreOp::list, request.prefix, 0,
                   [this, request](Callback<ListPage> cb) { inner_->list(request, std::move(cb)); }, std::move(done));
}

void FaultStore::delete_batch(std::vector<std::string> keys, Callback<DeleteResult> done) {
  std::string first = keys.empty() ? std::string() : keys.front();
  inject<DeleteResult>(StoreOp::delete_batch, first, 0,
                       [this, keys](Callback<DeleteResult> cb) { inner_->delete_batch(keys, std::move(cb)); },
                       std::move(done));
}

void FaultStore::create_multipart(std::string key, Callback<std::string> done) {
  inject<std::string>(StoreOp::create_multipart, key, 0,
                      [this, key](Callback<std::string> cb) { inner_->create_multipart(key, std::move(cb)); },
                      std::move(done));
}

void FaultStore::upload_part(std::string key, std::string upload_id, int part_number, SharedBytes body,
                             Callback<std::string> done) {
  inject<std::string>(StoreOp::upload_part, key, part_number,
                      [this, key, upload_id, part_number, body](Callback<std::string> cb) {
                        inner_->upload_part(key, upload_id, part_number, body, std::move(cb));
                      },
                      std::move(done));
}

void FaultStore::complete_multipart(std::string key, std::string upload_id, std::vector<PartInfo> parts,
                                    Callback<PutResult> done) {
  inject<PutResult>(StoreOp::complete_multipart, key, 0,
                    [this, key, upload_id, parts](Callback<PutResult> cb) {
                      inner_->complete_multipart(key, upload_id, parts, std::move(cb));
                    },
                    std::move(done));
}

void FaultStore::abort_multipart(std::string key, std::string upload_id, Callback<Unit> done) {
  inject<Unit>(StoreOp::abort_multipart, key, 0,
               [this, key, upload_id](Callback<Unit> cb) { inner_->abort_multipart(key, upload_id, std::move(cb)); },
               std::move(done));
}

void FaultStore::list_multipart_uploads(std::string prefix, Callback<std::vector<UploadInfo>> done) {
  inject<std::vector<UploadInfo>>(
      StoreOp::list_multipart_uploads, prefix, 0,
      [this, prefix](Callback<std::vector<UploadInfo>> cb) { inner_->list_multipart_uploads(prefix, std::move(cb)); },
      std::move(done));
}

}  // namespace floe::objectstore
