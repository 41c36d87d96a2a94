#include "common/config.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

namespace floe::config {
namespace {

constexpr int64_t kI32Max = std::numeric_limits<int32_t>::max();
constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kKiB = 1024, kMiB = kKiB * 1024, kGiB = kMiB * 1024, kTiB = kGiB * 1024;
constexpr size_t kMaxFileBytes = 4 * 1024 * 1024;  // a properties file larger than this is a mistake
constexpr int64_t kWalAlignBytes = 4096;           // DESIGN.md: the block WAL is a 4 KiB-aligned ring

// The registry, sorted by name (a unit test checks the order). For list types, `min` is the minimum
// number of entries.
constexpr KeySpec kKeys[] = {
    {"advertised.listeners", Type::listeners, "", true, 0, 0, "", Use::active,
     "Listeners handed to clients in Metadata responses, as NAME://host:port. Empty: the broker "
     "listeners from 'listeners'."},
    {"auto.create.topics.enable", Type::boolean, "true", true, 0, 0, "", Use::active,
     "Create a topic when a client produces to, or asks for metadata of, a topic that does not exist."},
    {"broker.heartbeat.interval.ms", Type::duration_ms, "2000", true, 10, kI32Max, "", Use::active,
     "How often a broker of a cluster (process.roles=broker) heartbeats to the controller quorum."},
    {"broker.session.timeout.ms", Type::duration_ms, "9000", true, 100, kI32Max, "", Use::active,
     "A broker that has not heartbeated for this long is fenced by the controller (its partitions "
     "move); the broker itself stops accepting writes once its own heartbeats fail for this long."},
    {"connections.max.idle.ms", Type::duration_ms, "600000", true, 100, kI32Max, "", Use::active,
     "Close client connections idle for longer than this."},
    {"controller.listener.names", Type::name_list, "CONTROLLER", true, 0, 0, "", Use::active,
     "Names of the listeners used by the Raft metadata quorum (must appear in 'listeners' on a "
     "controller)."},
    {"controller.quorum.voters", Type::voters, "1@localhost:9093", true, 1, 0, "", Use::active,
     "The fixed Raft voters, as id@host:port (host:port of their controller listener)."},
    {"data.dir", Type::string, "./data", true, 0, 0, "", Use::active,
     "floe's own: the directory holding local state. Defaults of log.dirs, metadata.log.dir, "
     "s3.wal.path and s3.data.buckets live under it."},
    {"default.replication.factor", Type::integer, "1", true, 1, 32767, "", Use::ignored,
     "Accepted for Kafka compatibility. floe keeps one copy in the WAL and the object store, which "
     "replicates; it has no partition replicas."},
    {"group.initial.rebalance.delay.ms", Type::duration_ms, "3000", true, 0, kI32Max, "", Use::active,
     "How long the first rebalance of an empty consumer group waits for more members to join."},
    {"group.max.session.timeout.ms", Type::duration_ms, "1800000", true, 1, kI32Max, "", Use::active,
     "The largest session timeout a consumer group member may ask for."},
    {"group.min.session.timeout.ms", Type::duration_ms, "6000", true, 1, kI32Max, "", Use::active,
     "The smallest session timeout a consumer group member may ask for."},
    {"http.listeners", Type::listeners, "", true, 0, 0, "", Use::active,
     "floe's own: where to serve HTTP GET /metrics (Prometheus text format) and /health, as "
     "NAME://host:port (one entry, e.g. HTTP://127.0.0.1:9644). Empty: no HTTP endpoint."},
    {"inter.broker.listener.name", Type::name_list, "", false, 0, 0, "", Use::ignored,
     "Accepted for Kafka compatibility. floe brokers do not replicate to each other."},
    {"listener.security.protocol.map", Type::protocol_map,
     "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
     true, 0, 0, "", Use::not_yet,
     "Security protocol of each listener name, as NAME:PROTOCOL; PROTOCOL is PLAINTEXT, SSL, "
     "SASL_PLAINTEXT or SASL_SSL."},
    {"listeners", Type::listeners, "PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093", true, 1, 0,
     "", Use::active, "Addresses to listen on, as NAME://host:port (empty host: all interfaces)."},
    {"log.dirs", Type::path_list, "{data.dir}/logs", true, 1, 0, "", Use::ignored,
     "Accepted for Kafka compatibility. floe keeps no partition state on local disk: record data "
     "lives in the WAL and the object store, and a partition's index and producer state are "
     "checkpointed in the object store beside its data."},
    {"log.level", Type::choice, "info", true, 0, 0, "debug,info,warn,error", Use::active,
     "floe's own: the lowest level of log lines written to stderr."},
    {"log.retention.bytes", Type::integer, "-1", true, -1, kI64Max, "", Use::active,
     "Delete a partition's oldest data while what remains still holds this many bytes (as Kafka, "
     "in whole pieces: a partition may stay above it by one index entry, about 1 MiB). -1: no size limit."},
    {"log.retention.check.interval.ms", Type::duration_ms, "300000", true, 1000, kI64Max, "", Use::active,
     "How often retention is enforced."},
    {"log.retention.hours", Type::integer, "168", true, -1, kI32Max, "", Use::active,
     "Keep data this many hours; used when log.retention.ms and .minutes are unset. -1: forever."},
    {"log.retention.minutes", Type::integer, "", false, -1, kI32Max, "", Use::active,
     "Keep data this many minutes; overrides log.retention.hours. -1: forever."},
    {"log.retention.ms", Type::duration_ms, "", false, -1, kI64Max, "", Use::active,
     "Keep data this long; overrides .minutes and .hours. -1: forever."},
    {"log.segment.bytes", Type::size_bytes, "1073741824", true, 14, kI32Max, "", Use::ignored,
     "Accepted for Kafka compatibility. floe has no segment files: data is packed into objects."},
    {"message.max.bytes", Type::size_bytes, "1048588", true, 0, kI32Max, "", Use::active,
     "Largest record batch a broker accepts (after compression)."},
    {"metadata.log.dir", Type::string, "{data.dir}/metadata", true, 0, 0, "", Use::active,
     "Directory of the Raft metadata log and its snapshots."},
    {"metadata.log.max.snapshot.interval.entries", Type::integer, "1000", true, 1, kI32Max, "", Use::active,
     "A controller snapshots its metadata state every this many applied metadata log entries and "
     "drops the log below the snapshot; followers further behind catch up by FetchSnapshot."},
    {"metadata.max.retention.bytes", Type::size_bytes, "104857600", true, 0, kI64Max, "", Use::active,
     "Metadata snapshots older than the newest are deleted, oldest first, while all of them together "
     "exceed this (the newest, and one a follower is fetching, always stay)."},
    {"metadata.max.retention.ms", Type::duration_ms, "600000", true, 0, kI64Max, "", Use::active,
     "A metadata snapshot older than the newest is deleted once its file is this old, unless a "
     "follower fetched part of it within the last 60 s. floe drops the metadata log below each "
     "snapshot at once, so this governs snapshots only (Kafka: 7 days, log segments too)."},
    {"node.id", Type::integer, "1", true, 0, kI32Max, "", Use::active,
     "This node's id, unique in the cluster; a controller's id must be in controller.quorum.voters."},
    {"num.io.threads", Type::integer, "8", true, 1, 256, "", Use::not_yet,
     "Threads that handle requests."},
    {"num.network.threads", Type::integer, "3", true, 1, 256, "", Use::active,
     "Threads that read and write client sockets."},
    {"num.partitions", Type::integer, "1", true, 1, 100000, "", Use::active,
     "Partitions of an auto-created topic (and of CreateTopics requests asking for the default)."},
    {"num.recovery.threads.per.data.dir", Type::integer, "1", true, 1, 256, "", Use::ignored,
     "Accepted for Kafka compatibility. floe recovers by replaying its WAL."},
    {"offsets.retention.ms", Type::duration_ms, "604800000", true, 1, kI64Max, "", Use::active,
     "Committed offsets of a group are dropped this long after the group became empty."},
    {"offsets.topic.replication.factor", Type::integer, "1", true, 1, 32767, "", Use::ignored,
     "Accepted for Kafka compatibility (no replicas in floe)."},
    {"process.roles", Type::subset, "broker,controller", true, 1, 0, "broker,controller", Use::active,
     "The roles of this process: broker (serves Kafka clients), controller (Raft metadata quorum), or both."},
    {"producer.id.expiration.ms", Type::duration_ms, "86400000", true, 1, kI32Max, "", Use::active,
     "An idempotent producer that appended nothing to a partition for this long is forgotten there "
     "(its deduplication state; KIP-854). Its next batch is then accepted at any sequence."},
    {"queued.max.request.bytes", Type::size_bytes, "536870912", true, kMiB, 64 * kGiB, "", Use::active,
     "Bytes of requests read but not yet answered, over all connections; reading pauses above it."},
    {"s3.block.cache.size", Type::size_bytes, "134217728", true, 0, kTiB, "", Use::active,
     "Memory for blocks read from the object store (cold reads). 0: no cache."},
    {"s3.data.buckets", Type::bucket_list, "0@fs://{data.dir}/objects", true, 1, 0, "", Use::active,
     "Where record data is stored: [id@]s3://bucket?region=R&endpoint=URL&pathStyle=true|false, or "
     "[id@]fs://path (a local directory), comma-separated. Credentials come from the AWS environment "
     "variables."},
    {"s3.ops.buckets", Type::bucket_list, "", true, 0, 0, "", Use::not_yet,
     "Buckets for operational data (diagnostic dumps), same syntax as s3.data.buckets. Empty: none."},
    {"s3.wal.cache.size", Type::size_bytes, "268435456", true, kMiB, kTiB, "", Use::active,
     "Memory for the log cache: recent data not yet uploaded, served to tail reads."},
    {"s3.wal.capacity", Type::size_bytes, "1073741824", true, 16 * kMiB, 16 * kTiB, "", Use::active,
     "Size of the block WAL ring (a multiple of 4096). For an object WAL: the most bytes written and "
     "not yet trimmed (uploaded); beyond it new objects wait for a trim and appends queue (up to 256 MiB, "
     "then they are refused)."},
    {"s3.wal.object.linger.ms", Type::duration_ms, "5", true, 0, 10000, "", Use::active,
     "Object WAL: how long an append may wait for others to share its object (one put) when less "
     "than s3.wal.object.max.bytes is queued."},
    {"s3.wal.object.max.bytes", Type::size_bytes, "4194304", true, 64 * kKiB, 256 * kMiB, "", Use::active,
     "Object WAL: the largest object a put writes (a single larger entry goes alone)."},
    {"s3.wal.path", Type::wal_uri, "file://{data.dir}/wal", true, 1, 0, "", Use::active,
     "The write-ahead log: file://PATH (a block device or preallocated file), or [id@]s3://bucket?.. / "
     "[id@]fs://path for a WAL written as objects (keys wal-<node.id>-<position>-<generation>; same parameters as "
     "s3.data.buckets)."},
    {"s3.wal.upload.threshold", Type::size_bytes, "104857600", true, kMiB, kTiB, "", Use::active,
     "Upload a stream-set object once this many bytes are waiting in the log cache (at most "
     "s3.wal.cache.size, less than s3.wal.capacity)."},
    {"socket.receive.buffer.bytes", Type::integer, "102400", true, -1, kI32Max, "", Use::not_yet,
     "SO_RCVBUF of client sockets. -1: the OS default."},
    {"socket.request.max.bytes", Type::size_bytes, "104857600", true, 1, kI32Max, "", Use::active,
     "Largest request a broker reads; a larger length prefix closes the connection."},
    {"socket.send.buffer.bytes", Type::integer, "102400", true, -1, kI32Max, "", Use::not_yet,
     "SO_SNDBUF of client sockets. -1: the OS default."},
    {"transaction.state.log.min.isr", Type::integer, "1", true, 1, 32767, "", Use::ignored,
     "Accepted for Kafka compatibility (no replicas in floe)."},
    {"transaction.state.log.replication.factor", Type::integer, "1", true, 1, 32767, "", Use::ignored,
     "Accepted for Kafka compatibility (no replicas in floe)."},
};

std::string quote(std::string_view s) { return "'" + std::string(s) + "'"; }

std::string_view trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\f' || s[b] == '\r' || s[b] == '\n')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\f' || s[e - 1] == '\r' || s[e - 1] == '\n')) --e;
  return s.substr(b, e - b);
}

