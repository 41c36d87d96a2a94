// Helpers shared by the objectstore unit tests.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "objectstore/object_store.h"

namespace floe::objectstore::testing {

inline SharedBytes pattern_bytes(size_t n, uint64_t seed) {
  Bytes b(n);
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    for (size_t j = 0; j < 8 && i + j < n; ++j) b[i + j] = static_cast<uint8_t>(v >> (8 * j));
  }
  return SharedBytes(std::move(b));
}

// A fresh empty directory under the system temp dir, removed by the destructor.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "floe-os-test-XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    path = p ? std::filesystem::path(p) : std::filesystem::path();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// Forwards every operation to an inner store: tests derive from it and override only the
// operations they watch or hold back.
class ForwardingStore : public ObjectStore {
 public:
  explicit ForwardingStore(std::shared_ptr<ObjectStore> inner) : inner_(std::move(inner)) {}
  std::string describe() const override { return inner_->describe(); }
  void put_object(std::string k, SharedBytes b, Callback<PutResult> d) override {
    inner_->put_object(std::move(k), std::move(b), std::move(d));
  }
  void get(std::string k, ByteRange r, Callback<GetResult> d) override { inner_->get(std::move(k), r, std::move(d)); }
  void head(std::string k, Callback<ObjectInfo> d) override { inner_->head(std::move(k), std::move(d)); }
  void list(ListRequest r, Callback<ListPage> d) override { inner_->list(std::move(r), std::move(d)); }
  void delete_batch(std::vector<std::string> k, Callback<DeleteResult> d) override {
    inner_->delete_batch(std::move(k), std::move(d));
  }
  void create_multipart(std::string k, Callback<std::string> d) override { inner_->create_multipart(std::move(k), std::move(d)); }
  void upload_part(std::string k, std::string id, int n, SharedBytes b, Callback<std::string> d) override {
    inner_->upload_part(std::move(k), std::move(id), n, std::move(b), std::move(d));
  }
  void complete_multipart(std::string k, std::string id, std::vector<PartInfo> p, Callback<PutResult> d) override {
    inner_->complete_multipart(std::move(k), std::move(id), std::move(p), std::move(d));
  }
  void abort_multipart(std::string k, std::string id, Callback<Unit> d) override {
    inner_->abort_multipart(std::move(k), std::move(id), std::move(d));
  }
  void list_multipart_uploads(std::string p, Callback<std::vector<UploadInfo>> d) override {
    inner_->list_multipart_uploads(std::move(p), std::move(d));
  }

 protected:
  std::shared_ptr<ObjectStore> inner_;
};

}  // namespace floe::objectstore::testing
