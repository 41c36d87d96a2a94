#include <catch2/catch.hpp>

#include "http/metrics.h"

using floe::http::MetricsRegistry;
using floe::http::MetricsWriter;

TEST_CASE("a_family_gets_one_help_and_type_header_and_its_samples_stay_together") {
  MetricsWriter w;
  w.counter("floe_x_total", "Xs seen.", 3, {{"kind", "a"}});
  w.gauge("floe_y_bytes", "Ys held.", 1.5);
  w.counter("floe_x_total", "Xs seen.", 4, {{"kind", "b"}});
  CHECK(w.text() ==
        "# HELP floe_x_total Xs seen.\n"
        "# TYPE floe_x_total counter\n"
        "floe_x_total{kind=\"a\"} 3\n"
        "floe_x_total{kind=\"b\"} 4\n"
        "# HELP floe_y_bytes Ys held.\n"
        "# TYPE floe_y_bytes gauge\n"
        "floe_y_bytes 1.5\n");
}

TEST_CASE("label_values_and_help_are_escaped_as_the_text_format_demands") {
  MetricsWriter w;
  w.gauge("floe_info", "A \\ help\nline.", 1, {{"v", "a\"b\\c\nd"}, {"w", ""}});
  CHECK(w.text() ==
        "# HELP floe_info A \\\\ help\\nline.\n"
        "# TYPE floe_info gauge\n"
        "floe_info{v=\"a\\\"b\\\\c\\nd\",w=\"\"} 1\n");
}

TEST_CASE("gauges_print_integers_plainly_and_fractions_exactly") {
  MetricsWriter w;
  w.gauge("floe_g", "g", 1073741824.0);
  w.gauge("floe_h", "h", 0.1);
  w.counter("floe_c_total", "c", 18446744073709551615ULL);
  std::string t = w.text();
  CHECK(t.find("floe_g 1073741824\n") != std::string::npos);
  CHECK(t.find("floe_h 0.10000000000000001\n") != std::string::npos);
  CHECK(t.find("floe_c_total 18446744073709551615\n") != std::string::npos);
}

TEST_CASE("a_registry_scrape_runs_every_collector_into_one_text") {
  MetricsRegistry r;
  CHECK(r.scrape().empty());
  int calls = 0;
  r.add([&](MetricsWriter& w) {
    ++calls;
    w.counter("floe_a_total", "a", 1, {{"store", "data"}});
  });
  r.add([&](MetricsWriter& w) { w.counter("floe_a_total", "a", 2, {{"store", "wal"}}); });
  std::string t = r.scrape();
  CHECK(calls == 1);
  CHECK(t ==
        "# HELP floe_a_total a\n"
        "# TYPE floe_a_total counter\n"
        "floe_a_total{store=\"data\"} 1\n"
        "floe_a_total{store=\"wal\"} 2\n");
  r.scrape();
  CHECK(calls == 2);  // collected at scrape time, never cached
}
