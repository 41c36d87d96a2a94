// The records the group coordinator writes to its state stream: committed offsets and group
// metadata, each a key with a value or a tombstone (Kafka's __consumer_offsets model, in floe's
// own format). Replaying a stream's records in order, last write per key wins and a tombstone
// erases, rebuilds the coordinator's durable state.
//
// Byte layout of one record (little-endian, DESIGN.md "Formats"):
//   u32 length            bytes after this field (crc .. end), <= kRecordBytesMax
//   u32 crc               CRC32C of the bytes after this field
//   u8  format version    kFormatVersion
//   u8  type              1 = offset commit, 2 = group metadata
//   u8  flags             bit 0: tombstone (no value follows)
//   key    offset: str group, str topic, i32 partition       group: str group
//   value  offset: i64 offset, i32 leader epoch, i64 commit timestamp ms, i64 expire timestamp ms
//                  (-1: none), u8 has metadata, str metadata
//          group:  str protocol type, i32 generation, u8 has protocol, str protocol, str leader,
//                  i64 state timestamp ms, u32 member count, per member: str member id,
//                  u8 has instance id, str instance id, str client id, str client host,
//                  i32 rebalance timeout ms, i32 session timeout ms, bytes subscription,
//                  bytes assignment
//   str / bytes = u32 length + bytes.
// A stream batch holds one or more records back to back (its record_count says how many).
//
// Invariants:
//  (1) decode_records never reads past its input and never allocates more than the input size
//      for a length read from it (every length is checked against the remaining bytes first).
//  (2) decode(encode(r)) == r for every record.
// Thread safety: pure functions over values.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"

namespace floe::broker::group_format {

inline constexpr uint8_t kFormatVersion = 1;
inline constexpr uint32_t kRecordBytesMax = 64u << 20;
inline constexpr uint32_t kMembersMax = 1u << 20;

enum class RecordType : uint8_t { offset = 1, group = 2 };

struct OffsetValue {
  int64_t offset = -1;
  int32_t leader_epoch = -1;
  int64_t commit_timestamp_ms = -1;
  int64_t expire_timestamp_ms = -1;  // -1: expires by the group's retention rule
  std::optional<std::string> metadata;
  friend bool operator==(const OffsetValue&, const OffsetValue&) = default;
};

struct MemberValue {
  std::string member_id;
  std::optional<std::string> instance_id;
  std::string client_id;
  std::string client_host;
  int32_t rebalance_timeout_ms = 0;
  int32_t session_timeout_ms = 0;
  SharedBytes subscription;  // the member's metadata for the group's protocol
  SharedBytes assignment;
  friend bool operator==(const MemberValue&, const MemberValue&) = default;
};

struct GroupValue {
  std::string protocol_type;
  int32_t generation = 0;
  std::optional<std::string> protocol;
  std::string leader;
  int64_t state_timestamp_ms = -1;
  std::vector<MemberValue> members;
  friend bool operator==(const GroupValue&, const GroupValue&) = default;
};

struct Record {
  RecordType type = RecordType::offset;
  std::string group;
  std::string topic;          // offset records
  int32_t partition = 0;      // offset records
  std::optional<OffsetValue> offset;       // offset records; nullopt: tombstone
  std::optional<GroupValue> group_value;   // group records; nullopt: tombstone
  bool tombstone() const { return type == RecordType::offset ? !offset : !group_value; }
  friend bool operator==(const Record&, const Record&) = default;
};

Record offset_record(std::string group, std::string topic, int32_t partition, std::optional<OffsetValue> value);
Record group_record(std::string group, std::optional<GroupValue> value);

// Appends one encoded record to out.
void append_record(Bytes& out, const Record& record);

// Every record of a batch's bytes, in order. Errc::corrupt on a CRC mismatch, Errc::truncated /
// invalid_length / invalid_value on malformed bytes.
Result<std::vector<Record>> decode_records(std::span<const uint8_t> bytes);

}  // namespace floe::broker::group_format
