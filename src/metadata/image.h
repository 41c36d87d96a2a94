// MetadataImage and MetadataState: the controller's state machine over metadata records.
//
// MetadataState = MetadataImage (topics, brokers, cluster id, producer-id high water: what the
// broker reads through Controller::image()) + StreamTable (streams and objects: what the stream
// layer reads through the StreamMetadata calls). apply() is deterministic: every replica that
// applies the same records in the same order reaches the same state. to_records() is a snapshot:
// applying its records to an empty state rebuilds an equal state.
//
// Invariants:
//  (1) topics and topic_names index the same set of topics;
//  (2) every topic's partitions[i].index == i, and each partition's stream exists in the
//      StreamTable while the topic exists;
//  (3) stream and object ids are below next_stream_id / next_object_id (never reused).
//  (4) a broker record (fence, unfence, registration change) names a registered broker and its
//      current epoch; a PartitionChangeRecord names an existing partition; a leader change bumps
//      the partition's leader epoch by one.
//  (5) broker_configs' resource names are "" or a broker id in canonical decimal (>= 0).
// apply() returns Errc::corrupt for a record that contradicts the state (a partition of an
// unknown topic, a stream record for a removed stream id...), leaving the state unchanged by it.
// Thread safety: none; a published MetadataImage is immutable and may be read from any thread.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/ids.h"
#include "metadata/object_index.h"
#include "metadata/records.h"
#include "stream/metadata.h"

namespace floe::metadata {

struct PartitionImage {
  int32_t index = 0;
  StreamId stream_id;
  NodeId leader;  // -1: offline (no eligible leader; the stream's owner says who holds its tail)
  int32_t leader_epoch = 0;
  friend bool operator==(const PartitionImage&, const PartitionImage&) = default;
};

struct TopicImage {
  std::string name;
  Uuid id;
  bool internal = false;
  std::vector<PartitionImage> partitions;  // index == position
  std::map<std::string, std::string> configs;  // only explicitly set topic configs
  friend bool operator==(const TopicImage&, const TopicImage&) = default;
};

struct BrokerListener {
  std::string name;
  std::string host;
  int32_t port = 0;
  friend bool operator==(const BrokerListener&, const BrokerListener&) = default;
};

// A supported feature-level range (Kafka's SupportedFeatureKey / BrokerFeature), inclusive.
struct FeatureRange {
  int16_t min_level = 0;
  int16_t max_level = 0;
  friend bool operator==(const FeatureRange&, const FeatureRange&) = default;
};

// A broker's feature ranges as the records and requests list them (RegisterBrokerRecord's and
// BrokerRegistrationRequest's Features: name, min and max supported version), in name order.
template <typename Feature>
std::vector<Feature> feature_list(const std::map<std::string, FeatureRange>& ranges) {
  std::vector<Feature> out;
  for (const auto& [name, range] : ranges) {
    Feature& f = out.emplace_back();
    f.name = name;
    f.min_supported_version = range.min_level;
    f.max_supported_version = range.max_level;
  }
  return out;
}

struct BrokerImage {
  NodeId id;
  std::vector<BrokerListener> listeners;
  std::optional<std::string> rack;
  bool fenced = false;
  Uuid incarnation_id;
  int64_t epoch = -1;  // the broker epoch of this registration (Kafka's: its record's log offset)
  bool in_controlled_shutdown = false;  // draining: leads what it still has, gets nothing new
  // The feature ranges its registration listed (RegisterBrokerRecord.Features), by name. Empty:
  // none listed (a floe broker of an older version): floe's own ranges (metadata/features.h).
  std::map<std::string, FeatureRange> features;
  friend bool operator==(const BrokerImage&, const BrokerImage&) = default;
};

// A ConfigRecord resource name of a broker: "" (cluster default) or a decimal id in [0, 2^31).
bool is_broker_config_resource(std::string_view name);

// Kafka's internal topics (Topic.isInternal): TopicImage::internal is derived from the name.
bool is_internal_topic_name(std::string_view name);

// Immutable snapshot of the committed state; a new one is published after each applied batch.
class MetadataImage {
 public:
  std::string cluster_id;  // generated once (first start), Kafka-style base64 UUID, in the log
  int64_t offset = -1;  // last applied log offset
  std::map<std::string, TopicImage> topics;  // by name
  std::map<Uuid, std::string> topic_names;  // by id
  std::map<NodeId, BrokerImage> brokers;
  int64_t next_producer_id = 0;  // the first id of the next producer-id block
  // Dynamic broker configs (metadata/broker_config.h) by resource name: "" the cluster-wide
  // default, "<id>" one broker. Only explicitly set keys; no empty inner map.
  std::map<std::string, std::map<std::string, std::string>> broker_configs;
  // Finalized feature levels (FeatureLevelRecord, metadata/features.h); level 0 is never kept.
  std::map<std::string, int16_t> features;

  const TopicImage* topic(std::string_view name) const;
  const TopicImage* topic(const Uuid& id) const;
  // Content equality (offset excluded: two replays reaching the same state compare equal).
  bool same_content(const MetadataImage& other) const;
};

struct StreamTable {
  std::map<StreamId, stream::StreamInfo> streams;
  std::map<ObjectId, stream::ObjectMeta> objects;
  std::map<ObjectId, int64_t> prepared_deadline_ms;  // prepared objects only
  // The request id of the open that set a stream's current epoch (FloeStreamRecord's
  // OpenRequestId), for streams whose last open carried one: a retry of that open gets the epoch
  // back instead of bumping it again (Controller::open_stream). No entry: 0, none.
  std::map<StreamId, int64_t> open_request_ids;
  uint64_t next_stream_id = 1;
  uint64_t next_object_id = 1;
};

class MetadataState {
 public:
  MetadataImage image;
  StreamTable streams;

  // Derived index (kept by apply, so never in a snapshot): the partition whose records a stream
  // holds, for streams of partitions.
  std::map<StreamId, std::pair<Uuid, int32_t>> stream_partitions;
  const PartitionImage* partition_of(StreamId id) const;
  // Derived index (kept by apply, never in a snapshot): streams.objects by stream range, by
  // node's stream-set objects and destroyed (metadata/object_index.h).
  ObjectIndex object_index;

  Status apply(const MetadataRecord& record);
  Status apply_all(const std::vector<MetadataRecord>& records);
  std::vector<MetadataRecord> to_records() const;

  // Record builders (the one place that maps state structs to records). A stream record carries
  // the stream's open request id as this state has it (an open sets a new one on the record).
  protocol::FloeStreamRecord stream_record(const stream::StreamInfo& info) const;
  static protocol::FloeObjectRecord object_record(const stream::ObjectMeta& meta, int64_t deadline_ms);
  protocol::FloeIdCountersRecord counters_record() const;
};

bool same_streams(const StreamTable& a, const StreamTable& b);

}  // namespace floe::metadata
