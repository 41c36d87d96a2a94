#include "raft/log_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "common/file_io.h"
#include "common/bytes.h"
#include "common/crc32c.h"

namespace floe::raft {

namespace {

constexpr size_t kRecordHeaderBytes = 8;  // u32 body_bytes + u32 crc
constexpr size_t kBodyFixedBytes = 13;  // i64 offset + i32 epoch + u8 flags
constexpr char kQuorumStateFile[] = "quorum-state";
constexpr size_t kQuorumStateBytes = 21;

Result<Bytes> read_whole(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("open", path);
  Bytes data;
  uint8_t chunk[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Error error = io_error("read", path);
      ::close(fd);
      return error;
    }
    if (n == 0) break;
    data.insert(data.end(), chunk, chunk + n);
  }
  ::close(fd);
  return data;
}

Status fsync_fd(int fd, const std::string& path) {
  if (::fsync(fd) != 0) return io_error("fsync", path);
  return ok_status();
}

std::string segment_name(Offset base_offset) {
  char name[32];
  std::snprintf(name, sizeof(name), "%020lld.log", static_cast<long long>(base_offset));
  return name;
}

Bytes encode_record(Offset offset, const LogEntry& entry) {
  ByteWriter body(kBodyFixedBytes + entry.data.size());
  body.write_i64(offset);
  body.write_i32(entry.epoch);
  body.write_u8(entry.control ? 1 : 0);
  body.write_bytes({reinterpret_cast<const uint8_t*>(entry.data.data()), entry.data.size()});
  ByteWriter record(kRecordHeaderBytes + body.size());
  record.write_u32(static_cast<uint32_t>(body.size()));
  record.write_u32(crc32c(body.bytes()));
  record.write_bytes(body.bytes());
  return record.take();
}

}  // namespace

Result<std::unique_ptr<FileLog>> FileLog::open(FileLogOptions options) {
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) return Error(Errc::io, "create " + options.dir + ": " + ec.message());
  std::unique_ptr<FileLog> log(new FileLog(std::move(options)));
  log->dir_fd_ = ::open(log->options_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (log->dir_fd_ < 0) return io_error("open", log->options_.dir);
  FLOE_TRY(log->recover());
  return log;
}

