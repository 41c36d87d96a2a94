// Known-answer tests for the SigV4 signer: the S3 examples AWS publishes ("Examples: Signature
// Calculations in AWS Signature Version 4", key AKIAIOSFODNN7EXAMPLE) and cases of the generic
// SigV4 test suite (key AKIDEXAMPLE, service "service").
#include <catch2/catch.hpp>

#include "objectstore/crypto.h"
#include "objectstore/sigv4.h"

using namespace floe::objectstore;

namespace {

const Credentials kS3DocCredentials{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
const Credentials kSuiteCredentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
constexpr const char* kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr const char* kS3DocDate = "20130524T000000Z";
constexpr const char* kS3DocHost = "examplebucket.s3.amazonaws.com";

SignableRequest s3_doc_get(std::string path, HeaderList query, HeaderList extra_headers) {
  SignableRequest r;
  r.method = "GET";
  r.encoded_path = std::move(path);
  r.query = std::move(query);
  r.headers = {{"Host", kS3DocHost}, {"x-amz-content-sha256", kEmptySha256}, {"x-amz-date", kS3DocDate}};
  for (auto& h : extra_headers) r.headers.push_back(h);
  r.payload_hash = kEmptySha256;
  return r;
}

SignableRequest suite_get(std::string path, HeaderList query) {
  SignableRequest r;
  r.method = "GET";
  r.encoded_path = std::move(path);
  r.query = std::move(query);
  r.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
  r.payload_hash = kEmptySha256;
  return r;
}

}  // namespace

TEST_CASE("s3_get_object_example_with_range_matches_the_published_signature") {
  auto parts = sign_v4(s3_doc_get("/test.txt", {}, {{"Range", "bytes=0-9"}}), kS3DocCredentials, "us-east-1", "s3",
                       kS3DocDate);
  CHECK(parts.canonical_request ==
        "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
        "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
        "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(parts.string_to_sign ==
        "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
        "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  CHECK(parts.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  CHECK(parts.authorization ==
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST_CASE("s3_put_object_example_escapes_the_key_and_signs_the_payload_hash") {
  std::string body = "Welcome to Amazon S3.";
  std::string hash = sha256_hex(body);
  CHECK(hash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  SignableRequest r;
  r.method = "PUT";
  r.encoded_path = encode_s3_path("test$file.text");
  CHECK(r.encoded_path == "/test%24file.text");
  r.headers = {{"Host", kS3DocHost},
               {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
               {"x-amz-date", kS3DocDate},
               {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
               {"x-amz-content-sha256", hash}};
  r.payload_hash = hash;
  auto parts = sign_v4(r, kS3DocCredentials, "us-east-1", "s3", kS3DocDate);
  CHECK(sha256_hex(parts.canonical_request) == "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
  CHECK(parts.signed_headers == "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class");
  CHECK(parts.signature == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST_CASE("s3_get_bucket_lifecycle_example_signs_a_valueless_query_parameter") {
  auto parts = sign_v4(s3_doc_get("/", {{"lifecycle", ""}}, {}), kS3DocCredentials, "us-east-1", "s3", kS3DocDate);
  CHECK(parts.canonical_request.find("\n/\nlifecycle=\n") != std::string::npos);
  CHECK(parts.signature == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST_CASE("s3_list_objects_example_sorts_the_query_parameters") {
  auto parts = sign_v4(s3_doc_get("/", {{"prefix", "J"}, {"max-keys", "2"}}, {}), kS3DocCredentials, "us-east-1",
                       "s3", kS3DocDate);
  CHECK(parts.canonical_request.find("\nmax-keys=2&prefix=J\n") != std::string::npos);
  CHECK(parts.signature == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST_CASE("sigv4_suite_get_vanilla") {
  auto parts = sign_v4(suite_get("/", {}), kSuiteCredentials, "us-east-1", "service", "20150830T123600Z");
  CHECK(parts.authorization ==
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST_CASE("sigv4_suite_query_order_key_case_and_empty_query_key") {
  auto ordered = sign_v4(suite_get("/", {{"Param2", "value2"}, {"Param1", "value1"}}), kSuiteCredentials,
                         "us-east-1", "service", "20150830T123600Z");
  CHECK(ordered.signature == "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
  auto single = sign_v4(suite_get("/", {{"Param1", "value1"}}), kSuiteCredentials, "us-east-1", "service",
                        "20150830T123600Z");
  CHECK(single.signature == "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb");
}

TEST_CASE("sigv4_suite_get_utf8_encodes_each_byte_of_the_path") {
  std::string path = encode_s3_path("\xe1\x88\xb4");
  CHECK(path == "/%E1%88%B4");
  auto parts = sign_v4(suite_get(path, {}), kSuiteCredentials, "us-east-1", "service", "20150830T123600Z");
  CHECK(parts.signature == "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85");
}

TEST_CASE("uri_encoding_keeps_only_unreserved_characters_and_optionally_slash") {
  CHECK(uri_encode("a-b_c.d~e", true) == "a-b_c.d~e");
  CHECK(uri_encode("a b/c+d=*", true) == "a%20b%2Fc%2Bd%3D%2A");
  CHECK(uri_encode("dir/sub/obj name", false) == "dir/sub/obj%20name");
  CHECK(canonical_query_string({{"uploadId", "a/b+c=="}, {"partNumber", "2"}}) ==
        "partNumber=2&uploadId=a%2Fb%2Bc%3D%3D");
}

TEST_CASE("canonical_headers_trim_collapse_spaces_and_join_repeated_names") {
  auto [block, names] = canonical_headers({{"X-B", "  two   words "}, {"x-a", "1"}, {"X-A", "2"}});
  CHECK(block == "x-a:1,2\nx-b:two words\n");
  CHECK(names == "x-a;x-b");
}

TEST_CASE("session_token_is_a_signed_header_when_present") {
  auto r = s3_doc_get("/test.txt", {}, {{"x-amz-security-token", "TOKEN"}});
  auto parts = sign_v4(r, kS3DocCredentials, "us-east-1", "s3", kS3DocDate);
  CHECK(parts.signed_headers == "host;x-amz-content-sha256;x-amz-date;x-amz-security-token");
}

TEST_CASE("amz_timestamp_formats_utc_seconds") {
  CHECK(amz_timestamp(std::chrono::system_clock::from_time_t(1369353600)) == "20130524T000000Z");
}

TEST_CASE("md5_base64_matches_a_known_digest") {
  CHECK(md5_hex(as_bytes("")) == "d41d8cd98f00b204e9800998ecf8427e");
  CHECK(md5_base64(as_bytes("")) == "1B2M2Y8AsgTpgAmY7PhCfg==");
}
