#include "protocol/records/compression.h"

#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace floe::records {
namespace {

// Output grows geometrically from a guess, never beyond max_output_bytes + 1 (the extra byte
// detects "more than the bound" without decoding further).
class BoundedOutput {
 public:
  BoundedOutput(size_t input_bytes, size_t max_output_bytes) : max_(max_output_bytes) {
    size_t guess = input_bytes < (size_t{1} << 26) ? input_bytes * 4 + 64 : input_bytes;
    buf_.resize(std::min(guess, cap()));
  }
  // Room to write at least one byte; false when the bound is reached.
  bool ensure_room() {
    if (used_ < buf_.size()) return true;
    if (buf_.size() >= cap()) return false;
    buf_.resize(std::min(cap(), std::max<size_t>(buf_.size() * 2, 4096)));
    return true;
  }
  uint8_t* tail() { return buf_.data() + used_; }
  size_t room() const { return buf_.size() - used_; }
  void advance(size_t n) { used_ += n; }
  size_t used() const { return used_; }
  bool over_bound() const { return used_ > max_; }
  Bytes take() {
    buf_.resize(used_);
    return std::move(buf_);
  }

 private:
  size_t cap() const { return max_ == SIZE_MAX ? max_ : max_ + 1; }
  size_t max_;
  Bytes buf_;
  size_t used_ = 0;
};

Error too_large(const char* codec, size_t max_output_bytes) {
  return Error(Errc::too_large, std::string(codec) + " output exceeds " + std::to_string(max_output_bytes) + " bytes");
}

// ---- gzip ----

Result<Bytes> gzip_compress(std::span<const uint8_t> input) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return Error(Errc::internal, "deflateInit2 failed");
  Bytes out(deflateBound(&zs, input.size()) + 32);
  zs.next_in = const_cast<Bytef*>(input.data());
  zs.avail_in = static_cast<uInt>(input.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  size_t produced = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return Error(Errc::internal, "deflate did not finish");
  out.resize(produced);
  return out;
}

Result<Bytes> gzip_decompress(std::span<const uint8_t> input, size_t max_output_bytes) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return Error(Errc::internal, "inflateInit2 failed");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);
  BoundedOutput out(input.size(), max_output_bytes);
  zs.next_in = const_cast<Bytef*>(input.data());
  size_t in_left = input.size();
  for (;;) {
    if (!out.ensure_room()) return too_large("gzip", max_output_bytes);
    zs.avail_in = static_cast<uInt>(std::min<size_t>(in_left, UINT32_MAX));
    size_t in_before = zs.avail_in;
    zs.next_out = out.tail();
    zs.avail_out = static_cast<uInt>(std::min<size_t>(out.room(), UINT32_MAX));
    size_t out_before = zs.avail_out;
    int rc = inflate(&zs, Z_NO_FLUSH);
    out.advance(out_before - zs.avail_out);
    in_left -= in_before - zs.avail_in;
    if (out.over_bound()) return too_large("gzip", max_output_bytes);
    if (rc == Z_STREAM_END) {
      if (in_left == 0) return out.take();
      // Another gzip member follows (java.util.zip.GZIPInputStream reads them too).
      if (inflateReset(&zs) != Z_OK) return Error(Errc::internal, "inflateReset failed");
      continue;
    }
    if (rc == Z_BUF_ERROR && in_left == 0) return Error(Errc::truncated, "gzip stream ends early");
    if (rc != Z_OK && rc != Z_BUF_ERROR)
      return Error(Errc::corrupt, std::string("gzip: ") + (zs.msg ? zs.msg : "inflate failed"));
  }
}

// ---- snappy (xerial framing) ----

constexpr uint8_t kXerialMagic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
constexpr size_t kXerialHeaderBytes = 16;   // magic, int32 version, int32 compatible version
constexpr size_t kXerialBlockBytes = 32 * 1024;  // snappy-java's default block size

