// MemStore: an ObjectStore in memory, for unit tests of this and later layers.
//
// Behaves like S3 where tests can see it: keys sorted in byte order for listing, continuation
// tokens, ranged reads (a range past the end is InvalidRange), multipart uploads that stay open
// until completed or aborted, missing keys deleted without error.
// Completions run on the store's single worker thread (never inline).
// Invariants: (1) an object is visible only once whole (put is atomic); (2) the worker queue is
// bounded (max_queued), beyond which operations fail with queue_full.
// Thread safety: all methods are thread-safe.
#pragma once

#include <map>
#include <mutex>

#include "objectstore/executor.h"
#include "objectstore/object_store.h"

namespace floe::objectstore {

class MemStore final : public ObjectStore {
 public:
  explicit MemStore(MultipartPolicy policy = {}, size_t max_queued = 65536);
  ~MemStore() override;

  std::string describe() const override { return "mem://"; }
  MultipartPolicy multipart_policy() const override { return policy_; }

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

  size_t object_count() const;

 private:
  struct Object {
    SharedBytes body;
    std::string etag;
    int64_t last_modified_ms = 0;
  };
  struct Upload {
    std::string key;
    std::map<int, std::pair<std::string, SharedBytes>> parts;  // number -> (etag, bytes)
  };

  template <typename T, typename F>
  void run(Callback<T> done, F work);

  MultipartPolicy policy_;
  mutable std::mutex mu_;
  std::map<std::string, Object> objects_;
  std::map<std::string, Upload> uploads_;  // upload id -> upload
  uint64_t next_upload_ = 1;
  WorkerPool worker_;
};

// Shared by MemStore and FsStore: the ranged slice [range) of an object of size_bytes, or InvalidRange.
Result<std::pair<uint64_t, uint64_t>> resolve_range(ByteRange range, uint64_t size_bytes);
int64_t now_ms();

}  // namespace floe::objectstore
