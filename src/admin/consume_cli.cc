// `floe consume`: Fetch from each partition's leader, print values (every codec decompressed by
// the protocol layer), optionally commit offsets for a simple group (OffsetCommit with generation
// -1 and no member: no JoinGroup). See client_cli.h.
// Invariants: a partition's position only moves past records that were printed; offsets are
// committed only for positions reached; SIGINT/SIGTERM stop the loop, commit, then exit 0.
// A leader move or a broken connection refreshes Metadata (at most kMaxRefreshes rounds in a row
// without a clean fetch round) instead of failing; a group coordinator that moves (coordinator
// errors, a broken connection) is found again and the request resent (CoordinatorLink).
#include <csignal>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "admin/client_cli.h"
#include "admin/kafka_tools.h"
#include "protocol/generated/fetch_request.h"
#include "protocol/generated/fetch_response.h"
#include "protocol/generated/offset_commit_request.h"
#include "protocol/generated/offset_commit_response.h"
#include "protocol/generated/offset_fetch_request.h"
#include "protocol/generated/offset_fetch_response.h"
#include "protocol/records/record.h"

namespace floe::admin {

namespace {
using Clock = std::chrono::steady_clock;
constexpr int16_t kFetchVersion = 11;
constexpr int16_t kOffsetCommitVersion = 8;
constexpr int16_t kOffsetFetchVersion = 7;
constexpr int32_t kFetchMaxWaitMs = 500;

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

const char* kConsumeUsage =
    "usage: floe consume --bootstrap-server H:P --topic T [--partition N] [--offset beginning|end|N]\n"
    "                    [--max-messages N] [--timeout-ms MS] [--print-key] [--group G]\n";

int usage(const std::string& message) { return usage_error("consume", message, kConsumeUsage); }

void write_bytes(const std::optional<SharedBytes>& b) {
  if (!b) {
    std::fputs("null", stdout);
    return;
  }
  std::fwrite(b->data(), 1, b->size(), stdout);
}

}  // namespace

int run_consume_command(int argc, char** argv) {
  std::string bootstrap, topic, offset_text, group;
  int64_t partition = -1, max_messages = -1, timeout_ms = -1;
  bool print_key = false;
  ArgWalker w(argc, argv, 1);
  while (!w.done()) {
    w.next();
    if (w.take("--bootstrap-server", &bootstrap)) {
    } else if (w.take("--topic", &topic)) {
    } else if (w.take_int("--partition", 0, INT32_MAX, &partition)) {
    } else if (w.take("--offset", &offset_text)) {
    } else if (w.take_int("--max-messages", 1, INT64_MAX, &max_messages)) {
    } else if (w.take_int("--timeout-ms", 1, 86400000, &timeout_ms)) {
    } else if (w.take("--group", &group)) {
      if (w.error.empty() && group.empty()) w.error = "--group needs a non-empty group id";
    } else if (w.flag("--print-key")) {
      print_key = true;
    } else {
      w.unknown();
    }
  }
  if (!w.error.empty()) return usage(w.error);
  if (bootstrap.empty()) return usage("--bootstrap-server HOST:PORT is required");
  if (topic.empty()) return usage("--topic is required");
  int64_t start_offset = -1;  // ListOffsets timestamps: -2 beginning, -1 end; >= 0 an explicit offset
  if (offset_text == "beginning" || offset_text == "earliest") {
    start_offset = -2;
  } else if (offset_text.empty() || offset_text == "end" || offset_text == "latest") {
    start_offset = -1;
  } else {
    char* end = nullptr;
    long long v = std::strtoll(offset_text.c_str(), &end, 10);
    if (end != offset_text.c_str() + offset_text.size() || v < 0) {
      return usage("--offset must be beginning, end or an offset >= 0, got '" + offset_text + "'");
    }
    start_offset = v;
  }
  // Each network step: a fetch long-polls kFetchMaxWaitMs, so a short --timeout-ms bounds a
  // silent server too.
  const int64_t io_timeout_ms = timeout_ms > 0 ? std::min<int64_t>(timeout_ms + 5000, 30000) : 30000;

  Connections conns("floe-consume", io_timeout_ms);
  auto boot = conns.get(bootstrap);
  if (!boot.ok()) return std::fprintf(stderr, "floe consume: cannot reach %s: %s\n", bootstrap.c_str(), boot.error().message.c_str()), 1;
  auto view = wait_for_topic(**boot, topic, timeout_ms > 0 ? timeout_ms : 30000);
  if (!view.ok()) return std::fprintf(stderr, "floe consume: %s\n", view.error().message.c_str()), 1;
  const size_t partition_count = view->find(topic)->partitions.size();
  std::vector<int32_t> parts;
  for (const auto& p : view->find(topic)->partitions) {
    if (partition < 0 || p.index == partition) parts.push_back(p.index);
  }
  if (parts.empty()) {
    return std::fprintf(stderr, "floe consume: topic '%s' has %zu partitions, no partition %lld\n", topic.c_str(),
                        partition_count, static_cast<long long>(partition)), 1;
  }
  auto leader_of = [&](int32_t p) {
    const TopicView* t = view->find(topic);
    if (t == nullptr || static_cast<size_t>(p) >= t->partitions.size()) return std::string();
    return view->address(t->partitions[static_cast<size_t>(p)].leader);
  };

  std::map<int32_t, int64_t> position;
  // The group's coordinator, found again whenever it moves (wait: 30 s per request, as a
  // Kafka consumer's default.api.timeout.ms would allow a commit's retries).
  CoordinatorLink coordinator(conns, "consume", bootstrap, group, 30000);
  coordinator.learn_brokers(*view);
  if (!group.empty() && offset_text.empty()) {  // resume from the group's committed offsets
    protocol::OffsetFetchRequest req;
    req.group_id = group;
    req.topics = std::vector<protocol::OffsetFetchRequest::OffsetFetchRequestTopic>{{topic, parts, {}}};
    auto resp = coordinator.call<protocol::OffsetFetchResponse>(req, kOffsetFetchVersion, [](const auto& r) {
      return r.error_code;
    });
    if (!resp.ok()) return std::fprintf(stderr, "floe consume: OffsetFetch: %s\n", resp.error().message.c_str()), 1;
    if (resp->error_code != 0) {
      return std::fprintf(stderr, "floe consume: OffsetFetch: %s\n", kafka_error_name(resp->error_code).c_str()), 1;
    }
    for (const auto& t : resp->topics) {
      for (const auto& p : t.partitions) {
        if (p.error_code == 0 && p.committed_offset >= 0) position[p.partition_index] = p.committed_offset;
      }
    }
  }
  // Partitions without a position yet: ListOffsets (beginning/end) of their leaders, or the explicit offset.
  std::vector<OffsetQuery> lookups;
  for (int32_t p : parts) {
    if (position.count(p)) continue;
    if (start_offset >= 0) {
      position[p] = start_offset;
    } else {
      lookups.push_back({topic, p, start_offset});
    }
  }
  if (!lookups.empty()) {
    auto offsets = list_offsets(conns, *view, lookups);
    if (!offsets.ok()) return std::fprintf(stderr, "floe consume: ListOffsets: %s\n", offsets.error().message.c_str()), 1;
    for (const auto& [tp, answer] : *offsets) {
      if (answer.error_code != 0) {
        return std::fprintf(stderr, "floe consume: ListOffsets %s-%d: %s\n", topic.c_str(), tp.second,
                            kafka_error_name(answer.error_code).c_str()), 1;
      }
      position[tp.second] = answer.offset;
    }
  }

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::map<int32_t, int64_t> committed;
  auto commit = [&]() -> bool {
    if (group.empty()) return true;
    protocol::OffsetCommitRequest req;
    req.group_id = group;
    req.generation_id_or_member_epoch = -1;
    req.member_id = "";
    auto& t = req.topics.emplace_back();
    t.name = topic;
    for (auto& [p, off] : position) {
      auto it = committed.find(p);
      if (it != committed.end() && it->second == off) continue;
      auto& cp = t.partitions.emplace_back();
      cp.partition_index = p;
      cp.committed_offset = off;
      cp.committed_metadata = "";
    }
    if (t.partitions.empty()) return true;
    auto resp = coordinator.call<protocol::OffsetCommitResponse>(req, kOffsetCommitVersion, [](const auto& r) {
      for (const auto& rt : r.topics) {
        for (const auto& rp : rt.partitions) {
          if (is_coordinator_error(rp.error_code)) return rp.error_code;
        }
      }
      return int16_t{0};
    });
    if (!resp.ok()) return std::fprintf(stderr, "floe consume: OffsetCommit: %s\n", resp.error().message.c_str()), false;
    bool ok = true;
    for (const auto& rt : resp->topics) {
      for (const auto& rp : rt.partitions) {
        if (rp.error_code != 0) {
          std::fprintf(stderr, "floe consume: OffsetCommit %s-%d: %s\n", topic.c_str(), rp.partition_index,
                       kafka_error_name(rp.error_code).c_str());
          ok = false;
        } else {
          committed[rp.partition_index] = position[rp.partition_index];
        }
      }
    }
    return ok;
  };

  int64_t printed = 0;
  bool failed = false;
  auto last_record = Clock::now();
  records::ValidateOptions vo;
  vo.allow_partial_tail = true;
  // A leader move or a lost connection: ask Metadata again, up to kMaxRefreshes rounds in a row.
  constexpr int kMaxRefreshes = 20;
  int refreshes = 0;
  std::string refresh_reason;
  while (!g_stop && !failed && (max_messages < 0 || printed < max_messages)) {
    if (!refresh_reason.empty()) {
      if (++refreshes > kMaxRefreshes) {
        std::fprintf(stderr, "floe consume: %s (still after %d Metadata refreshes)\n", refresh_reason.c_str(), kMaxRefreshes);
        failed = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100 * refreshes));
      // Metadata from the bootstrap broker, else from any broker it named (it may be the one that went away).
      auto fresh = ask_brokers(
          conns, brokers_to_ask(bootstrap, *view), [&](KafkaConnection& c) { return wait_for_topic(c, topic, 30000); },
          [](const Error& e) {  // still leaderless after 30 s: the next round's turn
            return e.code == Errc::timeout ? AfterFailure::stop : AfterFailure::next_broker;
          });
      if (fresh.ok()) {
        view = std::move(fresh);
        coordinator.learn_brokers(*view);
      }
      refresh_reason.clear();
    }
    std::map<std::string, protocol::FetchRequest> fetches;
    for (int32_t p : parts) {
      auto& req = fetches[leader_of(p)];
      req.replica_id = -1;
      req.max_wait_ms = kFetchMaxWaitMs;
      req.min_bytes = 1;
      req.max_bytes = 16 << 20;
      if (req.topics.empty()) req.topics.resize(1);
      req.topics[0].topic = topic;
      protocol::FetchRequest::FetchPartition fp;
      fp.partition = p;
      fp.fetch_offset = position[p];
      fp.partition_max_bytes = 1 << 20;
      req.topics[0].partitions.push_back(fp);
    }
    for (auto& [address, req] : fetches) {
      if (g_stop || failed || (max_messages >= 0 && printed >= max_messages)) break;
      auto c = address.empty() ? Result<KafkaConnection*>(Error{Errc::not_found, "no leader"}) : conns.get(address);
      if (!c.ok()) {
        refresh_reason = "cannot reach " + (address.empty() ? std::string("a leader") : address) + ": " + c.error().message;
        continue;
      }
      auto resp = (*c)->call<protocol::FetchResponse>(req, kFetchVersion);
      if (!resp.ok()) {
        refresh_reason = address + ": " + resp.error().message;
        conns.drop(address);
        continue;
      }
      if (resp->error_code != 0) {
        std::fprintf(stderr, "floe consume: Fetch: %s\n", kafka_error_name(resp->error_code).c_str());
        failed = true;
        break;
      }
      for (const auto& t : resp->responses) {
        for (const auto& p : t.partitions) {
          if (p.error_code != 0) {
            std::string what = topic + "-" + std::to_string(p.partition_index) + ": " + kafka_error_name(p.error_code);
            switch (p.error_code) {
              case 3: case 5: case 6: case 56: case 74: case 76:  // the leader moved or is not ready
                refresh_reason = what;
                break;
              default:
                std::fprintf(stderr, "floe consume: %s\n", what.c_str());
                failed = true;
            }
            continue;
          }
          if (!p.records || p.records->empty()) continue;
          int64_t& pos = position[p.partition_index];
          records::BatchReader reader(*p.records, vo);
          while (max_messages < 0 || printed < max_messages) {
            auto next = reader.next();
            if (!next.ok()) {
              std::fprintf(stderr, "floe consume: %s-%d: bad batch: %s\n", topic.c_str(), p.partition_index,
                           next.error().message.c_str());
              failed = true;
              break;
            }
            if (!next->has_value()) break;
            const records::RecordBatchView& batch = **next;
            const auto& h = batch.header();
            if (h.next_offset() <= pos) continue;
            if (h.is_control()) {
              pos = h.next_offset();
              continue;
            }
            auto recs = records::decode_records(batch);
            if (!recs.ok()) {
              std::fprintf(stderr, "floe consume: %s-%d offset %lld: %s\n", topic.c_str(), p.partition_index,
                           static_cast<long long>(h.base_offset), recs.error().message.c_str());
              failed = true;
              break;
            }
            for (const auto& r : *recs) {
              int64_t off = r.offset(h);
              if (off < pos) continue;
              if (max_messages >= 0 && printed >= max_messages) break;
              if (print_key) {
                write_bytes(r.key);
                std::fputc('\t', stdout);
              }
              write_bytes(r.value);
              std::fputc('\n', stdout);
              ++printed;
              pos = off + 1;
              last_record = Clock::now();
            }
            if (max_messages < 0 || printed < max_messages) pos = std::max(pos, h.next_offset());
          }
        }
      }
    }
    std::fflush(stdout);
    if (refresh_reason.empty()) refreshes = 0;
    if (!commit()) failed = true;
    if (timeout_ms > 0 &&
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - last_record).count() >= timeout_ms) {
      break;
    }
  }
  std::fflush(stdout);
  if (!failed && !commit()) failed = true;
  std::fprintf(stderr, "floe consume: processed a total of %lld messages\n", static_cast<long long>(printed));
  return failed ? 1 : 0;
}

}  // namespace floe::admin
