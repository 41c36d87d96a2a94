#include <catch2/catch.hpp>

#include "group/group_record.h"

using namespace floe;
using namespace floe::broker::group_format;

namespace {

GroupValue sample_group() {
  GroupValue v;
  v.protocol_type = "consumer";
  v.generation = 7;
  v.protocol = "range";
  v.leader = "m1";
  v.state_timestamp_ms = 1234;
  for (int i = 0; i < 3; ++i) {
    MemberValue m;
    m.member_id = "m" + std::to_string(i);
    if (i == 1) m.instance_id = "instance-1";
    m.client_id = "c";
    m.client_host = "/127.0.0.1";
    m.rebalance_timeout_ms = 30000;
    m.session_timeout_ms = 10000;
    m.subscription = SharedBytes(Bytes{1, 2, 3});
    m.assignment = SharedBytes(Bytes(static_cast<size_t>(i), 9));
    v.members.push_back(m);
  }
  return v;
}

}  // namespace

TEST_CASE("records_round_trip_offsets_groups_and_tombstones") {
  OffsetValue ov;
  ov.offset = 42;
  ov.leader_epoch = 5;
  ov.commit_timestamp_ms = 1000;
  ov.expire_timestamp_ms = -1;
  ov.metadata = "meta";
  std::vector<Record> records = {
      offset_record("g", "topic", 3, ov),
      offset_record("g", "topic", 4, std::nullopt),
      group_record("g", sample_group()),
      group_record("g2", std::nullopt),
      offset_record("", "", 0, OffsetValue{}),  // null metadata, empty names
  };
  Bytes bytes;
  for (const auto& r : records) append_record(bytes, r);
  auto decoded = decode_records(bytes);
  REQUIRE(decoded.ok());
  CHECK(*decoded == records);
  CHECK(records[1].tombstone());
  CHECK(records[3].tombstone());
  CHECK_FALSE(records[2].tombstone());
}

TEST_CASE("a_flipped_bit_anywhere_in_a_record_is_detected") {
  Bytes bytes;
  append_record(bytes, group_record("group", sample_group()));
  for (size_t i = 0; i < bytes.size(); ++i) {
    Bytes bad = bytes;
    bad[i] ^= 0x10;
    CHECK_FALSE(decode_records(bad).ok());
  }
}

TEST_CASE("truncated_records_are_rejected_not_read_past") {
  Bytes bytes;
  append_record(bytes, offset_record("g", "t", 1, OffsetValue{}));
  append_record(bytes, group_record("g", sample_group()));
  for (size_t n = 1; n < bytes.size(); ++n) {
    auto r = decode_records({bytes.data(), n});
    // A prefix ending exactly at a record boundary is a shorter valid sequence.
    if (r.ok()) CHECK(r->size() == 1);
  }
}
