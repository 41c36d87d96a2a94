// The Kafka API table (generated from the request schemas into generated/api_table.cc) and the
// request/response header version rules.
//
// Header versions (Kafka's rules, from RequestHeader.json / ResponseHeader.json):
//  - request header v2 (flexible: tagged fields) when the API version is flexible, else v1;
//    v0 (no client id) only for ControlledShutdown v0.
//  - response header v1 (flexible) when the API version is flexible, else v0; EXCEPT
//    ApiVersions, whose response header is always v0 (a client must be able to read it before
//    it knows which versions the broker speaks).
// Invariants: the table is sorted by key, keys are unique; min_version <= max_version.
// Thread safety: immutable data.
#pragma once

#include <cstdint>
#include <span>

#include "common/bytes.h"
#include "common/result.h"
#include "protocol/wire.h"

namespace floe::protocol {

enum ApiListener : uint8_t {
  kListenerBroker = 1,
  kListenerController = 2,
  kListenerZkBroker = 4,
};

struct ApiInfo {
  int16_t key;
  const char* name;  // "Produce", "Fetch", ... (the schema name without "Request")
  int16_t min_version;
  int16_t max_version;
  int16_t first_flexible_version;  // kNeverFlexible if no version is flexible
  uint8_t listeners;               // ApiListener bits
  bool latest_version_unstable;    // the max version is still under development upstream
};

namespace api_key {
inline constexpr int16_t kProduce = 0;
inline constexpr int16_t kFetch = 1;
inline constexpr int16_t kListOffsets = 2;
inline constexpr int16_t kMetadata = 3;
inline constexpr int16_t kControlledShutdown = 7;
inline constexpr int16_t kApiVersions = 18;
}  // namespace api_key

// Every API with a request schema, sorted by key.
std::span<const ApiInfo> all_apis();
// nullptr if the key is unknown.
const ApiInfo* find_api(int16_t api_key);

// REQUIRES: find_api(api_key) != nullptr.
int16_t request_header_version(int16_t api_key, int16_t api_version);
int16_t response_header_version(int16_t api_key, int16_t api_version);

// Fuzzing/test aid (generated/round_trip.cc): decodes `body` as the request (response) of
// (api_key, api_version); if it decodes, re-encodes, decodes again and FLOE_ASSERTs that the two
// messages are equal and the two encodings byte-identical. Returns the first decode's error.
Status check_request_round_trip(int16_t api_key, int16_t api_version, const SharedBytes& body);
Status check_response_round_trip(int16_t api_key, int16_t api_version, const SharedBytes& body);

}  // namespace floe::protocol
