// BlockingStore: synchronous calls over an ObjectStore, for the CLI, tests and benchmarks.
//
// Each call starts the asynchronous operation and waits for its completion on a future.
// REQUIRES: never call from a thread the store owns (a completion callback): it would wait for
// itself. Thread safety: as the underlying store.
#pragma once

#include <future>

#include "objectstore/object_store.h"

namespace floe::objectstore {

template <typename T, typename Start>
Result<T> wait_for(Start start) {
  auto promise = std::make_shared<std::promise<Result<T>>>();
  auto future = promise->get_future();
  start([promise](Result<T> r) { promise->set_value(std::move(r)); });
  return future.get();
}

class BlockingStore {
 public:
  explicit BlockingStore(ObjectStore& store) : store_(store) {}

  Result<PutResult> put(const std::string& key, SharedBytes body) {
    return wait_for<PutResult>([&](Callback<PutResult> cb) { store_.put(key, std::move(body), std::move(cb)); });
  }
  Result<PutResult> put_object(const std::string& key, SharedBytes body) {
    return wait_for<PutResult>([&](Callback<PutResult> cb) { store_.put_object(key, std::move(body), std::move(cb)); });
  }
  Result<PutResult> multipart_put(const std::string& key, SharedBytes body, MultipartPolicy policy) {
    return wait_for<PutResult>(
        [&](Callback<PutResult> cb) { objectstore::multipart_put(store_, key, std::move(body), policy, std::move(cb)); });
  }
  Result<GetResult> get(const std::string& key, ByteRange range = ByteRange::all()) {
    return wait_for<GetResult>([&](Callback<GetResult> cb) { store_.get(key, range, std::move(cb)); });
  }
  Result<ObjectInfo> head(const std::string& key) {
    return wait_for<ObjectInfo>([&](Callback<ObjectInfo> cb) { store_.head(key, std::move(cb)); });
  }
  Result<ListPage> list(ListRequest request) {
    return wait_for<ListPage>([&](Callback<ListPage> cb) { store_.list(std::move(request), std::move(cb)); });
  }
  // Every key under prefix, following continuation tokens (bounded by max_pages).
  Result<std::vector<ObjectInfo>> list_all(const std::string& prefix, size_t max_pages = 1000) {
    std::vector<ObjectInfo> all;
    ListRequest request{prefix, "", kMaxListKeys};
    for (size_t page = 0; page < max_pages; ++page) {
      auto r = list(request);
      if (!r.ok()) return r.error();
      for (auto& o : r->objects) all.push_back(std::move(o));
      if (r->next_continuation_token.empty()) return all;
      request.continuation_token = r->next_continuation_token;
    }
    return Error(Errc::too_large, "listing " + prefix + " has more than max_pages pages");
  }
  Result<DeleteResult> delete_keys(std::vector<std::string> keys) {
    return wait_for<DeleteResult>([&](Callback<DeleteResult> cb) { store_.delete_keys(std::move(keys), std::move(cb)); });
  }
  Result<std::vector<UploadInfo>> list_multipart_uploads(const std::string& prefix) {
    return wait_for<std::vector<UploadInfo>>(
        [&](Callback<std::vector<UploadInfo>> cb) { store_.list_multipart_uploads(prefix, std::move(cb)); });
  }
  Result<Unit> abort_multipart(const std::string& key, const std::string& upload_id) {
    return wait_for<Unit>([&](Callback<Unit> cb) { store_.abort_multipart(key, upload_id, std::move(cb)); });
  }
  Result<std::string> create_multipart(const std::string& key) {
    return wait_for<std::string>([&](Callback<std::string> cb) { store_.create_multipart(key, std::move(cb)); });
  }

 private:
  ObjectStore& store_;
};

}  // namespace floe::objectstore
