// FetchSessionCache: incremental fetch sessions (KIP-227). A consumer that opens a session sends
// its partition list once; later fetches name only partitions whose fetch position changed (and
// the ones to forget), and the answer carries only partitions with news (records, an error, or a
// moved high watermark / log start offset).
//
// Protocol (FetchRequest v7+, session_id / session_epoch):
//   id 0, epoch -1: a full fetch, no session.          id 0, epoch 0: full fetch, new session.
//   id N, epoch -1: close N, then a full sessionless fetch.
//   id N, epoch 0: close N, open a new session.        id N, epoch E>0: incremental on N; E must be
//   the session's next epoch (INVALID_FETCH_SESSION_EPOCH), N must exist (FETCH_SESSION_ID_NOT_FOUND).
// A new session's id is answered in the response; the client's next epoch is 1, then +1 each time.
//
// Invariants: (1) at most max_sessions sessions; creating one more evicts the least recently used;
// sessions idle longer than idle_timeout_ms are evicted too. (2) at most max_partitions_per_session
// partitions in a session (more: the fetch is served without a session).
// Thread safety: all methods are thread-safe; a session is used by one request at a time (clients
// never pipeline fetches on a session), guarded by its own mutex all the same.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "protocol/generated/fetch_request.h"

namespace floe::broker {

struct FetchSessionOptions {
  size_t max_sessions = 1000;  // max.incremental.fetch.session.cache.slots
  size_t max_partitions_per_session = 10000;
  int64_t idle_timeout_ms = 120000;
};

class FetchSessionCache {
 public:
  struct Partition {
    int64_t fetch_offset = 0;
    int32_t partition_max_bytes = 0;
    int32_t current_leader_epoch = -1;
    int64_t last_high_watermark = -1;  // as last sent to the client
    int64_t last_log_start_offset = -1;
  };
  using Key = std::pair<std::string, int32_t>;  // topic, partition
  struct Session {
    std::mutex mu;
    int32_t id = 0;
    int32_t next_epoch = 1;
    int64_t last_used_ms = 0;
    std::map<Key, Partition> partitions;
  };
  struct Resolved {
    int16_t error_code = 0;          // non-zero: answer with only this top-level error
    int32_t response_session_id = 0;
    bool incremental = false;        // answer only partitions with news
    std::shared_ptr<Session> session;  // null for sessionless fetches
    // The partitions to read, grouped by topic (the whole session for incremental fetches).
    std::vector<protocol::FetchRequest::FetchTopic> topics;
  };

  explicit FetchSessionCache(FetchSessionOptions options = {});

  Resolved resolve(const protocol::FetchRequest& request, int64_t now_ms);
  // For an answer on a session: whether a partition goes into the response (always for a
  // session's first, full answer), recording what was sent.
  static bool report(Session& session, bool incremental, const Key& key, bool has_records, int16_t error_code,
                     int64_t high_watermark, int64_t log_start_offset);
  size_t size() const;

 private:
  std::shared_ptr<Session> create_locked(const protocol::FetchRequest& request, int64_t now_ms);
  void evict_idle_locked(int64_t now_ms);

  FetchSessionOptions options_;
  mutable std::mutex mu_;
  std::map<int32_t, std::shared_ptr<Session>> sessions_;
  std::mt19937 rng_;  // session ids are random (as Kafka's): a stale id from before a restart
                      // must not name another client's new session
};

}  // namespace floe::broker
