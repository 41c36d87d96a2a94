// Metadata snapshots: the committed MetadataState as the payload of a Raft snapshot (KIP-630).
//
// The controller hands RaftNode (raft/node.h snapshot_here) the encoding of its committed state
// every snapshot_interval_entries applied entries; the node frames it in a
// "<end offset>-<epoch>.checkpoint" file in metadata.log.dir (raft/snapshot_store.h: Kafka's
// snapshot layout, header and footer control batches, CRC'd data batches), drops the
// log below it, and gives it back at open and when a follower installs the leader's snapshot.
//   payload := "FLMS" | u8 version (= 2) | a record batch (metadata/records.h,
//              MetadataState::to_records())
// Integrity is the snapshot file's batch CRCs; decode still never trusts a length.
// decode_snapshot has a streaming form: it pulls the payload through a read function and
// applies one record at a time, so decoding holds the state plus one record (at most
// kMaxSnapshotRecordBytes), never the payload whole.
// The old stand-alone "metadata.snapshot" file (version 1, written beside a log that was never
// truncated) is obsolete: the controller deletes it at open and replays the complete log instead.
// Thread safety: pure functions.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "metadata/image.h"

namespace floe::metadata {

inline constexpr const char* kLegacySnapshotFile = "metadata.snapshot";
// No metadata record comes near this (a Raft entry, which holds whole records, is at most 1 MiB).
inline constexpr size_t kMaxSnapshotRecordBytes = size_t{8} << 20;

std::string encode_snapshot(const MetadataState& state);
// The state after every entry below end_offset (image.offset = end_offset - 1).
Result<MetadataState> decode_snapshot(std::string_view payload, int64_t end_offset);
// The same, pulling the payload through `read` (up to max bytes into out; 0 at its end; it must
// reach its end: trailing bytes are an error).
using SnapshotReadFn = std::function<Result<size_t>(char* out, size_t max)>;
Result<MetadataState> decode_snapshot(const SnapshotReadFn& read, int64_t end_offset);

}  // namespace floe::metadata
