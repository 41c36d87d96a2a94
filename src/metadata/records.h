// Metadata records: the state changes the controller writes to the Raft metadata log.
//
// A Raft entry holds one RecordBatch, applied atomically. Records reuse the generated KRaft codecs
// where they fit (TopicRecord, RemoveTopicRecord, ConfigRecord, RegisterBrokerRecord,
// ProducerIdsRecord, FeatureLevelRecord, FenceBrokerRecord, UnfenceBrokerRecord, BrokerRegistrationChangeRecord,
// PartitionChangeRecord) and floe's own generated records for what Kafka has no record for (cluster
// id, partition -> stream, streams, objects, id counters: src/protocol/schemas/Floe*.json,
// apiKeys 1000+). floe's own records are upserts of an entity's whole state, so a snapshot is
// simply the list of records that rebuilds the state.
//
// Batch encoding (all big-endian):
//   batch  := u8 format (= 1) | u32 record_count | record*
//   record := i16 record type (the schema's apiKey) | i16 version | u32 body_bytes | body
// Decoding bounds every length by the bytes that remain; an unknown type or version, a short or
// overlong body is Errc::corrupt / unsupported (the Raft log already CRC-checks each entry).
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/generated/broker_registration_change_record.h"
#include "protocol/generated/config_record.h"
#include "protocol/generated/feature_level_record.h"
#include "protocol/generated/fence_broker_record.h"
#include "protocol/generated/floe_cluster_record.h"
#include "protocol/generated/floe_id_counters_record.h"
#include "protocol/generated/floe_object_record.h"
#include "protocol/generated/floe_partition_record.h"
#include "protocol/generated/floe_remove_object_record.h"
#include "protocol/generated/floe_remove_stream_record.h"
#include "protocol/generated/floe_stream_record.h"
#include "protocol/generated/partition_change_record.h"
#include "protocol/generated/producer_ids_record.h"
#include "protocol/generated/register_broker_record.h"
#include "protocol/generated/remove_topic_record.h"
#include "protocol/generated/topic_record.h"
#include "protocol/generated/unfence_broker_record.h"

namespace floe::metadata {

using MetadataRecord =
    std::variant<protocol::TopicRecord, protocol::RemoveTopicRecord, protocol::ConfigRecord,
                 protocol::RegisterBrokerRecord, protocol::ProducerIdsRecord,
                 protocol::FloeClusterRecord, protocol::FloePartitionRecord,
                 protocol::FloeStreamRecord, protocol::FloeRemoveStreamRecord,
                 protocol::FloeObjectRecord, protocol::FloeRemoveObjectRecord,
                 protocol::FloeIdCountersRecord, protocol::FenceBrokerRecord, protocol::UnfenceBrokerRecord,
                 protocol::BrokerRegistrationChangeRecord, protocol::PartitionChangeRecord,
                 protocol::FeatureLevelRecord>;

inline constexpr uint8_t kBatchFormat = 1;
inline constexpr int8_t kTopicResourceType = 2;  // ConfigRecord.ResourceType for topics (Kafka's)
// ConfigRecord.ResourceType for dynamic broker configs (Kafka's): resource name "" is the
// cluster-wide default, "<id>" one broker (any id >= 0, registered or not).
inline constexpr int8_t kBrokerResourceType = 4;

std::string encode_batch(const std::vector<MetadataRecord>& records);
Result<std::vector<MetadataRecord>> decode_batch(std::string_view bytes);

}  // namespace floe::metadata
