// libFuzzer target for the generated Kafka codecs. The input is a request frame without its
// size prefix, as a broker reads it: RequestHeader (api key, api version, correlation id,
// client id, tagged fields when flexible) followed by the body.
//
// Promises checked (FLOE_ASSERT aborts, which libFuzzer reports):
//  - no input makes a decoder crash, read out of bounds (ASan) or allocate without bound;
//  - whatever decodes re-encodes to bytes that decode to an equal message, and re-encoding
//    that message is byte-identical (protocol/api.h check_*_round_trip);
//  - the same holds for the header, and for the body read as the API's response.
// Unknown api keys or versions still exercise the header codec: the header's own versions are
// tried in turn.
#include <cstddef>
#include <cstdint>

#include "common/assert.h"
#include "common/bytes.h"
#include "protocol/api.h"
#include "protocol/generated/request_header.h"

using namespace floe;
using namespace floe::protocol;

namespace {

// Returns the header's encoded length, or -1 if it does not decode.
long check_header(const SharedBytes& frame, int16_t header_version) {
  ByteReader r(frame);
  RequestHeader first;
  if (!first.decode(r, header_version).ok()) return -1;
  const long consumed = static_cast<long>(r.pos());
  ByteWriter w;
  first.encode(w, header_version);
  SharedBytes encoded(w.take());
  ByteReader r2(encoded);
  RequestHeader second;
  FLOE_ASSERT(second.decode(r2, header_version).ok());
  FLOE_ASSERT(r2.at_end());
  FLOE_ASSERT(first == second);
  ByteWriter w2;
  second.encode(w2, header_version);
  FLOE_ASSERT(w2.bytes() == encoded.to_bytes());
  return consumed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  SharedBytes frame(Bytes(data, data + size));
  const int16_t api_key = static_cast<int16_t>((data[0] << 8) | data[1]);
  const int16_t api_version = static_cast<int16_t>((data[2] << 8) | data[3]);
  const ApiInfo* api = find_api(api_key);
  if (api == nullptr || api_version < api->min_version || api_version > api->max_version) {
    for (int16_t v = RequestHeader::kLowestVersion; v <= RequestHeader::kHighestVersion; ++v) {
      (void)check_header(frame, v);
    }
    return 0;
  }
  const long header_bytes = check_header(frame, request_header_version(api_key, api_version));
  if (header_bytes < 0) return 0;
  SharedBytes body = frame.slice(static_cast<size_t>(header_bytes), frame.size() - static_cast<size_t>(header_bytes));
  (void)check_request_round_trip(api_key, api_version, body);
  (void)check_response_round_trip(api_key, api_version, body);
  return 0;
}
