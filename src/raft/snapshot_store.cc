#include "raft/snapshot_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
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

// A snapshot file opened for reading (the caller closes fd), with its size.
struct OpenedSnapshot {
  int fd;
  off_t size;
};
Result<OpenedSnapshot> open_snapshot_file(const std::string& path) {
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
  return OpenedSnapshot{fd, size};
}

Result<std::string> read_range(const std::string& path, int64_t position, size_t max_bytes, int64_t* size_out) {
  auto opened = open_snapshot_file(path);
  if (!opened.ok()) return opened.take_error();
  const int fd = opened->fd;
  const off_t size = opened->size;
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

namespace {

// The snapshot file, batch by batch, to `sink` (which may fail: then so does this).
Status frame_to(SnapshotId id, std::string_view payload, const std::function<Status(std::span<const uint8_t>)>& sink) {
  protocol::SnapshotHeaderRecord header;
  ByteWriter header_value(16);
  header.encode(header_value, 0);
  auto first = control_batch(records::ControlType::snapshot_header, id.end_offset, id.epoch, header_value.bytes());
  FLOE_ASSERT(first.ok());
  FLOE_TRY(sink(*first));
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
    FLOE_TRY(sink(*batch));
  } while (pos < payload.size());
  protocol::SnapshotFooterRecord footer;
  ByteWriter footer_value(8);
  footer.encode(footer_value, 0);
  auto last = control_batch(records::ControlType::snapshot_footer, offset, id.epoch, footer_value.bytes());
  FLOE_ASSERT(last.ok());
  return sink(*last);
}

}  // namespace

std::string FileSnapshotStore::frame(SnapshotId id, std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 256);
  Status done = frame_to(id, payload, [&](std::span<const uint8_t> batch) {
    out.append(reinterpret_cast<const char*>(batch.data()), batch.size());
    return ok_status();
  });
  FLOE_ASSERT(done.ok());
  return out;
}

namespace {

// Where a framed snapshot's bytes come from: a file (by pread) or memory.
class Source {
 public:
  virtual ~Source() = default;
  virtual int64_t size() const = 0;
  // Exactly n bytes at position (the caller keeps position + n <= size()).
  virtual Status read_at(int64_t position, uint8_t* out, size_t n) = 0;
};

class MemorySource final : public Source {
 public:
  explicit MemorySource(std::string_view bytes) : bytes_(bytes) {}
  int64_t size() const override { return static_cast<int64_t>(bytes_.size()); }
  Status read_at(int64_t position, uint8_t* out, size_t n) override {
    std::memcpy(out, bytes_.data() + position, n);
    return ok_status();
  }

 private:
  std::string_view bytes_;
};

class FileSource final : public Source {
 public:
  static Result<std::unique_ptr<FileSource>> open(const std::string& path) {
    auto opened = open_snapshot_file(path);
    if (!opened.ok()) return opened.take_error();
    return std::unique_ptr<FileSource>(new FileSource(opened->fd, opened->size, path));
  }
  ~FileSource() override { ::close(fd_); }
  int64_t size() const override { return size_; }
  Status read_at(int64_t position, uint8_t* out, size_t n) override {
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::pread(fd_, out + got, n - got, position + static_cast<int64_t>(got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return r == 0 ? Error(Errc::corrupt, path_ + ": shorter than it was") : io_error("read", path_);
      got += static_cast<size_t>(r);
    }
    return ok_status();
  }

 private:
  FileSource(int fd, int64_t size, std::string path) : fd_(fd), size_(size), path_(std::move(path)) {}
  int fd_;
  int64_t size_;
  std::string path_;
};

// Walks a framed snapshot one batch at a time, checking each, and hands out the payload.
class FramedReader final : public SnapshotPayloadReader {
 public:
  FramedReader(SnapshotId id, std::unique_ptr<Source> source) : id_(id), source_(std::move(source)) {}

