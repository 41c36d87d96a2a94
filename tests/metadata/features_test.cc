// Feature levels: FeatureLevelRecord in the image and snapshots, the controller's first-start
// metadata.version, UpdateFeatures' rules and the registration check (metadata/features.h).
#include <catch2/catch.hpp>

#include "metadata/features.h"
#include "metadata/snapshot.h"
#include "metadata_test_util.h"

using namespace floe;
using namespace floe::metadata;
using namespace floe::metadata::testing;

namespace {
namespace ke = ::floe::protocol::kerr;

MetadataImage at_level(int16_t level) {
  MetadataState s;
  REQUIRE(s.apply(protocol::FeatureLevelRecord{kMetadataVersionFeature, level, {}}).ok());
  return s.image;
}

int16_t only_error(const FeaturePlan& plan) {
  REQUIRE(plan.results.size() == 1);
  return plan.results[0].error_code;
}
}  // namespace

TEST_CASE("feature_level_records_build_the_image_lead_the_snapshot_and_level_0_removes") {
  MetadataState s;
  REQUIRE(s.apply_all({protocol::FloeClusterRecord{"c", {}}, protocol::FeatureLevelRecord{"metadata.version", 7, {}},
                       protocol::FeatureLevelRecord{"other.version", 2, {}}})
              .ok());
  CHECK(s.image.features == std::map<std::string, int16_t>{{"metadata.version", 7}, {"other.version", 2}});
  auto records = s.to_records();
  REQUIRE(std::holds_alternative<protocol::FeatureLevelRecord>(records.front()));
  auto decoded = decode_snapshot(encode_snapshot(s), 5);
  REQUIRE(decoded.ok());
  CHECK(decoded->image.same_content(s.image));
  REQUIRE(s.apply(protocol::FeatureLevelRecord{"other.version", 0, {}}).ok());
  CHECK_FALSE(s.image.features.count("other.version"));
  CHECK_FALSE(s.image.same_content(decoded->image));
  CHECK(s.apply(protocol::FeatureLevelRecord{"", 1, {}}).error().code == Errc::corrupt);
}

TEST_CASE("the_first_start_commits_floes_metadata_version_with_the_cluster_id") {
  TempDir dir;
  auto c = open_controller(single_node(dir.path));
  CHECK_FALSE(c->image()->cluster_id.empty());
  CHECK(c->image()->features == std::map<std::string, int16_t>{{kMetadataVersionFeature, kFloeMetadataVersion}});
}

