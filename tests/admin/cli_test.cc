// The command line: every verb and option answers with the documented exit code, and every
// rejection names the culprit. Nothing here opens a socket.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "admin/cli.h"
#include "admin/config_doc.h"
#include "common/config.h"

namespace {

struct Run {
  int code;
  std::string out;
  std::string err;
};

Run run(std::vector<std::string> args) {
  char* out_buf = nullptr;
  char* err_buf = nullptr;
  size_t out_len = 0, err_len = 0;
  std::FILE* out = open_memstream(&out_buf, &out_len);
  std::FILE* err = open_memstream(&err_buf, &err_len);
  int code = floe::admin::run_cli(args, out, err);
  std::fclose(out);
  std::fclose(err);
  Run r{code, std::string(out_buf, out_len), std::string(err_buf, err_len)};
  std::free(out_buf);
  std::free(err_buf);
  return r;
}

bool contains(const std::string& s, std::string_view needle) { return s.find(needle) != std::string::npos; }

}  // namespace

TEST_CASE("version_prints_floe_and_linked_library_versions") {
  Run r = run({"--version"});
  CHECK(r.code == floe::admin::kExitOk);
  CHECK(r.out.starts_with("floe "));
  for (const char* lib : {"libcurl ", "OpenSSL ", "zstd ", "lz4 ", "zlib ", "snappy "}) CHECK(contains(r.out, lib));
  CHECK(run({"--version", "extra"}).code == floe::admin::kExitUsage);
}

TEST_CASE("help_lists_every_verb_and_the_exit_codes") {
  Run r = run({"--help"});
  CHECK(r.code == 0);
  for (const char* word : {"serve", "--config", "--override", "--check", "config keys", "--version", "Exit status"})
    CHECK(contains(r.out, word));
  CHECK(run({}).code == floe::admin::kExitUsage);
}

TEST_CASE("unknown_verb_and_option_are_usage_errors_naming_them") {
  Run r = run({"frobnicate"});
  CHECK(r.code == floe::admin::kExitUsage);
  CHECK(contains(r.err, "unknown command 'frobnicate'"));
  r = run({"--frob"});
  CHECK(r.code == floe::admin::kExitUsage);
  CHECK(contains(r.err, "unknown option '--frob'"));
  r = run({"serve", "--chekc"});
  CHECK(r.code == floe::admin::kExitUsage);
  CHECK(contains(r.err, "unknown option '--chekc'"));
  r = run({"serve", "stray"});
  CHECK(r.code == floe::admin::kExitUsage);
  CHECK(contains(r.err, "unexpected argument 'stray'"));
  r = run({"serve", "--config"});
  CHECK(r.code == floe::admin::kExitUsage);
  CHECK(contains(r.err, "--config needs a FILE"));
  r = run({"config", "values"});
  CHECK(r.code == floe::admin::kExitUsage);
  CHECK(contains(r.err, "unknown subcommand 'values'"));
  r = run({"config", "keys", "--format", "pdf"});
  CHECK(r.code == floe::admin::kExitUsage);
  CHECK(contains(r.err, "'pdf'"));
}

TEST_CASE("serve_check_validates_prints_effective_config_and_exits_0") {
  Run r = run({"serve", "--check", "--override", "num.partitions=12", "--override=log.level=warn"});
  CHECK(r.code == floe::admin::kExitOk);
  CHECK(contains(r.out, "num.partitions=12\n"));
  CHECK(contains(r.out, "log.level=warn\n"));
  CHECK(contains(r.out, "node.id=1\n"));
}

TEST_CASE("serve_refuses_what_this_build_cannot_run_naming_the_key") {
  // (test_cli.sh starts a real serve; here only the refusals, which open nothing.)
  Run r = run({"serve", "--override", "controller.quorum.voters=1@localhost:19093,2@localhost:19094"});
  CHECK(r.code == floe::admin::kExitFailed);
  CHECK(contains(r.err, "controller.quorum.voters"));
  // (process.roles=controller now serves a quorum voter: tests/integration/test_quorum_kill9.py.)
}

TEST_CASE("serve_config_errors_exit_2_naming_the_key") {
  Run r = run({"serve", "--check", "--override", "lisenters=PLAINTEXT://:9092"});
  CHECK(r.code == floe::admin::kExitUsage);
  CHECK(contains(r.err, "floe: config: unknown key 'lisenters' (did you mean 'listeners'?)"));
  r = run({"serve", "--override", "process.roles=brokr"});
  CHECK(r.code == floe::admin::kExitUsage);
  CHECK(contains(r.err, "'process.roles' must be a comma-separated subset of {broker, controller}, got 'brokr'"));
  r = run({"serve", "--config", "/nonexistent/x.properties"});
  CHECK(r.code == floe::admin::kExitUsage);
  CHECK(contains(r.err, "'/nonexistent/x.properties'"));
}

TEST_CASE("bucket_uris_the_object_store_would_refuse_stop_serve_naming_the_key") {
  Run r = run({"serve", "--check", "--override", "s3.data.buckets=0@s3://abc?caBundle=%zz"});
  CHECK(r.code == floe::admin::kExitUsage);
  CHECK(contains(r.err, "floe: config: 's3.data.buckets'"));  // config and store share one parser
  CHECK(contains(r.err, "bad %-escape"));
  r = run({"serve", "--check", "--override", "s3.wal.path=file:///dev/nvme1n1"});  // a block WAL: not a bucket
  CHECK(r.code == floe::admin::kExitOk);
}

TEST_CASE("admin_verbs_without_a_server_address_or_with_bad_options_are_usage_errors") {
  // (these verbs print to the process's stderr; the exit code is the promise checked here)
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"topic"}, {"topic", "list"}, {"topic", "frob", "--bootstrap-server", "h:1"},
           {"topic", "create", "--bootstrap-server", "h:1"}, {"produce", "--topic", "t"},
           {"produce", "--bootstrap-server", "h:1", "--topic", "t", "--acks", "2"},
           {"consume", "--bootstrap-server", "h:1"}, {"consume", "--bootstrap-server", "h:1", "--topic", "t", "--offset", "x"},
           {"group"}, {"group", "list"}, {"group", "describe", "--bootstrap-server", "h:1"}}) {
    CAPTURE(args);
    CHECK(run(args).code == floe::admin::kExitUsage);
  }
}

TEST_CASE("cluster_status_without_a_controller_address_is_a_usage_error") {
  CHECK(run({"cluster"}).code == floe::admin::kExitUsage);
  CHECK(run({"cluster", "status"}).code == floe::admin::kExitUsage);
  CHECK(run({"cluster", "list"}).code == floe::admin::kExitUsage);
}

TEST_CASE("config_keys_lists_every_registered_key_in_every_format") {
  for (const char* format : {"text", "markdown", "man"}) {
    Run r = run({"config", "keys", "--format", format});
    REQUIRE(r.code == 0);
    for (const auto& k : floe::config::all_keys()) {
      INFO(format << " " << k.name);
      std::string name(k.name);
      if (std::string_view(format) == "man") {  // roff escapes '-' in names (none today) and keeps dots
        CHECK(contains(r.out, ".B " + name + "\n"));
      } else {
        CHECK(contains(r.out, name));
      }
    }
  }
  CHECK(run({"serve", "--help-config"}).out == run({"config", "keys"}).out);
}