  Result<size_t> read(char* out, size_t max) override {
    if (failed_) return *failed_;
    size_t done = 0;
    while (done < max) {
      if (record_ < records_.size()) {
        const SharedBytes& value = *records_[record_].value;
        size_t take = std::min(max - done, value.size() - within_);
        std::memcpy(out + done, value.data() + within_, take);
        done += take;
        within_ += take;
        if (within_ == value.size()) {
          ++record_;
          within_ = 0;
        }
        continue;
      }
      if (at_end_ || done > 0) break;  // hand out what we have before reading the next batch
      Status next = next_batch();
      if (!next.ok()) {
        failed_ = next.error();
        return next.error();
      }
    }
    return done;
  }

 private:
  Status next_batch() {
    records_.clear();
    record_ = 0;
    within_ = 0;
    const int64_t size = source_->size();
    if (position_ == size) {
      if (!header_ || !footer_) return not_a_snapshot(header_ ? "no footer (truncated)" : "empty");
      at_end_ = true;
      return ok_status();
    }
    if (footer_) return not_a_snapshot("batches after the footer");
    if (size - position_ < static_cast<int64_t>(records::layout::kHeaderBytes)) return not_a_snapshot("a partial batch (truncated)");
    uint8_t prefix[12];
    FLOE_TRY(source_->read_at(position_, prefix, sizeof(prefix)));
    const uint32_t length = (uint32_t{prefix[8]} << 24) | (uint32_t{prefix[9]} << 16) | (uint32_t{prefix[10]} << 8) | prefix[11];
    const size_t total = 12 + static_cast<size_t>(length);
    if (total < records::layout::kHeaderBytes || total > FileSnapshotStore::kMaxBatchBytes) {
      return not_a_snapshot("a batch of " + std::to_string(total) + " bytes");
    }
    if (static_cast<int64_t>(total) > size - position_) return not_a_snapshot("a partial batch (truncated)");
    Bytes bytes(total);
    FLOE_TRY(source_->read_at(position_, bytes.data(), total));
    position_ += static_cast<int64_t>(total);
    records::ValidateOptions validate;  // the CRC, and exactly one whole batch
    validate.max_batch_bytes = FileSnapshotStore::kMaxBatchBytes;
    records::BatchReader reader(SharedBytes(std::move(bytes)), validate);
    auto batch = reader.next();
    if (!batch.ok()) return not_a_snapshot(batch.error().message);
    if (!*batch) return not_a_snapshot("an empty batch");
    const records::RecordBatchHeader& h = (*batch)->header();
    if (h.partition_leader_epoch != id_.epoch) return not_a_snapshot("a batch of another epoch");
    records::DecodeOptions decode;
    decode.max_decompressed_bytes = 1 << 20;  // floe writes no compressed batches
    auto recs = records::decode_records(**batch, decode);
    if (!recs.ok()) return not_a_snapshot(recs.error().message);
    if (h.is_control()) {
      if (recs->size() != 1 || !(*recs)[0].key) return not_a_snapshot("a control batch without one keyed record");
      auto key = records::decode_control_key((*recs)[0].key->span());
      if (!key.ok()) return not_a_snapshot(key.error().message);
      if (!header_) {
        if (key->type != static_cast<int16_t>(records::ControlType::snapshot_header)) return not_a_snapshot("no header");
        if (h.base_offset != id_.end_offset) return not_a_snapshot("the header names another snapshot id");
        header_ = true;
      } else if (key->type == static_cast<int16_t>(records::ControlType::snapshot_footer)) {
        footer_ = true;
      } else {
        return not_a_snapshot("unexpected control record type " + std::to_string(key->type));
      }
      return ok_status();
    }
    if (!header_) return not_a_snapshot("data before the header");
    for (const records::Record& rec : *recs) {
      if (!rec.value) return not_a_snapshot("a null data record");
    }
    records_ = std::move(*recs);
    return ok_status();
  }

