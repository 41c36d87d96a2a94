// StreamCheckpoints: opaque blobs that a stream's user keeps beside the stream's data, each
// labelled with the stream offset it describes ("my state after every batch below `offset`"),
// so that reopening the stream elsewhere need not re-read it from its start (log/partition.h
// stores its index and producer state this way).
//
// They live in the data store under "checkpoints/<stream id>/<offset>" (both zero-padded to 20
// digits, so keys sort in offset order), outside the metadata quorum: they are an optimisation,
// never a source of truth. Whoever loads one must check that it still describes the stream (its
// user records what it needs for that inside the blob), and falls back to reading the stream when
// there is none, it is damaged, or it does not match.
//
// Object format: "FLCK" | u16 version (1) | u64 stream id | i64 offset | u32 payload length |
// u32 CRC32C of the payload | payload. All big-endian.
//
// Invariants:
//  (1) latest() returns only a checkpoint whose magic, version, CRC, length, stream id and offset
//      (also against its key) hold; a damaged newest one is skipped for the next older.
//  (2) After put() succeeds, at most `keep` checkpoints of that stream remain (older ones are
//      deleted; a failed delete only leaves extra objects, which the next put() retries).
//  (3) Bounded: latest() lists one page of keys (at most 1,000) and GETs at most kMaxCheckpointTries of
//      them, newest first; a checkpoint larger than max_bytes is neither written nor read.
// Thread safety: all methods are thread-safe; callbacks run on the store's threads. The
// destructor waits for the operations in flight (their callbacks have run when it returns); it
// must not run on a store thread or inside one of its own callbacks.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "common/ids.h"
#include "common/result.h"
#include "objectstore/object_store.h"

namespace floe::stream {

struct Checkpoint {
  int64_t offset = 0;
  SharedBytes payload;
};

inline constexpr uint32_t kMaxCheckpointTries = 4;

struct CheckpointOptions {
  uint32_t keep = 2;
  uint64_t max_bytes = 256ull << 20;
};

class StreamCheckpoints {
 public:
  using PutCallback = std::function<void(Status)>;
  using LatestCallback = std::function<void(Result<std::optional<Checkpoint>>)>;

  StreamCheckpoints(std::shared_ptr<objectstore::ObjectStore> store, CheckpointOptions options = {});
  ~StreamCheckpoints();
  StreamCheckpoints(const StreamCheckpoints&) = delete;
  StreamCheckpoints& operator=(const StreamCheckpoints&) = delete;

  // Writes the checkpoint of `stream` at `offset`, then deletes all but the newest `keep`.
  void put(StreamId stream, int64_t offset, SharedBytes payload, PutCallback done);
  // The newest valid checkpoint of `stream` at an offset below `below` (nullopt: none). A store
  // error is an error; a damaged object is skipped (and logged). `below` lets a user that found
  // the newest one stale (written by a fenced owner for data the stream does not have) try the
  // one before.
  void latest(StreamId stream, LatestCallback done, int64_t below = std::numeric_limits<int64_t>::max());
  // Deletes every checkpoint of `stream` (the stream was deleted).
  void remove_all(StreamId stream, PutCallback done);

  static std::string key(StreamId stream, int64_t offset);
  static std::string prefix(StreamId stream);
  // The object bytes of a checkpoint, and back (for tests and `storage inspect`).
  static Bytes encode(StreamId stream, int64_t offset, std::span<const uint8_t> payload);
  static Result<Checkpoint> decode(StreamId stream, const SharedBytes& object);

 private:
  void list_keys(StreamId stream, std::function<void(Result<std::vector<std::string>>)> done);
  void try_newest(StreamId stream, std::shared_ptr<std::vector<std::string>> keys, LatestCallback done);
  // Counts an operation in flight; the returned callback ends it after calling `done`.
  template <typename Callback>
  Callback tracked(Callback done);

  std::shared_ptr<objectstore::ObjectStore> store_;
  CheckpointOptions options_;
  std::mutex mu_;
  std::condition_variable idle_cv_;
  uint64_t in_flight_ = 0;
};

}  // namespace floe::stream
