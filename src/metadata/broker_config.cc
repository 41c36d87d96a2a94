#include "metadata/broker_config.h"

#include <charconv>
#include <limits>
#include <set>

#include "common/config.h"
#include "protocol/errors.h"

namespace floe::metadata {

namespace {
namespace ke = ::floe::protocol::kerr;

constexpr int64_t kMinuteMs = 60 * 1000;
constexpr int64_t kHourMs = 60 * kMinuteMs;

std::optional<int64_t> parse_plain_integer(std::string_view text) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return n;
}

// A registry value as a number (static values may carry units: "7d", "1MiB").
std::optional<int64_t> registry_number(const config::KeySpec& spec, std::string_view text) {
  if (spec.type == config::Type::duration_ms) {
    auto v = config::parse_duration_ms(text);
    return v.ok() ? std::optional<int64_t>(*v) : std::nullopt;
  }
  if (spec.type == config::Type::size_bytes) {
    auto v = config::parse_size_bytes(text);
    return v.ok() ? std::optional<int64_t>(*v) : std::nullopt;
  }
  return parse_plain_integer(text);
}

const std::string* find_in(const std::map<std::string, std::string>& m, std::string_view key) {
  auto it = m.find(std::string(key));
  return it == m.end() ? nullptr : &it->second;
}

const std::map<std::string, std::string>* broker_resource(const MetadataImage& image, const std::string& resource) {
  auto it = image.broker_configs.find(resource);
  return it == image.broker_configs.end() ? nullptr : &it->second;
}

// Every source of broker key `key` that has a value, highest precedence first.
std::vector<ConfigSynonym> broker_key_sources(const MetadataImage& image, std::string_view key,
                                              std::optional<NodeId> broker, const StaticBrokerConfigs& statics) {
  std::vector<ConfigSynonym> out;
  const std::string name(key);
  if (broker) {
    if (auto* m = broker_resource(image, std::to_string(broker->value()))) {
      if (auto* v = find_in(*m, key)) out.push_back({name, *v, ConfigSource::dynamic_broker});
    }
  }
  if (auto* m = broker_resource(image, "")) {
    if (auto* v = find_in(*m, key)) out.push_back({name, *v, ConfigSource::dynamic_default_broker});
  }
  if (!broker) return out;  // the default resource shows its dynamic values only (Kafka)
  if (auto* v = find_in(statics.set, key)) out.push_back({name, *v, ConfigSource::static_broker});
  if (auto* v = find_in(statics.defaults, key)) {
    out.push_back({name, *v, ConfigSource::default_value});
  } else if (const auto* spec = config::find_key(key); spec && spec->has_default) {
    out.push_back({name, std::string(spec->default_value), ConfigSource::default_value});
  }
  return out;
}
}  // namespace

const std::vector<DynamicBrokerKey>& dynamic_broker_keys() {
  static const std::vector<DynamicBrokerKey> keys = {
      {"log.retention.ms", "retention.ms", 1},
      {"log.retention.minutes", "retention.ms", kMinuteMs},
      {"log.retention.hours", "retention.ms", kHourMs},
      {"log.retention.bytes", "retention.bytes", 1},
      {"message.max.bytes", "max.message.bytes", 1},
      {"log.segment.bytes", "segment.bytes", 1},
  };
  return keys;
}