// Splits a comma-separated value into trimmed entries; "" has no entries. An empty entry ("a,,b")
// yields an error naming nothing: the caller adds the key.
Result<std::vector<std::string>> split_list(std::string_view text) {
  std::vector<std::string> out;
  if (trim(text).empty()) return out;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string_view part = trim(text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (part.empty()) return Error(Errc::config, "has an empty entry");
    out.emplace_back(part);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

// For text already validated: splitting cannot fail. Returns by value (no dangling temporaries in
// range-for loops).
std::vector<std::string> split_valid(std::string_view text) {
  auto r = split_list(text);
  FLOE_ASSERT(r.ok());
  return std::move(r).value();
}

std::string choices_braced(std::string_view choices) {
  std::string out = "{";
  for (char c : choices) out += (c == ',') ? std::string(", ") : std::string(1, c);
  return out + "}";
}

bool parse_i64(std::string_view s, int64_t* out) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

// Splits "123unit" into number and unit and scales by the unit. Plain numbers may be negative.
Result<int64_t> parse_with_units(std::string_view text, std::span<const std::pair<std::string_view, int64_t>> units) {
  text = trim(text);
  size_t i = 0;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  std::string_view number = text.substr(0, i);
  std::string_view unit = trim(text.substr(i));
  int64_t n = 0;
  if (!parse_i64(number, &n)) return Error(Errc::config, "not a number");
  if (unit.empty()) return n;
  if (n < 0) return Error(Errc::config, "a negative value takes no unit");
  for (const auto& [name, scale] : units) {
    if (iequals(unit, name)) {
      if (n > kI64Max / scale) return Error(Errc::config, "too large");
      return n * scale;
    }
  }
  return Error(Errc::config, "unknown unit '" + std::string(unit) + "'");
}

constexpr std::pair<std::string_view, int64_t> kSizeUnits[] = {
    {"B", 1},          {"KiB", kKiB},        {"MiB", kMiB},          {"GiB", kGiB},
    {"TiB", kTiB},     {"KB", 1000},         {"MB", 1000 * 1000},    {"GB", 1000 * 1000 * 1000},
    {"TB", int64_t{1000} * 1000 * 1000 * 1000}};
constexpr std::pair<std::string_view, int64_t> kDurationUnits[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"min", 60 * 1000}, {"h", 3600 * 1000}, {"d", 24 * 3600 * 1000}};

// "host:port" or "[v6]:port" → host, port. host may be empty when allow_empty_host.
Status parse_host_port(std::string_view s, bool allow_empty_host, std::string* host, uint16_t* port) {
  std::string_view h, p;
  if (!s.empty() && s[0] == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':')
      return Error(Errc::config, "'" + std::string(s) + "' is not [ipv6]:port");
    h = s.substr(1, close - 1);
    p = s.substr(close + 2);
    if (h.empty() || h.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos)
      return Error(Errc::config, "'" + std::string(h) + "' is not an IPv6 address");
  } else {
    size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) return Error(Errc::config, "'" + std::string(s) + "' has no :port");
    h = s.substr(0, colon);
    p = s.substr(colon + 1);
    if (h.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") != std::string_view::npos)
      return Error(Errc::config, "'" + std::string(h) + "' is not a host name or IPv4 address");
  }
  if (h.empty() && !allow_empty_host) return Error(Errc::config, "'" + std::string(s) + "' has no host");
  int64_t n = -1;
  if (!parse_i64(p, &n) || n < 0 || n > 65535)
    return Error(Errc::config, "port '" + std::string(p) + "' is not in [0, 65535]");
  *host = std::string(h);
  *port = static_cast<uint16_t>(n);
  return ok_status();
}

