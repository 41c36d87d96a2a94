#include <catch2/catch.hpp>

#include "stream/in_memory_metadata.h"

using namespace floe;
using namespace floe::stream;

namespace {
template <typename T, typename F>
Result<T> call(F f) { return meta_wait<T>(f); }

struct Meta {
  int64_t now = 1000;
  InMemoryStreamMetadata meta{[this] { return now; }};
  StreamInfo create() {
    auto r = call<StreamInfo>([&](auto cb) { meta.create_stream(cb); });
    REQUIRE(r.ok());
    return *r;
  }
  StreamInfo open(StreamId id) {
    auto r = call<StreamInfo>([&](auto cb) { meta.open_stream(id, NodeId(1), cb); });
    REQUIRE(r.ok());
    return *r;
  }
  ObjectId prepare(uint32_t n = 1, int64_t ttl = 60000) {
    auto r = call<ObjectId>([&](auto cb) { meta.prepare_objects(n, ttl, cb); });
    REQUIRE(r.ok());
    return *r;
  }
  Result<Done> commit(StreamSetObjectCommit c) {
    return call<Done>([&](auto cb) { meta.commit_stream_set_object(c, cb); });
  }
  std::vector<ObjectSlice> list(StreamId id) {
    auto r = call<std::vector<ObjectSlice>>([&](auto cb) { meta.list_objects(id, Offset(0), Offset(INT64_MAX), 100, cb); });
    REQUIRE(r.ok());
    return *r;
  }
};

StreamSetObjectCommit data_commit(ObjectId id, std::vector<StreamRange> ranges) {
  StreamSetObjectCommit c;
  c.node_id = NodeId(1);
  c.object_id = id;
  c.object_size_bytes = 100;
  c.ranges = std::move(ranges);
  return c;
}
}  // namespace

TEST_CASE("opening_a_stream_bumps_its_epoch_and_fences_commits_of_the_old_one") {
  Meta m;
  auto s = m.create();
  auto e1 = m.open(s.id).epoch;
  auto e2 = m.open(s.id).epoch;
  CHECK(e2 > e1);
  auto r = m.commit(data_commit(m.prepare(), {{s.id, e1, Offset(0), Offset(10)}}));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::fenced);
  CHECK(m.commit(data_commit(m.prepare(), {{s.id, e2, Offset(0), Offset(10)}})).ok());
  auto closed = call<Done>([&](auto cb) { m.meta.close_stream(s.id, e1, cb); });
  CHECK(closed.error().code == Errc::fenced);
}

TEST_CASE("data_commits_must_be_contiguous_and_are_idempotent_by_object_id") {
  Meta m;
  auto s = m.create();
  auto e = m.open(s.id).epoch;
  auto id = m.prepare();
  auto c = data_commit(id, {{s.id, e, Offset(0), Offset(10)}});
  REQUIRE(m.commit(c).ok());
  CHECK(m.commit(c).ok());  // a retry after a lost answer
  auto gap = m.commit(data_commit(m.prepare(), {{s.id, e, Offset(11), Offset(12)}}));
  CHECK(gap.error().code == Errc::invalid_value);
  auto info = call<StreamInfo>([&](auto cb) { m.meta.describe_stream(s.id, cb); });
  CHECK(info->end_offset == Offset(10));
  CHECK(m.list(s.id).size() == 1);
}

TEST_CASE("compaction_commit_replaces_sources_and_gc_sees_them_after_the_delay") {
  Meta m;
  auto a = m.create(), b = m.create();
  auto ea = m.open(a.id).epoch, eb = m.open(b.id).epoch;
  auto o1 = m.prepare(), o2 = m.prepare();
  REQUIRE(m.commit(data_commit(o1, {{a.id, ea, Offset(0), Offset(5)}, {b.id, eb, Offset(0), Offset(5)}})).ok());
  REQUIRE(m.commit(data_commit(o2, {{a.id, ea, Offset(5), Offset(9)}, {b.id, eb, Offset(5), Offset(7)}})).ok());
  auto n = m.prepare(2);
  StreamSetObjectCommit c;
  c.node_id = NodeId(1);
  c.compacted_object_ids = {o1, o2};
  c.stream_objects.push_back({n, 10, {a.id, ea, Offset(0), Offset(9)}, {}});
  c.stream_objects.push_back({ObjectId(n.value() + 1), 10, {b.id, eb, Offset(0), Offset(7)}, {}});
  REQUIRE(m.commit(c).ok());
  CHECK(m.list(a.id).size() == 1);
  CHECK(m.list(a.id)[0].kind == ObjectKind::stream);
  m.now += 10;
  auto destroyed = call<std::vector<ObjectMeta>>([&](auto cb) { m.meta.list_destroyed_objects(m.now - 20, 10, cb); });
  CHECK(destroyed->empty());
  destroyed = call<std::vector<ObjectMeta>>([&](auto cb) { m.meta.list_destroyed_objects(m.now, 10, cb); });
  CHECK(destroyed->size() == 2);
}

TEST_CASE("trim_destroys_objects_wholly_below_the_start_and_expired_prepares_are_destroyed") {
  Meta m;
  auto s = m.create();
  auto e = m.open(s.id).epoch;
  auto o1 = m.prepare(), o2 = m.prepare();
  REQUIRE(m.commit(data_commit(o1, {{s.id, e, Offset(0), Offset(5)}})).ok());
  REQUIRE(m.commit(data_commit(o2, {{s.id, e, Offset(5), Offset(9)}})).ok());
  REQUIRE(call<Done>([&](auto cb) { m.meta.trim_stream(s.id, e, Offset(6), cb); }).ok());
  CHECK(m.meta.object(o1)->state == ObjectState::destroyed);
  CHECK(m.meta.object(o2)->state == ObjectState::committed);
  auto lost = m.prepare(1, 50);
  m.now += 100;
  auto destroyed = call<std::vector<ObjectMeta>>([&](auto cb) { m.meta.list_destroyed_objects(m.now, 10, cb); });
  CHECK(destroyed->size() == 2);
  CHECK(m.meta.object(lost)->state == ObjectState::destroyed);
  auto late = m.commit(data_commit(lost, {{s.id, e, Offset(9), Offset(10)}}));
  CHECK_FALSE(late.ok());
}
