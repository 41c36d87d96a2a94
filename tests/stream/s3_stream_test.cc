// StreamManager over the real S3 backend: moto_server with signature checks on (the one .ci/run
// starts and names in FLOE_TEST_S3_*, or one this process starts through scripts/start-moto.sh).
// Appends, uploads, cold reads through S3, recovery after reopen, compaction + GC deleting real
// objects, a multipart stream object, and all of it again with a FaultStore between floe and S3.
// Each test writes under its own key prefix and lists S3 itself to check what is really stored.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <map>
#include <random>

#include "../objectstore/moto_env.h"
#include "objectstore/blocking.h"
#include "objectstore/fault_store.h"
#include "objectstore/retrying_store.h"
#include "objectstore/s3_store.h"
#include "stream_test_util.h"

using namespace floe;
using namespace floe::stream;
using namespace floe::stream::testing;
using floe::objectstore::testing::MotoEnv;

namespace {

// False (with a loud warning) only when moto_server or boto3 is not installed on this machine.
// CI always has it (.ci/run exports FLOE_TEST_S3_*); a moto that fails to start is a failure.
bool have_s3() {
  const MotoEnv& m = MotoEnv::get();
  if (m.not_installed) {
    WARN("FLOE_TEST_S3_* unset and moto_server/boto3 not installed: S3 stream test skipped");
    return false;
  }
  REQUIRE_FALSE(m.endpoint.empty());
  return true;
}

// No '/' in the prefix: moto's signature check mis-canonicalises a '/' in a list prefix.
std::string unique_prefix(const std::string& name) {
  static std::mt19937_64 rng(std::random_device{}());
  return "st-" + name + "-" + std::to_string(::getpid()) + "-" + std::to_string(rng() % 1000000) + "x";
}

std::shared_ptr<objectstore::S3Store> s3_store() {
  return std::make_shared<objectstore::S3Store>(MotoEnv::get().options());
}

// Points the harness at S3: uploads through `store` (S3 or a wrapper of it), cold reads through a
// second S3 connection pool, keys under a prefix of this test's own.
void use_s3(Harness& h, std::shared_ptr<objectstore::ObjectStore> store, const std::string& prefix) {
  h.store = std::move(store);
  h.cold_store = s3_store();
  h.options.key_prefix = prefix;
}

std::vector<std::string> keys_in_s3(const std::string& prefix) {
  auto s3 = s3_store();
  auto all = objectstore::BlockingStore(*s3).list_all(prefix);
  REQUIRE(all.ok());
  std::vector<std::string> keys;
  for (auto& o : all.value()) keys.push_back(o.key);
  return keys;
}

void delete_prefix(const std::string& prefix) {
  auto s3 = s3_store();
  auto keys = keys_in_s3(prefix);
  if (!keys.empty()) CHECK(objectstore::BlockingStore(*s3).delete_keys(keys).ok());
}

size_t committed_objects(InMemoryStreamMetadata& meta) {
  size_t n = 0;
  for (auto& m : meta.all_objects()) n += m.state == ObjectState::committed;
  return n;
}

}  // namespace

TEST_CASE("s3_stream_uploads_to_s3_and_cold_reads_after_reopen_return_bytes_exactly_as_appended") {
  if (!have_s3()) return;
  std::string prefix = unique_prefix("roundtrip");
  Harness h;
  use_s3(h, s3_store(), prefix);
  h.start();
  std::vector<std::shared_ptr<Stream>> streams;
  for (int i = 0; i < 3; ++i) streams.push_back(h.open(h.create()));
  std::map<int, std::vector<Batch>> written;
  for (int round = 0; round < 30; ++round) {
    for (int i = 0; i < 3; ++i) {
      SharedBytes b = pattern(1000 + 700 * i, round * 10 + i);
      REQUIRE(append(*streams[i], round * 2, 2, b).ok());
      written[i].push_back({Offset(round * 2), 2, b});
    }
    if (round % 10 == 9) h.flush();
  }
  auto stats = h.manager->stats();
  CHECK(stats.uploads >= 3);
  CHECK(stats.unuploaded_bytes == 0);
  // What metadata says is committed is exactly what S3 holds under the prefix.
  auto keys = keys_in_s3(prefix);
  CHECK(keys.size() == committed_objects(*h.meta));
  CHECK(keys.size() == stats.stream_set_objects + stats.stream_objects);

  h.restart();  // empty log cache: every read below goes to S3
  for (int i = 0; i < 3; ++i) {
    auto s = h.open(streams[i]->id());
    CHECK(s->end_offset() == Offset(60));
    CHECK(fetch_all(*s, 0) == written[i]);
    auto mid = fetch(*s, 31, 1);  // an offset inside a batch returns the whole batch holding it
    REQUIRE(mid.ok());
    CHECK(mid->batches.at(0) == written[i][15]);
    CHECK_FALSE(mid->from_log_cache);
  }
  CHECK(h.manager->stats().cold_fetches > 0);
  CHECK(h.manager->stats().object_gets > 0);
  h.close();
  delete_prefix(prefix);
}

