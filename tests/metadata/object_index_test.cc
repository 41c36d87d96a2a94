// The object index (metadata/object_index.h) answers list_objects, list_stream_set_objects and
// list_destroyed_objects exactly as a scan of every object does: seeded random histories of
// object records (prepares, data commits of stream-set and stream objects, compactions that
// replace objects, destroys, erases, stream deletes, overlapping garbage uploads, rewritten
// records, snapshot save/restore) applied to a MetadataState, each step checked against a
// brute-force model the test keeps itself. FLOE_OBJECT_INDEX_SEEDS (default 40) seeds.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <tuple>

#include "metadata/image.h"
#include "metadata/invariants.h"
#include "metadata/snapshot.h"
#include "metadata_test_util.h"

using namespace floe;
using namespace floe::metadata;
using stream::ObjectKind;
using stream::ObjectMeta;
using stream::ObjectSlice;
using stream::ObjectState;
using stream::StreamRange;

namespace {

using SliceTuple = std::tuple<uint64_t, int, uint64_t, int64_t, int64_t>;

SliceTuple as_tuple(const ObjectSlice& s) {
  return {s.object_id.value(), static_cast<int>(s.kind), s.object_size_bytes, s.start_offset.value(), s.end_offset.value()};
}

std::vector<SliceTuple> as_tuples(const std::vector<ObjectSlice>& v) {
  std::vector<SliceTuple> out;
  for (const auto& s : v) out.push_back(as_tuple(s));
  return out;
}

// The model: every object as the records left it; each answer by brute force.
struct Model {
  std::map<ObjectId, ObjectMeta> objects;

  std::vector<SliceTuple> list(StreamId id, Offset start, Offset end, uint32_t limit) const {
    std::vector<std::tuple<int64_t, uint64_t, size_t, SliceTuple>> found;
    for (const auto& [oid, m] : objects) {
      if (m.state != ObjectState::committed) continue;
      for (size_t i = 0; i < m.ranges.size(); ++i) {
        const auto& r = m.ranges[i];
        if (r.stream_id != id || r.end_offset <= start || r.start_offset >= end) continue;
        found.emplace_back(r.start_offset.value(), oid.value(), i,
                           SliceTuple{oid.value(), static_cast<int>(m.kind), m.size_bytes, r.start_offset.value(),
                                      r.end_offset.value()});
      }
    }
    std::sort(found.begin(), found.end());
    std::vector<SliceTuple> out;
    for (const auto& f : found) {
      if (out.size() >= limit) break;
      out.push_back(std::get<3>(f));
    }
    return out;
  }
  std::vector<ObjectId> stream_set_objects(NodeId node, uint32_t limit) const {
    std::vector<ObjectId> out;
    for (const auto& [id, m] : objects) {
      if (out.size() >= limit) break;
      if (m.state == ObjectState::committed && m.kind == ObjectKind::stream_set && m.node_id == node) out.push_back(id);
    }
    return out;
  }
  std::set<ObjectId> destroyed() const {
    std::set<ObjectId> out;
    for (const auto& [id, m] : objects) {
      if (m.state == ObjectState::destroyed) out.insert(id);
    }
    return out;
  }
  std::vector<ObjectId> committed() const {
    std::vector<ObjectId> out;
    for (const auto& [id, m] : objects) {
      if (m.state == ObjectState::committed) out.push_back(id);
    }
    return out;
  }
};

class History {
 public:
  explicit History(uint64_t seed) : rng_(seed) {}

  void step() {
    int op = static_cast<int>(below(100));
    if (op < 12) prepare();
    else if (op < 40) commit_data();
    else if (op < 52) compact();
    else if (op < 60) destroy_one();
    else if (op < 68) erase_some();
    else if (op < 72) delete_stream();
    else if (op < 77) garbage();
    else if (op < 82) rewrite();
    else if (op < 85) snapshot_round_trip();
    else commit_data();
  }

