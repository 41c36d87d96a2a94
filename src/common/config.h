// Configuration: Kafka-style properties files plus `--override key=value`, checked against a typed
// registry of every key floe knows.
//
// Sources, lowest to highest precedence: registry defaults < the properties file < overrides (in
// order; a later override of the same key wins). The file format is Java's .properties as Kafka
// reads it: `key=value` (or `key: value`, or `key value`), `#`/`!` comment lines, blank lines,
// whitespace trimmed around key and value, a trailing `\` continues the line, escapes `\t \n \r \f
// \\ \= \: \# \! \ ` and `\uXXXX`. A key repeated in the file: the later line wins.
//
// Invariants:
//  (1) A Config that load() returned holds a valid value for every registered key that has a
//      default or was set: unknown keys and invalid values never get past load(). Every error
//      message names the offending key and says what would have been accepted.
//  (2) The typed accessors are for registered keys of the matching type only; asking for an
//      unregistered key or the wrong type is a programmer error (asserts), not an operating one.
//  (3) Defaults may mention `{data.dir}`; load() substitutes the effective data.dir.
// Thread safety: a loaded Config is immutable; concurrent reads are safe.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/bucket_uri.h"
#include "common/result.h"

namespace floe::config {

enum class Type {
  string,         // free text (a path, a name)
  integer,        // 64-bit signed, bounded by [min, max]
  boolean,        // true | false
  choice,         // exactly one of `choices`
  subset,         // comma-separated, non-empty subset of `choices`, no repeats
  duration_ms,    // milliseconds: a plain number, or with a unit ms|s|m|h|d; bounded by [min, max]
  size_bytes,     // bytes: a plain number, or with a unit KiB|MiB|GiB|TiB (1024) or KB|MB|GB|TB (1000)
  name_list,      // comma-separated listener names (A-Z, 0-9, _)
  path_list,      // comma-separated non-empty paths
  listeners,      // comma-separated NAME://host:port (host may be empty or [ipv6])
  protocol_map,   // comma-separated NAME:PROTOCOL, PROTOCOL in PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL
  voters,         // comma-separated id@host:port
  bucket_list,    // comma-separated [id@]s3://bucket?region=..&endpoint=..&pathStyle=.. | [id@]fs://path
                  // (file:// is fs:// here, mem:// for tests), as objectstore/bucket_uri.h reads them
  wal_uri,        // file://path (block WAL) | [id@]s3://bucket?.. | [id@]fs://path (object WAL)
};

// What floe does with a key in this build.
enum class Use {
  active,    // floe acts on it now
  not_yet,   // validated now; the layer that acts on it is not built yet
  ignored,   // accepted for Kafka compatibility; floe's design makes it meaningless (no replicas)
};

struct KeySpec {
  std::string_view name;
  Type type;
  std::string_view default_value;  // as text; may contain {data.dir}. Meaningful if has_default.
  bool has_default;
  int64_t min;                     // integer, duration_ms, size_bytes: inclusive bounds
  int64_t max;
  std::string_view choices;        // choice, subset: "broker,controller"
  Use use;
  std::string_view doc;
};

std::span<const KeySpec> all_keys();                  // sorted by name
// Keys whose values may carry credentials (bucket URIs with accessKey/secretKey/sessionToken):
// printed redacted, never answered to clients (DescribeConfigs: value null, is_sensitive).
bool is_sensitive(const KeySpec& spec);
const KeySpec* find_key(std::string_view name);       // nullptr if unknown
std::string_view type_name(Type type);                // "int", "size", ... as shown to users
std::string_view use_name(Use use);                   // "yes", "not yet", "ignored"
std::string describe_range(const KeySpec& spec);      // "[0, 2147483647]", "{debug, info}", ""
// The closest registered key within a small edit distance, or "" if none is close.
std::string_view suggest_key(std::string_view unknown);

// One `key=value` of a properties file, with its 1-based line for messages.
struct Property {
  std::string key;
  std::string value;
  int line = 0;
};
// Parses properties text. Fails only on malformed escapes (`\u` without 4 hex digits) or an empty
// key; unknown keys are the registry's business, not the parser's.
Result<std::vector<Property>> parse_properties(std::string_view text, std::string_view source_name);

struct Listener {
  std::string name;  // upper case, e.g. PLAINTEXT
  std::string host;  // "" = all interfaces; IPv6 without brackets
  uint16_t port = 0;
};
struct Voter {
  int32_t id = 0;
  std::string host;
  uint16_t port = 0;
};

enum class Source { default_value, file, override_flag };

class Config {
 public:
  // properties_text may be empty (no file). overrides are "key=value" strings, applied in order.
  static Result<Config> load(std::string_view properties_text, std::string_view source_name,
                             std::span<const std::string> overrides);
  // Reads the file at path (empty path: no file) and calls load().
  static Result<Config> load_file(const std::string& path, std::span<const std::string> overrides);

  bool has(std::string_view key) const;     // has a value (set or defaulted)
  bool is_set(std::string_view key) const;  // set by the file or an override, not by default
  Source source(std::string_view key) const;
  const std::string& get_string(std::string_view key) const;  // the raw text of any key
  int32_t get_int(std::string_view key) const;    // integer keys whose range fits 32 bits
  int64_t get_long(std::string_view key) const;   // integer keys
  bool get_bool(std::string_view key) const;
  int64_t get_duration_ms(std::string_view key) const;
  int64_t get_size_bytes(std::string_view key) const;
  std::vector<std::string> get_list(std::string_view key) const;  // subset, name_list, path_list
  std::vector<Listener> get_listeners(std::string_view key) const;
  std::map<std::string, std::string> get_protocol_map(std::string_view key) const;
  std::vector<Voter> get_voters(std::string_view key) const;
  std::vector<BucketUri> get_buckets(std::string_view key) const;  // bucket_list and wal_uri keys
  bool has_role(std::string_view role) const;  // "broker" | "controller" in process.roles

  // Kafka's retention precedence: log.retention.ms, else .minutes, else .hours. -1 = unlimited.
  int64_t retention_ms() const;

  // Every key as `key=value` with its source as a trailing comment: itself a valid properties file.
  std::string summary() const;

 private:
  struct Entry {
    std::string text;
    Source source = Source::default_value;
    std::string origin;  // "server.properties:3", "--override"
  };
  const Entry& entry(std::string_view key, Type expected) const;
  const Entry& entry_any(std::string_view key) const;
  Status set(std::string_view key, std::string value, Source source, std::string origin);
  Status check_cross_keys() const;

  std::map<std::string, Entry, std::less<>> values_;
};

// Value parsers, exposed for tests and for later layers that read values elsewhere.
Result<int64_t> parse_size_bytes(std::string_view text);
Result<int64_t> parse_duration_ms(std::string_view text);

}  // namespace floe::config
