#include "metadata/snapshot.h"

#include <cstring>

namespace floe::metadata {

namespace {
constexpr size_t kHeaderBytes = 4 + 1;
constexpr uint8_t kVersion = 2;
}  // namespace

std::string encode_snapshot(const MetadataState& state) {
  std::string out("FLMS");
  out.push_back(static_cast<char>(kVersion));
  out += encode_batch(state.to_records());
  return out;
}

Result<MetadataState> decode_snapshot(std::string_view payload, int64_t end_offset) {
  if (payload.size() < kHeaderBytes || std::memcmp(payload.data(), "FLMS", 4) != 0) {
    return Error(Errc::corrupt, "metadata snapshot: bad magic");
  }
  if (static_cast<uint8_t>(payload[4]) != kVersion) {
    return Error(Errc::unsupported, "metadata snapshot: unknown version " + std::to_string(static_cast<uint8_t>(payload[4])));
  }
  auto records = decode_batch(payload.substr(kHeaderBytes));
  if (!records.ok()) return records.take_error();
  MetadataState state;
  FLOE_TRY(state.apply_all(*records));
  state.image.offset = end_offset - 1;
  return state;
}

}  // namespace floe::metadata