bool valid_listener_name(std::string_view n) {
  return !n.empty() && n.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") ==
                           std::string_view::npos;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

Result<Listener> parse_listener(std::string_view entry) {
  size_t sep = entry.find("://");
  if (sep == std::string_view::npos) return Error(Errc::config, "entry '" + std::string(entry) + "' has no '://'");
  Listener l;
  if (!valid_listener_name(entry.substr(0, sep)))
    return Error(Errc::config, "listener name '" + std::string(entry.substr(0, sep)) + "' is not made of A-Z, 0-9, _");
  l.name = upper(entry.substr(0, sep));
  FLOE_TRY(parse_host_port(entry.substr(sep + 3), true, &l.host, &l.port));
  return l;
}

Result<Voter> parse_voter(std::string_view entry) {
  size_t at = entry.find('@');
  if (at == std::string_view::npos) return Error(Errc::config, "entry '" + std::string(entry) + "' has no '@'");
  Voter v;
  int64_t id = -1;
  if (!parse_i64(entry.substr(0, at), &id) || id < 0 || id > kI32Max)
    return Error(Errc::config, "voter id '" + std::string(entry.substr(0, at)) + "' is not in [0, 2147483647]");
  v.id = static_cast<int32_t>(id);
  FLOE_TRY(parse_host_port(entry.substr(at + 1), false, &v.host, &v.port));
  return v;
}

constexpr std::string_view kProtocols[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"};

Result<std::pair<std::string, std::string>> parse_protocol_entry(std::string_view entry) {
  size_t colon = entry.find(':');
  if (colon == std::string_view::npos) return Error(Errc::config, "entry '" + std::string(entry) + "' is not NAME:PROTOCOL");
  std::string_view name = trim(entry.substr(0, colon));
  std::string proto = upper(trim(entry.substr(colon + 1)));
  if (!valid_listener_name(name))
    return Error(Errc::config, "listener name '" + std::string(name) + "' is not made of A-Z, 0-9, _");
  if (std::find(std::begin(kProtocols), std::end(kProtocols), proto) == std::end(kProtocols))
    return Error(Errc::config, "protocol '" + proto + "' is not one of {PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL}");
  return std::pair<std::string, std::string>(upper(name), proto);
}

constexpr std::string_view kBucketSchemes[] = {"s3", "fs", "file", "mem"};  // file:// = fs:// here
constexpr std::string_view kWalSchemes[] = {"file", "s3", "fs", "mem"};     // file:// = block WAL here

std::string expectation(const KeySpec& k) {
  switch (k.type) {
    case Type::string: return "a string";
    case Type::integer: return "an integer in " + describe_range(k);
    case Type::boolean: return "true or false";
    case Type::choice: return "one of " + choices_braced(k.choices);
    case Type::subset: return "a comma-separated subset of " + choices_braced(k.choices);
    case Type::duration_ms: return "a duration in milliseconds (or with a unit ms, s, m, h, d) in " + describe_range(k);
    case Type::size_bytes:
      return "a size in bytes (or with a unit KiB, MiB, GiB, TiB, KB, MB, GB, TB) in " + describe_range(k);
    case Type::name_list: return "a comma-separated list of listener names (A-Z, 0-9, _)";
    case Type::path_list: return "a comma-separated list of paths";
    case Type::listeners: return "a comma-separated list of NAME://host:port";
    case Type::protocol_map: return "a comma-separated list of NAME:PROTOCOL";
    case Type::voters: return "a comma-separated list of id@host:port";
    case Type::bucket_list:
      return "a comma-separated list of [id@]s3://bucket?region=..&endpoint=..&pathStyle=.. or [id@]fs://path";
    case Type::wal_uri: return "one of file://path, [id@]s3://bucket?.., [id@]fs://path";
  }
  FLOE_UNREACHABLE();
}

// Checks text against the key's type and bounds. The error message is complete except for origin.
Status validate(const KeySpec& k, std::string_view text) {
  auto fail = [&](std::string_view why) {
    const bool secret_bearing = is_sensitive(k);
    std::string msg = quote(k.name) + " must be " + expectation(k) + ", got " +
                      quote(secret_bearing ? redact_bucket_uri(text) : std::string(text));
    if (!why.empty()) msg += " (" + std::string(why) + ")";
    return Status(Errc::config, msg);
  };
  auto in_range = [&](int64_t v) -> Status {
    if (v < k.min || v > k.max) return fail("out of range");
    return ok_status();
  };
  switch (k.type) {
    case Type::string:
      if (trim(text).empty()) return fail("empty");
      return ok_status();
    case Type::integer: {
      int64_t v = 0;
      if (!parse_i64(trim(text), &v)) return fail("");
      return in_range(v);
    }
    case Type::boolean:
      if (text != "true" && text != "false") return fail("");
      return ok_status();
    case Type::choice: {
      for (const auto& c : split_valid(k.choices))
        if (c == text) return ok_status();
      return fail("");
    }
    case Type::subset: {
      auto items = split_list(text);
      if (!items) return fail(items.error().message);
      if (static_cast<int64_t>(items->size()) < k.min) return fail("empty");
      auto choices = split_valid(k.choices);
      std::set<std::string> seen;
      for (const auto& item : *items) {
        if (std::find(choices.begin(), choices.end(), item) == choices.end()) return fail("");
        if (!seen.insert(item).second) return fail("'" + item + "' is repeated");
      }
      return ok_status();
    }
    case Type::duration_ms: {
      auto v = parse_duration_ms(text);
      if (!v) return fail(v.error().message);
      return in_range(*v);
    }
    case Type::size_bytes: {
      auto v = parse_size_bytes(text);
      if (!v) return fail(v.error().message);
      FLOE_TRY(in_range(*v));
      if (k.name == "s3.wal.capacity" && *v % kWalAlignBytes != 0) return fail("not a multiple of 4096");
      return ok_status();
    }
    default: break;
  }
  // List types.
  auto items = split_list(text);
  if (!items) return fail(items.error().message);
  if (static_cast<int64_t>(items->size()) < k.min) return fail("empty");
  std::set<std::string> names;
  for (const auto& item : *items) {
    std::string unique_name;
    switch (k.type) {
      case Type::name_list:
        if (!valid_listener_name(item)) return fail("'" + item + "' is not made of A-Z, 0-9, _");
        unique_name = upper(item);
        break;
      case Type::path_list: unique_name = item; break;
      case Type::listeners: {
        auto l = parse_listener(item);
        if (!l) return fail(l.error().message);
        unique_name = l->name;
        break;
      }
      case Type::protocol_map: {
        auto p = parse_protocol_entry(item);
        if (!p) return fail(p.error().message);
        unique_name = p->first;
        break;
      }
      case Type::voters: {
        auto v = parse_voter(item);
        if (!v) return fail(v.error().message);
        unique_name = std::to_string(v->id);
        break;
      }
      case Type::bucket_list:
      case Type::wal_uri: {
        auto b = k.type == Type::wal_uri ? parse_bucket_uri(item, kWalSchemes) : parse_bucket_uri(item, kBucketSchemes);
        if (!b) return fail(b.error().message);
        unique_name = std::to_string(b->id);
        break;
      }
      default: FLOE_UNREACHABLE();
    }
    if (!names.insert(unique_name).second) return fail("'" + unique_name + "' appears twice");
  }
  if (k.type == Type::wal_uri && items->size() != 1) return fail("exactly one WAL");
  return ok_status();
}

// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

std::string escape_value(std::string_view v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c == ' ' && i == 0) out += "\\ ";
    else out += c;
  }
  return out;
}

