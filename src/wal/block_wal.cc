#include "wal/block_wal.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "common/crc32c.h"
#include "common/little_endian.h"
#include "common/log.h"
#include "wal/block_format.h"

namespace floe::wal {
namespace bf = block_format;
namespace {

using le::get_u32;
using le::get_u64;
using le::put_u32;
using le::put_u64;

std::string errno_text(int err) { return std::string(std::strerror(err)); }

// A 4 KiB-aligned, growable buffer for O_DIRECT I/O.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer() { std::free(data_); }
  uint8_t* ensure(size_t n) {
    if (n > capacity_) {
      std::free(data_);
      data_ = nullptr;
      capacity_ = 0;
      void* p = nullptr;
      size_t want = bf::align_up(std::max(n, capacity_ * 2));
      FLOE_ASSERT_MSG(posix_memalign(&p, bf::kBlockBytes, want) == 0, "out of memory for WAL buffer");
      data_ = static_cast<uint8_t*>(p);
      capacity_ = want;
    }
    return data_;
  }
  uint8_t* data() const { return data_; }

 private:
  uint8_t* data_ = nullptr;
  size_t capacity_ = 0;
};

struct Header {
  uint64_t capacity = 0;
  uint64_t trim_offset = 0;
  int32_t node_id = 0;
  uint64_t epoch = 0;
  uint64_t sequence = 0;
};

void encode_header(const Header& h, uint8_t* block) {
  std::memset(block, 0, bf::kBlockBytes);
  put_u32(block + 0, bf::kHeaderMagic);
  put_u32(block + 4, bf::kHeaderVersion);
  put_u64(block + 8, h.capacity);
  put_u64(block + 16, h.trim_offset);
  put_u32(block + 24, static_cast<uint32_t>(h.node_id));
  put_u64(block + 32, h.epoch);
  put_u64(block + 40, h.sequence);
  put_u32(block + bf::kHeaderCrcAt, crc32c({block, bf::kHeaderCrcAt}));
}

bool decode_header(const uint8_t* block, Header* out) {
  if (get_u32(block) != bf::kHeaderMagic || get_u32(block + 4) != bf::kHeaderVersion) return false;
  if (get_u32(block + bf::kHeaderCrcAt) != crc32c({block, bf::kHeaderCrcAt})) return false;
  out->capacity = get_u64(block + 8);
  out->trim_offset = get_u64(block + 16);
  out->node_id = static_cast<int32_t>(get_u32(block + 24));
  out->epoch = get_u64(block + 32);
  out->sequence = get_u64(block + 40);
  return true;
}

void encode_record_header(uint8_t* p, uint8_t type, uint32_t body_length, uint64_t offset, uint32_t body_crc) {
  std::memset(p, 0, bf::kRecordHeaderBytes);
  put_u32(p + 0, bf::kRecordMagic);
  p[4] = type;
  put_u32(p + 8, body_length);
  put_u64(p + 12, offset);
  put_u32(p + 20, body_crc);
  put_u32(p + bf::kRecordHeaderCrcAt, crc32c({p, bf::kRecordHeaderCrcAt}));
}

struct Pending {
  Entry entry;
  AppendCallback done;
};

Status pwrite_all(int fd, const uint8_t* data, size_t n, uint64_t at) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, data, n, static_cast<off_t>(at));
    if (w < 0) {
      if (errno == EINTR) continue;
      return Error(Errc::io, "WAL write at " + std::to_string(at) + ": " + errno_text(errno));
    }
    data += w;
    n -= static_cast<size_t>(w);
    at += static_cast<uint64_t>(w);
  }
  return {};
}

Status pread_all(int fd, uint8_t* data, size_t n, uint64_t at) {
  while (n > 0) {
    ssize_t r = ::pread(fd, data, n, static_cast<off_t>(at));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Error(Errc::io, "WAL read at " + std::to_string(at) + ": " + errno_text(errno));
    }
    if (r == 0) return Error(Errc::truncated, "WAL file ends at " + std::to_string(at));
    data += r;
    n -= static_cast<size_t>(r);
    at += static_cast<uint64_t>(r);
  }
  return {};
}

}  // namespace

struct BlockWal::Impl {
  BlockWalOptions opt;
  int fd = -1;
  bool direct = false;
  Header header;  // last persisted; writer-owned after open

  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<Pending> queue;            // guarded by mu
  size_t queued_bytes = 0;              // guarded by mu
  uint64_t requested_trim = 0;          // guarded by mu
  std::deque<uint64_t> record_starts;   // guarded by mu: starts of records after the trim
  uint64_t end_offset = 0;              // guarded by mu (writer updates after each sync)
  bool stopping = false;                // guarded by mu
  bool failed = false;                  // guarded by mu
  Error failure;                        // guarded by mu

