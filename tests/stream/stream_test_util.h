// Helpers shared by the stream unit tests: a temp dir, a BlockWal on a file in it, a store, the
// in-memory metadata, a StreamManager over them, and synchronous wrappers.
#pragma once

#include <catch2/catch.hpp>
#include <filesystem>
#include <future>
#include <random>

#include "objectstore/fs_store.h"
#include "objectstore/mem_store.h"
#include "stream/in_memory_metadata.h"
#include "stream/stream_manager.h"
#include "wal/block_wal.h"

namespace floe::stream::testing {

inline SharedBytes pattern(size_t n, uint64_t seed) {
  Bytes b(n);
  std::mt19937_64 rng(seed);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return SharedBytes(std::move(b));
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "floe-stream-test-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

template <typename T, typename F>
Result<T> sync(F start) {
  return meta_wait<T>(start);
}

inline Result<Offset> append(Stream& s, int64_t base, uint32_t count, SharedBytes bytes) {
  return sync<Offset>([&](auto cb) { s.append(Batch{Offset(base), count, std::move(bytes)}, cb); });
}
inline Result<FetchResult> fetch(Stream& s, int64_t start, uint64_t max_bytes = 1 << 30) {
  return sync<FetchResult>([&](auto cb) { s.fetch(Offset(start), max_bytes, cb); });
}
// Every batch from start to the stream's end.
inline std::vector<Batch> fetch_all(Stream& s, int64_t start) {
  std::vector<Batch> out;
  int64_t end = s.end_offset().value();
  while (start < end) {
    auto r = fetch(s, start, 1 << 20);
    REQUIRE(r.ok());
    REQUIRE_FALSE(r->batches.empty());
    for (auto& b : r->batches) out.push_back(b);
    start = r->batches.back().end_offset().value();
  }
  return out;
}

struct Harness {
  TempDir dir;
  std::shared_ptr<objectstore::ObjectStore> store;
  std::shared_ptr<objectstore::ObjectStore> cold_store;  // null: cold reads use store
  std::shared_ptr<std::atomic<int64_t>> clock_ms = std::make_shared<std::atomic<int64_t>>(1000000);
  std::shared_ptr<InMemoryStreamMetadata> meta =
      std::make_shared<InMemoryStreamMetadata>([c = clock_ms] { return c->load(); });
  StreamManagerOptions options;
  std::unique_ptr<StreamManager> manager;
  uint64_t wal_capacity = 8 << 20;
  // When set, start() hands the block WAL through it to the manager (a test wraps it, e.g. to
  // hold appends).
  std::function<std::unique_ptr<wal::Wal>(std::unique_ptr<wal::Wal>)> wrap_wal;

  explicit Harness(bool fs_backend = false) {
    if (fs_backend) {
      objectstore::FsStoreOptions o;
      o.root = dir.path / "objects";
      o.fsync = false;
      auto opened = objectstore::FsStore::open(o);
      REQUIRE(opened.ok());
      store = std::shared_ptr<objectstore::ObjectStore>(std::move(opened.value()));
    } else {
      store = std::make_shared<objectstore::MemStore>();
    }
    options.node_id = NodeId(1);
    options.now_ms = [c = clock_ms] { return c->load(); };
    options.upload_interval_ms = 3600000;
    options.cache_size_bytes = 1 << 20;
    options.upload_threshold_bytes = 256 << 10;
    options.upload_interval_ms = 3600000;
    options.stream_object_threshold_bytes = 200 << 10;
    options.block_target_bytes = 16 << 10;
    options.retry_base_ms = 1;
    options.retry_max_ms = 20;
  }
  ~Harness() { close(); }

  void start() {
    wal::BlockWalOptions wo;
    wo.path = (dir.path / "wal").string();
    wo.capacity_bytes = wal_capacity;
    wo.node_id = 1;
    auto opened = wal::BlockWal::open(wo);
    REQUIRE(opened.ok());
    std::unique_ptr<wal::Wal> w = std::move(opened->wal);
    if (wrap_wal) w = wrap_wal(std::move(w));
    auto m = StreamManager::open(options, std::move(w), std::move(opened->recovered), store, cold_store, meta);
    REQUIRE(m.ok());
    manager = std::move(*m);
  }
  void close() {
    if (manager) manager->close();
    manager.reset();
  }
  void restart() {
    close();
    start();
  }
  StreamId create() {
    auto r = sync<StreamInfo>([&](auto cb) { meta->create_stream(cb); });
    REQUIRE(r.ok());
    return r->id;
  }
  std::shared_ptr<Stream> open(StreamId id) {
    auto r = sync<std::shared_ptr<Stream>>([&](auto cb) { manager->open_stream(id, cb); });
    REQUIRE(r.ok());
    return *r;
  }
  void flush() { REQUIRE(sync<Done>([&](auto cb) { manager->flush(cb); }).ok()); }
};

}  // namespace floe::stream::testing
