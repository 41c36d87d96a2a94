#include "raft/wire.h"

#include <type_traits>

#include "protocol/api.h"
#include "protocol/generated/api_versions_response.h"
#include "protocol/generated/begin_quorum_epoch_request.h"
#include "protocol/generated/begin_quorum_epoch_response.h"
#include "protocol/generated/end_quorum_epoch_request.h"
#include "protocol/generated/end_quorum_epoch_response.h"
#include "protocol/generated/fetch_request.h"
#include "protocol/generated/fetch_response.h"
#include "protocol/generated/fetch_snapshot_request.h"
#include "protocol/generated/fetch_snapshot_response.h"
#include "protocol/generated/request_header.h"
#include "protocol/generated/response_header.h"
#include "protocol/generated/vote_request.h"
#include "protocol/generated/vote_response.h"
#include "protocol/records/control.h"
#include "protocol/records/record.h"
#include "protocol/records/record_batch.h"

namespace floe::raft {

namespace p = floe::protocol;

Uuid metadata_topic_id() {
  Uuid id;
  id.bytes[15] = 1;
  return id;
}

namespace {

// The lowest version decode accepts per API (the highest is write_version()).
int16_t lowest_version(int16_t api_key) {
  return api_key == raft_api::kFetch ? 12 : 0;  // Fetch v12 added LastFetchedEpoch/DivergingEpoch
}

bool accepted(int16_t api_key, int16_t version) {
  switch (api_key) {
    case raft_api::kFetch:
    case raft_api::kVote:
    case raft_api::kBeginQuorumEpoch:
    case raft_api::kEndQuorumEpoch:
    case raft_api::kFetchSnapshot:
      return version >= lowest_version(api_key) && version <= write_version(api_key);
    default:
      return false;
  }
}

Error malformed(const std::string& what) { return Error(Errc::invalid_value, "raft wire: " + what); }

Status expect_end(const ByteReader& r, const char* what) {
  if (!r.at_end()) return malformed(std::string(what) + ": " + std::to_string(r.remaining()) + " trailing bytes");
  return ok_status();
}

Status check_cluster(const std::optional<std::string>& theirs, const WireOptions& options) {
  if (options.cluster_id && theirs && *theirs != *options.cluster_id) {
    return malformed("cluster id '" + *theirs + "' is not ours ('" + *options.cluster_id + "')");
  }
  return ok_status();
}

Status check_epoch(int32_t epoch, const char* what) {
  if (epoch < 0) return malformed(std::string("negative ") + what);
  return ok_status();
}

Status check_node(int32_t id, bool allow_none, const char* what) {
  if (id < 0 && !(allow_none && id == kNoNode)) return malformed(std::string("invalid ") + what + " " + std::to_string(id));
  return ok_status();
}

// The one topic/partition every KRaft message carries, by name.
template <typename Topic>
Status check_named_topic(const std::vector<Topic>& topics) {
  if (topics.size() != 1) return malformed("expected exactly one topic, got " + std::to_string(topics.size()));
  if (topics[0].topic_name != kMetadataTopicName) return malformed("unexpected topic '" + topics[0].topic_name + "'");
  if (topics[0].partitions.size() != 1) return malformed("expected exactly one partition");
  if (topics[0].partitions[0].partition_index != kMetadataPartition) return malformed("unexpected partition");
  return ok_status();
}

template <typename Message>
void put_named_partition(Message& m, typename std::remove_reference_t<decltype(m.topics[0].partitions[0])> partition) {
  auto& topic = m.topics.emplace_back();
  topic.topic_name = std::string(kMetadataTopicName);
  partition.partition_index = kMetadataPartition;
  topic.partitions.push_back(std::move(partition));
}

void put_request_header(ByteWriter& w, int16_t api_key, int16_t version, int32_t correlation_id,
                        const std::string& client_id) {
  p::RequestHeader h;
  h.request_api_key = api_key;
  h.request_api_version = version;
  h.correlation_id = correlation_id;
  h.client_id = client_id;
  h.encode(w, p::request_header_version(api_key, version));
}

template <typename Endpoints>
void put_leader_endpoint(Endpoints& endpoints, const WireOptions& options) {
  if (options.host.empty()) return;
  auto& e = endpoints.emplace_back();
  e.name = options.listener_name;
  e.host = options.host;
  e.port = options.port;
}

// ---- records ----

Result<Bytes> encode_entries(const std::vector<LogEntry>& entries, Offset first_offset) {
  ByteWriter out;
  Bytes control_key = records::encode_control_key(records::ControlType::leader_change);
  size_t i = 0;
  while (i < entries.size()) {
    size_t j = i;
    while (j < entries.size() && entries[j].epoch == entries[i].epoch && entries[j].control == entries[i].control) ++j;
    records::BatchOptions batch;
    batch.base_offset = first_offset + static_cast<Offset>(i);
    batch.partition_leader_epoch = entries[i].epoch;
    batch.is_control = entries[i].control;
    records::RecordBatchBuilder builder(batch);
    for (size_t k = i; k < j; ++k) {
      std::span<const uint8_t> value(reinterpret_cast<const uint8_t*>(entries[k].data.data()), entries[k].data.size());
      std::optional<std::span<const uint8_t>> key;
      if (entries[k].control) key = std::span<const uint8_t>(control_key);
      builder.append(records::kNoTimestamp, key, value);
    }
    auto bytes = builder.build();
    if (!bytes.ok()) return bytes.take_error();
    out.write_bytes(*bytes);
    i = j;
  }
  return out.take();
}

// Entries from `fetch_offset` on. Records before fetch_offset (a batch that starts earlier) are
// skipped; after it, offsets must be contiguous and epochs positive, non-decreasing and at most
// the leader's epoch.
Status decode_entries(const SharedBytes& bytes, Offset fetch_offset, Epoch leader_epoch, const WireOptions& options,
                      std::vector<LogEntry>& out) {
  records::ValidateOptions validate;
  validate.allow_partial_tail = true;  // a size-limited fetch may end mid-batch
  records::BatchReader reader(bytes, validate);
  records::DecodeOptions decode;
  decode.max_decompressed_bytes = options.max_decompressed_bytes;
  Offset next = fetch_offset;
  Epoch last_epoch = 0;
  for (;;) {
    auto batch = reader.next();
    if (!batch.ok()) return batch.take_error();
    if (!*batch) return ok_status();
    const records::RecordBatchView& view = **batch;
    const records::RecordBatchHeader& h = view.header();
    if (h.is_transactional()) return malformed("transactional batch in the metadata log");
    Epoch epoch = h.partition_leader_epoch;
    if (epoch < 1 || epoch < last_epoch || epoch > leader_epoch) {
      return malformed("batch epoch " + std::to_string(epoch) + " out of order (leader epoch " +
                       std::to_string(leader_epoch) + ")");
    }
    auto recs = records::decode_records(view, decode);
    if (!recs.ok()) return recs.take_error();
    for (const records::Record& rec : *recs) {
      Offset offset = rec.offset(h);
      if (offset < fetch_offset) continue;
      if (offset != next) return malformed("record offset " + std::to_string(offset) + ", expected " + std::to_string(next));
      LogEntry entry;
      entry.epoch = epoch;
      entry.control = h.is_control();
      if (entry.control) {
        if (!rec.key) return malformed("control record without a key");
        auto key = records::decode_control_key(rec.key->span());
        if (!key.ok()) return key.take_error();
        if (key->type != static_cast<int16_t>(records::ControlType::leader_change)) {
          return Error(Errc::unsupported, "raft wire: control record type " + std::to_string(key->type));
        }
      }
      if (rec.value) entry.data.assign(reinterpret_cast<const char*>(rec.value->data()), rec.value->size());
      out.push_back(std::move(entry));
      ++next;
    }
    last_epoch = epoch;
  }
}

// ---- requests: encode ----

void encode_body(ByteWriter& w, const VoteRequest& r, NodeId to, int16_t v, const WireOptions& o) {
  FLOE_ASSERT_MSG(v >= 2 || !r.pre_vote, "a pre-vote needs Vote v2");
  p::VoteRequest m;
  m.cluster_id = o.cluster_id;
  m.voter_id = to;
  p::VoteRequest::PartitionData part;
  part.candidate_epoch = r.candidate_epoch;
  part.candidate_id = r.candidate_id;
  part.last_offset_epoch = r.last_offset_epoch;
  part.last_offset = r.last_offset;
  part.pre_vote = r.pre_vote;
  put_named_partition(m, std::move(part));
  m.encode(w, v);
}

void encode_body(ByteWriter& w, const BeginQuorumEpochRequest& r, NodeId to, int16_t v, const WireOptions& o) {
  p::BeginQuorumEpochRequest m;
  m.cluster_id = o.cluster_id;
  m.voter_id = to;
  p::BeginQuorumEpochRequest::PartitionData part;
  part.leader_id = r.leader_id;
  part.leader_epoch = r.leader_epoch;
  put_named_partition(m, std::move(part));
  put_leader_endpoint(m.leader_endpoints, o);
  m.encode(w, v);
}

void encode_body(ByteWriter& w, const EndQuorumEpochRequest& r, NodeId, int16_t v, const WireOptions& o) {
  p::EndQuorumEpochRequest m;
  m.cluster_id = o.cluster_id;
  p::EndQuorumEpochRequest::PartitionData part;
  part.leader_id = r.leader_id;
  part.leader_epoch = r.leader_epoch;
  for (NodeId id : r.preferred_successors) {
    part.preferred_successors.push_back(id);
    part.preferred_candidates.emplace_back().candidate_id = id;
  }
  put_named_partition(m, std::move(part));
  put_leader_endpoint(m.leader_endpoints, o);
  m.encode(w, v);
}

void encode_body(ByteWriter& w, const FetchRequest& r, NodeId, int16_t v, const WireOptions& o) {
  p::FetchRequest m;
  m.cluster_id = o.cluster_id;
  m.replica_id = r.replica_id;  // v0-14
  m.replica_state.replica_id = r.replica_id;  // v15+
  m.max_wait_ms = r.max_wait_ms < 0 ? 0 : r.max_wait_ms;  // Kafka's MaxWaitMs: the long-poll bound
  m.min_bytes = 0;
  auto& topic = m.topics.emplace_back();
  topic.topic = std::string(kMetadataTopicName);  // v0-12
  topic.topic_id = metadata_topic_id();  // v13+
  auto& part = topic.partitions.emplace_back();
  part.partition = kMetadataPartition;
  part.current_leader_epoch = r.current_leader_epoch;
  part.fetch_offset = r.fetch_offset;
  part.last_fetched_epoch = r.last_fetched_epoch;
  part.log_start_offset = 0;
  part.partition_max_bytes = 8 << 20;
  m.encode(w, v);
}

void encode_body(ByteWriter& w, const FetchSnapshotRequest& r, NodeId, int16_t v, const WireOptions& o) {
  p::FetchSnapshotRequest m;
  m.cluster_id = o.cluster_id;
  m.replica_id = r.replica_id;
  m.max_bytes = r.max_bytes;
  auto& topic = m.topics.emplace_back();
  topic.name = std::string(kMetadataTopicName);
  auto& part = topic.partitions.emplace_back();
  part.partition = kMetadataPartition;
  part.current_leader_epoch = r.current_leader_epoch;
  part.snapshot_id.end_offset = r.snapshot_id.end_offset;
  part.snapshot_id.epoch = r.snapshot_id.epoch;
  part.position = r.position;
  m.encode(w, v);
}

// ---- requests: decode ----

Status check_snapshot_id(int64_t end_offset, int32_t epoch) {
  if (end_offset <= 0 || epoch <= 0) return malformed("invalid snapshot id");
  return ok_status();
}

Result<RaftMessage> decode_fetch_snapshot(ByteReader& r, int16_t v, const WireOptions& o, InboundRequest& in) {
  p::FetchSnapshotRequest m;
  FLOE_TRY(m.decode(r, v));
  FLOE_TRY(expect_end(r, "FetchSnapshot request"));
  FLOE_TRY(check_cluster(m.cluster_id, o));
  if (m.topics.size() != 1 || m.topics[0].name != kMetadataTopicName) return malformed("FetchSnapshot: not the metadata topic");
  if (m.topics[0].partitions.size() != 1 || m.topics[0].partitions[0].partition != kMetadataPartition) {
    return malformed("FetchSnapshot: expected exactly partition 0");
  }
  const auto& part = m.topics[0].partitions[0];
  FLOE_TRY(check_node(m.replica_id, false, "replica id"));
  FLOE_TRY(check_epoch(part.current_leader_epoch, "current leader epoch"));
  FLOE_TRY(check_snapshot_id(part.snapshot_id.end_offset, part.snapshot_id.epoch));
  if (part.position < 0) return malformed("FetchSnapshot: negative position");
  if (m.max_bytes <= 0) return malformed("FetchSnapshot: max bytes must be positive");
  in.from = m.replica_id;
  FetchSnapshotRequest out;
  out.request_id = static_cast<uint32_t>(in.key.correlation_id);
  out.replica_id = m.replica_id;
  out.current_leader_epoch = part.current_leader_epoch;
  out.snapshot_id = {part.snapshot_id.end_offset, part.snapshot_id.epoch};
  out.position = part.position;
  out.max_bytes = m.max_bytes;
  return RaftMessage(out);
}

Result<RaftMessage> decode_vote(ByteReader& r, int16_t v, const WireOptions& o, InboundRequest& in) {
  p::VoteRequest m;
  FLOE_TRY(m.decode(r, v));
  FLOE_TRY(expect_end(r, "Vote request"));
  FLOE_TRY(check_cluster(m.cluster_id, o));
  FLOE_TRY(check_named_topic(m.topics));
  const auto& part = m.topics[0].partitions[0];
  FLOE_TRY(check_epoch(part.candidate_epoch, "candidate epoch"));
  FLOE_TRY(check_epoch(part.last_offset_epoch, "last offset epoch"));
  FLOE_TRY(check_node(part.candidate_id, false, "candidate id"));
  if (part.last_offset < 0) return malformed("negative last offset");
  in.from = part.candidate_id;
  in.to = v >= 1 ? m.voter_id : kNoNode;
  return RaftMessage(VoteRequest{part.candidate_epoch, part.candidate_id, part.last_offset_epoch, part.last_offset,
                                 v >= 2 && part.pre_vote});
}

Result<RaftMessage> decode_begin(ByteReader& r, int16_t v, const WireOptions& o, InboundRequest& in) {
  p::BeginQuorumEpochRequest m;
  FLOE_TRY(m.decode(r, v));
  FLOE_TRY(expect_end(r, "BeginQuorumEpoch request"));
  FLOE_TRY(check_cluster(m.cluster_id, o));
  FLOE_TRY(check_named_topic(m.topics));
  const auto& part = m.topics[0].partitions[0];
  FLOE_TRY(check_epoch(part.leader_epoch, "leader epoch"));
  FLOE_TRY(check_node(part.leader_id, false, "leader id"));
  in.from = part.leader_id;
  in.to = v >= 1 ? m.voter_id : kNoNode;
  return RaftMessage(BeginQuorumEpochRequest{part.leader_epoch, part.leader_id});
}

Result<RaftMessage> decode_end(ByteReader& r, int16_t v, const WireOptions& o, InboundRequest& in) {
  p::EndQuorumEpochRequest m;
  FLOE_TRY(m.decode(r, v));
  FLOE_TRY(expect_end(r, "EndQuorumEpoch request"));
  FLOE_TRY(check_cluster(m.cluster_id, o));
  FLOE_TRY(check_named_topic(m.topics));
  const auto& part = m.topics[0].partitions[0];
  FLOE_TRY(check_epoch(part.leader_epoch, "leader epoch"));
  FLOE_TRY(check_node(part.leader_id, false, "leader id"));
  EndQuorumEpochRequest out{part.leader_epoch, part.leader_id, {}};
  if (v >= 1) {
    for (const auto& c : part.preferred_candidates) out.preferred_successors.push_back(c.candidate_id);
  } else {
    out.preferred_successors = part.preferred_successors;
  }
  for (NodeId id : out.preferred_successors) FLOE_TRY(check_node(id, false, "preferred successor"));
  in.from = part.leader_id;
  return RaftMessage(std::move(out));
}

Result<RaftMessage> decode_fetch(ByteReader& r, int16_t v, const WireOptions& o, InboundRequest& in) {
  p::FetchRequest m;
  FLOE_TRY(m.decode(r, v));
  FLOE_TRY(expect_end(r, "Fetch request"));
  FLOE_TRY(check_cluster(m.cluster_id, o));
  if (m.topics.size() != 1) return malformed("Fetch: expected exactly one topic");
  const auto& topic = m.topics[0];
  if (v >= 13 ? topic.topic_id != metadata_topic_id() : topic.topic != kMetadataTopicName) {
    return malformed("Fetch: not the metadata topic");
  }
  if (topic.partitions.size() != 1 || topic.partitions[0].partition != kMetadataPartition) {
    return malformed("Fetch: expected exactly partition 0");
  }
  const auto& part = topic.partitions[0];
  NodeId replica = v >= 15 ? m.replica_state.replica_id : m.replica_id;
  FLOE_TRY(check_node(replica, false, "replica id"));
  FLOE_TRY(check_epoch(part.current_leader_epoch, "current leader epoch"));
  FLOE_TRY(check_epoch(part.last_fetched_epoch, "last fetched epoch"));
  in.from = replica;
  FetchRequest out;
  out.request_id = static_cast<uint32_t>(in.key.correlation_id);
  out.replica_id = replica;
  out.current_leader_epoch = part.current_leader_epoch;
  out.fetch_offset = part.fetch_offset;
  out.last_fetched_epoch = part.last_fetched_epoch;
  out.max_wait_ms = std::max<int32_t>(0, m.max_wait_ms);
  return RaftMessage(out);
}

// ---- responses ----

template <typename Partition>
void set_leader(Partition& part, Epoch epoch, NodeId leader) {
  part.error_code = kafka_error::kNone;
  part.leader_epoch = epoch;
  part.leader_id = leader;
}

Status check_leader(int32_t epoch, int32_t leader) {
  FLOE_TRY(check_epoch(epoch, "leader epoch"));
  return check_node(leader, true, "leader id");
}

RaftError raft_error(int16_t code, bool& known) {
  known = true;
  switch (code) {
    case kafka_error::kNone: return RaftError::none;
    case kafka_error::kNotLeaderOrFollower: return RaftError::not_leader_or_follower;
    case kafka_error::kFencedLeaderEpoch: return RaftError::fenced_leader_epoch;
    case kafka_error::kSnapshotNotFound: return RaftError::snapshot_not_found;
    case kafka_error::kPositionOutOfRange: return RaftError::position_out_of_range;
    default: known = false; return RaftError::none;
  }
}

int16_t kafka_code(RaftError error) {
  switch (error) {
    case RaftError::none: return kafka_error::kNone;
    case RaftError::not_leader_or_follower: return kafka_error::kNotLeaderOrFollower;
    case RaftError::fenced_leader_epoch: return kafka_error::kFencedLeaderEpoch;
    case RaftError::snapshot_not_found: return kafka_error::kSnapshotNotFound;
    case RaftError::position_out_of_range: return kafka_error::kPositionOutOfRange;
  }
  return kafka_error::kUnknownServerError;
}

}  // namespace

bool is_request(const RaftMessage& m) {
  return std::holds_alternative<VoteRequest>(m) || std::holds_alternative<BeginQuorumEpochRequest>(m) ||
         std::holds_alternative<EndQuorumEpochRequest>(m) || std::holds_alternative<FetchRequest>(m) ||
         std::holds_alternative<FetchSnapshotRequest>(m);
}

int16_t api_key_of(const RaftMessage& m) {
  if (std::holds_alternative<VoteRequest>(m) || std::holds_alternative<VoteResponse>(m)) return raft_api::kVote;
  if (std::holds_alternative<BeginQuorumEpochRequest>(m) || std::holds_alternative<BeginQuorumEpochResponse>(m)) {
    return raft_api::kBeginQuorumEpoch;
  }
  if (std::holds_alternative<EndQuorumEpochRequest>(m) || std::holds_alternative<EndQuorumEpochResponse>(m)) {
    return raft_api::kEndQuorumEpoch;
  }
  if (std::holds_alternative<FetchSnapshotRequest>(m) || std::holds_alternative<FetchSnapshotResponse>(m)) {
    return raft_api::kFetchSnapshot;
  }
  return raft_api::kFetch;
}

int16_t write_version(int16_t api_key) {
  switch (api_key) {
    case raft_api::kFetch: return raft_version::kFetch;
    case raft_api::kVote: return raft_version::kVote;
    case raft_api::kBeginQuorumEpoch: return raft_version::kBeginQuorumEpoch;
    case raft_api::kEndQuorumEpoch: return raft_version::kEndQuorumEpoch;
    case raft_api::kFetchSnapshot: return raft_version::kFetchSnapshot;
  }
  FLOE_ASSERT_MSG(false, "not a Raft API");
  return 0;
}

Bytes encode_request(const RaftMessage& request, NodeId to, int32_t correlation_id, const WireOptions& options,
                     std::optional<int16_t> version) {
  FLOE_ASSERT(is_request(request));
  int16_t api_key = api_key_of(request);
  int16_t v = version.value_or(write_version(api_key));
  FLOE_ASSERT(accepted(api_key, v));
  ByteWriter w(128);
  put_request_header(w, api_key, v, correlation_id, options.client_id);
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, VoteRequest> || std::is_same_v<T, BeginQuorumEpochRequest> ||
                      std::is_same_v<T, EndQuorumEpochRequest> || std::is_same_v<T, FetchRequest> ||
                      std::is_same_v<T, FetchSnapshotRequest>) {
          encode_body(w, m, to, v, options);
        }
      },
      request);
  return w.take();
}

