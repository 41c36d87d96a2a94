// StreamMetadata: what the stream layer needs from the metadata layer (DESIGN.md: stream and
// object metadata live in the controller's replicated state machine).
//
// The real implementation is the controller's (Raft metadata issue). InMemoryStreamMetadata
// (in_memory_metadata.h) is for this layer's unit tests and benchmarks only.
//
// Model:
//  - A stream has an epoch, a start offset (trim point) and an end offset (the end of the data
//    committed to objects). open_stream bumps the epoch: the new owner fences every older one.
//  - An object is prepared (id reserved, with a deadline), then committed, then marked destroyed
//    (replaced by compaction, or wholly below its streams' start offsets), then erased once GC has
//    deleted it from the object store. Prepared objects never committed before their deadline are
//    marked destroyed too (an upload that crashed between PUT and commit).
//  - A stream-set object holds ranges of many streams (one node's upload); a stream object holds
//    one contiguous range of one stream.
//
// Errors: Errc::fenced when a commit, trim or close carries an epoch that is not the stream's
// current one; Errc::not_found for unknown streams or objects; Errc::invalid_value for a data
// commit whose range does not start at the stream's end offset. Exception: a data commit's ranges
// of streams that no longer exist (deleted while their data waited for upload) are dropped and
// the rest commits, so one deleted topic cannot stall every later upload; an object left with
// nothing live is destroyed at once.
// Commits are idempotent by object id: repeating a commit that already succeeded succeeds (an
// uploader retries when the answer was lost).
//
// Calling convention: callbacks last, run exactly once, possibly inline (the in-memory
// implementation always completes inline). Never call with a lock held that the callback takes.
// Thread safety: all methods may be called from any thread.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "common/ids.h"
#include "common/result.h"

namespace floe::stream {

template <typename T>
using MetaCallback = std::function<void(Result<T>)>;
struct Done {};

struct StreamInfo {
  StreamId id;
  StreamEpoch epoch;
  Offset start_offset;
  Offset end_offset;
  bool open = false;
  NodeId owner;
};

enum class ObjectKind : uint8_t { stream_set = 1, stream = 2 };
enum class ObjectState : uint8_t { prepared = 1, committed = 2, destroyed = 3 };

// [start, end) of one stream inside an object; epoch is the writer's (checked on data commits).
struct StreamRange {
  StreamId stream_id;
  StreamEpoch epoch;
  Offset start_offset;
  Offset end_offset;
  friend bool operator==(const StreamRange&, const StreamRange&) = default;
};

struct StreamObjectCommit {
  ObjectId object_id;
  uint64_t object_size_bytes = 0;
  StreamRange range;
  std::vector<ObjectId> compacted_object_ids;  // replaced by this one (compaction); empty for new data
};

struct StreamSetObjectCommit {
  NodeId node_id;
  std::optional<ObjectId> object_id;   // none when every range went to a stream object
  uint64_t object_size_bytes = 0;
  std::vector<StreamRange> ranges;     // sorted by (stream, start)
  std::vector<StreamObjectCommit> stream_objects;
  std::vector<ObjectId> compacted_object_ids;  // non-empty: a compaction (ranges replace data already committed)
};

struct ObjectMeta {
  ObjectId id;
  ObjectKind kind = ObjectKind::stream_set;
  ObjectState state = ObjectState::prepared;
  NodeId node_id;
  uint64_t size_bytes = 0;
  std::vector<StreamRange> ranges;
  int64_t committed_ms = 0;
  int64_t destroyed_ms = 0;
};

// One object range of one stream, as list_objects returns them (sorted by start offset).
struct ObjectSlice {
  ObjectId object_id;
  ObjectKind kind = ObjectKind::stream_set;
  uint64_t object_size_bytes = 0;
  Offset start_offset;
  Offset end_offset;
};

class StreamMetadata {
 public:
  virtual ~StreamMetadata() = default;

  virtual void create_stream(MetaCallback<StreamInfo> done) = 0;
  // Bumps the epoch and marks the stream open by node.
  virtual void open_stream(StreamId id, NodeId node, MetaCallback<StreamInfo> done) = 0;
  virtual void close_stream(StreamId id, StreamEpoch epoch, MetaCallback<Done> done) = 0;
  virtual void describe_stream(StreamId id, MetaCallback<StreamInfo> done) = 0;
  // Moves the start offset up (never down; it may pass the committed end, when the trimmed data
  // is still in the owner's WAL); objects left wholly below
  // every start offset they hold become destroyed.
  virtual void trim_stream(StreamId id, StreamEpoch epoch, Offset new_start, MetaCallback<Done> done) = 0;

  // Reserves count consecutive object ids; returns the first. Uncommitted after ttl_ms: destroyed.
  virtual void prepare_objects(uint32_t count, int64_t ttl_ms, MetaCallback<ObjectId> done) = 0;
  // Atomically: commits the stream-set object and stream objects, advances stream end offsets
  // (data commit) or marks the compacted objects destroyed (compaction).
  virtual void commit_stream_set_object(StreamSetObjectCommit commit, MetaCallback<Done> done) = 0;
  // Commits one stream object; with compacted ids it replaces them (stream object merge).
  virtual void commit_stream_object(StreamObjectCommit commit, MetaCallback<Done> done) = 0;

  // Committed object ranges of a stream overlapping [start, end), sorted by start, at most limit.
  virtual void list_objects(StreamId id, Offset start, Offset end, uint32_t limit,
                            MetaCallback<std::vector<ObjectSlice>> done) = 0;
  // Committed stream-set objects written by node, oldest first, at most limit.
  virtual void list_stream_set_objects(NodeId node, uint32_t limit, MetaCallback<std::vector<ObjectMeta>> done) = 0;
  // Destroyed objects whose destroy time is at or before before_ms (GC may delete them now).
  virtual void list_destroyed_objects(int64_t before_ms, uint32_t limit, MetaCallback<std::vector<ObjectMeta>> done) = 0;
  // Forgets objects GC deleted from the store.
  virtual void erase_objects(std::vector<ObjectId> ids, MetaCallback<Done> done) = 0;
};

// Synchronous call helper for threads the stream layer owns (never an asio thread).
template <typename T, typename Start>
Result<T> meta_wait(Start start);

}  // namespace floe::stream

#include <future>

namespace floe::stream {
template <typename T, typename Start>
Result<T> meta_wait(Start start) {
  auto promise = std::make_shared<std::promise<Result<T>>>();
  auto future = promise->get_future();
  start([promise](Result<T> r) { promise->set_value(std::move(r)); });
  return future.get();
}
}  // namespace floe::stream