  std::atomic<uint64_t> persisted_trim{0};
  std::atomic<uint64_t> appends{0}, append_bytes{0}, records_written{0}, device_bytes{0}, syncs{0};
  std::thread writer;
  AlignedBuffer buffer;
  AlignedBuffer header_block;

  uint64_t physical(uint64_t logical) const { return bf::kRingStart + logical % header.capacity; }

  Status sync() {
    syncs.fetch_add(1, std::memory_order_relaxed);
    if (::fdatasync(fd) != 0) return Error(Errc::io, "WAL fdatasync: " + errno_text(errno));
    return {};
  }

  Status persist_header(uint64_t trim) {
    Header next = header;
    next.trim_offset = trim;
    next.sequence = header.sequence + 1;
    uint8_t* block = header_block.ensure(bf::kBlockBytes);
    encode_header(next, block);
    FLOE_TRY(pwrite_all(fd, block, bf::kBlockBytes, (next.sequence % bf::kHeaderSlotCount) * bf::kBlockBytes));
    FLOE_TRY(sync());
    header = next;
    persisted_trim.store(trim);
    return {};
  }

  void fail(Error err, std::vector<Pending>& batch) {
    std::deque<Pending> rest;
    {
      std::lock_guard lk(mu);
      failed = true;
      failure = err;
      rest.swap(queue);
      queued_bytes = 0;
    }
    log::error("wal", "WAL failed, refusing further appends: " + err.message);
    for (auto& p : batch) p.done(err);
    for (auto& p : rest) p.done(err);
    batch.clear();
  }

  void run_writer();
  Status write_batch(std::vector<Pending>& batch);
};

void BlockWal::Impl::run_writer() {
  for (;;) {
    std::vector<Pending> batch;
    uint64_t trim_target = 0;
    {
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return stopping || !queue.empty() || requested_trim > persisted_trim.load(); });
      if (failed) return;
      trim_target = requested_trim;
      // A group commit holds at most max_batch_bytes, and never more than a quarter of the ring
      // (with framing), so a record always fits; a single larger entry goes alone (append()
      // refused anything that cannot fit the ring at all).
      const uint64_t ring_share = header.capacity / 4;
      size_t payload_bytes = 0;
      uint64_t record_bytes = bf::kRecordHeaderBytes + 4;
      while (!queue.empty()) {
        const size_t next = queue.front().entry.payload.size();
        const uint64_t next_record_bytes = record_bytes + bf::kEntryHeaderBytes + next;
        if (!batch.empty() && (payload_bytes + next > opt.max_batch_bytes || next_record_bytes > ring_share)) break;
        payload_bytes += next;
        record_bytes = next_record_bytes;
        batch.push_back(std::move(queue.front()));
        queue.pop_front();
      }
      queued_bytes -= payload_bytes;
      if (batch.empty() && trim_target == persisted_trim.load() && stopping) return;
    }
    if (trim_target > persisted_trim.load()) {
      if (auto st = persist_header(trim_target); !st.ok()) return fail(st.take_error(), batch);
    }
    if (batch.empty()) continue;
    if (auto st = write_batch(batch); !st.ok()) {
      if (st.error().code == Errc::io) return fail(st.take_error(), batch);
      for (auto& p : batch) p.done(st.error());  // not an I/O failure (e.g. WAL full at shutdown)
    }
  }
}

