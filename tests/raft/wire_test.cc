// raft/wire.h: every Raft message survives RaftMessage -> Kafka frame -> RaftMessage, the frames
// carry the fields Kafka's KRaft expects (checked with the generated codecs), and malformed input
// is an error, never a crash.
#include "raft/wire.h"

#include <catch2/catch.hpp>
#include <map>
#include <random>

#include "protocol/api.h"
#include "protocol/generated/api_versions_response.h"
#include "protocol/generated/begin_quorum_epoch_request.h"
#include "protocol/generated/end_quorum_epoch_request.h"
#include "protocol/generated/fetch_request.h"
#include "protocol/generated/fetch_response.h"
#include "protocol/generated/request_header.h"
#include "protocol/generated/response_header.h"
#include "protocol/generated/vote_request.h"
#include "protocol/generated/vote_response.h"
#include "protocol/records/control.h"
#include "protocol/records/record.h"
#include "protocol/records/record_batch.h"

using namespace floe;
using namespace floe::raft;

namespace {

WireOptions options() {
  WireOptions o;
  o.cluster_id = "floe-test-cluster";
  o.client_id = "floe-raft-1";
  o.host = "127.0.0.1";
  o.port = 9093;
  return o;
}

bool same(const RaftMessage& a, const RaftMessage& b) {
  if (a.index() != b.index()) return false;
  return std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        const T& y = std::get<T>(b);
        if constexpr (std::is_same_v<T, VoteRequest>) {
          return x.candidate_epoch == y.candidate_epoch && x.candidate_id == y.candidate_id &&
                 x.last_offset_epoch == y.last_offset_epoch && x.last_offset == y.last_offset && x.pre_vote == y.pre_vote;
        } else if constexpr (std::is_same_v<T, VoteResponse>) {
          return x.leader_epoch == y.leader_epoch && x.leader_id == y.leader_id && x.vote_granted == y.vote_granted &&
                 x.pre_vote == y.pre_vote && x.candidate_epoch == y.candidate_epoch;
        } else if constexpr (std::is_same_v<T, EndQuorumEpochRequest>) {
          return x.leader_epoch == y.leader_epoch && x.leader_id == y.leader_id &&
                 x.preferred_successors == y.preferred_successors;
        } else if constexpr (std::is_same_v<T, FetchRequest>) {
          return x.request_id == y.request_id && x.replica_id == y.replica_id &&
                 x.current_leader_epoch == y.current_leader_epoch && x.fetch_offset == y.fetch_offset &&
                 x.last_fetched_epoch == y.last_fetched_epoch;
        } else if constexpr (std::is_same_v<T, FetchResponse>) {
          bool diverging = x.diverging.has_value() == y.diverging.has_value() &&
                           (!x.diverging || (x.diverging->epoch == y.diverging->epoch &&
                                             x.diverging->end_offset == y.diverging->end_offset));
          return x.request_id == y.request_id && x.error == y.error && x.leader_epoch == y.leader_epoch &&
                 x.leader_id == y.leader_id && x.high_watermark == y.high_watermark &&
                 x.fetch_offset == y.fetch_offset && x.last_fetched_epoch == y.last_fetched_epoch && diverging &&
                 x.snapshot_id == y.snapshot_id && x.log_start_offset == y.log_start_offset && x.records == y.records;
        } else if constexpr (std::is_same_v<T, FetchSnapshotRequest>) {
          return x.request_id == y.request_id && x.replica_id == y.replica_id &&
                 x.current_leader_epoch == y.current_leader_epoch && x.snapshot_id == y.snapshot_id &&
                 x.position == y.position && x.max_bytes == y.max_bytes;
        } else if constexpr (std::is_same_v<T, FetchSnapshotResponse>) {
          return x.request_id == y.request_id && x.error == y.error && x.leader_epoch == y.leader_epoch &&
                 x.leader_id == y.leader_id && x.snapshot_id == y.snapshot_id && x.size_bytes == y.size_bytes &&
                 x.position == y.position && x.bytes == y.bytes;
        } else {
          return x.leader_epoch == y.leader_epoch && x.leader_id == y.leader_id;
        }
      },
      a);
}

