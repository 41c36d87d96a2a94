// Control records: the transaction markers (and other control types) in control batches.
//
// A control batch (attribute bit 5) holds records whose key is
//   version int16 (0), type int16 (0 = ABORT, 1 = COMMIT; newer Kafka adds 2 LEADER_CHANGE,
//   3 SNAPSHOT_HEADER, 4 SNAPSHOT_FOOTER, ...)
// and, for ABORT/COMMIT, whose value is the EndTxnMarker
//   version int16 (0), coordinatorEpoch int32.
// Readers accept key/value versions above 0 and ignore trailing bytes, as Kafka does.
//
// Invariants: (1) decode(encode(x)) == x. (2) short input is Errc::truncated, never a read past it.
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <span>

#include "common/bytes.h"
#include "common/result.h"

namespace floe::records {

enum class ControlType : int16_t { abort = 0, commit = 1, leader_change = 2, snapshot_header = 3, snapshot_footer = 4 };

struct ControlRecordKey {
  int16_t version = 0;
  int16_t type = 0;  // a ControlType value; unknown types are kept as-is
  friend bool operator==(const ControlRecordKey&, const ControlRecordKey&) = default;
};

struct EndTxnMarker {
  int16_t version = 0;
  int32_t coordinator_epoch = 0;
  friend bool operator==(const EndTxnMarker&, const EndTxnMarker&) = default;
};

Result<ControlRecordKey> decode_control_key(std::span<const uint8_t> key);
Bytes encode_control_key(ControlType type);

Result<EndTxnMarker> decode_end_txn_marker(std::span<const uint8_t> value);
Bytes encode_end_txn_marker(const EndTxnMarker& marker);

// A transactional control batch holding one COMMIT or ABORT marker, as the transaction
// coordinator writes into each partition of a transaction.
Result<Bytes> build_end_txn_batch(ControlType type, int64_t producer_id, int16_t producer_epoch,
                                  int32_t coordinator_epoch, int64_t timestamp_ms, int64_t base_offset = 0,
                                  int32_t partition_leader_epoch = -1);

}  // namespace floe::records
