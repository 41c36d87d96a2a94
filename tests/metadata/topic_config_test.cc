#include <catch2/catch.hpp>

#include "metadata/topic_config.h"

using namespace floe;
using namespace floe::metadata;

TEST_CASE("topic_config_values_are_validated_by_type_range_and_allowed_set") {
  CHECK(validate_topic_config("retention.ms", "-1").ok());
  CHECK_FALSE(validate_topic_config("retention.ms", "-2").ok());
  CHECK_FALSE(validate_topic_config("retention.ms", "ten").ok());
  CHECK(validate_topic_config("retention.bytes", "1073741824").ok());
  CHECK(validate_topic_config("max.message.bytes", "0").ok());
  CHECK_FALSE(validate_topic_config("max.message.bytes", "3000000000").ok());  // not an int
  CHECK(validate_topic_config("cleanup.policy", "compact,delete").ok());
  CHECK(validate_topic_config("cleanup.policy", "compact").ok());
  CHECK_FALSE(validate_topic_config("cleanup.policy", "shred").ok());
  CHECK(validate_topic_config("message.timestamp.type", "LogAppendTime").ok());
  CHECK_FALSE(validate_topic_config("message.timestamp.type", "Whenever").ok());
  CHECK(validate_topic_config("compression.type", "zstd").ok());
  CHECK_FALSE(validate_topic_config("compression.type", "brotli").ok());
  CHECK_FALSE(validate_topic_config("segment.bytes", "13").ok());
  CHECK_FALSE(validate_topic_config("min.insync.replicas", "0").ok());
  CHECK(validate_topic_config("unclean.leader.election.enable", "true").ok());
  CHECK_FALSE(validate_topic_config("preallocate", "yes").ok());
  CHECK(validate_topic_config("min.cleanable.dirty.ratio", "0.25").ok());
  CHECK_FALSE(validate_topic_config("min.cleanable.dirty.ratio", "2").ok());
  auto unknown = validate_topic_config("no.such.key", "1");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == Errc::config);
}

TEST_CASE("every_config_default_is_itself_valid_and_the_list_is_sorted") {
  const auto& defs = topic_config_defs();
  CHECK(defs.size() >= 26);
  for (size_t i = 0; i < defs.size(); ++i) {
    INFO(defs[i].name);
    CHECK(validate_topic_config(defs[i].name, defs[i].default_value).ok());
    if (i > 0) CHECK(defs[i - 1].name < defs[i].name);
  }
  REQUIRE(find_topic_config("retention.ms"));
  CHECK(find_topic_config("retention.ms")->default_value == "604800000");
}
