// The S3 backend against a second S3 implementation: s3rver (npm, tests/s3rver/). Runs only when
// FLOE_TEST_S3RVER_ENDPOINT names a running s3rver with the bucket FLOE_TEST_S3RVER_BUCKET;
// tests/integration/test_s3rver_interop.sh starts one and runs these. Without it: skipped.
//
// What s3rver 3.7 does not do (so these tests cannot check it): it does not verify SigV4
// signatures (only that the access key id, S3RVER, exists: a wrong secret passes); it does not
// implement AbortMultipartUpload (405) nor ListMultipartUploads; a completed multipart object's
// ETag is the MD5 of the whole object (not S3's "<MD5 of the part MD5s>-<parts>"); completing an
// upload twice answers 500 InternalError (not NoSuchUpload). Its ListObjectsV2 continuation
// tokens need node's --openssl-legacy-provider (the test script passes it).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <random>

#include "objectstore/blocking.h"
#include "objectstore/crypto.h"
#include "objectstore/fault_store.h"
#include "objectstore/retrying_store.h"
#include "objectstore/s3_store.h"
#include "test_util.h"

using namespace floe;
using namespace floe::objectstore;
using floe::objectstore::testing::pattern_bytes;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

bool have_s3rver() {
  if (env("FLOE_TEST_S3RVER_ENDPOINT").empty()) {
    WARN("FLOE_TEST_S3RVER_ENDPOINT unset: s3rver interop test skipped (run tests/integration/test_s3rver_interop.sh)");
    return false;
  }
  return true;
}

S3Options s3rver_options(const std::string& access_key = "S3RVER") {
  S3Options o;
  o.bucket = env("FLOE_TEST_S3RVER_BUCKET");
  o.region = "us-east-1";
  o.endpoint = env("FLOE_TEST_S3RVER_ENDPOINT");
  o.path_style = true;
  o.credentials = Credentials{access_key, "S3RVER", ""};
  o.multipart = MultipartPolicy{6ull << 20, 5ull << 20, 4};
  return o;
}

std::string unique_prefix(const std::string& name) {
  static std::mt19937_64 rng(std::random_device{}());
  return "t-" + name + "-" + std::to_string(::getpid()) + "-" + std::to_string(rng() % 1000000) + "/";
}

}  // namespace

TEST_CASE("s3rver_put_get_ranged_get_head_list_and_delete_round_trip") {
  if (!have_s3rver()) return;
  S3Store store(s3rver_options());
  BlockingStore s(store);
  std::string p = unique_prefix("roundtrip");
  auto body = pattern_bytes(300000, 3);
  auto put = s.put(p + "one", body);
  INFO((put.ok() ? std::string() : put.error().to_string()));
  REQUIRE(put.ok());
  CHECK(s.get(p + "one")->body == body);
  auto ranged = s.get(p + "one", ByteRange{1000, 4096});
  REQUIRE(ranged.ok());
  CHECK(ranged->body == body.slice(1000, 4096));
  CHECK(ranged->object_size_bytes == 300000);
  auto head = s.head(p + "one");
  REQUIRE(head.ok());
  CHECK(head->size_bytes == 300000);
  auto missing = s.get(p + "nope");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().detail().service_code == "NoSuchKey");
  CHECK(missing.error().code == Errc::not_found);
  auto missing_head = s.head(p + "nope");
  REQUIRE_FALSE(missing_head.ok());
  CHECK(missing_head.error().code == Errc::not_found);

  for (int i = 0; i < 23; ++i) REQUIRE(s.put(p + "list-" + std::to_string(1000 + i), pattern_bytes(i, 2)).ok());
  auto first = s.list(ListRequest{p + "list-", "", 10});
  INFO((first.ok() ? std::string() : first.error().to_string()));
  REQUIRE(first.ok());
  CHECK(first->objects.size() == 10);
  CHECK_FALSE(first->next_continuation_token.empty());
  auto all = s.list_all(p + "list-");
  REQUIRE(all.ok());
  REQUIRE(all->size() == 23);
  CHECK(all->front().key == p + "list-1000");
  CHECK(all->at(5).size_bytes == 5);

  std::vector<std::string> keys{p + "one", p + "never-existed"};
  for (const auto& o : all.value()) keys.push_back(o.key);
  // s3rver's DeleteObjects races with its own cleanup of emptied directories and may answer 500
  // (ENOENT on scandir) part-way: a retryable error, so retry the batch as open_store() would.
  auto del = s.delete_keys(keys);
  for (int attempt = 0; attempt < 5 && !del.ok() && del.error().retryable(); ++attempt) del = s.delete_keys(keys);
  INFO((del.ok() ? std::string() : del.error().to_string()));
  REQUIRE(del.ok());
  CHECK(del->errors.empty());
  CHECK(s.list_all(p)->empty());
}

TEST_CASE("s3rver_multipart_upload_round_trips") {
  if (!have_s3rver()) return;
  S3Store store(s3rver_options());
  BlockingStore s(store);
  std::string key = unique_prefix("multipart") + "big";
  auto body = pattern_bytes(13u << 20, 4);  // 5 + 5 + 3 MiB
  auto put = s.put(key, body);
  INFO((put.ok() ? std::string() : put.error().to_string()));
  REQUIRE(put.ok());
  // s3rver's multipart ETag is the MD5 of the whole object, not S3's "<md5 of part md5s>-3".
  CHECK(put->etag == "\"" + md5_hex(body.span()) + "\"");
  auto got = s.get(key);
  REQUIRE(got.ok());
  CHECK(got->body == body);
  auto across = s.get(key, ByteRange{(5u << 20) - 100, 200});
  REQUIRE(across.ok());
  CHECK(across->body == body.slice((5u << 20) - 100, 200));
  REQUIRE(s.delete_keys({key}).ok());
}

TEST_CASE("s3rver_lost_complete_multipart_answer_is_reconciled") {
  if (!have_s3rver()) return;
  auto s3 = std::make_shared<S3Store>(s3rver_options());
  FaultConfig faults;
  auto completes = std::make_shared<std::atomic<int>>(0);
  faults.drop_response = [completes](StoreOp op, const std::string&, int) {
    return op == StoreOp::complete_multipart && completes->fetch_add(1) == 0;
  };
  auto faulty = std::make_shared<FaultStore>(s3, faults);
  RetryingStore retrying(faulty, RetryPolicy{5, 1, 10, 20000});
  std::string key = unique_prefix("reconcile") + "big";
  auto body = pattern_bytes(11u << 20, 6);
  auto put = BlockingStore(retrying).multipart_put(key, body, MultipartPolicy{0, 5u << 20, 3});
  INFO((put.ok() ? std::string() : put.error().to_string()));
  REQUIRE(put.ok());
  CHECK(completes->load() >= 2);  // the completed-but-lost attempt, then retries (500s from s3rver)
  auto head = BlockingStore(*s3).head(key);
  REQUIRE(head.ok());
  CHECK(put->etag == head->etag);
  REQUIRE(BlockingStore(*s3).delete_keys({key}).ok());
}

TEST_CASE("s3rver_unknown_access_key_is_invalid_access_key_id") {
  if (!have_s3rver()) return;
  S3Store store(s3rver_options("NOSUCHKEY"));
  auto r = BlockingStore(store).put("k", pattern_bytes(1, 1));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().detail().service_code == "InvalidAccessKeyId");
  CHECK(r.error().detail().http_status == 403);
  CHECK_FALSE(r.error().retryable());
}