SharedBytes shared(Bytes b) { return SharedBytes(std::move(b)); }

struct Exchange {
  RaftMessage request;
  RaftMessage response;
};

// One realistic request/response pair per API, as the replica emits them.
std::vector<Exchange> exchanges() {
  std::vector<Exchange> out;
  out.push_back({VoteRequest{7, 1, 6, 120, false}, VoteResponse{7, kNoNode, true, false, 7}});
  out.push_back({VoteRequest{8, 1, 6, 120, true}, VoteResponse{7, 2, false, true, 8}});
  out.push_back({BeginQuorumEpochRequest{7, 1}, BeginQuorumEpochResponse{7, 1}});
  out.push_back({EndQuorumEpochRequest{7, 1, {3, 2}}, EndQuorumEpochResponse{7, kNoNode}});
  FetchRequest fetch{5, 2, 7, 10, 6};
  FetchResponse records;
  records.request_id = 5;
  records.leader_epoch = 7;
  records.leader_id = 1;
  records.high_watermark = 11;
  records.fetch_offset = 10;
  records.last_fetched_epoch = 6;
  records.records = {LogEntry{6, false, "a"}, LogEntry{6, false, ""}, LogEntry{7, true, "leader_change:1"},
                     LogEntry{7, false, std::string(3000, 'x')}, LogEntry{7, false, "b"}};
  out.push_back({fetch, records});
  FetchResponse diverging = records;
  diverging.records.clear();
  diverging.diverging = DivergingEpoch{5, 8};
  out.push_back({fetch, diverging});
  FetchResponse diverging_to_empty = diverging;
  diverging_to_empty.diverging = DivergingEpoch{0, 0};
  out.push_back({fetch, diverging_to_empty});
  FetchResponse fenced;
  fenced.request_id = 5;
  fenced.error = RaftError::fenced_leader_epoch;
  fenced.leader_epoch = 9;
  fenced.leader_id = 3;
  fenced.fetch_offset = 10;
  fenced.last_fetched_epoch = 6;
  out.push_back({fetch, fenced});
  FetchResponse not_leader = fenced;
  not_leader.error = RaftError::not_leader_or_follower;
  not_leader.leader_id = kNoNode;
  not_leader.leader_epoch = 7;
  out.push_back({fetch, not_leader});
  FetchResponse empty = records;
  empty.records.clear();
  out.push_back({fetch, empty});
  FetchResponse snapshot = empty;  // KIP-630: below the leader's log start
  snapshot.snapshot_id = SnapshotId{400, 6};
  snapshot.log_start_offset = 400;
  out.push_back({fetch, snapshot});
  FetchSnapshotRequest chunk_request{5, 2, 7, SnapshotId{400, 6}, 4096, 1 << 16};
  FetchSnapshotResponse chunk;
  chunk.request_id = 5;
  chunk.leader_epoch = 7;
  chunk.leader_id = 1;
  chunk.snapshot_id = SnapshotId{400, 6};
  chunk.size_bytes = 10000;
  chunk.position = 4096;
  chunk.bytes = std::string(5000, 's');
  out.push_back({chunk_request, chunk});
  FetchSnapshotResponse gone;
  gone.request_id = 5;
  gone.error = RaftError::snapshot_not_found;
  gone.leader_epoch = 7;
  gone.leader_id = 1;
  gone.snapshot_id = SnapshotId{400, 6};
  gone.position = 4096;
  out.push_back({chunk_request, gone});
  return out;
}

}  // namespace

