// Byte buffers, bounds-checked big-endian reading, and appending writing.
//
// Kafka's wire format is big-endian with two varint flavours (unsigned LEB128 and zigzag);
// these primitives serve protocol/ codecs and floe's own formats alike.
//
//  - Bytes: an owned, growable byte vector.
//  - SharedBytes: an immutable slice of a shared buffer. Copying a SharedBytes never copies
//    bytes; the owner buffer lives as long as any slice of it (zero-copy record batches).
//  - ByteReader: reads from a span it does not own. Every read checks the remaining length
//    first and returns an error value (Errc::truncated / invalid_length), never reads past
//    the end. If constructed with an owner, read_shared() slices instead of copying.
//  - ByteWriter: appends to a Bytes; can reserve a fixed-width slot and patch it later
//    (length prefixes, CRCs).
//
// Invariants:
//  (1) ByteReader::pos() <= size() at all times; a failed read does not advance.
//  (2) SharedBytes::data() .. data()+size() lies inside its owner's buffer.
// Thread safety: none; SharedBytes may be read from any thread (its owner is immutable).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/assert.h"
#include "common/result.h"

namespace floe {

using Bytes = std::vector<uint8_t>;

class SharedBytes {
 public:
  SharedBytes() = default;
  // Takes ownership of a whole buffer.
  explicit SharedBytes(Bytes bytes)
      : owner_(std::make_shared<const Bytes>(std::move(bytes))), data_(owner_->data()), size_(owner_->size()) {}
  SharedBytes(std::shared_ptr<const Bytes> owner, const uint8_t* data, size_t size)
      : owner_(std::move(owner)), data_(data), size_(size) {
    FLOE_ASSERT(size == 0 || (owner_ && data >= owner_->data() && data + size <= owner_->data() + owner_->size()));
  }
  static SharedBytes copy_of(std::span<const uint8_t> s) { return SharedBytes(Bytes(s.begin(), s.end())); }

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<const uint8_t> span() const { return {data_, size_}; }
  SharedBytes slice(size_t offset, size_t len) const {
    FLOE_ASSERT(offset <= size_ && len <= size_ - offset);
    return SharedBytes(owner_, data_ + offset, len);
  }
  Bytes to_bytes() const { return Bytes(data_, data_ + size_); }

  friend bool operator==(const SharedBytes& a, const SharedBytes& b) {
    return a.size_ == b.size_ && (a.size_ == 0 || std::memcmp(a.data_, b.data_, a.size_) == 0);
  }

 private:
  std::shared_ptr<const Bytes> owner_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// A 128-bit UUID as Kafka sends it (16 raw bytes, big-endian halves).
struct Uuid {
  std::array<uint8_t, 16> bytes{};
  static Uuid zero() { return {}; }
  bool is_zero() const { return bytes == std::array<uint8_t, 16>{}; }
  std::string to_string() const;  // 8-4-4-4-12 hex
  // As Kafka prints ids (Uuid.toString, kafka-topics.sh, cluster ids): URL-safe base64 without
  // padding, 22 characters.
  std::string to_base64url() const;
  friend bool operator==(const Uuid&, const Uuid&) = default;
  friend auto operator<=>(const Uuid&, const Uuid&) = default;
};

class ByteReader {
 public:
  ByteReader() = default;
  explicit ByteReader(std::span<const uint8_t> data) : data_(data.data()), size_(data.size()) {}
  // Reader over a shared buffer: read_shared() returns slices of it.
  explicit ByteReader(const SharedBytes& shared) : data_(shared.data()), size_(shared.size()), shared_(shared) {}

  size_t pos() const { return pos_; }
  size_t size() const { return size_; }
  size_t remaining() const { return size_ - pos_; }
  bool at_end() const { return pos_ == size_; }
  const uint8_t* cursor() const { return data_ + pos_; }

  Result<int8_t> read_i8() { return read_be<int8_t>(); }
  Result<uint8_t> read_u8() { return read_be<uint8_t>(); }
  Result<int16_t> read_i16() { return read_be<int16_t>(); }
  Result<uint16_t> read_u16() { return read_be<uint16_t>(); }
  Result<int32_t> read_i32() { return read_be<int32_t>(); }
  Result<uint32_t> read_u32() { return read_be<uint32_t>(); }
  Result<int64_t> read_i64() { return read_be<int64_t>(); }
  Result<uint64_t> read_u64() { return read_be<uint64_t>(); }
  Result<double> read_f64();
  Result<Uuid> read_uuid();

