#include "protocol/wire.h"

#include <algorithm>
#include <limits>

namespace floe::protocol::wire {
namespace {

// Reads a length prefix: classic = int16 (strings) or int32 (bytes/arrays); compact = uvarint
// of length+1. Returns -1 for null; any other negative is invalid_length.
Status get_length(ByteReader& r, bool compact, bool wide, int64_t& len) {
  if (compact) {
    auto v = r.read_uvarint();
    if (!v) return v.take_error();
    len = static_cast<int64_t>(*v) - 1;
    return {};
  }
  if (wide) {
    auto v = r.read_i32();
    if (!v) return v.take_error();
    len = *v;
  } else {
    auto v = r.read_i16();
    if (!v) return v.take_error();
    len = *v;
  }
  if (len < -1) return Error(Errc::invalid_length, "negative length " + std::to_string(len));
  return {};
}

Status check_fits(const ByteReader& r, int64_t len, const char* what) {
  if (static_cast<uint64_t>(len) > r.remaining()) {
    return Error(Errc::invalid_length, std::string(what) + " length " + std::to_string(len) + " exceeds the " +
                                           std::to_string(r.remaining()) + " bytes remaining");
  }
  return {};
}

Error null_not_allowed(const char* what) {
  return Error(Errc::invalid_value, std::string("null ") + what + " where the version does not allow null");
}

void put_length(ByteWriter& w, bool compact, bool wide, int64_t len) {
  if (compact) {
    w.write_uvarint(static_cast<uint32_t>(len + 1));
  } else if (wide) {
    w.write_i32(static_cast<int32_t>(len));
  } else {
    w.write_i16(static_cast<int16_t>(len));
  }
}

}  // namespace

Error unsupported_version(const char* message_name, int16_t version) {
  return Error(Errc::unsupported, std::string(message_name) + " version " + std::to_string(version) + " is not supported");
}

Status get_string(ByteReader& r, bool compact, std::string& out) {
  int64_t len = 0;
  FLOE_TRY(get_length(r, compact, false, len));
  if (len < 0) return null_not_allowed("string");
  FLOE_TRY(check_fits(r, len, "string"));
  auto s = r.read_string(static_cast<size_t>(len));
  if (!s) return s.take_error();
  out = std::move(*s);
  return {};
}

Status get_nullable_string(ByteReader& r, bool compact, bool nullable, std::optional<std::string>& out) {
  int64_t len = 0;
  FLOE_TRY(get_length(r, compact, false, len));
  if (len < 0) {
    if (!nullable) return null_not_allowed("string");
    out.reset();
    return {};
  }
  FLOE_TRY(check_fits(r, len, "string"));
  auto s = r.read_string(static_cast<size_t>(len));
  if (!s) return s.take_error();
  out = std::move(*s);
  return {};
}

Status get_bytes(ByteReader& r, bool compact, SharedBytes& out) {
  int64_t len = 0;
  FLOE_TRY(get_length(r, compact, true, len));
  if (len < 0) return null_not_allowed("bytes");
  FLOE_TRY(check_fits(r, len, "bytes"));
  auto b = r.read_shared(static_cast<size_t>(len));
  if (!b) return b.take_error();
  out = std::move(*b);
  return {};
}

Status get_nullable_bytes(ByteReader& r, bool compact, bool nullable, std::optional<SharedBytes>& out) {
  int64_t len = 0;
  FLOE_TRY(get_length(r, compact, true, len));
  if (len < 0) {
    if (!nullable) return null_not_allowed("bytes");
    out.reset();
    return {};
  }
  FLOE_TRY(check_fits(r, len, "bytes"));
  auto b = r.read_shared(static_cast<size_t>(len));
  if (!b) return b.take_error();
  out = std::move(*b);
  return {};
}

Status get_array_len(ByteReader& r, bool compact, bool nullable, size_t min_element_bytes, int32_t& count) {
  FLOE_ASSERT(min_element_bytes >= 1);
  int64_t len = 0;
  FLOE_TRY(get_length(r, compact, true, len));
  if (len < 0) {
    if (!nullable) return null_not_allowed("array");
    count = -1;
    return {};
  }
  if (static_cast<uint64_t>(len) > r.remaining() / min_element_bytes) {
    return Error(Errc::invalid_length, "array of " + std::to_string(len) + " elements cannot fit in the " +
                                           std::to_string(r.remaining()) + " bytes remaining");
  }
  count = static_cast<int32_t>(len);
  return {};
}

Status get_presence(ByteReader& r, bool& present) {
  auto v = r.read_i8();
  if (!v) return v.take_error();
  present = *v >= 0;
  return {};
}

Status get_tag_count(ByteReader& r, uint32_t& count) {
  auto v = r.read_uvarint();
  if (!v) return v.take_error();
  // Each tagged field takes at least two bytes (tag and size).
  if (*v > r.remaining() / 2) {
    return Error(Errc::invalid_length, std::to_string(*v) + " tagged fields cannot fit in the " +
                                           std::to_string(r.remaining()) + " bytes remaining");
  }
  count = *v;
  return {};
}

Status get_tag(ByteReader& r, int64_t& last_tag, uint32_t& tag, ByteReader& body) {
  auto t = r.read_uvarint();
  if (!t) return t.take_error();
  if (static_cast<int64_t>(*t) <= last_tag) {
    return Error(Errc::invalid_value, "tagged field " + std::to_string(*t) + " after tag " + std::to_string(last_tag) +
                                          " (tags must be strictly ascending)");
  }
  auto size = r.read_uvarint();
  if (!size) return size.take_error();
  FLOE_TRY(check_fits(r, *size, "tagged field"));
  auto sub = r.sub_reader(*size);
  if (!sub) return sub.take_error();
  last_tag = *t;
  tag = *t;
  body = std::move(*sub);
  return {};
}

Status expect_end(const ByteReader& body) {
  if (!body.at_end()) {
    return Error(Errc::invalid_length, "tagged field has " + std::to_string(body.remaining()) + " trailing bytes");
  }
  return {};
}

Status keep_unknown(uint32_t tag, ByteReader& body, std::vector<RawTaggedField>& unknown) {
  auto data = body.read_shared(body.remaining());
  if (!data) return data.take_error();
  unknown.push_back(RawTaggedField{tag, std::move(*data)});
  return {};
}

Status get_unknown_tags(ByteReader& r, std::vector<RawTaggedField>& unknown) {
  unknown.clear();
  uint32_t count = 0;
  FLOE_TRY(get_tag_count(r, count));
  int64_t last_tag = -1;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t tag = 0;
    ByteReader body;
    FLOE_TRY(get_tag(r, last_tag, tag, body));
    FLOE_TRY(keep_unknown(tag, body, unknown));
  }
  return {};
}

