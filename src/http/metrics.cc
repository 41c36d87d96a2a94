#include "http/metrics.h"

#include <cmath>
#include <cstdio>

#include "common/assert.h"

namespace floe::http {

namespace {

bool valid_name(std::string_view s, bool colons) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colons && c == ':');
    bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0)) return false;
  }
  return true;
}

// Backslash and newline are escaped (HELP text); in label values also the double quote.
std::string escape(std::string_view s, bool quote) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (quote && c == '"') out += "\\\"";
    else out += c;
  }
  return out;
}

std::string format_double(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

MetricsWriter::Family& MetricsWriter::family(std::string_view name, std::string_view help, Kind kind) {
  FLOE_ASSERT(valid_name(name, true));
  for (auto& f : families_) {
    if (f.name == name) {
      FLOE_ASSERT(f.kind == kind);  // (1)
      return f;
    }
  }
  families_.push_back(Family{std::string(name), std::string(help), kind, {}});
  return families_.back();
}

void MetricsWriter::sample(Family& f, const Labels& labels, const std::string& value) {
  std::string line = f.name;
  if (!labels.empty()) {
    line += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      FLOE_ASSERT(valid_name(labels[i].first, false));
      if (i > 0) line += ',';
      line += labels[i].first + "=\"" + escape(labels[i].second, true) + '"';
    }
    line += '}';
  }
  line += ' ';
  line += value;
  f.samples.push_back(std::move(line));
}

void MetricsWriter::counter(std::string_view name, std::string_view help, uint64_t value, const Labels& labels) {
  FLOE_ASSERT(name.size() > 6 && name.substr(name.size() - 6) == "_total");  // (3)
  sample(family(name, help, Kind::counter), labels, std::to_string(value));
}

void MetricsWriter::gauge(std::string_view name, std::string_view help, double value, const Labels& labels) {
  sample(family(name, help, Kind::gauge), labels, format_double(value));
}

std::string MetricsWriter::text() const {
  std::string out;
  for (const auto& f : families_) {
    out += "# HELP " + f.name + ' ' + escape(f.help, false) + '\n';
    out += "# TYPE " + f.name + (f.kind == Kind::counter ? " counter\n" : " gauge\n");
    for (const auto& s : f.samples) {
      out += s;
      out += '\n';
    }
  }
  return out;
}

void MetricsRegistry::add(Collector collector) {
  FLOE_ASSERT(collector);
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::string MetricsRegistry::scrape() const {
  std::vector<Collector> collectors;
  {
    std::lock_guard lock(mu_);
    collectors = collectors_;
  }
  MetricsWriter w;
  for (const auto& c : collectors) c(w);
  return w.text();
}

}  // namespace floe::http
