// Bucket URIs (DESIGN.md, config key s3.data.buckets and friends) and the factory that opens a
// store from one:
//   [id@]s3://bucket?region=us-east-1&endpoint=http://127.0.0.1:9000&pathStyle=true
//   [id@]file:///var/lib/floe/objects     (also fs:///path or fs://relative/path)
//   [id@]mem://                           (tests)
// s3 parameters: region, endpoint, pathStyle (true|false), accessKey, secretKey, sessionToken,
// caBundle, signPayload (true|false), maxConnections (1..1024). Unknown parameters are errors that
// name the accepted ones; values are percent-decoded.
// Thread safety: pure parsing; open_store starts the store's threads.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "common/bucket_uri.h"
#include "common/result.h"
#include "objectstore/object_store.h"
#include "objectstore/retrying_store.h"

namespace floe::objectstore {

// The one bucket URI type and parser (common/bucket_uri.h), shared with config validation.
using ::floe::BucketUri;
using ::floe::parse_bucket_uri;

struct OpenOptions {
  RetryPolicy retry{};
  MultipartPolicy multipart{};
  bool fsync = true;
  int thread_nice = 0;  // > 0: the store's threads run at a lower CPU priority (the cold-read instance)
  size_t local_dir_threads = 0;  // local-dir backend: I/O threads (0: FsStoreOptions' default)
};

struct OpenedStore {
  std::shared_ptr<ObjectStore> store;       // what callers use (s3: wrapped in retries)
  std::shared_ptr<ObjectStore> backend;     // the bare backend (S3Store / FsStore / MemStore)
  std::shared_ptr<RetryingStore> retrying;  // s3 only: `store` itself, for its retry counters
  std::string credentials_source;           // s3 only: where the keys came from
};

Result<OpenedStore> open_store(const BucketUri& uri, const OpenOptions& options = {});

}  // namespace floe::objectstore