void append_utf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    *out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out += static_cast<char>(0xC0 | (cp >> 6));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *out += static_cast<char>(0xE0 | (cp >> 12));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Decodes one escape at s[*i] == '\\'; advances *i past it.
Status decode_escape(std::string_view s, size_t* i, std::string* out) {
  ++*i;
  if (*i >= s.size()) return ok_status();  // a lone trailing backslash (continuation already handled)
  char c = s[*i];
  ++*i;
  switch (c) {
    case 't': *out += '\t'; return ok_status();
    case 'n': *out += '\n'; return ok_status();
    case 'r': *out += '\r'; return ok_status();
    case 'f': *out += '\f'; return ok_status();
    case 'u': {
      if (*i + 4 > s.size()) return Error(Errc::config, "\\u needs 4 hex digits");
      uint32_t cp = 0;
      for (int k = 0; k < 4; ++k) {
        char h = s[*i + k];
        cp <<= 4;
        if (h >= '0' && h <= '9') cp |= h - '0';
        else if (h >= 'a' && h <= 'f') cp |= h - 'a' + 10;
        else if (h >= 'A' && h <= 'F') cp |= h - 'A' + 10;
        else return Error(Errc::config, "\\u needs 4 hex digits");
      }
      *i += 4;
      append_utf8(out, cp);
      return ok_status();
    }
    default: *out += c; return ok_status();  // \\ \= \: \# \! \<space> and any other char: itself
  }
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\f'; }

}  // namespace

