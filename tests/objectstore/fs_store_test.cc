// FsStore specifics: the key <-> path mapping and durability under kill -9.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "objectstore/blocking.h"
#include "objectstore/crypto.h"
#include "objectstore/fs_store.h"
#include "test_util.h"

using namespace floe;
using namespace floe::objectstore;
using floe::objectstore::testing::TempDir;

TEST_CASE("fs_key_paths_round_trip_and_never_escape_the_root") {
  for (std::string key : {"a", "a/b", "a/b/", "/lead", "..", "../../etc/passwd", "x/./y", "sp ace~%", "\xe1\x88\xb4"}) {
    auto p = FsStore::key_path(key);
    REQUIRE(p.ok());
    for (const auto& comp : p.value()) {
      CHECK(comp.string() != "..");
      CHECK(comp.string() != ".");
      CHECK(comp.string().front() != '.');
    }
    auto back = FsStore::path_key(p.value());
    REQUIRE(back.has_value());
    CHECK(*back == key);
  }
  CHECK(FsStore::key_path("a").value().string() == "a~");
  CHECK(FsStore::key_path("a/b").value().string() == "a/b~");
}

namespace {

// Object content that proves itself whole: 8-byte length, payload, 32-byte SHA-256 of the payload.
SharedBytes self_checking(size_t payload_bytes, uint64_t seed) {
  auto payload = floe::objectstore::testing::pattern_bytes(payload_bytes, seed);
  Bytes b;
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(payload_bytes >> (8 * i)));
  b.insert(b.end(), payload.data(), payload.data() + payload.size());
  auto digest = sha256(payload.span());
  b.insert(b.end(), digest.begin(), digest.end());
  return SharedBytes(std::move(b));
}

bool is_whole(const SharedBytes& b) {
  if (b.size() < 40) return false;
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(b.data()[i]) << (8 * i);
  if (b.size() != 8 + n + 32) return false;
  auto digest = sha256(b.span().subspan(8, n));
  return std::equal(digest.begin(), digest.end(), b.data() + 8 + n);
}

}  // namespace

TEST_CASE("fs_puts_are_whole_or_absent_after_kill_9") {
  TempDir dir;
  auto root = dir.path / "objects";
  for (int round = 0; round < 3; ++round) {
    int progress[2];  // the child writes one byte once its first put is durable
    REQUIRE(::pipe(progress) == 0);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      ::close(progress[0]);
      auto store = FsStore::open(FsStoreOptions{root, 2, 64, true, {}});
      if (!store.ok()) ::_exit(2);
      BlockingStore s(*store.value());
      for (uint64_t i = 0;; ++i) {
        // Overwrites and fresh keys, sizes from bytes to a few hundred KiB.
        auto r = s.put("k/" + std::to_string(i % 7), self_checking(static_cast<size_t>((i * 7919) % 300000), i));
        if (!r.ok()) ::_exit(3);
        if (i == 0 && ::write(progress[1], "p", 1) != 1) ::_exit(4);
      }
    }
    ::close(progress[1]);
    // However slow the machine, the kill lands after at least one whole put (so the store is
    // never empty below) and, some milliseconds later, most likely in the middle of another.
    pollfd first_put{progress[0], POLLIN, 0};
    const bool put_done = ::poll(&first_put, 1, 60000) == 1;
    char byte = 0;
    const bool put_reported = put_done && ::read(progress[0], &byte, 1) == 1;
    ::close(progress[0]);
    if (!put_reported) {  // kill the endless writer before failing, not leave it running
      ::kill(child, SIGKILL);
      ::waitpid(child, nullptr, 0);
    }
    REQUIRE(put_reported);
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + 70 * round));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGKILL);  // killed by us, not an assertion (SIGABRT)

    auto store = FsStore::open(FsStoreOptions{root, 2, 64, true, {}});
    REQUIRE(store.ok());
    BlockingStore s(*store.value());
    auto keys = s.list_all("");
    REQUIRE(keys.ok());
    CHECK_FALSE(keys->empty());
    for (const auto& o : keys.value()) {
      auto got = s.get(o.key);
      REQUIRE(got.ok());
      CHECK(is_whole(got->body));
    }
    // open() swept the temp files the killed writer left.
    CHECK(std::filesystem::is_empty(root / ".tmp"));
  }
}