TEST_CASE("every_raft_message_round_trips_through_its_kafka_frame") {
  const WireOptions o = options();
  int32_t correlation = 5;  // equals the FetchRequests' request_id: that is what it maps to
  for (const Exchange& ex : exchanges()) {
    INFO(message_name(ex.request) << " / " << message_name(ex.response));
    Bytes request_bytes = encode_request(ex.request, 2, correlation, o);
    auto in = decode_request(shared(request_bytes), o);
    REQUIRE(in.ok());
    CHECK(same(in->message, ex.request));
    CHECK(in->key.api_key == api_key_of(ex.request));
    CHECK(in->key.api_version == write_version(in->key.api_key));
    CHECK(in->key.correlation_id == correlation);
    CHECK(in->client_id == std::optional<std::string>("floe-raft-1"));
    bool fetching = std::holds_alternative<FetchRequest>(ex.request) || std::holds_alternative<FetchSnapshotRequest>(ex.request);
    CHECK(in->from == 1 + (fetching ? 1 : 0));

    auto response_bytes = encode_response(ex.response, in->key);
    REQUIRE(response_bytes.ok());
    auto cid = peek_correlation_id(*response_bytes);
    REQUIRE(cid.ok());
    CHECK(*cid == correlation);
    auto out = decode_response(shared(*response_bytes), OutboundRequest{in->key, ex.request}, o);
    REQUIRE(out.ok());
    REQUIRE(out->has_value());
    CHECK(same(**out, ex.response));
  }
}

TEST_CASE("requests_name_the_receiver_as_voter_id_where_the_version_has_one") {
  const WireOptions o = options();
  auto vote = decode_request(shared(encode_request(VoteRequest{3, 1, 2, 9, false}, 4, 1, o)), o);
  REQUIRE(vote.ok());
  CHECK(vote->to == 4);
  auto begin = decode_request(shared(encode_request(BeginQuorumEpochRequest{3, 1}, 5, 1, o)), o);
  REQUIRE(begin.ok());
  CHECK(begin->to == 5);
  CHECK(begin->from == 1);
}

TEST_CASE("older_versions_of_each_raft_api_decode_to_the_same_message") {
  const WireOptions o = options();
  struct Case {
    RaftMessage message;
    int16_t version;
  };
  std::vector<Case> cases = {
      {VoteRequest{7, 1, 6, 120, false}, 0},
      {VoteRequest{7, 1, 6, 120, false}, 1},
      {BeginQuorumEpochRequest{7, 1}, 0},
      {EndQuorumEpochRequest{7, 1, {2, 3}}, 0},
      {FetchRequest{9, 2, 7, 10, 6}, 12},
      {FetchRequest{9, 2, 7, 10, 6}, 13},
      {FetchRequest{9, 2, 7, 10, 6}, 14},
      {FetchRequest{9, 2, 7, 10, 6}, 15},
  };
  for (const Case& c : cases) {
    INFO(message_name(c.message) << " v" << c.version);
    auto in = decode_request(shared(encode_request(c.message, 2, 9, o, c.version)), o);
    REQUIRE(in.ok());
    CHECK(in->key.api_version == c.version);
    CHECK(same(in->message, c.message));
  }
  // A Fetch v12 response names the topic instead of its id.
  FetchRequest fetch{9, 2, 7, 10, 6};
  FetchResponse response;
  response.request_id = 9;
  response.leader_epoch = 7;
  response.leader_id = 1;
  response.fetch_offset = 10;
  response.last_fetched_epoch = 6;
  response.records = {LogEntry{7, false, "x"}};
  RequestKey key{raft_api::kFetch, 12, 9};
  auto bytes = encode_response(response, key);
  REQUIRE(bytes.ok());
  auto out = decode_response(shared(*bytes), OutboundRequest{key, fetch}, o);
  REQUIRE(out.ok());
  REQUIRE(out->has_value());
  CHECK(same(**out, response));
}