std::span<const KeySpec> all_keys() { return kKeys; }

bool is_sensitive(const KeySpec& spec) { return spec.type == Type::bucket_list || spec.type == Type::wal_uri; }

const KeySpec* find_key(std::string_view name) {
  auto it = std::lower_bound(std::begin(kKeys), std::end(kKeys), name,
                             [](const KeySpec& k, std::string_view n) { return k.name < n; });
  if (it != std::end(kKeys) && it->name == name) return &*it;
  return nullptr;
}

std::string_view type_name(Type t) {
  switch (t) {
    case Type::string: return "string";
    case Type::integer: return "int";
    case Type::boolean: return "bool";
    case Type::choice: return "enum";
    case Type::subset: return "set";
    case Type::duration_ms: return "duration";
    case Type::size_bytes: return "size";
    case Type::name_list: return "names";
    case Type::path_list: return "paths";
    case Type::listeners: return "listeners";
    case Type::protocol_map: return "map";
    case Type::voters: return "voters";
    case Type::bucket_list: return "buckets";
    case Type::wal_uri: return "wal-uri";
  }
  FLOE_UNREACHABLE();
}

std::string_view use_name(Use u) {
  switch (u) {
    case Use::active: return "yes";
    case Use::not_yet: return "not yet";
    case Use::ignored: return "ignored";
  }
  FLOE_UNREACHABLE();
}

