// Raft messages <-> Kafka request/response frames (the KRaft wire format), built on the generated
// codecs in protocol/generated/ and the RecordBatch v2 builder/reader in protocol/records/.
//
// A frame here is what follows the int32 size prefix: request header + body, or response header
// + body. Header versions follow Kafka's rules (protocol/api.h): request header v2 / response
// header v1 for flexible API versions, which every version sent here is.
//
// Versions written (the highest the generated codecs know; all flexible):
//   Vote v2 (KIP-996 PreVote), BeginQuorumEpoch v1, EndQuorumEpoch v1, Fetch v17,
//   FetchSnapshot v1 (KIP-630; decode accepts 0-1).
// Versions accepted on decode: Vote 0-2 (pre_vote is false below v2), BeginQuorumEpoch 0-1,
// EndQuorumEpoch 0-1, Fetch 12-17 (12 names the topic, 13+ uses the topic id; the replica id
// is the top-level ReplicaId below v15 and ReplicaState.ReplicaId from v15).
//
// Mapping (KIP-595): every request names topic "__cluster_metadata" partition 0 (Fetch v13+: the
// well-known topic id 00000000-0000-0000-0000-000000000001, Kafka's Uuid.METADATA_TOPIC_ID).
//   VoteRequest        CandidateEpoch/CandidateId/LastOffsetEpoch/LastOffset(= log end offset)/
//                      PreVote; VoterId = the receiver. The sender is CandidateId.
//   VoteResponse       LeaderEpoch/LeaderId/VoteGranted. floe's echoed pre_vote and
//                      candidate_epoch are not on the wire: they come from the request answered.
//   BeginQuorumEpoch*  LeaderEpoch/LeaderId (request sender = LeaderId; VoterId = receiver).
//   EndQuorumEpoch*    LeaderEpoch/LeaderId, PreferredSuccessors (v0) / PreferredCandidates (v1).
//   FetchRequest       ReplicaState.ReplicaId (sender), CurrentLeaderEpoch, FetchOffset,
//                      LastFetchedEpoch, LogStartOffset 0, MaxWaitMs 0 (no long poll yet).
//                      floe's request_id is not on the wire: decode sets it to the correlation id.
//   FetchResponse      partition ErrorCode (0 / NOT_LEADER_OR_FOLLOWER 6 / FENCED_LEADER_EPOCH
//                      74), HighWatermark, CurrentLeader{LeaderId, LeaderEpoch}, DivergingEpoch
//                      {Epoch, EndOffset} (present iff Epoch != -1), SnapshotId {EndOffset,
//                      Epoch} (tagged, present iff not -1/-1; never with DivergingEpoch),
//                      LogStartOffset, Records. request_id, fetch_offset and
//                      last_fetched_epoch come from the request answered.
//   FetchSnapshot*     ReplicaId, MaxBytes, the metadata topic by name, partition 0:
//                      CurrentLeaderEpoch, SnapshotId, Position; the answer's ErrorCode (also
//                      SNAPSHOT_NOT_FOUND 98 / POSITION_OUT_OF_RANGE 99), CurrentLeader, Size,
//                      Position, UnalignedRecords (a chunk of the snapshot file; it must name
//                      the snapshot and position asked and fit in Size and MaxBytes).
//   Records            one Kafka record per LogEntry (null key, value = entry data), consecutive
//                      entries of one epoch and kind in one v2 batch whose baseOffset is the log
//                      offset and partitionLeaderEpoch the entry epoch; LeaderChange entries go
//                      in control batches (key = control key type 2, value = the entry's data
//                      verbatim, which the replica writes as Kafka's LeaderChangeMessage v0).
// ClusterId: sent when WireOptions::cluster_id is set; a request naming a different cluster id
// is rejected on decode (Errc::invalid_value).
//
// Invariants:
//  (1) decode_* never crash or read past their input: any malformed, truncated or inconsistent
//      frame is an Error (fuzzed by fuzz/raft_wire_fuzz.cc).
//  (2) For every message m the replica emits: decode(encode(m)) == m, given the request a
//      response answers (tests/raft/wire_test.cc).
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "raft/types.h"

namespace floe::protocol {
struct ApiVersionsResponse;
}

