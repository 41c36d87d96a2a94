#include "metadata/records.h"

namespace floe::metadata {

namespace {
template <size_t I = 0>
Result<MetadataRecord> decode_one(int16_t type, int16_t version, ByteReader& body) {
  if constexpr (I == std::variant_size_v<MetadataRecord>) {
    (void)version;
    (void)body;
    return Error(Errc::unsupported, "unknown metadata record type " + std::to_string(type));
  } else {
    using R = std::variant_alternative_t<I, MetadataRecord>;
    if (R::kApiKey != type) return decode_one<I + 1>(type, version, body);
    if (version < R::kLowestVersion || version > R::kHighestVersion) {
      return Error(Errc::unsupported, "metadata record type " + std::to_string(type) + " version " +
                                          std::to_string(version));
    }
    R record;
    FLOE_TRY(record.decode(body, version));
    if (!body.at_end()) return Error(Errc::corrupt, "metadata record type " + std::to_string(type) + ": trailing bytes");
    return MetadataRecord(std::move(record));
  }
}
}  // namespace

std::string encode_batch(const std::vector<MetadataRecord>& records) {
  ByteWriter w;
  w.write_u8(kBatchFormat);
  w.write_u32(static_cast<uint32_t>(records.size()));
  for (const auto& record : records) {
    std::visit(
        [&](const auto& r) {
          using R = std::decay_t<decltype(r)>;
          w.write_i16(R::kApiKey);
          w.write_i16(R::kHighestVersion);
          size_t slot = w.reserve_slot(4);
          size_t start = w.size();
          r.encode(w, R::kHighestVersion);
          w.patch_u32(slot, static_cast<uint32_t>(w.size() - start));
        },
        record);
  }
  return std::string(w.bytes().begin(), w.bytes().end());
}

Result<std::vector<MetadataRecord>> decode_batch(std::string_view bytes) {
  ByteReader r({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
  auto format = r.read_u8();
  if (!format.ok()) return format.take_error();
  if (*format != kBatchFormat) return Error(Errc::unsupported, "metadata batch format " + std::to_string(*format));
  auto count = r.read_u32();
  if (!count.ok()) return count.take_error();
  // Every record takes at least 8 bytes: a count beyond that is a lie, not an allocation.
  if (*count > r.remaining() / 8) return Error(Errc::invalid_length, "metadata batch: record count " + std::to_string(*count));
  std::vector<MetadataRecord> out;
  out.reserve(*count);
  for (uint32_t i = 0; i < *count; ++i) {
    auto type = r.read_i16();
    if (!type.ok()) return type.take_error();
    auto version = r.read_i16();
    if (!version.ok()) return version.take_error();
    auto size = r.read_u32();
    if (!size.ok()) return size.take_error();
    auto body = r.sub_reader(*size);
    if (!body.ok()) return body.take_error();
    auto record = decode_one(*type, *version, *body);
    if (!record.ok()) return record.take_error();
    out.push_back(std::move(record.value()));
  }
  if (!r.at_end()) return Error(Errc::corrupt, "metadata batch: trailing bytes");
  return out;
}

}  // namespace floe::metadata
