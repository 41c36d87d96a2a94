#include "group/group_record.h"

#include "common/crc32c.h"
#include "common/little_endian.h"

namespace floe::broker::group_format {
namespace {

class Writer {
 public:
  explicit Writer(Bytes& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(v); }
  void u32(uint32_t v) { grow(4); le::put_u32(out_.data() + out_.size() - 4, v); }
  void u64(uint64_t v) { grow(8); le::put_u64(out_.data() + out_.size() - 8, v); }
  void i32(int32_t v) { u32(static_cast<uint32_t>(v)); }
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void raw(std::span<const uint8_t> s) {
    FLOE_ASSERT(s.size() <= kRecordBytesMax);
    u32(static_cast<uint32_t>(s.size()));
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void str(std::string_view s) { raw({reinterpret_cast<const uint8_t*>(s.data()), s.size()}); }
  void opt_str(const std::optional<std::string>& s) {
    u8(s ? 1 : 0);
    str(s ? *s : std::string_view());
  }

 private:
  void grow(size_t n) { out_.resize(out_.size() + n); }
  Bytes& out_;
};

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in) : in_(in) {}
  size_t remaining() const { return in_.size() - pos_; }
  Result<uint8_t> u8() {
    if (remaining() < 1) return truncated();
    return in_[pos_++];
  }
  Result<uint32_t> u32() {
    if (remaining() < 4) return truncated();
    uint32_t v = le::get_u32(in_.data() + pos_);
    pos_ += 4;
    return v;
  }
  Result<uint64_t> u64() {
    if (remaining() < 8) return truncated();
    uint64_t v = le::get_u64(in_.data() + pos_);
    pos_ += 8;
    return v;
  }
  Result<int32_t> i32() {
    auto r = u32();
    if (!r) return r.take_error();
    return static_cast<int32_t>(*r);
  }
  Result<int64_t> i64() {
    auto r = u64();
    if (!r) return r.take_error();
    return static_cast<int64_t>(*r);
  }
  Result<std::span<const uint8_t>> raw() {
    auto n = u32();
    if (!n) return n.take_error();
    if (*n > remaining()) return Error(Errc::invalid_length, "group record: field longer than the record");
    auto s = in_.subspan(pos_, *n);
    pos_ += *n;
    return s;
  }
  Result<std::string> str() {
    auto s = raw();
    if (!s) return s.take_error();
    return std::string(reinterpret_cast<const char*>(s->data()), s->size());
  }
  Result<std::optional<std::string>> opt_str() {
    auto has = u8();
    if (!has) return has.take_error();
    auto s = str();
    if (!s) return s.take_error();
    if (*has > 1) return Error(Errc::invalid_value, "group record: bad optional flag");
    if (*has == 0) return std::optional<std::string>();
    return std::optional<std::string>(std::move(*s));
  }
  Result<SharedBytes> bytes() {
    auto s = raw();
    if (!s) return s.take_error();
    return SharedBytes::copy_of(*s);
  }

