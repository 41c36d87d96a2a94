#include "stream/inspect.h"

#include <catch2/catch.hpp>
#include <sstream>

#include "objectstore/blocking.h"
#include "stream_test_util.h"

using namespace floe;
using namespace floe::stream;
using namespace floe::stream::testing;

TEST_CASE("inspect_wal_prints_the_header_and_every_entry_without_modifying_the_file") {
  Harness h;
  h.start();
  auto s = h.open(h.create());
  for (int i = 0; i < 3; ++i) REQUIRE(append(*s, i * 4, 4, pattern(100, i)).ok());
  h.close();
  std::string path = (h.dir.path / "wal").string();
  auto before = std::filesystem::last_write_time(path);
  std::ostringstream out;
  CHECK(inspect_wal(path, out) == 0);
  std::string text = out.str();
  CHECK(text.find("header slot 0") != std::string::npos);
  CHECK(text.find("stream 1 epoch 1 base 8 payload 108 bytes (4 records)") != std::string::npos);
  CHECK(std::filesystem::last_write_time(path) == before);
  std::ostringstream bad;
  CHECK(inspect_wal((h.dir.path / "missing").string(), bad) == 1);
}

TEST_CASE("inspect_object_prints_the_index_and_flags_corruption") {
  ObjectBuilder b;
  b.add(StreamId(7), Batch{Offset(10), 5, pattern(300, 1)});
  b.add(StreamId(9), Batch{Offset(0), 2, pattern(30, 2)});
  SharedBytes object = b.finish();
  std::ostringstream out;
  CHECK(inspect_object_bytes(object, out) == 0);
  CHECK(out.str().find("stream 7 [10, 15) 5 records") != std::string::npos);
  Bytes corrupt = object.to_bytes();
  corrupt[20] ^= 1;  // inside the first data block
  std::ostringstream out2;
  CHECK(inspect_object_bytes(SharedBytes(std::move(corrupt)), out2) == 1);
  CHECK(out2.str().find("CRC") != std::string::npos);
  objectstore::MemStore store;
  REQUIRE(objectstore::BlockingStore(store).put("data/abcd/1", object).ok());
  std::ostringstream out3;
  CHECK(inspect_object(store, "data/abcd/1", out3) == 0);
  CHECK(inspect_object(store, "nope", out3) == 1);
}
