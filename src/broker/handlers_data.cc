// Data APIs: Produce, Fetch (with long-polling), ListOffsets, OffsetForLeaderEpoch,
// DeleteRecords, InitProducerId.
#include <algorithm>

#include "broker/broker.h"
#include "broker/call.h"
#include "broker/fetch_session.h"
#include "protocol/messages.h"

namespace floe::broker {

namespace {
struct Counter {
  explicit Counter(size_t n, std::function<void()> done) : remaining(n), done(std::move(done)) {}
  void one_done() {
    if (remaining.fetch_sub(1) == 1) done();
  }
  std::atomic<size_t> remaining;
  std::function<void()> done;
};

// Checks a client's view of the leader epoch against ours (KIP-320).
int16_t check_leader_epoch(int32_t client_epoch, int32_t ours) {
  if (client_epoch < 0 || client_epoch == ours) return kerr::kNone;
  return client_epoch < ours ? kerr::kFencedLeaderEpoch : kerr::kUnknownLeaderEpoch;
}
}  // namespace

// ---- Produce ----

void Broker::handle_produce(std::shared_ptr<Call> call) {
  ++produce_requests_;
  auto req = decode_request<protocol::ProduceRequest>(*call);
  if (!req) return;
  auto resp = std::make_shared<protocol::ProduceResponse>();
  const int16_t acks = req->acks;
  size_t total = 0;
  for (const auto& t : req->topic_data) total += t.partition_data.size();
  auto counter = std::make_shared<Counter>(total + 1, [call, resp, acks] {
    if (acks == 0) return call->no_response();
    call->reply(*resp);
  });
  resp->responses.resize(req->topic_data.size());
  bool transactional = req->transactional_id.has_value();
  for (size_t ti = 0; ti < req->topic_data.size(); ++ti) {
    auto& t = req->topic_data[ti];
    auto& tout = resp->responses[ti];
    tout.name = t.name;
    tout.partition_responses.resize(t.partition_data.size());
    for (size_t pi = 0; pi < t.partition_data.size(); ++pi) {
      auto& pd = t.partition_data[pi];
      auto* out = &tout.partition_responses[pi];
      out->index = pd.index;
      out->base_offset = -1;
      auto fail = [&](int16_t code, const char* message) {
        out->error_code = code;
        out->error_message = message;
        counter->one_done();
      };
      if (acks != 0 && acks != 1 && acks != -1) {
        fail(kerr::kInvalidRequiredAcks, "acks must be -1, 0 or 1");
        continue;
      }
      if (draining_) {
        fail(kerr::kNotLeaderOrFollower, "the broker is shutting down");
        continue;
      }
      if (!controller_.writes_allowed()) {
        // Lease lost: the controller may already have moved this partition elsewhere.
        fail(kerr::kNotLeaderOrFollower, "the broker lost contact with the controller quorum");
        continue;
      }
      if (transactional) {
        fail(kerr::kTransactionalIdAuthorizationFailed, "transactions are not supported by floe yet");
        continue;
      }
      auto found = lookup(t.name, pd.index);
      if (!found.partition) {
        fail(found.error_code, "partition not available here");
        continue;
      }
      auto partition = found.partition;
      partition->produce(pd.records.value_or(SharedBytes()),
                         [this, out, counter, partition, resp](log::ProduceResult r) {
                           out->error_code = r.error_code;
                           out->base_offset = r.base_offset;
                           out->log_append_time_ms = r.log_append_time_ms;
                           out->log_start_offset = r.log_start_offset;
                           if (!r.error_message.empty()) out->error_message = r.error_message;
                           if (r.error_code == kerr::kNone) wake_fetchers(partition.get());
                           counter->one_done();
                         });
    }
  }
  counter->one_done();
}

// ---- Fetch ----

struct Broker::FetchWaiter {
  std::atomic<bool> fired{false};
  std::function<void()> wake;  // runs at most once
  std::unique_ptr<asio::steady_timer> timer;  // touched only on timer_io_
};

void Broker::wake_fetchers(const log::Partition* partition) {
  std::vector<std::shared_ptr<FetchWaiter>> ready;
  {
    std::lock_guard lock(mu_);
    auto it = waiters_.find(partition);
    if (it == waiters_.end()) return;
    for (auto& w : it->second) {
      if (auto s = w.lock()) ready.push_back(std::move(s));
    }
    waiters_.erase(it);
  }
  for (auto& w : ready) {
    if (w->fired.exchange(true)) continue;
    if (stopped_) {
      w->wake();  // the timer thread may be gone: answer here
      continue;
    }
    asio::post(timer_io_, [w] {
      if (w->timer) w->timer->cancel();
      w->wake();
    });
  }
}

// Ownership: waiters_ holds weak pointers; the waiter lives in the posted closure and then in
// its timer's handler, so it dies when it fires or its timer is cancelled.
void Broker::add_fetch_waiter(const std::shared_ptr<FetchWaiter>& waiter,
                              const std::vector<const log::Partition*>& partitions, int64_t wait_ms) {
  {
    std::lock_guard lock(mu_);
    for (const auto* p : partitions) {
      auto& list = waiters_[p];
      std::erase_if(list, [](const std::weak_ptr<FetchWaiter>& w) { return w.expired(); });
      list.push_back(waiter);
    }
  }
  asio::post(timer_io_, [this, waiter, wait_ms] {
    if (waiter->fired) return;
    waiter->timer = std::make_unique<asio::steady_timer>(timer_io_, std::chrono::milliseconds(wait_ms));
    waiter->timer->async_wait([waiter](const asio::error_code&) {
      // Cancelled (woken by a produce: the wake already ran) or expired.
      if (!waiter->fired.exchange(true)) waiter->wake();
    });
  });
}

// One Fetch request: read every partition; answer when there is enough data (min_bytes), an
// error, or the deadline passed; otherwise wait for a produce to one of its partitions and read
// again. Each read is a fresh attempt (nothing is held between attempts but the request).
class FetchOp : public std::enable_shared_from_this<FetchOp> {
 public:
  FetchOp(Broker* broker, std::shared_ptr<Broker::Call> call, protocol::FetchRequest request, int64_t deadline_ms,
          FetchSessionCache::Resolved session)
      : broker_(broker), call_(std::move(call)), request_(std::move(request)), deadline_ms_(deadline_ms),
        session_(std::move(session)) {}
  void run();

