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
#include "common/file_io.h"
#include "common/little_endian.h"
#include "common/log.h"
#include "wal/aligned_buffer.h"
#include "wal/block_format.h"
#include "wal/scan.h"

namespace floe::wal {
namespace bf = block_format;
namespace {

using le::put_u32;
using le::put_u64;

std::string errno_text(int err) { return std::string(std::strerror(err)); }

void encode_record_header(uint8_t* p, uint8_t type, uint32_t body_length, uint64_t offset, uint32_t body_crc,
                          uint64_t epoch) {
  std::memset(p, 0, bf::kRecordHeaderBytes);
  put_u32(p + 0, bf::kRecordMagic);
  p[4] = type;
  put_u32(p + 8, body_length);
  put_u64(p + 12, offset);
  put_u32(p + 20, body_crc);
  put_u64(p + 24, epoch);
  put_u32(p + bf::kRecordHeaderCrcAt, crc32c({p, bf::kRecordHeaderCrcAt}));
}

struct Pending {
  Entry entry;
  AppendCallback done;
};

}  // namespace

// A group commit: placed in the ring by one worker (in append order, under place_mu), then
// framed, copied and checksummed into its buffer, written and fdatasynced by the same worker
// while the other worker may be doing the same for the next group. Acknowledged in ring order
// once it and every group before it are done. A group that failed before it was written carries
// `error` (and may hold no buffer).
struct Group {
  std::vector<Pending> batch;
  std::optional<Error> error;
  std::optional<uint64_t> padding_start;  // a padding record written before this one
  uint64_t record_start = 0;
  uint64_t end = 0;
  uint64_t epoch = 0;
  size_t payload_bytes = 0;  // of its entries; set before it enters in_flight
  int buffer = -1;    // index into Impl::buffers while the group holds one
  bool done = false;  // guarded by Impl::mu: written and synced (or failed)
};

// Bound on queued entries, whatever their size (max_queued_bytes bounds their payload bytes).
constexpr size_t kMaxQueuedEntries = 1u << 20;

// A second group commit is formed while a large one is in flight only from at least this many
// queued payload bytes; while only small groups (less than this in all) are in flight, at once
// (see worth_a_group_locked).
constexpr size_t kSecondGroupMinBytes = 256u << 10;

// Workers, aligned buffers and so group commits in flight (placed but not yet acknowledged).
constexpr int kWorkers = 2;
constexpr int kBuffers = 2;

struct BlockWal::Impl {
  BlockWalOptions opt;
  int fd = -1;
  bool direct = false;
  WalHeader header;  // last persisted; guarded by place_mu after open
  uint64_t capacity = 0;    // set by open, then constant (= header.capacity_bytes)
  uint64_t open_epoch = 0;  // set by open, then constant: the epoch every record of this open carries

  // Lock order: place_mu, then mu. place_mu serializes taking a batch from the queue and placing
  // it in the ring (and persisting trims), so groups are placed in append order.
  std::mutex place_mu;
  mutable std::mutex mu;
  std::condition_variable cv;  // wakes workers (and close)
  std::deque<Pending> queue;            // guarded by mu
  size_t queued_bytes = 0;              // guarded by mu
  uint64_t requested_trim = 0;          // guarded by mu
  uint64_t requested_trim_epoch = 0;    // guarded by mu: the epoch of the record at requested_trim
  std::deque<std::pair<uint64_t, uint64_t>> record_starts;  // guarded by mu: (start, epoch) of durable records after the trim
  uint64_t end_offset = 0;              // guarded by mu: the durable end (acknowledged groups)
  std::deque<std::shared_ptr<Group>> in_flight;  // guarded by mu: placed, not yet acknowledged, in ring order
  bool buffer_busy[kBuffers] = {};      // guarded by mu
  bool acking = false;                  // guarded by mu: a worker is running callbacks
  bool stopping = false;                // guarded by mu
  bool failed = false;                  // guarded by mu
  Error failure;                        // guarded by mu

  uint64_t write_end = 0;  // guarded by place_mu: where the next record goes
  std::atomic<uint64_t> written_end{0};
  std::atomic<uint64_t> persisted_trim{0};
  std::atomic<uint64_t> appends{0}, append_bytes{0}, records_written{0}, device_bytes{0}, syncs{0};
  std::vector<std::thread> workers;
  AlignedBuffer buffers[kBuffers];  // a group's buffer is touched only by the worker that placed it
  AlignedBuffer padding_block;      // guarded by place_mu
  AlignedBuffer header_block;       // guarded by place_mu (and open)

