// Hand-checked byte vectors for the generated codecs: these pin the encodings to Kafka's wire
// format independently of the generator (the round-trip tests alone could be self-consistently
// wrong), plus the decoder's refusals of hostile input and the API table rules.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "protocol/api.h"
#include "protocol/generated/api_versions_request.h"
#include "protocol/generated/api_versions_response.h"
#include "protocol/generated/fetch_response.h"
#include "protocol/generated/metadata_response.h"
#include "protocol/generated/produce_request.h"
#include "protocol/generated/request_header.h"
#include "protocol/generated/response_header.h"
#include "protocol/generated/topic_record.h"
#include "protocol/generated/vote_request.h"

using namespace floe;
using namespace floe::protocol;

namespace {

Bytes hex(const std::string& s) {
  Bytes out;
  std::string digits;
  for (char c : s)
    if (c != ' ') digits.push_back(c);
  for (size_t i = 0; i + 1 < digits.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  return out;
}

template <typename M>
Bytes encode(const M& m, int16_t version) {
  ByteWriter w;
  m.encode(w, version);
  return w.take();
}

template <typename M>
Result<M> decode(const Bytes& bytes, int16_t version) {
  SharedBytes shared(bytes);
  ByteReader r(shared);
  M m;
  Status st = m.decode(r, version);
  if (!st.ok()) return st.take_error();
  if (!r.at_end()) return Error(Errc::invalid_length, "trailing bytes");
  return m;
}

template <typename M>
Errc decode_error(const Bytes& bytes, int16_t version) {
  auto m = decode<M>(bytes, version);
  return m.ok() ? Errc::ok : m.error().code;
}

}  // namespace

TEST_CASE("api_versions_request_v3_uses_compact_strings_and_a_tag_section", "[generated][wire]") {
  ApiVersionsRequest req;
  req.client_software_name = "floe";
  req.client_software_version = "1.0";
  CHECK(to_hex(encode(req, 3)) == "05666c6f6504312e3000");
  auto back = decode<ApiVersionsRequest>(hex("05666c6f6504312e3000"), 3);
  REQUIRE(back.ok());
  CHECK(back->client_software_name == "floe");
  // v0-v2 have no fields at all.
  CHECK(encode(req, 2).empty());
}

TEST_CASE("request_header_v1_and_v2_keep_the_classic_client_id_string", "[generated][wire]") {
  RequestHeader h;
  h.request_api_key = 18;
  h.request_api_version = 3;
  h.correlation_id = 7;
  h.client_id = "ab";
  CHECK(to_hex(encode(h, 1)) == "0012" "0003" "00000007" "00026162");
  // v2 is flexible, but ClientId stays an int16-length string ("flexibleVersions": "none").
  CHECK(to_hex(encode(h, 2)) == "0012" "0003" "00000007" "00026162" "00");
  h.client_id = std::nullopt;
  CHECK(to_hex(encode(h, 2)) == "0012" "0003" "00000007" "ffff" "00");
  CHECK(to_hex(encode(h, 0)) == "0012" "0003" "00000007");
  auto back = decode<RequestHeader>(hex("0012 0003 00000007 ffff 00"), 2);
  REQUIRE(back.ok());
  CHECK(!back->client_id.has_value());
}

TEST_CASE("null_and_empty_compact_strings_differ_by_one", "[generated][wire]") {
  ProduceRequest p;
  p.acks = -1;
  p.timeout_ms = 1000;
  p.transactional_id = std::nullopt;
  // compact null string = uvarint 0; empty = uvarint 1.
  CHECK(to_hex(encode(p, 9)) == "00" "ffff" "000003e8" "01" "00");
  p.transactional_id = "";
  CHECK(to_hex(encode(p, 9)) == "01" "ffff" "000003e8" "01" "00");
  // classic: null = int16 -1, empty = int16 0.
  p.transactional_id = std::nullopt;
  CHECK(to_hex(encode(p, 3)) == "ffff" "ffff" "000003e8" "00000000");
  p.transactional_id = "";
  CHECK(to_hex(encode(p, 3)) == "0000" "ffff" "000003e8" "00000000");
}

TEST_CASE("produce_request_v3_matches_hand_encoded_bytes_and_records_are_zero_copy", "[generated][wire]") {
  const Bytes wire = hex("ffff ffff 000003e8 00000001 0001 74 00000001 00000000 00000003 010203");
  SharedBytes shared(wire);
  ByteReader r(shared);
  ProduceRequest p;
  REQUIRE(p.decode(r, 3).ok());
  CHECK(r.at_end());
  CHECK(!p.transactional_id.has_value());
  CHECK(p.acks == -1);
  CHECK(p.timeout_ms == 1000);
  REQUIRE(p.topic_data.size() == 1);
  CHECK(p.topic_data[0].name == "t");
  REQUIRE(p.topic_data[0].partition_data.size() == 1);
  const auto& records = p.topic_data[0].partition_data[0].records;
  REQUIRE(records.has_value());
  CHECK(records->to_bytes() == Bytes{1, 2, 3});
  // A slice of the request buffer, not a copy.
  CHECK(records->data() == shared.data() + wire.size() - 3);
  CHECK(encode(p, 3) == wire);
}

TEST_CASE("response_header_v1_keeps_unknown_tagged_fields_verbatim", "[generated][wire]") {
  const Bytes wire = hex("00000005 02 03 02 aabb 09 00");
  auto h = decode<ResponseHeader>(wire, 1);
  REQUIRE(h.ok());
  CHECK(h->correlation_id == 5);
  REQUIRE(h->unknown_tagged_fields.size() == 2);
  CHECK(h->unknown_tagged_fields[0].tag == 3);
  CHECK(h->unknown_tagged_fields[0].data.to_bytes() == Bytes{0xaa, 0xbb});
  CHECK(h->unknown_tagged_fields[1].tag == 9);
  CHECK(h->unknown_tagged_fields[1].data.empty());
  CHECK(encode(*h, 1) == wire);
  CHECK(to_hex(encode(*h, 0)) == "00000005");
}

TEST_CASE("known_tagged_fields_are_written_only_when_not_default", "[generated][wire]") {
  ApiVersionsResponse resp;
  CHECK(to_hex(encode(resp, 3)) == "0000" "01" "00000000" "00");
  resp.finalized_features_epoch = 5;
  resp.zk_migration_ready = true;
  // tag 1 (int64, 8 bytes) then tag 3 (bool, 1 byte), ascending.
  const std::string expected = "0000" "01" "00000000" "02" "01" "08" "0000000000000005" "03" "01" "01";
  CHECK(to_hex(encode(resp, 3)) == expected);
  // An unknown tag between known ones is re-emitted in tag order.
  resp.unknown_tagged_fields.push_back(RawTaggedField{2 + 100, SharedBytes(Bytes{0x7f})});
  auto round = decode<ApiVersionsResponse>(encode(resp, 3), 3);
  REQUIRE(round.ok());
  CHECK(*round == resp);
  auto back = decode<ApiVersionsResponse>(hex(expected), 3);
  REQUIRE(back.ok());
  CHECK(back->finalized_features_epoch == 5);
  CHECK(back->zk_migration_ready);
  CHECK(back->unknown_tagged_fields.empty());
}

TEST_CASE("tagged_struct_fields_decode_from_their_tag_payload", "[generated][wire]") {
  FetchResponse resp;
  auto& topic = resp.responses.emplace_back();
  auto& part = topic.partitions.emplace_back();
  part.current_leader.leader_id = 3;
  part.current_leader.leader_epoch = 9;
  part.records = std::nullopt;
  auto back = decode<FetchResponse>(encode(resp, 12), 12);
  REQUIRE(back.ok());
  CHECK(back->responses.at(0).partitions.at(0).current_leader.leader_id == 3);
  CHECK(*back == resp);
}

TEST_CASE("hostile_lengths_are_rejected_before_allocation", "[generated][wire]") {
  // Topic array count 0x7fffffff with 0 bytes behind it.
  CHECK(decode_error<ProduceRequest>(hex("ffff ffff 000003e8 7fffffff"), 3) == Errc::invalid_length);
  // Partition count larger than the bytes left even though each element needs >= 6 bytes.
  CHECK(decode_error<ProduceRequest>(hex("ffff ffff 000003e8 00000001 0001 74 00000002 00000000 ffffffff"), 3) ==
        Errc::invalid_length);
  // Null (-1) topic array where arrays are not nullable.
  CHECK(decode_error<ProduceRequest>(hex("ffff ffff 000003e8 ffffffff"), 3) == Errc::invalid_value);
  // Negative lengths other than -1.
  CHECK(decode_error<ProduceRequest>(hex("fffe ffff 000003e8 00000000"), 3) == Errc::invalid_length);
  CHECK(decode_error<ProduceRequest>(hex("ffff ffff 000003e8 fffffff0"), 3) == Errc::invalid_length);
  // Non-nullable string sent as null (topic name).
  CHECK(decode_error<ProduceRequest>(hex("ffff ffff 000003e8 00000001 ffff 00000000"), 3) == Errc::invalid_value);
  // String longer than the input.
  CHECK(decode_error<ProduceRequest>(hex("0010 61"), 3) == Errc::invalid_length);
  // Compact: topic count uvarint 2^31 with nothing behind.
  CHECK(decode_error<ProduceRequest>(hex("00 ffff 000003e8 8080808008"), 9) == Errc::invalid_length);
  // Tag section claiming more fields than bytes, a tag size beyond the input, descending tags.
  CHECK(decode_error<ResponseHeader>(hex("00000005 7f 00"), 1) == Errc::invalid_length);
  CHECK(decode_error<ResponseHeader>(hex("00000005 01 03 7f aa"), 1) == Errc::invalid_length);
  CHECK(decode_error<ResponseHeader>(hex("00000005 02 05 00 03 00"), 1) == Errc::invalid_value);
  CHECK(decode_error<ResponseHeader>(hex("00000005 02 05 00 05 00"), 1) == Errc::invalid_value);
  // A known tagged field whose payload is longer than its value.
  CHECK(decode_error<ApiVersionsResponse>(hex("0000 01 00000000 01 03 02 0100"), 3) == Errc::invalid_length);
}

TEST_CASE("versions_outside_the_schema_range_are_unsupported", "[generated][wire]") {
  CHECK(decode_error<ProduceRequest>(Bytes{}, ProduceRequest::kHighestVersion + 1) == Errc::unsupported);
  CHECK(decode_error<ProduceRequest>(Bytes{}, -1) == Errc::unsupported);
  CHECK(decode_error<TopicRecord>(Bytes{}, 5) == Errc::unsupported);
}

TEST_CASE("newer_versions_from_the_overlay_schemas_are_present", "[generated][wire]") {
  CHECK(ProduceRequest::kHighestVersion >= 12);
  CHECK(VoteRequest::kHighestVersion >= 2);
  // Metadata v13 (KIP-1102) appends a top-level error code.
  MetadataResponse m;
  m.error_code = 77;
  Bytes v13 = encode(m, 13);
  Bytes v12 = encode(m, 12);
  REQUIRE(v13.size() >= 3);
  CHECK(v13.size() == v12.size() + 2);
  CHECK(to_hex(Bytes(v13.end() - 3, v13.end())) == "004d00");
  // Vote v2 (KIP-996) carries PreVote.
  VoteRequest vote;
  vote.topics.emplace_back().partitions.emplace_back().pre_vote = true;
  auto back = decode<VoteRequest>(encode(vote, 2), 2);
  REQUIRE(back.ok());
  CHECK(back->topics.at(0).partitions.at(0).pre_vote);
  CHECK(encode(vote, 2).size() == encode(vote, 1).size() + 1);
}

TEST_CASE("metadata_records_have_their_record_type_as_api_key", "[generated][wire]") {
  CHECK(TopicRecord::kApiKey == 2);
  TopicRecord t;
  t.name = "orders";
  t.topic_id.bytes[15] = 1;
  auto back = decode<TopicRecord>(encode(t, 0), 0);
  REQUIRE(back.ok());
  CHECK(*back == t);
}

TEST_CASE("api_table_is_sorted_and_header_versions_follow_kafka_rules", "[generated][api]") {
  auto apis = all_apis();
  REQUIRE(apis.size() >= 80);
  for (size_t i = 1; i < apis.size(); ++i) CHECK(apis[i - 1].key < apis[i].key);
  const ApiInfo* produce = find_api(api_key::kProduce);
  REQUIRE(produce != nullptr);
  CHECK(std::string(produce->name) == "Produce");
  CHECK(produce->min_version == 0);
  CHECK(produce->max_version == ProduceRequest::kHighestVersion);
  CHECK(produce->first_flexible_version == 9);
  CHECK((produce->listeners & kListenerBroker) != 0);
  CHECK(find_api(-1) == nullptr);
  CHECK(find_api(30000) == nullptr);

  CHECK(request_header_version(api_key::kProduce, 8) == 1);
  CHECK(request_header_version(api_key::kProduce, 9) == 2);
  CHECK(request_header_version(api_key::kControlledShutdown, 0) == 0);
  CHECK(request_header_version(api_key::kControlledShutdown, 1) == 1);
  CHECK(response_header_version(api_key::kProduce, 8) == 0);
  CHECK(response_header_version(api_key::kProduce, 9) == 1);
  // ApiVersions responses always use header v0, even when the body is flexible.
  CHECK(request_header_version(api_key::kApiVersions, 3) == 2);
  CHECK(response_header_version(api_key::kApiVersions, 3) == 0);
}

TEST_CASE("round_trip_checker_dispatches_by_api_key", "[generated][api]") {
  ApiVersionsRequest req;
  req.client_software_name = "x";
  SharedBytes body(encode(req, 3));
  CHECK(check_request_round_trip(api_key::kApiVersions, 3, body).ok());
  CHECK(check_request_round_trip(api_key::kApiVersions, 99, body).error().code == Errc::unsupported);
  CHECK(check_request_round_trip(-5, 0, body).error().code == Errc::unsupported);
  CHECK(check_response_round_trip(api_key::kApiVersions, 3, SharedBytes(Bytes{0x00})).error().code == Errc::truncated);
}