  void check_answers() {
    if (auto why = state_.object_index.check(state_.streams.objects)) FAIL("object index: " << *why);
    for (int q = 0; q < 12; ++q) {
      StreamId id(1 + below(kStreams + 1));  // sometimes a stream that never had data
      int64_t top = std::max<int64_t>(ends_[id], 1) + 20;
      auto pick_offset = [&] { return static_cast<int64_t>(below(static_cast<uint64_t>(top) + 10)) - 5; };
      int64_t a = pick_offset(), b = pick_offset();
      if (below(4) != 0 && a > b) std::swap(a, b);  // mostly [low, high); sometimes inverted
      if (below(8) == 0) b = INT64_MAX;
      if (below(10) == 0) b = a + 1;
      uint32_t limit = below(4) == 0 ? static_cast<uint32_t>(below(4)) : (below(2) ? 16 : UINT32_MAX);
      auto got = as_tuples(state_.object_index.list(id, Offset(a), Offset(b), limit));
      auto want = model_.list(id, Offset(a), Offset(b), limit);
      INFO("stream " << id.value() << " [" << a << ", " << b << ") limit " << limit);
      REQUIRE(got == want);
      REQUIRE(as_tuples(scan_slices(state_.streams.objects, id, Offset(a), Offset(b), limit)) == want);
    }
    for (int node = 0; node <= kNodes; ++node) {
      uint32_t limit = below(3) == 0 ? static_cast<uint32_t>(below(3)) : UINT32_MAX;
      REQUIRE(state_.object_index.stream_set_objects(NodeId(node), limit) == model_.stream_set_objects(NodeId(node), limit));
    }
    REQUIRE(state_.object_index.destroyed() == model_.destroyed());
  }

  size_t objects() const { return model_.objects.size(); }
  int snapshots() const { return snapshots_; }
  int garbage_commits() const { return garbage_; }

 private:
  static constexpr uint64_t kStreams = 8;
  static constexpr int kNodes = 3;

  uint64_t below(uint64_t n) { return n == 0 ? 0 : rng_() % n; }

  void apply(const MetadataRecord& r) {
    auto s = state_.apply(r);
    if (!s.ok()) FAIL("record rejected: " << s.error().to_string());
  }

  ObjectId new_id() {
    ObjectId id(state_.streams.next_object_id);
    auto counters = state_.counters_record();
    counters.next_object_id += 1;
    counters.next_stream_id = std::max<int64_t>(counters.next_stream_id, kStreams + 1);
    apply(counters);
    return id;
  }

  void put(const ObjectMeta& m, int64_t deadline_ms = 0) {
    apply(MetadataState::object_record(m, deadline_ms));
    model_.objects[m.id] = m;
  }

  ObjectMeta committed(ObjectId id, ObjectKind kind, std::vector<StreamRange> ranges) {
    ObjectMeta m;
    m.id = id;
    m.kind = kind;
    m.state = ObjectState::committed;
    m.node_id = NodeId(static_cast<int32_t>(1 + below(kNodes)));
    m.size_bytes = 1 + below(1 << 20);
    m.ranges = std::move(ranges);
    m.committed_ms = ++clock_ms_;
    return m;
  }

  ObjectId prepared_or_new() {
    for (const auto& [id, m] : model_.objects) {
      if (m.state == ObjectState::prepared && below(2) == 0) return id;
    }
    return new_id();
  }

  void prepare() {
    ObjectMeta m;
    m.id = new_id();
    m.state = ObjectState::prepared;
    put(m, clock_ms_ + 1000);
  }

  StreamRange next_range(StreamId s) {
    int64_t start = ends_[s];
    int64_t end = start + 1 + static_cast<int64_t>(below(50));
    ends_[s] = end;
    return StreamRange{s, StreamEpoch(1), Offset(start), Offset(end)};
  }

