#include "objectstore/object_store.h"

#include <cstdio>
#include <mutex>

#include "objectstore/crypto.h"

namespace floe::objectstore {

Error store_error(Errc code, std::string message, std::string service_code, int http_status, bool retryable) {
  ErrorDetail d;
  d.http_status = http_status;
  d.service_code = std::move(service_code);
  d.retryable = retryable;
  return Error(code, std::move(message), std::move(d));
}

Error no_such_key(std::string_view key) {
  return store_error(Errc::not_found, "no such key: " + std::string(key), "NoSuchKey", 404);
}

Error queue_full(std::string_view what) {
  return store_error(Errc::too_large, std::string(what) + ": queue full", "FloeQueueFull");
}

Error store_stopped(std::string_view what) {
  return store_error(Errc::io, std::string(what) + ": store is stopped", "FloeStopped");
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string multipart_etag(const std::vector<PartInfo>& parts) {
  Bytes digests;
  digests.reserve(parts.size() * 16);
  for (const auto& p : parts) {
    std::string_view hex = p.etag;
    if (hex.size() >= 2 && hex.front() == '"' && hex.back() == '"') hex = hex.substr(1, hex.size() - 2);
    if (hex.size() != 32) return "";
    for (size_t i = 0; i < 32; i += 2) {
      int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);
      if (hi < 0 || lo < 0) return "";
      digests.push_back(static_cast<uint8_t>(hi * 16 + lo));
    }
  }
  return "\"" + md5_hex(digests) + "-" + std::to_string(parts.size()) + "\"";
}

Status validate_key(std::string_view key) {
  if (key.empty()) return Status(Errc::invalid_value, "object key is empty");
  if (key.size() > kMaxKeyBytes)
    return Status(Errc::invalid_length, "object key is " + std::to_string(key.size()) + " bytes, limit 1024");
  if (key.find('\0') != std::string_view::npos) return Status(Errc::invalid_value, "object key contains NUL");
  return ok_status();
}

std::string hashed_object_key(std::string_view prefix, uint64_t object_id) {
  // splitmix64 finaliser: cheap and spreads consecutive ids.
  uint64_t z = object_id + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  char hash[8];
  std::snprintf(hash, sizeof hash, "%04x", static_cast<unsigned>(z & 0xffff));
  std::string key(prefix);
  if (!key.empty() && key.back() != '/') key.push_back('/');
  key += hash;
  key.push_back('/');
  key += std::to_string(object_id);
  return key;
}

void ObjectStore::put(std::string key, SharedBytes body, Callback<PutResult> done) {
  MultipartPolicy policy = multipart_policy();
  if (body.size() >= policy.threshold_bytes && body.size() > policy.part_size_bytes) {
    multipart_put(*this, std::move(key), std::move(body), policy, std::move(done));
    return;
  }
  put_object(std::move(key), std::move(body), std::move(done));
}

namespace {

// Shared state of one delete_keys() call spanning several batches.
struct DeleteAll {
  std::mutex mu;
  size_t pending = 0;
  DeleteResult merged;
  std::optional<Error> failure;
  Callback<DeleteResult> done;
};

}  // namespace

void ObjectStore::delete_keys(std::vector<std::string> keys, Callback<DeleteResult> done) {
  if (keys.empty()) {
    done(DeleteResult{});
    return;
  }
  auto state = std::make_shared<DeleteAll>();
  state->done = std::move(done);
  std::vector<std::vector<std::string>> batches;
  for (size_t i = 0; i < keys.size(); i += kMaxDeleteBatch) {
    size_t end = std::min(keys.size(), i + kMaxDeleteBatch);
    batches.emplace_back(std::make_move_iterator(keys.begin() + static_cast<ptrdiff_t>(i)),
                         std::make_move_iterator(keys.begin() + static_cast<ptrdiff_t>(end)));
  }
  state->pending = batches.size();
  for (auto& batch : batches) {
    delete_batch(std::move(batch), [state](Result<DeleteResult> r) {
      std::unique_lock lock(state->mu);
      if (r.ok()) {
        state->merged.deleted_count += r->deleted_count;
        for (auto& e : r->errors) state->merged.errors.push_back(std::move(e));
      } else if (!state->failure) {
        state->failure = r.error();
      }
      if (--state->pending > 0) return;
      lock.unlock();
      if (state->failure) {
        state->done(*state->failure);
      } else {
        state->done(std::move(state->merged));
      }
    });
  }
}

namespace {

// One multipart upload in flight. Parts go up at most max_parallel_parts at a time; the first
// failure stops new parts, waits for those in flight, then aborts the upload.
struct Multipart : std::enable_shared_from_this<Multipart> {
  ObjectStore* store = nullptr;
  std::string key;
  SharedBytes body;
  MultipartPolicy policy;
  Callback<PutResult> done;

  std::mutex mu;
  std::string upload_id;
  std::vector<PartInfo> parts;
  size_t next_part = 0;  // index of the next part to start
  size_t in_flight = 0;
  size_t finished = 0;
  std::optional<Error> failure;

  size_t part_count() const { return parts.size(); }

