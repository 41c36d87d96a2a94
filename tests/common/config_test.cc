// Configuration: properties parsing, override precedence, typed accessors, and the promise that
// every rejected key or value is named in the error along with what would have been accepted.
#include <catch2/catch.hpp>

#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "common/config.h"

using floe::config::Config;
using floe::config::Source;

namespace {

Config load_ok(std::string_view text, std::vector<std::string> overrides = {}) {
  auto c = Config::load(text, "test.properties", overrides);
  INFO((c.ok() ? std::string("ok") : c.error().message));
  REQUIRE(c.ok());
  return std::move(c).value();
}

std::string load_error(std::string_view text, std::vector<std::string> overrides = {}) {
  auto c = Config::load(text, "test.properties", overrides);
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().code == floe::Errc::config);
  return c.error().message;
}

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("registry_is_sorted_unique_and_every_default_is_valid") {
  auto keys = floe::config::all_keys();
  REQUIRE(keys.size() > 30);
  for (size_t i = 1; i < keys.size(); ++i) CHECK(keys[i - 1].name < keys[i].name);
  for (const auto& k : keys) {
    CHECK(floe::config::find_key(k.name) == &k);
    CHECK_FALSE(k.doc.empty());
  }
  CHECK(floe::config::find_key("no.such.key") == nullptr);
  Config c = load_ok("");  // defaults alone form a valid configuration
  for (const auto& k : keys) CHECK(c.has(k.name) == k.has_default);
}

TEST_CASE("defaults_are_the_single_node_embedded_setup") {
  Config c = load_ok("");
  CHECK(c.get_int("node.id") == 1);
  CHECK(c.has_role("broker"));
  CHECK(c.has_role("controller"));
  auto listeners = c.get_listeners("listeners");
  REQUIRE(listeners.size() == 2);
  CHECK(listeners[0].name == "PLAINTEXT");
  CHECK(listeners[0].host == "localhost");
  CHECK(listeners[0].port == 9092);
  CHECK(listeners[1].name == "CONTROLLER");
  CHECK(listeners[1].port == 9093);
  auto voters = c.get_voters("controller.quorum.voters");
  REQUIRE(voters.size() == 1);
  CHECK(voters[0].id == 1);
  CHECK(voters[0].port == 9093);
  CHECK(c.get_string("data.dir") == "./data");
  CHECK(c.get_string("s3.wal.path") == "file://./data/wal");
  auto buckets = c.get_buckets("s3.data.buckets");
  REQUIRE(buckets.size() == 1);
  CHECK(buckets[0].scheme == "fs");
  CHECK(buckets[0].path == "./data/objects");
  CHECK(c.get_list("log.dirs") == std::vector<std::string>{"./data/logs"});
  CHECK(c.get_string("metadata.log.dir") == "./data/metadata");
  CHECK(c.get_bool("auto.create.topics.enable"));
  CHECK(c.retention_ms() == 168LL * 3600 * 1000);
  CHECK(c.source("node.id") == Source::default_value);
  CHECK_FALSE(c.is_set("node.id"));
}

TEST_CASE("data_dir_moves_every_derived_default") {
  Config c = load_ok("data.dir=/var/lib/floe/\n");
  CHECK(c.get_string("s3.wal.path") == "file:///var/lib/floe/wal");
  CHECK(c.get_string("s3.data.buckets") == "0@fs:///var/lib/floe/objects");
  CHECK(c.get_string("metadata.log.dir") == "/var/lib/floe/metadata");
}

TEST_CASE("properties_syntax_comments_blanks_separators_and_trimming") {
  auto props = floe::config::parse_properties(
      "# a comment\n"
      "   ! another comment\n"
      "\n"
      "  node.id = 7  \r\n"
      "num.partitions:3\n"
      "log.level warn\n"
      "data.dir=\n",
      "f");
  REQUIRE(props.ok());
  REQUIRE(props->size() == 4);
  CHECK((*props)[0].key == "node.id");
  CHECK((*props)[0].value == "7");
  CHECK((*props)[0].line == 4);
  CHECK((*props)[1].key == "num.partitions");
  CHECK((*props)[1].value == "3");
  CHECK((*props)[2].key == "log.level");
  CHECK((*props)[2].value == "warn");
  CHECK((*props)[3].value.empty());
}

