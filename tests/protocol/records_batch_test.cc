#include <catch2/catch.hpp>
#include <string>

#include "protocol/records/control.h"
#include "protocol/records/record.h"
#include "protocol/records/record_batch.h"

using namespace floe;
using namespace floe::records;

namespace {
constexpr Codec kAllCodecs[] = {Codec::none, Codec::gzip, Codec::snappy, Codec::lz4, Codec::zstd};

std::span<const uint8_t> bytes_of(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }
ValidateOptions produce_rules() {
  ValidateOptions o;
  o.require_contiguous_offsets = true;
  return o;
}
ValidateOptions partial_tail_ok() {
  ValidateOptions o;
  o.allow_partial_tail = true;
  return o;
}
std::string str(const SharedBytes& b) { return std::string(b.data(), b.data() + b.size()); }

// Record i: key "k<i>" except every 5th null; value of i*37 % 2000 bytes except every 7th null;
// headers on every 3rd record (one with a null value).
Bytes make_batch(Codec codec, int count, BatchOptions options = {}) {
  options.codec = codec;
  RecordBatchBuilder b(options);
  for (int i = 0; i < count; ++i) {
    std::string key = "k" + std::to_string(i);
    std::string value(static_cast<size_t>(i * 37 % 2000), static_cast<char>('a' + i % 26));
    std::vector<RecordHeader> headers;
    if (i % 3 == 0) {
      headers.push_back({"trace", SharedBytes::copy_of(bytes_of("id-" + std::to_string(i)))});
      headers.push_back({"empty", std::nullopt});
    }
    b.append(1700000000000 + i * 10 - (i % 4 == 1 ? 25 : 0), i % 5 == 0 ? std::nullopt : std::optional(bytes_of(key)),
             i % 7 == 0 ? std::nullopt : std::optional(bytes_of(value)), headers);
  }
  return *b.build();
}

void check_records(const RecordBatchView& view, int count) {
  auto records = decode_records(view);
  REQUIRE(records.ok());
  REQUIRE(records->size() == static_cast<size_t>(count));
  int64_t max_ts = -1;
  for (int i = 0; i < count; ++i) {
    const Record& r = (*records)[static_cast<size_t>(i)];
    INFO("record " << i);
    CHECK(r.offset(view.header()) == view.header().base_offset + i);
    int64_t ts = 1700000000000 + i * 10 - (i % 4 == 1 ? 25 : 0);
    max_ts = std::max(max_ts, ts);
    CHECK(r.timestamp_ms(view.header()) == ts);
    if (i % 5 == 0) CHECK_FALSE(r.key.has_value());
    else CHECK(str(*r.key) == "k" + std::to_string(i));
    if (i % 7 == 0) CHECK_FALSE(r.value.has_value());
    else CHECK(str(*r.value) == std::string(static_cast<size_t>(i * 37 % 2000), static_cast<char>('a' + i % 26)));
    REQUIRE(r.headers.size() == (i % 3 == 0 ? 2u : 0u));
    if (i % 3 == 0) {
      CHECK(r.headers[0].key == "trace");
      CHECK(str(*r.headers[0].value) == "id-" + std::to_string(i));
      CHECK(r.headers[1].key == "empty");
      CHECK_FALSE(r.headers[1].value.has_value());
    }
  }
  if (count > 0) CHECK(view.header().max_timestamp == max_ts);
}
}  // namespace

TEST_CASE("batches round-trip through every codec with null keys, null values and headers", "[records][batch]") {
  for (Codec c : kAllCodecs) {
    for (int count : {1, 2, 10, 100, 1000}) {
      INFO(codec_name(c) << " x " << count);
      BatchOptions o;
      o.base_offset = 1234;
      o.producer_id = 77;
      o.producer_epoch = 3;
      o.base_sequence = 10;
      Bytes batch = make_batch(c, count, o);
      auto view = RecordBatchView::parse(SharedBytes(batch), produce_rules());
      REQUIRE(view.ok());
      const RecordBatchHeader& h = view->header();
      CHECK(h.codec() == c);
      CHECK(h.record_count == count);
      CHECK(h.last_offset_delta == count - 1);
      CHECK(h.base_offset == 1234);
      CHECK(h.producer_id == 77);
      CHECK(h.producer_epoch == 3);
      CHECK(h.base_sequence == 10);
      CHECK(h.last_sequence() == 10 + count - 1);
      CHECK_FALSE(h.is_transactional());
      CHECK_FALSE(h.is_control());
      check_records(*view, count);
    }
  }
}

