#include "raft/snapshot_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "common/bytes.h"
#include "common/file_io.h"
#include "protocol/generated/snapshot_footer_record.h"
#include "protocol/generated/snapshot_header_record.h"
#include "protocol/records/control.h"
#include "protocol/records/record.h"
#include "protocol/records/record_batch.h"

namespace floe::raft {

namespace {

constexpr char kSuffix[] = ".checkpoint";

std::string name_of(SnapshotId id) {
  char name[64];
  std::snprintf(name, sizeof(name), "%020lld-%010d%s", static_cast<long long>(id.end_offset), id.epoch, kSuffix);
  return name;
}

std::optional<SnapshotId> parse_name(const std::string& name) {
  // 20 digits, '-', 10 digits, ".checkpoint"
  if (name.size() != 31 + sizeof(kSuffix) - 1 || name[20] != '-' || name.substr(31) != kSuffix) return std::nullopt;
  for (size_t i = 0; i < 31; ++i) {
    if (i != 20 && (name[i] < '0' || name[i] > '9')) return std::nullopt;
  }
  long long end = 0, epoch = 0;  // 20 digits may exceed int64: from_chars says so instead of throwing
  if (std::from_chars(name.data(), name.data() + 20, end).ec != std::errc()) return std::nullopt;
  if (std::from_chars(name.data() + 21, name.data() + 31, epoch).ec != std::errc()) return std::nullopt;
  if (epoch > INT32_MAX) return std::nullopt;
  return SnapshotId{end, static_cast<Epoch>(epoch)};
}

Result<std::string> read_range(const std::string& path, int64_t position, size_t max_bytes, int64_t* size_out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Error(Errc::not_found, "no snapshot " + path);
    return io_error("open", path);
  }
  off_t size = ::lseek(fd, 0, SEEK_END);
  if (size < 0) {
    Error e = io_error("seek", path);
    ::close(fd);
    return e;
  }
  if (size_out) *size_out = size;
  if (position < 0 || position > size) {
    ::close(fd);
    return Error(Errc::invalid_value, "snapshot position out of range");
  }
  size_t want = std::min<size_t>(max_bytes, static_cast<size_t>(size - position));
  std::string out(want, '\0');
  size_t got = 0;
  while (got < want) {
    ssize_t n = ::pread(fd, out.data() + got, want - got, position + static_cast<int64_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Error e = io_error("read", path);
      ::close(fd);
      return e;
    }
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  return out;
}

}  // namespace

namespace {

constexpr size_t kChunkBytes = 64 << 10;  // payload bytes per data record
constexpr size_t kRecordsPerBatch = 16;

Result<Bytes> control_batch(records::ControlType type, int64_t base_offset, Epoch epoch, std::span<const uint8_t> value) {
  records::BatchOptions options;
  options.base_offset = base_offset;
  options.partition_leader_epoch = epoch;
  options.is_control = true;
  records::RecordBatchBuilder builder(options);
  Bytes key = records::encode_control_key(type);
  builder.append(0, std::span<const uint8_t>(key), value);
  return builder.build();
}

Error not_a_snapshot(const std::string& why) { return Error(Errc::corrupt, "snapshot: " + why); }

}  // namespace

std::string FileSnapshotStore::frame(SnapshotId id, std::string_view payload) {
  ByteWriter out(payload.size() + 256);
  protocol::SnapshotHeaderRecord header;
  ByteWriter header_value(16);
  header.encode(header_value, 0);
  auto first = control_batch(records::ControlType::snapshot_header, id.end_offset, id.epoch, header_value.bytes());
  FLOE_ASSERT(first.ok());
  out.write_bytes(*first);
  int64_t offset = id.end_offset + 1;
  size_t pos = 0;
  do {
    records::BatchOptions options;
    options.base_offset = offset;
    options.partition_leader_epoch = id.epoch;
    records::RecordBatchBuilder builder(options);
    for (size_t n = 0; n < kRecordsPerBatch && (pos < payload.size() || (pos == 0 && n == 0)); ++n) {
      size_t take = std::min(kChunkBytes, payload.size() - pos);
      builder.append(0, std::nullopt, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(payload.data()) + pos, take));
      pos += take;
      ++offset;
    }
    auto batch = builder.build();
    FLOE_ASSERT(batch.ok());
    out.write_bytes(*batch);
  } while (pos < payload.size());
  protocol::SnapshotFooterRecord footer;
  ByteWriter footer_value(8);
  footer.encode(footer_value, 0);
  auto last = control_batch(records::ControlType::snapshot_footer, offset, id.epoch, footer_value.bytes());
  FLOE_ASSERT(last.ok());
  out.write_bytes(*last);
  return std::string(reinterpret_cast<const char*>(out.bytes().data()), out.size());
}

