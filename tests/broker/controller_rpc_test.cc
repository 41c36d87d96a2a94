// metadata/controller_rpc.h: what crosses the wire between a broker's RemoteController and the
// controller listener survives the trip (commits, stream info, errors, the write's offset).
#include <catch2/catch.hpp>

#include "metadata/controller_rpc.h"
#include "protocol/generated/create_topics_response.h"
#include "protocol/generated/floe_open_stream_response.h"

using namespace floe;
namespace rpc = floe::metadata::rpc;

namespace {
template <typename Message>
Message round_trip(const Message& m) {
  ByteWriter w(256);
  m.encode(w, 0);
  SharedBytes bytes(w.take());
  ByteReader r(bytes);
  Message out;
  REQUIRE(out.decode(r, 0).ok());
  REQUIRE(r.remaining() == 0);
  return out;
}
}  // namespace

TEST_CASE("stream_set_object_commit_survives_the_wire", "[controller_rpc]") {
  stream::StreamSetObjectCommit c;
  c.node_id = NodeId(3);
  c.object_id = ObjectId(77);
  c.object_size_bytes = 123456;
  c.ranges = {{StreamId(1), StreamEpoch(2), Offset(10), Offset(20)}, {StreamId(5), StreamEpoch(1), Offset(0), Offset(7)}};
  stream::StreamObjectCommit so;
  so.object_id = ObjectId(78);
  so.object_size_bytes = 999;
  so.range = {StreamId(9), StreamEpoch(4), Offset(100), Offset(200)};
  so.compacted_object_ids = {ObjectId(40), ObjectId(41)};
  c.stream_objects.push_back(so);
  c.compacted_object_ids = {ObjectId(12)};

  auto back = rpc::from_wire(round_trip(rpc::to_wire(c)));
  CHECK(back.node_id == c.node_id);
  REQUIRE(back.object_id.has_value());
  CHECK(*back.object_id == ObjectId(77));
  CHECK(back.object_size_bytes == c.object_size_bytes);
  CHECK(back.ranges == c.ranges);
  REQUIRE(back.stream_objects.size() == 1);
  CHECK(back.stream_objects[0].object_id == so.object_id);
  CHECK(back.stream_objects[0].range == so.range);
  CHECK(back.stream_objects[0].compacted_object_ids == so.compacted_object_ids);
  CHECK(back.compacted_object_ids == c.compacted_object_ids);
}

TEST_CASE("a_commit_without_a_stream_set_object_stays_without_one", "[controller_rpc]") {
  stream::StreamSetObjectCommit c;
  c.node_id = NodeId(1);
  auto back = rpc::from_wire(round_trip(rpc::to_wire(c)));
  CHECK_FALSE(back.object_id.has_value());
}

TEST_CASE("stream_info_survives_the_wire", "[controller_rpc]") {
  stream::StreamInfo info{StreamId(42), StreamEpoch(7), Offset(3), Offset(99), true, NodeId(2)};
  protocol::FloeOpenStreamResponse response;
  rpc::put_stream_info(response, info);
  auto back = rpc::get_stream_info(round_trip(response));
  CHECK(back.id == info.id);
  CHECK(back.epoch == info.epoch);
  CHECK(back.start_offset == info.start_offset);
  CHECK(back.end_offset == info.end_offset);
  CHECK(back.open);
  CHECK(back.owner == info.owner);
}

TEST_CASE("stream_errors_keep_their_class_and_not_controller_is_recognised", "[controller_rpc]") {
  for (Errc code : {Errc::fenced, Errc::not_found, Errc::invalid_value, Errc::timeout}) {
    auto wire = rpc::to_wire(Error(code, "why"));
    CHECK(wire.error_code == rpc::kUnknownServerError);
    Status back = rpc::from_wire(wire.error_code, wire.status_code, wire.error_message);
    REQUIRE_FALSE(back.ok());
    CHECK(back.error().code == code);
    CHECK(back.error().message == "why");
  }
  auto nc = rpc::to_wire(Error(Errc::internal, "not the controller"));
  CHECK(nc.error_code == rpc::kNotController);
  Status back = rpc::from_wire(nc.error_code, nc.status_code, nc.error_message);
  REQUIRE_FALSE(back.ok());
  CHECK(rpc::is_not_controller(back.error()));
  CHECK(rpc::from_wire(0, 0, std::nullopt).ok());
  // A status code from a newer peer that this build does not know stays an error.
  CHECK(rpc::from_wire(-1, 999, std::string("x")).error().code == Errc::internal);
}

TEST_CASE("a_kafka_response_carries_the_write_offset_in_a_tag_clients_ignore", "[controller_rpc]") {
  protocol::CreateTopicsResponse response;
  response.topics.resize(1);
  rpc::set_metadata_offset(response.unknown_tagged_fields, 12345);
  rpc::set_metadata_offset(response.unknown_tagged_fields, 12346);  // replaces, never duplicates
  ByteWriter w(256);
  response.encode(w, protocol::CreateTopicsResponse::kHighestVersion);
  SharedBytes bytes(w.take());
  ByteReader r(bytes);
  protocol::CreateTopicsResponse back;
  REQUIRE(back.decode(r, protocol::CreateTopicsResponse::kHighestVersion).ok());
  CHECK(rpc::metadata_offset(back.unknown_tagged_fields) == 12346);
  CHECK(back.topics.size() == 1);
  protocol::CreateTopicsResponse plain;
  CHECK(rpc::metadata_offset(plain.unknown_tagged_fields) == -1);
}
