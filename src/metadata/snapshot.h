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
// The old stand-alone "metadata.snapshot" file (version 1, written beside a log that was never
// truncated) is obsolete: the controller deletes it at open and replays the complete log instead.
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "metadata/image.h"

namespace floe::metadata {

inline constexpr const char* kLegacySnapshotFile = "metadata.snapshot";

std::string encode_snapshot(const MetadataState& state);
// The state after every entry below end_offset (image.offset = end_offset - 1).
Result<MetadataState> decode_snapshot(std::string_view payload, int64_t end_offset);

}  // namespace floe::metadata
