// FetchSessionCache (KIP-227): session creation, incremental updates, forgotten partitions,
// epoch checks, eviction, and which partitions an incremental answer carries.
#include "broker/fetch_session.h"

#include <catch2/catch.hpp>

#include "broker/kafka_errors.h"

using namespace floe;
using namespace floe::broker;

namespace {
protocol::FetchRequest fetch(int32_t id, int32_t epoch, std::vector<std::tuple<std::string, int32_t, int64_t>> parts,
                             std::vector<std::pair<std::string, int32_t>> forget = {}) {
  protocol::FetchRequest r;
  r.session_id = id;
  r.session_epoch = epoch;
  for (auto& [topic, p, offset] : parts) {
    if (r.topics.empty() || r.topics.back().topic != topic) {
      r.topics.emplace_back();
      r.topics.back().topic = topic;
    }
    protocol::FetchRequest::FetchPartition fp;
    fp.partition = p;
    fp.fetch_offset = offset;
    fp.partition_max_bytes = 1 << 20;
    r.topics.back().partitions.push_back(fp);
  }
  for (auto& [topic, p] : forget) {
    protocol::FetchRequest::ForgottenTopic f;
    f.topic = topic;
    f.partitions.push_back(p);
    r.forgotten_topics_data.push_back(f);
  }
  return r;
}
size_t partitions(const FetchSessionCache::Resolved& r) {
  size_t n = 0;
  for (auto& t : r.topics) n += t.partitions.size();
  return n;
}
}  // namespace

TEST_CASE("a sessionless full fetch creates no session") {
  FetchSessionCache cache;
  auto r = cache.resolve(fetch(0, -1, {{"a", 0, 5}}), 1000);
  CHECK(r.error_code == 0);
  CHECK(r.session == nullptr);
  CHECK(r.response_session_id == 0);
  CHECK(partitions(r) == 1);
  CHECK(cache.size() == 0);
}

TEST_CASE("an incremental fetch reads the whole session with the positions it updated") {
  FetchSessionCache cache;
  auto first = cache.resolve(fetch(0, 0, {{"a", 0, 5}, {"a", 1, 7}, {"b", 0, 0}}), 1000);
  REQUIRE(first.session);
  int32_t id = first.response_session_id;
  CHECK(id != 0);
  CHECK_FALSE(first.incremental);
  auto next = cache.resolve(fetch(id, 1, {{"a", 1, 9}}, {{"b", 0}}), 1001);
  REQUIRE(next.error_code == 0);
  CHECK(next.incremental);
  REQUIRE(partitions(next) == 2);
  CHECK(next.topics[0].topic == "a");
  CHECK(next.topics[0].partitions[0].fetch_offset == 5);
  CHECK(next.topics[0].partitions[1].fetch_offset == 9);
  // Epochs must follow one another.
  CHECK(cache.resolve(fetch(id, 1, {}), 1002).error_code == kerr::kInvalidFetchSessionEpoch);
  CHECK(cache.resolve(fetch(id, 2, {}), 1002).error_code == 0);
  CHECK(cache.resolve(fetch(12345, 1, {}), 1002).error_code == kerr::kFetchSessionIdNotFound);
  // Closing it (epoch -1) makes a plain full fetch; the id is gone after.
  auto closed = cache.resolve(fetch(id, -1, {{"a", 0, 5}}), 1003);
  CHECK(closed.session == nullptr);
  CHECK(cache.resolve(fetch(id, 3, {}), 1004).error_code == kerr::kFetchSessionIdNotFound);
}

TEST_CASE("an incremental answer carries only partitions with records, errors or moved watermarks") {
  FetchSessionCache cache;
  auto first = cache.resolve(fetch(0, 0, {{"a", 0, 0}, {"a", 1, 0}}), 1000);
  auto& s = *first.session;
  CHECK(FetchSessionCache::report(s, false, {"a", 0}, false, 0, 10, 0));  // first answer: everything
  CHECK(FetchSessionCache::report(s, false, {"a", 1}, false, 0, 3, 0));
  CHECK_FALSE(FetchSessionCache::report(s, true, {"a", 0}, false, 0, 10, 0));  // nothing new
  CHECK(FetchSessionCache::report(s, true, {"a", 0}, false, 0, 11, 0));        // watermark moved
  CHECK(FetchSessionCache::report(s, true, {"a", 1}, true, 0, 3, 0));          // records
  CHECK(FetchSessionCache::report(s, true, {"a", 1}, false, kerr::kNotLeaderOrFollower, 3, 0));
  CHECK(FetchSessionCache::report(s, true, {"a", 1}, false, 0, 3, 2));         // log start moved
}

TEST_CASE("the cache is bounded: the least recently used and idle sessions are evicted") {
  FetchSessionOptions o;
  o.max_sessions = 2;
  o.idle_timeout_ms = 1000;
  FetchSessionCache cache(o);
  auto s1 = cache.resolve(fetch(0, 0, {{"a", 0, 0}}), 0).response_session_id;
  auto s2 = cache.resolve(fetch(0, 0, {{"a", 0, 0}}), 10).response_session_id;
  CHECK(cache.resolve(fetch(s1, 1, {}), 20).error_code == 0);  // s1 is now the most recent
  auto s3 = cache.resolve(fetch(0, 0, {{"a", 0, 0}}), 30).response_session_id;
  CHECK(cache.size() == 2);
  CHECK(cache.resolve(fetch(s2, 1, {}), 40).error_code == kerr::kFetchSessionIdNotFound);
  CHECK(cache.resolve(fetch(s3, 1, {}), 50).error_code == 0);
  CHECK(cache.resolve(fetch(s1, 2, {}), 5000).error_code == kerr::kFetchSessionIdNotFound);  // idle
}
