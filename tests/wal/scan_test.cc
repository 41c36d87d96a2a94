// wal/scan.h: the read-only walk shared by BlockWal recovery and `floe storage inspect wal`.
#include "wal/scan.h"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>

#include "common/little_endian.h"
#include "wal/block_wal.h"
#include "wal_test_util.h"

using namespace floe;
using namespace floe::wal;
namespace bf = floe::wal::block_format;
namespace fs = std::filesystem;

using namespace floe::wal::testing;

namespace {

SharedBytes payload(uint64_t n, size_t size) {
  Bytes b(size);
  std::mt19937_64 rng(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return SharedBytes(std::move(b));
}

Position append_sync(Wal& wal, uint64_t n, size_t size) {
  std::promise<Result<Position>> p;
  auto f = p.get_future();
  wal.append(Entry{StreamId(n % 3), StreamEpoch(1), Offset(static_cast<int64_t>(n)), payload(n, size)},
             [&p](Result<Position> r) { p.set_value(std::move(r)); });
  auto r = f.get();
  REQUIRE(r.ok());
  return *r;
}

struct Fd {
  int fd;
  explicit Fd(const std::string& path) : fd(::open(path.c_str(), O_RDONLY)) { REQUIRE(fd >= 0); }
  ~Fd() { ::close(fd); }
};

struct Walk {
  std::vector<ScannedRecord> records;  // bodies not kept
  std::vector<EntryView> entries;      // payloads not kept
  ScanEnd end;
};

Walk walk(const std::string& path) {
  Fd f(path);
  auto headers = read_headers(f.fd);
  REQUIRE(headers.ok());
  REQUIRE(headers->best.has_value());
  Walk w;
  auto end = scan_records(f.fd, *headers->best, [&](const ScannedRecord& r) -> Status {
    w.records.push_back(ScannedRecord{r.offset, r.type, r.epoch, r.record_bytes, {}});
    if (r.type == bf::kRecordData) {
      auto entries = parse_entries(r.body);
      REQUIRE(entries.ok());
      for (auto e : *entries) w.entries.push_back(EntryView{e.stream_id, e.epoch, e.base_offset, {}});
    }
    return {};
  });
  REQUIRE(end.ok());
  w.end = *end;
  return w;
}

void xor_byte(const std::string& path, uint64_t at) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(at));
  char c = 0;
  f.read(&c, 1);
  c ^= 0x5a;
  f.seekp(static_cast<std::streamoff>(at));
  f.write(&c, 1);
}

}  // namespace

TEST_CASE("scan_reports_every_record_and_ends_where_appends_continue", "[wal]") {
  TempWal t;
  uint64_t end_offset = 0;
  std::vector<Position> written;
  {
    auto opened = BlockWal::open(t.options());
    REQUIRE(opened.ok());
    for (uint64_t n = 0; n < 12; ++n) written.push_back(append_sync(*opened->wal, n, 500 + n * 100));
    end_offset = opened->wal->stats().end_offset;
  }
  Walk w = walk(t.path);
  CHECK(w.end.stop == ScanStop::no_record);
  CHECK(w.end.end_offset == end_offset);
  CHECK(w.end.data_records == 12);
  REQUIRE(w.records.size() == 12);
  REQUIRE(w.entries.size() == 12);
  for (size_t i = 0; i < 12; ++i) {
    CHECK(w.records[i].offset == written[i].start);
    CHECK(w.records[i].offset + w.records[i].record_bytes == written[i].end);
    CHECK(w.entries[i].base_offset == Offset(static_cast<int64_t>(i)));
  }
}

TEST_CASE("scan_stops_at_a_torn_body_or_a_torn_record_header_and_says_which", "[wal]") {
  for (bool header : {false, true}) {
    TempWal t;
    Position last;
    {
      auto opened = BlockWal::open(t.options());
      REQUIRE(opened.ok());
      for (uint64_t n = 0; n < 5; ++n) last = append_sync(*opened->wal, n, 2000);
    }
    xor_byte(t.path, bf::kRingStart + last.start + (header ? 9 : bf::kRecordHeaderBytes + 50));
    Walk w = walk(t.path);
    CHECK(w.end.stop == (header ? ScanStop::header_crc : ScanStop::body_crc));
    CHECK(w.end.end_offset == last.start);
    CHECK(w.end.data_records == 4);
    // Recovery agrees: the same four entries, and appends continue over the torn record.
    auto again = BlockWal::open(t.options());
    REQUIRE(again.ok());
    CHECK(again->recovered.size() == 4);
    CHECK(again->wal->stats().end_offset == last.start);
  }
}