 private:
  static Error truncated() { return Error(Errc::truncated, "group record: truncated"); }
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
};

#define GR_READ(var, expr)            \
  auto var##_r = (expr);              \
  if (!var##_r) return var##_r.take_error(); \
  auto var = std::move(*var##_r)

void write_offset_value(Writer& w, const OffsetValue& v) {
  w.i64(v.offset);
  w.i32(v.leader_epoch);
  w.i64(v.commit_timestamp_ms);
  w.i64(v.expire_timestamp_ms);
  w.opt_str(v.metadata);
}

Result<OffsetValue> read_offset_value(Reader& r) {
  OffsetValue v;
  GR_READ(offset, r.i64());
  GR_READ(epoch, r.i32());
  GR_READ(commit_ts, r.i64());
  GR_READ(expire_ts, r.i64());
  GR_READ(metadata, r.opt_str());
  v.offset = offset;
  v.leader_epoch = epoch;
  v.commit_timestamp_ms = commit_ts;
  v.expire_timestamp_ms = expire_ts;
  v.metadata = std::move(metadata);
  return v;
}

void write_group_value(Writer& w, const GroupValue& v) {
  w.str(v.protocol_type);
  w.i32(v.generation);
  w.opt_str(v.protocol);
  w.str(v.leader);
  w.i64(v.state_timestamp_ms);
  w.u32(static_cast<uint32_t>(v.members.size()));
  for (const auto& m : v.members) {
    w.str(m.member_id);
    w.opt_str(m.instance_id);
    w.str(m.client_id);
    w.str(m.client_host);
    w.i32(m.rebalance_timeout_ms);
    w.i32(m.session_timeout_ms);
    w.raw(m.subscription.span());
    w.raw(m.assignment.span());
  }
}

Result<MemberValue> read_member(Reader& r) {
  MemberValue m;
  GR_READ(member_id, r.str());
  GR_READ(instance_id, r.opt_str());
  GR_READ(client_id, r.str());
  GR_READ(client_host, r.str());
  GR_READ(rebalance_timeout, r.i32());
  GR_READ(session_timeout, r.i32());
  GR_READ(subscription, r.bytes());
  GR_READ(assignment, r.bytes());
  m.member_id = std::move(member_id);
  m.instance_id = std::move(instance_id);
  m.client_id = std::move(client_id);
  m.client_host = std::move(client_host);
  m.rebalance_timeout_ms = rebalance_timeout;
  m.session_timeout_ms = session_timeout;
  m.subscription = std::move(subscription);
  m.assignment = std::move(assignment);
  return m;
}

Result<GroupValue> read_group_value(Reader& r) {
  GroupValue v;
  GR_READ(protocol_type, r.str());
  GR_READ(generation, r.i32());
  GR_READ(protocol, r.opt_str());
  GR_READ(leader, r.str());
  GR_READ(state_ts, r.i64());
  GR_READ(count, r.u32());
  // Each member takes at least 6 length fields + 2 flags/ints: bound the count by the bytes left.
  if (count > kMembersMax || count > r.remaining() / 30)
    return Error(Errc::invalid_length, "group record: member count exceeds the record");
  v.protocol_type = std::move(protocol_type);
  v.generation = generation;
  v.protocol = std::move(protocol);
  v.leader = std::move(leader);
  v.state_timestamp_ms = state_ts;
  v.members.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    GR_READ(m, read_member(r));
    v.members.push_back(std::move(m));
  }
  return v;
}

Result<Record> read_body(Reader& r) {
  GR_READ(version, r.u8());
  if (version != kFormatVersion) return Error(Errc::unsupported, "group record: unknown format version");
  GR_READ(type, r.u8());
  GR_READ(flags, r.u8());
  if (flags > 1) return Error(Errc::invalid_value, "group record: unknown flags");
  bool tombstone = flags & 1;
  Record rec;
  GR_READ(group, r.str());
  rec.group = std::move(group);
  if (type == static_cast<uint8_t>(RecordType::offset)) {
    rec.type = RecordType::offset;
    GR_READ(topic, r.str());
    GR_READ(partition, r.i32());
    rec.topic = std::move(topic);
    rec.partition = partition;
    if (!tombstone) {
      GR_READ(value, read_offset_value(r));
      rec.offset = std::move(value);
    }
  } else if (type == static_cast<uint8_t>(RecordType::group)) {
    rec.type = RecordType::group;
    if (!tombstone) {
      GR_READ(value, read_group_value(r));
      rec.group_value = std::move(value);
    }
  } else {
    return Error(Errc::invalid_value, "group record: unknown type");
  }
  if (r.remaining() != 0) return Error(Errc::invalid_length, "group record: trailing bytes");
  return rec;
}

}  // namespace

Record offset_record(std::string group, std::string topic, int32_t partition, std::optional<OffsetValue> value) {
  Record r;
  r.type = RecordType::offset;
  r.group = std::move(group);
  r.topic = std::move(topic);
  r.partition = partition;
  r.offset = std::move(value);
  return r;
}

Record group_record(std::string group, std::optional<GroupValue> value) {
  Record r;
  r.type = RecordType::group;
  r.group = std::move(group);
  r.group_value = std::move(value);
  return r;
}

void append_record(Bytes& out, const Record& rec) {
  size_t start = out.size();
  Writer w(out);
  w.u32(0);  // length, patched below
  w.u32(0);  // crc, patched below
  w.u8(kFormatVersion);
  w.u8(static_cast<uint8_t>(rec.type));
  w.u8(rec.tombstone() ? 1 : 0);
  w.str(rec.group);
  if (rec.type == RecordType::offset) {
    w.str(rec.topic);
    w.i32(rec.partition);
    if (rec.offset) write_offset_value(w, *rec.offset);
  } else if (rec.group_value) {
    write_group_value(w, *rec.group_value);
  }
  size_t length = out.size() - start - 4;
  FLOE_ASSERT(length <= kRecordBytesMax);
  le::put_u32(out.data() + start, static_cast<uint32_t>(length));
  uint32_t crc = crc32c({out.data() + start + 8, out.size() - start - 8});
  le::put_u32(out.data() + start + 4, crc);
}

Result<std::vector<Record>> decode_records(std::span<const uint8_t> bytes) {
  std::vector<Record> out;
  size_t pos = 0;
  while (pos < bytes.size()) {
    if (bytes.size() - pos < 8) return Error(Errc::truncated, "group record: truncated header");
    uint32_t length = le::get_u32(bytes.data() + pos);
    if (length < 4 || length > kRecordBytesMax || length > bytes.size() - pos - 4)
      return Error(Errc::invalid_length, "group record: bad length");
    uint32_t crc = le::get_u32(bytes.data() + pos + 4);
    auto body = bytes.subspan(pos + 8, length - 4);
    if (crc32c(body) != crc) return Error(Errc::corrupt, "group record: CRC mismatch");
    Reader r(body);
    auto rec = read_body(r);
    if (!rec) return rec.take_error();
    out.push_back(std::move(*rec));
    pos += 4 + length;
  }
  return out;
}

}  // namespace floe::broker::group_format
