#include "objectstore/s3_xml.h"

#include <ctime>
#include <pugixml.hpp>
#include <sstream>

namespace floe::objectstore::s3xml {

namespace {

Error malformed(const std::string& what) {
  return store_error(Errc::invalid_value, "malformed S3 response: " + what, "FloeMalformedResponse");
}

bool load(pugi::xml_document& doc, std::span<const uint8_t> body) {
  if (body.empty()) return false;
  return static_cast<bool>(doc.load_buffer(body.data(), body.size(), pugi::parse_default, pugi::encoding_utf8));
}

std::string text(const pugi::xml_node& parent, const char* name) { return parent.child(name).text().as_string(); }

}  // namespace

std::optional<ErrorDoc> parse_error(std::span<const uint8_t> body) {
  pugi::xml_document doc;
  if (!load(doc, body)) return std::nullopt;
  auto root = doc.child("Error");
  if (!root) return std::nullopt;
  return ErrorDoc{text(root, "Code"), text(root, "Message"), text(root, "RequestId"), text(root, "Region")};
}

int64_t parse_iso8601_ms(const std::string& s) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec) != 6)
    return 0;
  size_t dot = s.find('.');
  if (dot != std::string::npos) ms = std::atoi(s.substr(dot + 1, 3).c_str());
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

Result<ListPage> parse_list_v2(std::span<const uint8_t> body) {
  pugi::xml_document doc;
  if (!load(doc, body)) return malformed("ListObjectsV2 is not XML");
  auto root = doc.child("ListBucketResult");
  if (!root) return malformed("ListObjectsV2 without ListBucketResult");
  ListPage page;
  for (auto c : root.children("Contents")) {
    ObjectInfo o;
    o.key = text(c, "Key");
    o.size_bytes = c.child("Size").text().as_ullong();
    o.etag = text(c, "ETag");
    o.last_modified_ms = parse_iso8601_ms(text(c, "LastModified"));
    page.objects.push_back(std::move(o));
  }
  if (std::string(root.child("IsTruncated").text().as_string()) == "true") {
    page.next_continuation_token = text(root, "NextContinuationToken");
    if (page.next_continuation_token.empty()) return malformed("truncated listing without NextContinuationToken");
  }
  return page;
}

Result<std::string> parse_initiate_multipart(std::span<const uint8_t> body) {
  pugi::xml_document doc;
  if (!load(doc, body)) return malformed("CreateMultipartUpload is not XML");
  std::string id = text(doc.child("InitiateMultipartUploadResult"), "UploadId");
  if (id.empty()) return malformed("CreateMultipartUpload without UploadId");
  return id;
}

Result<std::vector<UploadInfo>> parse_list_uploads(std::span<const uint8_t> body) {
  pugi::xml_document doc;
  if (!load(doc, body)) return malformed("ListMultipartUploads is not XML");
  auto root = doc.child("ListMultipartUploadsResult");
  if (!root) return malformed("ListMultipartUploads without ListMultipartUploadsResult");
  std::vector<UploadInfo> out;
  for (auto u : root.children("Upload")) out.push_back({text(u, "Key"), text(u, "UploadId")});
  return out;
}

Result<std::vector<KeyError>> parse_delete_result(std::span<const uint8_t> body) {
  pugi::xml_document doc;
  if (!load(doc, body)) return malformed("DeleteObjects is not XML");
  auto root = doc.child("DeleteResult");
  if (!root) return malformed("DeleteObjects without DeleteResult");
  std::vector<KeyError> errors;
  for (auto e : root.children("Error")) errors.push_back({text(e, "Key"), text(e, "Code"), text(e, "Message")});
  return errors;
}

std::string parse_complete_etag(std::span<const uint8_t> body) {
  pugi::xml_document doc;
  if (!load(doc, body)) return {};
  // AWS names the root CompleteMultipartUploadResult; moto CompleteMultipartUploadResponse.
  return text(doc.document_element(), "ETag");
}

namespace {
std::string serialize(const pugi::xml_document& doc) {
  std::ostringstream out;
  doc.save(out, "", pugi::format_raw);
  return out.str();
}
}  // namespace

std::string build_delete(const std::vector<std::string>& keys) {
  pugi::xml_document doc;
  auto decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version") = "1.0";
  decl.append_attribute("encoding") = "UTF-8";
  auto root = doc.append_child("Delete");
  root.append_attribute("xmlns") = "http://s3.amazonaws.com/doc/2006-03-01/";
  root.append_child("Quiet").text().set("true");
  for (const auto& k : keys) root.append_child("Object").append_child("Key").text().set(k.c_str());
  return serialize(doc);
}

std::string build_complete_multipart(const std::vector<PartInfo>& parts) {
  pugi::xml_document doc;
  auto root = doc.append_child("CompleteMultipartUpload");
  root.append_attribute("xmlns") = "http://s3.amazonaws.com/doc/2006-03-01/";
  for (const auto& p : parts) {
    auto part = root.append_child("Part");
    part.append_child("PartNumber").text().set(p.part_number);
    part.append_child("ETag").text().set(p.etag.c_str());
  }
  return serialize(doc);
}

}  // namespace floe::objectstore::s3xml
