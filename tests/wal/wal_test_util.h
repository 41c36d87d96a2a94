// Helpers shared by the WAL unit tests: a WAL file in a temp dir, a blocking append, an open
// that fails the test with the error.
#pragma once

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <future>
#include <string>

#include "wal/block_wal.h"

namespace floe::wal::testing {

// A WAL file under /tmp (ext4 here, so O_DIRECT works), removed at scope exit.
struct TempWal {
  std::filesystem::path dir;
  std::string path;
  TempWal() {
    char tmpl[] = "/tmp/floe-wal-test-XXXXXX";
    dir = mkdtemp(tmpl);
    path = (dir / "wal").string();
  }
  ~TempWal() { std::filesystem::remove_all(dir); }
  BlockWalOptions options(uint64_t capacity = 1 << 20) const {
    BlockWalOptions o;
    o.path = path;
    o.capacity_bytes = capacity;
    o.node_id = 1;
    return o;
  }
};

inline Result<Position> append_sync(Wal& wal, Entry e) {
  std::promise<Result<Position>> p;
  auto f = p.get_future();
  wal.append(std::move(e), [&p](Result<Position> r) { p.set_value(std::move(r)); });
  return f.get();
}

inline BlockWal::Opened open_ok(const BlockWalOptions& o) {
  auto r = BlockWal::open(o);
  if (!r.ok()) FAIL(r.error().to_string());
  return std::move(r).value();
}

}  // namespace floe::wal::testing