TEST_CASE("properties_line_continuation_joins_lines_and_drops_leading_space") {
  auto props = floe::config::parse_properties(
      "listeners=PLAINTEXT://localhost:9092,\\\n"
      "          CONTROLLER://localhost:9093\n"
      "path=a\\\\\n"
      "next=1\n",
      "f");
  REQUIRE(props.ok());
  REQUIRE(props->size() == 3);
  CHECK((*props)[0].value == "PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093");
  CHECK((*props)[0].line == 1);
  CHECK((*props)[1].value == "a\\");  // an escaped backslash does not continue the line
  CHECK((*props)[2].key == "next");
  CHECK((*props)[2].line == 4);
}

TEST_CASE("properties_java_escapes_decode") {
  auto props = floe::config::parse_properties("a\\=b=x\\ty\\u00e9\\:\\ \nk=v\\u12\n", "f");
  REQUIRE_FALSE(props.ok());  // the second line's \u has only 2 hex digits
  CHECK(contains(props.error().message, "f:2"));
  props = floe::config::parse_properties("a\\=b=x\\ty\\u00e9\\:\\ \n", "f");
  REQUIRE(props.ok());
  CHECK((*props)[0].key == "a=b");
  CHECK((*props)[0].value == "x\ty\xc3\xa9: ");  // the escaped trailing space survives trimming
}

TEST_CASE("later_line_in_file_wins_and_overrides_beat_the_file_in_order") {
  Config c = load_ok("node.id=5\nnode.id=6\ncontroller.quorum.voters=6@h:1,7@h:2,8@h:3\n",
                     {"node.id=7", "num.partitions=4", "node.id=8"});
  CHECK(c.get_int("node.id") == 8);
  CHECK(c.source("node.id") == Source::override_flag);
  CHECK(c.get_int("num.partitions") == 4);
  CHECK(c.source("controller.quorum.voters") == Source::file);
  CHECK(c.is_set("controller.quorum.voters"));
}

TEST_CASE("override_without_equals_is_an_error_naming_it") {
  std::string e = load_error("", {"node.id"});
  CHECK(contains(e, "--override expects key=value, got 'node.id'"));
}

TEST_CASE("override_value_may_contain_equals_signs") {
  Config c = load_ok("", {"s3.data.buckets=0@s3://my-bucket?region=eu-west-1&endpoint=http://127.0.0.1:9000&pathStyle=true"});
  auto b = c.get_buckets("s3.data.buckets");
  REQUIRE(b.size() == 1);
  CHECK(b[0].scheme == "s3");
  CHECK(b[0].bucket == "my-bucket");
  CHECK(b[0].params.at("region") == "eu-west-1");
  CHECK(b[0].params.at("endpoint") == "http://127.0.0.1:9000");
  CHECK(b[0].params.at("pathStyle") == "true");
}

TEST_CASE("unknown_key_is_named_with_a_suggestion_and_its_line") {
  std::string e = load_error("\nlisenters=PLAINTEXT://:9092\n");
  CHECK(contains(e, "unknown key 'lisenters' (did you mean 'listeners'?)"));
  CHECK(contains(e, "test.properties:2"));
  e = load_error("", {"retention.ms=5"});
  CHECK(contains(e, "unknown key 'retention.ms' (did you mean 'log.retention.ms'?)"));
  CHECK(contains(e, "--override"));
  e = load_error("completely.unrelated.thing=1");
  CHECK(contains(e, "unknown key 'completely.unrelated.thing'"));
  CHECK_FALSE(contains(e, "did you mean"));
}

TEST_CASE("process_roles_error_names_key_and_allowed_set") {
  std::string e = load_error("process.roles=brokr\n");
  CHECK(contains(e, "'process.roles' must be a comma-separated subset of {broker, controller}, got 'brokr'"));
  CHECK(contains(load_error("process.roles=broker,broker\n"), "'process.roles'"));
  CHECK(contains(load_error("process.roles=\n"), "'process.roles'"));
  Config c = load_ok("process.roles=broker\n");
  CHECK_FALSE(c.has_role("controller"));
}