  ~Impl() {
    if (fd >= 0) ::close(fd);  // also on every error return of open()
  }

  uint64_t physical(uint64_t logical) const { return bf::kRingStart + logical % capacity; }

  Status sync() {
    syncs.fetch_add(1, std::memory_order_relaxed);
    if (::fdatasync(fd) != 0) return Error(Errc::io, "WAL fdatasync: " + errno_text(errno));
    return {};
  }

  // REQUIRES place_mu held (or open()).
  Status persist_header(uint64_t trim, uint64_t trim_epoch) {
    WalHeader next = header;
    next.trim_offset = trim;
    next.trim_epoch = trim_epoch;
    next.sequence = header.sequence + 1;
    uint8_t* block = header_block.ensure(bf::kBlockBytes);
    encode_header(next, block);
    FLOE_TRY(pwrite_all(fd, block, bf::kBlockBytes, (next.sequence % bf::kHeaderSlotCount) * bf::kBlockBytes, opt.path));
    FLOE_TRY(sync());
    header = next;
    persisted_trim.store(trim);
    return {};
  }

  // REQUIRES mu held. Marks the WAL failed: later groups and queued appends get the error.
  void mark_failed_locked(const Error& err) {
    if (failed) return;
    failed = true;
    failure = err;
    if (err.code == Errc::io) log::error("wal", "WAL failed, refusing further appends: " + err.message);
    else log::warn("wal", "WAL refusing further appends: " + err.message);
  }

  // REQUIRES place_mu and mu held. Hands everything queued on as one failed group, behind what
  // is placed, so callbacks still run in append order.
  void fail_queue_locked() {
    if (queue.empty()) return;
    auto rest = std::make_shared<Group>();
    rest->error = failure;
    rest->done = true;
    for (auto& p : queue) rest->batch.push_back(std::move(p));
    queue.clear();
    queued_bytes = 0;
    in_flight.push_back(std::move(rest));
  }

  // REQUIRES mu held. A free buffer (one exists whenever in_flight holds fewer than kBuffers
  // groups with buffers).
  int take_buffer_locked() {
    for (int i = 0; i < kBuffers; ++i)
      if (!buffer_busy[i]) {
        buffer_busy[i] = true;
        return i;
      }
    FLOE_ASSERT_MSG(false, "no free WAL buffer");
    return -1;
  }
  // REQUIRES mu held. Whether a free worker should form a group now: always when nothing is in
  // flight, or when what is in flight is small (the latency path: at a moderate rate an append
  // that arrives during a small group's fdatasync gets its own write and fdatasync at once
  // instead of waiting for that one to finish first, up to two syncs); while a large group is
  // in the device (under load), only once enough is queued to be worth a device write of its own
  // (else it waits for that group to finish and then takes everything queued meanwhile: group
  // commits stay large under load).
  bool worth_a_group_locked() const {
    if (queue.empty() || !buffer_free_locked()) return false;
    if (in_flight.empty() || stopping || queued_bytes >= kSecondGroupMinBytes) return true;
    size_t in_flight_bytes = 0;
    for (const auto& g : in_flight) in_flight_bytes += g->payload_bytes;
    return in_flight_bytes < kSecondGroupMinBytes;
  }
  bool buffer_free_locked() const {
    for (int i = 0; i < kBuffers; ++i)
      if (!buffer_busy[i]) return true;
    return false;
  }

