// Topic configuration keys the controller accepts, with their types, defaults and validation.
//
// The broker's DescribeConfigs lists topic_config_defs() (defaults included); CreateTopics and
// (Incremental)AlterConfigs go through validate_topic_config(). Only explicitly set keys are
// stored in the metadata log (TopicImage::configs). Values are validated the way Kafka's
// ConfigDef does for these keys (type, then range or allowed set); an unknown key is an error.
// Thread safety: immutable tables, pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace floe::metadata {

enum class ConfigType : uint8_t { boolean, string, int_, long_, double_, list };

struct TopicConfigDef {
  std::string name;
  ConfigType type;
  std::string default_value;
  std::string doc;
};

// Every accepted topic config key, sorted by name.
const std::vector<TopicConfigDef>& topic_config_defs();
const TopicConfigDef* find_topic_config(std::string_view name);
// Errc::config with a message naming the key when the key is unknown or the value invalid.
Status validate_topic_config(std::string_view name, std::string_view value);

}  // namespace floe::metadata
