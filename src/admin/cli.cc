#include "admin/cli.h"

#include <string_view>
#include <vector>

#include "admin/config_doc.h"
#include "admin/perf_wal.h"
#include "admin/serve.h"
#include "admin/client_cli.h"
#include "admin/cluster_cli.h"
#include "admin/storage_cli.h"
#include "admin/versions.h"
#include "common/config.h"
#include "common/log.h"
#include "floe/version.h"
#include "objectstore/bucket_uri.h"

namespace floe::admin {
namespace {

const char* kUsage =
    "floe - a Kafka-compatible streaming broker that keeps its data in object storage\n"
    "\n"
    "Usage:\n"
    "  floe serve [--config FILE] [--override key=value]... [--check]\n"
    "      Load and validate the configuration, print the effective configuration, then run a\n"
    "      single-node broker+controller until SIGTERM/SIGINT (exit 0 after a clean shutdown;\n"
    "      1 if startup fails). With no storage keys, data lives under ./data (WAL file and a\n"
    "      local object store; s3.wal.path=0@s3://... writes the WAL as objects instead).\n"
    "      --check: stop after validation (exit 0). With\n"
    "      process.roles=controller: one voter of a multi-node metadata quorum\n"
    "      (controller.quorum.voters) on its CONTROLLER listener.\n"
    "  floe serve --help-config          same as `floe config keys`\n"
    "  floe config keys [--format text|markdown|man]\n"
    "      Print every configuration key with its type, default, allowed values and meaning.\n"
    "  floe storage probe --bucket URI [--size BYTES] [--multipart-size BYTES] [--prefix P]\n"
    "      Check an object store before serving: put, ranged get, list, multipart put, delete.\n"
    "  floe storage inspect wal PATH|URI | object URI KEY\n"
    "      Print a block WAL's headers and records, an object WAL's objects (URI), or an\n"
    "      object's index, checking CRCs (read-only).\n"
    "  floe perf wal [--path DIR] [--bytes N] [--rounds N] [--slices N]\n"
    "      Measure the block WAL on this disk against the disk's raw limits (throughput: medians of N interleaved\n"
    "      rounds, default 3; latency: N pairs of alternating raw/WAL slices, default 12, samples pooled).\n"
    "  floe perf produce --topic T [--bootstrap H:P] [--records N] [--record-size B] [--batch-bytes B]\n"
    "                    [--acks -1|0|1] [--inflight N] [--throughput RECORDS_PER_S]\n"
    "  floe perf consume --topic T [--bootstrap H:P] [--records N] [--timeout-ms MS]\n"
    "      Load a Kafka broker (floe or any other) and report records/s, MB/s and latency percentiles.\n"
    "  floe cluster status --bootstrap-controller HOST:PORT\n"
    "      Describe the Raft metadata quorum (DescribeQuorum, asked of the leader): leader, epoch,\n"
    "      high watermark, max follower lag, and per voter/observer its log end offset, lag and last\n"
    "      fetch / caught-up times. Exit 1 if no controller answers.\n"
    "  floe cluster reassign --bootstrap-server HOST:PORT --topic T --partition N (--broker B | --cancel)\n"
    "      Move a partition's leadership to broker B (AlterPartitionReassignments; floe keeps one copy),\n"
    "      or cancel the move in progress. Exit 1 on an error answer.\n"
    "  floe cluster reassignments --bootstrap-server HOST:PORT [--topic T]\n"
    "      List the partition moves in progress (ListPartitionReassignments): replicas, adding, removing.\n"
    "  floe topic create --bootstrap-server H:P --topic T [--partitions N] [--replication-factor N]\n"
    "                    [--config k=v]... [--timeout-ms MS]\n"
    "  floe topic list|describe|delete --bootstrap-server H:P [--topic T] [--timeout-ms MS]\n"
    "      Create, list, describe (partitions, leaders, topic id, configs set on the topic) or delete\n"
    "      topics. An error answer prints Kafka's error name and message (exit 1).\n"
    "  floe produce --bootstrap-server H:P --topic T [--partition N] [--key-separator S] [--acks 0|1|all]\n"
    "               [--timeout-ms MS]\n"
    "      Send one record per stdin line, batched; idempotent with acks=all (the default). A summary\n"
    "      goes to stderr; exit 0 only when every record was acknowledged.\n"
    "  floe consume --bootstrap-server H:P --topic T [--partition N] [--offset beginning|end|N]\n"
    "               [--max-messages N] [--timeout-ms MS] [--print-key] [--group G]\n"
    "      Print record values (key TAB value with --print-key), one per line, any codec. Default\n"
    "      start: the group's committed offset with --group, else end. --timeout-ms: stop after MS\n"
    "      without a record. --group G: commit offsets (simple group, no rebalancing) to the group's\n"
    "      coordinator, found again when it moves.\n"
    "  floe group list --bootstrap-server H:P [--timeout-ms MS]\n"
    "  floe group describe --bootstrap-server H:P --group G [--timeout-ms MS]\n"
    "      List consumer groups, or show a group's committed offsets, log end offsets and lag.\n"
    "  floe --version                    print the version and the linked library versions\n"
    "  floe --help                       print this help\n"
    "\n"
    "Options of serve:\n"
    "  --config FILE, --config=FILE      a Kafka-style properties file (key=value lines)\n"
    "  --override key=value              set a key; repeatable; overrides the file, later wins\n"
    "  --check                           validate and print the configuration, then exit\n"
    "\n"
    "Exit status: 0 ok; 1 the command ran and failed (e.g. a storage probe step, an unreachable\n"
    "server or a Kafka error answer); 2 usage or\n"
    "configuration error (the message names the key or option); 3 valid but not implemented in\n"
    "this build.\n"
    "See man floe (man/floe.1) for the configuration keys.\n";

// Verbs documented but not in this build: none today (they would exit kExitNotImplemented).
constexpr std::string_view kPlannedVerbs[] = {""};

struct Io {
  std::FILE* out;
  std::FILE* err;
};

int usage_error(const Io& io, const std::string& message) {
  std::fprintf(io.err, "floe: %s\n(run 'floe --help' for usage)\n", message.c_str());
  return kExitUsage;
}

// Reads the value of an option given as `--name VALUE` or `--name=VALUE`. Returns false if
// args[*i] is not this option; sets *missing if the value is absent.
bool take_option(std::span<const std::string> args, size_t* i, std::string_view name, std::string* value,
                 bool* missing) {
  std::string_view a = args[*i];
  if (a == name) {
    if (*i + 1 >= args.size()) {
      *missing = true;
      return true;
    }
    *value = args[++*i];
    return true;
  }
  if (a.size() > name.size() && a.starts_with(name) && a[name.size()] == '=') {
    *value = std::string(a.substr(name.size() + 1));
    return true;
  }
  return false;
}

int cmd_config_keys(std::span<const std::string> args, const Io& io, std::string_view verb) {
  DocFormat format = DocFormat::text;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string value;
    bool missing = false;
    if (take_option(args, &i, "--format", &value, &missing)) {
      if (missing) return usage_error(io, std::string(verb) + ": --format needs one of text, markdown, man");
      auto f = parse_doc_format(value);
      if (!f) return usage_error(io, std::string(verb) + ": --format must be one of text, markdown, man, got '" + value + "'");
      format = *f;
    } else {
      return usage_error(io, std::string(verb) + ": unknown option '" + args[i] + "'");
    }
  }
  std::fputs(render_config_keys(format).c_str(), io.out);
  return kExitOk;
}

int cmd_serve(std::span<const std::string> args, const Io& io) {
  std::string config_path;
  bool have_config = false;
  bool check_only = false;
  std::vector<std::string> overrides;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string value;
    bool missing = false;
    const std::string& a = args[i];
    if (take_option(args, &i, "--config", &value, &missing)) {
      if (missing || value.empty()) return usage_error(io, "serve: --config needs a FILE");
      if (have_config) return usage_error(io, "serve: --config given twice ('" + config_path + "', '" + value + "')");
      config_path = value;
      have_config = true;
    } else if (take_option(args, &i, "--override", &value, &missing)) {
      if (missing) return usage_error(io, "serve: --override needs key=value");
      overrides.push_back(value);
    } else if (a == "--check") {
      check_only = true;
    } else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, io.out);
      return kExitOk;
    } else if (a == "--help-config") {
      return cmd_config_keys({}, io, "serve");
    } else if (a.starts_with("-")) {
      return usage_error(io, "serve: unknown option '" + a + "'");
    } else {
      return usage_error(io, "serve: unexpected argument '" + a + "'");
    }
  }
  auto cfg = config::Config::load_file(config_path, overrides);
  if (!cfg) {
    std::fprintf(io.err, "floe: config: %s\n", cfg.error().message.c_str());
    return kExitUsage;
  }
  log::Level level = log::Level::info;
  if (log::parse_level(cfg->get_string("log.level"), &level)) log::set_level(level);
  std::fputs(cfg->summary().c_str(), io.out);
  std::fflush(io.out);
  if (check_only) {
    std::fprintf(io.err, "floe: configuration is valid\n");
    return kExitOk;
  }
  return serve(*cfg, io.out, io.err);
}