std::string describe_range(const KeySpec& k) {
  switch (k.type) {
    case Type::integer:
    case Type::duration_ms:
    case Type::size_bytes: return "[" + std::to_string(k.min) + ", " + std::to_string(k.max) + "]";
    case Type::choice:
    case Type::subset: return choices_braced(k.choices);
    default: return "";
  }
}

std::string_view suggest_key(std::string_view unknown) {
  std::string_view best;
  size_t best_d = std::numeric_limits<size_t>::max();
  for (const auto& k : kKeys) {
    size_t d = edit_distance(unknown, k.name);
    if (d < best_d) best_d = d, best = k.name;
  }
  if (best_d <= std::max<size_t>(2, unknown.size() / 3)) return best;
  // "retention.ms" → "log.retention.ms": a registered key that ends with the unknown one.
  for (const auto& k : kKeys)
    if (unknown.size() >= 4 && k.name.size() > unknown.size() && k.name.ends_with(unknown) &&
        k.name[k.name.size() - unknown.size() - 1] == '.')
      return k.name;
  return {};
}

Result<int64_t> parse_size_bytes(std::string_view text) { return parse_with_units(text, kSizeUnits); }
Result<int64_t> parse_duration_ms(std::string_view text) { return parse_with_units(text, kDurationUnits); }

Result<std::vector<Property>> parse_properties(std::string_view text, std::string_view source_name) {
  std::vector<Property> out;
  size_t pos = 0;
  int line_no = 0;
  auto next_physical = [&](std::string_view* line) {
    if (pos >= text.size()) return false;
    size_t nl = text.find('\n', pos);
    *line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    if (!line->empty() && line->back() == '\r') line->remove_suffix(1);
    ++line_no;
    return true;
  };
  auto ends_continued = [](std::string_view l) {
    size_t n = 0;
    while (n < l.size() && l[l.size() - 1 - n] == '\\') ++n;
    return n % 2 == 1;
  };
  std::string_view physical;
  while (next_physical(&physical)) {
    int first_line = line_no;
    std::string_view first = trim(physical);
    if (first.empty() || first[0] == '#' || first[0] == '!') continue;
    // Join continuation lines: drop the backslash and the next line's leading whitespace.
    std::string logical(physical);
    while (ends_continued(logical)) {
      logical.pop_back();
      std::string_view more;
      if (!next_physical(&more)) break;
      size_t b = 0;
      while (b < more.size() && is_space(more[b])) ++b;
      logical.append(more.substr(b));
    }
    std::string_view s = logical;
    size_t i = 0;
    while (i < s.size() && is_space(s[i])) ++i;
    Property p;
    p.line = first_line;
    auto where = [&] { return std::string(source_name) + ":" + std::to_string(first_line); };
    while (i < s.size() && s[i] != '=' && s[i] != ':' && !is_space(s[i])) {
      if (s[i] == '\\') {
        auto st = decode_escape(s, &i, &p.key);
        if (!st) return Error(Errc::config, where() + ": " + st.error().message);
      } else {
        p.key += s[i++];
      }
    }
    while (i < s.size() && is_space(s[i])) ++i;
    if (i < s.size() && (s[i] == '=' || s[i] == ':')) ++i;
    while (i < s.size() && is_space(s[i])) ++i;
    size_t kept = 0;  // value bytes up to the last escape: never trimmed
    while (i < s.size()) {
      if (s[i] == '\\') {
        auto st = decode_escape(s, &i, &p.value);
        if (!st) return Error(Errc::config, where() + ": '" + p.key + "': " + st.error().message);
        kept = p.value.size();
      } else {
        p.value += s[i++];
      }
    }
    while (p.value.size() > kept && is_space(p.value.back())) p.value.pop_back();
    if (p.key.empty()) return Error(Errc::config, where() + ": a line with a value but no key");
    out.push_back(std::move(p));
  }
  return out;
}

Status Config::set(std::string_view key, std::string value, Source source, std::string origin) {
  const KeySpec* k = find_key(key);
  std::string at = origin.empty() ? "" : source == Source::file ? "; at " + origin : "; from " + origin;
  if (!k) {
    std::string msg = "unknown key " + quote(key);
    std::string_view hint = suggest_key(key);
    if (!hint.empty()) msg += " (did you mean " + quote(hint) + "?)";
    return Error(Errc::config, msg + at);
  }
  auto st = validate(*k, value);
  if (!st) return Error(Errc::config, st.error().message + at);
  values_[std::string(k->name)] = Entry{std::move(value), source, std::move(origin)};
  return ok_status();
}

