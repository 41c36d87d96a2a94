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
// Atomicity: the owner's save() and a finished download are written to "<name>.tmp" /
// "<name>.part", fsynced, renamed to their name, and the directory fsynced; a reader sees a
// snapshot whole or not at all. Leftover .tmp/.part files are deleted at open. Only the newest
// `keep` snapshots are kept (2: a follower downloading the previous one can finish).
// open() checks the newest snapshot's CRC (a corrupt one is an error: the log below it is gone);
// older ones are checked when read.
// Thread safety: none; the node thread owns it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "raft/env.h"

namespace floe::raft {

class FileSnapshotStore final : public SnapshotStore {
 public:
  static Result<std::unique_ptr<FileSnapshotStore>> open(const std::string& dir, size_t keep = 2);

  std::optional<SnapshotId> latest() const override;
  Result<int64_t> size_bytes(SnapshotId id) const override;
  Result<std::string> read(SnapshotId id, int64_t position, int32_t max_bytes) const override;
  Status begin_download(SnapshotId id) override;
  Status write_chunk(SnapshotId id, int64_t position, std::string_view bytes) override;
  Status finish_download(SnapshotId id) override;
  void abort_download() override;

  // The owner's own snapshot of its state after every entry below id.end_offset.
  Status save(SnapshotId id, std::string_view payload);
  // The payload of a stored snapshot, CRC-checked.
  Result<std::string> load(SnapshotId id) const;
  std::vector<SnapshotId> snapshots() const { return ids_; }
  std::string path_of(SnapshotId id) const;

  // The file image of a snapshot (what save() writes), and its payload back (checked).
  static std::string frame(SnapshotId id, std::string_view payload);
  static Result<std::string> unframe(SnapshotId id, std::string_view file);

 private:
  explicit FileSnapshotStore(std::string dir, size_t keep) : dir_(std::move(dir)), keep_(keep) {}
  Status install(SnapshotId id, const std::string& temp);  // rename + dir fsync + prune
  std::string dir_;
  size_t keep_;
  std::vector<SnapshotId> ids_;  // ascending end offset
  struct Partial {
    SnapshotId id;
    int fd = -1;
    int64_t size_bytes = 0;
  };
  std::optional<Partial> partial_;

 public:
  ~FileSnapshotStore() override;
};

}  // namespace floe::raft
