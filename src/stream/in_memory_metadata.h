// InMemoryStreamMetadata: a StreamMetadata in one process's memory — FOR TESTS AND BENCHMARKS
// ONLY. It is not replicated and not durable; the broker uses the controller's implementation.
//
// It enforces the contract of metadata.h (epoch fencing, contiguous data commits, idempotent
// commits by object id, prepared-object deadlines) so that stream-layer tests exercise the same
// rules the controller applies. Every call completes inline, on the calling thread.
// Thread safety: all methods are thread-safe (one mutex).
#pragma once

#include <map>
#include <mutex>

#include "stream/metadata.h"

namespace floe::stream {

class InMemoryStreamMetadata final : public StreamMetadata {
 public:
  // now_ms: the clock for prepared-object deadlines and destroy times (tests pass a fake one).
  explicit InMemoryStreamMetadata(std::function<int64_t()> now_ms = {});

  void create_stream(MetaCallback<StreamInfo> done) override;
  void open_stream(StreamId id, NodeId node, MetaCallback<StreamInfo> done) override;
  void close_stream(StreamId id, StreamEpoch epoch, MetaCallback<Done> done) override;
  void describe_stream(StreamId id, MetaCallback<StreamInfo> done) override;
  void trim_stream(StreamId id, StreamEpoch epoch, Offset new_start, MetaCallback<Done> done) override;
  void prepare_objects(uint32_t count, int64_t ttl_ms, MetaCallback<ObjectId> done) override;
  void commit_stream_set_object(StreamSetObjectCommit commit, MetaCallback<Done> done) override;
  void commit_stream_object(StreamObjectCommit commit, MetaCallback<Done> done) override;
  void list_objects(StreamId id, Offset start, Offset end, uint32_t limit,
                    MetaCallback<std::vector<ObjectSlice>> done) override;
  void list_stream_set_objects(NodeId node, uint32_t limit, MetaCallback<std::vector<ObjectMeta>> done) override;
  void list_destroyed_objects(int64_t before_ms, uint32_t limit, MetaCallback<std::vector<ObjectMeta>> done) override;
  void erase_objects(std::vector<ObjectId> ids, MetaCallback<Done> done) override;

  // Test helpers.
  std::vector<ObjectMeta> all_objects() const;
  std::optional<ObjectMeta> object(ObjectId id) const;
  // While set, describe_stream answers this error (a metadata layer that cannot answer now).
  void fail_describe_stream(std::optional<Error> error);

 private:
  int64_t now() const;
  void expire_prepared_locked();
  Status check_compacted_locked(const std::vector<ObjectId>& ids) const;
  void destroy_locked(ObjectId id);
  void destroy_trimmed_locked();
  Status validate_data_commit_locked(const std::vector<StreamRange>& ranges) const;

  std::function<int64_t()> now_ms_;
  mutable std::mutex mu_;
  uint64_t next_stream_id_ = 1;
  uint64_t next_object_id_ = 1;
  std::map<StreamId, StreamInfo> streams_;
  std::map<ObjectId, ObjectMeta> objects_;
  std::map<ObjectId, int64_t> prepared_deadline_ms_;
  std::optional<Error> describe_error_;  // guarded by mu_
};

}  // namespace floe::stream
