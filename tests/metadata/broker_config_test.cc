// Dynamic broker configs: records in the image and snapshots, the controller's validation, and the
// order in which a topic config's effective value is resolved (metadata/broker_config.h).
#include <catch2/catch.hpp>

#include "metadata/broker_config.h"
#include "metadata/snapshot.h"
#include "metadata_test_util.h"

using namespace floe;
using namespace floe::metadata;
using namespace floe::metadata::testing;

namespace {
namespace ke = ::floe::protocol::kerr;

protocol::ConfigRecord broker_config(std::string resource, std::string key, std::optional<std::string> value) {
  return protocol::ConfigRecord{kBrokerResourceType, std::move(resource), std::move(key), std::move(value), {}};
}

BrokerConfigPlan plan(const MetadataImage& image, const std::string& resource,
                      std::vector<BrokerConfigChange> changes, bool incremental = true) {
  return plan_broker_configs(image, resource, changes, incremental);
}

Uuid uuid(uint8_t b) {
  Uuid id;
  id.bytes[15] = b;
  return id;
}
}  // namespace

TEST_CASE("broker_config_records_build_the_image_and_survive_a_snapshot") {
  MetadataState s;
  REQUIRE(s.apply_all({broker_config("", "log.retention.ms", "1000"), broker_config("7", "message.max.bytes", "500"),
                       broker_config("7", "log.retention.bytes", "99")})
              .ok());
  CHECK(s.image.broker_configs.at("").at("log.retention.ms") == "1000");
  CHECK(s.image.broker_configs.at("7").size() == 2);

  auto decoded = decode_snapshot(encode_snapshot(s), 10);
  REQUIRE(decoded.ok());
  CHECK(decoded->image.same_content(s.image));
  auto batch = decode_batch(encode_batch({broker_config("3", "log.retention.hours", "1")}));
  REQUIRE(batch.ok());
  CHECK(std::get<protocol::ConfigRecord>((*batch)[0]).resource_type == kBrokerResourceType);

  REQUIRE(s.apply(broker_config("7", "message.max.bytes", std::nullopt)).ok());
  REQUIRE(s.apply(broker_config("7", "log.retention.bytes", std::nullopt)).ok());
  CHECK_FALSE(s.image.broker_configs.count("7"));  // no empty resource is kept
  CHECK_FALSE(s.image.same_content(decoded->image));
}

TEST_CASE("a_broker_config_record_for_a_resource_that_is_not_a_broker_id_is_a_contradiction") {
  MetadataState s;
  for (const char* bad : {"-1", "x", "01", "99999999999"}) {
    CHECK(s.apply(broker_config(bad, "log.retention.ms", "1")).error().code == Errc::corrupt);
  }
  CHECK(s.image.broker_configs.empty());
}

TEST_CASE("plan_broker_configs_validates_like_kafka") {
  MetadataImage image;
  SECTION("a dynamic key with a valid value, for the default and for any broker id") {
    for (const std::string resource : {"", "0", "42"}) {
      auto p = plan(image, resource, {{"log.retention.ms", BrokerConfigOp::set, "60000"}});
      CHECK(p.error_code == ke::kNone);
      CHECK(p.records.size() == 1);
    }
  }
  SECTION("an unknown key is INVALID_CONFIG naming it") {
    auto p = plan(image, "", {{"no.such.key", BrokerConfigOp::set, "1"}});
    CHECK(p.error_code == ke::kInvalidConfig);
    CHECK(p.error_message.find("no.such.key") != std::string::npos);
    CHECK(p.records.empty());
  }
  SECTION("a key floe cannot change at runtime is INVALID_REQUEST: Cannot update these configs dynamically") {
    auto p = plan(image, "1", {{"num.io.threads", BrokerConfigOp::set, "4"}, {"log.retention.ms", BrokerConfigOp::set, "5"}});
    CHECK(p.error_code == ke::kInvalidRequest);
    CHECK(p.error_message == "Cannot update these configs dynamically: num.io.threads");
    CHECK(p.records.empty());
  }
  SECTION("values are checked against the registry's type and range") {
    CHECK(plan(image, "", {{"message.max.bytes", BrokerConfigOp::set, "big"}}).error_code == ke::kInvalidConfig);
    CHECK(plan(image, "", {{"log.retention.ms", BrokerConfigOp::set, "-2"}}).error_code == ke::kInvalidConfig);
    CHECK(plan(image, "", {{"log.retention.ms", BrokerConfigOp::set, std::nullopt}}).error_code == ke::kInvalidConfig);
  }
  SECTION("APPEND and SUBTRACT of a key that is not a list is INVALID_CONFIG") {
    CHECK(plan(image, "", {{"log.retention.ms", BrokerConfigOp::append, "1"}}).error_code == ke::kInvalidConfig);
    CHECK(plan(image, "", {{"log.retention.ms", BrokerConfigOp::subtract, "1"}}).error_code == ke::kInvalidConfig);
  }
  SECTION("a resource that is not a broker id is INVALID_REQUEST; a key twice too") {
    CHECK(plan(image, "-1", {{"log.retention.ms", BrokerConfigOp::set, "1"}}).error_code == ke::kInvalidRequest);
    CHECK(plan(image, "", {{"log.retention.ms", BrokerConfigOp::set, "1"}, {"log.retention.ms", BrokerConfigOp::remove, {}}})
              .error_code == ke::kInvalidRequest);
  }
}