Status BlockWal::Impl::write_batch(std::vector<Pending>& batch) {
  size_t body_bytes = 4;
  for (auto& p : batch) body_bytes += bf::kEntryHeaderBytes + p.entry.payload.size();
  const uint64_t record_bytes = bf::align_up(bf::kRecordHeaderBytes + body_bytes);
  FLOE_ASSERT(record_bytes <= header.capacity);

  uint64_t start = 0;
  {
    std::lock_guard lk(mu);
    start = end_offset;
  }
  const uint64_t tail = header.capacity - start % header.capacity;
  const uint64_t padding = record_bytes > tail ? tail : 0;

  // Invariant (1): wait until the persisted trim leaves room for padding + record.
  while (start + padding + record_bytes - persisted_trim.load() > header.capacity) {
    uint64_t trim_target = 0;
    {
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return stopping || requested_trim > persisted_trim.load(); });
      trim_target = requested_trim;
    }
    if (trim_target > persisted_trim.load()) {
      FLOE_TRY(persist_header(trim_target));
    } else {
      return Error(Errc::too_large, "WAL full (nothing trimmed) while shutting down");
    }
  }

  if (padding != 0) {
    uint8_t* block = buffer.ensure(bf::kBlockBytes);
    std::memset(block, 0, bf::kBlockBytes);
    encode_record_header(block, bf::kRecordPadding, static_cast<uint32_t>(padding - bf::kRecordHeaderBytes), start, 0);
    FLOE_TRY(pwrite_all(fd, block, bf::kBlockBytes, physical(start)));
    device_bytes.fetch_add(bf::kBlockBytes, std::memory_order_relaxed);
  }
  const uint64_t record_start = start + padding;

  uint8_t* buf = buffer.ensure(record_bytes);
  uint8_t* body = buf + bf::kRecordHeaderBytes;
  put_u32(body, static_cast<uint32_t>(batch.size()));
  size_t at = 4;
  for (auto& p : batch) {
    put_u64(body + at, p.entry.stream_id.value());
    put_u64(body + at + 8, p.entry.epoch.value());
    put_u64(body + at + 16, static_cast<uint64_t>(p.entry.base_offset.value()));
    put_u32(body + at + 24, static_cast<uint32_t>(p.entry.payload.size()));
    at += bf::kEntryHeaderBytes;
    if (!p.entry.payload.empty()) std::memcpy(body + at, p.entry.payload.data(), p.entry.payload.size());
    at += p.entry.payload.size();
  }
  FLOE_ASSERT(at == body_bytes);
  std::memset(body + body_bytes, 0, record_bytes - bf::kRecordHeaderBytes - body_bytes);
  encode_record_header(buf, bf::kRecordData, static_cast<uint32_t>(body_bytes), record_start, crc32c({body, body_bytes}));
  FLOE_TRY(pwrite_all(fd, buf, record_bytes, physical(record_start)));
  FLOE_TRY(sync());
  device_bytes.fetch_add(record_bytes, std::memory_order_relaxed);
  records_written.fetch_add(1, std::memory_order_relaxed);

  const Position pos{record_start, record_start + record_bytes};
  {
    std::lock_guard lk(mu);
    if (padding != 0) record_starts.push_back(start);
    record_starts.push_back(record_start);
    end_offset = pos.end;
  }
  // Contract (2): callbacks in append order, on this thread.
  for (auto& p : batch) p.done(pos);
  return {};
}

BlockWal::BlockWal(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

BlockWal::~BlockWal() {
  close();
  if (impl_->fd >= 0) ::close(impl_->fd);
}

namespace {

Result<std::vector<RecoveredEntry>> parse_record_body(const uint8_t* body, uint32_t body_length, Position pos) {
  ByteReader r({body, body_length});
  std::vector<RecoveredEntry> out;
  if (body_length < 4) return Error(Errc::corrupt, "WAL record body too short");
  uint32_t count = get_u32(body);
  FLOE_TRY(r.skip(4));
  if (count > body_length / bf::kEntryHeaderBytes) return Error(Errc::corrupt, "WAL record entry count too large");
  out.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    auto head = r.read_span(bf::kEntryHeaderBytes);
    if (!head.ok()) return Error(Errc::corrupt, "WAL entry header truncated");
    const uint8_t* h = head->data();
    uint32_t len = get_u32(h + 24);
    auto payload = r.read_span(len);
    if (!payload.ok()) return Error(Errc::corrupt, "WAL entry payload truncated");
    Entry e{StreamId(get_u64(h)), StreamEpoch(get_u64(h + 8)), Offset(static_cast<int64_t>(get_u64(h + 16))),
            SharedBytes::copy_of(*payload)};
    out.push_back({std::move(e), pos});
  }
  if (!r.at_end()) return Error(Errc::corrupt, "WAL record body has trailing bytes");
  return out;
}

}  // namespace

