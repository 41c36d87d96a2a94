// FsStore: an ObjectStore over a local directory, floe's embedded default (`file:///path`).
//
// Layout under the root directory:
//   <encoded key components>/…/<encoded last component>~   one file per object
//   .tmp/<random>                                           puts in progress
//   .uploads/<upload id>/{key, part-NNNNN}                  open multipart uploads
// A key is split at '/'; each component is percent-encoded except A-Z a-z 0-9 - _ and '.' (not
// leading), an empty component is written "%", and an object's file name ends in a raw '~' (which
// encoded components never contain), so key "a" and key "a/b" never collide as file and directory.
//
// Durability (safe under kill -9): put writes a temp file, fsyncs it, renames it over the final
// name and fsyncs the parent directory before completing; a reader sees the old object or the new
// one, never a torn one. Temp files left by a crash are deleted when the store opens.
//
// Invariants:
//  (1) An object file exists only whole (rename is the commit point).
//  (2) list() returns keys in byte order with the S3 continuation-token contract (the token is the
//      last key of the page).
// Completions run on the store's worker threads. Thread safety: all methods are thread-safe.
#pragma once

#include <atomic>
#include <filesystem>

#include "objectstore/executor.h"
#include "objectstore/object_store.h"

namespace floe::objectstore {

struct FsStoreOptions {
  std::filesystem::path root;
  size_t threads = 4;
  size_t max_queued = 4096;
  bool fsync = true;  // false only for benchmarks that measure without durability
  MultipartPolicy multipart{};
  int thread_nice = 0;  // > 0: the I/O threads run at a lower CPU priority (a cold-read instance)
};

class FsStore final : public ObjectStore {
 public:
  // Creates the root if missing and removes temp files left by a crash.
  static Result<std::unique_ptr<FsStore>> open(FsStoreOptions options);
  ~FsStore() override;

  std::string describe() const override { return "file://" + options_.root.string(); }
  MultipartPolicy multipart_policy() const override { return options_.multipart; }

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

  // Key <-> relative path mapping (exposed for tests).
  static Result<std::filesystem::path> key_path(std::string_view key);
  static std::optional<std::string> path_key(const std::filesystem::path& relative);

 private:
  explicit FsStore(FsStoreOptions options);

  template <typename T, typename F>
  void run(Callback<T> done, F work);

  Result<PutResult> write_atomically(const std::filesystem::path& final_path, std::span<const SharedBytes> chunks);
  Result<ObjectInfo> stat_object(const std::string& key);
  Result<ListPage> list_now(const ListRequest& request);
  std::filesystem::path temp_path();

  FsStoreOptions options_;
  std::atomic<uint64_t> temp_counter_{0};
  uint64_t instance_nonce_;
  WorkerPool workers_;
};

}  // namespace floe::objectstore