TEST_CASE("broker_config_resources_are_bounded_but_existing_ones_stay_alterable") {
  MetadataImage image;
  for (size_t i = 0; i < kMaxBrokerConfigResources; ++i) {
    image.broker_configs[std::to_string(i)]["log.retention.ms"] = "60000";
  }
  auto fresh = plan(image, "99999", {{"log.retention.ms", BrokerConfigOp::set, "1000"}});
  CHECK(fresh.error_code == ke::kPolicyViolation);
  CHECK(fresh.records.empty());
  CHECK(plan(image, "7", {{"log.retention.ms", BrokerConfigOp::set, "1000"}}).error_code == ke::kNone);
  CHECK(plan(image, "7", {{"log.retention.ms", BrokerConfigOp::remove, std::nullopt}}).error_code == ke::kNone);
  // Removing nothing from a resource that has nothing is no new resource.
  CHECK(plan(image, "99999", {{"log.retention.ms", BrokerConfigOp::remove, std::nullopt}}).error_code == ke::kNone);
}

TEST_CASE("incremental_changes_named_keys_and_alter_configs_replaces_them_all") {
  MetadataState s;
  REQUIRE(s.apply_all({broker_config("", "log.retention.ms", "1000"), broker_config("", "message.max.bytes", "500")}).ok());
  auto inc = plan(s.image, "", {{"log.retention.ms", BrokerConfigOp::remove, {}}});
  REQUIRE(inc.error_code == ke::kNone);
  MetadataState a = s;
  REQUIRE(a.apply_all(inc.records).ok());
  CHECK(a.image.broker_configs.at("") == std::map<std::string, std::string>{{"message.max.bytes", "500"}});

  auto full = plan(s.image, "", {{"log.retention.bytes", BrokerConfigOp::set, "7"}}, false);
  REQUIRE(full.error_code == ke::kNone);
  MetadataState b = s;
  REQUIRE(b.apply_all(full.records).ok());
  CHECK(b.image.broker_configs.at("") == std::map<std::string, std::string>{{"log.retention.bytes", "7"}});

  CHECK(plan(s.image, "", {{"log.retention.ms", BrokerConfigOp::set, "1000"}}).records.empty());  // no change
}