  void run_worker();
  Status place(std::vector<Pending>& batch, Group& out);
  void fill(Group& g);
  void finish(const std::shared_ptr<Group>& g, Status st);
  void acknowledge_locked(std::unique_lock<std::mutex>& lk);
};

void BlockWal::Impl::run_worker() {
  for (;;) {
    std::shared_ptr<Group> g;
    {
      std::lock_guard place_lock(place_mu);
      std::vector<Pending> batch;
      uint64_t trim_target = 0, trim_epoch = 0;
      {
        std::unique_lock lk(mu);
        cv.wait(lk, [&] {
          return failed || requested_trim > persisted_trim.load() || worth_a_group_locked() ||
                 (stopping && queue.empty());
        });
        if (failed) {
          fail_queue_locked();
          acknowledge_locked(lk);  // the handed-on group may be first in line
        } else {
          trim_target = requested_trim;
          trim_epoch = requested_trim_epoch;
          // A group commit holds at most max_batch_bytes, and never more than a quarter of the ring
          // (with framing), so a record always fits; a single larger entry goes alone (append()
          // refused anything that cannot fit the ring at all).
          const uint64_t ring_share = capacity / 4;
          size_t payload_bytes = 0;
          uint64_t record_bytes = bf::kRecordHeaderBytes + 4;
          while (!queue.empty() && buffer_free_locked()) {
            const size_t next = queue.front().entry.payload.size();
            const uint64_t next_record_bytes = record_bytes + bf::kEntryHeaderBytes + next;
            if (!batch.empty() && (payload_bytes + next > opt.max_batch_bytes || next_record_bytes > ring_share)) break;
            payload_bytes += next;
            record_bytes = next_record_bytes;
            batch.push_back(std::move(queue.front()));
            queue.pop_front();
          }
          queued_bytes -= payload_bytes;
          if (!batch.empty()) {
            g = std::make_shared<Group>();
            g->payload_bytes = payload_bytes;
            g->buffer = take_buffer_locked();
            in_flight.push_back(g);  // placed in append order: place_mu is held until placement ends
          }
        }
        if (!g && trim_target <= persisted_trim.load() && (failed || (stopping && queue.empty()))) break;
      }
      cv.notify_all();  // the other worker may take the next batch once placement ends
      if (trim_target > persisted_trim.load()) {
        if (auto st = persist_header(trim_target, trim_epoch); !st.ok()) {
          std::lock_guard lk(mu);
          mark_failed_locked(st.error());
        }
      }
      if (g) {
        g->batch = std::move(batch);
        std::optional<Error> already_failed;
        {
          std::lock_guard lk(mu);
          if (failed) already_failed = failure;
        }
        Status placed = already_failed ? Status(*already_failed) : place(g->batch, *g);
        if (!placed.ok()) {
          g->error = placed.error();
          std::lock_guard lk(mu);
          // An I/O error fails the WAL here; any other error (the ring full at shutdown) fails the
          // WAL when finish() sees it, so nothing after this group is acknowledged either.
          if (placed.error().code == Errc::io) mark_failed_locked(placed.error());
        }
      }
    }
    if (!g) continue;
    if (g->error) {
      finish(g, *g->error);
      continue;
    }
    fill(*g);
    Status st = pwrite_all(fd, buffers[g->buffer].data(), g->end - g->record_start, physical(g->record_start), opt.path);
    if (st.ok()) {
      device_bytes.fetch_add(g->end - g->record_start, std::memory_order_relaxed);
      records_written.fetch_add(1, std::memory_order_relaxed);
      uint64_t seen = written_end.load();
      while (seen < g->end && !written_end.compare_exchange_weak(seen, g->end)) {
      }
      if (opt.sync_hook_for_test) st = opt.sync_hook_for_test(false);
      if (st.ok()) st = sync();
      if (opt.sync_hook_for_test) (void)opt.sync_hook_for_test(true);
    }
    finish(g, st);
  }
  cv.notify_all();
}

// Marks `g` done with `st`, then acknowledges the done prefix of in_flight in ring order
// (contract (2)): one worker at a time runs callbacks; a worker that finds another acking leaves
// its done group for it. After a failure, every later group is acknowledged with the error,
// even if its own write and sync succeeded.
void BlockWal::Impl::finish(const std::shared_ptr<Group>& g, Status st) {
  std::unique_lock lk(mu);
  if (!st.ok()) {
    if (!g->error) g->error = st.error();
    mark_failed_locked(st.error());
  }
  g->done = true;
  acknowledge_locked(lk);
}

// REQUIRES lk holds mu (released while callbacks run, held again on return).
void BlockWal::Impl::acknowledge_locked(std::unique_lock<std::mutex>& lk) {
  if (acking) return;  // the worker acking now will find what is done
  acking = true;
  for (;;) {
    std::vector<std::shared_ptr<Group>> ready;
    while (!in_flight.empty() && in_flight.front()->done) {
      std::shared_ptr<Group> front = std::move(in_flight.front());
      in_flight.pop_front();
      if (!front->error && failed) front->error = failure;  // nothing is acknowledged after a failure
      if (!front->error) {
        if (front->padding_start) record_starts.emplace_back(*front->padding_start, front->epoch);
        record_starts.emplace_back(front->record_start, front->epoch);
        end_offset = front->end;
      }
      if (front->buffer >= 0) buffer_busy[front->buffer] = false;
      ready.push_back(std::move(front));
    }
    if (ready.empty()) break;
    lk.unlock();
    cv.notify_all();
    for (auto& r : ready) {
      Result<Position> result =
          r->error ? Result<Position>(*r->error) : Result<Position>(Position{r->record_start, r->end});
      for (auto& p : r->batch) p.done(result);
    }
    lk.lock();
  }
  acking = false;
  cv.notify_all();
}

// Places the group in the ring: waits for a persisted trim if the ring is full, writes a padding
// record where it wraps, and fixes the record's position. REQUIRES place_mu held.
Status BlockWal::Impl::place(std::vector<Pending>& batch, Group& out) {
  size_t body_bytes = 4;
  for (auto& p : batch) body_bytes += bf::kEntryHeaderBytes + p.entry.payload.size();
  const uint64_t record_bytes = bf::align_up(bf::kRecordHeaderBytes + body_bytes);
  FLOE_ASSERT(record_bytes <= capacity);

  const uint64_t start = write_end;
  const uint64_t tail = capacity - start % capacity;
  const uint64_t padding = record_bytes > tail ? tail : 0;

  // Invariant (1): wait until the persisted trim leaves room for padding + record.
  while (start + padding + record_bytes - persisted_trim.load() > capacity) {
    uint64_t trim_target = 0, trim_epoch = 0;
    {
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return stopping || failed || requested_trim > persisted_trim.load(); });
      if (failed) return failure;
      trim_target = requested_trim;
      trim_epoch = requested_trim_epoch;
    }
    if (trim_target > persisted_trim.load()) {
      FLOE_TRY(persist_header(trim_target, trim_epoch));
    } else {
      return Error(Errc::too_large, "WAL full (nothing trimmed) while shutting down");
    }
  }

  if (padding != 0) {
    // Written now, before the record: the fdatasync that covers the record (issued after its
    // write, which comes after this one) covers the padding too.
    uint8_t* block = padding_block.ensure(bf::kBlockBytes);
    std::memset(block, 0, bf::kBlockBytes);
    encode_record_header(block, bf::kRecordPadding, static_cast<uint32_t>(padding - bf::kRecordHeaderBytes), start,
                         0, open_epoch);
    FLOE_TRY(pwrite_all(fd, block, bf::kBlockBytes, physical(start), opt.path));
    device_bytes.fetch_add(bf::kBlockBytes, std::memory_order_relaxed);
    out.padding_start = start;
  }
  out.record_start = start + padding;
  out.end = out.record_start + record_bytes;
  out.epoch = open_epoch;
  write_end = out.end;
  return {};
}

