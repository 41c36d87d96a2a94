// AWS Signature Version 4 (header-based), written from the published specification.
//
// The signer turns a request description into the canonical request, the string to sign, the
// signature and the Authorization header value. It never touches the network or the clock: the
// caller passes the timestamp, which is what makes the known-answer tests possible.
//
// Rules implemented (AWS "Create a signed request"):
//  - Canonical URI: the path as sent, each byte outside A-Z a-z 0-9 - . _ ~ percent-encoded with
//    upper-case hex, '/' kept. S3 encodes once (no double encoding, no path normalisation); the
//    caller hands the already-encoded path (see encode_s3_path) and sends exactly that.
//  - Canonical query: names and values percent-encoded ('/' too), sorted by name then value,
//    `name=value` joined by '&'; a parameter without a value is `name=`.
//  - Canonical headers: names lower-cased, values trimmed with inner runs of spaces collapsed,
//    sorted by name, repeated names joined by ','; the signed-headers list is the sorted names.
//  - Signing key: HMAC chain "AWS4"+secret → date → region → service → "aws4_request".
//
// Invariants:
//  (1) sign_v4 is deterministic: the same inputs always give the same signature.
//  (2) Every header passed in SignableRequest::headers is signed; the caller decides which to pass
//      (floe signs host, x-amz-*, content-md5 and content-type, never hop-by-hop headers).
// Thread safety: pure functions.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace floe::objectstore {

// The payload hash value that tells S3 the body is not covered by the signature.
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty unless temporary (STS) credentials
  bool empty() const { return access_key_id.empty() || secret_access_key.empty(); }
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct SignableRequest {
  std::string method;          // GET, PUT, POST, HEAD, DELETE
  std::string encoded_path;    // already percent-encoded, starts with '/'
  HeaderList query;            // raw (unencoded) names and values
  HeaderList headers;          // every header to sign, including host
  std::string payload_hash;    // hex SHA-256 of the body, or kUnsignedPayload
};

struct SignedParts {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;       // lower-case hex
  std::string signed_headers;  // "host;range;x-amz-date"
  std::string authorization;   // the Authorization header value
};

// Percent-encodes per SigV4 (RFC 3986 unreserved set kept). encode_slash=false keeps '/'.
std::string uri_encode(std::string_view s, bool encode_slash);
// "/" + uri_encode(key, false), the S3 canonical path of an object key under a path prefix.
std::string encode_s3_path(std::string_view raw_path);
std::string canonical_query_string(const HeaderList& query);
// Returns {canonical header block (each line ending in \n), signed header list}.
std::pair<std::string, std::string> canonical_headers(const HeaderList& headers);
std::string canonical_request(const SignableRequest& request);

// "20130524T000000Z" for a UTC time point.
std::string amz_timestamp(std::chrono::system_clock::time_point when);

// amz_date is the x-amz-date value (yyyymmddThhmmssZ); its first 8 characters are the scope date.
SignedParts sign_v4(const SignableRequest& request, const Credentials& credentials, std::string_view region,
                    std::string_view service, std::string_view amz_date);

}  // namespace floe::objectstore