TEST_CASE("scan_after_the_ring_wrapped_stops_at_a_stale_record_from_the_previous_lap", "[wal]") {
  TempWal t;
  const uint64_t capacity = 64 << 10;
  uint64_t end_offset = 0;
  {
    auto opened = BlockWal::open(t.options(capacity));
    REQUIRE(opened.ok());
    // Each 10 KB entry is a 12 KiB record; trimming behind every append keeps the ring free.
    for (uint64_t n = 0; n < 14; ++n) {
      Position p = append_sync(*opened->wal, n, 10000);
      REQUIRE(opened->wal->trim(p.start).ok());
    }
    end_offset = opened->wal->stats().end_offset;
  }
  REQUIRE(end_offset > capacity);
  Walk w = walk(t.path);
  CHECK(w.end.end_offset == end_offset);
  CHECK(w.end.stop == ScanStop::stale_offset);
  CHECK(w.entries.size() >= 1);
  CHECK(w.entries.back().base_offset == Offset(13));
}

TEST_CASE("scan_never_writes_to_the_file", "[wal]") {
  TempWal t;
  {
    auto opened = BlockWal::open(t.options());
    REQUIRE(opened.ok());
    for (uint64_t n = 0; n < 3; ++n) append_sync(*opened->wal, n, 100);
  }
  auto before = fs::last_write_time(t.path);
  std::ifstream in(t.path, std::ios::binary);
  std::string content_before((std::istreambuf_iterator<char>(in)), {});
  walk(t.path);
  std::ifstream in2(t.path, std::ios::binary);
  std::string content_after((std::istreambuf_iterator<char>(in2)), {});
  CHECK(fs::last_write_time(t.path) == before);
  CHECK(content_after == content_before);
}

TEST_CASE("parse_entries_rejects_lying_counts_and_lengths_without_reading_past_the_body", "[wal]") {
  // A valid body: two entries of 3 and 0 payload bytes.
  Bytes body(4 + 2 * bf::kEntryHeaderBytes + 3);
  le::put_u32(body.data(), 2);
  le::put_u32(body.data() + 4 + 24, 3);
  le::put_u32(body.data() + 4 + bf::kEntryHeaderBytes + 3 + 24, 0);
  auto ok = parse_entries(body);
  REQUIRE(ok.ok());
  CHECK(ok->size() == 2);
  CHECK(ok->at(0).payload.size() == 3);

  Bytes count_lies = body;
  le::put_u32(count_lies.data(), 1000000);
  CHECK(parse_entries(count_lies).error().code == Errc::corrupt);
  Bytes length_lies = body;
  le::put_u32(length_lies.data() + 4 + 24, 0xffffffff);
  CHECK(parse_entries(length_lies).error().code == Errc::corrupt);
  Bytes trailing = body;
  trailing.push_back(0);
  CHECK(parse_entries(trailing).error().code == Errc::corrupt);
  CHECK(parse_entries(Bytes{1, 0}).error().code == Errc::corrupt);
  for (size_t n = 0; n < body.size(); ++n)  // every truncation is refused
    CHECK_FALSE(parse_entries(std::span<const uint8_t>(body.data(), n)).ok());
}

TEST_CASE("headers_are_decoded_even_when_invalid_and_the_highest_valid_sequence_wins", "[wal]") {
  TempWal t;
  {
    auto opened = BlockWal::open(t.options());  // writes sequence 1 (slot 1)
    REQUIRE(opened.ok());
  }
  { REQUIRE(BlockWal::open(t.options()).ok()); }  // sequence 2 (slot 0)
  Fd f(t.path);
  auto h = read_headers(f.fd);
  REQUIRE(h.ok());
  CHECK(h->slots[0].valid);
  CHECK(h->slots[1].valid);
  CHECK(h->best->sequence == 2);
  CHECK(h->best->epoch == 2);
  CHECK_FALSE(h->all_zero);
  xor_byte(t.path, 20);  // slot 0 torn: slot 1 wins, slot 0 still shown
  auto torn = read_headers(f.fd);
  REQUIRE(torn.ok());
  CHECK_FALSE(torn->slots[0].valid);
  CHECK(torn->slots[0].header.sequence == 2);
  CHECK(torn->best->sequence == 1);
}
