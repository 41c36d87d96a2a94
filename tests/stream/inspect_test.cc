#include "stream/inspect.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "objectstore/blocking.h"
#include "wal/block_format.h"
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

TEST_CASE("inspect_wal_shows_where_and_why_the_log_ends_exactly_as_recovery_sees_it") {
  Harness h;
  h.start();
  auto s = h.open(h.create());
  for (int i = 0; i < 3; ++i) REQUIRE(append(*s, i, 1, pattern(100, i)).ok());
  h.close();
  std::string path = (h.dir.path / "wal").string();
  std::ostringstream clean;
  REQUIRE(inspect_wal(path, clean) == 0);
  CHECK(clean.str().find("no record follows (end of log)") != std::string::npos);
  CHECK(clean.str().find("3 records, 3 entries") != std::string::npos);
  // Tear the body of the last record (each of these small records is one 4 KiB block).
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(wal::block_format::kRingStart + 2 * 4096 + 40));
    f.put('\x7f');
  }
  std::ostringstream torn;
  REQUIRE(inspect_wal(path, torn) == 0);
  CHECK(torn.str().find("log ends at 8192: body CRC mismatch (torn write)") != std::string::npos);
  CHECK(torn.str().find("2 records, 2 entries") != std::string::npos);
  h.start();  // recovery sees the same two entries
  CHECK(h.manager->stats().recovered_entries == 2);
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