TEST_CASE("vote_request_golden_fields_match_kafka_s_kraft_usage") {
  const WireOptions o = options();
  Bytes bytes = encode_request(VoteRequest{8, 1, 6, 120, true}, 3, 42, o);
  ByteReader r(bytes);
  protocol::RequestHeader header;
  REQUIRE(protocol::request_header_version(52, 2) == 2);
  REQUIRE(header.decode(r, 2).ok());
  CHECK(header.request_api_key == 52);
  CHECK(header.request_api_version == 2);
  CHECK(header.correlation_id == 42);
  CHECK(header.client_id == std::optional<std::string>("floe-raft-1"));
  protocol::VoteRequest m;
  REQUIRE(m.decode(r, 2).ok());
  CHECK(r.at_end());
  CHECK(m.cluster_id == std::optional<std::string>("floe-test-cluster"));
  CHECK(m.voter_id == 3);
  REQUIRE(m.topics.size() == 1);
  CHECK(m.topics[0].topic_name == "__cluster_metadata");
  REQUIRE(m.topics[0].partitions.size() == 1);
  const auto& p = m.topics[0].partitions[0];
  CHECK(p.partition_index == 0);
  CHECK(p.candidate_epoch == 8);
  CHECK(p.candidate_id == 1);
  CHECK(p.last_offset_epoch == 6);
  CHECK(p.last_offset == 120);
  CHECK(p.pre_vote);
}

TEST_CASE("begin_and_end_quorum_epoch_golden_fields_carry_the_leader_endpoint") {
  const WireOptions o = options();
  {
    Bytes bytes = encode_request(BeginQuorumEpochRequest{4, 1}, 2, 1, o);
    ByteReader r(bytes);
    protocol::RequestHeader header;
    REQUIRE(header.decode(r, 2).ok());
    protocol::BeginQuorumEpochRequest m;
    REQUIRE(m.decode(r, 1).ok());
    CHECK(m.voter_id == 2);
    CHECK(m.topics.at(0).partitions.at(0).leader_id == 1);
    CHECK(m.topics.at(0).partitions.at(0).leader_epoch == 4);
    REQUIRE(m.leader_endpoints.size() == 1);
    CHECK(m.leader_endpoints[0].name == "CONTROLLER");
    CHECK(m.leader_endpoints[0].host == "127.0.0.1");
    CHECK(m.leader_endpoints[0].port == 9093);
  }
  {
    Bytes bytes = encode_request(EndQuorumEpochRequest{4, 1, {3, 2}}, 2, 1, o);
    ByteReader r(bytes);
    protocol::RequestHeader header;
    REQUIRE(header.decode(r, 2).ok());
    protocol::EndQuorumEpochRequest m;
    REQUIRE(m.decode(r, 1).ok());
    const auto& p = m.topics.at(0).partitions.at(0);
    REQUIRE(p.preferred_candidates.size() == 2);
    CHECK(p.preferred_candidates[0].candidate_id == 3);
    CHECK(p.preferred_candidates[1].candidate_id == 2);
  }
}

TEST_CASE("fetch_request_golden_fields_use_the_metadata_topic_id_and_replica_state") {
  const WireOptions o = options();
  Bytes bytes = encode_request(FetchRequest{77, 2, 7, 10, 6}, 1, 77, o);
  ByteReader r(bytes);
  protocol::RequestHeader header;
  REQUIRE(header.decode(r, 2).ok());
  CHECK(header.request_api_key == 1);
  CHECK(header.request_api_version == 17);
  protocol::FetchRequest m;
  REQUIRE(m.decode(r, 17).ok());
  CHECK(r.at_end());
  CHECK(m.cluster_id == std::optional<std::string>("floe-test-cluster"));
  CHECK(m.replica_state.replica_id == 2);
  CHECK(m.max_wait_ms == 0);
  REQUIRE(m.topics.size() == 1);
  CHECK(m.topics[0].topic_id.to_string() == "00000000-0000-0000-0000-000000000001");
  REQUIRE(m.topics[0].partitions.size() == 1);
  const auto& p = m.topics[0].partitions[0];
  CHECK(p.partition == 0);
  CHECK(p.current_leader_epoch == 7);
  CHECK(p.fetch_offset == 10);
  CHECK(p.last_fetched_epoch == 6);
}

