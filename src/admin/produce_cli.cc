// `floe produce`: one record per stdin line, batched per partition, idempotent when acks=all (the
// default, as in modern Kafka clients). See client_cli.h.
// Invariants: at most kMaxInflight Produce requests are outstanding per broker connection, sent
// and answered in order, so per-partition sequence numbers reach the broker in order; a line
// longer than kMaxRecordBytes fails the run (exit 1) instead of growing memory without bound.
// Retries (idempotent only): a batch answered with a retriable error is resent unchanged (same
// producer id, epoch and sequence) after every connection is drained, one batch at a time in the
// order first sent, and no new batch is sent while any waits for a resend, so each partition's
// sequence numbers still reach its (new) leader in order and duplicates are dropped by the broker.
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "admin/client_cli.h"
#include "admin/kafka_tools.h"
#include "protocol/generated/init_producer_id_request.h"
#include "protocol/generated/init_producer_id_response.h"
#include "protocol/generated/produce_request.h"
#include "protocol/generated/produce_response.h"
#include "protocol/records/record.h"

namespace floe::admin {

namespace {
using Clock = std::chrono::steady_clock;
constexpr int16_t kProduceVersion = 8;
constexpr int16_t kInitProducerIdVersion = 4;
constexpr size_t kMaxRecordBytes = size_t{1} << 20;
constexpr size_t kBatchBytes = 64u << 10;
constexpr size_t kMaxInflight = 5;
constexpr int kLingerMs = 50;

const char* kProduceUsage =
    "usage: floe produce --bootstrap-server H:P --topic T [--partition N] [--key-separator S]\n"
    "                    [--acks 0|1|all] [--timeout-ms MS]\n";

int usage(const std::string& message) { return usage_error("produce", message, kProduceUsage); }

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Lines from a file descriptor; next() reports whether input is idle so pending batches can go.
class LineReader {
 public:
  enum class Got { line, idle, eof, too_long, error };
  explicit LineReader(int fd) : fd_(fd) {}
  Got next(std::string* line, int wait_ms) {
    while (true) {
      auto nl = buf_.find('\n', scanned_);
      if (nl != std::string::npos) {
        *line = buf_.substr(0, nl);
        if (!line->empty() && line->back() == '\r') line->pop_back();
        buf_.erase(0, nl + 1);
        scanned_ = 0;
        return Got::line;
      }
      scanned_ = buf_.size();
      if (buf_.size() > kMaxRecordBytes) return Got::too_long;
      if (eof_) {
        if (buf_.empty()) return Got::eof;
        *line = std::move(buf_);
        buf_.clear();
        scanned_ = 0;
        return Got::line;
      }
      pollfd p{fd_, POLLIN, 0};
      int ready = ::poll(&p, 1, wait_ms);
      if (ready == 0) return Got::idle;
      if (ready < 0) {
        if (errno == EINTR) continue;
        return Got::error;
      }
      char chunk[65536];
      ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return Got::error;
      }
      if (n == 0) eof_ = true;
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }

