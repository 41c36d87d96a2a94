// ObjectStore: floe's one asynchronous interface to object storage (DESIGN.md objectstore/).
//
// Backends: S3 (s3_store.h, SigV4 over libcurl), a local directory (fs_store.h, the embedded
// default), memory (mem_store.h, tests), and wrappers that compose over any of them: retries with
// backoff (retrying_store.h) and fault injection (fault_store.h).
//
// Calling convention: every operation takes its arguments by value and a completion callback last.
// The callback runs exactly once, on a thread owned by the store (the S3 curl thread, an fs worker,
// a wrapper's timer thread) — never inside the call that started the operation, except when the
// call is refused up front (invalid key, queue full, store stopped): then it completes at once.
// Callers that live on an asio executor post the result back to it themselves:
//     store.get(key, range, [ex](Result<GetResult> r) { asio::post(ex, [r = std::move(r)] {...}); });
// Callbacks must be quick and must not block on another operation of the same store (use
// BlockingStore, blocking.h, only from threads the store does not own).
//
// Errors are values: a floe::Error whose detail() (ErrorDetail, common/result.h) holds the HTTP
// status and S3 error code (service_code) when there was a response, and a retryable flag that
// says whether repeating the same request may succeed (5xx, SlowDown, timeouts, connection resets)
// or not (4xx such as AccessDenied, SignatureDoesNotMatch, NoSuchKey).
//
// Invariants:
//  (1) put() of a body of multipart_policy().threshold_bytes or more is a multipart upload: parts
//      go up in parallel (at most max_parallel_parts at once) and any failure aborts the upload,
//      so a failed put leaves no object and no open upload behind (best effort: the abort itself
//      may fail, and then the error says so).
//  (2) delete_keys() sends batches of at most kMaxDeleteBatch keys; deleting a missing key succeeds.
//  (3) A store's queues are bounded: when full, the operation completes at once with Errc::too_large
//      ("queue full"), which callers treat as backpressure.
// Thread safety: every method may be called from any thread concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"

namespace floe::objectstore {

inline constexpr size_t kMaxDeleteBatch = 1000;  // S3's DeleteObjects limit
inline constexpr uint32_t kMaxListKeys = 1000;   // S3's ListObjectsV2 page limit
inline constexpr size_t kMaxKeyBytes = 1024;     // S3's key length limit
inline constexpr int kMaxPartNumber = 10000;     // S3's multipart part-number limit

struct Unit {};

template <typename T>
using Callback = std::function<void(Result<T>)>;

struct ObjectInfo {
  std::string key;
  uint64_t size_bytes = 0;
  std::string etag;
  int64_t last_modified_ms = 0;  // Unix epoch milliseconds
};

// [offset, offset + length); length kToEnd reads to the end of the object.
struct ByteRange {
  static constexpr uint64_t kToEnd = std::numeric_limits<uint64_t>::max();
  uint64_t offset = 0;
  uint64_t length = kToEnd;
  static ByteRange all() { return {}; }
  bool is_all() const { return offset == 0 && length == kToEnd; }
};

struct GetResult {
  SharedBytes body;
  uint64_t object_size_bytes = 0;  // size of the whole object (Content-Range), not of the range
  std::string etag;
};

struct PutResult {
  std::string etag;
};

struct ListRequest {
  std::string prefix;
  std::string continuation_token;  // from the previous page; empty for the first page
  uint32_t max_keys = kMaxListKeys;
};

struct ListPage {
  std::vector<ObjectInfo> objects;   // sorted by key (byte order)
  std::string next_continuation_token;  // empty when this was the last page
};

struct KeyError {
  std::string key;
  std::string code;     // S3 error code ("AccessDenied", ...)
  std::string message;
};

struct DeleteResult {
  size_t deleted_count = 0;
  std::vector<KeyError> errors;  // per-key failures; the operation itself succeeded
};

struct PartInfo {
  int part_number = 0;  // 1-based
  std::string etag;
};

struct UploadInfo {
  std::string key;
  std::string upload_id;
};

struct MultipartPolicy {
  uint64_t threshold_bytes = 16ull << 20;  // put() bodies this large or larger go multipart
  uint64_t part_size_bytes = 8ull << 20;   // S3 needs >= 5 MiB for every part but the last
  uint32_t max_parallel_parts = 4;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // "s3://bucket", "file:///path", "mem://": for messages and the probe.
  virtual std::string describe() const = 0;
  virtual MultipartPolicy multipart_policy() const { return {}; }

