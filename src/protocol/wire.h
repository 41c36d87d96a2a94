// Kafka protocol primitive encodings used by the generated message codecs
// (src/protocol/generated/, written by scripts/gen_protocol.py).
//
// Kafka messages have two encodings per field kind, chosen per version:
//  - classic: string = int16 length + bytes (-1 = null), bytes/records = int32 length (-1 = null),
//    array = int32 count (-1 = null);
//  - compact ("flexible" versions, KIP-482): unsigned varint of length+1 (0 = null), and every
//    struct ends with a tagged-field section: uvarint count, then per field uvarint tag,
//    uvarint size, payload.
//
// Invariants:
//  (1) Decoding never trusts a length: every string/bytes length is checked against the bytes
//      remaining before anything is allocated, and every array count must be at most
//      remaining / min_element_bytes (min_element_bytes >= 1), so an array count can never make
//      the decoder allocate more than a small multiple of the input size.
//  (2) A null where the version does not allow one is Errc::invalid_value; a negative length
//      other than -1 is Errc::invalid_length; running out of input is Errc::truncated.
//  (3) Tagged fields must arrive in strictly ascending tag order (Kafka always writes them that
//      way); anything else is Errc::invalid_value. Encoding writes them sorted.
// Thread safety: stateless functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"

namespace floe::protocol {

// kLowestFlexibleVersion of a message that has no flexible version.
inline constexpr int16_t kNeverFlexible = 0x7fff;

// A tagged field the schema (for this version) does not know: kept verbatim and re-emitted.
struct RawTaggedField {
  uint32_t tag = 0;
  SharedBytes data;
  friend bool operator==(const RawTaggedField&, const RawTaggedField&) = default;
};

namespace wire {

Error unsupported_version(const char* message_name, int16_t version);

// ---- decoding: each reads one value into `out` (left unchanged on error) ----
inline Status get(ByteReader& r, int8_t& out) { auto v = r.read_i8(); if (!v) return v.take_error(); out = *v; return {}; }
inline Status get(ByteReader& r, int16_t& out) { auto v = r.read_i16(); if (!v) return v.take_error(); out = *v; return {}; }
inline Status get(ByteReader& r, int32_t& out) { auto v = r.read_i32(); if (!v) return v.take_error(); out = *v; return {}; }
inline Status get(ByteReader& r, int64_t& out) { auto v = r.read_i64(); if (!v) return v.take_error(); out = *v; return {}; }
inline Status get(ByteReader& r, uint16_t& out) { auto v = r.read_u16(); if (!v) return v.take_error(); out = *v; return {}; }
inline Status get(ByteReader& r, uint32_t& out) { auto v = r.read_u32(); if (!v) return v.take_error(); out = *v; return {}; }
inline Status get(ByteReader& r, double& out) { auto v = r.read_f64(); if (!v) return v.take_error(); out = *v; return {}; }
inline Status get(ByteReader& r, bool& out) { auto v = r.read_u8(); if (!v) return v.take_error(); out = *v != 0; return {}; }
inline Status get(ByteReader& r, Uuid& out) { auto v = r.read_uuid(); if (!v) return v.take_error(); out = *v; return {}; }

Status get_string(ByteReader& r, bool compact, std::string& out);
Status get_nullable_string(ByteReader& r, bool compact, bool nullable, std::optional<std::string>& out);
Status get_bytes(ByteReader& r, bool compact, SharedBytes& out);
Status get_nullable_bytes(ByteReader& r, bool compact, bool nullable, std::optional<SharedBytes>& out);
// An array count; -1 only when `nullable`. Fails with invalid_length if count * min_element_bytes
// exceeds the bytes remaining.
Status get_array_len(ByteReader& r, bool compact, bool nullable, size_t min_element_bytes, int32_t& count);
// A nullable struct's presence byte: negative = null (as Kafka reads it).
Status get_presence(ByteReader& r, bool& present);

// Tagged-field section. Usage: get_tag_count, then per field get_tag (which checks ascending
// order and slices the payload into `body`), then either decode a known field from `body`
// and expect_end(body), or keep_unknown.
Status get_tag_count(ByteReader& r, uint32_t& count);
Status get_tag(ByteReader& r, int64_t& last_tag, uint32_t& tag, ByteReader& body);
Status expect_end(const ByteReader& body);
Status keep_unknown(uint32_t tag, ByteReader& body, std::vector<RawTaggedField>& unknown);
// Whole section for a struct with no known tagged fields in this version.
Status get_unknown_tags(ByteReader& r, std::vector<RawTaggedField>& unknown);

// ---- encoding ----
inline void put(ByteWriter& w, int8_t v) { w.write_i8(v); }
inline void put(ByteWriter& w, int16_t v) { w.write_i16(v); }
inline void put(ByteWriter& w, int32_t v) { w.write_i32(v); }
inline void put(ByteWriter& w, int64_t v) { w.write_i64(v); }
inline void put(ByteWriter& w, uint16_t v) { w.write_u16(v); }
inline void put(ByteWriter& w, uint32_t v) { w.write_u32(v); }
inline void put(ByteWriter& w, double v) { w.write_f64(v); }
inline void put(ByteWriter& w, bool v) { w.write_u8(v ? 1 : 0); }
inline void put(ByteWriter& w, const Uuid& v) { w.write_uuid(v); }

void put_string(ByteWriter& w, bool compact, std::string_view s);
// A nullopt where the version is not nullable is written as "" (never a null the reader rejects).
void put_nullable_string(ByteWriter& w, bool compact, bool nullable, const std::optional<std::string>& s);
void put_bytes(ByteWriter& w, bool compact, const SharedBytes& b);
void put_nullable_bytes(ByteWriter& w, bool compact, bool nullable, const std::optional<SharedBytes>& b);
void put_array_len(ByteWriter& w, bool compact, size_t count);
// Null array (or an empty one where the version is not nullable).
void put_null_array(ByteWriter& w, bool compact, bool nullable);

// Collects the known tagged fields of one struct (added in ascending tag order), then writes
// the section merged with the unknown ones, sorted by tag.
class TagWriter {
 public:
  ByteWriter& add(uint32_t tag);
  void finish(ByteWriter& w, const std::vector<RawTaggedField>& unknown);

 private:
  std::vector<std::pair<uint32_t, ByteWriter>> known_;
};
// The section for a struct with no known tagged fields set.
void put_unknown_tags(ByteWriter& w, const std::vector<RawTaggedField>& unknown);

}  // namespace wire
}  // namespace floe::protocol
