// The StreamMetadata contract (stream/metadata.h), checked on BOTH implementations: the stream
// layer's InMemoryStreamMetadata and the real Controller. The cases are the essential ones of
// tests/stream/metadata_test.cc, written once against the interface.
#include <catch2/catch.hpp>

#include "metadata_test_util.h"
#include "stream/in_memory_metadata.h"

using namespace floe;
using namespace floe::stream;
using floe::metadata::testing::call;

namespace {
struct InMemoryFixture {
  int64_t now = 1000;
  InMemoryStreamMetadata impl{[this] { return now; }};
  StreamMetadata& meta() { return impl; }
  std::optional<ObjectMeta> object(ObjectId id) { return impl.object(id); }
};

struct ControllerFixture {
  int64_t now = 1000;
  metadata::testing::TempDir dir;
  std::unique_ptr<metadata::Controller> impl =
      metadata::testing::open_controller(metadata::testing::single_node(dir.path, [this] { return now; }));
  StreamMetadata& meta() { return *impl; }
  std::optional<ObjectMeta> object(ObjectId id) { return impl->object(id); }
};

template <typename Fixture>
struct Meta : Fixture {
  StreamInfo create() {
    auto r = call<StreamInfo>([&](auto cb) { this->meta().create_stream(cb); });
    REQUIRE(r.ok());
    return *r;
  }
  StreamInfo open(StreamId id) {
    auto r = call<StreamInfo>([&](auto cb) { this->meta().open_stream(id, NodeId(1), cb); });
    REQUIRE(r.ok());
    return *r;
  }
  ObjectId prepare(uint32_t n = 1, int64_t ttl = 60000) {
    auto r = call<ObjectId>([&](auto cb) { this->meta().prepare_objects(n, ttl, cb); });
    REQUIRE(r.ok());
    return *r;
  }
  Result<Done> commit(StreamSetObjectCommit c) {
    return call<Done>([&](auto cb) { this->meta().commit_stream_set_object(c, cb); });
  }
  std::vector<ObjectSlice> list(StreamId id) {
    auto r = call<std::vector<ObjectSlice>>(
        [&](auto cb) { this->meta().list_objects(id, Offset(0), Offset(INT64_MAX), 100, cb); });
    REQUIRE(r.ok());
    return *r;
  }
  std::vector<ObjectMeta> destroyed(int64_t before_ms) {
    auto r = call<std::vector<ObjectMeta>>([&](auto cb) { this->meta().list_destroyed_objects(before_ms, 100, cb); });
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

TEMPLATE_TEST_CASE("contract: opening_a_stream_bumps_its_epoch_and_fences_the_old_one", "", InMemoryFixture,
                   ControllerFixture) {
  Meta<TestType> m;
  auto s = m.create();
  auto e1 = m.open(s.id).epoch;
  auto e2 = m.open(s.id).epoch;
  CHECK(e2 > e1);
  auto r = m.commit(data_commit(m.prepare(), {{s.id, e1, Offset(0), Offset(10)}}));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::fenced);
  CHECK(m.commit(data_commit(m.prepare(), {{s.id, e2, Offset(0), Offset(10)}})).ok());
  CHECK(call<Done>([&](auto cb) { m.meta().close_stream(s.id, e1, cb); }).error().code == Errc::fenced);
  CHECK(call<Done>([&](auto cb) { m.meta().trim_stream(s.id, e1, Offset(1), cb); }).error().code == Errc::fenced);
  CHECK(call<Done>([&](auto cb) { m.meta().close_stream(s.id, e2, cb); }).ok());
  auto info = call<StreamInfo>([&](auto cb) { m.meta().describe_stream(s.id, cb); });
  CHECK_FALSE(info->open);
  CHECK(info->owner == NodeId(1));
  CHECK(call<StreamInfo>([&](auto cb) { m.meta().open_stream(StreamId(999), NodeId(1), cb); }).error().code ==
        Errc::not_found);
  CHECK(call<StreamInfo>([&](auto cb) { m.meta().describe_stream(StreamId(999), cb); }).error().code == Errc::not_found);
}

TEMPLATE_TEST_CASE("contract: data_commits_must_be_contiguous_and_are_idempotent_by_object_id", "", InMemoryFixture,
                   ControllerFixture) {
  Meta<TestType> m;
  auto s = m.create();
  auto e = m.open(s.id).epoch;
  auto id = m.prepare();
  auto c = data_commit(id, {{s.id, e, Offset(0), Offset(10)}});
  REQUIRE(m.commit(c).ok());
  CHECK(m.commit(c).ok());  // a retry after a lost answer
  auto gap = m.commit(data_commit(m.prepare(), {{s.id, e, Offset(11), Offset(12)}}));
  CHECK(gap.error().code == Errc::invalid_value);
  // A range of a stream that does not exist (deleted) is dropped; the object, holding nothing
  // live, is destroyed at once.
  auto ghost_object = m.prepare();
  CHECK(m.commit(data_commit(ghost_object, {{StreamId(999), e, Offset(0), Offset(1)}})).ok());
  auto ghost = call<std::vector<ObjectMeta>>([&](auto cb) { m.meta().list_destroyed_objects(INT64_MAX, 10, cb); });
  REQUIRE(ghost.ok());
  CHECK(std::any_of(ghost->begin(), ghost->end(), [&](const ObjectMeta& o) { return o.id == ghost_object; }));
  auto info = call<StreamInfo>([&](auto cb) { m.meta().describe_stream(s.id, cb); });
  CHECK(info->end_offset == Offset(10));
  CHECK(m.list(s.id).size() == 1);
  auto sets = call<std::vector<ObjectMeta>>([&](auto cb) { m.meta().list_stream_set_objects(NodeId(1), 10, cb); });
  REQUIRE(sets->size() == 1);
  CHECK(sets->at(0).id == id);
}

TEMPLATE_TEST_CASE("contract: compaction_replaces_sources_and_gc_sees_them_after_the_delay", "", InMemoryFixture,
                   ControllerFixture) {
  Meta<TestType> m;
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
  CHECK(m.destroyed(m.now - 20).empty());
  CHECK(m.destroyed(m.now).size() == 2);
  auto erase = call<Done>([&](auto cb) { m.meta().erase_objects({o1, o2}, cb); });
  REQUIRE(erase.ok());
  CHECK(m.destroyed(m.now).empty());
  CHECK_FALSE(m.object(o1).has_value());
}

TEMPLATE_TEST_CASE("contract: trim_destroys_objects_below_the_start_and_expired_prepares_are_destroyed", "",
                   InMemoryFixture, ControllerFixture) {
  Meta<TestType> m;
  auto s = m.create();
  auto e = m.open(s.id).epoch;
  auto o1 = m.prepare(), o2 = m.prepare();
  REQUIRE(m.commit(data_commit(o1, {{s.id, e, Offset(0), Offset(5)}})).ok());
  REQUIRE(m.commit(data_commit(o2, {{s.id, e, Offset(5), Offset(9)}})).ok());
  REQUIRE(call<Done>([&](auto cb) { m.meta().trim_stream(s.id, e, Offset(6), cb); }).ok());
  CHECK(m.object(o1)->state == ObjectState::destroyed);
  CHECK(m.object(o2)->state == ObjectState::committed);
  // Trimming past the committed end is allowed (the data is still in the owner's WAL).
  REQUIRE(call<Done>([&](auto cb) { m.meta().trim_stream(s.id, e, Offset(20), cb); }).ok());
  CHECK(call<StreamInfo>([&](auto cb) { m.meta().describe_stream(s.id, cb); })->start_offset == Offset(20));
  auto lost = m.prepare(1, 50);
  m.now += 100;
  CHECK(m.destroyed(m.now).size() == 3);
  CHECK(m.object(lost)->state == ObjectState::destroyed);
  auto late = m.commit(data_commit(lost, {{s.id, e, Offset(9), Offset(10)}}));
  CHECK_FALSE(late.ok());
}