void put_be32(Bytes& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

Result<Bytes> snappy_compress(std::span<const uint8_t> input) {
  Bytes out(kXerialMagic, kXerialMagic + 8);
  put_be32(out, 1);  // version
  put_be32(out, 1);  // minimum compatible version
  for (size_t at = 0; at < input.size(); at += kXerialBlockBytes) {
    size_t n = std::min(kXerialBlockBytes, input.size() - at);
    size_t len_at = out.size();
    put_be32(out, 0);
    out.resize(len_at + 4 + snappy::MaxCompressedLength(n));
    size_t written = 0;
    snappy::RawCompress(reinterpret_cast<const char*>(input.data() + at), n,
                        reinterpret_cast<char*>(out.data() + len_at + 4), &written);
    out.resize(len_at + 4 + written);
    for (int i = 0; i < 4; ++i) out[len_at + static_cast<size_t>(i)] = static_cast<uint8_t>(written >> (24 - 8 * i));
  }
  return out;
}

// Appends one raw snappy block to `out`, checking its declared length against the bound first.
Status snappy_raw_block(std::span<const uint8_t> block, Bytes& out, size_t max_output_bytes) {
  size_t n = 0;
  const char* src = reinterpret_cast<const char*>(block.data());
  if (!snappy::GetUncompressedLength(src, block.size(), &n)) return Error(Errc::corrupt, "snappy: bad block header");
  if (n > max_output_bytes - out.size()) return too_large("snappy", max_output_bytes);
  size_t at = out.size();
  out.resize(at + n);
  if (!snappy::RawUncompress(src, block.size(), reinterpret_cast<char*>(out.data() + at)))
    return Error(Errc::corrupt, "snappy: corrupt block");
  return ok_status();
}

Result<Bytes> snappy_decompress(std::span<const uint8_t> input, size_t max_output_bytes) {
  Bytes out;
  bool framed = input.size() >= kXerialHeaderBytes && std::memcmp(input.data(), kXerialMagic, 8) == 0;
  if (!framed) {
    FLOE_TRY(snappy_raw_block(input, out, max_output_bytes));
    return out;
  }
  size_t pos = kXerialHeaderBytes;
  while (pos < input.size()) {
    if (input.size() - pos < 4) return Error(Errc::truncated, "snappy: block length cut short");
    uint32_t len = (uint32_t{input[pos]} << 24) | (uint32_t{input[pos + 1]} << 16) |
                   (uint32_t{input[pos + 2]} << 8) | input[pos + 3];
    pos += 4;
    if (len > input.size() - pos) return Error(Errc::truncated, "snappy: block longer than input");
    FLOE_TRY(snappy_raw_block(input.subspan(pos, len), out, max_output_bytes));
    pos += len;
  }
  return out;
}

// ---- lz4 (frame format) ----

Result<Bytes> lz4_compress(std::span<const uint8_t> input) {
  // What Kafka's Java client writes: 64 KiB independent blocks, no content size or checksums.
  LZ4F_preferences_t prefs;
  std::memset(&prefs, 0, sizeof(prefs));
  prefs.frameInfo.blockSizeID = LZ4F_max64KB;
  prefs.frameInfo.blockMode = LZ4F_blockIndependent;
  Bytes out(LZ4F_compressFrameBound(input.size(), &prefs));
  size_t n = LZ4F_compressFrame(out.data(), out.size(), input.data(), input.size(), &prefs);
  if (LZ4F_isError(n)) return Error(Errc::internal, std::string("lz4: ") + LZ4F_getErrorName(n));
  out.resize(n);
  return out;
}

Result<Bytes> lz4_decompress(std::span<const uint8_t> input, size_t max_output_bytes) {
  LZ4F_dctx* dctx = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
    return Error(Errc::internal, "lz4: cannot create context");
  std::unique_ptr<LZ4F_dctx, LZ4F_errorCode_t (*)(LZ4F_dctx*)> guard(dctx, LZ4F_freeDecompressionContext);
  BoundedOutput out(input.size(), max_output_bytes);
  size_t pos = 0;
  for (;;) {
    if (!out.ensure_room()) return too_large("lz4", max_output_bytes);
    size_t src_n = input.size() - pos;
    size_t dst_n = out.room();
    size_t hint = LZ4F_decompress(dctx, out.tail(), &dst_n, input.data() + pos, &src_n, nullptr);
    if (LZ4F_isError(hint)) return Error(Errc::corrupt, std::string("lz4: ") + LZ4F_getErrorName(hint));
    pos += src_n;
    out.advance(dst_n);
    if (out.over_bound()) return too_large("lz4", max_output_bytes);
    if (hint == 0) {
      if (pos != input.size()) return Error(Errc::corrupt, "lz4: bytes after the end of the frame");
      return out.take();
    }
    if (pos == input.size() && src_n == 0 && dst_n == 0) return Error(Errc::truncated, "lz4 frame ends early");
  }
}

// XXH32 (Yann Collet's xxHash, 32-bit), needed only to recompute an LZ4 frame header checksum.
uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }
uint32_t le32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}
uint32_t xxh32(const uint8_t* p, size_t n, uint32_t seed) {
  constexpr uint32_t P1 = 2654435761u, P2 = 2246822519u, P3 = 3266489917u, P4 = 668265263u, P5 = 374761393u;
  const uint8_t* end = p + n;
  uint32_t h;
  if (n >= 16) {
    uint32_t v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;
    auto round = [](uint32_t acc, uint32_t in) { return rotl32(acc + in * P2, 13) * P1; };
    while (end - p >= 16) {
      v1 = round(v1, le32(p));
      v2 = round(v2, le32(p + 4));
      v3 = round(v3, le32(p + 8));
      v4 = round(v4, le32(p + 12));
      p += 16;
    }
    h = rotl32(v1, 1) + rotl32(v2, 7) + rotl32(v3, 12) + rotl32(v4, 18);
  } else {
    h = seed + P5;
  }
  h += static_cast<uint32_t>(n);
  for (; end - p >= 4; p += 4) h = rotl32(h + le32(p) * P3, 17) * P4;
  for (; p < end; ++p) h = rotl32(h + *p * P5, 11) * P1;
  h ^= h >> 15;
  h *= P2;
  h ^= h >> 13;
  h *= P3;
  h ^= h >> 16;
  return h;
}

// ---- zstd ----

