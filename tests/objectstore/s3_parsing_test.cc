// Parsers for S3's XML, bucket URIs and credential files: untrusted input handled as values.
#include <catch2/catch.hpp>

#include "objectstore/bucket_uri.h"
#include "objectstore/credentials.h"
#include "objectstore/s3_store.h"
#include "objectstore/s3_xml.h"

using namespace floe;
using namespace floe::objectstore;

namespace {
std::span<const uint8_t> bytes(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }
}  // namespace

TEST_CASE("s3_error_document_becomes_a_typed_error") {
  HttpResponse r;
  r.status = 403;
  std::string xml =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SignatureDoesNotMatch</Code>"
      "<Message>The request signature we calculated does not match</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>";
  r.body.assign(xml.begin(), xml.end());
  Error e = S3Store::error_from_response(r, "PutObject k");
  CHECK(e.detail().http_status == 403);
  CHECK(e.detail().service_code == "SignatureDoesNotMatch");
  CHECK(e.detail().request_id == "4442587FB7D0A2F9");
  CHECK(e.message.find("does not match") != std::string::npos);
  CHECK_FALSE(e.retryable());

  r.status = 503;
  xml = "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
  r.body.assign(xml.begin(), xml.end());
  e = S3Store::error_from_response(r, "GetObject k");
  CHECK(e.detail().service_code == "SlowDown");
  CHECK(e.retryable());

  // HEAD answers carry no body: the code comes from the status.
  r.status = 301;
  r.body.clear();
  r.headers["x-amz-bucket-region"] = "eu-west-1";
  e = S3Store::error_from_response(r, "HeadObject k");
  CHECK(e.detail().service_code == "PermanentRedirect");
  CHECK(e.message.find("eu-west-1") != std::string::npos);

  r.status = 500;
  r.body = {'<', 'n', 'o', 't', ' ', 'x', 'm', 'l'};
  e = S3Store::error_from_response(r, "x");
  CHECK(e.detail().service_code == "InternalError");
  CHECK(e.retryable());
}

TEST_CASE("list_objects_v2_page_and_continuation_token_are_parsed") {
  std::string xml =
      "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name><Prefix>p</Prefix>"
      "<KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>"
      "<Contents><Key>p/a&amp;b</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>"
      "<ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size></Contents>"
      "<Contents><Key>p/c</Key><Size>0</Size></Contents>"
      "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken></ListBucketResult>";
  auto page = s3xml::parse_list_v2(bytes(xml));
  REQUIRE(page.ok());
  REQUIRE(page->objects.size() == 2);
  CHECK(page->objects[0].key == "p/a&b");
  CHECK(page->objects[0].size_bytes == 434234);
  CHECK(page->objects[0].etag == "\"fba9dede5f27731c9771645a39863328\"");
  CHECK(page->objects[0].last_modified_ms == 1255369830000);
  CHECK(page->next_continuation_token == "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");

  CHECK_FALSE(s3xml::parse_list_v2(bytes("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>")).ok());
  CHECK_FALSE(s3xml::parse_list_v2(bytes("garbage")).ok());
  CHECK_FALSE(s3xml::parse_list_v2(bytes("")).ok());
}

TEST_CASE("delete_objects_reports_per_key_errors") {
  std::string xml =
      "<DeleteResult><Deleted><Key>a</Key></Deleted><Error><Key>b</Key><Code>AccessDenied</Code>"
      "<Message>Access Denied</Message></Error></DeleteResult>";
  auto errors = s3xml::parse_delete_result(bytes(xml));
  REQUIRE(errors.ok());
  REQUIRE(errors->size() == 1);
  CHECK(errors->at(0).key == "b");
  CHECK(errors->at(0).code == "AccessDenied");
  std::string body = s3xml::build_delete({"x<y", "z&"});
  CHECK(body.find("<Quiet>true</Quiet>") != std::string::npos);
  CHECK(body.find("<Key>x&lt;y</Key>") != std::string::npos);
  CHECK(body.find("<Key>z&amp;</Key>") != std::string::npos);
}

