// Dynamic broker configs (Kafka's KRaft dynamic broker configs) and the effective value of a config.
//
// A dynamic broker config is a ConfigRecord with ResourceType BROKER (records.h
// kBrokerResourceType) in the metadata log: resource "" is the cluster-wide default
// (kafka-configs --entity-default), "<id>" one broker (any id >= 0, registered or not, as Kafka).
// They live in MetadataImage::broker_configs, in snapshots, and reach every broker by replay.
//
// floe changes only the keys of dynamic_broker_keys() at runtime: the broker-level defaults of
// topic configs that floe acts on (Kafka's topic config synonyms). Every other key of the config
// registry (common/config.h) is static: altering it is INVALID_REQUEST "Cannot update these configs
// dynamically: <key>" (Kafka's answer); a key the registry does not know is INVALID_CONFIG.
//
// Effective value of a topic config for a topic on broker B, first found wins:
//   the topic's own config (DYNAMIC_TOPIC_CONFIG)
//   -> for each broker synonym in Kafka's order (retention.ms: log.retention.ms, .minutes, .hours):
//        broker B's dynamic config (DYNAMIC_BROKER_CONFIG)
//        -> the dynamic cluster default (DYNAMIC_DEFAULT_BROKER_CONFIG)
//        -> server.properties / --override (STATIC_BROKER_CONFIG)
//        -> the registry's built-in default (DEFAULT_CONFIG)
//   -> the topic config's own default (DEFAULT_CONFIG).
// A broker synonym's value is converted to the topic key's unit (hours -> ms; negative: -1).
// Thread safety: pure functions over immutable inputs.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ids.h"
#include "metadata/image.h"
#include "metadata/topic_config.h"

namespace floe::metadata {

// Kafka's DescribeConfigs ConfigSource values.
enum class ConfigSource : int8_t {
  dynamic_topic = 1,
  dynamic_broker = 2,
  dynamic_default_broker = 3,
  static_broker = 4,
  default_value = 5,
};

struct DynamicBrokerKey {
  std::string_view name;         // the broker key (a config registry key)
  std::string_view topic_key;    // the topic config it is the default of
  int64_t to_topic_unit = 1;     // topic value = broker value * to_topic_unit (negative: -1)
};
// The keys floe changes at runtime, in Kafka's synonym order per topic key.
const std::vector<DynamicBrokerKey>& dynamic_broker_keys();
const DynamicBrokerKey* find_dynamic_broker_key(std::string_view name);

// The values of the broker's own config (server.properties and --override).
struct StaticBrokerConfigs {
  std::map<std::string, std::string> set;       // keys set in the file or by --override
  std::map<std::string, std::string> defaults;  // built-in defaults as loaded ({data.dir} resolved);
                                                // a key missing here: the registry's default text
};

struct ConfigSynonym {
  std::string name;
  std::string value;
  ConfigSource source = ConfigSource::default_value;
};
struct EffectiveConfig {
  std::string value;
  ConfigSource source = ConfigSource::default_value;
  std::vector<ConfigSynonym> synonyms;  // Kafka's order; synonyms[0] is where value comes from
};

// The effective value of topic config `def` for `topic` (nullptr: a topic without overrides) on
// broker `broker`.
EffectiveConfig effective_topic_config(const MetadataImage& image, const TopicImage* topic, const TopicConfigDef& def,
                                       NodeId broker, const StaticBrokerConfigs& statics);
// The effective value of a config registry key on broker `broker`; broker unset: the cluster
// default resource (only its dynamic value: nullopt when it has none). nullopt for a key that
// has no value anywhere.
std::optional<EffectiveConfig> effective_broker_config(const MetadataImage& image, std::string_view key,
                                                       std::optional<NodeId> broker,
                                                       const StaticBrokerConfigs& statics);

// --- Altering (the controller's planning) ---
enum class BrokerConfigOp : int8_t { set = 0, remove = 1, append = 2, subtract = 3 };  // Kafka's OpType
struct BrokerConfigChange {
  std::string key;
  BrokerConfigOp op = BrokerConfigOp::set;
  std::optional<std::string> value;
};
struct BrokerConfigPlan {
  int16_t error_code = 0;  // NONE, INVALID_CONFIG, INVALID_REQUEST
  std::string error_message;
  std::vector<MetadataRecord> records;  // the ConfigRecords that make the change (empty on error)
};
inline constexpr size_t kMaxBrokerConfigResources = 1024;  // "" and broker ids with dynamic configs
// Validates `changes` to broker resource `resource` ("" or an id) against the image and returns
// the records: incremental (IncrementalAlterConfigs) changes the named keys; otherwise
// (AlterConfigs) the set keys replace every dynamic key of the resource. A new resource beyond
// kMaxBrokerConfigResources: POLICY_VIOLATION.
BrokerConfigPlan plan_broker_configs(const MetadataImage& image, const std::string& resource,
                                     const std::vector<BrokerConfigChange>& changes, bool incremental);

}  // namespace floe::metadata
