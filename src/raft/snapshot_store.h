// FileSnapshotStore: the SnapshotStore (raft/env.h) of a RaftNode, in the metadata log directory.
//
// One file per snapshot, named as Kafka names them: "<end offset, 20 digits>-<epoch, 10
// digits>.checkpoint", laid out as Kafka's snapshot files (KIP-630): v2 record batches, every
// one with partitionLeaderEpoch = the snapshot's epoch and its own CRC32C —
//   a control batch holding one SNAPSHOT_HEADER record (control type 3, SnapshotHeaderRecord
//     v0); floe puts the snapshot's end offset in its baseOffset;
//   data batches (uncompressed, up to 16 records each) whose record values, concatenated, are
//     the payload (64 KiB per record): the owner's image of its state machine after every entry
//     below end_offset (for floe's controller: metadata/snapshot.h);
//   a control batch holding one SNAPSHOT_FOOTER record (control type 4, SnapshotFooterRecord v0).
// These are the bytes FetchSnapshot ships, so a follower checks every CRC, the header's id and
// the footer (a truncated file has none) before installing a download.
// Memory: a snapshot is never held whole. Downloads go chunk by chunk into "<name>.part";
// checking a file and reading its payload (SnapshotPayloadReader) walk it one batch at a time
// (at most kMaxBatchBytes), so installing a snapshot costs the owner's decoded state plus one
// batch, whatever the snapshot's size.
// Atomicity: write_durable() and a finished download write "<name>.tmp" / "<name>.part",
// fsync it, rename it to its name and fsync the directory; a reader sees a snapshot whole or not
// at all. Leftover .tmp/.part files are deleted at open.
// Retention (SnapshotRetention, in the spirit of Kafka's metadata.max.retention.ms/.bytes): the
// newest snapshot is always kept; an older one is kept while a follower is downloading it (a
// chunk of it was served within in_use_ms), and otherwise deleted once it is older than
// max_age_ms (file mtime) or while all snapshots together exceed max_bytes or max_count
// (oldest first). Retention runs when a snapshot is added and on apply_retention().
// open() checks the newest snapshot's CRCs (a corrupt one is an error: the log below it is
// gone); older ones are checked when read.
// Thread safety: none, except write_durable(), which any thread may call (it touches only its
// own temp file and the snapshot's name, never the store's state); the node thread owns the rest.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "raft/env.h"

namespace floe::raft {

// A snapshot's payload, read front to back without holding it whole (one batch at a time).
// Every batch's CRC and the framing are checked as it goes; the end is reported only after
// the footer, so a reader that reached it read the complete payload.
class SnapshotPayloadReader {
 public:
  virtual ~SnapshotPayloadReader() = default;
  // Up to max bytes of payload into out; 0 at the end of the payload. An error is final.
  virtual Result<size_t> read(char* out, size_t max) = 0;
  // All that is left (tests and small payloads).
  Result<std::string> read_all();
};

struct SnapshotRetention {
  int64_t max_age_ms = 10 * 60 * 1000;      // metadata.max.retention.ms
  int64_t max_bytes = int64_t{100} << 20;   // metadata.max.retention.bytes
  size_t max_count = 64;                     // a bound on files whatever their size
  int64_t in_use_ms = 60 * 1000;             // a snapshot served this recently is being fetched
  std::function<int64_t()> clock_ms;         // wall clock (file mtimes); unset: the system clock
};

class FileSnapshotStore final : public SnapshotStore {
 public:
  // The largest batch a snapshot file may hold (floe writes up to 16 x 64 KiB of payload).
  static constexpr size_t kMaxBatchBytes = size_t{4} << 20;

  static Result<std::unique_ptr<FileSnapshotStore>> open(const std::string& dir, SnapshotRetention retention = {});

  std::optional<SnapshotId> latest() const override;
  Result<int64_t> size_bytes(SnapshotId id) const override;
  Result<std::string> read(SnapshotId id, int64_t position, int32_t max_bytes) const override;
  Status begin_download(SnapshotId id) override;
  Status write_chunk(SnapshotId id, int64_t position, std::string_view bytes) override;
  Status finish_download(SnapshotId id) override;
  void abort_download() override;

  // Writes the owner's snapshot of its state after every entry below id.end_offset and makes
  // it durable under its name (temp file, fsync, rename, directory fsync). Any thread; the
  // store does not list it until add_written(id). `before_sync` (tests) runs once the temp file
  // is written, before it is synced and renamed.
  Status write_durable(SnapshotId id, std::string_view payload, const std::function<void()>& before_sync = {}) const;
  // A snapshot write_durable() finished: list it, then apply retention.
  Status add_written(SnapshotId id);
  // write_durable + add_written.
  Status save(SnapshotId id, std::string_view payload);
  // Deletes what the retention rule no longer keeps (see the top comment).
  Status apply_retention();

  // The payload of a stored snapshot, read incrementally.
  Result<std::unique_ptr<SnapshotPayloadReader>> open_payload(SnapshotId id) const;
  // The payload whole, CRC-checked (tests and small payloads).
  Result<std::string> load(SnapshotId id) const;
  std::vector<SnapshotId> snapshots() const { return ids_; }
  std::string path_of(SnapshotId id) const;

  // The file image of a snapshot (what write_durable() writes), and its payload back (checked).
  static std::string frame(SnapshotId id, std::string_view payload);
  static Result<std::string> unframe(SnapshotId id, std::string_view file);

  ~FileSnapshotStore() override;

 private:
  FileSnapshotStore(std::string dir, SnapshotRetention retention);
  Status install(SnapshotId id, const std::string& temp);  // rename + dir fsync + list
  Status list(SnapshotId id);
  int64_t now_ms() const;

  std::string dir_;
  SnapshotRetention retention_;
  std::vector<SnapshotId> ids_;  // ascending end offset
  struct FileInfo {
    int64_t size_bytes = 0;
    int64_t mtime_ms = 0;
  };
  std::map<Offset, FileInfo> files_;  // by end offset, for each of ids_
  mutable std::map<Offset, int64_t> last_served_ms_;  // by end offset: the last chunk read()
  struct Partial {
    SnapshotId id;
    int fd = -1;
    int64_t size_bytes = 0;
  };
  std::optional<Partial> partial_;
};

}  // namespace floe::raft
