#include <catch2/catch.hpp>

#include "metadata/image.h"

using namespace floe;
using namespace floe::metadata;

namespace {
Uuid uuid(uint8_t b) {
  Uuid id;
  id.bytes[15] = b;
  id.bytes[0] = 0x42;
  return id;
}

MetadataState populated() {
  MetadataState s;
  REQUIRE(s.apply_all({protocol::FloeClusterRecord{"cluster-1", {}}, protocol::FloeIdCountersRecord{3, 3, {}},
                       protocol::FloeStreamRecord{1, 0, 0, 0, false, 1, 0, {}},
                       protocol::FloeStreamRecord{2, 0, 0, 0, false, 1, 0, {}},
                       protocol::TopicRecord{"orders", uuid(1), {}},
                       protocol::FloePartitionRecord{uuid(1), 0, 1, 1, 0, {}},
                       protocol::FloePartitionRecord{uuid(1), 1, 2, 1, 0, {}},
                       protocol::ConfigRecord{kTopicResourceType, "orders", "retention.ms", "1000", {}}})
              .ok());
  protocol::RegisterBrokerRecord broker;
  broker.broker_id = 1;
  broker.end_points.push_back({"PLAINTEXT", "localhost", 9092, 0, {}});
  broker.rack = "r1";
  broker.fenced = false;
  REQUIRE(s.apply(broker).ok());
  protocol::ProducerIdsRecord pids;
  pids.next_producer_id = 2000;
  REQUIRE(s.apply(pids).ok());
  protocol::FloeObjectRecord object;
  object.object_id = 1;
  object.kind = 1;
  object.state = 2;
  object.node_id = 1;
  object.size_bytes = 100;
  object.ranges.push_back({1, 1, 0, 10, {}});
  object.committed_ms = 5;
  REQUIRE(s.apply(object).ok());
  object.object_id = 2;
  object.state = 1;
  object.ranges.clear();
  object.deadline_ms = 99;
  REQUIRE(s.apply(object).ok());
  return s;
}
}  // namespace

TEST_CASE("applying_topic_partition_config_broker_and_producer_records_builds_the_image") {
  MetadataState s = populated();
  const auto& image = s.image;
  CHECK(image.cluster_id == "cluster-1");
  const TopicImage* t = image.topic("orders");
  REQUIRE(t);
  CHECK(image.topic(uuid(1)) == t);
  CHECK(t->partitions.size() == 2);
  CHECK(t->partitions[1].index == 1);
  CHECK(t->partitions[1].stream_id == StreamId(2));
  CHECK(t->configs.at("retention.ms") == "1000");
  CHECK_FALSE(t->internal);
  CHECK(image.brokers.at(NodeId(1)).listeners[0].port == 9092);
  CHECK(image.brokers.at(NodeId(1)).rack == "r1");
  CHECK(image.next_producer_id == 2000);
  CHECK(s.streams.objects.at(ObjectId(1)).state == stream::ObjectState::committed);
  CHECK(s.streams.prepared_deadline_ms.at(ObjectId(2)) == 99);

  REQUIRE(s.apply(protocol::ConfigRecord{kTopicResourceType, "orders", "retention.ms", std::nullopt, {}}).ok());
  CHECK(s.image.topic("orders")->configs.empty());
  REQUIRE(s.apply(protocol::FloeRemoveObjectRecord{2, {}}).ok());
  CHECK(s.streams.prepared_deadline_ms.empty());
  REQUIRE(s.apply(protocol::FloeRemoveStreamRecord{2, {}}).ok());
  CHECK(s.streams.streams.size() == 1);
  REQUIRE(s.apply(protocol::RemoveTopicRecord{uuid(1), {}}).ok());
  CHECK(s.image.topics.empty());
  CHECK(s.image.topic_names.empty());
}

TEST_CASE("a_snapshot_of_records_rebuilds_an_equal_state") {
  MetadataState s = populated();
  MetadataState rebuilt;
  REQUIRE(rebuilt.apply_all(s.to_records()).ok());
  CHECK(rebuilt.image.same_content(s.image));
  CHECK(same_streams(rebuilt.streams, s.streams));
}

TEST_CASE("records_that_contradict_the_state_are_rejected") {
  MetadataState s = populated();
  CHECK(s.apply(protocol::TopicRecord{"orders", uuid(9), {}}).error().code == Errc::corrupt);
  CHECK(s.apply(protocol::FloePartitionRecord{uuid(7), 0, 1, 1, 0, {}}).error().code == Errc::corrupt);
  CHECK(s.apply(protocol::FloePartitionRecord{uuid(1), 5, 1, 1, 0, {}}).error().code == Errc::corrupt);
  CHECK(s.apply(protocol::ConfigRecord{kTopicResourceType, "nope", "retention.ms", "1", {}}).error().code == Errc::corrupt);
  CHECK(s.apply(protocol::RemoveTopicRecord{uuid(7), {}}).error().code == Errc::corrupt);
  CHECK(s.apply(protocol::FloeClusterRecord{"other", {}}).error().code == Errc::corrupt);
  CHECK(s.apply(protocol::FloeIdCountersRecord{1, 1, {}}).error().code == Errc::corrupt);
  CHECK(s.apply(protocol::FloeStreamRecord{50, 0, 0, 0, false, 1, 0, {}}).error().code == Errc::corrupt);
  protocol::ProducerIdsRecord back;
  back.next_producer_id = 1000;
  CHECK(s.apply(back).error().code == Errc::corrupt);
}

TEST_CASE("internal_topics_are_recognised_by_name") {
  MetadataState s;
  REQUIRE(s.apply(protocol::TopicRecord{"__consumer_offsets", uuid(3), {}}).ok());
  CHECK(s.image.topic("__consumer_offsets")->internal);
}