Result<Bytes> zstd_compress(std::span<const uint8_t> input) {
  Bytes out(ZSTD_compressBound(input.size()));
  size_t n = ZSTD_compress(out.data(), out.size(), input.data(), input.size(), 3);
  if (ZSTD_isError(n)) return Error(Errc::internal, std::string("zstd: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

Result<Bytes> zstd_decompress(std::span<const uint8_t> input, size_t max_output_bytes) {
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  if (dctx == nullptr) return Error(Errc::internal, "zstd: cannot create context");
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> guard(dctx, ZSTD_freeDCtx);
  // The window is allocated from the frame header: cap it near the output bound so a forged
  // header cannot make us allocate more than the output itself may take.
  int window_log = 20;
  while (window_log < 27 && (size_t{1} << window_log) < max_output_bytes) ++window_log;
  ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, window_log);
  BoundedOutput out(input.size(), max_output_bytes);
  ZSTD_inBuffer in{input.data(), input.size(), 0};
  size_t last = 1;
  for (;;) {
    if (in.pos == in.size && last == 0) return out.take();  // every frame complete
    if (!out.ensure_room()) return too_large("zstd", max_output_bytes);
    ZSTD_outBuffer o{out.tail(), out.room(), 0};
    last = ZSTD_decompressStream(dctx, &o, &in);
    if (ZSTD_isError(last)) {
      if (ZSTD_getErrorCode(last) == ZSTD_error_frameParameter_windowTooLarge)
        return Error(Errc::too_large, "zstd: frame window exceeds the output bound");
      return Error(Errc::corrupt, std::string("zstd: ") + ZSTD_getErrorName(last));
    }
    out.advance(o.pos);
    if (out.over_bound()) return too_large("zstd", max_output_bytes);
    if (in.pos == in.size && last != 0 && o.pos < o.size) return Error(Errc::truncated, "zstd frame ends early");
  }
}

}  // namespace

const char* codec_name(Codec codec) {
  switch (codec) {
    case Codec::none: return "none";
    case Codec::gzip: return "gzip";
    case Codec::snappy: return "snappy";
    case Codec::lz4: return "lz4";
    case Codec::zstd: return "zstd";
  }
  return "unknown";
}

Result<Codec> codec_from_id(int id) {
  if (id < 0 || id > 4) return Error(Errc::unsupported, "unknown compression codec id " + std::to_string(id));
  return static_cast<Codec>(id);
}

Result<Bytes> compress(Codec codec, std::span<const uint8_t> input) {
  switch (codec) {
    case Codec::none: return Bytes(input.begin(), input.end());
    case Codec::gzip: return gzip_compress(input);
    case Codec::snappy: return snappy_compress(input);
    case Codec::lz4: return lz4_compress(input);
    case Codec::zstd: return zstd_compress(input);
  }
  return Error(Errc::unsupported, "unknown codec");
}

Result<Bytes> decompress(Codec codec, std::span<const uint8_t> input, size_t max_output_bytes) {
  switch (codec) {
    case Codec::none:
      if (input.size() > max_output_bytes) return too_large("none", max_output_bytes);
      return Bytes(input.begin(), input.end());
    case Codec::gzip: return gzip_decompress(input, max_output_bytes);
    case Codec::snappy: return snappy_decompress(input, max_output_bytes);
    case Codec::lz4: return lz4_decompress(input, max_output_bytes);
    case Codec::zstd: return zstd_decompress(input, max_output_bytes);
  }
  return Error(Errc::unsupported, "unknown codec");
}

Result<Bytes> decompress_lz4_legacy_header(std::span<const uint8_t> input, size_t max_output_bytes) {
  // Frame header: magic(4) FLG BD [content size(8)] [dictionary id(4)] HC, where
  // HC = second byte of XXH32(FLG .. last optional field). Old Kafka hashed from the magic.
  if (input.size() < 7) return Error(Errc::truncated, "lz4 frame header cut short");
  uint8_t flg = input[4];
  size_t descriptor_end = 6 + ((flg & 0x08) ? 8 : 0) + ((flg & 0x01) ? 4 : 0);
  if (input.size() <= descriptor_end) return Error(Errc::truncated, "lz4 frame header cut short");
  auto hc = [&](size_t from) { return static_cast<uint8_t>(xxh32(input.data() + from, descriptor_end - from, 0) >> 8); };
  if (input[descriptor_end] == hc(4) || input[descriptor_end] != hc(0)) return lz4_decompress(input, max_output_bytes);
  Bytes fixed(input.begin(), input.end());
  fixed[descriptor_end] = hc(4);
  return lz4_decompress(fixed, max_output_bytes);
}

Result<Bytes> compress_lz4_legacy_header(std::span<const uint8_t> input) {
  auto frame = lz4_compress(input);
  if (!frame) return frame;
  Bytes& f = *frame;
  FLOE_ASSERT(f.size() > 6 && (f[4] & 0x09) == 0);  // lz4_compress writes no content size or dict id
  f[6] = static_cast<uint8_t>(xxh32(f.data(), 6, 0) >> 8);
  return frame;
}

}  // namespace floe::records
