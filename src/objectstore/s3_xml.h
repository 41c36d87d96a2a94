// The S3 XML documents floe reads and writes (via pugixml). Parsers take untrusted bytes: they
// never assert on content, and return an error value for anything malformed.
// Thread safety: pure functions.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "objectstore/object_store.h"

namespace floe::objectstore::s3xml {

struct ErrorDoc {
  std::string code, message, request_id, region;
};
// <Error><Code/><Message/><RequestId/><Region/></Error>; nullopt if the bytes are not such a doc.
std::optional<ErrorDoc> parse_error(std::span<const uint8_t> body);

Result<ListPage> parse_list_v2(std::span<const uint8_t> body);
Result<std::string> parse_initiate_multipart(std::span<const uint8_t> body);  // -> UploadId
Result<std::vector<UploadInfo>> parse_list_uploads(std::span<const uint8_t> body);
// -> per-key errors (Quiet mode lists only failures)
Result<std::vector<KeyError>> parse_delete_result(std::span<const uint8_t> body);

// CompleteMultipartUploadResult's ETag (empty if absent).
std::string parse_complete_etag(std::span<const uint8_t> body);

std::string build_delete(const std::vector<std::string>& keys);
std::string build_complete_multipart(const std::vector<PartInfo>& parts);

// "2009-10-12T17:50:30.000Z" -> Unix ms; 0 when unparseable.
int64_t parse_iso8601_ms(const std::string& text);

}  // namespace floe::objectstore::s3xml
