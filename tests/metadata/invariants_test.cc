// metadata/invariants.h: the checks the controller simulation runs must catch what they promise.
#include <catch2/catch.hpp>

#include "metadata/invariants.h"

using namespace floe;
using namespace floe::metadata;

namespace {
Uuid topic_id() {
  Uuid id;
  id.bytes[0] = 0x42;
  id.bytes[15] = 7;
  return id;
}

protocol::FloeObjectRecord committed_object(int64_t id, int64_t start, int64_t end) {
  protocol::FloeObjectRecord object;
  object.object_id = id;
  object.kind = 2;
  object.state = 2;
  object.node_id = 1;
  object.size_bytes = 100;
  object.ranges.push_back({1, 1, start, end, {}});
  object.committed_ms = 5;
  return object;
}

// Topic "orders" (one partition on stream 1, led by broker 1), stream 1 holding [0, 20) in two
// objects.
MetadataState healthy() {
  MetadataState s;
  protocol::RegisterBrokerRecord broker;
  broker.broker_id = 1;
  broker.broker_epoch = 10;
  broker.end_points.push_back({"PLAINTEXT", "localhost", 9092, 0, {}});
  broker.fenced = false;
  REQUIRE(s.apply_all({protocol::FloeIdCountersRecord{2, 3, {}}, broker,
                       protocol::FloeStreamRecord{1, 1, 0, 20, true, 1, 0, {}},
                       protocol::TopicRecord{"orders", topic_id(), {}},
                       protocol::FloePartitionRecord{topic_id(), 0, 1, 1, 0, {}}, committed_object(1, 0, 10),
                       committed_object(2, 10, 20)})
              .ok());
  return s;
}
}  // namespace

TEST_CASE("a_consistent_state_passes_the_invariant_and_progress_checks") {
  MetadataState s = healthy();
  CHECK(check_invariants(s) == std::nullopt);
  CHECK(check_progress(s, s) == std::nullopt);
}

TEST_CASE("the_invariant_check_names_a_partition_led_by_a_fenced_broker_and_overlapping_or_missing_ranges") {
  MetadataState fenced = healthy();
  REQUIRE(fenced.apply(protocol::FenceBrokerRecord{1, 10, {}}).ok());
  auto why = check_invariants(fenced);
  REQUIRE(why);
  CHECK(why->find("fenced broker 1") != std::string::npos);

  MetadataState overlap = healthy();
  REQUIRE(overlap.apply(protocol::FloeIdCountersRecord{2, 4, {}}).ok());
  REQUIRE(overlap.apply(committed_object(3, 5, 20)).ok());
  why = check_invariants(overlap);
  REQUIRE(why);
  CHECK(why->find("overlap") != std::string::npos);

  MetadataState short_end = healthy();
  REQUIRE(short_end.apply(protocol::FloeStreamRecord{1, 1, 0, 25, true, 1, 0, {}}).ok());
  why = check_invariants(short_end);
  REQUIRE(why);
  CHECK(why->find("end at 20") != std::string::npos);

  // Trimmed past the first object: a committed object with nothing live is named (the trim
  // destroys it); destroyed, the rest holds.
  MetadataState trimmed = healthy();
  REQUIRE(trimmed.apply(protocol::FloeStreamRecord{1, 1, 12, 20, true, 1, 0, {}}).ok());
  why = check_invariants(trimmed);
  REQUIRE(why);
  CHECK(why->find("object 1 is committed but holds no live range") != std::string::npos);
  auto destroyed = committed_object(1, 0, 10);
  destroyed.state = 3;
  destroyed.destroyed_ms = 6;
  REQUIRE(trimmed.apply(destroyed).ok());
  CHECK(check_invariants(trimmed) == std::nullopt);

  // A range below the start is garbage and ignored while its object holds a live range of another
  // stream.
  MetadataState garbage = healthy();
  REQUIRE(garbage.apply(protocol::FloeIdCountersRecord{3, 3, {}}).ok());
  REQUIRE(garbage.apply(protocol::FloeStreamRecord{2, 1, 0, 10, true, 1, 0, {}}).ok());
  auto shared = committed_object(1, 0, 10);
  shared.ranges.push_back({2, 1, 0, 10, {}});
  REQUIRE(garbage.apply(shared).ok());
  REQUIRE(garbage.apply(protocol::FloeStreamRecord{1, 1, 12, 20, true, 1, 0, {}}).ok());
  CHECK(check_invariants(garbage) == std::nullopt);
}

TEST_CASE("the_progress_check_names_a_stream_epoch_or_offset_going_backwards_and_a_removed_stream_coming_back") {
  MetadataState before = healthy();
  MetadataState after = healthy();
  REQUIRE(after.apply(protocol::FloeStreamRecord{1, 0, 0, 20, true, 1, 0, {}}).ok());
  auto why = check_progress(before, after);
  REQUIRE(why);
  CHECK(why->find("epoch went backwards") != std::string::npos);

  MetadataState removed = healthy();
  REQUIRE(removed.apply(protocol::RemoveTopicRecord{topic_id(), {}}).ok());
  REQUIRE(removed.apply(protocol::FloeRemoveStreamRecord{1, {}}).ok());
  CHECK(check_progress(removed, before).value_or("").find("came back") != std::string::npos);
}