Result<std::string> FileSnapshotStore::unframe(SnapshotId id, std::string_view file) {
  records::ValidateOptions validate;  // every batch's CRC; no partial tail
  records::BatchReader reader(SharedBytes::copy_of({reinterpret_cast<const uint8_t*>(file.data()), file.size()}), validate);
  records::DecodeOptions decode;
  decode.max_decompressed_bytes = 1 << 20;  // floe writes no compressed batches
  std::string payload;
  bool header = false, footer = false;
  for (;;) {
    auto batch = reader.next();
    if (!batch.ok()) return not_a_snapshot(batch.error().message);
    if (!*batch) break;
    const records::RecordBatchHeader& h = (*batch)->header();
    if (footer) return not_a_snapshot("batches after the footer");
    if (h.partition_leader_epoch != id.epoch) return not_a_snapshot("a batch of another epoch");
    auto recs = records::decode_records(**batch, decode);
    if (!recs.ok()) return not_a_snapshot(recs.error().message);
    if (h.is_control()) {
      if (recs->size() != 1 || !(*recs)[0].key) return not_a_snapshot("a control batch without one keyed record");
      auto key = records::decode_control_key((*recs)[0].key->span());
      if (!key.ok()) return not_a_snapshot(key.error().message);
      if (!header) {
        if (key->type != static_cast<int16_t>(records::ControlType::snapshot_header)) return not_a_snapshot("no header");
        if (h.base_offset != id.end_offset) return not_a_snapshot("the header names another snapshot id");
        header = true;
      } else if (key->type == static_cast<int16_t>(records::ControlType::snapshot_footer)) {
        footer = true;
      } else {
        return not_a_snapshot("unexpected control record type " + std::to_string(key->type));
      }
      continue;
    }
    if (!header) return not_a_snapshot("data before the header");
    for (const records::Record& rec : *recs) {
      if (!rec.value) return not_a_snapshot("a null data record");
      payload.append(reinterpret_cast<const char*>(rec.value->data()), rec.value->size());
    }
  }
  if (!header || !footer) return not_a_snapshot(header ? "no footer (truncated)" : "empty");
  return payload;
}

Result<std::unique_ptr<FileSnapshotStore>> FileSnapshotStore::open(const std::string& dir, size_t keep) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error(Errc::io, "create " + dir + ": " + ec.message());
  std::unique_ptr<FileSnapshotStore> store(new FileSnapshotStore(dir, std::max<size_t>(keep, 1)));
  bool removed = false;
  for (const auto& item : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = item.path().filename().string();
    if (auto id = parse_name(name)) {
      store->ids_.push_back(*id);
    } else if (name.ends_with(std::string(kSuffix) + ".tmp") || name.ends_with(std::string(kSuffix) + ".part")) {
      std::filesystem::remove(item.path(), ec);  // an unfinished save or download
      removed = true;
    }
  }
  std::sort(store->ids_.begin(), store->ids_.end(),
            [](const SnapshotId& a, const SnapshotId& b) { return a.end_offset < b.end_offset; });
  if (removed) FLOE_TRY(fsync_dir(dir));
  if (!store->ids_.empty()) {
    auto payload = store->load(store->ids_.back());
    if (!payload.ok()) {
      return Error(payload.error().code, store->path_of(store->ids_.back()) + ": " + payload.error().message);
    }
  }
  return store;
}

FileSnapshotStore::~FileSnapshotStore() {
  if (partial_ && partial_->fd >= 0) ::close(partial_->fd);
}

std::string FileSnapshotStore::path_of(SnapshotId id) const { return dir_ + "/" + name_of(id); }

std::optional<SnapshotId> FileSnapshotStore::latest() const {
  if (ids_.empty()) return std::nullopt;
  return ids_.back();
}