  // Unsigned LEB128, at most 5 bytes (fits uint32).
  Result<uint32_t> read_uvarint();
  // Unsigned LEB128, at most 10 bytes.
  Result<uint64_t> read_uvarlong();
  // Zigzag-encoded signed varints (Kafka record fields).
  Result<int32_t> read_varint();
  Result<int64_t> read_varlong();

  // A view of the next n bytes (valid while the underlying buffer lives); advances.
  Result<std::span<const uint8_t>> read_span(size_t n);
  // The next n bytes as a SharedBytes: a slice if this reader has an owner, else a copy.
  Result<SharedBytes> read_shared(size_t n);
  Result<std::string> read_string(size_t n);
  Status skip(size_t n);

  // A sub-reader over the next n bytes (shares the owner); advances this reader past them.
  Result<ByteReader> sub_reader(size_t n);

 private:
  template <typename T>
  Result<T> read_be() {
    if (remaining() < sizeof(T)) [[unlikely]] return truncated(sizeof(T));
    using U = std::make_unsigned_t<T>;
    U v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) v = static_cast<U>((v << 8) | data_[pos_ + i]);
    pos_ += sizeof(T);
    return static_cast<T>(v);
  }
  Error truncated(size_t want) const;

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t pos_ = 0;
  SharedBytes shared_;
};

class ByteWriter {
 public:
  ByteWriter() = default;
  explicit ByteWriter(size_t reserve) { buf_.reserve(reserve); }

  void write_i8(int8_t v) { buf_.push_back(static_cast<uint8_t>(v)); }
  void write_u8(uint8_t v) { buf_.push_back(v); }
  void write_i16(int16_t v) { write_be(static_cast<uint16_t>(v)); }
  void write_u16(uint16_t v) { write_be(v); }
  void write_i32(int32_t v) { write_be(static_cast<uint32_t>(v)); }
  void write_u32(uint32_t v) { write_be(v); }
  void write_i64(int64_t v) { write_be(static_cast<uint64_t>(v)); }
  void write_u64(uint64_t v) { write_be(v); }
  void write_f64(double v);
  void write_uuid(const Uuid& u) { write_bytes(u.bytes); }
  void write_uvarint(uint32_t v) { write_uvarlong(v); }
  void write_uvarlong(uint64_t v);
  void write_varint(int32_t v) { write_uvarint((static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31)); }
  void write_varlong(int64_t v) { write_uvarlong((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
  void write_bytes(std::span<const uint8_t> s) { buf_.insert(buf_.end(), s.begin(), s.end()); }
  void write_string(std::string_view s) {
    write_bytes({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
  }

  // Reserve n zero bytes at the current position; returns their offset for patch_*().
  size_t reserve_slot(size_t n) { size_t at = buf_.size(); buf_.resize(at + n); return at; }
  void patch_i32(size_t at, int32_t v) { patch_be(at, static_cast<uint32_t>(v)); }
  void patch_u32(size_t at, uint32_t v) { patch_be(at, v); }

  size_t size() const { return buf_.size(); }
  const Bytes& bytes() const { return buf_; }
  Bytes& mutable_bytes() { return buf_; }
  Bytes take() { return std::move(buf_); }

  static size_t uvarint_size(uint64_t v) { size_t n = 1; while (v >= 0x80) { v >>= 7; ++n; } return n; }
  static size_t varint_size(int32_t v) { return uvarint_size((static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31)); }
  static size_t varlong_size(int64_t v) { return uvarint_size((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }

 private:
  template <typename U>
  void write_be(U v) {
    uint8_t tmp[sizeof(U)];
    for (size_t i = 0; i < sizeof(U); ++i) tmp[i] = static_cast<uint8_t>(v >> (8 * (sizeof(U) - 1 - i)));
    buf_.insert(buf_.end(), tmp, tmp + sizeof(U));
  }
  template <typename U>
  void patch_be(size_t at, U v) {
    FLOE_ASSERT(at + sizeof(U) <= buf_.size());
    for (size_t i = 0; i < sizeof(U); ++i) buf_[at + i] = static_cast<uint8_t>(v >> (8 * (sizeof(U) - 1 - i)));
  }
  Bytes buf_;
};

std::string to_hex(std::span<const uint8_t> bytes);

}  // namespace floe
