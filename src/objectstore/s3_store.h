// S3Store: the ObjectStore over S3 and S3-compatible servers (MinIO, moto), with floe's own SigV4
// signer (sigv4.h) and HTTP client (http_client.h). No AWS SDK.
//
// Requests: PutObject, GetObject (Range), HeadObject, ListObjectsV2, DeleteObjects (Quiet, with
// Content-MD5), CreateMultipartUpload, UploadPart, CompleteMultipartUpload, AbortMultipartUpload,
// ListMultipartUploads. Addressing: path-style (endpoint/bucket/key) or virtual-hosted
// (bucket.host/key). Payload: signed SHA-256 (default) or UNSIGNED-PAYLOAD.
//
// Errors: a non-2xx answer becomes an Error whose detail has the HTTP status and the S3 error document's
// Code, Message and RequestId (HEAD answers have no body: the code is derived from the status).
// Retryable: 5xx, 429, SlowDown, RequestTimeout, InternalError and transport failures. This class
// does not retry; open_store() wraps it in a RetryingStore.
//
// Invariants:
//  (1) Every request is signed on the HTTP thread just before it is sent (fresh x-amz-date).
//  (2) A GET's response is capped at the requested range length (or max_get_bytes for a whole
//      object); a listing or error document at 16 MiB.
// Completions run on the HTTP client's thread. Thread safety: all methods are thread-safe.
#pragma once

#include "objectstore/http_client.h"
#include "objectstore/object_store.h"
#include "objectstore/sigv4.h"

namespace floe::objectstore {

struct S3Options {
  std::string bucket;
  std::string region = "us-east-1";
  std::string endpoint;  // scheme://host[:port]; empty: https://s3.<region>.amazonaws.com
  bool path_style = false;
  Credentials credentials;
  bool sign_payload = true;  // false: UNSIGNED-PAYLOAD
  uint64_t max_get_bytes = 1ull << 30;
  MultipartPolicy multipart{};
  HttpOptions http{};
};

class S3Store final : public ObjectStore {
 public:
  explicit S3Store(S3Options options);
  ~S3Store() override;

  std::string describe() const override;
  MultipartPolicy multipart_policy() const override { return options_.multipart; }
  const S3Options& options() const { return options_; }
  uint64_t connections_opened() const { return http_.connections_opened(); }

  void put_object(std::string key, SharedBytes body, Callback<PutResult> done) override;
  void get(std::string key, ByteRange range, Callback<GetResult> done) override;
  void head(std::string key, Callback<ObjectInfo> done) override;
  void list(ListRequest request, Callback<ListPage> done) override;
  void delete_batch(std::vector<std::string> keys, Callback<DeleteResult> done) override;
  void create_multipart(std::string key, Callback<std::string> done) override;
  void upload_part(std::string key, std::string upload_id, int part_number, SharedBytes body,
                   Callback<std::string> done) override;
  void complete_multipart(std::string key, std::string upload_id, std::vector<PartInfo> parts,
                          Callback<PutResult> done) override;
  void abort_multipart(std::string key, std::string upload_id, Callback<Unit> done) override;
  void list_multipart_uploads(std::string prefix, Callback<std::vector<UploadInfo>> done) override;

  // CreateBucket (tests and the probe's hints); BucketAlreadyOwnedByYou counts as success.
  void create_bucket(Callback<Unit> done);

  // Turns a non-2xx response into an Error with an ErrorDetail (exposed for tests).
  static Error error_from_response(const HttpResponse& response, const std::string& what);

 private:
  struct Call {
    std::string method;
    std::string key;  // raw key; empty for bucket-level requests
    HeaderList query;
    HeaderList headers;  // extra headers to sign (content-type, content-md5, range)
    SharedBytes body;
    uint64_t max_response_bytes = 16ull << 20;
  };
  void send(Call call, std::function<void(Result<HttpResponse>)> done);

  S3Options options_;
  std::string scheme_;
  std::string host_;  // host[:port] of the endpoint
  HttpClient http_;
};

}  // namespace floe::objectstore
