// Metrics: counters and gauges in the Prometheus text exposition format (version 0.0.4), gathered
// at scrape time from the subsystems' own stats (pull: nothing is updated on hot paths for this).
//
// A MetricsRegistry holds collectors; scrape() runs each into one MetricsWriter, which groups the
// samples of a family under a single "# HELP" / "# TYPE" header, in the order families first
// appear, and renders the text.
//
// Invariants:
//  (1) A family has one type and one help text: writing a name again with another type is a bug
//      (FLOE_ASSERT), so a scrape never emits a family twice.
//  (2) Names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* (asserted: they
//      are compile-time constants); label values and help text are escaped as the format demands.
//  (3) Counter family names end in "_total" (Prometheus' convention; asserted).
// Thread safety: MetricsRegistry is thread-safe (collectors may be added while scrapes run);
// a collector runs on the scraping thread and must not block for long.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace floe::http {

using Labels = std::vector<std::pair<std::string, std::string>>;

class MetricsWriter {
 public:
  void counter(std::string_view name, std::string_view help, uint64_t value, const Labels& labels = {});
  void gauge(std::string_view name, std::string_view help, double value, const Labels& labels = {});
  // The exposition text: every family with its samples.
  std::string text() const;

 private:
  enum class Kind { counter, gauge };
  struct Family {
    std::string name;
    std::string help;
    Kind kind;
    std::vector<std::string> samples;  // rendered lines without the trailing newline
  };
  Family& family(std::string_view name, std::string_view help, Kind kind);
  void sample(Family& f, const Labels& labels, const std::string& value);

  std::vector<Family> families_;
};

class MetricsRegistry {
 public:
  using Collector = std::function<void(MetricsWriter&)>;
  void add(Collector collector);
  std::string scrape() const;

 private:
  mutable std::mutex mu_;
  std::vector<Collector> collectors_;
};

// The content type of the text format.
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace floe::http