TEST_CASE("a set of many batches is walked batch by batch without decompressing", "[records][batch]") {
  Bytes set;
  int total = 0;
  for (Codec c : kAllCodecs) {
    Bytes b = make_batch(c, 20 + static_cast<int>(c));
    total += 20 + static_cast<int>(c);
    set.insert(set.end(), b.begin(), b.end());
  }
  auto batches = read_batches(SharedBytes(set), produce_rules());
  REQUIRE(batches.ok());
  REQUIRE(batches->size() == 5);
  int seen = 0;
  for (const auto& v : *batches) seen += v.header().record_count;
  CHECK(seen == total);

  // The produce path: assign offsets in place; the CRCs stay valid.
  auto next = assign_offsets(set, 5000, 9);
  REQUIRE(next.ok());
  CHECK(*next == 5000 + total);
  auto again = read_batches(SharedBytes(set));
  REQUIRE(again.ok());
  int64_t expect = 5000;
  for (const auto& v : *again) {
    CHECK(v.header().base_offset == expect);
    CHECK(v.header().partition_leader_epoch == 9);
    expect = v.header().next_offset();
    check_records(v, v.header().record_count);
  }
}

TEST_CASE("flipping any byte covered by the CRC is detected", "[records][batch]") {
  for (Codec c : {Codec::none, Codec::zstd}) {
    Bytes batch = make_batch(c, 5);
    for (size_t i = layout::kCrc; i < batch.size(); ++i) {
      Bytes bad = batch;
      bad[i] ^= 0x01;
      INFO(codec_name(c) << " byte " << i);
      CHECK_FALSE(RecordBatchView::parse(SharedBytes(bad)).ok());
    }
    // The fields before the CRC's range: length and magic are checked structurally;
    // baseOffset and partitionLeaderEpoch are deliberately free to change.
    for (size_t i = layout::kBatchLength; i <= layout::kMagic; ++i) {
      if (i >= layout::kPartitionLeaderEpoch && i < layout::kMagic) continue;
      Bytes bad = batch;
      bad[i] ^= 0x01;
      CHECK_FALSE(RecordBatchView::parse(SharedBytes(bad)).ok());
    }
  }
}

TEST_CASE("setting base offset and leader epoch in place keeps the CRC valid", "[records][batch]") {
  Bytes batch = make_batch(Codec::lz4, 3);
  set_base_offset(batch, 1LL << 40);
  set_partition_leader_epoch(batch, 17);
  auto v = RecordBatchView::parse(SharedBytes(batch));
  REQUIRE(v.ok());
  CHECK(v->header().base_offset == 1LL << 40);
  CHECK(v->header().partition_leader_epoch == 17);
  set_max_timestamp(batch, TimestampType::log_append_time, 42);
  auto w = RecordBatchView::parse(SharedBytes(batch));
  REQUIRE(w.ok());
  CHECK(w->header().timestamp_type() == TimestampType::log_append_time);
  auto records = decode_records(*w);
  REQUIRE(records.ok());
  for (const auto& r : *records) CHECK(r.timestamp_ms(w->header()) == 42);
}

TEST_CASE("a truncated batch is rejected at every prefix, never read past", "[records][batch]") {
  for (Codec c : kAllCodecs) {
    Bytes batch = make_batch(c, 4);
    for (size_t cut = 0; cut < batch.size(); ++cut) {
      Bytes prefix(batch.begin(), batch.begin() + static_cast<long>(cut));  // exact-size copy: ASan sees overreads
      INFO(codec_name(c) << " cut at " << cut);
      if (cut > 0) CHECK_FALSE(read_batches(SharedBytes(prefix)).ok());
      auto partial = read_batches(SharedBytes(prefix), partial_tail_ok());
      REQUIRE(partial.ok());
      CHECK(partial->empty());
    }
  }
}

TEST_CASE("header fields that contradict each other are rejected", "[records][batch]") {
  Bytes good = make_batch(Codec::none, 3);
  auto with = [&](size_t at, std::initializer_list<uint8_t> bytes) {
    Bytes b = good;
    size_t i = at;
    for (uint8_t x : bytes) b[i++] = x;
    // Re-checksum so only the structural check can reject it.
    uint32_t crc = compute_batch_crc(b);
    for (int k = 0; k < 4; ++k) b[layout::kCrc + static_cast<size_t>(k)] = static_cast<uint8_t>(crc >> (24 - 8 * k));
    return RecordBatchView::parse(SharedBytes(b), produce_rules());
  };
  CHECK(with(layout::kRecordCount, {0, 0, 0, 4}).error().code == Errc::invalid_value);   // count > lastOffsetDelta+1
  CHECK(with(layout::kRecordCount, {0xff, 0xff, 0xff, 0xff}).error().code == Errc::invalid_value);  // negative
  CHECK(with(layout::kLastOffsetDelta, {0, 0, 0, 5}).error().code == Errc::invalid_value);  // gaps on produce
  CHECK(with(layout::kAttributes, {0, 6}).error().code == Errc::unsupported);               // codec 6
  CHECK(with(layout::kMagic, {1}).error().code == Errc::unsupported);
  // A fetched (compacted) batch may have fewer records than offsets.
  Bytes gap = good;
  gap[layout::kLastOffsetDelta + 3] = 9;
  uint32_t crc = compute_batch_crc(gap);
  for (int k = 0; k < 4; ++k) gap[layout::kCrc + static_cast<size_t>(k)] = static_cast<uint8_t>(crc >> (24 - 8 * k));
  CHECK(RecordBatchView::parse(SharedBytes(gap)).ok());
  // Absurd record counts are rejected from the header alone when uncompressed.
  CHECK(with(layout::kLastOffsetDelta, {0x7f, 0xff, 0xff, 0xfe}).ok() == false);
}