// Copies `n` bytes to `dst` and extends `crc` over them, a cache-sized piece at a time: each
// piece is checksummed right after it is copied, while it is still in the core's cache, instead
// of re-reading the whole group (megabytes, out of cache) for one CRC at the end. Measured on
// this machine's CPU: the CRC pass over a 4 MiB group read back from memory cost as much as the
// copy itself; over a piece just copied it costs a fraction of that.
namespace {
uint32_t copy_and_crc(uint8_t* dst, const uint8_t* src, size_t n, uint32_t crc) {
  constexpr size_t kPieceBytes = 64u << 10;  // well inside L2
  while (n > 0) {
    const size_t piece = std::min(n, kPieceBytes);
    std::memcpy(dst, src, piece);
    crc = crc32c_extend(crc, {dst, piece});
    dst += piece;
    src += piece;
    n -= piece;
  }
  return crc;
}
}  // namespace

// Frames, copies and checksums a placed group into its buffer (no lock: the buffer is the group's).
void BlockWal::Impl::fill(Group& g) {
  const uint64_t record_bytes = g.end - g.record_start;
  uint8_t* buf = buffers[g.buffer].ensure(record_bytes);
  uint8_t* body = buf + bf::kRecordHeaderBytes;
  put_u32(body, static_cast<uint32_t>(g.batch.size()));
  uint32_t body_crc = crc32c({body, 4});
  size_t at = 4;
  for (auto& p : g.batch) {
    uint8_t* h = body + at;
    put_u64(h, p.entry.stream_id.value());
    put_u64(h + 8, p.entry.epoch.value());
    put_u64(h + 16, static_cast<uint64_t>(p.entry.base_offset.value()));
    put_u32(h + 24, static_cast<uint32_t>(p.entry.payload.size()));
    body_crc = crc32c_extend(body_crc, {h, bf::kEntryHeaderBytes});
    at += bf::kEntryHeaderBytes;
    if (!p.entry.payload.empty()) body_crc = copy_and_crc(body + at, p.entry.payload.data(), p.entry.payload.size(), body_crc);
    at += p.entry.payload.size();
  }
  const size_t body_bytes = at;
  FLOE_ASSERT(bf::align_up(bf::kRecordHeaderBytes + body_bytes) == record_bytes);
  std::memset(body + body_bytes, 0, record_bytes - bf::kRecordHeaderBytes - body_bytes);
  encode_record_header(buf, bf::kRecordData, static_cast<uint32_t>(body_bytes), g.record_start, body_crc, open_epoch);
}