void put_string(ByteWriter& w, bool compact, std::string_view s) {
  FLOE_ASSERT(s.size() <= static_cast<size_t>(std::numeric_limits<int16_t>::max()) || compact);
  put_length(w, compact, false, static_cast<int64_t>(s.size()));
  w.write_string(s);
}

void put_nullable_string(ByteWriter& w, bool compact, bool nullable, const std::optional<std::string>& s) {
  if (s) {
    put_string(w, compact, *s);
  } else if (nullable) {
    put_length(w, compact, false, -1);
  } else {
    put_length(w, compact, false, 0);
  }
}

void put_bytes(ByteWriter& w, bool compact, const SharedBytes& b) {
  FLOE_ASSERT(b.size() <= static_cast<size_t>(std::numeric_limits<int32_t>::max()));
  put_length(w, compact, true, static_cast<int64_t>(b.size()));
  w.write_bytes(b.span());
}

void put_nullable_bytes(ByteWriter& w, bool compact, bool nullable, const std::optional<SharedBytes>& b) {
  if (b) {
    put_bytes(w, compact, *b);
  } else {
    put_length(w, compact, true, nullable ? -1 : 0);
  }
}

void put_array_len(ByteWriter& w, bool compact, size_t count) {
  FLOE_ASSERT(count <= static_cast<size_t>(std::numeric_limits<int32_t>::max()) - 1);
  put_length(w, compact, true, static_cast<int64_t>(count));
}

void put_null_array(ByteWriter& w, bool compact, bool nullable) { put_length(w, compact, true, nullable ? -1 : 0); }

ByteWriter& TagWriter::add(uint32_t tag) {
  FLOE_ASSERT(known_.empty() || known_.back().first < tag);
  known_.emplace_back(tag, ByteWriter());
  return known_.back().second;
}

void TagWriter::finish(ByteWriter& w, const std::vector<RawTaggedField>& unknown) {
  std::vector<const RawTaggedField*> sorted;
  sorted.reserve(unknown.size());
  for (const auto& u : unknown) sorted.push_back(&u);
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return a->tag < b->tag; });
  w.write_uvarint(static_cast<uint32_t>(known_.size() + sorted.size()));
  size_t u = 0;
  for (const auto& [tag, body] : known_) {
    for (; u < sorted.size() && sorted[u]->tag < tag; ++u) {
      w.write_uvarint(sorted[u]->tag);
      w.write_uvarint(static_cast<uint32_t>(sorted[u]->data.size()));
      w.write_bytes(sorted[u]->data.span());
    }
    w.write_uvarint(tag);
    w.write_uvarint(static_cast<uint32_t>(body.size()));
    w.write_bytes(body.bytes());
  }
  for (; u < sorted.size(); ++u) {
    w.write_uvarint(sorted[u]->tag);
    w.write_uvarint(static_cast<uint32_t>(sorted[u]->data.size()));
    w.write_bytes(sorted[u]->data.span());
  }
}

void put_unknown_tags(ByteWriter& w, const std::vector<RawTaggedField>& unknown) {
  if (unknown.empty()) {
    w.write_uvarint(0);
    return;
  }
  TagWriter none;
  none.finish(w, unknown);
}

}  // namespace floe::protocol::wire