Result<InboundRequest> decode_request(const SharedBytes& frame, const WireOptions& options) {
  ByteReader r(frame);
  if (frame.size() < 4) return Error(Errc::truncated, "raft wire: request shorter than its header");
  auto api_key = static_cast<int16_t>((frame.data()[0] << 8) | frame.data()[1]);
  auto version = static_cast<int16_t>((frame.data()[2] << 8) | frame.data()[3]);
  if (!accepted(api_key, version)) {
    return Error(Errc::unsupported, "raft wire: api " + std::to_string(api_key) + " v" + std::to_string(version) +
                                        " is not a Raft request floe accepts");
  }
  p::RequestHeader header;
  FLOE_TRY(header.decode(r, p::request_header_version(api_key, version)));
  InboundRequest in{{api_key, version, header.correlation_id}, header.client_id, kNoNode, kNoNode, VoteRequest{}};
  Result<RaftMessage> message = Error(Errc::internal, "unreachable");
  switch (api_key) {
    case raft_api::kVote: message = decode_vote(r, version, options, in); break;
    case raft_api::kBeginQuorumEpoch: message = decode_begin(r, version, options, in); break;
    case raft_api::kEndQuorumEpoch: message = decode_end(r, version, options, in); break;
    case raft_api::kFetchSnapshot: message = decode_fetch_snapshot(r, version, options, in); break;
    default: message = decode_fetch(r, version, options, in); break;
  }
  if (!message.ok()) return message.take_error();
  in.message = std::move(*message);
  return in;
}