BlockWal::BlockWal(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

BlockWal::~BlockWal() { close(); }

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
  auto slots = read_headers(fd);
  if (!slots.ok()) return slots.take_error();
  WalHeader best;
  const bool found = slots->best.has_value();
  if (found) {
    best = *slots->best;
  } else {
    for (const auto& slot : slots->slots)
      if (slot.magic_ok && slot.version != bf::kHeaderVersion)
        return Error(Errc::corrupt, "WAL " + options.path + " has format version " + std::to_string(slot.version) +
                                        "; this floe reads only version " + std::to_string(bf::kHeaderVersion) +
                                        " (no upgrade path: remove the file or device contents to re-create it)");
    if (!slots->all_zero) return Error(Errc::corrupt, options.path + " is not a floe WAL (no valid header); refusing to overwrite it");
    best = WalHeader{options.capacity_bytes, 0, options.node_id, 0, 0, 0};
  }
  if (best.capacity_bytes != options.capacity_bytes)
    return Error(Errc::config, "s3.wal.capacity is " + std::to_string(options.capacity_bytes) + " but the WAL at " +
                                   options.path + " was created with " + std::to_string(best.capacity_bytes));
  if (found && best.node_id != options.node_id)
    log::warn("wal", "WAL " + options.path + " was written by node " + std::to_string(best.node_id) +
                         "; this is node " + std::to_string(options.node_id));
  impl->header = best;
  impl->capacity = best.capacity_bytes;
  impl->header.node_id = options.node_id;
  impl->header.epoch = best.epoch + 1;
  impl->open_epoch = impl->header.epoch;

  // Recovery: the shared read-only walk (scan.h) from the persisted trim.
  Opened opened;
  std::deque<std::pair<uint64_t, uint64_t>> starts;
  auto scanned = scan_records(fd, best, [&](const ScannedRecord& rec) -> Status {
    starts.emplace_back(rec.offset, rec.epoch);
    if (rec.type != bf::kRecordData) return {};
    auto entries = parse_entries(rec.body);
    if (!entries.ok())
      return Error(Errc::corrupt, "WAL record at " + std::to_string(rec.offset) + " passed its CRC but " +
                                      entries.error().message);
    const Position pos{rec.offset, rec.offset + rec.record_bytes};
    for (const auto& e : *entries)
      opened.recovered.push_back({Entry{e.stream_id, e.epoch, e.base_offset, SharedBytes::copy_of(e.payload)}, pos});
    return {};
  });
  if (!scanned.ok()) return scanned.take_error();
  const uint64_t offset = scanned->end_offset;
  if (scanned->stop != ScanStop::no_record)
    log::info("wal", "log ends at " + std::to_string(offset) + ": " + scan_stop_text(scanned->stop));
  impl->end_offset = offset;
  impl->write_end = offset;
  impl->written_end.store(offset);
  impl->record_starts = std::move(starts);
  impl->requested_trim = best.trim_offset;
  impl->requested_trim_epoch = best.trim_epoch;
  impl->persisted_trim.store(best.trim_offset);
  // Persist the new open epoch (and initialize a new WAL) before accepting appends: every record
  // written from now on carries it (block_format.h, "Why epochs").
  FLOE_TRY(impl->persist_header(best.trim_offset, best.trim_epoch));
  log::info("wal", "opened " + options.path + (impl->direct ? " (O_DIRECT)" : " (buffered)") + ": capacity " +
                       std::to_string(best.capacity_bytes) + ", recovered " + std::to_string(opened.recovered.size()) +
                       " entries in [" + std::to_string(best.trim_offset) + ", " + std::to_string(offset) + ")");

  Impl* raw = impl.get();
  for (int i = 0; i < kWorkers; ++i) impl->workers.emplace_back([raw] { raw->run_worker(); });
  opened.wal.reset(new BlockWal(std::move(impl)));
  return opened;
}