const DynamicBrokerKey* find_dynamic_broker_key(std::string_view name) {
  for (const auto& k : dynamic_broker_keys()) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

EffectiveConfig effective_topic_config(const MetadataImage& image, const TopicImage* topic, const TopicConfigDef& def,
                                       NodeId broker, const StaticBrokerConfigs& statics) {
  EffectiveConfig out;
  if (topic) {
    if (auto* v = find_in(topic->configs, def.name)) {
      out.synonyms.push_back({def.name, *v, ConfigSource::dynamic_topic});
    }
  }
  for (const auto& key : dynamic_broker_keys()) {
    if (key.topic_key != def.name) continue;
    for (auto& s : broker_key_sources(image, key.name, broker, statics)) out.synonyms.push_back(std::move(s));
  }
  if (out.synonyms.empty()) out.synonyms.push_back({def.name, def.default_value, ConfigSource::default_value});
  const ConfigSynonym& first = out.synonyms.front();
  out.source = first.source;
  out.value = first.value;
  if (first.name != def.name) {
    // A broker synonym: in the topic key's unit.
    const DynamicBrokerKey* key = find_dynamic_broker_key(first.name);
    const config::KeySpec* spec = config::find_key(first.name);
    auto n = spec ? registry_number(*spec, first.value) : std::nullopt;
    if (key && n) {
      int64_t v = *n;
      if (key->to_topic_unit != 1) {
        v = v < 0 ? -1
                  : (v > std::numeric_limits<int64_t>::max() / key->to_topic_unit ? std::numeric_limits<int64_t>::max()
                                                                                    : v * key->to_topic_unit);
      }
      out.value = std::to_string(v);
    }
  }
  return out;
}

std::optional<EffectiveConfig> effective_broker_config(const MetadataImage& image, std::string_view key,
                                                       std::optional<NodeId> broker,
                                                       const StaticBrokerConfigs& statics) {
  EffectiveConfig out;
  out.synonyms = broker_key_sources(image, key, broker, statics);
  if (out.synonyms.empty()) return std::nullopt;
  out.value = out.synonyms.front().value;
  out.source = out.synonyms.front().source;
  return out;
}

BrokerConfigPlan plan_broker_configs(const MetadataImage& image, const std::string& resource,
                                     const std::vector<BrokerConfigChange>& changes, bool incremental) {
  BrokerConfigPlan plan;
  auto fail = [&](int16_t code, std::string message) {
    plan.error_code = code;
    plan.error_message = std::move(message);
    plan.records.clear();
    return plan;
  };
  if (!is_broker_config_resource(resource)) {
    return fail(ke::kInvalidRequest, "broker config resource '" + resource + "' is not a broker id >= 0 or \"\"");
  }
  std::set<std::string> keys;
  std::vector<std::string> not_dynamic;
  for (const auto& c : changes) {
    if (!keys.insert(c.key).second) return fail(ke::kInvalidRequest, "config " + c.key + " appears more than once");
    const config::KeySpec* spec = config::find_key(c.key);
    if (!spec) return fail(ke::kInvalidConfig, "unknown broker config " + c.key);
    if (!find_dynamic_broker_key(c.key)) {
      not_dynamic.push_back(c.key);
      continue;
    }
    if (c.op == BrokerConfigOp::append || c.op == BrokerConfigOp::subtract) {
      return fail(ke::kInvalidConfig, "config " + c.key + " is not a list: APPEND and SUBTRACT are not allowed");
    }
    if (c.op == BrokerConfigOp::remove) continue;
    if (!c.value) return fail(ke::kInvalidConfig, "config " + c.key + " has no value");
    auto n = parse_plain_integer(*c.value);
    if (!n) return fail(ke::kInvalidConfig, "invalid value '" + *c.value + "' for config " + c.key + ": expected an integer");
    if (*n < spec->min || *n > spec->max) {
      return fail(ke::kInvalidConfig, "invalid value '" + *c.value + "' for config " + c.key + ": not in " +
                                          config::describe_range(*spec));
    }
  }
  if (!not_dynamic.empty()) {
    std::string list;
    for (const auto& k : not_dynamic) list += (list.empty() ? "" : ", ") + k;
    return fail(ke::kInvalidRequest, "Cannot update these configs dynamically: " + list);
  }
  static const std::map<std::string, std::string> kNone;
  const auto* current_ptr = broker_resource(image, resource);
  const auto& current = current_ptr ? *current_ptr : kNone;
  std::map<std::string, std::string> next = incremental ? current : std::map<std::string, std::string>{};
  for (const auto& c : changes) {
    if (c.op == BrokerConfigOp::set) next[c.key] = *c.value;
    else next.erase(c.key);
  }
  // Every resource lives in the metadata state (snapshots, every broker's replay) for good: a new
  // one beyond kMaxBrokerConfigResources is refused (the ids a request may name are unbounded).
  if (!current_ptr && !next.empty() && image.broker_configs.size() >= kMaxBrokerConfigResources) {
    return fail(ke::kPolicyViolation, "at most " + std::to_string(kMaxBrokerConfigResources) +
                                          " brokers (and the cluster default) may have dynamic configs");
  }
  for (const auto& [key, value] : current) {
    if (!next.count(key)) plan.records.push_back(protocol::ConfigRecord{kBrokerResourceType, resource, key, std::nullopt, {}});
  }
  for (const auto& [key, value] : next) {
    auto* old = find_in(current, key);
    if (!old || *old != value) plan.records.push_back(protocol::ConfigRecord{kBrokerResourceType, resource, key, value, {}});
  }
  return plan;
}

}  // namespace floe::metadata