Result<Bytes> encode_response(const RaftMessage& response, const RequestKey& answers) {
  if (is_request(response) || api_key_of(response) != answers.api_key) {
    return malformed(std::string(message_name(response)) + " does not answer api " + std::to_string(answers.api_key));
  }
  if (!accepted(answers.api_key, answers.api_version)) return malformed("unsupported response version");
  const int16_t v = answers.api_version;
  ByteWriter w(128);
  p::ResponseHeader header;
  header.correlation_id = answers.correlation_id;
  header.encode(w, p::response_header_version(answers.api_key, v));
  Status status = ok_status();
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, VoteResponse>) {
          p::VoteResponse out;
          p::VoteResponse::PartitionData part;
          set_leader(part, m.leader_epoch, m.leader_id);
          part.vote_granted = m.vote_granted;
          put_named_partition(out, std::move(part));
          out.encode(w, v);
        } else if constexpr (std::is_same_v<T, BeginQuorumEpochResponse>) {
          p::BeginQuorumEpochResponse out;
          p::BeginQuorumEpochResponse::PartitionData part;
          set_leader(part, m.leader_epoch, m.leader_id);
          put_named_partition(out, std::move(part));
          out.encode(w, v);
        } else if constexpr (std::is_same_v<T, EndQuorumEpochResponse>) {
          p::EndQuorumEpochResponse out;
          p::EndQuorumEpochResponse::PartitionData part;
          set_leader(part, m.leader_epoch, m.leader_id);
          put_named_partition(out, std::move(part));
          out.encode(w, v);
        } else if constexpr (std::is_same_v<T, FetchResponse>) {
          p::FetchResponse out;
          auto& topic = out.responses.emplace_back();
          topic.topic = std::string(kMetadataTopicName);
          topic.topic_id = metadata_topic_id();
          auto& part = topic.partitions.emplace_back();
          part.partition_index = kMetadataPartition;
          part.error_code = kafka_code(m.error);
          part.high_watermark = m.high_watermark;
          part.log_start_offset = 0;
          part.current_leader.leader_id = m.leader_id;
          part.current_leader.leader_epoch = m.leader_epoch;
          part.log_start_offset = m.log_start_offset;
          if (m.diverging) {
            part.diverging_epoch.epoch = m.diverging->epoch;
            part.diverging_epoch.end_offset = m.diverging->end_offset;
          }
          if (m.snapshot_id) {
            part.snapshot_id.end_offset = m.snapshot_id->end_offset;
            part.snapshot_id.epoch = m.snapshot_id->epoch;
          }
          auto records = encode_entries(m.records, m.fetch_offset);
          if (!records.ok()) {
            status = records.take_error();
            return;
          }
          part.records = SharedBytes(std::move(*records));
          out.encode(w, v);
        } else if constexpr (std::is_same_v<T, FetchSnapshotResponse>) {
          p::FetchSnapshotResponse out;
          auto& topic = out.topics.emplace_back();
          topic.name = std::string(kMetadataTopicName);
          auto& part = topic.partitions.emplace_back();
          part.index = kMetadataPartition;
          part.error_code = kafka_code(m.error);
          part.snapshot_id.end_offset = m.snapshot_id.end_offset;
          part.snapshot_id.epoch = m.snapshot_id.epoch;
          part.current_leader.leader_id = m.leader_id;
          part.current_leader.leader_epoch = m.leader_epoch;
          part.size = m.size_bytes;
          part.position = m.position;
          part.unaligned_records = SharedBytes(Bytes(m.bytes.begin(), m.bytes.end()));
          out.encode(w, v);
        }
      },
      response);
  if (!status.ok()) return status.take_error();
  return w.take();
}

