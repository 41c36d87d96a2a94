// Feature levels (Kafka's finalized features, KIP-584 / KIP-778): FeatureLevelRecord in the
// metadata log, MetadataImage::features, UpdateFeatures planning and the registration check.
//
// floe finalizes one feature, metadata.version, at kFloeMetadataVersion = 7 (Kafka's 3.3-IV3: the
// KRaft broker lifecycle floe's controller writes — fenced registration, Fence/Unfence records,
// BrokerRegistrationChangeRecord with InControlledShutdown). floe's behaviour does not depend on
// the level, so it supports exactly [7, 7]: the controller commits it with the cluster id when a
// cluster is new (a single voter at open, a quorum's leader at its first session check; also a
// cluster created before feature levels existed).
// A floe broker lists floe's ranges when it registers (the in-process one and older floe brokers
// list none: the same); a broker registration is checked against the finalized levels (outside:
// UNSUPPORTED_VERSION, Kafka's rule), and its ranges are stored with it (RegisterBrokerRecord
// Features, in snapshots too).
//
// UpdateFeatures (plan_feature_updates), Kafka's rules in this order, per feature:
//   - a feature floe does not know -> INVALID_UPDATE_VERSION;
//   - level < 1 (delete): metadata.version cannot be deleted -> INVALID_UPDATE_VERSION;
//   - level outside floe's supported range (the controller's) -> INVALID_UPDATE_VERSION;
//   - level outside the range an unfenced registered broker listed (BrokerImage::features; a
//     feature it does not list: 0-0; a broker that lists none runs floe's ranges)
//     -> INVALID_UPDATE_VERSION "Broker <id> only supports versions <min>-<max>.";
//   - lower than the finalized level with upgrade type UPGRADE, or higher with a downgrade type
//     -> INVALID_UPDATE_VERSION;
//   - metadata.version downgrades: UNSAFE_DOWNGRADE is refused; SAFE_DOWNGRADE only when no record
//     floe writes differs between the levels (the range holds one level: never).
// The FinalizedFeaturesEpoch of ApiVersions is the image's offset (the metadata offset that level
// holds at, Kafka's choice).
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "metadata/image.h"
#include "raft/wire.h"
#include "protocol/generated/update_features_request.h"
#include "protocol/generated/update_features_response.h"

namespace floe::metadata {

inline constexpr const char* kMetadataVersionFeature = "metadata.version";
inline constexpr int16_t kFloeMetadataVersion = 7;  // Kafka's IBP_3_3_IV3
inline constexpr int16_t kInvalidUpdateVersion = 95;  // Kafka's INVALID_UPDATE_VERSION

// FeatureRange: metadata/image.h (a registered broker's ranges are part of the image).
// floe's supported features by name (what ApiVersions reports as SupportedFeatures).
const std::map<std::string, FeatureRange>& supported_features();

enum class FeatureUpgradeType : int8_t { upgrade = 1, safe_downgrade = 2, unsafe_downgrade = 3 };
struct FeatureUpdate {
  std::string feature;
  int16_t level = 0;
  FeatureUpgradeType type = FeatureUpgradeType::upgrade;
};
struct FeatureUpdateResult {
  std::string feature;
  int16_t error_code = 0;  // NONE, INVALID_UPDATE_VERSION, INVALID_REQUEST (a feature twice)
  std::string error_message;
};
struct FeaturePlan {
  std::vector<FeatureUpdateResult> results;  // one per update, in order
  std::vector<MetadataRecord> records;       // FeatureLevelRecords; empty when any update fails
  bool ok() const;
};
// `supported`: the controller's (= every floe broker's) ranges; tests pass others.
FeaturePlan plan_feature_updates(const MetadataImage& image, const std::vector<FeatureUpdate>& updates,
                                 const std::map<std::string, FeatureRange>& supported = supported_features());

// UpdateFeatures on the wire: the request's updates (v0's AllowDowngrade: a safe downgrade) and the
// answer at `version` (v0-1: per-feature results; v2: only the first failure, top-level).
std::vector<FeatureUpdate> feature_updates_of(const protocol::UpdateFeaturesRequest& request, int16_t version);
protocol::UpdateFeaturesResponse update_features_response(const std::vector<FeatureUpdateResult>& results,
                                                          int16_t version);

// ApiVersions v3+'s feature levels, as every floe listener reports them (a broker's; the
// controller listener's, through the Raft transport): floe's supported ranges, `image`'s finalized
// levels (none without an image: a controller not attached yet) and FinalizedFeaturesEpoch, the
// image's offset (-1 while nothing is finalized).
raft::ApiVersionsFeatures api_versions_features(const MetadataImage* image);

// The FeatureLevelRecords of floe's levels that the image has not finalized yet (first start).
std::vector<MetadataRecord> initial_feature_records(const MetadataImage& image);

// A registering broker's own ranges against the finalized levels: an error message when it
// cannot run at one of them (UNSUPPORTED_VERSION), nullopt when it can. Empty ranges: a floe broker.
std::optional<std::string> registration_feature_error(const MetadataImage& image,
                                                      const std::map<std::string, FeatureRange>& broker_ranges);

}  // namespace floe::metadata
