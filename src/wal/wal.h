// wal/: the durable append log in front of object storage (DESIGN.md, write path step 2-3).
//
// A Wal takes entries (stream id, stream epoch, base offset, record-batch bytes) and calls back
// once each is durable. The stream layer acknowledges a produce only after that callback, and
// trims the WAL once the data is in object storage. Positions in the WAL are logical byte
// offsets that only grow (the ring wraps underneath them).
//
// Implementations: BlockWal (block_wal.h: O_DIRECT on a device or preallocated file) and
// ObjectWal (object_wal.h: group commits written as objects, one PUT each, to S3 or a directory;
// the WAL a broker without a spare device uses, and the one a later failover can replay).
//
// Contract for every implementation:
//  (1) An append's callback runs exactly once: with the WAL position of the record holding it,
//      once the entry is durable; or with an error, in which case it may or may not survive.
//  (2) Callbacks run in append order (positions increase), on the WAL's own thread: callers
//      post back to their executor and never block inside a callback. One exception: an append
//      the WAL refuses at once (failed, closed, queue full, too large) gets its error on the
//      calling thread, possibly before earlier appends' callbacks; a caller must treat such a
//      refusal as the end of its ordered stream (the stream layer fences the stream).
//  (3) After a crash, recovery returns every entry whose callback succeeded and whose record lies
//      at or after the last persisted trim, byte-identical and in append order; entries whose
//      callback never ran may also appear (they were written but not yet acknowledged).
//  (4) trim(p) promises the caller no longer needs records ending at or before p.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "common/bytes.h"
#include "common/ids.h"
#include "common/result.h"

namespace floe::wal {

struct Entry {
  StreamId stream_id;
  StreamEpoch epoch;
  Offset base_offset;
  SharedBytes payload;
  friend bool operator==(const Entry&, const Entry&) = default;
};

// Where a record sits in the log: [start, end) in logical bytes.
struct Position {
  uint64_t start = 0;
  uint64_t end = 0;
};

struct RecoveredEntry {
  Entry entry;
  Position position;  // of the record that holds it
};

using AppendCallback = std::function<void(Result<Position>)>;

struct WalStats {
  uint64_t appends = 0;
  uint64_t append_bytes = 0;      // payload bytes
  uint64_t records_written = 0;   // one per group commit
  uint64_t device_bytes_written = 0;
  uint64_t syncs = 0;
  uint64_t queued_bytes = 0;      // waiting for the writer
  uint64_t used_bytes = 0;        // written but not trimmed
  uint64_t capacity_bytes = 0;
  uint64_t end_offset = 0;        // durable end: records before it are acknowledged
  uint64_t written_end_offset = 0;  // written to the device, maybe not yet covered by an fdatasync
  uint64_t trim_offset = 0;
};

class Wal {
 public:
  virtual ~Wal() = default;
  // Queues an entry; see the contract above. If the WAL cannot take it (queue bound reached,
  // entry larger than the WAL, WAL failed or closed) the callback gets the error at once, on
  // the calling thread.
  virtual void append(Entry entry, AppendCallback done) = 0;
  // Records ending at or before `offset` may be overwritten. REQUIRES: offset is a record end
  // returned by an append (or the current trim offset) and not beyond the durable end.
  virtual Status trim(uint64_t offset) = 0;
  virtual WalStats stats() const = 0;
  // Finishes queued appends, persists the trim point, stops the writer thread. Idempotent.
  virtual void close() = 0;
};

}  // namespace floe::wal