TEST_CASE("update_features_follows_kafkas_rules") {
  const MetadataImage image = at_level(kFloeMetadataVersion);
  SECTION("the finalized level again: accepted, nothing to write") {
    auto plan = plan_feature_updates(image, {{kMetadataVersionFeature, kFloeMetadataVersion, FeatureUpgradeType::upgrade}});
    CHECK(plan.ok());
    CHECK(plan.records.empty());
  }
  SECTION("a level outside floe's (= every registered broker's) range: INVALID_UPDATE_VERSION") {
    CHECK(only_error(plan_feature_updates(image, {{kMetadataVersionFeature, 8, FeatureUpgradeType::upgrade}})) ==
          kInvalidUpdateVersion);
  }
  SECTION("an unknown feature and deleting metadata.version: INVALID_UPDATE_VERSION") {
    CHECK(only_error(plan_feature_updates(image, {{"no.such.version", 1, FeatureUpgradeType::upgrade}})) ==
          kInvalidUpdateVersion);
    CHECK(only_error(plan_feature_updates(image, {{kMetadataVersionFeature, 0, FeatureUpgradeType::unsafe_downgrade}})) ==
          kInvalidUpdateVersion);
  }
  SECTION("downgrade rules, with a wider supported range") {
    const std::map<std::string, FeatureRange> wide = {{kMetadataVersionFeature, {1, 9}}, {"x.version", {0, 3}}};
    auto one = [&](std::string feature, int16_t level, FeatureUpgradeType type, const MetadataImage& at) {
      return plan_feature_updates(at, {{std::move(feature), level, type}}, wide);
    };
    CHECK(one(kMetadataVersionFeature, 9, FeatureUpgradeType::upgrade, image).ok());
    CHECK(one(kMetadataVersionFeature, 9, FeatureUpgradeType::upgrade, image).records.size() == 1);
    CHECK(only_error(one(kMetadataVersionFeature, 5, FeatureUpgradeType::upgrade, image)) == kInvalidUpdateVersion);
    CHECK(only_error(one(kMetadataVersionFeature, 9, FeatureUpgradeType::safe_downgrade, image)) == kInvalidUpdateVersion);
    CHECK(only_error(one(kMetadataVersionFeature, 5, FeatureUpgradeType::unsafe_downgrade, image)) == kInvalidUpdateVersion);
    CHECK(only_error(one(kMetadataVersionFeature, 5, FeatureUpgradeType::safe_downgrade, image)) == kInvalidUpdateVersion);
    MetadataState x;
    REQUIRE(x.apply(protocol::FeatureLevelRecord{"x.version", 3, {}}).ok());
    CHECK(one("x.version", 2, FeatureUpgradeType::safe_downgrade, x.image).ok());  // other features may go down
  }
  SECTION("all or nothing: one bad update writes nothing; a feature twice is INVALID_REQUEST") {
    auto plan = plan_feature_updates(image, {{kMetadataVersionFeature, kFloeMetadataVersion, FeatureUpgradeType::upgrade},
                                             {"no.such.version", 1, FeatureUpgradeType::upgrade}});
    CHECK_FALSE(plan.ok());
    CHECK(plan.records.empty());
    CHECK(plan.results[0].error_code == ke::kNone);
    auto twice = plan_feature_updates(image, {{kMetadataVersionFeature, kFloeMetadataVersion, FeatureUpgradeType::upgrade},
                                              {kMetadataVersionFeature, kFloeMetadataVersion, FeatureUpgradeType::upgrade}});
    CHECK(twice.results[1].error_code == ke::kInvalidRequest);
  }
}

TEST_CASE("update_features_on_the_controller_validates_and_commits") {
  TempDir dir;
  auto c = open_controller(single_node(dir.path));
  auto r = call<std::vector<FeatureUpdateResult>>([&](auto cb) {
    c->update_features({{kMetadataVersionFeature, 3, FeatureUpgradeType::safe_downgrade}}, false, cb);
  });
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  CHECK((*r)[0].error_code == kInvalidUpdateVersion);
  CHECK(c->image()->features.at(kMetadataVersionFeature) == kFloeMetadataVersion);
}

TEST_CASE("a_broker_that_cannot_run_at_a_finalized_level_may_not_register") {
  const MetadataImage image = at_level(kFloeMetadataVersion);
  CHECK_FALSE(registration_feature_error(image, {}).has_value());  // a floe broker: floe's ranges
  CHECK_FALSE(registration_feature_error(image, {{kMetadataVersionFeature, {1, 7}}}).has_value());
  CHECK(registration_feature_error(image, {{kMetadataVersionFeature, {1, 6}}}).has_value());
  CHECK(registration_feature_error(image, {{"other.version", {0, 1}}}).has_value());  // no metadata.version
}

TEST_CASE("the_update_features_answer_has_per_feature_results_before_v2_and_a_top_level_error_from_v2") {
  std::vector<FeatureUpdateResult> results = {{"a", 0, ""}, {"b", kInvalidUpdateVersion, "no"}};
  auto v1 = update_features_response(results, 1);
  CHECK(v1.error_code == 0);
  REQUIRE(v1.results.size() == 2);
  CHECK(v1.results[1].error_code == kInvalidUpdateVersion);
  auto v2 = update_features_response(results, 2);
  CHECK(v2.error_code == kInvalidUpdateVersion);
  CHECK(v2.error_message == "no");
  CHECK(v2.results.empty());
  protocol::UpdateFeaturesRequest req;
  req.feature_updates.push_back({"metadata.version", 5, true, 1, {}});
  CHECK(feature_updates_of(req, 0)[0].type == FeatureUpgradeType::safe_downgrade);
  CHECK(feature_updates_of(req, 1)[0].type == FeatureUpgradeType::upgrade);
}
