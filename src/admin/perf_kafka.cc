#include "admin/perf_kafka.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "admin/kafka_client.h"
#include "admin/kafka_tools.h"
#include "protocol/messages.h"
#include "protocol/records/record.h"
#include "protocol/records/record_batch.h"

namespace floe::admin {

namespace {
using Clock = std::chrono::steady_clock;
constexpr int16_t kProduceVersion = 8;
constexpr int16_t kFetchVersion = 11;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct Args {
  std::string bootstrap = "localhost:9092";
  std::string topic;
  int64_t records = 100000;
  int64_t record_size = 1024;
  int64_t batch_bytes = 16384;
  int acks = -1;
  int inflight = 5;
  int64_t throughput = 0;
  int64_t timeout_ms = 10000;
};

bool parse_int(const char* s, int64_t lo, int64_t hi, int64_t* out) {
  char* end = nullptr;
  long long v = std::strtoll(s, &end, 10);
  if (end == s || *end != '\0' || v < lo || v > hi) return false;
  *out = v;
  return true;
}

// Parses the options common to produce and consume; returns false (after printing) on a usage error.
bool parse_args(int argc, char** argv, bool produce, Args* a) {
  const char* verb = produce ? "produce" : "consume";
  for (int i = 2; i < argc; ++i) {
    std::string_view o = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    int64_t n = 0;
    auto need_int = [&](int64_t lo, int64_t hi, int64_t* out) {
      const char* v = value();
      if (v == nullptr || !parse_int(v, lo, hi, out)) {
        std::fprintf(stderr, "floe perf %s: %s needs a number in [%lld, %lld]\n", verb, std::string(o).c_str(),
                     static_cast<long long>(lo), static_cast<long long>(hi));
        return false;
      }
      return true;
    };
    if (o == "--bootstrap" || o == "--bootstrap-server") {
      const char* v = value();
      if (v == nullptr) return std::fprintf(stderr, "floe perf %s: --bootstrap needs host:port\n", verb), false;
      a->bootstrap = v;
    } else if (o == "--topic") {
      const char* v = value();
      if (v == nullptr) return std::fprintf(stderr, "floe perf %s: --topic needs a name\n", verb), false;
      a->topic = v;
    } else if (o == "--records") {
      if (!need_int(1, int64_t{1} << 40, &a->records)) return false;
    } else if (o == "--timeout-ms") {
      if (!need_int(100, 3600000, &a->timeout_ms)) return false;
    } else if (produce && o == "--record-size") {
      if (!need_int(0, 1 << 20, &a->record_size)) return false;
    } else if (produce && o == "--batch-bytes") {
      if (!need_int(1, 16 << 20, &a->batch_bytes)) return false;
    } else if (produce && o == "--acks") {
      if (!need_int(-1, 1, &n)) return false;
      a->acks = static_cast<int>(n);
    } else if (produce && o == "--inflight") {
      if (!need_int(1, 1000, &n)) return false;
      a->inflight = static_cast<int>(n);
    } else if (produce && o == "--throughput") {
      if (!need_int(0, int64_t{1} << 40, &a->throughput)) return false;
    } else {
      std::fprintf(stderr, "floe perf %s: unknown option '%s'\n", verb, argv[i]);
      return false;
    }
  }
  if (a->topic.empty()) {
    std::fprintf(stderr, "floe perf %s: --topic is required\n", verb);
    return false;
  }
  return true;
}

// The topic's partition count, creating the topic through Metadata if the broker allows it.
// Waits up to wait_ms for every partition to have a leader (a broker that just started may still
// be opening its partitions, reading them back from the object store), as Kafka clients retry.
Result<int32_t> partition_count(KafkaConnection& c, const std::string& topic, int64_t wait_ms) {
  auto view = wait_for_topic(c, topic, wait_ms, /*auto_create=*/true);
  if (!view.ok()) return view.take_error();
  return static_cast<int32_t>(view->find(topic)->partitions.size());
}

}  // namespace

int run_perf_produce(int argc, char** argv) {
  Args a;
  if (!parse_args(argc, argv, true, &a)) return 2;
  auto conn = KafkaConnection::connect(a.bootstrap);
  if (!conn.ok()) return std::fprintf(stderr, "floe perf produce: %s\n", conn.error().message.c_str()), 1;
  auto& c = **conn;
  auto partitions = partition_count(c, a.topic, a.timeout_ms);
  if (!partitions.ok()) return std::fprintf(stderr, "floe perf produce: %s\n", partitions.error().message.c_str()), 1;

  // One template batch (the broker assigns offsets; the payload is random, incompressible).
  const int64_t per_batch = std::max<int64_t>(1, a.batch_bytes / std::max<int64_t>(1, a.record_size));
  std::mt19937_64 rng(42);
  Bytes payload(static_cast<size_t>(a.record_size));
  for (auto& b : payload) b = static_cast<uint8_t>(rng());
  auto build_batch = [&](int64_t count) {
    records::RecordBatchBuilder builder(records::BatchOptions{});
    int64_t now = wall_ms();
    for (int64_t i = 0; i < count; ++i) builder.append(now, std::nullopt, std::span<const uint8_t>(payload));
    auto built = builder.build();
    return SharedBytes(std::move(*built));
  };
  SharedBytes full_batch = build_batch(per_batch);

  struct InFlight {
    Clock::time_point sent;
    int64_t records;
  };
  std::deque<InFlight> window;
  std::vector<double> latencies_ms;  // per batch, weighted by repeating per record would be heavy
  std::vector<int64_t> latency_weights;
  int64_t sent = 0, acked = 0, errors = 0;
  int32_t next_partition = 0;
  auto start = Clock::now();
  auto last_report = start;
  int64_t last_report_acked = 0;
  auto receive_one = [&]() -> bool {
    auto resp = c.receive<protocol::ProduceResponse>();
    InFlight f = window.front();
    window.pop_front();
    if (!resp.ok()) {
      std::fprintf(stderr, "floe perf produce: %s\n", resp.error().message.c_str());
      return false;
    }
    for (const auto& t : resp->responses) {
      for (const auto& p : t.partition_responses) {
        if (p.error_code != 0) {
          ++errors;
          if (errors <= 5) std::fprintf(stderr, "floe perf produce: partition %d: error %d\n", p.index, p.error_code);
        }
      }
    }
    latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - f.sent).count());
    latency_weights.push_back(f.records);
    acked += f.records;
    return true;
  };
  while (sent < a.records) {
    if (a.throughput > 0) {
      double allowed = seconds_since(start) * static_cast<double>(a.throughput);
      if (static_cast<double>(sent) >= allowed) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        continue;
      }
    }
    int64_t count = std::min(per_batch, a.records - sent);
    protocol::ProduceRequest req;
    req.acks = static_cast<int16_t>(a.acks);
    req.timeout_ms = 30000;
    req.topic_data.resize(1);
    req.topic_data[0].name = a.topic;
    // A rate-limited run stamps each batch with its send time (end-to-end latency is measured from
    // it); a full-speed run reuses one template batch to keep the producer's CPU out of the way.
    bool fresh = a.throughput > 0 || count != per_batch;
    req.topic_data[0].partition_data.push_back({next_partition, fresh ? build_batch(count) : full_batch, {}});
    next_partition = (next_partition + 1) % *partitions;
    if (Status s = c.send(req, kProduceVersion); !s.ok()) {
      std::fprintf(stderr, "floe perf produce: %s\n", s.error().message.c_str());
      return 1;
    }
    sent += count;
    if (a.acks == 0) {
      c.forget_last();  // acks=0 is never answered
      acked += count;
    } else {
      window.push_back({Clock::now(), count});
      while (static_cast<int>(window.size()) >= a.inflight) {
        if (!receive_one()) return 1;
      }
    }
    if (seconds_since(last_report) >= 1.0) {
      double dt = seconds_since(last_report);
      std::fprintf(stderr, "%lld records acknowledged, %.1f records/sec (%.2f MB/sec)\n",
                   static_cast<long long>(acked), static_cast<double>(acked - last_report_acked) / dt,
                   static_cast<double>(acked - last_report_acked) * static_cast<double>(a.record_size) / dt / 1e6);
      last_report = Clock::now();
      last_report_acked = acked;
    }
  }
  while (!window.empty()) {
    if (!receive_one()) return 1;
  }
  double elapsed = seconds_since(start);
  // Per-record latency percentiles: each batch's latency counts once per record it carried.
  std::vector<std::pair<double, int64_t>> weighted;
  for (size_t i = 0; i < latencies_ms.size(); ++i) weighted.push_back({latencies_ms[i], latency_weights[i]});
  std::sort(weighted.begin(), weighted.end());
  auto pct = [&](double p) {
    int64_t total = 0;
    for (auto& w : weighted) total += w.second;
    int64_t target = static_cast<int64_t>(p * static_cast<double>(total));
    int64_t seen = 0;
    for (auto& w : weighted) {
      seen += w.second;
      if (seen > target) return w.first;
    }
    return weighted.empty() ? 0.0 : weighted.back().first;
  };
  double avg = 0, max = 0;
  int64_t total = 0;
  for (auto& w : weighted) {
    avg += w.first * static_cast<double>(w.second);
    total += w.second;
    max = std::max(max, w.first);
  }
  if (total > 0) avg /= static_cast<double>(total);
  std::printf("%lld records sent, %.1f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms max latency, "
              "%.2f ms 50th, %.2f ms 95th, %.2f ms 99th, %.2f ms 99.9th; %lld partition errors\n",
              static_cast<long long>(sent), static_cast<double>(sent) / elapsed,
              static_cast<double>(sent) * static_cast<double>(a.record_size) / elapsed / 1e6, avg, max, pct(0.5),
              pct(0.95), pct(0.99), pct(0.999), static_cast<long long>(errors));
  return errors == 0 ? 0 : 1;
}