 private:
  friend class Broker;
  void finish();

  Broker* broker_;
  std::shared_ptr<Broker::Call> call_;
  protocol::FetchRequest request_;
  int64_t deadline_ms_;
  FetchSessionCache::Resolved session_;  // request_.topics are the session's partitions
  // Per attempt, one slot per requested partition in request order.
  std::vector<log::FetchedData> results_;
  std::vector<std::shared_ptr<log::Partition>> owners_;
  std::unique_ptr<Counter> counter_;
};

void Broker::handle_fetch(std::shared_ptr<Call> call) {
  ++fetch_requests_;
  auto req = decode_request<protocol::FetchRequest>(*call);
  if (!req) return;
  const int16_t v = call->version();
  // Fetch sessions (KIP-227, v7+): see fetch_session.h.
  // v13+ names topics by id (KIP-516): resolve them to names here; an unknown id keeps an empty
  // name and is answered UNKNOWN_TOPIC_ID.
  if (v >= 13) {
    auto image = controller_.image();
    auto name_of = [&](const Uuid& id) -> std::string {
      const auto* t = image->topic(id);
      return t == nullptr || hidden_topic(t->name) ? std::string() : t->name;
    };
    for (auto& t : req->topics) t.topic = name_of(t.topic_id);
    for (auto& f : req->forgotten_topics_data) f.topic = name_of(f.topic_id);
  }
  FetchSessionCache::Resolved session;
  if (v >= 7) {
    session = fetch_sessions_.resolve(*req, now_ms());
    if (session.error_code != kerr::kNone) {
      protocol::FetchResponse resp;
      resp.error_code = session.error_code;
      return call->reply(resp);
    }
    req->topics = session.topics;
  }
  int64_t deadline = now_ms() + std::max<int32_t>(0, req->max_wait_ms);
  auto op = std::make_shared<FetchOp>(this, std::move(call), std::move(*req), deadline, std::move(session));
  op->run();
}

void FetchOp::run() {
  size_t total = 0;
  for (const auto& t : request_.topics) total += t.partitions.size();
  results_.assign(total, log::FetchedData{});
  owners_.assign(total, nullptr);
  auto self = shared_from_this();
  counter_ = std::make_unique<Counter>(total + 1, [self] { self->finish(); });
  size_t k = 0;
  bool first = true;
  for (const auto& t : request_.topics) {
    for (const auto& p : t.partitions) {
      size_t slot = k++;
      if (t.topic.empty() && call_->version() >= 13) {
        results_[slot].error_code = kerr::kUnknownTopicId;
        counter_->one_done();
        continue;
      }
      auto found = broker_->lookup(t.topic, p.partition);
      if (!found.partition) {
        results_[slot].error_code = found.error_code;
        counter_->one_done();
        continue;
      }
      if (int16_t e = check_leader_epoch(p.current_leader_epoch, found.partition->leader_epoch()); e != kerr::kNone) {
        results_[slot].error_code = e;
        results_[slot].high_watermark = found.partition->high_watermark();
        counter_->one_done();
        continue;
      }
      owners_[slot] = found.partition;
      uint64_t max = static_cast<uint64_t>(std::max<int32_t>(0, p.partition_max_bytes));
      found.partition->fetch(p.fetch_offset, max, first, [self, slot](log::FetchedData data) {
        self->results_[slot] = std::move(data);
        self->counter_->one_done();
      });
      first = false;
    }
  }
  counter_->one_done();
}

void FetchOp::finish() {
  const auto& r = request_;
  protocol::FetchResponse resp;
  resp.responses.resize(r.topics.size());
  // Assemble in request order within the response's max_bytes (the first non-empty partition
  // always fits: KIP-74).
  const uint64_t max_response = static_cast<uint64_t>(std::max<int32_t>(0, r.max_bytes));
  uint64_t response_bytes = 0;
  bool any_error = false;
  std::vector<std::pair<const log::Partition*, int64_t>> watched;  // partition, high watermark seen
  size_t k = 0;
  for (size_t ti = 0; ti < r.topics.size(); ++ti) {
    auto& tout = resp.responses[ti];
    tout.topic = r.topics[ti].topic;
    tout.topic_id = r.topics[ti].topic_id;
    if (tout.topic_id.is_zero() && call_->version() >= 13) {  // a session's partitions carry names only
      if (const auto* t = broker_->controller_.image()->topic(tout.topic)) tout.topic_id = t->id;
    }
    for (size_t pi = 0; pi < r.topics[ti].partitions.size(); ++pi, ++k) {
      auto& d = results_[k];
      protocol::FetchResponse::PartitionData out;
      out.partition_index = r.topics[ti].partitions[pi].partition;
      out.error_code = d.error_code;
      out.high_watermark = d.high_watermark;
      out.last_stable_offset = d.high_watermark;
      out.log_start_offset = d.log_start_offset;
      if (d.error_code != kerr::kNone) any_error = true;
      if (owners_[k]) watched.push_back({owners_[k].get(), d.high_watermark});
      if (!d.batches.empty() && (response_bytes == 0 || response_bytes + d.bytes <= max_response)) {
        Bytes joined;
        joined.reserve(d.bytes);
        for (const auto& b : d.batches) joined.insert(joined.end(), b.data(), b.data() + b.size());
        response_bytes += joined.size();
        out.records = SharedBytes(std::move(joined));
      } else {
        out.records = SharedBytes();
      }
      tout.partitions.push_back(std::move(out));
    }
  }
  int64_t now = broker_->now_ms();
  bool enough = response_bytes >= static_cast<uint64_t>(std::max<int32_t>(1, r.min_bytes));
  if (enough || any_error || now >= deadline_ms_ || broker_->stopped_ || broker_->draining_ || watched.empty()) {
    resp.session_id = session_.response_session_id;
    if (session_.session) {
      // Only partitions with news go into an incremental answer; a session's first answer is full.
      for (auto& tout : resp.responses) {
        std::erase_if(tout.partitions, [&](const protocol::FetchResponse::PartitionData& pd) {
          bool has_records = pd.records.has_value() && !pd.records->empty();
          return !FetchSessionCache::report(*session_.session, session_.incremental, {tout.topic, pd.partition_index},
                                            has_records, pd.error_code, pd.high_watermark, pd.log_start_offset);
        });
      }
      std::erase_if(resp.responses, [](const auto& t) { return t.partitions.empty(); });
    }
    call_->reply(resp);
    return;
  }
  // Wait for a produce to any of these partitions, or the deadline; then read again.
  auto waiter = std::make_shared<Broker::FetchWaiter>();
  waiter->wake = [self = shared_from_this()] { self->run(); };
  std::vector<const log::Partition*> partitions;
  for (auto& [p, hwm] : watched) partitions.push_back(p);
  broker_->add_fetch_waiter(waiter, partitions, deadline_ms_ - now);
  // Data that arrived between the reads and the registration must not wait for the timer.
  for (auto& [p, hwm] : watched) {
    if (p->high_watermark() != hwm) {
      broker_->wake_fetchers(p);
      break;
    }
  }
}

// ---- ListOffsets ----

void Broker::handle_list_offsets(std::shared_ptr<Call> call) {
  auto req = decode_request<protocol::ListOffsetsRequest>(*call);
  if (!req) return;
  auto resp = std::make_shared<protocol::ListOffsetsResponse>();
  size_t total = 0;
  for (const auto& t : req->topics) total += t.partitions.size();
  auto counter = std::make_shared<Counter>(total + 1, [call, resp] { call->reply(*resp); });
  resp->topics.resize(req->topics.size());
  for (size_t ti = 0; ti < req->topics.size(); ++ti) {
    const auto& t = req->topics[ti];
    auto& tout = resp->topics[ti];
    tout.name = t.name;
    tout.partitions.resize(t.partitions.size());
    for (size_t pi = 0; pi < t.partitions.size(); ++pi) {
      const auto& p = t.partitions[pi];
      auto* out = &tout.partitions[pi];
      out->partition_index = p.partition_index;
      auto found = lookup(t.name, p.partition_index);
      if (!found.partition) {
        out->error_code = found.error_code;
      } else if (int16_t e = check_leader_epoch(p.current_leader_epoch, found.partition->leader_epoch()); e != kerr::kNone) {
        out->error_code = e;
      } else {
        int32_t epoch = found.partition->leader_epoch();
        found.partition->list_offset_exact(p.timestamp, [out, counter, epoch](log::OffsetAndTimestamp r) {
          out->error_code = r.error_code;
          out->offset = r.offset;
          out->timestamp = r.timestamp_ms;
          out->leader_epoch = epoch;
          counter->one_done();
        });
        continue;
      }
      counter->one_done();
    }
  }
  counter->one_done();
}

// ---- OffsetForLeaderEpoch ----

void Broker::handle_offset_for_leader_epoch(std::shared_ptr<Call> call) {
  auto req = decode_request<protocol::OffsetForLeaderEpochRequest>(*call);
  if (!req) return;
  protocol::OffsetForLeaderEpochResponse resp;
  for (const auto& t : req->topics) {
    protocol::OffsetForLeaderEpochResponse::OffsetForLeaderTopicResult tout;
    tout.topic = t.topic;
    for (const auto& p : t.partitions) {
      protocol::OffsetForLeaderEpochResponse::EpochEndOffset out;
      out.partition = p.partition;
      auto found = lookup(t.topic, p.partition);
      if (!found.partition) {
        out.error_code = found.error_code;
      } else if (int16_t e = check_leader_epoch(p.current_leader_epoch, found.partition->leader_epoch()); e != kerr::kNone) {
        out.error_code = e;
      } else {
        auto [epoch, end] = found.partition->end_offset_for_epoch(p.leader_epoch);
        out.leader_epoch = epoch;
        out.end_offset = end;
      }
      tout.partitions.push_back(std::move(out));
    }
    resp.topics.push_back(std::move(tout));
  }
  call->reply(resp);
}

// ---- DeleteRecords ----

void Broker::handle_delete_records(std::shared_ptr<Call> call) {
  auto req = decode_request<protocol::DeleteRecordsRequest>(*call);
  if (!req) return;
  auto resp = std::make_shared<protocol::DeleteRecordsResponse>();
  size_t total = 0;
  for (const auto& t : req->topics) total += t.partitions.size();
  auto counter = std::make_shared<Counter>(total + 1, [call, resp] { call->reply(*resp); });
  resp->topics.resize(req->topics.size());
  for (size_t ti = 0; ti < req->topics.size(); ++ti) {
    const auto& t = req->topics[ti];
    auto& tout = resp->topics[ti];
    tout.name = t.name;
    tout.partitions.resize(t.partitions.size());
    for (size_t pi = 0; pi < t.partitions.size(); ++pi) {
      auto* out = &tout.partitions[pi];
      out->partition_index = t.partitions[pi].partition_index;
      out->low_watermark = -1;
      auto found = lookup(t.name, out->partition_index);
      if (!found.partition) {
        out->error_code = found.error_code;
        counter->one_done();
        continue;
      }
      found.partition->delete_records(t.partitions[pi].offset, [out, counter](int16_t code, int64_t low) {
        out->error_code = code;
        out->low_watermark = low;
        counter->one_done();
      });
    }
  }
  counter->one_done();
}

// ---- InitProducerId ----

void Broker::next_producer_id(std::function<void(int16_t, int64_t)> done) {
  {
    std::lock_guard lock(mu_);
    if (next_producer_id_ < producer_id_block_end_) {
      int64_t id = next_producer_id_++;
      done(kerr::kNone, id);
      return;
    }
    producer_id_waiters_.push_back(std::move(done));
    if (producer_id_request_in_flight_) return;
    producer_id_request_in_flight_ = true;
  }
  controller_.allocate_producer_ids(options_.node_id, [this](Result<metadata::ProducerIdBlock> r) {
    std::vector<std::function<void(int16_t, int64_t)>> waiters;
    std::vector<std::pair<int16_t, int64_t>> answers;
    {
      std::lock_guard lock(mu_);
      producer_id_request_in_flight_ = false;
      waiters.swap(producer_id_waiters_);
      if (r.ok()) {
        next_producer_id_ = r->first_id;
        producer_id_block_end_ = r->first_id + r->size;
      }
      for (size_t i = 0; i < waiters.size(); ++i) {
        if (r.ok() && next_producer_id_ < producer_id_block_end_) {
          answers.push_back({kerr::kNone, next_producer_id_++});
        } else {
          answers.push_back({kerr::kCoordinatorNotAvailable, -1});  // retriable for clients
        }
      }
    }
    for (size_t i = 0; i < waiters.size(); ++i) waiters[i](answers[i].first, answers[i].second);
  });
}

void Broker::handle_init_producer_id(std::shared_ptr<Call> call) {
  auto req = decode_request<protocol::InitProducerIdRequest>(*call);
  if (!req) return;
  protocol::InitProducerIdResponse resp;
  if (req->transactional_id.has_value() && !req->transactional_id->empty()) {
    resp.error_code = kerr::kTransactionalIdAuthorizationFailed;
    return call->reply(resp);
  }
  // KIP-360: an idempotent producer may ask to bump its epoch (after UNKNOWN_PRODUCER_ID or a
  // sequence problem). Same id, epoch + 1; a new id once the epoch would overflow.
  if (req->producer_id >= 0 && req->producer_epoch >= 0 && req->producer_epoch < INT16_MAX - 1) {
    resp.producer_id = req->producer_id;
    resp.producer_epoch = static_cast<int16_t>(req->producer_epoch + 1);
    return call->reply(resp);
  }
  next_producer_id([call](int16_t code, int64_t id) {
    protocol::InitProducerIdResponse out;
    out.error_code = code;
    out.producer_id = id;
    out.producer_epoch = code == kerr::kNone ? 0 : -1;
    call->reply(out);
  });
}

}  // namespace floe::broker
