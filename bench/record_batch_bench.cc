// Record batch throughput (`make bench`), each figure in GB/s of batch bytes and as a ratio to
// memcpy bandwidth of the same size measured in the same run:
//  - validate: header walk + CRC32C of a 1 MiB set of uncompressed batches (the produce path);
//  - decode per codec: decompress + decode every record of 1 MiB of (uncompressed) records;
//  - produce request: decode a ProduceRequest v9 carrying 1 MiB of batches, then validate them.
// Back of envelope: validation is bounded by CRC32C (~memcpy speed); decode by the codec.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "protocol/generated/produce_request.h"
#include "protocol/records/record.h"

using namespace floe;
using namespace floe::records;

namespace {
constexpr size_t kSetBytes = 1 << 20;
constexpr size_t kBatchBytes = 64 << 10;

template <typename F>
double seconds_per_call(F&& f) {
  using clock = std::chrono::steady_clock;
  f();
  size_t iterations = 0;
  auto start = clock::now();
  auto elapsed = clock::duration::zero();
  while (elapsed < std::chrono::milliseconds(400)) {
    f();
    ++iterations;
    elapsed = clock::now() - start;
  }
  return std::chrono::duration<double>(elapsed).count() / static_cast<double>(iterations);
}

// ~1 MiB of records (200-byte semi-compressible values) in 64 KiB batches of `codec`.
Bytes make_set(Codec codec, size_t* uncompressed_bytes) {
  Bytes set;
  *uncompressed_bytes = 0;
  int n = 0;
  while (*uncompressed_bytes < kSetBytes) {
    BatchOptions o;
    o.codec = codec;
    o.producer_id = 1;
    o.producer_epoch = 0;
    o.base_sequence = n;
    RecordBatchBuilder b(o);
    while (b.uncompressed_bytes() < kBatchBytes) {
      std::string key = "key-" + std::to_string(n);
      std::string value = "{\"id\":" + std::to_string(n) + ",\"payload\":\"" + std::string(160, static_cast<char>('a' + n % 26)) + "\"}";
      b.append(1700000000000 + n, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(key.data()), key.size()),
               std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
      ++n;
    }
    *uncompressed_bytes += b.uncompressed_bytes();
    Bytes batch = *b.build();
    set.insert(set.end(), batch.begin(), batch.end());
  }
  return set;
}

void report(const char* what, double bytes, double seconds, double memcpy_gbs) {
  double gbs = bytes / seconds / 1e9;
  std::printf("  %-34s %7.2f GB/s  %5.2fx memcpy\n", what, gbs, gbs / memcpy_gbs);
}
}  // namespace

int main() {
  std::vector<uint8_t> a(kSetBytes, 1), b(kSetBytes);
  volatile size_t sink = 0;
  double memcpy_s = seconds_per_call([&] {
    std::memcpy(b.data(), a.data(), kSetBytes);
    sink = sink + b[kSetBytes / 3];
  });
  double memcpy_gbs = static_cast<double>(kSetBytes) / memcpy_s / 1e9;
  std::printf("record_batch_bench: 1 MiB sets of 64 KiB batches, 200-byte records\n");
  std::printf("  %-34s %7.2f GB/s  (baseline)\n", "memcpy 1 MiB", memcpy_gbs);

  size_t plain_bytes = 0;
  SharedBytes plain(make_set(Codec::none, &plain_bytes));
  ValidateOptions produce;
  produce.require_contiguous_offsets = true;
  double validate_s = seconds_per_call([&] {
    auto batches = read_batches(plain, produce);
    sink = sink + batches->size();
  });
  report("validate (walk + CRC32C)", static_cast<double>(plain.size()), validate_s, memcpy_gbs);

  for (Codec codec : {Codec::none, Codec::gzip, Codec::snappy, Codec::lz4, Codec::zstd}) {
    size_t uncompressed = 0;
    SharedBytes set(make_set(codec, &uncompressed));
    auto batches = read_batches(set);
    double s = seconds_per_call([&] {
      for (const auto& v : *batches) {
        auto records = decode_records(v);
        sink = sink + records->size();
      }
    });
    std::string what = std::string("decompress+decode ") + codec_name(codec) + " (" +
                       std::to_string(set.size() * 100 / uncompressed) + "% size)";
    report(what.c_str(), static_cast<double>(uncompressed), s, memcpy_gbs);
  }

  // A Produce request (v9, flexible) for one partition carrying the 1 MiB set.
  protocol::ProduceRequest req;
  req.acks = -1;
  req.timeout_ms = 30000;
  req.topic_data.resize(1);
  req.topic_data[0].name = "bench";
  req.topic_data[0].partition_data.resize(1);
  req.topic_data[0].partition_data[0].records = plain;
  ByteWriter w;
  req.encode(w, 9);
  SharedBytes wire(w.take());
  double produce_s = seconds_per_call([&] {
    ByteReader r(wire);
    protocol::ProduceRequest decoded;
    if (!decoded.decode(r, 9).ok()) std::abort();
    for (const auto& t : decoded.topic_data)
      for (const auto& p : t.partition_data) {
        auto batches = read_batches(*p.records, produce);
        sink = sink + batches->size();
      }
  });
  report("ProduceRequest v9 decode + validate", static_cast<double>(wire.size()), produce_s, memcpy_gbs);
  return 0;
}