TEST_CASE("s3_stream_recovery_uploads_the_wal_tail_to_s3_once_and_serves_it_after_reopen") {
  if (!have_s3()) return;
  std::string prefix = unique_prefix("recovery");
  Harness h;
  use_s3(h, s3_store(), prefix);
  h.start();
  auto a = h.open(h.create());
  auto b = h.open(h.create());
  std::vector<Batch> wa, wb;
  for (int i = 0; i < 20; ++i) {
    SharedBytes x = pattern(900, i), y = pattern(1300, 100 + i);
    REQUIRE(append(*a, i, 1, x).ok());
    REQUIRE(append(*b, i * 4, 4, y).ok());
    wa.push_back({Offset(i), 1, x});
    wb.push_back({Offset(i * 4), 4, y});
    if (i == 7) h.flush();
  }
  size_t before = keys_in_s3(prefix).size();
  // close() leaves the un-uploaded tail only in the WAL, as a crash after the WAL write would.
  h.restart();
  CHECK(h.manager->stats().recovered_uploaded == 24);  // 12 entries of each stream
  size_t after = keys_in_s3(prefix).size();
  CHECK(after > before);
  CHECK(after == committed_objects(*h.meta));
  auto a2 = h.open(a->id());
  auto b2 = h.open(b->id());
  CHECK(fetch_all(*a2, 0) == wa);
  CHECK(fetch_all(*b2, 0) == wb);
  // Appends continue where recovery left off; a second restart re-uploads nothing.
  REQUIRE(append(*a2, 20, 1, pattern(10, 20)).ok());
  h.flush();
  h.restart();
  CHECK(h.manager->stats().recovered_uploaded == 0);
  CHECK(keys_in_s3(prefix).size() == committed_objects(*h.meta));
  CHECK(h.open(a->id())->end_offset() == Offset(21));
  h.close();
  delete_prefix(prefix);
}

TEST_CASE("s3_compaction_and_gc_delete_the_source_objects_from_s3_after_the_delay") {
  if (!have_s3()) return;
  std::string prefix = unique_prefix("compaction");
  Harness h;
  use_s3(h, s3_store(), prefix);
  h.options.compaction.stream_object_min_bytes = 20 << 10;
  h.options.compaction.gc_delay_ms = 60000;
  h.start();
  auto big = h.open(h.create());
  auto small = h.open(h.create());
  std::vector<Batch> wb, ws;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 10; ++i) {
      int64_t o = round * 10 + i;
      SharedBytes b = pattern(1500, o), c = pattern(50, 1000 + o);
      REQUIRE(append(*big, o, 1, b).ok());
      REQUIRE(append(*small, o, 1, c).ok());
      wb.push_back({Offset(o), 1, b});
      ws.push_back({Offset(o), 1, c});
    }
    h.flush();
  }
  auto sources = keys_in_s3(prefix);
  REQUIRE(sources.size() == 4);
  REQUIRE(h.manager->compact_now().ok());
  CHECK(keys_in_s3(prefix).size() == 6);  // 4 sources + 2 compacted objects
  REQUIRE(h.manager->gc_now().ok());
  CHECK(keys_in_s3(prefix).size() == 6);  // within the delay readers may still use the sources
  *h.clock_ms += 60001;
  REQUIRE(h.manager->gc_now().ok());
  auto left = keys_in_s3(prefix);
  CHECK(left.size() == 2);
  CHECK(h.manager->stats().gc_deleted_objects == 4);
  auto s3 = s3_store();
  for (const auto& k : sources) {
    auto head = objectstore::BlockingStore(*s3).head(k);
    REQUIRE_FALSE(head.ok());
    CHECK(head.error().code == Errc::not_found);
  }
  // Trimming below everything destroys the small stream's object too once GC runs.
  h.restart();
  CHECK(fetch_all(*h.open(big->id()), 0) == wb);
  auto s = h.open(small->id());
  CHECK(fetch_all(*s, 0) == ws);
  REQUIRE(sync<Done>([&](auto cb) { s->trim(Offset(40), cb); }).ok());
  *h.clock_ms += 60001;
  REQUIRE(h.manager->gc_now().ok());
  CHECK(keys_in_s3(prefix).size() == 1);
  h.close();
  delete_prefix(prefix);
}