TEST_CASE("a_topic_config_resolves_topic_then_broker_then_cluster_default_then_static_then_default") {
  MetadataState s;
  REQUIRE(s.apply(protocol::TopicRecord{"t", uuid(1), {}}).ok());
  const TopicConfigDef& retention = *find_topic_config("retention.ms");
  StaticBrokerConfigs statics;
  auto resolve = [&] { return effective_topic_config(s.image, s.image.topic("t"), retention, NodeId(1), statics); };

  auto e = resolve();  // only the built-in log.retention.hours=168
  CHECK(e.value == "604800000");
  CHECK(e.source == ConfigSource::default_value);
  CHECK(e.synonyms.front().name == "log.retention.hours");

  statics.set["log.retention.hours"] = "2";
  CHECK(resolve().value == std::to_string(2 * 3600 * 1000));
  CHECK(resolve().source == ConfigSource::static_broker);

  statics.set["log.retention.ms"] = "1h";  // the registry's units are understood
  CHECK(resolve().value == "3600000");

  REQUIRE(s.apply(broker_config("", "log.retention.minutes", "3")).ok());
  CHECK(resolve().value == "3600000");  // log.retention.ms wins over .minutes, whatever its source
  REQUIRE(s.apply(broker_config("", "log.retention.ms", "5000")).ok());
  CHECK(resolve().value == "5000");
  CHECK(resolve().source == ConfigSource::dynamic_default_broker);

  REQUIRE(s.apply(broker_config("2", "log.retention.ms", "6000")).ok());  // another broker
  CHECK(resolve().value == "5000");
  REQUIRE(s.apply(broker_config("1", "log.retention.ms", "7000")).ok());
  CHECK(resolve().value == "7000");
  CHECK(resolve().source == ConfigSource::dynamic_broker);

  REQUIRE(s.apply(protocol::ConfigRecord{kTopicResourceType, "t", "retention.ms", "8000", {}}).ok());
  e = resolve();
  CHECK(e.value == "8000");
  CHECK(e.source == ConfigSource::dynamic_topic);
  std::vector<std::pair<std::string, ConfigSource>> order;
  for (const auto& syn : e.synonyms) order.emplace_back(syn.name, syn.source);
  CHECK(order == std::vector<std::pair<std::string, ConfigSource>>{
                     {"retention.ms", ConfigSource::dynamic_topic},
                     {"log.retention.ms", ConfigSource::dynamic_broker},
                     {"log.retention.ms", ConfigSource::dynamic_default_broker},
                     {"log.retention.ms", ConfigSource::static_broker},
                     {"log.retention.minutes", ConfigSource::dynamic_default_broker},
                     {"log.retention.hours", ConfigSource::static_broker},
                     {"log.retention.hours", ConfigSource::default_value},
                 });

  // A topic key without a broker synonym: its own default.
  auto ts = effective_topic_config(s.image, nullptr, *find_topic_config("message.timestamp.type"), NodeId(1), statics);
  CHECK(ts.value == "CreateTime");
  CHECK(ts.source == ConfigSource::default_value);
  // Hours of -1 mean forever: -1 ms.
  MetadataState forever;
  REQUIRE(forever.apply(broker_config("", "log.retention.hours", "-1")).ok());
  CHECK(effective_topic_config(forever.image, nullptr, retention, NodeId(1), {}).value == "-1");
}

TEST_CASE("the_default_broker_resource_shows_only_its_dynamic_values") {
  MetadataState s;
  StaticBrokerConfigs statics;
  statics.set["message.max.bytes"] = "100";
  CHECK_FALSE(effective_broker_config(s.image, "message.max.bytes", std::nullopt, statics).has_value());
  auto own = effective_broker_config(s.image, "message.max.bytes", NodeId(1), statics);
  REQUIRE(own);
  CHECK(own->source == ConfigSource::static_broker);
  REQUIRE(s.apply(broker_config("", "message.max.bytes", "200")).ok());
  auto def = effective_broker_config(s.image, "message.max.bytes", std::nullopt, statics);
  REQUIRE(def);
  CHECK(def->value == "200");
  CHECK(def->source == ConfigSource::dynamic_default_broker);
  CHECK(effective_broker_config(s.image, "message.max.bytes", NodeId(1), statics)->value == "200");
}

TEST_CASE("the_controller_commits_broker_configs_and_a_reopened_controller_still_has_them") {
  TempDir dir;
  {
    auto c = open_controller(single_node(dir.path));
    auto r = call<TopicResult>([&](auto cb) {
      c->alter_broker_configs("", {{"log.retention.ms", BrokerConfigOp::set, "1234"}}, true, false, cb);
    });
    REQUIRE(r.ok());
    CHECK(r->error_code == ke::kNone);
    CHECK(c->image()->broker_configs.at("").at("log.retention.ms") == "1234");
    auto v = call<TopicResult>([&](auto cb) {
      c->alter_broker_configs("5", {{"message.max.bytes", BrokerConfigOp::set, "10"}}, true, true, cb);
    });
    REQUIRE(v.ok());
    CHECK(v->error_code == ke::kNone);
    CHECK_FALSE(c->image()->broker_configs.count("5"));  // validate_only wrote nothing
    auto bad = call<TopicResult>([&](auto cb) {
      c->alter_broker_configs("5", {{"process.roles", BrokerConfigOp::set, "broker"}}, true, false, cb);
    });
    REQUIRE(bad.ok());
    CHECK(bad->error_code == ke::kInvalidRequest);
    c->close();
  }
  auto c = open_controller(single_node(dir.path));
  CHECK(c->image()->broker_configs.at("").at("log.retention.ms") == "1234");
}