TEST_CASE("fetch_response_records_are_v2_batches_grouped_by_epoch_with_control_batches_for_leader_changes") {
  const WireOptions o = options();
  FetchResponse response;
  response.leader_epoch = 7;
  response.leader_id = 1;
  response.high_watermark = 12;
  response.fetch_offset = 10;
  response.last_fetched_epoch = 6;
  response.diverging = std::nullopt;
  response.records = {LogEntry{6, false, "a"}, LogEntry{6, false, "b"}, LogEntry{7, true, "leader_change:1"},
                      LogEntry{7, false, "c"}};
  auto bytes = encode_response(response, RequestKey{1, 17, 3});
  REQUIRE(bytes.ok());
  ByteReader r(*bytes);
  protocol::ResponseHeader header;
  REQUIRE(header.decode(r, 1).ok());
  CHECK(header.correlation_id == 3);
  protocol::FetchResponse m;
  REQUIRE(m.decode(r, 17).ok());
  REQUIRE(m.responses.size() == 1);
  CHECK(m.responses[0].topic_id == metadata_topic_id());
  const auto& p = m.responses[0].partitions.at(0);
  CHECK(p.error_code == 0);
  CHECK(p.high_watermark == 12);
  CHECK(p.current_leader.leader_id == 1);
  CHECK(p.current_leader.leader_epoch == 7);
  CHECK(p.diverging_epoch.epoch == -1);  // absent
  REQUIRE(p.records.has_value());
  auto batches = records::read_batches(*p.records);
  REQUIRE(batches.ok());
  REQUIRE(batches->size() == 3);
  const auto& b0 = (*batches)[0].header();
  CHECK(b0.base_offset == 10);
  CHECK(b0.partition_leader_epoch == 6);
  CHECK(b0.record_count == 2);
  CHECK(!b0.is_control());
  const auto& b1 = (*batches)[1].header();
  CHECK(b1.base_offset == 12);
  CHECK(b1.partition_leader_epoch == 7);
  CHECK(b1.is_control());
  CHECK(!b1.is_transactional());
  auto control = records::decode_records((*batches)[1]);
  REQUIRE(control.ok());
  REQUIRE(control->size() == 1);
  auto key = records::decode_control_key((*control)[0].key->span());
  REQUIRE(key.ok());
  CHECK(key->type == static_cast<int16_t>(records::ControlType::leader_change));
  const auto& b2 = (*batches)[2].header();
  CHECK(b2.base_offset == 13);
  CHECK(!b2.is_control());
  auto plain = records::decode_records((*batches)[2]);
  REQUIRE(plain.ok());
  CHECK(!(*plain)[0].key.has_value());
  CHECK((*plain)[0].value->to_bytes() == Bytes{'c'});
}

TEST_CASE("fetch_response_error_codes_and_diverging_epoch_use_kafka_s_codes_and_tags") {
  FetchResponse response;
  response.error = RaftError::fenced_leader_epoch;
  response.leader_epoch = 9;
  response.leader_id = 3;
  response.diverging = DivergingEpoch{0, 0};
  auto bytes = encode_response(response, RequestKey{1, 17, 3});
  REQUIRE(bytes.ok());
  ByteReader r(*bytes);
  protocol::ResponseHeader header;
  REQUIRE(header.decode(r, 1).ok());
  protocol::FetchResponse m;
  REQUIRE(m.decode(r, 17).ok());
  const auto& p = m.responses.at(0).partitions.at(0);
  CHECK(p.error_code == 74);
  CHECK(p.diverging_epoch.epoch == 0);
  CHECK(p.diverging_epoch.end_offset == 0);
  response.error = RaftError::not_leader_or_follower;
  bytes = encode_response(response, RequestKey{1, 17, 3});
  REQUIRE(bytes.ok());
  ByteReader r2(*bytes);
  REQUIRE(header.decode(r2, 1).ok());
  protocol::FetchResponse m2;
  REQUIRE(m2.decode(r2, 17).ok());
  CHECK(m2.responses.at(0).partitions.at(0).error_code == 6);
}

TEST_CASE("a_response_of_the_wrong_type_for_the_request_is_refused") {
  auto bytes = encode_response(VoteResponse{}, RequestKey{raft_api::kFetch, 17, 1});
  CHECK(!bytes.ok());
  auto request_as_response = encode_response(VoteRequest{}, RequestKey{raft_api::kVote, 2, 1});
  CHECK(!request_as_response.ok());
}