TEST_CASE("s3_a_large_stream_object_goes_up_as_a_multipart_upload_and_reads_back") {
  if (!have_s3()) return;
  std::string prefix = unique_prefix("multipart");
  Harness h;
  use_s3(h, s3_store(), prefix);  // moto options: multipart from 6 MiB, 5 MiB parts
  h.wal_capacity = 32 << 20;
  h.options.cache_size_bytes = 16 << 20;
  h.options.upload_threshold_bytes = 16 << 20;
  h.options.block_target_bytes = 256 << 10;
  h.start();
  auto s = h.open(h.create());
  std::vector<Batch> w;
  for (int i = 0; i < 112; ++i) {  // 7 MiB
    SharedBytes b = pattern(64 << 10, i);
    REQUIRE(append(*s, i, 1, b).ok());
    w.push_back({Offset(i), 1, b});
  }
  h.flush();
  CHECK(h.manager->stats().stream_objects == 1);
  auto s3 = s3_store();
  auto listed = objectstore::BlockingStore(*s3).list_all(prefix);
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK(listed->at(0).size_bytes > (7u << 20));
  CHECK(listed->at(0).etag.find('-') != std::string::npos);  // a multipart ETag: "<md5>-<parts>"
  h.restart();
  CHECK(fetch_all(*h.open(s->id()), 0) == w);
  h.close();
  delete_prefix(prefix);
}

TEST_CASE("s3_stream_under_injected_faults_loses_and_duplicates_nothing") {
  if (!have_s3()) return;
  std::string prefix = unique_prefix("faults");
  Harness h;
  auto fault = std::make_shared<objectstore::FaultStore>(s3_store(), objectstore::FaultConfig{});
  objectstore::FaultConfig cfg;
  cfg.error_rate = 0.1;
  cfg.slowdown_rate = 0.2;
  cfg.timeout_rate = 0.15;  // half of these reach S3 and only the answer is lost
  cfg.timeout_ms = 50;
  cfg.seed = 7;
  fault->set_config(cfg);
  // As in production (open_store), a RetryingStore sits in front of S3: here in front of the
  // faults. Uploads, compaction reads and GC deletes go through it, cold reads through a second one.
  objectstore::RetryPolicy retry{12, 1, 20, 30000};
  use_s3(h, std::make_shared<objectstore::RetryingStore>(fault, retry), prefix);
  auto cold_fault = std::make_shared<objectstore::FaultStore>(s3_store(), cfg);
  h.cold_store = std::make_shared<objectstore::RetryingStore>(cold_fault, retry);
  h.options.compaction.stream_object_min_bytes = 16 << 10;
  h.options.compaction.gc_delay_ms = 0;
  h.start();
  std::vector<std::shared_ptr<Stream>> streams;
  for (int i = 0; i < 4; ++i) streams.push_back(h.open(h.create()));
  std::map<int, std::vector<Batch>> written;
  for (int round = 0; round < 24; ++round) {
    for (int i = 0; i < 4; ++i) {
      SharedBytes b = pattern(400 + 900 * i, round * 10 + i);
      REQUIRE(append(*streams[i], round, 1, b).ok());
      written[i].push_back({Offset(round), 1, b});
    }
    if (round % 6 == 5) h.flush();
  }
  auto injected = fault->counts();
  CHECK(injected.errors + injected.slowdowns + injected.timeouts > 0);
  // Compaction and GC under faults: a failed round changes nothing; retry a bounded number of times.
  bool compacted = false;
  for (int attempt = 0; attempt < 20 && !compacted; ++attempt) compacted = h.manager->compact_now().ok();
  CHECK(compacted);
  bool collected = false;
  for (int attempt = 0; attempt < 20 && !collected; ++attempt) collected = h.manager->gc_now().ok();
  CHECK(collected);
  h.restart();
  for (int i = 0; i < 4; ++i) {
    auto s = h.open(streams[i]->id());
    CHECK(s->end_offset() == Offset(24));
    CHECK(fetch_all(*s, 0) == written[i]);
  }
  auto cold_injected = cold_fault->counts();
  CHECK(cold_injected.errors + cold_injected.slowdowns + cold_injected.timeouts > 0);
  fault->set_config(objectstore::FaultConfig{});
  // Nothing orphaned: every object in S3 is one metadata knows (committed, or destroyed and not
  // yet collected), and after a clean GC exactly the committed ones remain.
  REQUIRE(h.manager->gc_now().ok());
  CHECK(keys_in_s3(prefix).size() == committed_objects(*h.meta));
  h.close();
  delete_prefix(prefix);
}