  // New data: a stream-set object of 1-4 streams (sometimes two ranges of one stream) or a
  // stream object of one.
  void commit_data() {
    ObjectId id = prepared_or_new();
    if (below(3) == 0) {
      StreamId s(1 + below(kStreams));
      put(committed(id, ObjectKind::stream, {next_range(s)}));
      return;
    }
    std::vector<StreamRange> ranges;
    std::set<uint64_t> streams;
    for (uint64_t n = 1 + below(4); streams.size() < n;) streams.insert(1 + below(kStreams));
    for (uint64_t s : streams) {
      ranges.push_back(next_range(StreamId(s)));
      if (below(6) == 0) ranges.push_back(next_range(StreamId(s)));
    }
    put(committed(id, ObjectKind::stream_set, std::move(ranges)));
  }

  // Compaction: 1-3 committed objects replaced by new ones holding the same ranges (a stream
  // object per stream for some, one stream-set object for the rest); the sources destroyed.
  void compact() {
    auto live = model_.committed();
    if (live.empty()) return;
    std::set<ObjectId> sources;
    for (uint64_t n = 1 + below(3); sources.size() < std::min<size_t>(n, live.size());) {
      sources.insert(live[below(live.size())]);
    }
    std::map<StreamId, std::vector<StreamRange>> by_stream;
    for (ObjectId id : sources) {
      for (const auto& r : model_.objects.at(id).ranges) by_stream[r.stream_id].push_back(r);
    }
    std::vector<StreamRange> rest;
    for (auto& [s, ranges] : by_stream) {
      std::sort(ranges.begin(), ranges.end(), [](const StreamRange& a, const StreamRange& b) { return a.start_offset < b.start_offset; });
      bool contiguous = true;
      for (size_t i = 1; i < ranges.size(); ++i) contiguous = contiguous && ranges[i].start_offset == ranges[i - 1].end_offset;
      if (contiguous && below(2) == 0) {
        StreamRange merged = ranges.front();
        merged.end_offset = ranges.back().end_offset;
        put(committed(new_id(), ObjectKind::stream, {merged}));
      } else {
        rest.insert(rest.end(), ranges.begin(), ranges.end());
      }
    }
    if (!rest.empty()) put(committed(new_id(), ObjectKind::stream_set, rest));
    for (ObjectId id : sources) destroy(id);
  }

  void destroy(ObjectId id) {
    ObjectMeta m = model_.objects.at(id);
    m.state = ObjectState::destroyed;
    m.destroyed_ms = ++clock_ms_;
    put(m);
  }

  void destroy_one() {
    std::vector<ObjectId> candidates;
    for (const auto& [id, m] : model_.objects) {
      if (m.state != ObjectState::destroyed) candidates.push_back(id);  // prepared ones expire
    }
    if (!candidates.empty()) destroy(candidates[below(candidates.size())]);
  }

  void erase_some() {
    std::vector<ObjectId> dead;
    for (const auto& [id, m] : model_.objects) {
      if (m.state == ObjectState::destroyed && below(2) == 0) dead.push_back(id);
    }
    dead.push_back(ObjectId(state_.streams.next_object_id + 5));  // an id never used: nothing happens
    for (ObjectId id : dead) {
      apply(protocol::FloeRemoveObjectRecord{static_cast<int64_t>(id.value()), {}});
      model_.objects.erase(id);
    }
  }

  // A stream deleted (its topic deleted): its record goes; objects holding nothing else die.
  void delete_stream() {
    StreamId s(1 + below(kStreams));
    apply(protocol::FloeRemoveStreamRecord{static_cast<int64_t>(s.value()), {}});
    deleted_.insert(s);
    for (ObjectId id : model_.committed()) {
      const auto& ranges = model_.objects.at(id).ranges;
      if (std::all_of(ranges.begin(), ranges.end(), [&](const StreamRange& r) { return deleted_.count(r.stream_id) > 0; })) {
        destroy(id);
      }
    }
  }

