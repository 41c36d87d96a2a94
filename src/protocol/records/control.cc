#include "protocol/records/control.h"

#include "protocol/records/record.h"

namespace floe::records {

Result<ControlRecordKey> decode_control_key(std::span<const uint8_t> key) {
  ByteReader r(key);
  auto version = r.read_i16();
  if (!version) return version.take_error();
  if (*version < 0) return Error(Errc::invalid_value, "negative control record key version");
  auto type = r.read_i16();
  if (!type) return type.take_error();
  return ControlRecordKey{*version, *type};
}

Bytes encode_control_key(ControlType type) {
  ByteWriter w(4);
  w.write_i16(0);
  w.write_i16(static_cast<int16_t>(type));
  return w.take();
}

Result<EndTxnMarker> decode_end_txn_marker(std::span<const uint8_t> value) {
  ByteReader r(value);
  auto version = r.read_i16();
  if (!version) return version.take_error();
  if (*version < 0) return Error(Errc::invalid_value, "negative end-transaction marker version");
  auto epoch = r.read_i32();
  if (!epoch) return epoch.take_error();
  return EndTxnMarker{*version, *epoch};
}

Bytes encode_end_txn_marker(const EndTxnMarker& marker) {
  ByteWriter w(6);
  w.write_i16(marker.version);
  w.write_i32(marker.coordinator_epoch);
  return w.take();
}

Result<Bytes> build_end_txn_batch(ControlType type, int64_t producer_id, int16_t producer_epoch,
                                  int32_t coordinator_epoch, int64_t timestamp_ms, int64_t base_offset,
                                  int32_t partition_leader_epoch) {
  if (type != ControlType::abort && type != ControlType::commit)
    return Error(Errc::invalid_value, "an end-transaction batch is COMMIT or ABORT");
  BatchOptions options;
  options.base_offset = base_offset;
  options.partition_leader_epoch = partition_leader_epoch;
  options.producer_id = producer_id;
  options.producer_epoch = producer_epoch;
  options.is_transactional = true;
  options.is_control = true;
  RecordBatchBuilder builder(options);
  Bytes key = encode_control_key(type);
  Bytes value = encode_end_txn_marker(EndTxnMarker{0, coordinator_epoch});
  builder.append(timestamp_ms, std::span<const uint8_t>(key), std::span<const uint8_t>(value));
  return builder.build();
}

}  // namespace floe::records
