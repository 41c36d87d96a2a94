// FaultStore: wraps a store and makes it misbehave on purpose, for tests of this and later layers.
//
// Per operation it may add latency, fail with 500 InternalError or 503 SlowDown before the inner
// store sees the request, time out (the request may or may not have reached the inner store:
// half the injected timeouts forward the request and drop its answer), or delay the first byte of
// a get. A custom rule can fail chosen operations (say, every upload_part of part 3), and a
// drop_response rule can lose the answer of chosen operations after they succeeded.
// Randomness comes from a seeded generator, so a failing test can be replayed.
//
// Invariants:
//  (1) Injected errors carry the retryable flag real S3 errors of that kind carry (500, 503 and
//      timeouts are retryable); rule errors carry whatever the rule sets.
//  (2) Delays run on the wrapper's own timer thread (bounded queue).
// Thread safety: all methods are thread-safe; set_config may be called at any time.
#pragma once

#include <atomic>
#include <mutex>
#include <optional>
#include <random>

#include "objectstore/executor.h"
#include "objectstore/object_store.h"

namespace floe::objectstore {

enum class StoreOp { put_object, get, head, list, delete_batch, create_multipart, upload_part, complete_multipart,
                     abort_multipart, list_multipart_uploads };

struct FaultConfig {
  double error_rate = 0;      // 500 InternalError
  double slowdown_rate = 0;   // 503 SlowDown
  double timeout_rate = 0;    // Errc::timeout after timeout_ms
  uint32_t timeout_ms = 20;
  uint32_t latency_ms_min = 0;  // added to every operation
  uint32_t latency_ms_max = 0;
  uint32_t first_byte_delay_ms = 0;  // extra delay on get only (slow first byte)
  uint64_t seed = 1;
  // Returns an error to inject for (op, key, part number; 0 if none), or nullopt.
  std::function<std::optional<Error>(StoreOp, const std::string&, int)> rule;
  // When this returns true for (op, key, part number), the request reaches the inner store and
  // its answer is lost: the caller gets a retryable timeout although the operation happened.
  std::function<bool(StoreOp, const std::string&, int)> drop_response;
};

struct FaultCounts {
  uint64_t errors = 0;
  uint64_t slowdowns = 0;
  uint64_t timeouts = 0;
  uint64_t rule_errors = 0;
  uint64_t dropped_responses = 0;  // by drop_response
  uint64_t calls = 0;
};

class FaultStore final : public ObjectStore {
 public:
  FaultStore(std::shared_ptr<ObjectStore> inner, FaultConfig config);
  ~FaultStore() override;

  void set_config(FaultConfig config);
  FaultCounts counts() const;

  std::string describe() const override { return "fault+" + inner_->describe(); }
  MultipartPolicy multipart_policy() const override { return inner_->multipart_policy(); }

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
  enum class Fate { pass, error, slowdown, timeout_before, timeout_after, rule };
  struct Decision {
    Fate fate = Fate::pass;
    uint32_t delay_ms = 0;
    std::optional<Error> rule_error;
  };
  Decision decide(StoreOp op, const std::string& key, int part_number);
  template <typename T>
  void inject(StoreOp op, const std::string& key, int part_number, std::function<void(Callback<T>)> forward,
              Callback<T> done);

  std::shared_ptr<ObjectStore> inner_;
  mutable std::mutex mu_;
  FaultConfig config_;
  FaultCounts counts_;
  std::mt19937_64 rng_;
  TimerQueue timer_;
};

}  // namespace floe::objectstore