Result<BlockWal::Opened> BlockWal::open(const BlockWalOptions& options) {
  if (options.capacity_bytes < 16 * bf::kBlockBytes || options.capacity_bytes % bf::kBlockBytes != 0)
    return Error(Errc::config, "s3.wal.capacity must be a multiple of 4096 and at least 65536, got " +
                                   std::to_string(options.capacity_bytes));
  auto impl = std::make_unique<Impl>();
  impl->opt = options;
  int flags = O_RDWR | O_CREAT | O_CLOEXEC;
  int fd = -1;
  if (options.direct_io) {
    fd = ::open(options.path.c_str(), flags | O_DIRECT, 0644);
    if (fd >= 0) impl->direct = true;
    else if (errno == EINVAL)
      log::warn("wal", "O_DIRECT refused for " + options.path + " (tmpfs?); using buffered writes + fdatasync");
  }
  if (fd < 0) fd = ::open(options.path.c_str(), flags, 0644);
  if (fd < 0) return Error(Errc::io, "cannot open WAL " + options.path + ": " + errno_text(errno));
  impl->fd = fd;

  const uint64_t total = bf::kRingStart + options.capacity_bytes;
  struct stat st{};
  if (::fstat(fd, &st) != 0) return Error(Errc::io, "stat " + options.path + ": " + errno_text(errno));
  if (S_ISBLK(st.st_mode)) {
    uint64_t dev_bytes = 0;
    if (::ioctl(fd, BLKGETSIZE64, &dev_bytes) != 0) return Error(Errc::io, "BLKGETSIZE64: " + errno_text(errno));
    if (dev_bytes < total)
      return Error(Errc::config, "s3.wal.capacity " + std::to_string(options.capacity_bytes) + " does not fit device " +
                                     options.path + " (" + std::to_string(dev_bytes) + " bytes)");
  } else if (static_cast<uint64_t>(st.st_size) < total) {
    int rc = ::fallocate(fd, 0, 0, static_cast<off_t>(total));
    if (rc != 0 && (errno == EOPNOTSUPP || errno == ENOSYS)) rc = ::ftruncate(fd, static_cast<off_t>(total));
    if (rc != 0) return Error(Errc::io, "cannot preallocate WAL " + options.path + ": " + errno_text(errno));
    if (::fsync(fd) != 0) return Error(Errc::io, "fsync " + options.path + ": " + errno_text(errno));
  }

  // Header: the valid slot with the highest sequence.
  uint8_t* slots = impl->buffer.ensure(bf::kRingStart);
  FLOE_TRY(pread_all(fd, slots, bf::kRingStart, 0));
  Header best;
  bool found = false;
  for (size_t i = 0; i < bf::kHeaderSlotCount; ++i) {
    Header h;
    if (decode_header(slots + i * bf::kBlockBytes, &h) && (!found || h.sequence > best.sequence)) {
      best = h;
      found = true;
    }
  }
  if (!found) {
    bool zeros = std::all_of(slots, slots + bf::kRingStart, [](uint8_t b) { return b == 0; });
    if (!zeros) return Error(Errc::corrupt, options.path + " is not a floe WAL (no valid header); refusing to overwrite it");
    best = Header{options.capacity_bytes, 0, options.node_id, 0, 0};
  }
  if (best.capacity != options.capacity_bytes)
    return Error(Errc::config, "s3.wal.capacity is " + std::to_string(options.capacity_bytes) + " but the WAL at " +
                                   options.path + " was created with " + std::to_string(best.capacity));
  if (found && best.node_id != options.node_id)
    log::warn("wal", "WAL " + options.path + " was written by node " + std::to_string(best.node_id) +
                         "; this is node " + std::to_string(options.node_id));
  impl->header = best;
  impl->header.node_id = options.node_id;
  impl->header.epoch = best.epoch + 1;

  // Recovery: walk records from the persisted trim.
  Opened opened;
  uint64_t offset = best.trim_offset;
  std::deque<uint64_t> starts;
  for (;;) {
    if (offset - best.trim_offset >= best.capacity) break;  // a whole lap: never more
    uint64_t phys = impl->physical(offset);
    uint8_t* block = impl->buffer.ensure(bf::kBlockBytes);
    FLOE_TRY(pread_all(fd, block, bf::kBlockBytes, phys));
    if (get_u32(block) != bf::kRecordMagic) break;
    if (get_u32(block + bf::kRecordHeaderCrcAt) != crc32c({block, bf::kRecordHeaderCrcAt})) break;
    if (get_u64(block + 12) != offset) break;  // stale record from an earlier lap
    uint8_t type = block[4];
    uint32_t body_length = get_u32(block + 8);
    uint64_t tail = best.capacity - offset % best.capacity;
    if (type == bf::kRecordPadding) {
      if (bf::kRecordHeaderBytes + uint64_t{body_length} != tail) break;
      starts.push_back(offset);
      offset += tail;
      continue;
    }
    if (type != bf::kRecordData) break;
    uint64_t record_bytes = bf::align_up(bf::kRecordHeaderBytes + uint64_t{body_length});
    if (record_bytes > tail) break;
    uint8_t* rec = impl->buffer.ensure(record_bytes);
    FLOE_TRY(pread_all(fd, rec, record_bytes, phys));
    const uint8_t* body = rec + bf::kRecordHeaderBytes;
    if (get_u32(rec + 20) != crc32c({body, body_length})) break;  // torn: never acknowledged
    auto entries = parse_record_body(body, body_length, Position{offset, offset + record_bytes});
    if (!entries.ok()) return Error(Errc::corrupt, "WAL record at " + std::to_string(offset) + " passed its CRC but " +
                                                       entries.error().message);
    for (auto& e : *entries) opened.recovered.push_back(std::move(e));
    starts.push_back(offset);
    offset += record_bytes;
  }
  impl->end_offset = offset;
  impl->record_starts = std::move(starts);
  impl->requested_trim = best.trim_offset;
  impl->persisted_trim.store(best.trim_offset);
  // Persist the new open epoch (and initialize a new WAL) before accepting appends.
  FLOE_TRY(impl->persist_header(best.trim_offset));
  log::info("wal", "opened " + options.path + (impl->direct ? " (O_DIRECT)" : " (buffered)") + ": capacity " +
                       std::to_string(best.capacity) + ", recovered " + std::to_string(opened.recovered.size()) +
                       " entries in [" + std::to_string(best.trim_offset) + ", " + std::to_string(offset) + ")");

  Impl* raw = impl.get();
  impl->writer = std::thread([raw] { raw->run_writer(); });
  opened.wal.reset(new BlockWal(std::move(impl)));
  return opened;
}

