#include "objectstore/mem_store.h"

#include <chrono>

#include "objectstore/crypto.h"

namespace floe::objectstore {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::pair<uint64_t, uint64_t>> resolve_range(ByteRange range, uint64_t size_bytes) {
  if (range.is_all()) return std::pair<uint64_t, uint64_t>{0, size_bytes};
  if (range.length == 0 || range.offset >= size_bytes) {
    return store_error(Errc::invalid_value,
                       "range starts at " + std::to_string(range.offset) + " of an object of " +
                           std::to_string(size_bytes) + " bytes",
                       "InvalidRange", 416);
  }
  uint64_t len = std::min(range.length, size_bytes - range.offset);
  return std::pair<uint64_t, uint64_t>{range.offset, len};
}

MemStore::MemStore(MultipartPolicy policy, size_t max_queued) : policy_(policy), worker_(1, max_queued) {}

MemStore::~MemStore() { worker_.stop(); }

template <typename T, typename F>
void MemStore::run(Callback<T> done, F work) {
  auto shared_done = std::make_shared<Callback<T>>(std::move(done));
  bool accepted = worker_.submit([this, shared_done, work = std::move(work)]() mutable {
    Result<T> r = [&]() -> Result<T> {
      std::lock_guard lock(mu_);
      return work();
    }();
    (*shared_done)(std::move(r));
  });
  if (!accepted) (*shared_done)(queue_full("mem store"));
}

void MemStore::put_object(std::string key, SharedBytes body, Callback<PutResult> done) {
  run<PutResult>(std::move(done), [this, key = std::move(key), body = std::move(body)]() -> Result<PutResult> {
    if (auto s = validate_key(key); !s.ok()) return s.take_error();
    Object o{body, "\"" + md5_hex(body.span()) + "\"", now_ms()};
    objects_[key] = o;
    return PutResult{o.etag};
  });
}

void MemStore::get(std::string key, ByteRange range, Callback<GetResult> done) {
  run<GetResult>(std::move(done), [this, key = std::move(key), range]() -> Result<GetResult> {
    auto it = objects_.find(key);
    if (it == objects_.end()) return no_such_key(key);
    auto r = resolve_range(range, it->second.body.size());
    if (!r.ok()) return r.error();
    return GetResult{it->second.body.slice(static_cast<size_t>(r->first), static_cast<size_t>(r->second)),
                     it->second.body.size(), it->second.etag};
  });
}

void MemStore::head(std::string key, Callback<ObjectInfo> done) {
  run<ObjectInfo>(std::move(done), [this, key = std::move(key)]() -> Result<ObjectInfo> {
    auto it = objects_.find(key);
    if (it == objects_.end()) return no_such_key(key);
    return ObjectInfo{key, it->second.body.size(), it->second.etag, it->second.last_modified_ms};
  });
}

void MemStore::list(ListRequest request, Callback<ListPage> done) {
  run<ListPage>(std::move(done), [this, request = std::move(request)]() -> Result<ListPage> {
    ListPage page;
    uint32_t max_keys = std::clamp<uint32_t>(request.max_keys, 1, kMaxListKeys);
    auto it = request.continuation_token.empty() ? objects_.lower_bound(request.prefix)
                                                 : objects_.upper_bound(request.continuation_token);
    for (; it != objects_.end() && it->first.compare(0, request.prefix.size(), request.prefix) == 0; ++it) {
      if (page.objects.size() == max_keys) {
        page.next_continuation_token = page.objects.back().key;
        break;
      }
      page.objects.push_back({it->first, it->second.body.size(), it->second.etag, it->second.last_modified_ms});
    }
    return page;
  });
}

void MemStore::delete_batch(std::vector<std::string> keys, Callback<DeleteResult> done) {
  FLOE_ASSERT(!keys.empty() && keys.size() <= kMaxDeleteBatch);
  run<DeleteResult>(std::move(done), [this, keys = std::move(keys)]() -> Result<DeleteResult> {
    DeleteResult r;
    for (const auto& k : keys) {
      objects_.erase(k);
      ++r.deleted_count;
    }
    return r;
  });
}

void MemStore::create_multipart(std::string key, Callback<std::string> done) {
  run<std::string>(std::move(done), [this, key = std::move(key)]() -> Result<std::string> {
    if (auto s = validate_key(key); !s.ok()) return s.take_error();
    std::string id = "mem-upload-" + std::to_string(next_upload_++);
    uploads_[id].key = key;
    return id;
  });
}

namespace {
Error no_such_upload(const std::string& id) {
  return store_error(Errc::not_found, "no such upload: " + id, "NoSuchUpload", 404);
}
}  // namespace

void MemStore::upload_part(std::string key, std::string upload_id, int part_number, SharedBytes body,
                           Callback<std::string> done) {
  run<std::string>(std::move(done), [this, key = std::move(key), upload_id = std::move(upload_id), part_number,
                                     body = std::move(body)]() -> Result<std::string> {
    auto it = uploads_.find(upload_id);
    if (it == uploads_.end() || it->second.key != key) return no_such_upload(upload_id);
    if (part_number < 1 || part_number > kMaxPartNumber)
      return Error(Errc::invalid_value, "part number out of range");
    std::string etag = "\"" + md5_hex(body.span()) + "\"";
    it->second.parts[part_number] = {etag, body};
    return etag;
  });
}

void MemStore::complete_multipart(std::string key, std::string upload_id, std::vector<PartInfo> parts,
                                  Callback<PutResult> done) {
  run<PutResult>(std::move(done), [this, key = std::move(key), upload_id = std::move(upload_id),
                                   parts = std::move(parts)]() -> Result<PutResult> {
    auto it = uploads_.find(upload_id);
    if (it == uploads_.end() || it->second.key != key) return no_such_upload(upload_id);
    Bytes whole;
    int last = 0;
    for (const auto& p : parts) {
      auto part = it->second.parts.find(p.part_number);
      if (p.part_number <= last || part == it->second.parts.end() || part->second.first != p.etag) {
        return store_error(Errc::invalid_value, "part " + std::to_string(p.part_number) + " invalid", "InvalidPart", 400);
      }
      last = p.part_number;
      whole.insert(whole.end(), part->second.second.data(), part->second.second.data() + part->second.second.size());
    }
    std::string etag = multipart_etag(parts);
    objects_[key] = Object{SharedBytes(std::move(whole)), etag, now_ms()};
    uploads_.erase(it);
    return PutResult{etag};
  });
}

void MemStore::abort_multipart(std::string key, std::string upload_id, Callback<Unit> done) {
  run<Unit>(std::move(done), [this, key = std::move(key), upload_id = std::move(upload_id)]() -> Result<Unit> {
    auto it = uploads_.find(upload_id);
    if (it == uploads_.end() || it->second.key != key) return no_such_upload(upload_id);
    uploads_.erase(it);
    return Unit{};
  });
}

void MemStore::list_multipart_uploads(std::string prefix, Callback<std::vector<UploadInfo>> done) {
  run<std::vector<UploadInfo>>(std::move(done), [this, prefix = std::move(prefix)]() -> Result<std::vector<UploadInfo>> {
    std::vector<UploadInfo> out;
    for (const auto& [id, u] : uploads_) {
      if (u.key.compare(0, prefix.size(), prefix) == 0 && out.size() < kMaxListKeys) out.push_back({u.key, id});
    }
    return out;
  });
}

size_t MemStore::object_count() const {
  std::lock_guard lock(mu_);
  return objects_.size();
}

}  // namespace floe::objectstore