void BlockWal::append(Entry entry, AppendCallback done) {
  Impl& s = *impl_;
  const uint64_t need = bf::align_up(bf::kRecordHeaderBytes + 4 + bf::kEntryHeaderBytes + entry.payload.size());
  std::optional<Error> refuse;
  bool wake = false;
  {
    std::lock_guard lk(s.mu);
    if (s.failed) refuse = s.failure;
    else if (s.stopping) refuse = Error(Errc::io, "WAL is closed");
    else if (need > s.opt.capacity_bytes / 2 || entry.payload.size() > UINT32_MAX)
      // Half the ring at most: with padding at the wrap, a larger record may never fit.
      refuse = Error(Errc::too_large, "entry of " + std::to_string(entry.payload.size()) +
                                          " bytes exceeds half the WAL capacity (s3.wal.capacity)");
    else if (s.queue.size() >= kMaxQueuedEntries)
      refuse = Error(Errc::too_large, "WAL queue full (" + std::to_string(s.queue.size()) + " entries queued)");
    else if (s.queued_bytes + entry.payload.size() > s.opt.max_queued_bytes)
      refuse = Error(Errc::too_large, "WAL queue full (" + std::to_string(s.queued_bytes) + " bytes queued)");
    else {
      s.queued_bytes += entry.payload.size();
      s.appends.fetch_add(1, std::memory_order_relaxed);
      s.append_bytes.fetch_add(entry.payload.size(), std::memory_order_relaxed);
      s.queue.push_back(Pending{std::move(entry), std::move(done)});
      // Wake a worker only if this append lets one form a group: while a large group is in the
      // device and less than kSecondGroupMinBytes is queued, the workers wait for that group's
      // acknowledgement (which wakes them), and waking one per append only to find it must wait
      // again costs two context switches per append.
      wake = s.worth_a_group_locked();
    }
  }
  if (refuse) return done(*refuse);
  if (wake) s.cv.notify_one();
}

Status BlockWal::trim(uint64_t offset) {
  Impl& s = *impl_;
  {
    std::lock_guard lk(s.mu);
    if (offset <= s.requested_trim) return {};
    if (offset > s.end_offset)
      return Error(Errc::invalid_value, "trim to " + std::to_string(offset) + " beyond the WAL end " + std::to_string(s.end_offset));
    while (!s.record_starts.empty() && s.record_starts.front().first < offset) s.record_starts.pop_front();
    // Only a record boundary is a place recovery can start from.
    const bool at_record = !s.record_starts.empty() && s.record_starts.front().first == offset;
    if (offset != s.end_offset && !at_record)
      return Error(Errc::invalid_value, "trim to " + std::to_string(offset) + " is not a record boundary");
    s.requested_trim = offset;
    // The record recovery will meet first: the durable one there, or the next one this open writes.
    s.requested_trim_epoch = at_record ? s.record_starts.front().second : s.open_epoch;
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
  out.written_end_offset = s.written_end.load();
  out.trim_offset = s.persisted_trim.load();
  out.used_bytes = s.end_offset - out.trim_offset;
  return out;
}

void BlockWal::close() {
  Impl& s = *impl_;
  {
    std::lock_guard lk(s.mu);
    s.stopping = true;
  }
  s.cv.notify_all();
  for (auto& w : s.workers)
    if (w.joinable()) w.join();
}

bool BlockWal::using_direct_io() const { return impl_->direct; }

}  // namespace floe::wal