Result<Config> Config::load(std::string_view properties_text, std::string_view source_name,
                            std::span<const std::string> overrides) {
  Config c;
  auto props = parse_properties(properties_text, source_name);
  if (!props) return props.take_error();
  for (auto& p : *props)
    FLOE_TRY(c.set(p.key, std::move(p.value), Source::file, std::string(source_name) + ":" + std::to_string(p.line)));
  for (const auto& o : overrides) {
    size_t eq = o.find('=');
    if (eq == std::string::npos || trim(std::string_view(o).substr(0, eq)).empty())
      return Error(Errc::config, "--override expects key=value, got " + quote(o));
    FLOE_TRY(c.set(trim(std::string_view(o).substr(0, eq)), std::string(trim(std::string_view(o).substr(eq + 1))),
                   Source::override_flag, "--override"));
  }
  // Defaults last, so that {data.dir} resolves to the effective data.dir.
  std::string data_dir = c.values_.count("data.dir") ? c.values_["data.dir"].text : "./data";
  while (data_dir.size() > 1 && data_dir.back() == '/') data_dir.pop_back();
  for (const auto& k : kKeys) {
    if (!k.has_default || c.values_.count(k.name)) continue;
    std::string text(k.default_value);
    if (size_t p = text.find("{data.dir}"); p != std::string::npos) text.replace(p, 10, data_dir);
    FLOE_TRY(c.set(k.name, std::move(text), Source::default_value, ""));
  }
  FLOE_TRY(c.check_cross_keys());
  return c;
}

Result<Config> Config::load_file(const std::string& path, std::span<const std::string> overrides) {
  if (path.empty()) return load("", "", overrides);
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(Errc::config, "cannot read " + quote(path) + ": " + std::strerror(errno));
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxFileBytes)
      return Error(Errc::config, quote(path) + " is larger than " + std::to_string(kMaxFileBytes) + " bytes");
  }
  if (in.bad()) return Error(Errc::config, "cannot read " + quote(path));
  return load(text, path, overrides);
}

Status Config::check_cross_keys() const {
  auto origin = [&](std::string_view key) {
    const Entry& e = entry_any(key);
    if (e.origin.empty()) return std::string();
    return (e.source == Source::file ? "; at " : "; from ") + e.origin;
  };
  auto listeners = get_listeners("listeners");
  auto controller_names = get_list("controller.listener.names");
  for (auto& n : controller_names) n = upper(n);
  auto is_controller_listener = [&](const std::string& name) {
    return std::find(controller_names.begin(), controller_names.end(), name) != controller_names.end();
  };
  auto protocols = get_protocol_map("listener.security.protocol.map");
  for (const auto& l : listeners) {
    if (!protocols.count(l.name))
      return Error(Errc::config, "'listener.security.protocol.map' must map every listener name; '" + l.name +
                                     "' (from 'listeners') is missing" + origin("listener.security.protocol.map"));
  }
  if (has_role("controller")) {
    if (controller_names.empty())
      return Error(Errc::config, "'controller.listener.names' must name at least one listener when "
                                 "'process.roles' contains controller" + origin("controller.listener.names"));
    for (const auto& n : controller_names) {
      bool found = std::any_of(listeners.begin(), listeners.end(), [&](const Listener& l) { return l.name == n; });
      if (!found)
        return Error(Errc::config, "'listeners' must contain the controller listener '" + n +
                                       "' (from 'controller.listener.names') when 'process.roles' contains controller" +
                                       origin("listeners"));
    }
    int32_t id = get_int("node.id");
    auto voters = get_voters("controller.quorum.voters");
    if (std::none_of(voters.begin(), voters.end(), [&](const Voter& v) { return v.id == id; }))
      return Error(Errc::config, "'controller.quorum.voters' must contain this node's id " + std::to_string(id) +
                                     " ('node.id') when 'process.roles' contains controller, got " +
                                     quote(get_string("controller.quorum.voters")) +
                                     origin(is_set("controller.quorum.voters") ? "controller.quorum.voters" : "node.id"));
  }
  if (has_role("broker")) {
    if (std::all_of(listeners.begin(), listeners.end(), [&](const Listener& l) { return is_controller_listener(l.name); }))
      return Error(Errc::config, "'listeners' must contain a broker listener (one not in 'controller.listener.names') "
                                 "when 'process.roles' contains broker, got " + quote(get_string("listeners")) +
                                 origin("listeners"));
  }
  for (const auto& a : get_listeners("advertised.listeners")) {
    if (std::none_of(listeners.begin(), listeners.end(), [&](const Listener& l) { return l.name == a.name; }))
      return Error(Errc::config, "'advertised.listeners' may only name listeners of 'listeners'; '" + a.name +
                                     "' is not one" + origin("advertised.listeners"));
  }
  if (get_listeners("http.listeners").size() > 1)
    return Error(Errc::config, "'http.listeners' takes one listener, got " + quote(get_string("http.listeners")) +
                                   origin("http.listeners"));
  int64_t threshold = get_size_bytes("s3.wal.upload.threshold");
  if (threshold > get_size_bytes("s3.wal.cache.size"))
    return Error(Errc::config, "'s3.wal.upload.threshold' must be at most 's3.wal.cache.size' (" +
                                   get_string("s3.wal.cache.size") + "), got " + quote(get_string("s3.wal.upload.threshold")) +
                                   origin("s3.wal.upload.threshold"));
  if (threshold >= get_size_bytes("s3.wal.capacity"))
    return Error(Errc::config, "'s3.wal.upload.threshold' must be less than 's3.wal.capacity' (" +
                                   get_string("s3.wal.capacity") + "), got " + quote(get_string("s3.wal.upload.threshold")) +
                                   origin("s3.wal.upload.threshold"));
  return ok_status();
}

