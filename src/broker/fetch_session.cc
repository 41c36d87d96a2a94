#include "broker/fetch_session.h"

#include "broker/kafka_errors.h"

namespace floe::broker {

namespace {
std::vector<protocol::FetchRequest::FetchTopic> group_by_topic(
    const std::map<FetchSessionCache::Key, FetchSessionCache::Partition>& partitions) {
  std::vector<protocol::FetchRequest::FetchTopic> topics;
  for (const auto& [key, p] : partitions) {
    if (topics.empty() || topics.back().topic != key.first) {
      topics.emplace_back();
      topics.back().topic = key.first;
    }
    protocol::FetchRequest::FetchPartition fp;
    fp.partition = key.second;
    fp.fetch_offset = p.fetch_offset;
    fp.partition_max_bytes = p.partition_max_bytes;
    fp.current_leader_epoch = p.current_leader_epoch;
    topics.back().partitions.push_back(std::move(fp));
  }
  return topics;
}

void apply_partitions(const protocol::FetchRequest& request, std::map<FetchSessionCache::Key, FetchSessionCache::Partition>& out) {
  for (const auto& t : request.topics) {
    for (const auto& p : t.partitions) {
      auto& slot = out[{t.topic, p.partition}];
      slot.fetch_offset = p.fetch_offset;
      slot.partition_max_bytes = p.partition_max_bytes;
      slot.current_leader_epoch = p.current_leader_epoch;
    }
  }
}

size_t count_partitions(const protocol::FetchRequest& request) {
  size_t n = 0;
  for (const auto& t : request.topics) n += t.partitions.size();
  return n;
}
}  // namespace

FetchSessionCache::FetchSessionCache(FetchSessionOptions options) : options_(options), rng_(std::random_device{}()) {}

size_t FetchSessionCache::size() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

void FetchSessionCache::evict_idle_locked(int64_t now_ms) {
  std::erase_if(sessions_, [&](const auto& entry) { return now_ms - entry.second->last_used_ms > options_.idle_timeout_ms; });
}

std::shared_ptr<FetchSessionCache::Session> FetchSessionCache::create_locked(const protocol::FetchRequest& request,
                                                                             int64_t now_ms) {
  if (options_.max_sessions == 0 || count_partitions(request) > options_.max_partitions_per_session) return nullptr;
  evict_idle_locked(now_ms);
  if (sessions_.size() >= options_.max_sessions) {
    auto lru = sessions_.begin();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      if (it->second->last_used_ms < lru->second->last_used_ms) lru = it;
    }
    sessions_.erase(lru);
  }
  auto s = std::make_shared<Session>();
  std::uniform_int_distribution<int32_t> any_id(1, INT32_MAX);
  do {
    s->id = any_id(rng_);
  } while (sessions_.count(s->id) != 0);
  s->last_used_ms = now_ms;
  apply_partitions(request, s->partitions);
  sessions_[s->id] = s;
  return s;
}

FetchSessionCache::Resolved FetchSessionCache::resolve(const protocol::FetchRequest& request, int64_t now_ms) {
  Resolved out;
  const int32_t id = request.session_id;
  const int32_t epoch = request.session_epoch;
  std::lock_guard lock(mu_);
  if (id != 0 && epoch <= 0) sessions_.erase(id);  // closing (-1) or restarting (0) a session
  if (epoch == -1 || (id == 0 && epoch > 0)) {
    if (id == 0 && epoch > 0) {
      out.error_code = kerr::kInvalidFetchSessionEpoch;
      return out;
    }
    out.topics = request.topics;  // a full fetch without a session
    return out;
  }
  if (epoch == 0) {
    out.session = create_locked(request, now_ms);
    out.topics = request.topics;
    if (out.session) out.response_session_id = out.session->id;
    return out;
  }
  evict_idle_locked(now_ms);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) {
    out.error_code = kerr::kFetchSessionIdNotFound;
    return out;
  }
  auto session = it->second;
  std::lock_guard session_lock(session->mu);
  if (epoch != session->next_epoch) {
    out.error_code = kerr::kInvalidFetchSessionEpoch;
    return out;
  }
  session->next_epoch = session->next_epoch == INT32_MAX ? 1 : session->next_epoch + 1;
  session->last_used_ms = now_ms;
  apply_partitions(request, session->partitions);
  for (const auto& f : request.forgotten_topics_data) {
    for (int32_t p : f.partitions) session->partitions.erase({f.topic, p});
  }
  if (session->partitions.size() > options_.max_partitions_per_session) {
    sessions_.erase(id);
    out.error_code = kerr::kFetchSessionIdNotFound;  // the client starts over with a full fetch
    return out;
  }
  out.session = session;
  out.incremental = true;
  out.response_session_id = session->id;
  out.topics = group_by_topic(session->partitions);
  return out;
}

bool FetchSessionCache::report(Session& session, bool incremental, const Key& key, bool has_records,
                               int16_t error_code, int64_t high_watermark, int64_t log_start_offset) {
  std::lock_guard lock(session.mu);
  auto it = session.partitions.find(key);
  if (it == session.partitions.end()) return true;
  Partition& p = it->second;
  bool news = has_records || error_code != 0 || p.last_high_watermark != high_watermark ||
              p.last_log_start_offset != log_start_offset;
  p.last_high_watermark = high_watermark;
  p.last_log_start_offset = log_start_offset;
  return !incremental || news;
}

}  // namespace floe::broker
