#include "metadata/features.h"

#include <set>

#include "protocol/errors.h"

namespace floe::metadata {

namespace {
namespace ke = ::floe::protocol::kerr;

std::string range_text(const FeatureRange& r) { return std::to_string(r.min_level) + "-" + std::to_string(r.max_level); }

FeatureUpdateResult check(const MetadataImage& image, const FeatureUpdate& u,
                          const std::map<std::string, FeatureRange>& supported) {
  FeatureUpdateResult r{u.feature, ke::kNone, ""};
  auto refuse = [&](std::string message) {
    r.error_code = kInvalidUpdateVersion;
    r.error_message = "Invalid update version " + std::to_string(u.level) + " for feature " + u.feature + ". " + message;
    return r;
  };
  auto range = supported.find(u.feature);
  if (range == supported.end()) return refuse("The controller does not support this feature.");
  if (u.type < FeatureUpgradeType::upgrade || u.type > FeatureUpgradeType::unsafe_downgrade) {
    r.error_code = ke::kInvalidRequest;
    r.error_message = "Unknown upgrade type " + std::to_string(static_cast<int>(u.type));
    return r;
  }
  if (u.level < 1) {
    if (u.feature == kMetadataVersionFeature) return refuse("The metadata.version feature cannot be disabled.");
    return refuse("Disabling a feature is not supported.");
  }
  if (u.level < range->second.min_level || u.level > range->second.max_level) {
    return refuse("The controller only supports versions " + range_text(range->second) + ".");
  }
  for (const auto& [id, broker] : image.brokers) {
    // Fenced brokers count too: one unfences with a heartbeat, without registering again.
    if (broker.features.empty()) continue;  // none listed: floe's ranges
    auto it = broker.features.find(u.feature);
    const FeatureRange listed = it == broker.features.end() ? FeatureRange{0, 0} : it->second;
    if (u.level < listed.min_level || u.level > listed.max_level) {
      return refuse("Broker " + id.to_string() + " only supports versions " + range_text(listed) + ".");
    }
  }
  auto current_it = image.features.find(u.feature);
  const int16_t current = current_it == image.features.end() ? 0 : current_it->second;
  if (u.level < current && u.type == FeatureUpgradeType::upgrade) {
    return refuse("Can't downgrade the version of this feature without setting the upgrade type to either safe or "
                  "unsafe downgrade.");
  }
  if (u.level > current && u.type != FeatureUpgradeType::upgrade) return refuse("Can't downgrade to a newer version.");
  if (u.level < current && u.feature == kMetadataVersionFeature) {
    if (u.type == FeatureUpgradeType::unsafe_downgrade) return refuse("Unsafe metadata.version downgrades are not supported.");
    // Every level below floe's changes what the records mean to Kafka's tools: never safe.
    return refuse("Refusing to perform the requested downgrade because it might delete metadata information.");
  }
  return r;
}
}  // namespace

const std::map<std::string, FeatureRange>& supported_features() {
  static const std::map<std::string, FeatureRange> features = {
      {kMetadataVersionFeature, {kFloeMetadataVersion, kFloeMetadataVersion}},
  };
  return features;
}

bool FeaturePlan::ok() const {
  for (const auto& r : results) {
    if (r.error_code != 0) return false;
  }
  return true;
}

FeaturePlan plan_feature_updates(const MetadataImage& image, const std::vector<FeatureUpdate>& updates,
                                 const std::map<std::string, FeatureRange>& supported) {
  FeaturePlan plan;
  std::set<std::string> seen;
  for (const auto& u : updates) {
    if (!seen.insert(u.feature).second) {
      plan.results.push_back({u.feature, ke::kInvalidRequest, "feature " + u.feature + " appears more than once"});
      continue;
    }
    plan.results.push_back(check(image, u, supported));
  }
  if (!plan.ok()) return plan;
  for (const auto& u : updates) {
    auto it = image.features.find(u.feature);
    if (it != image.features.end() && it->second == u.level) continue;
    plan.records.push_back(protocol::FeatureLevelRecord{u.feature, u.level, {}});
  }
  return plan;
}

std::vector<FeatureUpdate> feature_updates_of(const protocol::UpdateFeaturesRequest& request, int16_t version) {
  std::vector<FeatureUpdate> out;
  for (const auto& k : request.feature_updates) {
    FeatureUpgradeType type = static_cast<FeatureUpgradeType>(k.upgrade_type);
    if (version == 0) type = k.allow_downgrade ? FeatureUpgradeType::safe_downgrade : FeatureUpgradeType::upgrade;
    out.push_back({k.feature, k.max_version_level, type});
  }
  return out;
}

protocol::UpdateFeaturesResponse update_features_response(const std::vector<FeatureUpdateResult>& results,
                                                          int16_t version) {
  protocol::UpdateFeaturesResponse response;
  response.error_message = std::nullopt;
  for (const auto& r : results) {
    if (version >= 2) {
      if (r.error_code != 0 && response.error_code == 0) {
        response.error_code = r.error_code;
        response.error_message = r.error_message;
      }
      continue;
    }
    auto& out = response.results.emplace_back();
    out.feature = r.feature;
    out.error_code = r.error_code;
    if (r.error_code != 0) out.error_message = r.error_message;
    else out.error_message = std::nullopt;
  }
  return response;
}

raft::ApiVersionsFeatures api_versions_features(const MetadataImage* image) {
  raft::ApiVersionsFeatures out;
  for (const auto& [name, range] : supported_features()) out.supported.push_back({name, range.min_level, range.max_level});
  if (image != nullptr) {
    for (const auto& [name, level] : image->features) out.finalized.push_back({name, level, level});
    out.finalized_epoch = image->features.empty() ? -1 : image->offset;
  }
  return out;
}

std::vector<MetadataRecord> initial_feature_records(const MetadataImage& image) {
  std::vector<MetadataRecord> out;
  for (const auto& [name, range] : supported_features()) {
    if (!image.features.count(name)) out.push_back(protocol::FeatureLevelRecord{name, range.max_level, {}});
  }
  return out;
}

std::optional<std::string> registration_feature_error(const MetadataImage& image,
                                                      const std::map<std::string, FeatureRange>& broker_ranges) {
  if (broker_ranges.empty()) return std::nullopt;  // a floe broker: floe's ranges
  for (const auto& [name, level] : image.features) {
    auto it = broker_ranges.find(name);
    FeatureRange range = it == broker_ranges.end() ? FeatureRange{0, 0} : it->second;
    if (level < range.min_level || level > range.max_level) {
      return "Unable to register because the broker does not support finalized version " + std::to_string(level) +
             " of " + name + ". The broker supports versions " + range_text(range) + ".";
    }
  }
  return std::nullopt;
}

}  // namespace floe::metadata