  void start() {
    auto self = shared_from_this();
    store->create_multipart(key, [self](Result<std::string> r) {
      if (!r.ok()) {
        self->done(r.error());
        return;
      }
      std::unique_lock lock(self->mu);
      self->upload_id = std::move(r).value();
      self->launch_locked(lock);
    });
  }

  // Starts parts while the window has room. Called with mu held; releases it while calling out.
  void launch_locked(std::unique_lock<std::mutex>& lock) {
    while (!failure && next_part < part_count() && in_flight < policy.max_parallel_parts) {
      size_t index = next_part++;
      ++in_flight;
      uint64_t offset = index * policy.part_size_bytes;
      size_t len = static_cast<size_t>(std::min<uint64_t>(policy.part_size_bytes, body.size() - offset));
      SharedBytes slice = body.slice(static_cast<size_t>(offset), len);
      std::string id = upload_id;
      lock.unlock();
      auto self = shared_from_this();
      store->upload_part(key, id, static_cast<int>(index + 1), std::move(slice),
                         [self, index](Result<std::string> r) { self->on_part(index, std::move(r)); });
      lock.lock();
    }
  }

  void on_part(size_t index, Result<std::string> r) {
    std::unique_lock lock(mu);
    --in_flight;
    if (r.ok()) {
      parts[index].etag = std::move(r).value();
      ++finished;
    } else if (!failure) {
      failure = r.error();
    }
    if (failure) {
      if (in_flight == 0) {
        lock.unlock();
        abort();
      }
      return;
    }
    if (finished == part_count()) {
      lock.unlock();
      complete();
      return;
    }
    launch_locked(lock);
  }

  void complete() {
    auto self = shared_from_this();
    store->complete_multipart(key, upload_id, parts, [self](Result<PutResult> r) {
      if (r.ok()) {
        self->done(std::move(r));
        return;
      }
      self->reconcile(r.take_error());
    });
  }

  // An earlier attempt of complete() may have succeeded with its answer lost: the retry then gets
  // NoSuchUpload (S3, moto) or some other error (s3rver answers 500). The object under the key
  // tells whether the upload was completed. If not: NoSuchUpload means someone aborted it (nothing
  // left to abort); any other error aborts the upload as before.
  void reconcile(Error error) {
    auto self = shared_from_this();
    store->head(key, [self, err = std::move(error)](Result<ObjectInfo> h) mutable {
      if (h.ok() && self->is_completed_by_us(*h)) return self->done(PutResult{h->etag});
      const bool gone = err.detail().service_code == "NoSuchUpload";
      if (gone) {
        err.message += h.ok() ? " (and " + self->key + " is not the object this upload makes: size " +
                                    std::to_string(h->size_bytes) + ", ETag " + h->etag + ")"
                              : " (and HEAD " + self->key + " failed: " + h.error().to_string() + ")";
        return self->done(std::move(err));
      }
      self->failure = std::move(err);
      self->abort();
    });
  }

  // The object has the body's size and an ETag only this upload gives it: S3's multipart ETag
  // for these parts (when their ETags are MD5s; else any "-<part count>" ETag), or the MD5 of the
  // whole body (stores whose multipart ETag is that, like s3rver).
  bool is_completed_by_us(const ObjectInfo& info) const {
    if (info.size_bytes != body.size()) return false;
    std::string etag = info.etag;
    if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
    const std::string suffix = "-" + std::to_string(parts.size());
    if (etag.size() > suffix.size() && etag.compare(etag.size() - suffix.size(), suffix.size(), suffix) == 0) {
      const std::string expected = multipart_etag(parts);  // empty when the parts' ETags are not MD5s
      return expected.empty() || expected == "\"" + etag + "\"";
    }
    return etag.size() == 32 && etag == md5_hex(body.span());
  }

  void abort() {
    auto self = shared_from_this();
    store->abort_multipart(key, upload_id, [self](Result<Unit> r) {
      Error e = *self->failure;
      if (!r.ok()) e.message += " (and aborting upload " + self->upload_id + " failed: " + r.error().to_string() + ")";
      self->done(std::move(e));
    });
  }
};

}  // namespace

void multipart_put(ObjectStore& store, std::string key, SharedBytes body, MultipartPolicy policy,
                   Callback<PutResult> done) {
  FLOE_ASSERT(policy.part_size_bytes > 0 && policy.max_parallel_parts > 0);
  uint64_t count = (body.size() + policy.part_size_bytes - 1) / policy.part_size_bytes;
  if (count == 0) count = 1;
  if (count > static_cast<uint64_t>(kMaxPartNumber)) {
    done(Error(Errc::too_large, "object needs " + std::to_string(count) + " parts, limit 10000"));
    return;
  }
  auto m = std::make_shared<Multipart>();
  m->store = &store;
  m->key = std::move(key);
  m->body = std::move(body);
  m->policy = policy;
  m->done = std::move(done);
  m->parts.resize(static_cast<size_t>(count));
  for (size_t i = 0; i < m->parts.size(); ++i) m->parts[i].part_number = static_cast<int>(i + 1);
  m->start();
}

}  // namespace floe::objectstore