  SnapshotId id_;
  std::unique_ptr<Source> source_;
  int64_t position_ = 0;
  bool header_ = false, footer_ = false, at_end_ = false;
  std::vector<records::Record> records_;  // the current data batch
  size_t record_ = 0, within_ = 0;
  std::optional<Error> failed_;
};

// Reads a whole payload through, keeping none of it: every CRC and the framing checked.
Status verify(SnapshotPayloadReader& reader) {
  std::string scratch(64 << 10, '\0');
  for (;;) {
    auto n = reader.read(scratch.data(), scratch.size());
    if (!n.ok()) return n.take_error();
    if (*n == 0) return ok_status();
  }
}

int64_t mtime_ms_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
}

}  // namespace

Result<std::string> SnapshotPayloadReader::read_all() {
  std::string out;
  char buffer[64 << 10];
  for (;;) {
    auto n = read(buffer, sizeof(buffer));
    if (!n.ok()) return n.take_error();
    if (*n == 0) return out;
    out.append(buffer, *n);
  }
}

Result<std::string> FileSnapshotStore::unframe(SnapshotId id, std::string_view file) {
  FramedReader reader(id, std::make_unique<MemorySource>(file));
  return reader.read_all();
}

FileSnapshotStore::FileSnapshotStore(std::string dir, SnapshotRetention retention)
    : dir_(std::move(dir)), retention_(std::move(retention)) {}

int64_t FileSnapshotStore::now_ms() const {
  if (retention_.clock_ms) return retention_.clock_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Result<std::unique_ptr<FileSnapshotStore>> FileSnapshotStore::open(const std::string& dir, SnapshotRetention retention) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error(Errc::io, "create " + dir + ": " + ec.message());
  std::unique_ptr<FileSnapshotStore> store(new FileSnapshotStore(dir, std::move(retention)));
  bool removed = false;
  for (const auto& item : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = item.path().filename().string();
    if (auto id = parse_name(name)) {
      store->ids_.push_back(*id);
      std::string path = store->path_of(*id);
      std::error_code size_ec;
      auto size = std::filesystem::file_size(path, size_ec);
      store->files_[id->end_offset] = FileInfo{size_ec ? 0 : static_cast<int64_t>(size), mtime_ms_of(path)};
    } else if (name.ends_with(std::string(kSuffix) + ".tmp") || name.ends_with(std::string(kSuffix) + ".part")) {
      std::filesystem::remove(item.path(), ec);  // an unfinished save or download
      removed = true;
    }
  }
  std::sort(store->ids_.begin(), store->ids_.end(),
            [](const SnapshotId& a, const SnapshotId& b) { return a.end_offset < b.end_offset; });
  if (removed) FLOE_TRY(fsync_dir(dir));
  if (!store->ids_.empty()) {
    auto reader = store->open_payload(store->ids_.back());
    Status checked = reader.ok() ? verify(**reader) : Status(reader.take_error());
    if (!checked.ok()) {
      return Error(checked.error().code, store->path_of(store->ids_.back()) + ": " + checked.error().message);
    }
  }
  FLOE_TRY(store->apply_retention());
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
  last_served_ms_[id.end_offset] = now_ms();  // being fetched: retention keeps it
  return read_range(path_of(id), position, static_cast<size_t>(max_bytes), nullptr);
}

Result<std::unique_ptr<SnapshotPayloadReader>> FileSnapshotStore::open_payload(SnapshotId id) const {
  auto source = FileSource::open(path_of(id));
  if (!source.ok()) return source.take_error();
  return std::unique_ptr<SnapshotPayloadReader>(new FramedReader(id, std::move(source.value())));
}

Result<std::string> FileSnapshotStore::load(SnapshotId id) const {
  auto reader = open_payload(id);
  if (!reader.ok()) return reader.take_error();
  return (*reader)->read_all();
}

