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

namespace {
protocol::RegisterBrokerRecord broker_record(int32_t id, bool fenced, std::map<std::string, FeatureRange> features) {
  protocol::RegisterBrokerRecord r;
  r.broker_id = id;
  r.broker_epoch = 10 + id;
  r.fenced = fenced;
  r.end_points.push_back({"PLAINTEXT", "h", static_cast<uint16_t>(9000 + id), 0, {}});
  for (const auto& [name, range] : features) r.features.push_back({name, range.min_level, range.max_level, {}});
  return r;
}
}  // namespace

TEST_CASE("a_brokers_registered_feature_ranges_are_in_the_image_and_its_snapshot") {
  MetadataState s;
  REQUIRE(s.apply_all({protocol::FeatureLevelRecord{kMetadataVersionFeature, 7, {}},
                       broker_record(2, false, {{kMetadataVersionFeature, {7, 8}}, {"x.version", {0, 2}}}),
                       broker_record(3, false, {})})
              .ok());
  CHECK(s.image.brokers.at(NodeId(2)).features ==
        std::map<std::string, FeatureRange>{{kMetadataVersionFeature, {7, 8}}, {"x.version", {0, 2}}});
  CHECK(s.image.brokers.at(NodeId(3)).features.empty());  // a record without ranges: as before
  auto decoded = decode_snapshot(encode_snapshot(s), 5);
  REQUIRE(decoded.ok());
  CHECK(decoded->image.same_content(s.image));
  CHECK(decoded->image.brokers.at(NodeId(2)).features == s.image.brokers.at(NodeId(2)).features);
  CHECK(decoded->image.brokers.at(NodeId(3)).features.empty());
  // A new registration replaces the ranges.
  REQUIRE(s.apply(broker_record(2, false, {{kMetadataVersionFeature, {7, 7}}})).ok());
  CHECK(s.image.brokers.at(NodeId(2)).features == std::map<std::string, FeatureRange>{{kMetadataVersionFeature, {7, 7}}});
}

TEST_CASE("update_features_refuses_a_level_a_registered_broker_fenced_or_not_does_not_support") {
  const std::map<std::string, FeatureRange> wide = {{kMetadataVersionFeature, {1, 9}}, {"x.version", {0, 3}}};
  MetadataState s;
  REQUIRE(s.apply_all({protocol::FeatureLevelRecord{kMetadataVersionFeature, 7, {}},
                       broker_record(2, false, {{kMetadataVersionFeature, {7, 8}}, {"x.version", {0, 3}}}),
                       broker_record(3, true, {{kMetadataVersionFeature, {7, 8}}, {"x.version", {0, 3}}}),  // fenced
                       broker_record(4, false, {})})                                // none listed: floe's
              .ok());
  auto one = [&](std::string feature, int16_t level) {
    return plan_feature_updates(s.image, {{std::move(feature), level, FeatureUpgradeType::upgrade}}, wide);
  };
  CHECK(one(kMetadataVersionFeature, 8).ok());
  auto nine = one(kMetadataVersionFeature, 9);
  REQUIRE(only_error(nine) == kInvalidUpdateVersion);
  CHECK(nine.results[0].error_message ==
        "Invalid update version 9 for feature metadata.version. Broker 2 only supports versions 7-8.");
  CHECK(nine.records.empty());
  // A feature a broker does not list: it supports 0-0 of it.
  REQUIRE(s.apply(broker_record(5, false, {{kMetadataVersionFeature, {7, 9}}})).ok());
  auto x = one("x.version", 1);
  REQUIRE(only_error(x) == kInvalidUpdateVersion);
  CHECK(x.results[0].error_message == "Invalid update version 1 for feature x.version. Broker 5 only supports versions 0-0.");
  // Fenced, broker 5 still counts: a heartbeat unfences it without a new registration.
  REQUIRE(s.apply(protocol::FenceBrokerRecord{5, 15, {}}).ok());
  CHECK(only_error(one("x.version", 1)) == kInvalidUpdateVersion);
  // Listing x.version again (a re-registration with a wider range) lets the update through.
  REQUIRE(s.apply(broker_record(5, false, {{kMetadataVersionFeature, {7, 9}}, {"x.version", {0, 1}}})).ok());
  CHECK(one("x.version", 1).ok());
}

TEST_CASE("the_controller_stores_a_brokers_feature_ranges_with_its_registration") {
  TempDir dir;
  const std::map<std::string, FeatureRange> ranges = {{kMetadataVersionFeature, {7, 7}}, {"x.version", {0, 1}}};
  Uuid incarnation;
  incarnation.bytes[0] = 7;
  BrokerRegistration reg{NodeId(2), incarnation, {{"PLAINTEXT", "h", 9002}}, std::nullopt, ranges};
  int64_t epoch = -1;
  {
    auto c = open_controller(single_node(dir.path));
    auto r = call<BrokerRegistrationReply>([&](auto cb) { c->register_broker(reg, cb); });
    REQUIRE(r.ok());
    REQUIRE(r->error_code == 0);
    epoch = r->broker_epoch;
    CHECK(c->image()->brokers.at(NodeId(2)).features == ranges);
    // The same registration again is a retry: same epoch, nothing new.
    auto again = call<BrokerRegistrationReply>([&](auto cb) { c->register_broker(reg, cb); });
    REQUIRE(again.ok());
    CHECK(again->broker_epoch == epoch);
    // An inverted range is a bad request.
    BrokerRegistration bad = reg;
    bad.id = NodeId(3);
    bad.features = {{kMetadataVersionFeature, {8, 7}}};
    auto refused = call<BrokerRegistrationReply>([&](auto cb) { c->register_broker(bad, cb); });
    REQUIRE(refused.ok());
    CHECK(refused->error_code == ke::kInvalidRequest);
    CHECK_FALSE(c->image()->brokers.count(NodeId(3)));
  }
  auto c = open_controller(single_node(dir.path));  // replayed from the log
  CHECK(c->image()->brokers.at(NodeId(2)).features == ranges);
  CHECK(c->image()->brokers.at(NodeId(2)).epoch == epoch);
}
