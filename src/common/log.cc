#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace floe::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::info)};
const char* level_name(Level l) {
  switch (l) {
    case Level::debug: return "DEBUG";
    case Level::info: return "INFO";
    case Level::warn: return "WARN";
    case Level::error: return "ERROR";
    case Level::off: return "OFF";
  }
  return "?";
}
}  // namespace

void set_level(Level l) { g_level.store(static_cast<int>(l), std::memory_order_relaxed); }
Level level() { return static_cast<Level>(g_level.load(std::memory_order_relaxed)); }

bool parse_level(std::string_view name, Level* out) {
  if (name == "debug") *out = Level::debug;
  else if (name == "info") *out = Level::info;
  else if (name == "warn") *out = Level::warn;
  else if (name == "error") *out = Level::error;
  else if (name == "off") *out = Level::off;
  else return false;
  return true;
}

void write(Level l, std::string_view subsystem, std::string_view message) {
  using namespace std::chrono;
  auto now = system_clock::now();
  std::time_t t = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[64];
  std::snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  std::string line;
  line.reserve(64 + message.size());
  line.append(ts).append(" ").append(level_name(l)).append(" ").append(subsystem).append(": ").append(message);
  line.push_back('\n');
  // One write per line: lines from concurrent threads never interleave.
  ssize_t rc = ::write(STDERR_FILENO, line.data(), line.size());
  (void)rc;
}

}  // namespace floe::log