int run_perf_consume(int argc, char** argv) {
  Args a;
  if (!parse_args(argc, argv, false, &a)) return 2;
  Connections conns("floe-perf", 30000);
  auto conn = conns.get(a.bootstrap);
  if (!conn.ok()) return std::fprintf(stderr, "floe perf consume: %s\n", conn.error().message.c_str()), 1;
  auto& c = **conn;
  auto view = wait_for_topic(c, a.topic, a.timeout_ms, /*auto_create=*/true);
  if (!view.ok()) return std::fprintf(stderr, "floe perf consume: %s\n", view.error().message.c_str()), 1;
  const auto partitions = static_cast<int32_t>(view->find(a.topic)->partitions.size());
  std::vector<int64_t> offsets(static_cast<size_t>(partitions), 0);
  {
    std::vector<OffsetQuery> earliest;
    for (int32_t p = 0; p < partitions; ++p) earliest.push_back({a.topic, p, -2});
    auto found = list_offsets(conns, *view, earliest);
    if (!found.ok()) return std::fprintf(stderr, "floe perf consume: %s\n", found.error().message.c_str()), 1;
    for (const auto& [tp, answer] : *found) {
      if (answer.error_code == 0 && tp.second >= 0 && tp.second < partitions) offsets[static_cast<size_t>(tp.second)] = answer.offset;
    }
  }
  int64_t records = 0, bytes = 0;
  std::vector<std::pair<double, int64_t>> e2e;  // latency ms, records
  auto start = Clock::now();
  auto last_progress = start;
  auto last_report = start;
  while (records < a.records) {
    protocol::FetchRequest req;
    req.replica_id = -1;
    req.max_wait_ms = 500;
    req.min_bytes = 1;
    req.max_bytes = 64 << 20;
    req.topics.resize(1);
    req.topics[0].topic = a.topic;
    for (int32_t p = 0; p < partitions; ++p) {
      protocol::FetchRequest::FetchPartition fp;
      fp.partition = p;
      fp.fetch_offset = offsets[p];
      fp.partition_max_bytes = 4 << 20;
      req.topics[0].partitions.push_back(fp);
    }
    auto resp = c.call<protocol::FetchResponse>(req, kFetchVersion);
    if (!resp.ok()) return std::fprintf(stderr, "floe perf consume: %s\n", resp.error().message.c_str()), 1;
    if (resp->error_code != 0) return std::fprintf(stderr, "floe perf consume: fetch error %d\n", resp->error_code), 1;
    bool progress = false;
    for (const auto& t : resp->responses) {
      for (const auto& p : t.partitions) {
        if (p.error_code != 0) {
          std::fprintf(stderr, "floe perf consume: partition %d: error %d\n", p.partition_index, p.error_code);
          return 1;
        }
        if (!p.records || p.records->empty()) continue;
        records::ValidateOptions vo;
        vo.allow_partial_tail = true;
        records::BatchReader reader(*p.records, vo);
        while (true) {
          auto next = reader.next();
          if (!next.ok() || !next->has_value()) break;
          const auto& h = (*next)->header();
          int64_t& offset = offsets[p.partition_index];
          if (h.next_offset() <= offset) continue;
          int64_t n = h.last_offset() - std::max(h.base_offset, offset) + 1;
          records += n;
          // End-to-end latency: from the batch's first record's creation to its receipt here
          // (meaningful when the producer runs on this host, concurrently).
          if (h.base_timestamp > 0) e2e.push_back({static_cast<double>(wall_ms() - h.base_timestamp), n});
          bytes += static_cast<int64_t>(h.size_bytes());
          offset = h.next_offset();
          progress = true;
        }
      }
    }
    if (progress) last_progress = Clock::now();
    if (std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - last_progress).count() > a.timeout_ms) break;
    if (seconds_since(last_report) >= 1.0) {
      std::fprintf(stderr, "%lld records consumed\n", static_cast<long long>(records));
      last_report = Clock::now();
    }
  }
  double elapsed = std::max(1e-9, std::chrono::duration<double>(last_progress - start).count());
  std::sort(e2e.begin(), e2e.end());
  auto pct = [&](double p) {
    int64_t total = 0, seen = 0;
    for (auto& w : e2e) total += w.second;
    for (auto& w : e2e) {
      seen += w.second;
      if (seen > static_cast<int64_t>(p * static_cast<double>(total))) return w.first;
    }
    return e2e.empty() ? 0.0 : e2e.back().first;
  };
  std::printf("%lld records consumed, %.1f records/sec, %.2f MB/sec (batch bytes), end-to-end latency %.1f ms 50th, "
              "%.1f ms 99th\n",
              static_cast<long long>(records), static_cast<double>(records) / elapsed,
              static_cast<double>(bytes) / elapsed / 1e6, pct(0.5), pct(0.99));
  return records >= a.records ? 0 : 1;
}

}  // namespace floe::admin