TEST_CASE("integer_errors_name_key_and_range") {
  CHECK(contains(load_error("node.id=abc\n"), "'node.id' must be an integer in [0, 2147483647], got 'abc'"));
  CHECK(contains(load_error("node.id=-1\n"), "'node.id' must be an integer in [0, 2147483647], got '-1'"));
  CHECK(contains(load_error("num.partitions=0\n"), "'num.partitions' must be an integer in [1, 100000]"));
  CHECK(contains(load_error("node.id=99999999999999999999\n"), "'node.id'"));
  CHECK(load_ok("log.retention.bytes=-1\n").get_long("log.retention.bytes") == -1);
}

TEST_CASE("bool_and_enum_errors_name_key_and_choices") {
  CHECK(contains(load_error("auto.create.topics.enable=yes\n"), "'auto.create.topics.enable' must be true or false, got 'yes'"));
  CHECK(contains(load_error("log.level=verbose\n"), "'log.level' must be one of {debug, info, warn, error}, got 'verbose'"));
  CHECK(load_ok("log.level=debug\n").get_string("log.level") == "debug");
}

TEST_CASE("sizes_accept_plain_numbers_and_units") {
  CHECK(floe::config::parse_size_bytes("4096").value() == 4096);
  CHECK(floe::config::parse_size_bytes("2GiB").value() == 2LL << 30);
  CHECK(floe::config::parse_size_bytes("3 MiB").value() == 3LL << 20);
  CHECK(floe::config::parse_size_bytes("5MB").value() == 5000000);
  CHECK(floe::config::parse_size_bytes("1kib").value() == 1024);
  CHECK_FALSE(floe::config::parse_size_bytes("1XB").ok());
  CHECK_FALSE(floe::config::parse_size_bytes("-1GiB").ok());
  CHECK_FALSE(floe::config::parse_size_bytes("99999999999TiB").ok());  // overflow is an error, not a wrap
  Config c = load_ok("s3.wal.capacity=2GiB\ns3.block.cache.size=0\n");
  CHECK(c.get_size_bytes("s3.wal.capacity") == 2LL << 30);
  CHECK(c.get_size_bytes("s3.block.cache.size") == 0);
  std::string e = load_error("s3.wal.capacity=1000000000\n");
  CHECK(contains(e, "'s3.wal.capacity' must be a size in bytes"));
  CHECK(contains(e, "multiple of 4096"));
  CHECK(contains(load_error("s3.wal.capacity=1MiB\n"), "'s3.wal.capacity' must be a size in bytes (or with a unit"));
  CHECK(contains(load_error("message.max.bytes=big\n"), "'message.max.bytes'"));
}

TEST_CASE("durations_accept_plain_milliseconds_and_units") {
  CHECK(floe::config::parse_duration_ms("250").value() == 250);
  CHECK(floe::config::parse_duration_ms("2s").value() == 2000);
  CHECK(floe::config::parse_duration_ms("7d").value() == 7LL * 24 * 3600 * 1000);
  CHECK(floe::config::parse_duration_ms("-1").value() == -1);
  Config c = load_ok("log.retention.ms=1h\n");
  CHECK(c.retention_ms() == 3600 * 1000);
  CHECK(contains(load_error("connections.max.idle.ms=10\n"), "'connections.max.idle.ms' must be a duration in milliseconds"));
  CHECK(contains(load_error("connections.max.idle.ms=soon\n"), "'connections.max.idle.ms'"));
}

TEST_CASE("retention_follows_kafka_precedence_ms_then_minutes_then_hours") {
  CHECK(load_ok("log.retention.hours=1\n").retention_ms() == 3600 * 1000);
  CHECK(load_ok("log.retention.hours=1\nlog.retention.minutes=2\n").retention_ms() == 120 * 1000);
  CHECK(load_ok("log.retention.minutes=2\nlog.retention.ms=5\n").retention_ms() == 5);
  CHECK(load_ok("log.retention.hours=-1\n").retention_ms() == -1);
}