  // Ranges that overlap committed ones, or are empty or inverted (a second upload of a deleted
  // stream's data, a misbehaving compactor): list_objects must still answer like the scan.
  void garbage() {
    ++garbage_;
    std::vector<StreamRange> ranges;
    for (uint64_t n = 1 + below(3); ranges.size() < n;) {
      StreamId s(1 + below(kStreams));
      int64_t a = static_cast<int64_t>(below(static_cast<uint64_t>(ends_[s]) + 10));
      int64_t b = below(5) == 0 ? a - static_cast<int64_t>(below(3)) : a + 1 + static_cast<int64_t>(below(200));
      ranges.push_back(StreamRange{s, StreamEpoch(1), Offset(a), Offset(b)});
    }
    put(committed(new_id(), below(2) ? ObjectKind::stream_set : ObjectKind::stream, std::move(ranges)));
  }

  // The same object's record again, changed (size, node, one range cut short): the index drops
  // the old ranges and takes the new ones.
  void rewrite() {
    auto live = model_.committed();
    if (live.empty()) return;
    ObjectMeta m = model_.objects.at(live[below(live.size())]);
    m.size_bytes += 1;
    m.node_id = NodeId(static_cast<int32_t>(1 + below(kNodes)));
    if (!m.ranges.empty() && below(2) == 0) {
      auto& r = m.ranges[below(m.ranges.size())];
      if (r.end_offset.value() - r.start_offset.value() > 1) r.end_offset = Offset(r.end_offset.value() - 1);
    }
    put(m);
  }

  void snapshot_round_trip() {
    ++snapshots_;
    auto decoded = decode_snapshot(encode_snapshot(state_), state_.image.offset + 1);
    if (!decoded.ok()) FAIL("snapshot: " << decoded.error().to_string());
    REQUIRE(decoded->object_index == state_.object_index);
    state_ = std::move(*decoded);
  }

  std::mt19937_64 rng_;
  MetadataState state_;
  Model model_;
  std::map<StreamId, int64_t> ends_;
  std::set<StreamId> deleted_;
  int64_t clock_ms_ = 1000;
  int snapshots_ = 0;
  int garbage_ = 0;
};

uint64_t seeds_from_env() {
  const char* v = std::getenv("FLOE_OBJECT_INDEX_SEEDS");
  return v ? std::max<uint64_t>(1, std::strtoull(v, nullptr, 10)) : 40;
}

}  // namespace

TEST_CASE("the_object_index_answers_every_list_exactly_as_a_scan_of_every_object_through_random_histories") {
  const uint64_t seeds = seeds_from_env();
  int snapshots = 0, garbage = 0;
  size_t max_objects = 0;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    INFO("seed " << seed);
    History h(seed);
    for (int i = 0; i < 400; ++i) {
      h.step();
      h.check_answers();
      max_objects = std::max(max_objects, h.objects());
    }
    snapshots += h.snapshots();
    garbage += h.garbage_commits();
  }
  // The histories did reach what they are meant to cover.
  CHECK(snapshots > 0);
  CHECK(garbage > 0);
  CHECK(max_objects > 50);
}

