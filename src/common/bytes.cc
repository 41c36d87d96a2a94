#include "common/bytes.h"

#include <bit>
#include <cstdio>

namespace floe {

std::string Uuid::to_string() const {
  char out[37];
  int n = 0;
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[n++] = '-';
    n += std::snprintf(out + n, sizeof(out) - static_cast<size_t>(n), "%02x", bytes[i]);
  }
  return std::string(out, static_cast<size_t>(n));
}

std::string Uuid::to_base64url() const {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t b : bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 0x3f];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 0x3f];
  return out;
}

Error ByteReader::truncated(size_t want) const {
  return Error(Errc::truncated, "need " + std::to_string(want) + " bytes at position " + std::to_string(pos_) +
                                    ", " + std::to_string(remaining()) + " remain");
}

Result<double> ByteReader::read_f64() {
  auto v = read_u64();
  if (!v) return v.take_error();
  return std::bit_cast<double>(*v);
}

Result<Uuid> ByteReader::read_uuid() {
  if (remaining() < 16) return truncated(16);
  Uuid u;
  std::memcpy(u.bytes.data(), data_ + pos_, 16);
  pos_ += 16;
  return u;
}

Result<uint64_t> ByteReader::read_uvarlong() {
  uint64_t v = 0;
  for (size_t i = 0; i < 10; ++i) {
    if (pos_ + i >= size_) return truncated(i + 1);
    uint8_t b = data_[pos_ + i];
    if (i == 9 && b > 1) return Error(Errc::invalid_value, "varlong longer than 64 bits");
    v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      pos_ += i + 1;
      return v;
    }
  }
  return Error(Errc::invalid_value, "varlong longer than 10 bytes");
}

Result<uint32_t> ByteReader::read_uvarint() {
  uint32_t v = 0;
  for (size_t i = 0; i < 5; ++i) {
    if (pos_ + i >= size_) return truncated(i + 1);
    uint8_t b = data_[pos_ + i];
    if (i == 4 && b > 0x0f) return Error(Errc::invalid_value, "varint longer than 32 bits");
    v |= static_cast<uint32_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      pos_ += i + 1;
      return v;
    }
  }
  return Error(Errc::invalid_value, "varint longer than 5 bytes");
}

Result<int32_t> ByteReader::read_varint() {
  auto u = read_uvarint();
  if (!u) return u.take_error();
  return static_cast<int32_t>((*u >> 1) ^ (~(*u & 1) + 1));
}

Result<int64_t> ByteReader::read_varlong() {
  auto u = read_uvarlong();
  if (!u) return u.take_error();
  return static_cast<int64_t>((*u >> 1) ^ (~(*u & 1) + 1));
}

Result<std::span<const uint8_t>> ByteReader::read_span(size_t n) {
  if (remaining() < n) return truncated(n);
  std::span<const uint8_t> s(data_ + pos_, n);
  pos_ += n;
  return s;
}

Result<SharedBytes> ByteReader::read_shared(size_t n) {
  if (remaining() < n) return truncated(n);
  const uint8_t* p = data_ + pos_;
  pos_ += n;
  if (shared_.data() != nullptr) {
    return shared_.slice(static_cast<size_t>(p - shared_.data()), n);
  }
  return SharedBytes::copy_of({p, n});
}

Result<std::string> ByteReader::read_string(size_t n) {
  if (remaining() < n) return truncated(n);
  std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
  pos_ += n;
  return s;
}

Status ByteReader::skip(size_t n) {
  if (remaining() < n) return truncated(n);
  pos_ += n;
  return {};
}

Result<ByteReader> ByteReader::sub_reader(size_t n) {
  if (remaining() < n) return truncated(n);
  ByteReader sub;
  sub.data_ = data_ + pos_;
  sub.size_ = n;
  if (shared_.data() != nullptr) sub.shared_ = shared_.slice(static_cast<size_t>(sub.data_ - shared_.data()), n);
  pos_ += n;
  return sub;
}

void ByteWriter::write_f64(double v) { write_u64(std::bit_cast<uint64_t>(v)); }

void ByteWriter::write_uvarlong(uint64_t v) {
  while (v >= 0x80) {
    buf_.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  buf_.push_back(static_cast<uint8_t>(v));
}

std::string to_hex(std::span<const uint8_t> bytes) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    s.push_back(digits[b >> 4]);
    s.push_back(digits[b & 15]);
  }
  return s;
}

}  // namespace floe