TEST_CASE("a batch larger than the configured limit is too_large", "[records][batch]") {
  Bytes batch = make_batch(Codec::none, 50);
  ValidateOptions small;
  small.max_batch_bytes = 1000;
  auto r = read_batches(SharedBytes(batch), small);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::too_large);
}

TEST_CASE("a compressed batch that inflates past the bound is too_large, not an allocation", "[records][batch]") {
  BatchOptions zstd;
  zstd.codec = Codec::zstd;
  RecordBatchBuilder b(zstd);
  Bytes zeros(4 << 20, 0);
  b.append(1, std::nullopt, std::span<const uint8_t>(zeros));
  Bytes batch = *b.build();
  CHECK(batch.size() < 4096);
  auto view = RecordBatchView::parse(SharedBytes(batch));
  REQUIRE(view.ok());
  DecodeOptions one_mib, eight_mib;
  one_mib.max_decompressed_bytes = 1 << 20;
  eight_mib.max_decompressed_bytes = 8 << 20;
  auto r = decode_records(*view, one_mib);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::too_large);
  CHECK(decode_records(*view, eight_mib).ok());
}

TEST_CASE("records whose lengths lie are rejected", "[records][batch]") {
  // Hand-built section: one record claiming 100 bytes with 8 present.
  ByteWriter w;
  w.write_varint(100);
  for (int i = 0; i < 8; ++i) w.write_u8(0);
  CHECK(decode_record_section(SharedBytes(w.take()), 1).error().code == Errc::invalid_length);
  // A key length beyond the record.
  ByteWriter k;
  k.write_varint(7);
  k.write_i8(0);
  k.write_varlong(0);
  k.write_varint(0);
  k.write_varint(50);  // key length
  k.write_varint(-1);
  k.write_varint(0);
  k.write_u8(0);
  CHECK_FALSE(decode_record_section(SharedBytes(k.take()), 1).ok());
  // Trailing bytes after the declared records.
  Bytes batch = make_batch(Codec::none, 2);
  auto view = RecordBatchView::parse(SharedBytes(batch));
  SharedBytes section = view->records_bytes();
  Bytes extra = section.to_bytes();
  extra.push_back(0);
  CHECK(decode_record_section(SharedBytes(extra), 2).error().code == Errc::corrupt);
  CHECK(decode_record_section(section, 3).ok() == false);
  // A count far beyond the bytes is rejected before reserving memory.
  CHECK(decode_record_section(section, 1 << 30).error().code == Errc::invalid_length);
}

TEST_CASE("records with offset gaps and a delete horizon keep their absolute values", "[records][batch]") {
  BatchOptions o;
  o.base_offset = 100;
  o.delete_horizon_ms = 5000;
  RecordBatchBuilder b(o);
  std::string v = "v";
  b.append_at(0, 6000, std::nullopt, bytes_of(v));
  b.append_at(4, 7000, std::nullopt, bytes_of(v));
  auto view = RecordBatchView::parse(SharedBytes(*b.build()));
  REQUIRE(view.ok());
  CHECK(view->header().has_delete_horizon());
  CHECK(view->header().base_timestamp == 5000);
  CHECK(view->header().last_offset() == 104);
  auto records = decode_records(*view);
  REQUIRE(records.ok());
  CHECK((*records)[1].offset(view->header()) == 104);
  CHECK((*records)[1].timestamp_ms(view->header()) == 7000);
  CHECK_FALSE(RecordBatchView::parse(view->bytes(), produce_rules()).ok());
}

TEST_CASE("end-transaction control batches carry their marker", "[records][control]") {
  for (ControlType t : {ControlType::commit, ControlType::abort}) {
    Bytes batch = *build_end_txn_batch(t, 4242, 7, 11, 1700000000000, 50, 3);
    auto view = RecordBatchView::parse(SharedBytes(batch), produce_rules());
    REQUIRE(view.ok());
    CHECK(view->header().is_control());
    CHECK(view->header().is_transactional());
    CHECK(view->header().producer_id == 4242);
    CHECK(view->header().producer_epoch == 7);
    auto records = decode_records(*view);
    REQUIRE(records.ok());
    REQUIRE(records->size() == 1);
    auto key = decode_control_key((*records)[0].key->span());
    REQUIRE(key.ok());
    CHECK(key->type == static_cast<int16_t>(t));
    auto marker = decode_end_txn_marker((*records)[0].value->span());
    REQUIRE(marker.ok());
    CHECK(marker->coordinator_epoch == 11);
  }
  Bytes short_key = {0, 0, 1};
  CHECK(decode_control_key(short_key).error().code == Errc::truncated);
  CHECK_FALSE(build_end_txn_batch(ControlType::leader_change, 1, 1, 1, 1).ok());
}