namespace floe::raft {

inline constexpr std::string_view kMetadataTopicName = "__cluster_metadata";
inline constexpr int32_t kMetadataPartition = 0;
// Kafka's Uuid.METADATA_TOPIC_ID: 15 zero bytes then 0x01.
Uuid metadata_topic_id();

namespace raft_api {
inline constexpr int16_t kFetch = 1;
inline constexpr int16_t kApiVersions = 18;
inline constexpr int16_t kVote = 52;
inline constexpr int16_t kBeginQuorumEpoch = 53;
inline constexpr int16_t kEndQuorumEpoch = 54;
inline constexpr int16_t kFetchSnapshot = 59;
}  // namespace raft_api

// The version floe writes for each API.
namespace raft_version {
inline constexpr int16_t kFetch = 17;
inline constexpr int16_t kVote = 2;
inline constexpr int16_t kBeginQuorumEpoch = 1;
inline constexpr int16_t kEndQuorumEpoch = 1;
inline constexpr int16_t kFetchSnapshot = 1;
}  // namespace raft_version

// Kafka error codes this layer reads or writes.
namespace kafka_error {
inline constexpr int16_t kNone = 0;
inline constexpr int16_t kUnknownServerError = -1;
inline constexpr int16_t kNotLeaderOrFollower = 6;
inline constexpr int16_t kRequestTimedOut = 7;
inline constexpr int16_t kUnsupportedVersion = 35;
inline constexpr int16_t kInvalidRequest = 42;
inline constexpr int16_t kFencedLeaderEpoch = 74;
inline constexpr int16_t kSnapshotNotFound = 98;
inline constexpr int16_t kPositionOutOfRange = 99;
inline constexpr int16_t kInconsistentClusterId = 104;
}  // namespace kafka_error

struct WireOptions {
  std::optional<std::string> cluster_id;  // sent in requests; a different one on decode is an error
  std::string client_id = "floe-raft";  // request header ClientId
  // This node's controller endpoint, advertised in BeginQuorumEpoch/EndQuorumEpoch
  // LeaderEndpoints when host is not empty.
  std::string listener_name = "CONTROLLER";
  std::string host;
  uint16_t port = 0;
  size_t max_decompressed_bytes = 64 << 20;  // bound on a compressed Fetch response batch
};

// True for the four request types (what goes out on an outbound connection).
bool is_request(const RaftMessage& message);
// The Kafka API of a message (a response has its request's API).
int16_t api_key_of(const RaftMessage& message);
// The version floe writes for `api_key` (one of raft_api).
int16_t write_version(int16_t api_key);

// Identifies the request a response answers.
struct RequestKey {
  int16_t api_key = 0;
  int16_t api_version = 0;
  int32_t correlation_id = 0;
};

// ---- requests ----
// REQUIRES: is_request(request). `to` is the receiver (VoterId where the version has one).
// version: nullopt = write_version(); else must be a version decode accepts.
Bytes encode_request(const RaftMessage& request, NodeId to, int32_t correlation_id, const WireOptions& options,
                     std::optional<int16_t> version = std::nullopt);

struct InboundRequest {
  RequestKey key;
  std::optional<std::string> client_id;
  NodeId from = kNoNode;  // the sender, as the request names it (CandidateId, LeaderId, ReplicaId)
  NodeId to = kNoNode;    // VoterId where the version carries one, else kNoNode
  RaftMessage message;
};
Result<InboundRequest> decode_request(const SharedBytes& frame, const WireOptions& options);

// ---- responses ----
// The response frame answering `answers` with `response`; Errc::invalid_value if the message is
// not the response type of answers.api_key.
Result<Bytes> encode_response(const RaftMessage& response, const RequestKey& answers);
// An answer carrying only a top-level error code (a request the replica did not answer in time).
Bytes encode_error_response(const RequestKey& answers, int16_t error_code);

// The answer to an ApiVersions request (api key 18) on the Raft listener, which Kafka peers send
// first on every connection: the four Raft APIs with the versions decode accepts, plus
// ApiVersions 0-4. A version above 4 gets a v0 answer with UNSUPPORTED_VERSION (as Kafka does).
// The response header is always v0 for ApiVersions.
// `extra`: the APIs a fallback handler serves on the same listener (admin/controller_api.h), listed
// after the Raft ones (in an UNSUPPORTED_VERSION answer too, so a client can pick a version).
// `features` (v3+ only): SupportedFeatures, FinalizedFeatures and FinalizedFeaturesEpoch, as a
// broker reports them (the owner of the listener knows them: admin/controller_api.h).
struct ApiVersionRange {
  int16_t api_key;
  int16_t min_version;
  int16_t max_version;
};
struct FeatureLevelRange {
  std::string name;
  int16_t min_level = 0;
  int16_t max_level = 0;
};
struct ApiVersionsFeatures {
  std::vector<FeatureLevelRange> supported;
  std::vector<FeatureLevelRange> finalized;  // min_level == max_level == the finalized level
  int64_t finalized_epoch = -1;  // -1: none finalized
};
// Fills an ApiVersions answer's v3+ feature fields (SupportedFeatures, FinalizedFeatures,
// FinalizedFeaturesEpoch) from `features`: the Raft listener's answer and a broker's alike.
void put_api_versions_features(const ApiVersionsFeatures& features, protocol::ApiVersionsResponse& response);
Bytes encode_api_versions_response(int16_t request_version, int32_t correlation_id,
                                   std::span<const ApiVersionRange> extra = {},
                                   const ApiVersionsFeatures* features = nullptr);

// What the requester remembers about a request in flight.
struct OutboundRequest {
  RequestKey key;
  RaftMessage request;
};
// The correlation id at the start of any response header.
Result<int32_t> peek_correlation_id(std::span<const uint8_t> frame);
// Decodes the response to `request`. nullopt: a well-formed response that carries no Raft message
// (a top-level or unknown partition error); the caller drops it.
Result<std::optional<RaftMessage>> decode_response(const SharedBytes& frame, const OutboundRequest& request,
                                                   const WireOptions& options);

}  // namespace floe::raft
