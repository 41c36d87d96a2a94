// BlockWal: the Wal on a raw block device or a preallocated file, written with O_DIRECT in
// 4 KiB-aligned group commits (layout in block_format.h).
//
// Two worker threads and two aligned buffers. append() queues entries; a free worker takes
// everything queued (up to max_batch_bytes, and at most a quarter of the ring) as one group
// commit, places it in the ring (in append order: placement is serialized), frames, copies and
// checksums it into a free buffer, writes it with one aligned pwrite and fdatasyncs. While one
// worker waits for the device, the other prepares, writes and syncs the next group: copies
// overlap I/O, and an append arriving during a small group's sync does not wait for it (two
// syncs in flight); while a large group (256 KiB or more) is in the device, the next group forms
// only from 256 KiB queued, else after that group, so group commits stay large under load.
// Groups are acknowledged in ring order once they and every group before them are done.
//
// Invariants:
//  (1) The writer never overwrites ring bytes at or after the *persisted* trim offset: a trim is
//      written to the header (and synced) before the space it frees is reused, so recovery
//      from the persisted trim never meets a record overwritten by a later lap.
//  (2) Queued bytes never exceed max_queued_bytes; appends beyond it fail at once (the stream
//      layer's log cache applies backpressure long before this safety bound).
//  (3) After an I/O error the WAL is failed: pending and later appends get the error (the page
//      cache can't be trusted after a failed sync). Reopen to recover.
//  (4) An append is acknowledged only after an fdatasync that started after its record's write
//      returned (so it covers it), and acknowledgements run in append order, one worker at a
//      time; after a failure nothing later is acknowledged, even if its own sync succeeded.
//  (5) A crash may keep group k+1 yet lose group k (their writes and syncs overlap). Every record
//      carries the open epoch (persisted before the first write of an open), and recovery stops
//      at a record older than the one before it, so such a k+1 is never resurrected after later
//      appends overwrite k's space (block_format.h, "Why epochs").
// Thread safety: append/trim/stats/close may be called from any thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "wal/wal.h"

namespace floe::wal {

struct BlockWalOptions {
  std::string path;                       // a block device or a file (created and preallocated)
  uint64_t capacity_bytes = 2ull << 30;   // ring size (s3.wal.capacity); multiple of 4 KiB
  int32_t node_id = 0;
  size_t max_batch_bytes = 4u << 20;      // payload bytes per group commit
  size_t max_queued_bytes = 256u << 20;   // bound on bytes waiting for the writer
  bool direct_io = true;                  // O_DIRECT; falls back to buffered + fdatasync if refused
  // Tests only: called on the WAL's thread right before (false) and after (true) each fdatasync
  // that acknowledges records (e.g. to slow it down or observe what it covers). An error returned
  // before the fdatasync stands for a failed fdatasync.
  std::function<Status(bool after)> sync_hook_for_test;
};

class BlockWal final : public Wal {
 public:
  struct Opened {
    std::unique_ptr<BlockWal> wal;
    std::vector<RecoveredEntry> recovered;  // in log order, from the persisted trim offset
  };
  // Opens (creating and initializing if new) and recovers. Errors: unreadable file, capacity
  // that differs from the one on disk, a header that is not a floe WAL.
  static Result<Opened> open(const BlockWalOptions& options);

  ~BlockWal() override;
  void append(Entry entry, AppendCallback done) override;
  Status trim(uint64_t offset) override;
  WalStats stats() const override;
  void close() override;

  bool using_direct_io() const;

 private:
  struct Impl;
  explicit BlockWal(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace floe::wal
