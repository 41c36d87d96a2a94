// controller_rpc: the pieces the controller listener (admin/controller_api.h, the server) and
// RemoteController (metadata/remote_controller.h, the client) share about controller RPCs:
//  - error mapping: a controller write answers ErrorCode (Kafka's: 0, NOT_CONTROLLER = 41 "ask the
//    quorum leader", or UNKNOWN_SERVER_ERROR = -1) plus, in floe's own RPCs, StatusCode (the Errc
//    of common/result.h, so fenced / not_found / invalid_value reach the stream layer as they are);
//  - the metadata offset of a write (read-your-writes): floe's RPCs carry it in MetadataOffset;
//    Kafka's responses (CreateTopics, BrokerRegistration, ...) carry it as an extra tagged field
//    kMetadataOffsetTag (a Kafka client ignores unknown tags), an int64 big-endian.
// The Controller reports "not the controller" as Errc::internal with that message (stream
// writes) or NOT_CONTROLLER (topic writes); is_not_controller recognises both.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "protocol/generated/floe_commit_stream_object_request.h"
#include "protocol/generated/floe_commit_stream_set_object_request.h"
#include "protocol/wire.h"
#include "stream/metadata.h"

namespace floe::metadata::rpc {

inline constexpr uint32_t kMetadataOffsetTag = 0x464c;  // "FL"
inline constexpr int16_t kNone = 0;
inline constexpr int16_t kNotController = 41;
inline constexpr int16_t kUnknownServerError = -1;

void set_metadata_offset(std::vector<protocol::RawTaggedField>& tags, int64_t offset);
// -1 when absent or malformed.
int64_t metadata_offset(const std::vector<protocol::RawTaggedField>& tags);

bool is_not_controller(const Error& error);

struct WireStatus {
  int16_t error_code = kNone;
  int16_t status_code = 0;
  std::optional<std::string> error_message;
};
WireStatus to_wire(const Error& error);
// Ok for error_code 0; Errc::internal "not the controller" for NOT_CONTROLLER; else the Errc
// named by status_code (internal when out of range).
Status from_wire(int16_t error_code, int16_t status_code, const std::optional<std::string>& message);

// Commits on the wire (object id -1 = none) and back.
protocol::FloeCommitStreamSetObjectRequest to_wire(const stream::StreamSetObjectCommit& commit);
stream::StreamSetObjectCommit from_wire(const protocol::FloeCommitStreamSetObjectRequest& request);
protocol::FloeCommitStreamObjectRequest to_wire(const stream::StreamObjectCommit& commit);
stream::StreamObjectCommit from_wire(const protocol::FloeCommitStreamObjectRequest& request);

// A stream's description in FloeCreateStream/FloeOpenStream responses (same field names).
template <typename Response>
void put_stream_info(Response& response, const stream::StreamInfo& info) {
  response.stream_id = static_cast<int64_t>(info.id.value());
  response.epoch = static_cast<int64_t>(info.epoch.value());
  response.start_offset = info.start_offset.value();
  response.end_offset = info.end_offset.value();
  response.open = info.open;
  response.owner = info.owner.value();
}
template <typename Response>
stream::StreamInfo get_stream_info(const Response& response) {
  stream::StreamInfo info;
  info.id = StreamId(static_cast<uint64_t>(response.stream_id));
  info.epoch = StreamEpoch(static_cast<uint64_t>(response.epoch));
  info.start_offset = Offset(response.start_offset);
  info.end_offset = Offset(response.end_offset);
  info.open = response.open;
  info.owner = NodeId(response.owner);
  return info;
}

}  // namespace floe::metadata::rpc
