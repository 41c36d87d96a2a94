// libFuzzer target: arbitrary bytes through every record-format reader (v2 batch sets with
// decompression and record decoding, legacy message sets, raw codec decoders, control keys).
// Promise checked: no crash, no read out of bounds, no allocation beyond the small bounds set here.
#include <cstddef>
#include <cstdint>

#include "protocol/records/control.h"
#include "protocol/records/legacy.h"
#include "protocol/records/record.h"

using namespace floe;
using namespace floe::records;

namespace {
constexpr size_t kMaxOutputBytes = 1 << 20;

void fuzz_v2(const SharedBytes& input, bool partial_tail, bool verify_crc) {
  ValidateOptions options;
  options.allow_partial_tail = partial_tail;
  options.verify_crc = verify_crc;
  BatchReader reader(input, options);
  DecodeOptions decode;
  decode.max_decompressed_bytes = kMaxOutputBytes;
  for (int i = 0; i < 64; ++i) {
    auto next = reader.next();
    if (!next || !next->has_value()) return;
    const RecordBatchView& view = **next;
    (void)view.header().last_sequence();
    auto records = decode_records(view, decode);
    if (!records) continue;
    for (const Record& r : *records) {
      (void)r.offset(view.header());
      if (view.header().is_control() && r.key) {
        (void)decode_control_key(r.key->span());
        if (r.value) (void)decode_end_txn_marker(r.value->span());
      }
    }
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  SharedBytes input = SharedBytes::copy_of({data, size});
  fuzz_v2(input, false, true);
  // Without the CRC check the fuzzer can reach the record decoder by mutating valid batches.
  fuzz_v2(input, true, false);

  LegacyDecodeOptions legacy;
  legacy.max_decompressed_bytes = kMaxOutputBytes;
  legacy.verify_crc = size % 2 == 0;
  (void)decode_legacy_messages(input, legacy);
  if (size < 4096) (void)legacy_to_v2(input, Codec::none, legacy);

  if (size > 0) {
    // The first byte picks a codec; the rest is its input.
    std::span<const uint8_t> rest(data + 1, size - 1);
    switch (data[0] % 6) {
      case 0: (void)decompress(Codec::gzip, rest, kMaxOutputBytes); break;
      case 1: (void)decompress(Codec::snappy, rest, kMaxOutputBytes); break;
      case 2: (void)decompress(Codec::lz4, rest, kMaxOutputBytes); break;
      case 3: (void)decompress(Codec::zstd, rest, kMaxOutputBytes); break;
      case 4: (void)decompress_lz4_legacy_header(rest, kMaxOutputBytes); break;
      default: break;
    }
  }
  return 0;
}
