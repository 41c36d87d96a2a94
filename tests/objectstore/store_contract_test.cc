// The behaviour every ObjectStore backend promises (object_store.h), checked on mem and fs alike.
#include <catch2/catch.hpp>

#include "objectstore/blocking.h"
#include "objectstore/fs_store.h"
#include "objectstore/mem_store.h"
#include "test_util.h"

using namespace floe;
using namespace floe::objectstore;
using floe::objectstore::testing::pattern_bytes;
using floe::objectstore::testing::TempDir;

namespace {

MultipartPolicy small_parts() { return MultipartPolicy{64 * 1024, 16 * 1024, 3}; }

struct Backend {
  std::unique_ptr<TempDir> dir;
  std::shared_ptr<ObjectStore> store;
};

Backend make_backend(const std::string& kind) {
  Backend b;
  if (kind == "mem") {
    b.store = std::make_shared<MemStore>(small_parts());
  } else {
    b.dir = std::make_unique<TempDir>();
    FsStoreOptions o;
    o.root = b.dir->path / "objects";
    o.multipart = small_parts();
    auto s = FsStore::open(o);
    REQUIRE(s.ok());
    b.store = std::shared_ptr<ObjectStore>(std::move(s).value().release());
  }
  return b;
}

}  // namespace

TEST_CASE("every_backend_keeps_the_object_store_contract") {
  for (std::string kind : {"mem", "fs"}) {
    DYNAMIC_SECTION(kind) {
      Backend b = make_backend(kind);
      BlockingStore s(*b.store);

      // put then get returns the same bytes; a ranged get returns exactly the slice.
      auto body = pattern_bytes(10000, 1);
      REQUIRE(s.put("a/b/obj1", body).ok());
      auto whole = s.get("a/b/obj1");
      REQUIRE(whole.ok());
      CHECK(whole->body == body);
      CHECK(whole->object_size_bytes == 10000);
      auto part = s.get("a/b/obj1", ByteRange{100, 50});
      REQUIRE(part.ok());
      CHECK(part->body == body.slice(100, 50));
      CHECK(part->object_size_bytes == 10000);
      auto tail = s.get("a/b/obj1", ByteRange{9990, 1000});
      REQUIRE(tail.ok());
      CHECK(tail->body == body.slice(9990, 10));
      auto past = s.get("a/b/obj1", ByteRange{10000, 1});
      REQUIRE_FALSE(past.ok());
      CHECK(past.error().detail().service_code == "InvalidRange");

      // head reports size; missing keys are NoSuchKey, not retryable.
      auto info = s.head("a/b/obj1");
      REQUIRE(info.ok());
      CHECK(info->size_bytes == 10000);
      auto missing = s.get("nope");
      REQUIRE_FALSE(missing.ok());
      CHECK(missing.error().code == Errc::not_found);
      CHECK(missing.error().detail().service_code == "NoSuchKey");
      CHECK_FALSE(missing.error().retryable());

      // overwrite replaces; a key and a "directory" of the same name coexist.
      REQUIRE(s.put("a/b/obj1", pattern_bytes(5, 2)).ok());
      CHECK(s.get("a/b/obj1")->body == pattern_bytes(5, 2));
      REQUIRE(s.put("a/b", pattern_bytes(7, 3)).ok());
      REQUIRE(s.put("a/b/", pattern_bytes(0, 3)).ok());
      CHECK(s.get("a/b")->body == pattern_bytes(7, 3));
      CHECK(s.get("a/b/")->body.size() == 0);
      REQUIRE(s.put("odd key ~%/.hidden/..", pattern_bytes(3, 4)).ok());
      CHECK(s.get("odd key ~%/.hidden/..")->body == pattern_bytes(3, 4));

      // listing is in byte order, filtered by prefix, and pages with continuation tokens.
      for (int i = 0; i < 25; ++i) REQUIRE(s.put("list/k" + std::to_string(100 + i), pattern_bytes(i, 9)).ok());
      auto page1 = s.list(ListRequest{"list/", "", 10});
      REQUIRE(page1.ok());
      REQUIRE(page1->objects.size() == 10);
      CHECK(page1->objects.front().key == "list/k100");
      CHECK_FALSE(page1->next_continuation_token.empty());
      auto page2 = s.list(ListRequest{"list/", page1->next_continuation_token, 10});
      REQUIRE(page2.ok());
      CHECK(page2->objects.front().key == "list/k110");
      auto all = s.list_all("list/");
      REQUIRE(all.ok());
      REQUIRE(all->size() == 25);
      CHECK(all->at(24).key == "list/k124");
      CHECK(all->at(3).size_bytes == 3);
      auto top = s.list_all("a/");
      REQUIRE(top.ok());
      REQUIRE(top->size() == 3);
      CHECK(top->at(0).key == "a/b");
      CHECK(top->at(1).key == "a/b/");
      CHECK(top->at(2).key == "a/b/obj1");

      // batch delete removes, tolerates missing keys, and splits above 1000 keys.
      std::vector<std::string> keys;
      for (int i = 0; i < 25; ++i) keys.push_back("list/k" + std::to_string(100 + i));
      keys.push_back("never-existed");
      for (int i = 0; i < 1100; ++i) keys.push_back("bulk/" + std::to_string(i));
      auto del = s.delete_keys(keys);
      REQUIRE(del.ok());
      CHECK(del->errors.empty());
      CHECK(del->deleted_count == keys.size());
      CHECK(s.list_all("list/")->empty());

      // multipart: above the threshold put() goes multipart, parts in parallel, bytes intact.
      auto big = pattern_bytes(100 * 1024 + 123, 5);
      auto put = s.put("mp/big", big);
      REQUIRE(put.ok());
      CHECK(s.get("mp/big")->body == big);
      CHECK(s.get("mp/big", ByteRange{16 * 1024 - 3, 10})->body == big.slice(16 * 1024 - 3, 10));
      CHECK(s.list_multipart_uploads("")->empty());

      // an explicitly aborted upload is gone.
      auto id = s.create_multipart("mp/aborted");
      REQUIRE(id.ok());
      CHECK(s.list_multipart_uploads("mp/")->size() == 1);
      REQUIRE(s.abort_multipart("mp/aborted", id.value()).ok());
      CHECK(s.list_multipart_uploads("mp/")->empty());
      CHECK(s.head("mp/aborted").error().code == Errc::not_found);
    }
  }
}

TEST_CASE("empty_and_overlong_keys_are_rejected") {
  MemStore mem;
  BlockingStore s(mem);
  CHECK_FALSE(s.put("", pattern_bytes(1, 1)).ok());
  CHECK_FALSE(s.put(std::string(1025, 'k'), pattern_bytes(1, 1)).ok());
}

TEST_CASE("hashed_object_keys_spread_neighbouring_ids_over_prefixes") {
  std::string a = hashed_object_key("data", 1);
  std::string b = hashed_object_key("data/", 2);
  CHECK(a.rfind("data/", 0) == 0);
  CHECK(a.size() == std::string("data/xxxx/1").size());
  CHECK(a.substr(5, 4) != b.substr(5, 4));
  CHECK(b.substr(b.size() - 2) == "/2");
}