void BlockWal::append(Entry entry, AppendCallback done) {
  Impl& s = *impl_;
  const uint64_t need = bf::align_up(bf::kRecordHeaderBytes + 4 + bf::kEntryHeaderBytes + entry.payload.size());
  std::optional<Error> refuse;
  {
    std::lock_guard lk(s.mu);
    if (s.failed) refuse = s.failure;
    else if (s.stopping) refuse = Error(Errc::io, "WAL is closed");
    else if (need > s.opt.capacity_bytes || entry.payload.size() > UINT32_MAX)
      refuse = Error(Errc::too_large, "entry of " + std::to_string(entry.payload.size()) + " bytes exceeds the WAL capacity");
    else if (s.queued_bytes + entry.payload.size() > s.opt.max_queued_bytes)
      refuse = Error(Errc::too_large, "WAL queue full (" + std::to_string(s.queued_bytes) + " bytes queued)");
    else {
      s.queued_bytes += entry.payload.size();
      s.appends.fetch_add(1, std::memory_order_relaxed);
      s.append_bytes.fetch_add(entry.payload.size(), std::memory_order_relaxed);
      s.queue.push_back(Pending{std::move(entry), std::move(done)});
    }
  }
  if (refuse) return done(*refuse);
  s.cv.notify_one();
}

Status BlockWal::trim(uint64_t offset) {
  Impl& s = *impl_;
  {
    std::lock_guard lk(s.mu);
    if (offset <= s.requested_trim) return {};
    if (offset > s.end_offset)
      return Error(Errc::invalid_value, "trim to " + std::to_string(offset) + " beyond the WAL end " + std::to_string(s.end_offset));
    while (!s.record_starts.empty() && s.record_starts.front() < offset) s.record_starts.pop_front();
    // Only a record boundary is a place recovery can start from.
    if (offset != s.end_offset && (s.record_starts.empty() || s.record_starts.front() != offset))
      return Error(Errc::invalid_value, "trim to " + std::to_string(offset) + " is not a record boundary");
    s.requested_trim = offset;
  }
  s.cv.notify_one();
  return {};
}

WalStats BlockWal::stats() const {
  const Impl& s = *impl_;
  WalStats out;
  std::lock_guard lk(s.mu);
  out.appends = s.appends.load();
  out.append_bytes = s.append_bytes.load();
  out.records_written = s.records_written.load();
  out.device_bytes_written = s.device_bytes.load();
  out.syncs = s.syncs.load();
  out.queued_bytes = s.queued_bytes;
  out.capacity_bytes = s.opt.capacity_bytes;
  out.end_offset = s.end_offset;
  out.trim_offset = s.persisted_trim.load();
  out.used_bytes = s.end_offset - out.trim_offset;
  return out;
}

void BlockWal::close() {
  Impl& s = *impl_;
  {
    std::lock_guard lk(s.mu);
    if (s.stopping) {
      if (!s.writer.joinable()) return;
    }
    s.stopping = true;
  }
  s.cv.notify_all();
  if (s.writer.joinable()) s.writer.join();
}

bool BlockWal::using_direct_io() const { return impl_->direct; }

}  // namespace floe::wal
