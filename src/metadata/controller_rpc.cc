#include "metadata/controller_rpc.h"

#include <algorithm>

namespace floe::metadata::rpc {

namespace {
constexpr const char* kNotControllerMessage = "not the controller";
}

void set_metadata_offset(std::vector<protocol::RawTaggedField>& tags, int64_t offset) {
  std::erase_if(tags, [](const protocol::RawTaggedField& f) { return f.tag == kMetadataOffsetTag; });
  ByteWriter w(8);
  w.write_i64(offset);
  tags.push_back(protocol::RawTaggedField{kMetadataOffsetTag, SharedBytes(w.take())});
  std::sort(tags.begin(), tags.end(), [](const auto& a, const auto& b) { return a.tag < b.tag; });
}

int64_t metadata_offset(const std::vector<protocol::RawTaggedField>& tags) {
  for (const auto& f : tags) {
    if (f.tag != kMetadataOffsetTag || f.data.size() != 8) continue;
    ByteReader r(f.data.span());
    auto v = r.read_i64();
    return v.ok() ? *v : -1;
  }
  return -1;
}

bool is_not_controller(const Error& error) {
  return error.code == Errc::internal && error.message == kNotControllerMessage;
}

WireStatus to_wire(const Error& error) {
  WireStatus s;
  s.error_message = error.message;
  if (is_not_controller(error)) {
    s.error_code = kNotController;
    return s;
  }
  s.error_code = kUnknownServerError;
  s.status_code = static_cast<int16_t>(error.code);
  return s;
}

Status from_wire(int16_t error_code, int16_t status_code, const std::optional<std::string>& message) {
  if (error_code == kNone) return {};
  if (error_code == kNotController) return Error(Errc::internal, kNotControllerMessage);
  Errc code = Errc::internal;
  if (status_code > 0 && status_code <= static_cast<int16_t>(Errc::internal)) code = static_cast<Errc>(status_code);
  return Error(code, message.value_or("controller error " + std::to_string(error_code)));
}

namespace {
template <typename Wire>
void put_range(Wire& w, const stream::StreamRange& r) {
  w.stream_id = static_cast<int64_t>(r.stream_id.value());
  w.epoch = static_cast<int64_t>(r.epoch.value());
  w.start_offset = r.start_offset.value();
  w.end_offset = r.end_offset.value();
}
template <typename Wire>
stream::StreamRange get_range(const Wire& w) {
  return stream::StreamRange{StreamId(static_cast<uint64_t>(w.stream_id)), StreamEpoch(static_cast<uint64_t>(w.epoch)),
                             Offset(w.start_offset), Offset(w.end_offset)};
}
std::vector<int64_t> ids_to_wire(const std::vector<ObjectId>& ids) {
  std::vector<int64_t> out;
  out.reserve(ids.size());
  for (auto id : ids) out.push_back(static_cast<int64_t>(id.value()));
  return out;
}
std::vector<ObjectId> ids_from_wire(const std::vector<int64_t>& ids) {
  std::vector<ObjectId> out;
  out.reserve(ids.size());
  for (auto id : ids) out.push_back(ObjectId(static_cast<uint64_t>(id)));
  return out;
}
template <typename Wire>
void put_stream_object(Wire& w, const stream::StreamObjectCommit& c) {
  w.object_id = static_cast<int64_t>(c.object_id.value());
  w.object_size_bytes = static_cast<int64_t>(c.object_size_bytes);
  put_range(w, c.range);
  w.compacted_object_ids = ids_to_wire(c.compacted_object_ids);
}
template <typename Wire>
stream::StreamObjectCommit get_stream_object(const Wire& w) {
  stream::StreamObjectCommit c;
  c.object_id = ObjectId(static_cast<uint64_t>(w.object_id));
  c.object_size_bytes = static_cast<uint64_t>(w.object_size_bytes);
  c.range = get_range(w);
  c.compacted_object_ids = ids_from_wire(w.compacted_object_ids);
  return c;
}
}  // namespace

protocol::FloeCommitStreamSetObjectRequest to_wire(const stream::StreamSetObjectCommit& commit) {
  protocol::FloeCommitStreamSetObjectRequest r;
  r.node_id = commit.node_id.value();
  r.object_id = commit.object_id ? static_cast<int64_t>(commit.object_id->value()) : -1;
  r.object_size_bytes = static_cast<int64_t>(commit.object_size_bytes);
  for (const auto& range : commit.ranges) put_range(r.ranges.emplace_back(), range);
  for (const auto& so : commit.stream_objects) put_stream_object(r.stream_objects.emplace_back(), so);
  r.compacted_object_ids = ids_to_wire(commit.compacted_object_ids);
  return r;
}

stream::StreamSetObjectCommit from_wire(const protocol::FloeCommitStreamSetObjectRequest& r) {
  stream::StreamSetObjectCommit c;
  c.node_id = NodeId(r.node_id);
  if (r.object_id >= 0) c.object_id = ObjectId(static_cast<uint64_t>(r.object_id));
  c.object_size_bytes = static_cast<uint64_t>(r.object_size_bytes);
  for (const auto& range : r.ranges) c.ranges.push_back(get_range(range));
  for (const auto& so : r.stream_objects) c.stream_objects.push_back(get_stream_object(so));
  c.compacted_object_ids = ids_from_wire(r.compacted_object_ids);
  return c;
}

protocol::FloeCommitStreamObjectRequest to_wire(const stream::StreamObjectCommit& commit) {
  protocol::FloeCommitStreamObjectRequest r;
  put_stream_object(r, commit);
  return r;
}

stream::StreamObjectCommit from_wire(const protocol::FloeCommitStreamObjectRequest& r) { return get_stream_object(r); }

}  // namespace floe::metadata::rpc