Result<int64_t> FileSnapshotStore::size_bytes(SnapshotId id) const {
  if (std::find(ids_.begin(), ids_.end(), id) == ids_.end()) return Error(Errc::not_found, "no such snapshot");
  std::error_code ec;
  auto size = std::filesystem::file_size(path_of(id), ec);
  if (ec) return Error(Errc::not_found, path_of(id) + ": " + ec.message());
  return static_cast<int64_t>(size);
}

Result<std::string> FileSnapshotStore::read(SnapshotId id, int64_t position, int32_t max_bytes) const {
  if (std::find(ids_.begin(), ids_.end(), id) == ids_.end()) return Error(Errc::not_found, "no such snapshot");
  if (max_bytes < 0) return Error(Errc::invalid_value, "negative max_bytes");
  return read_range(path_of(id), position, static_cast<size_t>(max_bytes), nullptr);
}

Result<std::string> FileSnapshotStore::load(SnapshotId id) const {
  int64_t size = 0;
  auto file = read_range(path_of(id), 0, SIZE_MAX, &size);
  if (!file.ok()) return file.take_error();
  return unframe(id, *file);
}

Status FileSnapshotStore::install(SnapshotId id, const std::string& temp) {
  std::string path = path_of(id);
  if (::rename(temp.c_str(), path.c_str()) != 0) return io_error("rename", temp);
  FLOE_TRY(fsync_dir(dir_));
  if (std::find(ids_.begin(), ids_.end(), id) == ids_.end()) ids_.push_back(id);
  std::sort(ids_.begin(), ids_.end(), [](const SnapshotId& a, const SnapshotId& b) { return a.end_offset < b.end_offset; });
  // Prune only what is older than the newest: the log start never moves back.
  while (ids_.size() > keep_) {
    std::string old = path_of(ids_.front());
    if (::unlink(old.c_str()) != 0 && errno != ENOENT) return io_error("unlink", old);
    ids_.erase(ids_.begin());
  }
  return ok_status();
}

Status FileSnapshotStore::save(SnapshotId id, std::string_view payload) {
  std::string file = frame(id, payload);
  std::string temp = path_of(id) + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("open", temp);
  Status status = pwrite_all(fd, file.data(), file.size(), 0, temp);
  if (status.ok() && ::fsync(fd) != 0) status = io_error("fsync", temp);
  ::close(fd);
  if (status.ok()) status = install(id, temp);
  if (!status.ok()) ::unlink(temp.c_str());  // no half-written file left behind (open() also sweeps them)
  return status;
}

void FileSnapshotStore::abort_download() {
  if (!partial_) return;
  ::close(partial_->fd);
  std::string old = path_of(partial_->id) + ".part";
  ::unlink(old.c_str());
  partial_.reset();
}

Status FileSnapshotStore::begin_download(SnapshotId id) {
  abort_download();
  std::string temp = path_of(id) + ".part";
  int fd = ::open(temp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("open", temp);
  partial_ = Partial{id, fd, 0};
  return ok_status();
}

Status FileSnapshotStore::write_chunk(SnapshotId id, int64_t position, std::string_view bytes) {
  if (!partial_ || partial_->id != id || position != partial_->size_bytes) {
    return Error(Errc::invalid_value, "snapshot chunk does not continue the download");
  }
  std::string temp = path_of(id) + ".part";
  FLOE_TRY(pwrite_all(partial_->fd, bytes.data(), bytes.size(), static_cast<uint64_t>(position), temp));
  partial_->size_bytes += static_cast<int64_t>(bytes.size());
  return ok_status();
}

Status FileSnapshotStore::finish_download(SnapshotId id) {
  if (!partial_ || partial_->id != id) return Error(Errc::invalid_value, "no such snapshot download");
  std::string temp = path_of(id) + ".part";
  Partial partial = *partial_;
  partial_.reset();
  auto fail = [&](Error e) {
    ::close(partial.fd);
    ::unlink(temp.c_str());
    return e;
  };
  auto file = read_range(temp, 0, SIZE_MAX, nullptr);
  if (!file.ok()) return fail(file.take_error());
  auto payload = unframe(id, *file);  // the leader's CRC, end to end
  if (!payload.ok()) return fail(payload.take_error());
  if (::fsync(partial.fd) != 0) return fail(io_error("fsync", temp));
  ::close(partial.fd);
  return install(id, temp);
}

}  // namespace floe::raft
