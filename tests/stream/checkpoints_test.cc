#include <catch2/catch.hpp>
#include <future>

#include "objectstore/blocking.h"
#include "objectstore/fs_store.h"
#include "objectstore/mem_store.h"
#include "stream/checkpoints.h"
#include "stream_test_util.h"

using namespace floe;
using namespace floe::stream;

namespace {

Status put_sync(StreamCheckpoints& c, StreamId s, int64_t offset, const std::string& text) {
  std::promise<Status> p;
  c.put(s, offset, SharedBytes::copy_of(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size())),
        [&](Status st) { p.set_value(st); });
  return p.get_future().get();
}

Result<std::optional<Checkpoint>> latest_sync(StreamCheckpoints& c, StreamId s) {
  std::promise<Result<std::optional<Checkpoint>>> p;
  c.latest(s, [&](Result<std::optional<Checkpoint>> r) { p.set_value(std::move(r)); });
  return p.get_future().get();
}

std::string text_of(const SharedBytes& b) { return std::string(reinterpret_cast<const char*>(b.data()), b.size()); }

std::vector<std::string> keys_under(objectstore::ObjectStore& store, const std::string& prefix) {
  objectstore::BlockingStore blocking(store);
  auto page = blocking.list(objectstore::ListRequest{prefix, "", 1000});
  REQUIRE(page.ok());
  std::vector<std::string> keys;
  for (auto& o : page->objects) keys.push_back(o.key);
  return keys;
}

std::vector<std::shared_ptr<objectstore::ObjectStore>> stores(const testing::TempDir& dir) {
  objectstore::FsStoreOptions fo;
  fo.root = dir.path;
  auto fs = objectstore::FsStore::open(fo);
  REQUIRE(fs.ok());
  return {std::make_shared<objectstore::MemStore>(), std::shared_ptr<objectstore::ObjectStore>(std::move(*fs))};
}

}  // namespace

TEST_CASE("the_newest_checkpoint_of_a_stream_comes_back_and_only_the_newest_keep_remain") {
  testing::TempDir dir;
  for (auto& store : stores(dir)) {
    auto c = std::make_unique<StreamCheckpoints>(store, CheckpointOptions{2, 1 << 20});
    auto none = latest_sync(*c, StreamId(7));
    REQUIRE(none.ok());
    CHECK(!none->has_value());
    // Offsets beyond 10^10 sort right only because keys are zero-padded.
    for (int64_t offset : {int64_t{5}, int64_t{100}, int64_t{9'999'999'999}, int64_t{10'000'000'000}}) {
      REQUIRE(put_sync(*c, StreamId(7), offset, "state@" + std::to_string(offset)).ok());
    }
    REQUIRE(put_sync(*c, StreamId(8), 3, "other stream").ok());
    auto got = latest_sync(*c, StreamId(7));
    REQUIRE(got.ok());
    REQUIRE(got->has_value());
    CHECK((*got)->offset == 10'000'000'000);
    CHECK(text_of((*got)->payload) == "state@10000000000");
    CHECK(keys_under(*store, StreamCheckpoints::prefix(StreamId(7))) ==
          std::vector<std::string>{StreamCheckpoints::key(StreamId(7), 9'999'999'999),
                                   StreamCheckpoints::key(StreamId(7), 10'000'000'000)});
  }
}

TEST_CASE("a_damaged_newest_checkpoint_is_skipped_for_the_next_older_one") {
  testing::TempDir dir;
  for (auto& store : stores(dir)) {
    auto c = std::make_unique<StreamCheckpoints>(store, CheckpointOptions{3, 1 << 20});
    REQUIRE(put_sync(*c, StreamId(1), 10, "ten").ok());
    REQUIRE(put_sync(*c, StreamId(1), 20, "twenty").ok());
    objectstore::BlockingStore blocking(*store);
    SECTION("a flipped payload byte (CRC)") {
      Bytes b = StreamCheckpoints::encode(StreamId(1), 30, std::vector<uint8_t>{1, 2, 3});
      b.back() ^= 0x40;
      REQUIRE(blocking.put(StreamCheckpoints::key(StreamId(1), 30), SharedBytes(std::move(b))).ok());
    }
    SECTION("cut short") {
      Bytes b = StreamCheckpoints::encode(StreamId(1), 30, std::vector<uint8_t>(100, 9));
      b.resize(b.size() - 1);
      REQUIRE(blocking.put(StreamCheckpoints::key(StreamId(1), 30), SharedBytes(std::move(b))).ok());
    }
    SECTION("another stream's checkpoint under this stream's key") {
      REQUIRE(blocking.put(StreamCheckpoints::key(StreamId(1), 30),
                           SharedBytes(StreamCheckpoints::encode(StreamId(2), 30, std::vector<uint8_t>{1})))
                  .ok());
    }
    SECTION("an offset that does not match its key") {
      REQUIRE(blocking.put(StreamCheckpoints::key(StreamId(1), 30),
                           SharedBytes(StreamCheckpoints::encode(StreamId(1), 31, std::vector<uint8_t>{1})))
                  .ok());
    }
    SECTION("not a checkpoint at all") {
      REQUIRE(blocking.put(StreamCheckpoints::key(StreamId(1), 30), SharedBytes::copy_of(std::vector<uint8_t>{'x'})).ok());
    }
    auto got = latest_sync(*c, StreamId(1));
    REQUIRE(got.ok());
    REQUIRE(got->has_value());
    CHECK((*got)->offset == 20);
    CHECK(text_of((*got)->payload) == "twenty");
  }
}

TEST_CASE("remove_all_deletes_every_checkpoint_of_the_stream_and_no_other") {
  testing::TempDir dir;
  for (auto& store : stores(dir)) {
    auto c = std::make_unique<StreamCheckpoints>(store);
    REQUIRE(put_sync(*c, StreamId(4), 1, "a").ok());
    REQUIRE(put_sync(*c, StreamId(4), 2, "b").ok());
    REQUIRE(put_sync(*c, StreamId(40), 1, "c").ok());
    std::promise<Status> p;
    c->remove_all(StreamId(4), [&](Status st) { p.set_value(st); });
    REQUIRE(p.get_future().get().ok());
    CHECK(keys_under(*store, StreamCheckpoints::prefix(StreamId(4))).empty());
    CHECK(keys_under(*store, StreamCheckpoints::prefix(StreamId(40))).size() == 1);
  }
}

TEST_CASE("a_checkpoint_over_the_size_limit_is_refused") {
  auto c = std::make_unique<StreamCheckpoints>(std::make_shared<objectstore::MemStore>(), CheckpointOptions{2, 64});
  auto st = put_sync(*c, StreamId(1), 1, std::string(100, 'x'));
  REQUIRE(!st.ok());
  CHECK(st.error().code == Errc::too_large);
}