TEST_CASE("error_responses_decode_to_no_message_and_are_dropped") {
  const WireOptions o = options();
  for (const Exchange& ex : exchanges()) {
    RequestKey key{api_key_of(ex.request), write_version(api_key_of(ex.request)), 11};
    Bytes bytes = encode_error_response(key, kafka_error::kRequestTimedOut);
    auto out = decode_response(shared(bytes), OutboundRequest{key, ex.request}, o);
    REQUIRE(out.ok());
    CHECK(!out->has_value());
  }
}

TEST_CASE("truncated_raft_frames_are_rejected_not_read_past") {
  const WireOptions o = options();
  for (const Exchange& ex : exchanges()) {
    INFO(message_name(ex.request) << " / " << message_name(ex.response));
    Bytes request = encode_request(ex.request, 2, 5, o);
    for (size_t n = 0; n < request.size(); ++n) {
      Bytes prefix(request.begin(), request.begin() + static_cast<std::ptrdiff_t>(n));
      CHECK(!decode_request(shared(prefix), o).ok());
    }
    RequestKey key{api_key_of(ex.request), write_version(api_key_of(ex.request)), 5};
    auto response = encode_response(ex.response, key);
    REQUIRE(response.ok());
    for (size_t n = 0; n < response->size(); ++n) {
      Bytes prefix(response->begin(), response->begin() + static_cast<std::ptrdiff_t>(n));
      auto decoded = decode_response(shared(prefix), OutboundRequest{key, ex.request}, o);
      CHECK(!decoded.ok());
    }
  }
}

TEST_CASE("trailing_bytes_after_a_raft_frame_are_rejected") {
  const WireOptions o = options();
  Bytes request = encode_request(BeginQuorumEpochRequest{3, 1}, 2, 5, o);
  request.push_back(0);
  CHECK(!decode_request(shared(request), o).ok());
}

