// libFuzzer target for raft/wire.h: Kafka frames of the KRaft APIs (Vote, BeginQuorumEpoch,
// EndQuorumEpoch, Fetch, FetchSnapshot) as a Raft transport receives them.
//
// Input: byte 0 picks the mode, the rest is a frame without its size prefix.
//   mode % 6 == 0: the frame is an inbound request (decode_request);
//   otherwise:     the frame is the response to a fixed request of API (mode % 6 - 1)
//                  (decode_response), as the requester would read it.
// Promises checked (FLOE_ASSERT aborts, which libFuzzer reports):
//  - no input crashes a decoder, reads out of bounds (ASan) or allocates without bound;
//  - whatever decodes re-encodes, and that encoding decodes and re-encodes byte-identically
//    (encode is a function of the decoded message alone).
#include <cstddef>
#include <cstdint>

#include "common/assert.h"
#include "common/bytes.h"
#include "raft/wire.h"

using namespace floe;
using namespace floe::raft;

namespace {

const RaftMessage& asked(int api) {
  static const RaftMessage requests[] = {
      VoteRequest{7, 1, 6, 120, true},
      BeginQuorumEpochRequest{7, 1},
      EndQuorumEpochRequest{7, 1, {2, 3}},
      FetchRequest{5, 2, 7, 10, 6},
      FetchSnapshotRequest{9, 2, 7, SnapshotId{100, 6}, 4096, 1 << 16},
  };
  return requests[api];
}

void check_request(const SharedBytes& frame, const WireOptions& options) {
  auto in = decode_request(frame, options);
  if (!in.ok()) return;
  Bytes first = encode_request(in->message, in->to, in->key.correlation_id, options, in->key.api_version);
  auto again = decode_request(SharedBytes(first), options);
  FLOE_ASSERT_MSG(again.ok(), "a re-encoded request does not decode");
  Bytes second = encode_request(again->message, again->to, again->key.correlation_id, options, again->key.api_version);
  FLOE_ASSERT_MSG(first == second, "request re-encoding is not stable");
}

void check_response(const SharedBytes& frame, int api, const WireOptions& options) {
  const RaftMessage& request = asked(api);
  int16_t key = api_key_of(request);
  auto correlation = peek_correlation_id(frame.span());
  if (!correlation.ok()) return;
  for (int16_t version : {write_version(key), static_cast<int16_t>(key == raft_api::kFetch ? 12 : 0)}) {
    OutboundRequest pending{RequestKey{key, version, *correlation}, request};
    auto out = decode_response(frame, pending, options);
    if (!out.ok() || !out->has_value()) continue;
    auto first = encode_response(**out, pending.key);
    FLOE_ASSERT_MSG(first.ok(), "a decoded response does not re-encode");
    auto again = decode_response(SharedBytes(*first), pending, options);
    FLOE_ASSERT_MSG(again.ok() && again->has_value(), "a re-encoded response does not decode");
    auto second = encode_response(**again, pending.key);
    FLOE_ASSERT_MSG(second.ok() && *first == *second, "response re-encoding is not stable");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  WireOptions options;
  options.max_decompressed_bytes = 1 << 20;
  SharedBytes frame = SharedBytes::copy_of({data + 1, size - 1});
  int mode = data[0] % 6;
  if (mode == 0) {
    check_request(frame, options);
  } else {
    check_response(frame, mode - 1, options);
  }
  return 0;
}