Bytes encode_error_response(const RequestKey& answers, int16_t error_code) {
  FLOE_ASSERT(accepted(answers.api_key, answers.api_version));
  const int16_t v = answers.api_version;
  ByteWriter w(32);
  p::ResponseHeader header;
  header.correlation_id = answers.correlation_id;
  header.encode(w, p::response_header_version(answers.api_key, v));
  switch (answers.api_key) {
    case raft_api::kVote: {
      p::VoteResponse m;
      m.error_code = error_code;
      m.encode(w, v);
      break;
    }
    case raft_api::kBeginQuorumEpoch: {
      p::BeginQuorumEpochResponse m;
      m.error_code = error_code;
      m.encode(w, v);
      break;
    }
    case raft_api::kEndQuorumEpoch: {
      p::EndQuorumEpochResponse m;
      m.error_code = error_code;
      m.encode(w, v);
      break;
    }
    case raft_api::kFetchSnapshot: {
      p::FetchSnapshotResponse m;
      m.error_code = error_code;
      m.encode(w, v);
      break;
    }
    default: {
      p::FetchResponse m;
      m.error_code = error_code;
      m.encode(w, v);
      break;
    }
  }
  return w.take();
}

void put_api_versions_features(const ApiVersionsFeatures& features, p::ApiVersionsResponse& response) {
  for (const auto& f : features.supported) response.supported_features.push_back({f.name, f.min_level, f.max_level, {}});
  for (const auto& f : features.finalized) response.finalized_features.push_back({f.name, f.max_level, f.min_level, {}});
  response.finalized_features_epoch = features.finalized_epoch;
}