TEST_CASE("multipart_documents_round_trip") {
  auto id = s3xml::parse_initiate_multipart(bytes(
      "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>VXBsb2FkIElE</UploadId>"
      "</InitiateMultipartUploadResult>"));
  REQUIRE(id.ok());
  CHECK(id.value() == "VXBsb2FkIElE");
  CHECK_FALSE(s3xml::parse_initiate_multipart(bytes("<InitiateMultipartUploadResult/>")).ok());
  std::string complete = s3xml::build_complete_multipart({{1, "\"e1\""}, {2, "\"e2\""}});
  CHECK(complete.find("<Part><PartNumber>1</PartNumber><ETag>\"e1\"</ETag></Part>") != std::string::npos);
  CHECK(s3xml::parse_complete_etag(bytes("<CompleteMultipartUploadResult><ETag>\"x-2\"</ETag></CompleteMultipartUploadResult>")) ==
        "\"x-2\"");
  auto uploads = s3xml::parse_list_uploads(bytes(
      "<ListMultipartUploadsResult><Upload><Key>k1</Key><UploadId>u1</UploadId></Upload></ListMultipartUploadsResult>"));
  REQUIRE(uploads.ok());
  REQUIRE(uploads->size() == 1);
  CHECK(uploads->at(0).upload_id == "u1");
}

TEST_CASE("bucket_uris_parse_as_design_md_writes_them") {
  auto s3 = parse_bucket_uri("0@s3://bucket?region=us-east-1&endpoint=http://127.0.0.1:9000&pathStyle=true");
  REQUIRE(s3.ok());
  CHECK(s3->id == 0);
  CHECK(s3->scheme == "s3");
  CHECK(s3->bucket == "bucket");
  CHECK(s3->param("endpoint") == "http://127.0.0.1:9000");
  CHECK(s3->param("pathStyle") == "true");
  auto file = parse_bucket_uri("0@file:///var/lib/floe/objects");
  REQUIRE(file.ok());
  CHECK(file->scheme == "file");
  CHECK(file->path == "/var/lib/floe/objects");
  auto encoded = parse_bucket_uri("3@s3://my.bucket?secretKey=a%2Fb%2Bc");
  REQUIRE(encoded.ok());
  CHECK(encoded->id == 3);
  CHECK(encoded->param("secretKey") == "a/b+c");

  auto unknown = parse_bucket_uri("s3://bucket?regoin=us-east-1");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message.find("regoin") != std::string::npos);
  CHECK(unknown.error().message.find("region") != std::string::npos);
  CHECK_FALSE(parse_bucket_uri("s3://B").ok());
  CHECK_FALSE(parse_bucket_uri("gs://bucket").ok());
  CHECK_FALSE(parse_bucket_uri("bucket").ok());
  // One parser for config and store: a value config refuses, the store refuses the same way.
  auto bad_bool = parse_bucket_uri("s3://bucket?pathStyle=yes&accessKey=a&secretKey=b");
  REQUIRE_FALSE(bad_bool.ok());
  CHECK(bad_bool.error().message.find("pathStyle must be true or false") != std::string::npos);
  CHECK_FALSE(parse_bucket_uri("s3://bucket?maxConnections=0").ok());
  CHECK_FALSE(parse_bucket_uri("s3://bucket?signPayload=maybe").ok());
  CHECK_FALSE(parse_bucket_uri("s3://bucket?secretKey=%zz").ok());
  auto relative = parse_bucket_uri("fs://data/objects");
  REQUIRE(relative.ok());
  CHECK(relative->scheme == "fs");
  CHECK(relative->path == "data/objects");
  CHECK(relative->is_local_dir());
  const std::string_view wal_only[] = {"file", "s3"};
  auto refused = parse_bucket_uri("mem://", wal_only);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("scheme 'mem://' is not one of {file://, s3://}") != std::string::npos);
}

TEST_CASE("shared_credentials_file_profiles_are_read") {
  std::string text =
      "[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key=SDEFAULT\n\n"
      "# comment\n[profile other]\naws_access_key_id=AKOTHER\naws_secret_access_key = SOTHER\naws_session_token = TOK\n";
  Credentials d = parse_credentials_file(text, "default");
  CHECK(d.access_key_id == "AKDEFAULT");
  CHECK(d.secret_access_key == "SDEFAULT");
  CHECK(d.session_token.empty());
  Credentials o = parse_credentials_file(text, "other");
  CHECK(o.access_key_id == "AKOTHER");
  CHECK(o.session_token == "TOK");
  CHECK(parse_credentials_file(text, "missing").empty());
}
