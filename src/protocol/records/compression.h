// Record compression codecs, as Kafka numbers them in a batch's attributes (bits 0-2).
//
// Wire formats (what Kafka clients write and read):
//  - gzip:   an RFC 1952 gzip stream (zlib); concatenated members are accepted on read.
//  - snappy: the xerial/snappy-java block framing: magic 82 'SNAPPY' 00, int32 version,
//            int32 min-compatible version, then blocks of [int32 BE length][raw snappy block].
//            Written framed (as the Java client does); read framed or as one raw snappy block.
//  - lz4:    the standard LZ4 frame format (magic 04 22 4D 18). Kafka 0.8-0.9 clients wrote
//            magic-0 messages with a header checksum over the wrong bytes; see
//            decompress_lz4_legacy_header().
//  - zstd:   a zstd frame (possibly without a content size), decoded by streaming.
//
// Invariants:
//  (1) decompress never allocates more than max_output_bytes (+ small codec state) whatever the
//      input claims; output that would exceed the bound yields Errc::too_large, so a
//      decompression bomb costs at most max_output_bytes of memory.
//  (2) decompress(c, compress(c, x)) == x for every codec c and input x.
// Thread safety: all functions are reentrant (codec contexts are per call).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/bytes.h"
#include "common/result.h"

namespace floe::records {

enum class Codec : uint8_t { none = 0, gzip = 1, snappy = 2, lz4 = 3, zstd = 4 };

inline constexpr size_t kDefaultMaxDecompressedBytes = size_t{64} << 20;

const char* codec_name(Codec codec);
// The codec for attribute bits 0-2; ids 5-7 are Errc::unsupported.
Result<Codec> codec_from_id(int id);

// Compresses `input` in Kafka's wire format for `codec`. Codec::none returns a copy.
Result<Bytes> compress(Codec codec, std::span<const uint8_t> input);

// Decompresses `input`. Errc::too_large if the output would exceed max_output_bytes,
// Errc::corrupt for malformed input, Errc::truncated for input that ends mid-stream.
Result<Bytes> decompress(Codec codec, std::span<const uint8_t> input, size_t max_output_bytes);

// LZ4 as written inside magic-0 message sets by Kafka 0.8-0.9 clients, whose frame header
// checksum byte was computed over the magic number too. Accepts both that and correct frames.
Result<Bytes> decompress_lz4_legacy_header(std::span<const uint8_t> input, size_t max_output_bytes);
// The writer side of that quirk, for answering magic-0 readers (down-conversion).
Result<Bytes> compress_lz4_legacy_header(std::span<const uint8_t> input);

}  // namespace floe::records
