#include <catch2/catch.hpp>

#include "metadata/records.h"

using namespace floe;
using namespace floe::metadata;

namespace {
std::vector<MetadataRecord> one_of_each() {
  Uuid id;
  id.bytes[3] = 7;
  protocol::RegisterBrokerRecord broker;
  broker.broker_id = 1;
  broker.end_points.push_back({"PLAINTEXT", "localhost", 9092, 0, {}});
  broker.rack = std::nullopt;
  protocol::ProducerIdsRecord pids;
  pids.broker_id = 1;
  pids.next_producer_id = 1000;
  protocol::FloeObjectRecord object;
  object.object_id = 5;
  object.kind = 1;
  object.state = 2;
  object.ranges.push_back({3, 1, 0, 10, {}});
  protocol::PartitionChangeRecord change;
  change.topic_id = id;
  change.partition_id = 2;
  change.leader = -1;
  return {protocol::TopicRecord{"t", id, {}},
          protocol::RemoveTopicRecord{id, {}},
          protocol::ConfigRecord{kTopicResourceType, "t", "retention.ms", std::nullopt, {}},
          broker,
          pids,
          protocol::FloeClusterRecord{"abc", {}},
          protocol::FloePartitionRecord{id, 0, 3, 1, 0, {}},
          protocol::FloeStreamRecord{3, 1, 0, 10, true, 1, 77, {}},
          protocol::FloeRemoveStreamRecord{3, {}},
          object,
          protocol::FloeRemoveObjectRecord{5, {}},
          protocol::FloeIdCountersRecord{4, 6, {}},
          protocol::FenceBrokerRecord{1, 12, {}},
          protocol::UnfenceBrokerRecord{1, 12, {}},
          protocol::BrokerRegistrationChangeRecord{1, 12, 0, 1, {}, {}},
          change,
          protocol::FeatureLevelRecord{"metadata.version", 7, {}}};
}
}  // namespace

TEST_CASE("every_record_type_round_trips_through_a_batch") {
  auto records = one_of_each();
  REQUIRE(records.size() == std::variant_size_v<MetadataRecord>);
  auto bytes = encode_batch(records);
  auto decoded = decode_batch(bytes);
  REQUIRE(decoded.ok());
  CHECK(*decoded == records);
}

TEST_CASE("a_truncated_batch_is_rejected_at_every_length_not_read_past") {
  auto bytes = encode_batch(one_of_each());
  for (size_t n = 0; n < bytes.size(); ++n) {
    INFO("length " << n);
    CHECK_FALSE(decode_batch(std::string_view(bytes).substr(0, n)).ok());
  }
}

TEST_CASE("a_lying_record_count_or_unknown_type_is_an_error_not_an_allocation") {
  std::string huge = encode_batch({});
  huge[1] = huge[2] = huge[3] = huge[4] = '\xff';  // 4 billion records in 5 bytes
  CHECK(decode_batch(huge).error().code == Errc::invalid_length);
  std::string unknown = encode_batch({protocol::FloeRemoveStreamRecord{1, {}}});
  unknown[5] = 0x7f;  // record type 0x7fxx
  CHECK(decode_batch(unknown).error().code == Errc::unsupported);
  std::string trailing = encode_batch({}) + "x";
  CHECK_FALSE(decode_batch(trailing).ok());
}