Bytes encode_api_versions_response(int16_t request_version, int32_t correlation_id,
                                   std::span<const ApiVersionRange> extra, const ApiVersionsFeatures* features) {
  constexpr int16_t kHighestApiVersions = p::ApiVersionsResponse::kHighestVersion;
  const bool supported = request_version >= 0 && request_version <= kHighestApiVersions;
  const int16_t v = supported ? request_version : 0;
  ByteWriter w(128);
  p::ResponseHeader header;
  header.correlation_id = correlation_id;
  header.encode(w, 0);  // ApiVersions: always response header v0
  p::ApiVersionsResponse m;
  m.error_code = supported ? kafka_error::kNone : kafka_error::kUnsupportedVersion;
  auto add = [&](int16_t key, int16_t min, int16_t max) {
    auto& a = m.api_keys.emplace_back();
    a.api_key = key;
    a.min_version = min;
    a.max_version = max;
  };
  add(raft_api::kFetch, lowest_version(raft_api::kFetch), write_version(raft_api::kFetch));
  add(raft_api::kApiVersions, 0, kHighestApiVersions);
  if (supported) {
    for (int16_t key : {raft_api::kVote, raft_api::kBeginQuorumEpoch, raft_api::kEndQuorumEpoch, raft_api::kFetchSnapshot}) {
      add(key, lowest_version(key), write_version(key));
    }
  }
  for (const auto& a : extra) add(a.api_key, a.min_version, a.max_version);
  if (supported && v >= 3 && features) put_api_versions_features(*features, m);
  m.encode(w, v);
  return w.take();
}

