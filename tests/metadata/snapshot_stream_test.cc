// The controller's snapshot decoder reads its payload incrementally (metadata/snapshot.h): the
// same state as decoding it whole, whatever the read sizes, and every damage an error.
#include <catch2/catch.hpp>

#include <cstring>

#include "metadata/snapshot.h"

using namespace floe;
using namespace floe::metadata;

namespace {

MetadataState brokers(int count) {
  MetadataState state;
  for (int id = 1; id <= count; ++id) {
    protocol::RegisterBrokerRecord b;
    b.broker_id = id;
    b.broker_epoch = id * 10;
    protocol::RegisterBrokerRecord::BrokerEndpoint e;
    e.name = "PLAINTEXT";
    e.host = "host-" + std::to_string(id);
    e.port = static_cast<uint16_t>(9000 + id);
    b.end_points.push_back(e);
    REQUIRE(state.apply(MetadataRecord(b)).ok());
  }
  return state;
}

// Hands out `bytes` at most `step` bytes a call, counting the calls.
struct Feed {
  std::string bytes;
  size_t step;
  size_t position = 0;
  int calls = 0;
  SnapshotReadFn fn() {
    return [this](char* out, size_t max) -> Result<size_t> {
      ++calls;
      size_t n = std::min({max, step, bytes.size() - position});
      std::memcpy(out, bytes.data() + position, n);
      position += n;
      return n;
    };
  }
};

}  // namespace

TEST_CASE("a_snapshot_decoded_as_it_is_read_equals_the_one_decoded_whole") {
  MetadataState state = brokers(300);
  std::string payload = encode_snapshot(state);
  auto whole = decode_snapshot(payload, 77);
  REQUIRE(whole.ok());
  for (size_t step : {size_t{1}, size_t{7}, size_t{4096}, payload.size()}) {
    Feed feed{payload, step};
    auto streamed = decode_snapshot(feed.fn(), 77);
    REQUIRE(streamed.ok());
    CHECK(encode_snapshot(*streamed) == payload);
    CHECK(streamed->image.offset == 76);
    CHECK(streamed->image.brokers == whole->image.brokers);
    CHECK(feed.position == payload.size());  // read to its end (the reader checks the footer there)
  }
}

TEST_CASE("a_streamed_snapshot_that_is_cut_short_has_trailing_bytes_or_lies_about_a_length_is_refused") {
  std::string payload = encode_snapshot(brokers(5));
  for (size_t cut : {size_t{0}, size_t{3}, size_t{9}, payload.size() / 2, payload.size() - 1}) {
    Feed feed{payload.substr(0, cut), 64};
    CHECK_FALSE(decode_snapshot(feed.fn(), 1).ok());
  }
  Feed trailing{payload + "x", 64};
  CHECK(decode_snapshot(trailing.fn(), 1).error().code == Errc::corrupt);
  Feed bad_magic{"XLMS" + payload.substr(4), 64};
  CHECK(decode_snapshot(bad_magic.fn(), 1).error().code == Errc::corrupt);
  // A record claiming 4 GiB is refused before anything is allocated for it.
  std::string huge = payload;
  const size_t first_size = 5 + 1 + 4 + 2 + 2;  // magic+version, format, count, type, version
  std::memset(huge.data() + first_size, 0xff, 4);
  Feed lying{huge, 64};
  CHECK(decode_snapshot(lying.fn(), 1).error().code == Errc::invalid_length);
  // A reader error is passed on as it is.
  SnapshotReadFn failing = [](char*, size_t) -> Result<size_t> { return Error(Errc::io, "disk gone"); };
  CHECK(decode_snapshot(failing, 1).error().code == Errc::io);
}
