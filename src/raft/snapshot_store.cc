#include "raft/snapshot_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "common/bytes.h"
#include "common/crc32c.h"

namespace floe::raft {

namespace {

constexpr size_t kHeaderBytes = 4 + 1 + 8 + 4;
constexpr size_t kTrailerBytes = 4;
constexpr char kSuffix[] = ".checkpoint";

Error io_error(const std::string& what, const std::string& path) {
  return Error(Errc::io, what + " " + path + ": " + std::strerror(errno));
}

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
  long long end = std::stoll(name.substr(0, 20));
  long long epoch = std::stoll(name.substr(21, 10));
  if (epoch > INT32_MAX) return std::nullopt;
  return SnapshotId{end, static_cast<Epoch>(epoch)};
}

Status write_all(int fd, const char* data, size_t size, int64_t offset, const std::string& path) {
  while (size > 0) {
    ssize_t n = ::pwrite(fd, data, size, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return io_error("write", path);
    data += n;
    size -= static_cast<size_t>(n);
    offset += n;
  }
  return ok_status();
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

Status fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error("open", dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return io_error("fsync", dir);
  return ok_status();
}

}  // namespace

std::string FileSnapshotStore::frame(SnapshotId id, std::string_view payload) {
  ByteWriter w(kHeaderBytes + payload.size() + kTrailerBytes);
  w.write_bytes({reinterpret_cast<const uint8_t*>("FLRS"), 4});
  w.write_u8(1);
  w.write_i64(id.end_offset);
  w.write_i32(id.epoch);
  w.write_bytes({reinterpret_cast<const uint8_t*>(payload.data()), payload.size()});
  w.write_u32(crc32c(w.bytes()));
  return std::string(reinterpret_cast<const char*>(w.bytes().data()), w.size());
}

Result<std::string> FileSnapshotStore::unframe(SnapshotId id, std::string_view file) {
  if (file.size() < kHeaderBytes + kTrailerBytes || std::memcmp(file.data(), "FLRS", 4) != 0) {
    return Error(Errc::corrupt, "snapshot: not a floe Raft snapshot");
  }
  auto bytes = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(file.data()), file.size());
  ByteReader trailer(bytes.subspan(file.size() - kTrailerBytes));
  if (*trailer.read_u32() != crc32c(bytes.first(file.size() - kTrailerBytes))) {
    return Error(Errc::corrupt, "snapshot: checksum mismatch");
  }
  ByteReader r(bytes.subspan(4));
  uint8_t version = *r.read_u8();
  if (version != 1) return Error(Errc::unsupported, "snapshot: version " + std::to_string(version));
  SnapshotId named{*r.read_i64(), *r.read_i32()};
  if (named != id) return Error(Errc::corrupt, "snapshot: the file holds another snapshot id");
  return std::string(file.substr(kHeaderBytes, file.size() - kHeaderBytes - kTrailerBytes));
}

Result<std::unique_ptr<FileSnapshotStore>> FileSnapshotStore::open(const std::string& dir, size_t keep) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error(Errc::io, "create " + dir + ": " + ec.message());
  std::unique_ptr<FileSnapshotStore> store(new FileSnapshotStore(dir, std::max<size_t>(keep, 1)));
  bool removed = false;
  for (const auto& item : std::filesystem::directory_iterator(dir)) {
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
  Status status = write_all(fd, file.data(), file.size(), 0, temp);
  if (status.ok() && ::fsync(fd) != 0) status = io_error("fsync", temp);
  ::close(fd);
  FLOE_TRY(std::move(status));
  return install(id, temp);
}

Status FileSnapshotStore::begin_download(SnapshotId id) {
  if (partial_) {
    ::close(partial_->fd);
    std::string old = path_of(partial_->id) + ".part";
    ::unlink(old.c_str());
    partial_.reset();
  }
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
  FLOE_TRY(write_all(partial_->fd, bytes.data(), bytes.size(), position, temp));
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