  // Whole-object put: single PutObject below the multipart threshold, multipart above (invariant 1).
  void put(std::string key, SharedBytes body, Callback<PutResult> done);
  // Deletes any number of keys in batches of kMaxDeleteBatch (invariant 2), merging per-key errors.
  void delete_keys(std::vector<std::string> keys, Callback<DeleteResult> done);

  // The primitives each backend (and wrapper) implements.
  virtual void put_object(std::string key, SharedBytes body, Callback<PutResult> done) = 0;
  virtual void get(std::string key, ByteRange range, Callback<GetResult> done) = 0;
  virtual void head(std::string key, Callback<ObjectInfo> done) = 0;
  virtual void list(ListRequest request, Callback<ListPage> done) = 0;
  // REQUIRES: 1 <= keys.size() <= kMaxDeleteBatch.
  virtual void delete_batch(std::vector<std::string> keys, Callback<DeleteResult> done) = 0;

  virtual void create_multipart(std::string key, Callback<std::string> done) = 0;  // -> upload id
  virtual void upload_part(std::string key, std::string upload_id, int part_number, SharedBytes body,
                           Callback<std::string> done) = 0;  // -> part etag
  virtual void complete_multipart(std::string key, std::string upload_id, std::vector<PartInfo> parts,
                                  Callback<PutResult> done) = 0;
  virtual void abort_multipart(std::string key, std::string upload_id, Callback<Unit> done) = 0;
  // Open (neither completed nor aborted) uploads whose key starts with prefix (at most 1000).
  virtual void list_multipart_uploads(std::string prefix, Callback<std::vector<UploadInfo>> done) = 0;
};

// Runs a multipart upload of body through store's primitives (create, parallel parts, complete;
// abort on any failure). put() calls this above the threshold; exposed for tests and callers that
// want an explicit part size.
// A CompleteMultipartUpload whose answer was lost may have completed the upload; its retry then
// gets NoSuchUpload (or, from some servers, another error). A failed complete is reconciled with a
// HEAD: if the object has the body's size and a multipart ETag for this part count (exactly the
// ETag S3 computes when the part ETags are MD5s), or the MD5 of the whole body, the put succeeded.
// Otherwise the error is returned (NoSuchUpload as is; any other after aborting the upload).
void multipart_put(ObjectStore& store, std::string key, SharedBytes body, MultipartPolicy policy,
                   Callback<PutResult> done);

// S3's ETag of a completed multipart upload: "<MD5 of the parts' binary MD5s>-<part count>",
// quoted. Empty if a part's ETag is not a (quoted) hex MD5.
std::string multipart_etag(const std::vector<PartInfo>& parts);

// Checks a key against S3's rules (non-empty, at most kMaxKeyBytes, no NUL).
Status validate_key(std::string_view key);

// "<prefix>/<hash>/<object id>": spreads keys over S3 partitions by a hash prefix (DESIGN.md
// Formats). hash is 4 hex digits of a mix of object_id, so neighbouring ids land far apart.
std::string hashed_object_key(std::string_view prefix, uint64_t object_id);

// The error for "this object does not exist" (NoSuchKey, 404), shared by the local backends.
// An error a store reports: code, message, and the detail a service would give (common/result.h).
Error store_error(Errc code, std::string message, std::string service_code, int http_status = 0,
                  bool retryable = false);
Error no_such_key(std::string_view key);
Error queue_full(std::string_view what);
Error store_stopped(std::string_view what);

}  // namespace floe::objectstore