Status FileSnapshotStore::list(SnapshotId id) {
  std::string path = path_of(id);
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec) return Error(Errc::not_found, path + ": " + ec.message());
  if (std::find(ids_.begin(), ids_.end(), id) == ids_.end()) ids_.push_back(id);
  std::sort(ids_.begin(), ids_.end(), [](const SnapshotId& a, const SnapshotId& b) { return a.end_offset < b.end_offset; });
  files_[id.end_offset] = FileInfo{static_cast<int64_t>(size), now_ms()};
  return ok_status();
}

Status FileSnapshotStore::apply_retention() {
  if (ids_.size() <= 1) return ok_status();
  const int64_t now = now_ms();
  int64_t total_bytes = 0;
  for (const SnapshotId& id : ids_) total_bytes += files_[id.end_offset].size_bytes;
  size_t count = ids_.size();
  // Oldest first, never the newest: the log start never moves back.
  for (size_t i = 0; i + 1 < ids_.size();) {
    const SnapshotId id = ids_[i];
    const FileInfo info = files_[id.end_offset];
    auto served = last_served_ms_.find(id.end_offset);
    const bool in_use = served != last_served_ms_.end() && now - served->second < retention_.in_use_ms;
    const bool expired = now - info.mtime_ms > retention_.max_age_ms;
    const bool over = total_bytes > retention_.max_bytes || count > retention_.max_count;
    if (in_use || !(expired || over)) {
      ++i;
      continue;
    }
    std::string old = path_of(id);
    if (::unlink(old.c_str()) != 0 && errno != ENOENT) return io_error("unlink", old);
    total_bytes -= info.size_bytes;
    --count;
    files_.erase(id.end_offset);
    last_served_ms_.erase(id.end_offset);
    ids_.erase(ids_.begin() + static_cast<std::ptrdiff_t>(i));
  }
  return ok_status();
}

Status FileSnapshotStore::install(SnapshotId id, const std::string& temp) {
  std::string path = path_of(id);
  if (::rename(temp.c_str(), path.c_str()) != 0) return io_error("rename", temp);
  FLOE_TRY(fsync_dir(dir_));
  FLOE_TRY(list(id));
  return apply_retention();
}

Status FileSnapshotStore::write_durable(SnapshotId id, std::string_view payload,
                                        const std::function<void()>& before_sync) const {
  std::string temp = path_of(id) + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("open", temp);
  uint64_t written = 0;  // batch by batch: the payload is never copied whole
  Status status = frame_to(id, payload, [&](std::span<const uint8_t> batch) -> Status {
    FLOE_TRY(pwrite_all(fd, batch.data(), batch.size(), written, temp));
    written += batch.size();
    return ok_status();
  });
  if (status.ok() && before_sync) before_sync();
  if (status.ok() && ::fsync(fd) != 0) status = io_error("fsync", temp);
  ::close(fd);
  std::string path = path_of(id);
  if (status.ok() && ::rename(temp.c_str(), path.c_str()) != 0) status = io_error("rename", temp);
  if (status.ok()) status = fsync_dir(dir_);
  if (!status.ok()) ::unlink(temp.c_str());  // no half-written file left behind (open() also sweeps them)
  return status;
}

Status FileSnapshotStore::add_written(SnapshotId id) {
  FLOE_TRY(list(id));
  return apply_retention();
}

Status FileSnapshotStore::save(SnapshotId id, std::string_view payload) {
  FLOE_TRY(write_durable(id, payload));
  return add_written(id);
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
  // The leader's CRCs, end to end, one batch at a time (never the whole file in memory).
  auto source = FileSource::open(temp);
  if (!source.ok()) return fail(source.take_error());
  FramedReader reader(id, std::move(source.value()));
  Status checked = verify(reader);
  if (!checked.ok()) return fail(checked.error());
  if (::fsync(partial.fd) != 0) return fail(io_error("fsync", temp));
  ::close(partial.fd);
  return install(id, temp);
}

}  // namespace floe::raft