FileLog::~FileLog() {
  for (auto& segment : segments_) {
    if (segment.fd >= 0) ::close(segment.fd);
  }
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

Status FileLog::recover() {
  std::vector<Offset> bases;
  std::error_code ec;
  for (const auto& item : std::filesystem::directory_iterator(options_.dir, ec)) {
    std::string name = item.path().filename().string();
    if (name.size() != 24 || name.substr(20) != ".log") continue;
    Offset base = 0;  // 20 digits may exceed int64: from_chars says so instead of throwing
    if (std::from_chars(name.data(), name.data() + 20, base).ec != std::errc() || base < 0) continue;
    bases.push_back(base);
  }
  if (ec) return Error(Errc::io, "list " + options_.dir + ": " + ec.message());
  std::sort(bases.begin(), bases.end());
  const Offset snapshot_end = options_.snapshot ? options_.snapshot->end_offset : 0;
  const Epoch snapshot_epoch = options_.snapshot ? options_.snapshot->epoch : 0;
  start_offset_ = snapshot_end;
  start_epoch_ = snapshot_epoch;
  // Segments wholly below the snapshot (their successor starts at or below its end) are gone.
  size_t first = 0;
  while (first + 1 < bases.size() && bases[first + 1] <= snapshot_end) {
    std::string path = options_.dir + "/" + segment_name(bases[first]);
    if (::unlink(path.c_str()) != 0) return io_error("unlink", path);
    ++recovery_.segments_deleted;
    dir_dirty_ = true;
    ++first;
  }
  bases.erase(bases.begin(), bases.begin() + static_cast<ptrdiff_t>(first));
  read_end_ = bases.empty() ? snapshot_end : bases.front();
  read_last_epoch_ = 0;
  epoch_before_start_ = -1;
  bool stop = false;
  for (Offset base : bases) {
    std::string path = options_.dir + "/" + segment_name(base);
    if (stop || base != read_end_) {
      // After a torn point (or a gap) nothing is trustworthy.
      if (::unlink(path.c_str()) != 0) return io_error("unlink", path);
      ++recovery_.segments_deleted;
      dir_dirty_ = true;
      stop = true;
      continue;
    }
    FLOE_TRY(open_segment(base));
    FLOE_TRY(recover_segment(segments_.size() - 1, stop));
  }
  if (snapshot_end > 0 && !segments_.empty()) {
    Offset first_base = segments_.front().base_offset;
    bool continues;
    if (first_base > snapshot_end || read_end_ < snapshot_end) {
      continues = false;  // a gap after the snapshot, or the log ends before it
    } else if (first_base == snapshot_end) {
      continues = entries_.empty() || entries_.front().epoch >= snapshot_epoch;
    } else {
      continues = epoch_before_start_ == snapshot_epoch;
    }
    if (!continues) {
      recovery_.segments_deleted += static_cast<int>(segments_.size());
      FLOE_TRY(delete_all_segments());
      entries_.clear();
      positions_.clear();
      recovery_.dropped_for_snapshot = true;
    }
  }
  recovery_.entries = end_offset() - start_offset_;
  if (dir_dirty_) {
    FLOE_TRY(fsync_fd(dir_fd_, options_.dir));
    dir_dirty_ = false;
  }
  return ok_status();
}

Status FileLog::recover_segment(size_t index, bool& stop) {
  Segment& segment = segments_[index];
  auto data = read_whole(segment.path);
  if (!data.ok()) return data.take_error();
  ByteReader reader(std::span<const uint8_t>(data->data(), data->size()));
  size_t valid_end = 0;
  while (reader.remaining() >= kRecordHeaderBytes) {
    uint32_t body_bytes = *reader.read_u32();
    uint32_t crc = *reader.read_u32();
    if (body_bytes < kBodyFixedBytes || body_bytes > options_.max_entry_bytes + kBodyFixedBytes ||
        body_bytes > reader.remaining()) {
      break;  // torn or corrupt length: never trust it past the bytes we have
    }
    std::span<const uint8_t> body(data->data() + reader.pos(), body_bytes);
    if (crc32c(body) != crc) break;
    ByteReader fields(body);
    Offset offset = *fields.read_i64();
    Epoch epoch = *fields.read_i32();
    uint8_t flags = *fields.read_u8();
    if (offset != read_end_ || epoch < read_last_epoch_ || epoch < 0 || flags > 1) break;
    if (offset >= start_offset_) {
      LogEntry entry{epoch, flags == 1,
                     std::string(reinterpret_cast<const char*>(body.data()) + kBodyFixedBytes,
                                 body_bytes - kBodyFixedBytes)};
      positions_.push_back({index, static_cast<int64_t>(valid_end)});
      entries_.push_back(std::move(entry));
    } else if (offset == start_offset_ - 1) {
      epoch_before_start_ = epoch;
    }
    read_end_ = offset + 1;
    read_last_epoch_ = epoch;
    (void)reader.skip(body_bytes);
    valid_end = reader.pos();
  }
  if (valid_end < data->size()) {
    recovery_.truncated_bytes += static_cast<int64_t>(data->size() - valid_end);
    if (::ftruncate(segment.fd, static_cast<off_t>(valid_end)) != 0) return io_error("truncate", segment.path);
    if (::fdatasync(segment.fd) != 0) return io_error("fdatasync", segment.path);
    stop = true;
  }
  segment.size_bytes = static_cast<int64_t>(valid_end);
  return ok_status();
}

Status FileLog::open_segment(Offset base_offset) {
  Segment segment;
  segment.base_offset = base_offset;
  segment.path = options_.dir + "/" + segment_name(base_offset);
  segment.fd = ::open(segment.path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (segment.fd < 0) return io_error("open", segment.path);
  struct stat st {};
  if (::fstat(segment.fd, &st) != 0) {
    Error error = io_error("stat", segment.path);
    ::close(segment.fd);
    return error;
  }
  segment.size_bytes = st.st_size;
  segments_.push_back(std::move(segment));
  return ok_status();
}

void FileLog::note(Status status) {
  if (!status.ok() && error_.ok()) error_ = std::move(status);
}

const LogEntry& FileLog::entry(Offset offset) const {
  FLOE_ASSERT(offset >= start_offset_ && offset < end_offset());
  return entries_[static_cast<size_t>(offset - start_offset_)];
}

void FileLog::append(LogEntry entry) {
  FLOE_ASSERT_MSG(entry.epoch >= (entries_.empty() ? start_epoch_ : entries_.back().epoch),
                  "log epochs must not decrease");
  if (segments_.empty() || (segments_.back().size_bytes > 0 &&
                            (roll_next_ || segments_.back().size_bytes >= options_.segment_bytes))) {
    roll_next_ = false;
    Status opened = open_segment(end_offset());
    if (!opened.ok()) {
      note(std::move(opened));
      return;  // the in-memory log stays unchanged; sync() reports the error
    }
    dir_dirty_ = true;
  }
  Segment& segment = segments_.back();
  Bytes record = encode_record(end_offset(), entry);
  Status written = pwrite_all(segment.fd, record.data(), record.size(), static_cast<uint64_t>(segment.size_bytes), segment.path);
  if (!written.ok()) {
    note(std::move(written));
    return;
  }
  positions_.push_back({segments_.size() - 1, segment.size_bytes});
  segment.size_bytes += static_cast<int64_t>(record.size());
  entries_.push_back(std::move(entry));
  first_unsynced_segment_ = std::min(first_unsynced_segment_, segments_.size() - 1);
}

void FileLog::truncate_to(Offset end) {
  FLOE_ASSERT(end >= start_offset_ && end <= end_offset());
  if (end == end_offset()) return;
  Position cut = positions_[static_cast<size_t>(end - start_offset_)];
  while (segments_.size() > cut.segment + 1) {
    Segment& last = segments_.back();
    ::close(last.fd);
    if (::unlink(last.path.c_str()) != 0) note(io_error("unlink", last.path));
    segments_.pop_back();
    dir_dirty_ = true;
  }
  Segment& segment = segments_[cut.segment];
  if (::ftruncate(segment.fd, static_cast<off_t>(cut.file_offset)) != 0) {
    note(io_error("truncate", segment.path));
  } else if (::fdatasync(segment.fd) != 0) {
    note(io_error("fdatasync", segment.path));
  }
  segment.size_bytes = cut.file_offset;
  entries_.resize(static_cast<size_t>(end - start_offset_));
  positions_.resize(static_cast<size_t>(end - start_offset_));
  if (first_unsynced_segment_ != SIZE_MAX) first_unsynced_segment_ = std::min(first_unsynced_segment_, segments_.size() - 1);
  if (dir_dirty_) {
    note(fsync_fd(dir_fd_, options_.dir));
    dir_dirty_ = false;
  }
}

void FileLog::advance_start(SnapshotId snapshot) {
  FLOE_ASSERT(snapshot.end_offset >= start_offset_ && snapshot.end_offset <= end_offset());
  if (snapshot.end_offset == start_offset_) return;
  FLOE_ASSERT(entry(snapshot.end_offset - 1).epoch == snapshot.epoch);
  size_t drop = static_cast<size_t>(snapshot.end_offset - start_offset_);
  // Segments wholly below the new start: their successor begins at or below it.
  size_t remove = 0;
  while (remove + 1 < segments_.size() && segments_[remove + 1].base_offset <= snapshot.end_offset) {
    Segment& gone = segments_[remove];
    ::close(gone.fd);
    if (::unlink(gone.path.c_str()) != 0) note(io_error("unlink", gone.path));
    dir_dirty_ = true;
    ++remove;
  }
  segments_.erase(segments_.begin(), segments_.begin() + static_cast<ptrdiff_t>(remove));
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<ptrdiff_t>(drop));
  positions_.erase(positions_.begin(), positions_.begin() + static_cast<ptrdiff_t>(drop));
  for (Position& p : positions_) p.segment -= remove;
  if (first_unsynced_segment_ != SIZE_MAX) {
    first_unsynced_segment_ = first_unsynced_segment_ >= remove ? first_unsynced_segment_ - remove : 0;
  }
  start_offset_ = snapshot.end_offset;
  start_epoch_ = snapshot.epoch;
  roll_next_ = true;  // so the segment holding the new start can go with the next snapshot
  if (dir_dirty_) {
    note(fsync_fd(dir_fd_, options_.dir));
    dir_dirty_ = false;
  }
}

void FileLog::reset_to(SnapshotId snapshot) {
  note(delete_all_segments());
  entries_.clear();
  positions_.clear();
  first_unsynced_segment_ = SIZE_MAX;
  roll_next_ = false;
  start_offset_ = snapshot.end_offset;
  start_epoch_ = snapshot.epoch;
}

Status FileLog::delete_all_segments() {
  Status status = ok_status();
  for (Segment& segment : segments_) {
    ::close(segment.fd);
    if (::unlink(segment.path.c_str()) != 0 && status.ok()) status = io_error("unlink", segment.path);
  }
  segments_.clear();
  if (status.ok()) status = fsync_fd(dir_fd_, options_.dir);
  dir_dirty_ = false;
  return status;
}

Status FileLog::sync() {
  if (!error_.ok()) return error_;
  for (size_t i = first_unsynced_segment_; i < segments_.size(); ++i) {
    if (::fdatasync(segments_[i].fd) != 0) note(io_error("fdatasync", segments_[i].path));
  }
  first_unsynced_segment_ = SIZE_MAX;
  if (dir_dirty_) {
    note(fsync_fd(dir_fd_, options_.dir));
    dir_dirty_ = false;
  }
  return error_;
}

Result<std::unique_ptr<FileQuorumStateStore>> FileQuorumStateStore::open(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error(Errc::io, "create " + dir + ": " + ec.message());
  std::unique_ptr<FileQuorumStateStore> store(new FileQuorumStateStore(dir));
  std::string path = dir + "/" + kQuorumStateFile;
  if (!std::filesystem::exists(path)) return store;
  auto data = read_whole(path);
  if (!data.ok()) return data.take_error();
  if (data->size() != kQuorumStateBytes || std::memcmp(data->data(), "FLQS", 4) != 0) {
    return Error(Errc::corrupt, path + ": not a quorum-state file");
  }
  ByteReader reader(std::span<const uint8_t>(data->data() + 4, data->size() - 4));
  uint8_t version = *reader.read_u8();
  QuorumState state{*reader.read_i32(), *reader.read_i32(), *reader.read_i32()};
  uint32_t crc = *reader.read_u32();
  if (crc != crc32c(std::span<const uint8_t>(data->data(), kQuorumStateBytes - 4))) {
    return Error(Errc::corrupt, path + ": checksum mismatch");
  }
  if (version != 1) return Error(Errc::unsupported, path + ": version " + std::to_string(version));
  store->state_ = state;
  return store;
}

Status FileQuorumStateStore::save(const QuorumState& state) {
  ByteWriter writer(kQuorumStateBytes);
  writer.write_bytes({reinterpret_cast<const uint8_t*>("FLQS"), 4});
  writer.write_u8(1);
  writer.write_i32(state.epoch);
  writer.write_i32(state.leader_id);
  writer.write_i32(state.voted_for);
  writer.write_u32(crc32c(writer.bytes()));
  std::string path = dir_ + "/" + kQuorumStateFile;
  std::string temp = path + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("open", temp);
  Status status = pwrite_all(fd, writer.bytes().data(), writer.size(), 0, temp);
  if (status.ok()) status = fsync_fd(fd, temp);
  ::close(fd);
  if (!status.ok()) return status;
  if (::rename(temp.c_str(), path.c_str()) != 0) return io_error("rename", temp);
  int dir_fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return io_error("open", dir_);
  status = fsync_fd(dir_fd, dir_);
  ::close(dir_fd);
  FLOE_TRY(std::move(status));
  state_ = state;
  return ok_status();
}

}  // namespace floe::raft