Result<int32_t> peek_correlation_id(std::span<const uint8_t> frame) {
  ByteReader r(frame);
  return r.read_i32();
}

Result<std::optional<RaftMessage>> decode_response(const SharedBytes& frame, const OutboundRequest& request,
                                                   const WireOptions& options) {
  const RequestKey& key = request.key;
  if (!accepted(key.api_key, key.api_version) || api_key_of(request.request) != key.api_key ||
      !is_request(request.request)) {
    return Error(Errc::internal, "raft wire: the pending request does not match its key");
  }
  const int16_t v = key.api_version;
  ByteReader r(frame);
  p::ResponseHeader header;
  FLOE_TRY(header.decode(r, p::response_header_version(key.api_key, v)));
  if (header.correlation_id != key.correlation_id) {
    return malformed("response correlation id " + std::to_string(header.correlation_id) + ", expected " +
                     std::to_string(key.correlation_id));
  }
  using Out = std::optional<RaftMessage>;
  switch (key.api_key) {
    case raft_api::kVote: {
      p::VoteResponse m;
      FLOE_TRY(m.decode(r, v));
      FLOE_TRY(expect_end(r, "Vote response"));
      if (m.error_code != kafka_error::kNone) return Out();
      FLOE_TRY(check_named_topic(m.topics));
      const auto& part = m.topics[0].partitions[0];
      FLOE_TRY(check_leader(part.leader_epoch, part.leader_id));
      const auto& asked = std::get<VoteRequest>(request.request);
      return Out(VoteResponse{part.leader_epoch, part.leader_id,
                              part.error_code == kafka_error::kNone && part.vote_granted, asked.pre_vote,
                              asked.candidate_epoch});
    }
    case raft_api::kBeginQuorumEpoch: {
      p::BeginQuorumEpochResponse m;
      FLOE_TRY(m.decode(r, v));
      FLOE_TRY(expect_end(r, "BeginQuorumEpoch response"));
      if (m.error_code != kafka_error::kNone) return Out();
      FLOE_TRY(check_named_topic(m.topics));
      const auto& part = m.topics[0].partitions[0];
      FLOE_TRY(check_leader(part.leader_epoch, part.leader_id));
      return Out(BeginQuorumEpochResponse{part.leader_epoch, part.leader_id});
    }
    case raft_api::kEndQuorumEpoch: {
      p::EndQuorumEpochResponse m;
      FLOE_TRY(m.decode(r, v));
      FLOE_TRY(expect_end(r, "EndQuorumEpoch response"));
      if (m.error_code != kafka_error::kNone) return Out();
      FLOE_TRY(check_named_topic(m.topics));
      const auto& part = m.topics[0].partitions[0];
      FLOE_TRY(check_leader(part.leader_epoch, part.leader_id));
      return Out(EndQuorumEpochResponse{part.leader_epoch, part.leader_id});
    }
    default: {
      p::FetchResponse m;
      FLOE_TRY(m.decode(r, v));
      FLOE_TRY(expect_end(r, "Fetch response"));
      if (m.error_code != kafka_error::kNone) return Out();
      if (m.responses.size() != 1) return malformed("Fetch: expected exactly one topic");
      const auto& topic = m.responses[0];
      if (v >= 13 ? topic.topic_id != metadata_topic_id() : topic.topic != kMetadataTopicName) {
        return malformed("Fetch: not the metadata topic");
      }
      if (topic.partitions.size() != 1 || topic.partitions[0].partition_index != kMetadataPartition) {
        return malformed("Fetch: expected exactly partition 0");
      }
      const auto& part = topic.partitions[0];
      bool known = false;
      RaftError error = raft_error(part.error_code, known);
      if (!known) return Out();
      FLOE_TRY(check_leader(part.current_leader.leader_epoch, part.current_leader.leader_id));
      const auto& asked = std::get<FetchRequest>(request.request);
      FetchResponse out;
      out.request_id = asked.request_id;
      out.error = error;
      out.leader_epoch = part.current_leader.leader_epoch;
      out.leader_id = part.current_leader.leader_id;
      out.high_watermark = part.high_watermark;
      out.fetch_offset = asked.fetch_offset;
      out.last_fetched_epoch = asked.last_fetched_epoch;
      if (part.diverging_epoch.epoch != -1) {
        if (part.diverging_epoch.epoch < 0 || part.diverging_epoch.end_offset < 0) {
          return malformed("Fetch: invalid diverging epoch");
        }
        out.diverging = DivergingEpoch{part.diverging_epoch.epoch, part.diverging_epoch.end_offset};
      }
      if (part.snapshot_id.end_offset != -1 || part.snapshot_id.epoch != -1) {
        FLOE_TRY(check_snapshot_id(part.snapshot_id.end_offset, part.snapshot_id.epoch));
        if (out.diverging) return malformed("Fetch: both a diverging epoch and a snapshot id");
        out.snapshot_id = SnapshotId{part.snapshot_id.end_offset, part.snapshot_id.epoch};
      }
      out.log_start_offset = std::max<int64_t>(part.log_start_offset, 0);
      if (part.records && !part.records->empty()) {
        FLOE_TRY(decode_entries(*part.records, asked.fetch_offset, out.leader_epoch, options, out.records));
      }
      return Out(std::move(out));
    }
    case raft_api::kFetchSnapshot: {
      p::FetchSnapshotResponse m;
      FLOE_TRY(m.decode(r, v));
      FLOE_TRY(expect_end(r, "FetchSnapshot response"));
      if (m.error_code != kafka_error::kNone) return Out();
      if (m.topics.size() != 1 || m.topics[0].name != kMetadataTopicName) {
        return malformed("FetchSnapshot: not the metadata topic");
      }
      if (m.topics[0].partitions.size() != 1 || m.topics[0].partitions[0].index != kMetadataPartition) {
        return malformed("FetchSnapshot: expected exactly partition 0");
      }
      const auto& part = m.topics[0].partitions[0];
      bool known = false;
      RaftError error = raft_error(part.error_code, known);
      if (!known) return Out();
      FLOE_TRY(check_leader(part.current_leader.leader_epoch, part.current_leader.leader_id));
      const auto& asked = std::get<FetchSnapshotRequest>(request.request);
      FetchSnapshotResponse out;
      out.request_id = asked.request_id;
      out.error = error;
      out.leader_epoch = part.current_leader.leader_epoch;
      out.leader_id = part.current_leader.leader_id;
      out.snapshot_id = asked.snapshot_id;
      out.position = asked.position;
      if (error == RaftError::none) {
        if (part.snapshot_id.end_offset != asked.snapshot_id.end_offset || part.snapshot_id.epoch != asked.snapshot_id.epoch ||
            part.position != asked.position) {
          return malformed("FetchSnapshot: the answer is for another snapshot or position");
        }
        const int64_t chunk = static_cast<int64_t>(part.unaligned_records.size());
        if (part.size < 0 || part.position + chunk > part.size) return malformed("FetchSnapshot: chunk beyond the snapshot size");
        if (asked.max_bytes > 0 && chunk > asked.max_bytes) return malformed("FetchSnapshot: chunk larger than asked");
        out.size_bytes = part.size;
        out.bytes.assign(reinterpret_cast<const char*>(part.unaligned_records.data()), part.unaligned_records.size());
      }
      return Out(std::move(out));
    }
  }
}

}  // namespace floe::raft
