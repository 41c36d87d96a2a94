// Fault injection and retries: what later layers rely on when S3 misbehaves.
#include <catch2/catch.hpp>
#include <future>

#include "objectstore/blocking.h"
#include "objectstore/fault_store.h"
#include "objectstore/mem_store.h"
#include "objectstore/retrying_store.h"
#include "test_util.h"

using namespace floe;
using namespace floe::objectstore;
using floe::objectstore::testing::pattern_bytes;

namespace {
RetryPolicy fast_retries() { return RetryPolicy{20, 1, 10, 20000}; }
}  // namespace

TEST_CASE("uploads_under_30_percent_injected_503s_complete_with_correct_bytes") {
  auto mem = std::make_shared<MemStore>(MultipartPolicy{64 * 1024, 16 * 1024, 4});
  FaultConfig faults;
  faults.slowdown_rate = 0.30;
  faults.seed = 42;
  auto faulty = std::make_shared<FaultStore>(mem, faults);
  RetryingStore retrying(faulty, fast_retries());
  BlockingStore s(retrying);

  for (int i = 0; i < 20; ++i) {
    auto body = pattern_bytes(static_cast<size_t>(1000 + i * 9000), static_cast<uint64_t>(i));  // some multipart
    auto key = "obj/" + std::to_string(i);
    REQUIRE(s.put(key, body).ok());
    auto got = s.get(key);
    REQUIRE(got.ok());
    CHECK(got->body == body);
  }
  CHECK(faulty->counts().slowdowns > 10);
  CHECK(retrying.retries() >= faulty->counts().slowdowns);
  BlockingStore direct(*mem);
  CHECK(direct.list_multipart_uploads("")->empty());
}

TEST_CASE("non_retryable_errors_surface_at_once") {
  auto mem = std::make_shared<MemStore>();
  FaultConfig faults;
  faults.rule = [](StoreOp op, const std::string&, int) -> std::optional<Error> {
    if (op != StoreOp::put_object) return std::nullopt;
    Error e = store_error(Errc::io, "Access Denied", "AccessDenied", 403);
    return e;
  };
  auto faulty = std::make_shared<FaultStore>(mem, faults);
  RetryingStore retrying(faulty, fast_retries());
  auto r = BlockingStore(retrying).put("k", pattern_bytes(10, 1));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().detail().service_code == "AccessDenied");
  CHECK(faulty->counts().calls == 1);
  CHECK(retrying.retries() == 0);
}

TEST_CASE("retries_are_bounded_in_count") {
  auto mem = std::make_shared<MemStore>();
  FaultConfig faults;
  faults.error_rate = 1.0;
  auto faulty = std::make_shared<FaultStore>(mem, faults);
  RetryingStore retrying(faulty, RetryPolicy{4, 1, 2, 10000});
  auto r = BlockingStore(retrying).get("k");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().detail().http_status == 500);
  CHECK(r.error().message.find("after 4 attempts") != std::string::npos);
  CHECK(faulty->counts().calls == 4);
}

TEST_CASE("retries_are_bounded_in_time") {
  auto mem = std::make_shared<MemStore>();
  FaultConfig faults;
  faults.timeout_rate = 1.0;
  faults.timeout_ms = 30;
  auto faulty = std::make_shared<FaultStore>(mem, faults);
  RetryingStore retrying(faulty, RetryPolicy{1000, 1, 5, 200});
  auto start = std::chrono::steady_clock::now();
  auto r = BlockingStore(retrying).head("k");
  auto took = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::timeout);
  // Bounded by the 200 ms budget, not by the 1,000 attempts (30 s of timeouts); the bound is
  // loose so that a loaded machine cannot fail it.
  CHECK(took < std::chrono::seconds(10));
}

TEST_CASE("a_failing_part_aborts_the_upload_and_leaves_no_orphan") {
  auto mem = std::make_shared<MemStore>(MultipartPolicy{64 * 1024, 16 * 1024, 3});
  FaultConfig faults;
  faults.latency_ms_max = 3;
  faults.rule = [](StoreOp op, const std::string&, int part) -> std::optional<Error> {
    if (op != StoreOp::upload_part || part != 4) return std::nullopt;
    Error e = store_error(Errc::io, "Access Denied", "AccessDenied", 403);
    return e;
  };
  auto faulty = std::make_shared<FaultStore>(mem, faults);
  RetryingStore retrying(faulty, fast_retries());
  BlockingStore s(retrying);
  auto r = s.put("doomed", pattern_bytes(200 * 1024, 3));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().detail().service_code == "AccessDenied");
  BlockingStore direct(*mem);
  CHECK(direct.list_multipart_uploads("")->empty());
  CHECK(direct.head("doomed").error().code == Errc::not_found);
}

