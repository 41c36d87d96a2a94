#include "metadata/snapshot.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/crc32c.h"

namespace floe::metadata {

namespace {
constexpr const char* kFile = "metadata.snapshot";
constexpr size_t kHeaderBytes = 4 + 1 + 8 + 4 + 4;

Error io_error(const char* what, const std::string& path) {
  return Error(Errc::io, std::string(what) + " " + path + ": " + std::strerror(errno));
}

Status fsync_path(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return io_error("open", path);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return io_error("fsync", path);
  return ok_status();
}
}  // namespace

Status write_snapshot(const std::string& dir, int64_t offset, const MetadataState& state) {
  std::string payload = encode_batch(state.to_records());
  ByteWriter w(kHeaderBytes + payload.size());
  w.write_bytes({reinterpret_cast<const uint8_t*>("FLMS"), 4});
  w.write_u8(1);
  w.write_i64(offset);
  w.write_u32(static_cast<uint32_t>(payload.size()));
  w.write_u32(crc32c({reinterpret_cast<const uint8_t*>(payload.data()), payload.size()}));
  w.write_string(payload);
  std::string path = dir + "/" + kFile;
  std::string temp = path + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("open", temp);
  const uint8_t* p = w.bytes().data();
  size_t left = w.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      auto err = io_error("write", temp);
      ::close(fd);
      return err;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return io_error("fsync", temp);
  if (::rename(temp.c_str(), path.c_str()) != 0) return io_error("rename", temp);
  return fsync_path(dir, O_RDONLY | O_DIRECTORY);
}

Result<std::optional<Snapshot>> load_snapshot(const std::string& dir) {
  std::string path = dir + "/" + kFile;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<Snapshot>();
    return io_error("open", path);
  }
  Bytes data;
  uint8_t buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      auto err = io_error("read", path);
      ::close(fd);
      return err;
    }
    if (n == 0) break;
    data.insert(data.end(), buf, buf + n);
  }
  ::close(fd);
  ByteReader r(data);
  auto magic = r.read_span(4);
  if (!magic.ok() || std::memcmp(magic->data(), "FLMS", 4) != 0) return Error(Errc::corrupt, path + ": bad magic");
  auto version = r.read_u8();
  if (!version.ok() || *version != 1) return Error(Errc::unsupported, path + ": unknown version");
  auto offset = r.read_i64();
  auto size = r.read_u32();
  auto crc = r.read_u32();
  if (!offset.ok() || !size.ok() || !crc.ok() || *size != r.remaining())
    return Error(Errc::corrupt, path + ": truncated");
  auto payload = r.read_span(*size);
  if (crc32c(*payload) != *crc) return Error(Errc::corrupt, path + ": checksum mismatch");
  auto records = decode_batch({reinterpret_cast<const char*>(payload->data()), payload->size()});
  if (!records.ok()) return records.take_error();
  Snapshot snapshot;
  snapshot.offset = *offset;
  FLOE_TRY(snapshot.state.apply_all(*records));
  snapshot.state.image.offset = *offset;
  return std::optional<Snapshot>(std::move(snapshot));
}

}  // namespace floe::metadata