TEST_CASE("garbage_raft_frames_are_errors_never_crashes") {
  const WireOptions o = options();
  std::mt19937_64 rng(1234);
  int accepted = 0;
  for (const Exchange& ex : exchanges()) {
    Bytes request = encode_request(ex.request, 2, 5, o);
    RequestKey key{api_key_of(ex.request), write_version(api_key_of(ex.request)), 5};
    Bytes response = *encode_response(ex.response, key);
    for (int i = 0; i < 2000; ++i) {
      Bytes a = request;
      Bytes b = response;
      int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) {
        a[rng() % a.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
        b[rng() % b.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
      }
      accepted += decode_request(shared(a), o).ok();
      accepted += decode_response(shared(b), OutboundRequest{key, ex.request}, o).ok();
    }
    for (int i = 0; i < 200; ++i) {
      Bytes noise(rng() % 200);
      for (auto& byte : noise) byte = static_cast<uint8_t>(rng());
      (void)decode_request(shared(noise), o);
      (void)decode_response(shared(noise), OutboundRequest{key, ex.request}, o);
    }
  }
  SUCCEED("decoded " << accepted << " mutated frames without crashing");
}

TEST_CASE("requests_for_another_cluster_topic_or_api_are_rejected") {
  WireOptions o = options();
  WireOptions other = o;
  other.cluster_id = "someone-else";
  CHECK(!decode_request(shared(encode_request(VoteRequest{3, 1, 2, 9, false}, 2, 1, other)), o).ok());
  // No cluster id on either side is fine.
  WireOptions none = o;
  none.cluster_id.reset();
  CHECK(decode_request(shared(encode_request(VoteRequest{3, 1, 2, 9, false}, 2, 1, none)), o).ok());

  // A consumer-style Fetch for another topic.
  protocol::FetchRequest fetch;
  fetch.replica_state.replica_id = 2;
  auto& topic = fetch.topics.emplace_back();
  topic.topic_id.bytes[0] = 9;
  topic.partitions.emplace_back().partition = 0;
  ByteWriter w;
  protocol::RequestHeader header;
  header.request_api_key = 1;
  header.request_api_version = 17;
  header.encode(w, 2);
  fetch.encode(w, 17);
  auto in = decode_request(shared(w.take()), o);
  REQUIRE(!in.ok());

  // Produce is not a Raft API.
  ByteWriter produce;
  produce.write_i16(0);
  produce.write_i16(9);
  produce.write_i32(1);
  auto produced = decode_request(shared(produce.take()), o);
  REQUIRE(!produced.ok());
  CHECK(produced.error().code == Errc::unsupported);
}

TEST_CASE("fetch_response_records_must_continue_at_the_fetch_offset_without_gaps") {
  const WireOptions o = options();
  FetchRequest fetch{5, 2, 7, 10, 6};
  RequestKey key{raft_api::kFetch, 17, 5};
  // Built by hand: a batch at offset 10 then one at 12 (offset 11 missing).
  auto build = [](int64_t base, int32_t epoch) {
    records::BatchOptions b;
    b.base_offset = base;
    b.partition_leader_epoch = epoch;
    records::RecordBatchBuilder builder(b);
    Bytes v{'v'};
    builder.append(0, std::nullopt, std::span<const uint8_t>(v));
    return *builder.build();
  };
  auto respond = [&](Bytes records_bytes) {
    protocol::FetchResponse m;
    auto& topic = m.responses.emplace_back();
    topic.topic_id = metadata_topic_id();
    auto& part = topic.partitions.emplace_back();
    part.current_leader.leader_id = 1;
    part.current_leader.leader_epoch = 7;
    part.records = SharedBytes(std::move(records_bytes));
    ByteWriter w;
    protocol::ResponseHeader header;
    header.correlation_id = 5;
    header.encode(w, 1);
    m.encode(w, 17);
    return decode_response(SharedBytes(w.take()), OutboundRequest{key, fetch}, o);
  };
  Bytes gap = build(10, 7);
  Bytes later = build(12, 7);
  gap.insert(gap.end(), later.begin(), later.end());
  CHECK(!respond(gap).ok());
  // A batch starting before the fetch offset: the earlier records are skipped.
  records::BatchOptions b;
  b.base_offset = 9;
  b.partition_leader_epoch = 6;
  records::RecordBatchBuilder builder(b);
  Bytes x{'x'}, y{'y'};
  builder.append(0, std::nullopt, std::span<const uint8_t>(x));
  builder.append(0, std::nullopt, std::span<const uint8_t>(y));
  auto skipped = respond(*builder.build());
  REQUIRE(skipped.ok());
  const auto& out = std::get<FetchResponse>(**skipped);
  REQUIRE(out.records.size() == 1);
  CHECK(out.records[0].data == "y");
  // An entry from an epoch above the leader's is impossible.
  CHECK(!respond(build(10, 8)).ok());
  // Epoch 0 is "no entry".
  CHECK(!respond(build(10, 0)).ok());
}

TEST_CASE("a_response_for_another_correlation_id_is_rejected") {
  const WireOptions o = options();
  RequestKey asked{raft_api::kBeginQuorumEpoch, 1, 5};
  auto bytes = encode_response(BeginQuorumEpochResponse{3, 1}, RequestKey{raft_api::kBeginQuorumEpoch, 1, 6});
  REQUIRE(bytes.ok());
  CHECK(!decode_response(shared(*bytes), OutboundRequest{asked, BeginQuorumEpochRequest{3, 1}}, o).ok());
}

TEST_CASE("api_versions_answer_lists_the_raft_apis_and_refuses_unknown_versions") {
  for (int16_t version : {0, 3, 4}) {
    Bytes bytes = encode_api_versions_response(version, 9);
    ByteReader r(bytes);
    protocol::ResponseHeader header;
    REQUIRE(header.decode(r, 0).ok());
    CHECK(header.correlation_id == 9);
    protocol::ApiVersionsResponse m;
    REQUIRE(m.decode(r, version).ok());
    CHECK(r.at_end());
    CHECK(m.error_code == 0);
    std::map<int16_t, std::pair<int16_t, int16_t>> apis;
    for (const auto& a : m.api_keys) apis[a.api_key] = {a.min_version, a.max_version};
    CHECK(apis[1] == std::make_pair<int16_t, int16_t>(12, 17));
    CHECK(apis[18] == std::make_pair<int16_t, int16_t>(0, 4));
    CHECK(apis[52] == std::make_pair<int16_t, int16_t>(0, 2));
    CHECK(apis[53] == std::make_pair<int16_t, int16_t>(0, 1));
    CHECK(apis[54] == std::make_pair<int16_t, int16_t>(0, 1));
  }
  Bytes bytes = encode_api_versions_response(9, 1);
  ByteReader r(bytes);
  protocol::ResponseHeader header;
  REQUIRE(header.decode(r, 0).ok());
  protocol::ApiVersionsResponse m;
  REQUIRE(m.decode(r, 0).ok());
  CHECK(m.error_code == kafka_error::kUnsupportedVersion);
}

TEST_CASE("api_versions_answer_carries_the_feature_levels_from_v3_on") {
  ApiVersionsFeatures features;
  features.supported.push_back({"metadata.version", 7, 7});
  features.finalized.push_back({"metadata.version", 7, 7});
  features.finalized_epoch = 12;
  for (int16_t version : {0, 2, 3, 4}) {
    Bytes bytes = encode_api_versions_response(version, 9, {}, &features);
    ByteReader r(bytes);
    protocol::ResponseHeader header;
    REQUIRE(header.decode(r, 0).ok());
    protocol::ApiVersionsResponse m;
    REQUIRE(m.decode(r, version).ok());
    CHECK(r.at_end());
    if (version < 3) {  // the fields do not exist before v3
      CHECK(m.supported_features.empty());
      continue;
    }
    REQUIRE(m.supported_features.size() == 1);
    CHECK(m.supported_features[0].name == "metadata.version");
    CHECK(m.supported_features[0].min_version == 7);
    CHECK(m.supported_features[0].max_version == 7);
    REQUIRE(m.finalized_features.size() == 1);
    CHECK(m.finalized_features[0].min_version_level == 7);
    CHECK(m.finalized_features[0].max_version_level == 7);
    CHECK(m.finalized_features_epoch == 12);
  }
}

TEST_CASE("a_fetch_snapshot_answer_for_another_snapshot_or_beyond_its_size_is_rejected") {
  const WireOptions o = options();
  FetchSnapshotRequest asked{5, 2, 7, SnapshotId{400, 6}, 0, 100};
  Bytes request_bytes = encode_request(asked, 1, 5, o);
  auto in = decode_request(shared(request_bytes), o);
  REQUIRE(in.ok());
  auto answer = [&](FetchSnapshotResponse r) {
    auto bytes = encode_response(r, in->key);
    REQUIRE(bytes.ok());
    return decode_response(shared(*bytes), OutboundRequest{in->key, asked}, o);
  };
  FetchSnapshotResponse good;
  good.request_id = 5;
  good.leader_epoch = 7;
  good.leader_id = 1;
  good.snapshot_id = SnapshotId{400, 6};
  good.size_bytes = 50;
  good.bytes = std::string(50, 'x');
  CHECK(answer(good).ok());
  auto other = good;
  other.snapshot_id = SnapshotId{401, 6};
  CHECK_FALSE(answer(other).ok());
  auto beyond = good;
  beyond.size_bytes = 10;
  CHECK_FALSE(answer(beyond).ok());
  auto too_big = good;
  too_big.size_bytes = 500;
  too_big.bytes = std::string(200, 'x');  // more than the 100 bytes asked
  CHECK_FALSE(answer(too_big).ok());
  // A request with a nonsensical snapshot id or position never reaches the replica.
  FetchSnapshotRequest bad = asked;
  bad.snapshot_id = SnapshotId{0, 0};
  CHECK_FALSE(decode_request(shared(encode_request(bad, 1, 5, o)), o).ok());
  bad = asked;
  bad.position = -1;
  CHECK_FALSE(decode_request(shared(encode_request(bad, 1, 5, o)), o).ok());
}