TEST_CASE("list_objects_of_a_controller_answers_from_its_index_through_commits_compactions_trims_deletes_and_a_restart") {
  using namespace floe::metadata::testing;
  TempDir dir;
  ControllerOptions options = single_node(dir.path);
  options.snapshot_interval_entries = 7;  // snapshots along the way; the restart loads one
  auto c = open_controller(options);
  register_self(*c);
  REQUIRE(create_one(*c, "doomed", 2).error_code == kafka_errors::kNone);
  auto image = c->image();
  std::vector<stream::StreamInfo> streams;
  for (const auto& p : image->topic("doomed")->partitions) {
    auto s = call<stream::StreamInfo>([&](auto cb) { c->open_stream(p.stream_id, NodeId(1), cb); });
    REQUIRE(s.ok());
    streams.push_back(*s);
  }
  for (int i = 0; i < 2; ++i) streams.push_back(create_open_stream(*c));
  auto same_as_scan = [&] {
    c->check_object_index();
    auto table = c->streams();
    for (const auto& s : streams) {
      for (auto [a, b] : {std::pair<int64_t, int64_t>{0, INT64_MAX}, {5, 6}, {15, 45}, {39, 41}, {60, 60}}) {
        auto got = call<std::vector<ObjectSlice>>([&](auto cb) { c->list_objects(s.id, Offset(a), Offset(b), 100, cb); });
        REQUIRE(got.ok());
        REQUIRE(as_tuples(*got) == as_tuples(scan_slices(table.objects, s.id, Offset(a), Offset(b), 100)));
      }
    }
  };
  // Four data commits of 10 offsets per stream, each one stream-set object over every stream.
  std::map<StreamId, int64_t> end;
  for (int round = 0; round < 4; ++round) {
    auto id = call<ObjectId>([&](auto cb) { c->prepare_objects(1, 60000, cb); });
    REQUIRE(id.ok());
    stream::StreamSetObjectCommit commit;
    commit.node_id = NodeId(1);
    commit.object_id = *id;
    commit.object_size_bytes = 1000;
    for (const auto& s : streams) {
      commit.ranges.push_back({s.id, s.epoch, Offset(end[s.id]), Offset(end[s.id] + 10)});
      end[s.id] += 10;
    }
    REQUIRE(call<stream::Done>([&](auto cb) { c->commit_stream_set_object(commit, cb); }).ok());
    same_as_scan();
  }
  auto sets = call<std::vector<ObjectMeta>>([&](auto cb) { c->list_stream_set_objects(NodeId(1), 100, cb); });
  REQUIRE(sets.ok());
  REQUIRE(sets->size() == 4);
  // Compaction: the first stream-set object becomes one stream object per stream.
  auto first_so = call<ObjectId>([&](auto cb) { c->prepare_objects(static_cast<uint32_t>(streams.size()), 60000, cb); });
  REQUIRE(first_so.ok());
  stream::StreamSetObjectCommit compaction;
  compaction.node_id = NodeId(1);
  for (size_t i = 0; i < streams.size(); ++i) {
    stream::StreamObjectCommit so;
    so.object_id = ObjectId(first_so->value() + i);
    so.object_size_bytes = 250;
    so.range = {streams[i].id, streams[i].epoch, Offset(0), Offset(10)};
    compaction.stream_objects.push_back(so);
  }
  compaction.compacted_object_ids = {(*sets)[0].id};
  REQUIRE(call<stream::Done>([&](auto cb) { c->commit_stream_set_object(compaction, cb); }).ok());
  same_as_scan();
  auto last = call<std::vector<ObjectSlice>>([&](auto cb) { c->list_objects(streams.back().id, Offset(0), Offset(40), 100, cb); });
  REQUIRE(last.ok());
  REQUIRE(last->size() == 4);  // the stream object, then the three stream-set objects left
  CHECK((*last)[0].kind == ObjectKind::stream);
  CHECK((*last)[0].object_id == ObjectId(first_so->value() + streams.size() - 1));
  sets = call<std::vector<ObjectMeta>>([&](auto cb) { c->list_stream_set_objects(NodeId(1), 100, cb); });
  REQUIRE(sets.ok());
  CHECK(sets->size() == 3);
  // Trim, topic delete (its streams go, their objects' ranges stay as garbage), a restart.
  REQUIRE(call<stream::Done>([&](auto cb) { c->trim_stream(streams[2].id, streams[2].epoch, Offset(25), cb); }).ok());
  auto deleted = call<std::vector<TopicResult>>([&](auto cb) { c->delete_topics({"doomed"}, cb); });
  REQUIRE(deleted.ok());
  same_as_scan();
  auto destroyed = call<std::vector<ObjectMeta>>([&](auto cb) { c->list_destroyed_objects(INT64_MAX, 100, cb); });
  REQUIRE(destroyed.ok());
  // The compacted source; the stream objects of the deleted streams and of [0, 10) trimmed away.
  CHECK(destroyed->size() == 4);
  auto before = c->streams();
  c->close();
  c = open_controller(options);
  same_as_scan();
  CHECK(same_streams(c->streams(), before));
}
