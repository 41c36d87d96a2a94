// Decodes record vectors written by another implementation (kafka-python, see
// scripts/make-record-vectors.py) and checks every field against its manifest.
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "common/crc32c.h"
#include "protocol/records/legacy.h"
#include "protocol/records/record.h"

using namespace floe;
using namespace floe::records;

namespace {

std::string vectors_dir() {
  const char* env = std::getenv("FLOE_SOURCE_DIR");
  return std::string(env ? env : FLOE_SOURCE_DIR) + "/testdata/records/";
}

Bytes read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

std::string hex_or_digest(const std::optional<SharedBytes>& b) {
  if (!b) return "-";
  if (b->size() == 0) return "=";
  char buf[64];
  if (b->size() > 64) {
    std::snprintf(buf, sizeof(buf), "crc32c:%08x:%zu", crc32c(b->span()), b->size());
    return buf;
  }
  return to_hex(b->span());
}

struct ExpectedBatch {
  int magic = 0, codec = 0;
  int64_t base_offset = 0, producer_id = 0;
  int record_count = 0, producer_epoch = 0, base_sequence = 0, transactional = 0;
  std::vector<std::string> records;  // "<offset> <timestamp> <key> <value> <n> [hk hv]..."
};

// file -> batches, in order.
std::map<std::string, std::vector<ExpectedBatch>> load_manifest() {
  std::ifstream in(vectors_dir() + "manifest.txt");
  REQUIRE(in.good());
  std::map<std::string, std::vector<ExpectedBatch>> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream s(line);
    std::string kind, file;
    size_t index;
    s >> kind >> file >> index;
    auto& batches = out[file];
    if (kind == "batch") {
      ExpectedBatch b;
      s >> b.magic >> b.codec >> b.base_offset >> b.record_count >> b.producer_id >> b.producer_epoch >>
          b.base_sequence >> b.transactional;
      REQUIRE(batches.size() == index);
      batches.push_back(b);
    } else {
      REQUIRE(index < batches.size());
      std::string rest;
      std::getline(s, rest);
      batches[index].records.push_back(rest.substr(1));
    }
  }
  return out;
}

std::string describe(const Record& r, const RecordBatchHeader& h) {
  std::string s = std::to_string(r.offset(h)) + " " + std::to_string(r.timestamp_ms(h)) + " " + hex_or_digest(r.key) +
                  " " + hex_or_digest(r.value) + " " + std::to_string(r.headers.size());
  for (const auto& hd : r.headers)
    s += " " + hex_or_digest(SharedBytes::copy_of({reinterpret_cast<const uint8_t*>(hd.key.data()), hd.key.size()})) +
         " " + hex_or_digest(hd.value);
  return s;
}

std::string describe(const LegacyMessage& m) {
  return std::to_string(m.offset) + " " + std::to_string(m.timestamp_ms) + " " + hex_or_digest(m.key) + " " +
         hex_or_digest(m.value) + " 0";
}

// All records of a v2 set, described, in order.
std::vector<std::string> describe_v2(const SharedBytes& set) {
  std::vector<std::string> out;
  auto batches = read_batches(set);
  REQUIRE(batches.ok());
  for (const auto& b : *batches) {
    auto records = decode_records(b);
    REQUIRE(records.ok());
    for (const auto& r : *records) out.push_back(describe(r, b.header()));
  }
  return out;
}

}  // namespace

TEST_CASE("kafka-python's v2 batches decode field for field in every codec", "[records][interop]") {
  auto manifest = load_manifest();
  int files = 0;
  for (const auto& [file, expected] : manifest) {
    if (file.rfind("v2_", 0) != 0) continue;
    ++files;
    INFO(file);
    SharedBytes set(read_file(vectors_dir() + file));
    ValidateOptions produce;
    produce.require_contiguous_offsets = true;
    auto batches = read_batches(set, produce);
    REQUIRE(batches.ok());
    REQUIRE(batches->size() == expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      const RecordBatchHeader& h = (*batches)[i].header();
      const ExpectedBatch& e = expected[i];
      CHECK(h.codec_id() == e.codec);
      CHECK(h.base_offset == e.base_offset);
      CHECK(h.record_count == e.record_count);
      CHECK(h.producer_id == e.producer_id);
      CHECK(h.producer_epoch == e.producer_epoch);
      CHECK(h.base_sequence == e.base_sequence);
      CHECK(h.is_transactional() == (e.transactional == 1));
      auto records = decode_records((*batches)[i]);
      REQUIRE(records.ok());
      REQUIRE(records->size() == e.records.size());
      for (size_t k = 0; k < e.records.size(); ++k) CHECK(describe((*records)[k], h) == e.records[k]);
    }
  }
  CHECK(files == 5);
}

TEST_CASE("kafka-python's legacy message sets decode and convert to v2 unchanged", "[records][interop]") {
  auto manifest = load_manifest();
  int files = 0;
  for (const auto& [file, expected] : manifest) {
    if (file.rfind("v2_", 0) == 0) continue;
    ++files;
    INFO(file);
    REQUIRE(expected.size() == 1);
    SharedBytes set(read_file(vectors_dir() + file));
    auto peek = peek_magic(set.span());
    REQUIRE(peek.ok());
    CHECK(*peek == expected[0].magic);
    auto messages = decode_legacy_messages(set);
    REQUIRE(messages.ok());
    REQUIRE(messages->size() == expected[0].records.size());
    for (size_t k = 0; k < messages->size(); ++k) CHECK(describe((*messages)[k]) == expected[0].records[k]);

    for (Codec target : {Codec::none, Codec::lz4}) {
      auto v2 = legacy_to_v2(set, target);
      REQUIRE(v2.ok());
      auto described = describe_v2(SharedBytes(*v2));
      REQUIRE(described.size() == expected[0].records.size());
      for (size_t k = 0; k < described.size(); ++k) CHECK(described[k] == expected[0].records[k]);
    }
  }
  CHECK(files == 8);
}

TEST_CASE("v2 batches down-convert to magic 0 and 1 and back without losing offsets, keys or values",
          "[records][interop]") {
  auto manifest = load_manifest();
  for (const char* file : {"v2_none.bin", "v2_gzip.bin", "v2_snappy.bin", "v2_lz4.bin"}) {
    SharedBytes set(read_file(vectors_dir() + file));
    auto original = describe_v2(set);
    for (int8_t magic : {int8_t{0}, int8_t{1}}) {
      INFO(file << " magic " << int(magic));
      auto legacy = v2_to_legacy(set, magic);
      REQUIRE(legacy.ok());
      auto messages = decode_legacy_messages(SharedBytes(*legacy));
      REQUIRE(messages.ok());
      REQUIRE(messages->size() == original.size());
      for (size_t k = 0; k < original.size(); ++k) {
        const LegacyMessage& m = (*messages)[k];
        std::istringstream s(original[k]);
        std::string offset, ts, key, value;
        s >> offset >> ts >> key >> value;
        CHECK(std::to_string(m.offset) == offset);
        CHECK(std::to_string(m.timestamp_ms) == (magic == 0 ? "-1" : ts));
        CHECK(hex_or_digest(m.key) == key);
        CHECK(hex_or_digest(m.value) == value);
      }
    }
  }
  auto zstd = v2_to_legacy(SharedBytes(read_file(vectors_dir() + "v2_zstd.bin")), 1);
  REQUIRE_FALSE(zstd.ok());
  CHECK(zstd.error().code == Errc::unsupported);
}
