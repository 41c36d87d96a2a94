#include "metadata/topic_config.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <limits>
#include <set>

namespace floe::metadata {

namespace {
// Validation beyond the type: a lower bound for numbers, an allowed set for strings/lists.
struct Rule {
  int64_t min = std::numeric_limits<int64_t>::min();
  std::set<std::string> allowed;
};

struct Entry {
  TopicConfigDef def;
  Rule rule;
};

const std::vector<Entry>& entries() {
  static const std::vector<Entry> table = [] {
    using T = ConfigType;
    std::vector<Entry> e = {
        {{"cleanup.policy", T::list, "delete", "Retention policy for old segments: delete and/or compact."}, {0, {"delete", "compact"}}},
        {{"compression.type", T::string, "producer", "Final compression of the topic's data; 'producer' keeps the producer's codec."},
         {0, {"producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"}}},
        {{"delete.retention.ms", T::long_, "86400000", "How long delete tombstones are kept for compacted topics."}, {0, {}}},
        {{"file.delete.delay.ms", T::long_, "60000", "Delay before deleting a file (accepted, unused)."}, {0, {}}},
        {{"flush.messages", T::long_, "9223372036854775807", "Messages between forced flushes (accepted, unused)."}, {1, {}}},
        {{"flush.ms", T::long_, "9223372036854775807", "Time between forced flushes (accepted, unused)."}, {0, {}}},
        {{"index.interval.bytes", T::int_, "4096", "Index granularity (accepted, unused)."}, {0, {}}},
        {{"local.retention.bytes", T::long_, "-2", "Local retention bytes (accepted, unused)."}, {-2, {}}},
        {{"local.retention.ms", T::long_, "-2", "Local retention time (accepted, unused)."}, {-2, {}}},
        {{"max.compaction.lag.ms", T::long_, "9223372036854775807", "Max time a record stays uncompacted."}, {1, {}}},
        {{"max.message.bytes", T::int_, "1048588", "Largest record batch size allowed."}, {0, {}}},
        {{"message.downconversion.enable", T::boolean, "true", "Down-conversion for old consumers (accepted, unused)."}, {}},
        {{"message.timestamp.difference.max.ms", T::long_, "9223372036854775807", "Max difference between broker and record timestamps."}, {0, {}}},
        {{"message.timestamp.type", T::string, "CreateTime", "CreateTime or LogAppendTime."}, {0, {"CreateTime", "LogAppendTime"}}},
        {{"min.cleanable.dirty.ratio", T::double_, "0.5", "Dirty ratio that triggers compaction."}, {0, {}}},
        {{"min.compaction.lag.ms", T::long_, "0", "Min time a record stays uncompacted."}, {0, {}}},
        {{"min.insync.replicas", T::int_, "1", "Minimum in-sync replicas for acks=all (storage replicates)."}, {1, {}}},
        {{"preallocate", T::boolean, "false", "Preallocate segment files (accepted, unused)."}, {}},
        {{"remote.storage.enable", T::boolean, "false", "Tiered storage (accepted; floe always keeps data in object storage)."}, {}},
        {{"retention.bytes", T::long_, "-1", "Max partition size before old data is deleted; -1: no limit."}, {-1, {}}},
        {{"retention.ms", T::long_, "604800000", "Max age of data before deletion; -1: no limit."}, {-1, {}}},
        {{"segment.bytes", T::int_, "1073741824", "Segment size (accepted, unused)."}, {14, {}}},
        {{"segment.index.bytes", T::int_, "10485760", "Index size (accepted, unused)."}, {4, {}}},
        {{"segment.jitter.ms", T::long_, "0", "Segment roll jitter (accepted, unused)."}, {0, {}}},
        {{"segment.ms", T::long_, "604800000", "Segment roll time (accepted, unused)."}, {1, {}}},
        {{"unclean.leader.election.enable", T::boolean, "false", "Unclean leader election (accepted, unused)."}, {}},
    };
    std::sort(e.begin(), e.end(), [](const Entry& a, const Entry& b) { return a.def.name < b.def.name; });
    return e;
  }();
  return table;
}

const Entry* find_entry(std::string_view name) {
  for (const auto& e : entries()) {
    if (e.def.name == name) return &e;
  }
  return nullptr;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Status bad(std::string_view name, std::string_view value, std::string_view why) {
  return Error(Errc::config, "invalid value '" + std::string(value) + "' for config " + std::string(name) + ": " +
                                 std::string(why));
}
}  // namespace

const std::vector<TopicConfigDef>& topic_config_defs() {
  static const std::vector<TopicConfigDef> defs = [] {
    std::vector<TopicConfigDef> out;
    for (const auto& e : entries()) out.push_back(e.def);
    return out;
  }();
  return defs;
}

const TopicConfigDef* find_topic_config(std::string_view name) {
  const Entry* e = find_entry(name);
  return e ? &e->def : nullptr;
}

Status validate_topic_config(std::string_view name, std::string_view value) {
  const Entry* e = find_entry(name);
  if (!e) return Error(Errc::config, "unknown topic config " + std::string(name));
  std::string_view v = trim(value);
  switch (e->def.type) {
    case ConfigType::boolean:
      if (v != "true" && v != "false") return bad(name, value, "expected true or false");
      return ok_status();
    case ConfigType::int_:
    case ConfigType::long_: {
      int64_t n = 0;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (v.empty() || ec != std::errc() || end != v.data() + v.size()) return bad(name, value, "expected an integer");
      if (e->def.type == ConfigType::int_ && (n < std::numeric_limits<int32_t>::min() || n > std::numeric_limits<int32_t>::max()))
        return bad(name, value, "out of int range");
      if (n < e->rule.min) return bad(name, value, "must be at least " + std::to_string(e->rule.min));
      return ok_status();
    }
    case ConfigType::double_: {
      std::string s(v);
      char* end = nullptr;
      double d = std::strtod(s.c_str(), &end);
      if (s.empty() || end != s.c_str() + s.size()) return bad(name, value, "expected a number");
      if (d < 0 || d > 1) return bad(name, value, "must be in [0, 1]");
      return ok_status();
    }
    case ConfigType::string:
      if (!e->rule.allowed.empty() && !e->rule.allowed.count(std::string(v)))
        return bad(name, value, "not an allowed value");
      return ok_status();
    case ConfigType::list: {
      if (v.empty()) return bad(name, value, "empty list");
      size_t start = 0;
      while (start <= v.size()) {
        size_t comma = v.find(',', start);
        std::string item(trim(v.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
        if (!e->rule.allowed.count(item)) return bad(name, value, "'" + item + "' is not an allowed value");
        if (comma == std::string_view::npos) break;
        start = comma + 1;
      }
      return ok_status();
    }
  }
  return ok_status();
}

}  // namespace floe::metadata