const Config::Entry& Config::entry_any(std::string_view key) const {
  auto it = values_.find(key);
  FLOE_ASSERT_MSG(it != values_.end(), "config key is unregistered or has no value (check has() first)");
  return it->second;
}

const Config::Entry& Config::entry(std::string_view key, Type expected) const {
  const KeySpec* k = find_key(key);
  FLOE_ASSERT_MSG(k != nullptr, "config key is not registered");
  FLOE_ASSERT_MSG(k->type == expected, "config key read with the wrong accessor type");
  return entry_any(key);
}

bool Config::has(std::string_view key) const { return values_.find(key) != values_.end(); }
bool Config::is_set(std::string_view key) const { return has(key) && entry_any(key).source != Source::default_value; }
Source Config::source(std::string_view key) const { return entry_any(key).source; }
const std::string& Config::get_string(std::string_view key) const { return entry_any(key).text; }

int64_t Config::get_long(std::string_view key) const {
  int64_t v = 0;
  FLOE_ASSERT(parse_i64(trim(entry(key, Type::integer).text), &v));
  return v;
}

int32_t Config::get_int(std::string_view key) const {
  const KeySpec* k = find_key(key);
  FLOE_ASSERT_MSG(k && k->min >= std::numeric_limits<int32_t>::min() && k->max <= kI32Max,
                  "get_int on a key whose range does not fit 32 bits: use get_long");
  return static_cast<int32_t>(get_long(key));
}

bool Config::get_bool(std::string_view key) const { return entry(key, Type::boolean).text == "true"; }
int64_t Config::get_duration_ms(std::string_view key) const { return parse_duration_ms(entry(key, Type::duration_ms).text).value(); }
int64_t Config::get_size_bytes(std::string_view key) const { return parse_size_bytes(entry(key, Type::size_bytes).text).value(); }

std::vector<std::string> Config::get_list(std::string_view key) const {
  const KeySpec* k = find_key(key);
  FLOE_ASSERT(k && (k->type == Type::subset || k->type == Type::name_list || k->type == Type::path_list));
  if (!has(key)) return {};
  return split_valid(entry_any(key).text);
}

std::vector<Listener> Config::get_listeners(std::string_view key) const {
  std::vector<Listener> out;
  for (const auto& s : split_valid(entry(key, Type::listeners).text)) out.push_back(parse_listener(s).value());
  return out;
}

std::map<std::string, std::string> Config::get_protocol_map(std::string_view key) const {
  std::map<std::string, std::string> out;
  for (const auto& s : split_valid(entry(key, Type::protocol_map).text)) out.insert(parse_protocol_entry(s).value());
  return out;
}

std::vector<Voter> Config::get_voters(std::string_view key) const {
  std::vector<Voter> out;
  for (const auto& s : split_valid(entry(key, Type::voters).text)) out.push_back(parse_voter(s).value());
  return out;
}

std::vector<BucketUri> Config::get_buckets(std::string_view key) const {
  const KeySpec* k = find_key(key);
  FLOE_ASSERT(k && (k->type == Type::bucket_list || k->type == Type::wal_uri));
  std::vector<BucketUri> out;
  for (const auto& s : split_valid(entry_any(key).text)) {
    if (k->type == Type::wal_uri) out.push_back(parse_bucket_uri(s, kWalSchemes).value());
    else out.push_back(parse_bucket_uri(s, kBucketSchemes).value());
  }
  return out;
}

bool Config::has_role(std::string_view role) const {
  auto roles = get_list("process.roles");
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

int64_t Config::retention_ms() const {
  auto scaled = [](int64_t v, int64_t unit_ms) { return v < 0 ? int64_t{-1} : v * unit_ms; };
  if (has("log.retention.ms")) return get_duration_ms("log.retention.ms");
  if (has("log.retention.minutes")) return scaled(get_long("log.retention.minutes"), 60 * 1000);
  return scaled(get_long("log.retention.hours"), 3600 * 1000);
}

std::string Config::summary() const {
  std::ostringstream out;
  out << "# floe effective configuration: keys set by the file or --override first, then defaults\n";
  for (bool set_pass : {true, false}) {
    for (const auto& k : kKeys) {
      auto it = values_.find(k.name);
      bool is_set_key = it != values_.end() && it->second.source != Source::default_value;
      if (is_set_key != set_pass) continue;
      if (it == values_.end()) {
        out << "# " << k.name << " is unset\n";
        continue;
      }
      if (set_pass) out << "# from " << it->second.origin << "\n";
      const bool secret_bearing = is_sensitive(k);
      out << k.name << "=" << escape_value(secret_bearing ? redact_bucket_uri(it->second.text) : it->second.text) << "\n";
    }
  }
  return out.str();
}

}  // namespace floe::config