// Verbs written against (argc, argv) with argv[0] the verb itself; they print to stdout/stderr.
int run_argv_verb(std::span<const std::string> args, int (*verb)(int, char**)) {
  std::vector<std::string> copy(args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  return verb(static_cast<int>(copy.size()), argv.data());
}

int cmd_config(std::span<const std::string> args, const Io& io) {
  if (args.empty()) return usage_error(io, "config: missing subcommand (known: keys)");
  if (args[0] == "keys") return cmd_config_keys(args.subspan(1), io, "config keys");
  return usage_error(io, "config: unknown subcommand '" + args[0] + "' (known: keys)");
}

}  // namespace

int run_cli(std::span<const std::string> args, std::FILE* out, std::FILE* err) {
  Io io{out, err};
  if (args.empty()) {
    std::fputs(kUsage, err);
    return kExitUsage;
  }
  const std::string& verb = args[0];
  auto rest = args.subspan(1);
  if (verb == "--version" || verb == "version") {
    if (!rest.empty()) return usage_error(io, verb + ": unexpected argument '" + rest[0] + "'");
    std::fprintf(out, "floe %s\n%s\n", kVersion, linked_library_versions().c_str());
    return kExitOk;
  }
  if (verb == "--help" || verb == "-h" || verb == "help") {
    std::fputs(kUsage, out);
    return kExitOk;
  }
  if (verb == "serve") return cmd_serve(rest, io);
  if (verb == "config") return cmd_config(rest, io);
  if (verb == "storage") return run_argv_verb(args, run_storage_command);
  if (verb == "perf") return run_argv_verb(args, run_perf_command);
  if (verb == "cluster") return run_argv_verb(args, run_cluster_command);
  if (verb == "topic") return run_argv_verb(args, run_topic_command);
  if (verb == "produce") return run_argv_verb(args, run_produce_command);
  if (verb == "consume") return run_argv_verb(args, run_consume_command);
  if (verb == "group") return run_argv_verb(args, run_group_command);
  for (auto planned : kPlannedVerbs) {
    if (!planned.empty() && verb == planned) {
      std::fprintf(err, "floe: '%s' is not implemented in this build (exit %d)\n", verb.c_str(), kExitNotImplemented);
      return kExitNotImplemented;
    }
  }
  if (verb.starts_with("-")) return usage_error(io, "unknown option '" + verb + "'");
  return usage_error(io, "unknown command '" + verb + "'");
}

int run_cli(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return run_cli(args, stdout, stderr);
}

}  // namespace floe::admin
