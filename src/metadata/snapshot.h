// Metadata snapshots: the committed MetadataState at one log offset, in metadata.log.dir.
//
// File "metadata.snapshot" := "FLMS" | u8 version (= 1) | i64 last_applied_offset |
//   u32 payload_bytes | u32 crc32c(payload) | payload (a record batch: metadata/records.h,
//   MetadataState::to_records()), big-endian. Written to "metadata.snapshot.tmp", fsynced, renamed
//   over, directory fsynced: a reader finds the previous snapshot or the new one, never a mix.
// A missing file is "no snapshot"; a corrupt one is an error (the caller may replay the whole log,
// which is never truncated at the front yet).
// Thread safety: none needed (called by the controller's node thread and at open).
#pragma once

#include <optional>
#include <string>

#include "metadata/image.h"

namespace floe::metadata {

struct Snapshot {
  int64_t offset = -1;  // the last log offset the state reflects
  MetadataState state;
};

Status write_snapshot(const std::string& dir, int64_t offset, const MetadataState& state);
Result<std::optional<Snapshot>> load_snapshot(const std::string& dir);

}  // namespace floe::metadata