 private:
  int fd_;
  std::string buf_;
  size_t scanned_ = 0;
  bool eof_ = false;
};

struct Pending {
  std::vector<std::pair<std::optional<std::string>, std::string>> records;
  size_t bytes = 0;
};

struct SentBatch {
  int32_t partition = 0;
  int64_t records = 0;
  SharedBytes batch;  // kept until answered, to resend it unchanged (same sequence numbers)
};
struct Sent {
  std::vector<SentBatch> batches;
};

// Errors after which the same batch may be sent again (to the leader named by fresh Metadata).
bool retriable(int16_t code) {
  switch (code) {
    case 3: case 5: case 6: case 7: case 13: case 19: case 20: case 56: case 74: case 76:
      return true;
    default:
      return false;
  }
}
constexpr int kMaxAttempts = 10;
constexpr int16_t kOutOfOrderSequence = 45;
constexpr int16_t kDuplicateSequence = 46;

}  // namespace

int run_produce_command(int argc, char** argv) {
  std::string bootstrap, topic, key_separator, acks_text = "all";
  int64_t partition = -1, timeout_ms = 30000;
  ArgWalker w(argc, argv, 1);
  while (!w.done()) {
    w.next();
    if (w.take("--bootstrap-server", &bootstrap)) {
    } else if (w.take("--topic", &topic)) {
    } else if (w.take_int("--partition", 0, INT32_MAX, &partition)) {
    } else if (w.take("--key-separator", &key_separator)) {
      if (w.error.empty() && key_separator.empty()) w.error = "--key-separator needs a non-empty separator";
    } else if (w.take("--acks", &acks_text)) {
      if (w.error.empty() && acks_text != "0" && acks_text != "1" && acks_text != "all" && acks_text != "-1") {
        w.error = "--acks must be 0, 1 or all, got '" + acks_text + "'";
      }
    } else if (w.take_int("--timeout-ms", 100, 3600000, &timeout_ms)) {
    } else {
      w.unknown();
    }
  }
  if (!w.error.empty()) return usage(w.error);
  if (bootstrap.empty()) return usage("--bootstrap-server HOST:PORT is required");
  if (topic.empty()) return usage("--topic is required");
  const int16_t acks = acks_text == "0" ? 0 : acks_text == "1" ? 1 : -1;
  const bool idempotent = acks == -1;

  Connections conns("floe-produce", timeout_ms);
  auto boot = conns.get(bootstrap);
  if (!boot.ok()) return std::fprintf(stderr, "floe produce: cannot reach %s: %s\n", bootstrap.c_str(), boot.error().message.c_str()), 1;
  auto view = wait_for_topic(**boot, topic, timeout_ms, /*auto_create=*/true);
  if (!view.ok()) return std::fprintf(stderr, "floe produce: %s\n", view.error().message.c_str()), 1;
  const int32_t partitions = static_cast<int32_t>(view->find(topic)->partitions.size());
  auto leader_address = [&](int32_t p) {
    const TopicView* t = view->find(topic);
    if (t == nullptr || static_cast<size_t>(p) >= t->partitions.size()) return std::string();
    return view->address(t->partitions[static_cast<size_t>(p)].leader);
  };
  if (partition >= partitions) {
    return std::fprintf(stderr, "floe produce: topic '%s' has %d partitions, no partition %lld\n", topic.c_str(),
                        partitions, static_cast<long long>(partition)), 1;
  }

  int64_t producer_id = records::kNoProducerId;
  int16_t producer_epoch = records::kNoProducerEpoch;
  if (idempotent) {
    protocol::InitProducerIdRequest req;
    req.transactional_id = std::nullopt;
    req.transaction_timeout_ms = -1;
    auto resp = (*boot)->call<protocol::InitProducerIdResponse>(req, kInitProducerIdVersion);
    if (!resp.ok()) return std::fprintf(stderr, "floe produce: %s: %s\n", bootstrap.c_str(), resp.error().message.c_str()), 1;
    if (resp->error_code != 0) {
      return std::fprintf(stderr, "floe produce: InitProducerId: %s\n", kafka_error_name(resp->error_code).c_str()), 1;
    }
    producer_id = resp->producer_id;
    producer_epoch = resp->producer_epoch;
  }

  std::map<int32_t, Pending> pending;          // partition -> records not yet sent
  std::map<int32_t, int32_t> sequence;         // partition -> next base sequence
  std::map<std::string, std::deque<Sent>> inflight;  // leader address -> requests awaiting answers
  int64_t read = 0, acked = 0, failed = 0;
  int32_t sticky = 0;
  std::string first_error;
  std::vector<SentBatch> to_retry;  // answered with a retriable error, in the order sent
  auto note_error = [&](const std::string& e) {
    if (first_error.empty()) first_error = e;
  };

  // Receives the oldest answer from `address`. Batches answered with a retriable error (or out of
  // order behind one of their partition that was) go to to_retry; other errors fail their records.
  auto receive_one = [&](const std::string& address) -> bool {
    auto& q = inflight[address];
    Sent s = std::move(q.front());
    q.pop_front();
    auto c = conns.get(address);
    auto resp = c.ok() ? (*c)->receive<protocol::ProduceResponse>() : Result<protocol::ProduceResponse>(c.take_error());
    if (!resp.ok()) {
      // The connection is gone: its answers are lost, the batches may or may not be written;
      // idempotence makes resending them safe.
      note_error(address + ": " + resp.error().message);
      conns.drop(address);
      std::vector<SentBatch> lost = std::move(s.batches);
      while (!q.empty()) {
        for (auto& b : q.front().batches) lost.push_back(std::move(b));
        q.pop_front();
      }
      if (idempotent) {
        for (auto& b : lost) to_retry.push_back(std::move(b));
      }
      return true;
    }
    for (auto& b : s.batches) {
      int16_t code = -1;  // no answer for this partition: UNKNOWN_SERVER_ERROR
      std::optional<std::string> message;
      for (const auto& t : resp->responses) {
        for (const auto& pr : t.partition_responses) {
          if (pr.index == b.partition) {
            code = pr.error_code;
            message = pr.error_message;
          }
        }
      }
      bool behind_retry = std::any_of(to_retry.begin(), to_retry.end(), [&](const SentBatch& r) { return r.partition == b.partition; });
      if (code == 0 || code == kDuplicateSequence) {
        acked += b.records;
      } else if (idempotent && (retriable(code) || (code == kOutOfOrderSequence && behind_retry))) {
        note_error("partition " + std::to_string(b.partition) + ": " + kafka_error_text(code, message) + " (retried)");
        to_retry.push_back(std::move(b));
      } else {
        note_error("partition " + std::to_string(b.partition) + ": " + kafka_error_text(code, message));
      }
    }
    return true;
  };

  // Drains every connection, then resends the batches to_retry one at a time, in the order first
  // sent (so each partition's sequence numbers arrive in order), to the leaders of fresh Metadata.
  auto retry_failed = [&]() -> bool {
    for (auto& [address, q] : inflight) {
      while (!q.empty()) receive_one(address);
    }
    for (int attempt = 1; !to_retry.empty(); ++attempt) {
      if (attempt > kMaxAttempts) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt));
      auto b0 = conns.get(bootstrap);
      if (b0.ok()) {
        auto fresh = wait_for_topic(**b0, topic, timeout_ms, true);
        if (fresh.ok()) view = std::move(fresh);
      } else {
        conns.drop(bootstrap);
      }
      std::vector<SentBatch> batches = std::move(to_retry);
      to_retry.clear();
      for (auto& b : batches) {
        bool earlier_failed = std::any_of(to_retry.begin(), to_retry.end(), [&](const SentBatch& r) { return r.partition == b.partition; });
        if (earlier_failed) {  // keep the partition's order: it waits for the next attempt
          to_retry.push_back(std::move(b));
          continue;
        }
        std::string address = leader_address(b.partition);
        auto c = address.empty() ? Result<KafkaConnection*>(Error{Errc::not_found, "no leader"}) : conns.get(address);
        if (!c.ok()) {
          to_retry.push_back(std::move(b));
          continue;
        }
        protocol::ProduceRequest req;
        req.acks = acks;
        req.timeout_ms = static_cast<int32_t>(timeout_ms);
        req.topic_data.push_back({topic, {}, {}});
        req.topic_data[0].partition_data.push_back({b.partition, b.batch, {}});
        if (Status st = (*c)->send(req, kProduceVersion); !st.ok()) {
          conns.drop(address);
          to_retry.push_back(std::move(b));
          continue;
        }
        inflight[address].push_back(Sent{{std::move(b)}});
        receive_one(address);
      }
    }
    return true;
  };

  // Sends every pending batch (all of them when `all`, else only full ones), one request per leader.
  auto flush = [&](bool all) -> bool {
    if (!to_retry.empty() && !retry_failed()) return false;  // a partition's next batch waits for them
    std::map<std::string, protocol::ProduceRequest> requests;
    std::map<std::string, Sent> sent;
    for (auto& [p, batch] : pending) {
      if (batch.records.empty() || (!all && batch.bytes < kBatchBytes)) continue;
      records::BatchOptions options;
      options.producer_id = producer_id;
      options.producer_epoch = producer_epoch;
      options.base_sequence = idempotent ? sequence[p] : records::kNoSequence;
      records::RecordBatchBuilder builder(options);
      int64_t now = wall_ms();
      for (const auto& [key, value] : batch.records) {
        std::optional<std::span<const uint8_t>> k;
        if (key) k = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(key->data()), key->size());
        builder.append(now, k, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
      }
      auto built = builder.build();
      if (!built.ok()) {
        note_error(built.error().message);
        return false;
      }
      std::string address = leader_address(p);
      int64_t count = static_cast<int64_t>(batch.records.size());
      if (idempotent) sequence[p] += static_cast<int32_t>(count);
      auto& req = requests[address];
      req.acks = acks;
      req.timeout_ms = static_cast<int32_t>(timeout_ms);
      if (req.topic_data.empty()) req.topic_data.push_back({topic, {}, {}});
      SharedBytes bytes(std::move(*built));
      req.topic_data[0].partition_data.push_back({p, bytes, {}});
      sent[address].batches.push_back({p, count, std::move(bytes)});
      batch = Pending{};
    }
    for (auto& [address, req] : requests) {
      auto c = conns.get(address);
      if (!c.ok()) {
        note_error("cannot reach " + address + ": " + c.error().message);
        return false;
      }
      auto& q = inflight[address];
      while (q.size() >= kMaxInflight) {
        if (!receive_one(address)) return false;
      }
      if (Status s = (*c)->send(req, kProduceVersion); !s.ok()) {
        note_error(address + ": " + s.error().message);
        return false;
      }
      if (acks == 0) {
        (*c)->forget_last();
        for (auto& b : sent[address].batches) acked += b.records;
      } else {
        q.push_back(std::move(sent[address]));
      }
    }
    return true;
  };

  const auto start = Clock::now();
  LineReader reader(STDIN_FILENO);
  bool ok = true;
  // A record waits at most kLingerMs from when it was read (like linger.ms), also while input
  // keeps coming: `tail -f log | floe produce` sends as it goes, not only when stdin pauses.
  bool unsent = false;                 // records read and not yet handed to flush
  Clock::time_point oldest_unsent{};   // when the oldest of them was read
  auto send_lingered = [&] {
    unsent = false;
    return flush(true);
  };
  while (ok) {
    std::string line;
    int wait_ms = kLingerMs;
    if (unsent) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(oldest_unsent + std::chrono::milliseconds(kLingerMs) -
                                                                        Clock::now());
      wait_ms = static_cast<int>(std::max<int64_t>(0, left.count()));
    }
    auto got = reader.next(&line, wait_ms);
    if (got == LineReader::Got::idle) {
      ok = send_lingered();
      continue;
    }
    if (got == LineReader::Got::eof) break;
    if (got == LineReader::Got::too_long) {
      note_error("a line of stdin is longer than " + std::to_string(kMaxRecordBytes) + " bytes");
      ok = false;
      break;
    }
    if (got == LineReader::Got::error) {
      note_error(std::string("reading stdin: ") + std::strerror(errno));
      ok = false;
      break;
    }
    std::optional<std::string> key;
    if (!key_separator.empty()) {
      auto at = line.find(key_separator);
      if (at != std::string::npos) {
        key = line.substr(0, at);
        line.erase(0, at + key_separator.size());
      }
    }
    int32_t p = 0;
    if (partition >= 0) {
      p = static_cast<int32_t>(partition);
    } else if (key) {
      p = kafka_partition_for_key(*key, partitions);
    } else {
      p = sticky;
    }
    auto& batch = pending[p];
    batch.bytes += line.size() + (key ? key->size() : 0) + 16;
    batch.records.emplace_back(std::move(key), std::move(line));
    ++read;
    if (!unsent) {
      unsent = true;
      oldest_unsent = Clock::now();
    }
    if (batch.bytes >= kBatchBytes) {
      if (!key && partition < 0) sticky = (sticky + 1) % partitions;  // sticky partitioner: next batch elsewhere
      ok = flush(false);
    }
    if (ok && Clock::now() >= oldest_unsent + std::chrono::milliseconds(kLingerMs)) ok = send_lingered();
  }
  if (ok) ok = flush(true);
  if (!retry_failed()) ok = false;  // drains every connection, then resends what may be resent
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  failed = read - acked;
  std::fprintf(stderr, "floe produce: %lld records read, %lld acknowledged%s, %lld failed, topic %s, %.2f s%s%s\n",
               static_cast<long long>(read), static_cast<long long>(acked), acks == 0 ? " (acks=0: sent)" : "",
               static_cast<long long>(failed), topic.c_str(), seconds,
               first_error.empty() ? "" : failed == 0 && ok ? "; recovered from: " : "; first error: ",
               first_error.c_str());
  return ok && failed == 0 ? 0 : 1;
}

}  // namespace floe::admin