TEST_CASE("listener_errors_name_key_and_expected_form") {
  std::string e = load_error("listeners=PLAINTEXT:9092\n");
  CHECK(contains(e, "'listeners' must be a comma-separated list of NAME://host:port, got 'PLAINTEXT:9092'"));
  CHECK(contains(load_error("listeners=PLAINTEXT://localhost:99999,CONTROLLER://:9093\n"), "port '99999'"));
  CHECK(contains(load_error("listeners=PLAIN-TEXT://:1,CONTROLLER://:9093\n"), "'listeners'"));
  CHECK(contains(load_error("listeners=PLAINTEXT://:1,PLAINTEXT://:2\n"), "appears twice"));
  Config c = load_ok("listeners=plaintext://[::1]:9092,CONTROLLER://:9093\n");
  auto l = c.get_listeners("listeners");
  CHECK(l[0].name == "PLAINTEXT");
  CHECK(l[0].host == "::1");
  CHECK(l[1].host.empty());
}

TEST_CASE("voter_and_protocol_map_errors_name_the_key") {
  CHECK(contains(load_error("controller.quorum.voters=localhost:9093\n"),
                 "'controller.quorum.voters' must be a comma-separated list of id@host:port"));
  CHECK(contains(load_error("controller.quorum.voters=1@:9093\n"), "'controller.quorum.voters'"));
  CHECK(contains(load_error("listener.security.protocol.map=PLAINTEXT:TLS\n"),
                 "'listener.security.protocol.map' must be a comma-separated list of NAME:PROTOCOL"));
  CHECK(contains(load_error("controller.listener.names=CON-TROLLER\n"), "'controller.listener.names'"));
}

TEST_CASE("s3_uri_errors_name_the_key_and_the_bad_part") {
  CHECK(contains(load_error("s3.data.buckets=0@s3://B\n"), "'s3.data.buckets'"));
  CHECK(contains(load_error("s3.data.buckets=0@s3://B\n"), "bucket name 'B'"));
  CHECK(contains(load_error("s3.data.buckets=0@s3://bucket?regoin=x\n"), "parameter 'regoin' is not one of {region, endpoint, pathStyle, accessKey"));
  CHECK(contains(load_error("s3.data.buckets=0@s3://bucket?endpoint=localhost:9000\n"), "endpoint 'localhost:9000'"));
  CHECK(contains(load_error("s3.data.buckets=0@s3://bucket?pathStyle=yes\n"), "pathStyle must be true or false"));
  CHECK(contains(load_error("s3.data.buckets=gs://bucket\n"), "scheme 'gs://' is not one of {s3://, fs://, file://, mem://}"));
  CHECK(contains(load_error("s3.data.buckets=\n"), "'s3.data.buckets'"));  // data must go somewhere
  CHECK(contains(load_error("s3.data.buckets=0@fs:///a,0@fs:///b\n"), "appears twice"));
  CHECK(contains(load_error("s3.ops.buckets=bucket\n"), "'s3.ops.buckets'"));
  CHECK(contains(load_error("s3.wal.path=/dev/nvme1n1\n"), "'s3.wal.path' must be one of file://path"));
  CHECK(contains(load_error("s3.wal.path=file:///a,file:///b\n"), "'s3.wal.path'"));
  Config c = load_ok("s3.wal.path=0@s3://wal-bucket?region=us-east-1\ns3.data.buckets=0@s3://data-1,1@s3://data-2\n");
  CHECK(c.get_buckets("s3.wal.path")[0].scheme == "s3");
  CHECK(c.get_buckets("s3.data.buckets")[1].id == 1);
  CHECK(load_ok("s3.wal.path=file:///dev/nvme1n1\n").get_buckets("s3.wal.path")[0].path == "/dev/nvme1n1");
}

