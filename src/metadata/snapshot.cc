#include "metadata/snapshot.h"

#include <cstring>

namespace floe::metadata {

namespace {
constexpr size_t kHeaderBytes = 4 + 1;
constexpr uint8_t kVersion = 2;
constexpr size_t kBatchHeaderBytes = 1 + 4;   // format, record count
constexpr size_t kRecordHeaderBytes = 2 + 2 + 4;  // type, version, size

// Exactly n bytes, or how the payload ended short.
Status read_exact(const SnapshotReadFn& read, char* out, size_t n) {
  size_t got = 0;
  while (got < n) {
    auto r = read(out + got, n - got);
    if (!r.ok()) return r.take_error();
    if (*r == 0) return Error(Errc::corrupt, "metadata snapshot: truncated");
    got += *r;
  }
  return ok_status();
}

Status check_header(std::string_view header) {
  if (header.size() < kHeaderBytes || std::memcmp(header.data(), "FLMS", 4) != 0) {
    return Error(Errc::corrupt, "metadata snapshot: bad magic");
  }
  if (static_cast<uint8_t>(header[4]) != kVersion) {
    return Error(Errc::unsupported, "metadata snapshot: unknown version " + std::to_string(static_cast<uint8_t>(header[4])));
  }
  return ok_status();
}
}  // namespace

std::string encode_snapshot(const MetadataState& state) {
  std::string out("FLMS");
  out.push_back(static_cast<char>(kVersion));
  out += encode_batch(state.to_records());
  return out;
}

Result<MetadataState> decode_snapshot(std::string_view payload, int64_t end_offset) {
  FLOE_TRY(check_header(payload));
  auto records = decode_batch(payload.substr(kHeaderBytes));
  if (!records.ok()) return records.take_error();
  MetadataState state;
  FLOE_TRY(state.apply_all(*records));
  state.image.offset = end_offset - 1;
  return state;
}

Result<MetadataState> decode_snapshot(const SnapshotReadFn& read, int64_t end_offset) {
  char header[kHeaderBytes + kBatchHeaderBytes];
  FLOE_TRY(read_exact(read, header, sizeof(header)));
  FLOE_TRY(check_header(std::string_view(header, sizeof(header))));
  ByteReader batch_header({reinterpret_cast<const uint8_t*>(header) + kHeaderBytes, kBatchHeaderBytes});
  auto format = batch_header.read_u8();
  if (!format.ok()) return format.take_error();
  if (*format != kBatchFormat) return Error(Errc::unsupported, "metadata batch format " + std::to_string(*format));
  auto count = batch_header.read_u32();
  if (!count.ok()) return count.take_error();
  // One record at a time, as a batch of one for decode_batch: [format][count 1][type version size body].
  std::string one;
  MetadataState state;
  for (uint32_t i = 0; i < *count; ++i) {
    one.assign(kBatchHeaderBytes + kRecordHeaderBytes, '\0');
    one[0] = static_cast<char>(kBatchFormat);
    one[4] = 1;  // big-endian u32 count
    FLOE_TRY(read_exact(read, one.data() + kBatchHeaderBytes, kRecordHeaderBytes));
    ByteReader record_header({reinterpret_cast<const uint8_t*>(one.data()) + kBatchHeaderBytes + 4, 4});
    auto size = record_header.read_u32();
    if (!size.ok()) return size.take_error();
    if (*size > kMaxSnapshotRecordBytes) {
      return Error(Errc::invalid_length, "metadata snapshot: a record of " + std::to_string(*size) + " bytes");
    }
    one.resize(kBatchHeaderBytes + kRecordHeaderBytes + *size);
    FLOE_TRY(read_exact(read, one.data() + kBatchHeaderBytes + kRecordHeaderBytes, *size));
    auto records = decode_batch(one);
    if (!records.ok()) return records.take_error();
    FLOE_TRY(state.apply_all(*records));
  }
  char extra;
  auto tail = read(&extra, 1);  // the end (and, through the reader, the snapshot's footer)
  if (!tail.ok()) return tail.take_error();
  if (*tail != 0) return Error(Errc::corrupt, "metadata batch: trailing bytes");
  state.image.offset = end_offset - 1;
  return state;
}

}  // namespace floe::metadata