TEST_CASE("slow_first_byte_and_latency_delay_but_do_not_fail") {
  auto mem = std::make_shared<MemStore>();
  FaultConfig faults;
  faults.first_byte_delay_ms = 50;
  auto faulty = std::make_shared<FaultStore>(mem, faults);
  BlockingStore s(*faulty);
  REQUIRE(s.put("k", pattern_bytes(10, 1)).ok());
  auto start = std::chrono::steady_clock::now();
  REQUIRE(s.get("k").ok());
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(50));
}

TEST_CASE("a_full_queue_is_backpressure_not_a_crash") {
  MemStore mem(MultipartPolicy{}, 1);
  std::atomic<int> full{0};
  std::atomic<int> finished{0};
  // The first completion holds the store's only worker until every request was submitted.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  mem.head("k", [released](Result<ObjectInfo>) { released.wait(); });
  for (int i = 0; i < 200; ++i) {
    mem.head("k", [&](Result<ObjectInfo> r) {
      if (!r.ok() && r.error().detail().service_code == "FloeQueueFull") ++full;
      ++finished;
    });
  }
  release.set_value();
  while (finished.load() < 200) std::this_thread::yield();
  CHECK(full.load() >= 198);
}

TEST_CASE("a_lost_complete_multipart_answer_is_reconciled_by_head_and_the_put_succeeds") {
  auto mem = std::make_shared<MemStore>();
  FaultConfig faults;
  auto drops = std::make_shared<std::atomic<int>>(0);
  // The first CompleteMultipartUpload happens, but its answer is lost; the retry finds no upload.
  faults.drop_response = [drops](StoreOp op, const std::string&, int) {
    return op == StoreOp::complete_multipart && drops->fetch_add(1) == 0;
  };
  auto faulty = std::make_shared<FaultStore>(mem, faults);
  RetryingStore retrying(faulty, fast_retries());
  auto body = pattern_bytes(50000, 9);
  auto r = BlockingStore(retrying).multipart_put("obj", body, MultipartPolicy{0, 16384, 2});
  INFO((r.ok() ? std::string() : r.error().to_string()));
  REQUIRE(r.ok());
  CHECK(faulty->counts().dropped_responses == 1);
  CHECK(drops->load() == 2);  // the lost attempt and the retry that got NoSuchUpload
  CHECK(retrying.retries() >= 1);
  auto got = BlockingStore(*mem).get("obj");
  REQUIRE(got.ok());
  CHECK(got->body == body);
  CHECK(r->etag == got->etag);
  CHECK(BlockingStore(*mem).list_multipart_uploads("")->empty());
}

TEST_CASE("no_such_upload_on_complete_is_an_error_when_the_object_is_not_the_one_we_uploaded") {
  auto mem = std::make_shared<MemStore>();
  FaultConfig faults;
  // Someone else aborted the upload: complete answers NoSuchUpload without completing it.
  faults.rule = [](StoreOp op, const std::string&, int) -> std::optional<Error> {
    if (op != StoreOp::complete_multipart) return std::nullopt;
    return store_error(Errc::not_found, "The specified upload does not exist.", "NoSuchUpload", 404);
  };
  auto faulty = std::make_shared<FaultStore>(mem, faults);
  auto body = pattern_bytes(50000, 9);
  MultipartPolicy policy{0, 16384, 2};
  SECTION("no object at all") {
    auto r = BlockingStore(*faulty).multipart_put("obj", body, policy);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().detail().service_code == "NoSuchUpload");
    CHECK(r.error().message.find("HEAD obj failed") != std::string::npos);
  }
  SECTION("an object of the same size written by a single PUT") {
    REQUIRE(BlockingStore(*mem).put_object("obj", pattern_bytes(50000, 1)).ok());
    auto r = BlockingStore(*faulty).multipart_put("obj", body, policy);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("not the object this upload makes") != std::string::npos);
  }
  SECTION("a multipart object of the same size and part count but other bytes") {
    REQUIRE(BlockingStore(*mem).multipart_put("obj", pattern_bytes(50000, 2), policy).ok());
    auto r = BlockingStore(*faulty).multipart_put("obj", body, policy);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().detail().service_code == "NoSuchUpload");
  }
}

TEST_CASE("multipart_etag_is_s3s_md5_of_the_part_md5s") {
  // Two parts whose MD5s are known: md5("a") and md5("b").
  std::vector<PartInfo> parts{{1, "\"0cc175b9c0f1b6a831c399e269772661\""}, {2, "92eb5ffee6ae2fec3ad71c777531578f"}};
  std::string etag = multipart_etag(parts);
  CHECK(etag.size() == 2 + 32 + 2);
  CHECK(etag.substr(etag.size() - 3) == "-2\"");
  CHECK(multipart_etag({{1, "not-an-md5"}}).empty());
}