TEST_CASE("cross_key_rules_name_the_keys_involved") {
  std::string e = load_error("node.id=2\n");
  CHECK(contains(e, "'controller.quorum.voters' must contain this node's id 2 ('node.id')"));
  CHECK(contains(e, "test.properties:1"));
  CHECK(load_ok("process.roles=broker\nnode.id=2\n").get_int("node.id") == 2);
  CHECK(contains(load_error("listeners=PLAINTEXT://:9092\n"), "'listeners' must contain the controller listener 'CONTROLLER'"));
  CHECK(contains(load_error("listeners=CONTROLLER://:9093\n"), "'listeners' must contain a broker listener"));
  load_ok("process.roles=controller\nlisteners=CONTROLLER://:9093\n");
  CHECK(contains(load_error("listeners=PLAINTEXT://:9092,INTERNAL://:9094,CONTROLLER://:9093\n"),
                 "'listener.security.protocol.map' must map every listener name; 'INTERNAL'"));
  CHECK(contains(load_error("advertised.listeners=EXTERNAL://example.com:9092\n"), "'advertised.listeners'"));
  CHECK(contains(load_error("s3.wal.upload.threshold=512MiB\n"), "'s3.wal.upload.threshold' must be at most 's3.wal.cache.size'"));
  CHECK(contains(load_error("s3.wal.cache.size=64GiB\ns3.wal.upload.threshold=32GiB\ns3.wal.capacity=16GiB\n"),
                 "'s3.wal.upload.threshold' must be less than 's3.wal.capacity'"));
}

TEST_CASE("suggestion_only_for_close_keys") {
  CHECK(floe::config::suggest_key("node.idd") == "node.id");
  CHECK(floe::config::suggest_key("num.partition") == "num.partitions");
  CHECK(floe::config::suggest_key("s3.wal.capactiy") == "s3.wal.capacity");
  CHECK(floe::config::suggest_key("zzzzzzzzzzzzzzzzzz").empty());
}

TEST_CASE("summary_is_itself_a_loadable_properties_file_with_the_same_values") {
  Config c = load_ok("node.id=3\ncontroller.quorum.voters=3@localhost:9093\n", {"log.level=warn"});
  std::string s = c.summary();
  CHECK(contains(s, "# from test.properties:1\nnode.id=3\n"));
  CHECK(contains(s, "# from --override\nlog.level=warn\n"));
  CHECK(contains(s, "# log.retention.ms is unset\n"));
  Config again = load_ok(s);
  for (const auto& k : floe::config::all_keys()) {
    REQUIRE(again.has(k.name) == c.has(k.name));
    if (c.has(k.name)) CHECK(again.get_string(k.name) == c.get_string(k.name));
  }
}

TEST_CASE("load_file_reports_an_unreadable_file_by_name") {
  auto c = Config::load_file("/nonexistent/floe.properties", {});
  REQUIRE_FALSE(c.ok());
  CHECK(contains(c.error().message, "cannot read '/nonexistent/floe.properties'"));
  char path[] = "/tmp/floe_config_testXXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  std::FILE* f = fdopen(fd, "w");
  std::fputs("node.id=1\nnum.partitions=6\n", f);
  std::fclose(f);
  auto ok = Config::load_file(path, std::vector<std::string>{"num.partitions=9"});
  std::remove(path);
  REQUIRE(ok.ok());
  CHECK(ok->get_int("num.partitions") == 9);
}

TEST_CASE("credentials_in_bucket_uris_never_reach_error_messages_or_the_printed_configuration") {
  CHECK(floe::redact_bucket_uri("0@s3://b?region=us-east-1&accessKey=AKIA123&secretKey=s3cr3t&pathStyle=true,1@s3://c?sessionToken=tok") ==
        "0@s3://b?region=us-east-1&accessKey=***&secretKey=***&pathStyle=true,1@s3://c?sessionToken=***");
  CHECK(floe::redact_bucket_uri("0@fs:///data/objects") == "0@fs:///data/objects");
  auto err = load_error("s3.data.buckets=0@s3://bucket?secretKey=s3cr3t%zz\n");
  CHECK(contains(err, "'s3.data.buckets'"));
  CHECK_FALSE(contains(err, "s3cr3t"));
  Config c = load_ok("", {"s3.data.buckets=0@s3://my-bucket?region=eu-west-1&secretKey=s3cr3t&accessKey=AK"});
  CHECK_FALSE(contains(c.summary(), "s3cr3t"));
  CHECK(contains(c.summary(), "secretKey=***"));
}
