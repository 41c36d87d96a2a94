#include "wal/object_wal.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "common/crc32c.h"
#include "common/little_endian.h"
#include "common/log.h"
#include "objectstore/blocking.h"

namespace floe::wal {
namespace of = object_format;

// ---------------------------------------------------------------------------------------------
// Format

std::string object_format::node_prefix(std::string_view key_prefix, int32_t node_id) {
  return std::string(key_prefix) + "-" + std::to_string(node_id) + "-";
}

std::string object_format::object_key(std::string_view key_prefix, int32_t node_id, uint64_t start,
                                      uint64_t generation) {
  char digits[48];
  std::snprintf(digits, sizeof digits, "%020llu-%010llu", static_cast<unsigned long long>(start),
                static_cast<unsigned long long>(generation));
  return node_prefix(key_prefix, node_id) + digits;
}

std::string object_format::open_marker_key(std::string_view key_prefix, int32_t node_id, uint64_t generation,
                                           uint64_t start) {
  char digits[48];
  std::snprintf(digits, sizeof digits, "open-%010llu-%020llu", static_cast<unsigned long long>(generation),
                static_cast<unsigned long long>(start));
  return node_prefix(key_prefix, node_id) + digits;
}

namespace {
bool all_digits(std::string_view s, size_t n) {
  return s.size() == n && s.find_first_not_of("0123456789") == std::string_view::npos;
}
uint64_t to_u64(std::string_view s) { return std::stoull(std::string(s)); }
}  // namespace

std::optional<object_format::KeyName> object_format::parse_key_name(std::string_view name) {
  KeyName k;
  if (name.starts_with("open-")) {
    name.remove_prefix(5);
    if (name.size() != 31 || name[10] != '-' || !all_digits(name.substr(0, 10), 10) || !all_digits(name.substr(11), 20))
      return std::nullopt;
    k.open_marker = true;
    k.generation = to_u64(name.substr(0, 10));
    k.start = to_u64(name.substr(11));
    return k;
  }
  if (name.size() != 31 || name[20] != '-' || !all_digits(name.substr(0, 20), 20) || !all_digits(name.substr(21), 10))
    return std::nullopt;
  k.start = to_u64(name.substr(0, 20));
  k.generation = to_u64(name.substr(21));
  return k;
}

size_t object_format::encoded_bytes(size_t entries, size_t payload_bytes) {
  return kHeaderBytes + entries * kEntryOverheadBytes + payload_bytes;
}

Bytes object_format::encode(const Header& h, const std::vector<const Entry*>& entries) {
  size_t payload_bytes = 0;
  for (const Entry* e : entries) payload_bytes += e->payload.size();
  const size_t size = encoded_bytes(entries.size(), payload_bytes);
  Bytes out(size);
  uint8_t* p = out.data();
  le::put_u32(p, kMagic);
  le::put_u16(p + 4, kVersion);
  le::put_u16(p + 6, static_cast<uint16_t>(kHeaderBytes));
  le::put_u32(p + 8, static_cast<uint32_t>(h.node_id));
  le::put_u32(p + 12, static_cast<uint32_t>(entries.size()));
  le::put_u64(p + 16, h.start);
  le::put_u64(p + 24, h.start + size);
  le::put_u64(p + 32, h.generation);
  le::put_u32(p + 40, 0);
  le::put_u32(p + 44, crc32c({p, 44}));
  size_t at = kHeaderBytes;
  for (const Entry* e : entries) {
    uint8_t* q = p + at;
    le::put_u64(q, e->stream_id.value());
    le::put_u64(q + 8, e->epoch.value());
    le::put_u64(q + 16, static_cast<uint64_t>(e->base_offset.value()));
    le::put_u32(q + 24, static_cast<uint32_t>(e->payload.size()));
    if (!e->payload.empty()) std::memcpy(q + kEntryHeaderBytes, e->payload.data(), e->payload.size());
    const size_t n = kEntryHeaderBytes + e->payload.size();
    le::put_u32(q + n, crc32c({q, n}));
    at += n + 4;
  }
  FLOE_ASSERT(at == size);
  return out;
}

Result<of::Object> object_format::decode(const SharedBytes& body) {
  const uint8_t* p = body.data();
  const size_t size = body.size();
  if (size < kHeaderBytes)
    return Error(Errc::corrupt, "object of " + std::to_string(size) + " bytes is shorter than a header");
  if (le::get_u32(p) != kMagic) return Error(Errc::corrupt, "not a floe WAL object (bad magic)");
  if (le::get_u32(p + 44) != crc32c({p, 44})) return Error(Errc::corrupt, "header CRC mismatch");
  if (le::get_u16(p + 4) != kVersion)
    return Error(Errc::corrupt, "format version " + std::to_string(le::get_u16(p + 4)) + "; this floe reads version " +
                                    std::to_string(kVersion));
  if (le::get_u16(p + 6) != kHeaderBytes) return Error(Errc::corrupt, "unexpected header size");
  Object out;
  out.header.node_id = static_cast<int32_t>(le::get_u32(p + 8));
  out.header.count = le::get_u32(p + 12);
  out.header.start = le::get_u64(p + 16);
  out.header.end = le::get_u64(p + 24);
  out.header.generation = le::get_u64(p + 32);
  if (out.header.end < out.header.start || out.header.end - out.header.start != size)
    return Error(Errc::corrupt, "cut short or padded: header says [" + std::to_string(out.header.start) + ", " +
                                    std::to_string(out.header.end) + ") but the object has " + std::to_string(size) +
                                    " bytes");
  // Bound the allocation by what the object can hold.
  if (out.header.count > (size - kHeaderBytes) / kEntryOverheadBytes)
    return Error(Errc::corrupt, "entry count " + std::to_string(out.header.count) + " does not fit the object");
  out.entries.reserve(out.header.count);
  size_t at = kHeaderBytes;
  for (uint32_t i = 0; i < out.header.count; ++i) {
    if (size - at < kEntryOverheadBytes) return Error(Errc::corrupt, "entry " + std::to_string(i) + " is cut short");
    const uint8_t* q = p + at;
    const uint32_t n = le::get_u32(q + 24);
    if (n > size - at - kEntryOverheadBytes)
      return Error(Errc::corrupt, "entry " + std::to_string(i) + " payload of " + std::to_string(n) + " bytes is cut short");
    const size_t framed = kEntryHeaderBytes + n;
    if (le::get_u32(q + framed) != crc32c({q, framed}))
      return Error(Errc::corrupt, "entry " + std::to_string(i) + " CRC mismatch");
    out.entries.push_back(Entry{StreamId(le::get_u64(q)), StreamEpoch(le::get_u64(q + 8)),
                                Offset(static_cast<int64_t>(le::get_u64(q + 16))),
                                body.slice(at + kEntryHeaderBytes, n)});
    at += framed + 4;
  }
  if (at != size) return Error(Errc::corrupt, std::to_string(size - at) + " bytes after the last entry");
  return out;
}

// ---------------------------------------------------------------------------------------------
// The WAL

namespace {

using Clock = std::chrono::steady_clock;

struct Pending {
  Entry entry;
  AppendCallback done;
};

// One object: formed by the WAL thread in append order, put, acknowledged in order once done.
struct Put {
  std::vector<Pending> batch;
  uint64_t start = 0;
  uint64_t end = 0;
  std::string key;
  std::optional<Error> error;
  bool done = false;  // guarded by Impl::mu
};

struct Live {
  uint64_t start = 0;
  uint64_t end = 0;
  std::string key;
};

constexpr size_t kMaxQueuedEntries = 1u << 20;
constexpr size_t kRecoveryGetsInFlight = 8;

}  // namespace

struct ObjectWal::Impl {
  ObjectWalOptions opt;
  uint64_t generation = 0;  // this open's (see "Keys" in the header)

  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<Pending> queue;                // guarded by mu
  size_t queued_bytes = 0;                  // guarded by mu
  Clock::time_point first_queued_at;        // guarded by mu: when the oldest queued entry came
  std::deque<std::shared_ptr<Put>> in_flight;  // guarded by mu: formed, not acknowledged, in order
  size_t puts_running = 0;                  // guarded by mu: handed to the store, not completed
  std::deque<Live> live;                    // guarded by mu: durable objects not yet given to a delete
  std::deque<std::string> doomed;           // guarded by mu: keys to delete
  bool deleting = false;                    // guarded by mu: a delete is running
  Clock::time_point delete_not_before;      // guarded by mu: after a failed delete
  uint64_t write_end = 0;                   // guarded by mu: where the next object starts
  uint64_t end_offset = 0;                  // guarded by mu: the durable (acknowledged) end
  uint64_t trim_offset = 0;                 // guarded by mu
  bool stopping = false;                    // guarded by mu
  bool failed = false;                      // guarded by mu
  Error failure;                            // guarded by mu
  uint64_t failed_from = 0;                 // guarded by mu: objects starting here or later fail
  uint64_t appends = 0, append_bytes = 0, puts = 0, put_bytes = 0, puts_done = 0;  // guarded by mu
  std::thread thread;

  void run();
  // Objects starting at or after `from` (and everything queued) get `err`; earlier ones whose
  // puts succeed are still acknowledged.
  void mark_failed_locked(const Error& err, uint64_t from) {
    if (failed) return;
    failed = true;
    failure = err;
    failed_from = from;
    log::error("wal", "object WAL failed, refusing further appends: " + err.to_string());
  }
  // More is queued than one object holds: one can go without waiting for the linger.
  bool full_object_queued_locked() const {
    return of::encoded_bytes(queue.size(), queued_bytes) > opt.max_object_bytes;
  }
  bool may_form_locked(Clock::time_point now) const {
    if (queue.empty() || puts_running >= opt.max_puts_in_flight) return false;
    const size_t next = of::encoded_bytes(1, queue.front().entry.payload.size());
    if (write_end + next - trim_offset > opt.capacity_bytes) return false;  // invariant (2): wait for a trim
    return stopping || full_object_queued_locked() || now >= first_queued_at + std::chrono::milliseconds(opt.linger_ms);
  }
  void start_put_locked(std::unique_lock<std::mutex>& lk);
  void start_delete_locked(std::unique_lock<std::mutex>& lk);
  void acknowledge_locked(std::unique_lock<std::mutex>& lk);
};

// Takes queued entries up to max_object_bytes (at least one) as the next object and puts it.
// REQUIRES lk holds mu (released while encoding and starting the put).
void ObjectWal::Impl::start_put_locked(std::unique_lock<std::mutex>& lk) {
  auto put = std::make_shared<Put>();
  size_t payload = 0;
  while (!queue.empty()) {
    const size_t next = queue.front().entry.payload.size();
    const size_t size = of::encoded_bytes(put->batch.size() + 1, payload + next);
    if (!put->batch.empty() && (size > opt.max_object_bytes || write_end + size - trim_offset > opt.capacity_bytes)) break;
    payload += next;
    put->batch.push_back(std::move(queue.front()));
    queue.pop_front();
  }
  queued_bytes -= payload;  // what is left keeps first_queued_at: it has waited that long already
  put->start = write_end;
  put->end = write_end + of::encoded_bytes(put->batch.size(), payload);
  put->key = of::object_key(opt.key_prefix, opt.node_id, put->start, generation);
  write_end = put->end;
  in_flight.push_back(put);
  ++puts_running;
  ++puts;
  put_bytes += put->end - put->start;
  lk.unlock();

  std::vector<const Entry*> entries;
  entries.reserve(put->batch.size());
  for (const auto& p : put->batch) entries.push_back(&p.entry);
  of::Header h{opt.node_id, 0, put->start, 0, generation};
  SharedBytes body(of::encode(h, entries));
  FLOE_ASSERT(put->start + body.size() == put->end);
  opt.store->put(put->key, std::move(body), [this, put](Result<objectstore::PutResult> r) {
    std::lock_guard g(mu);
    if (!r.ok()) {
      put->error = Error(r.error().code, "WAL put " + put->key + ": " + r.error().message);
      mark_failed_locked(*put->error, put->start);
    }
    put->done = true;
    --puts_running;
    ++puts_done;
    cv.notify_all();  // under mu: close() may destroy this object as soon as mu is free
  });
  lk.lock();
}

// REQUIRES lk holds mu (released while starting the delete).
void ObjectWal::Impl::start_delete_locked(std::unique_lock<std::mutex>& lk) {
  std::vector<std::string> keys;
  while (!doomed.empty() && keys.size() < objectstore::kMaxDeleteBatch) {
    keys.push_back(std::move(doomed.front()));
    doomed.pop_front();
  }
  deleting = true;
  lk.unlock();
  auto batch = std::make_shared<std::vector<std::string>>(keys);
  opt.store->delete_keys(std::move(keys), [this, batch](Result<objectstore::DeleteResult> r) {
    std::lock_guard g(mu);
    deleting = false;
    std::vector<std::string> retry;
    if (!r.ok()) {
      log::warn("wal", "deleting " + std::to_string(batch->size()) + " trimmed WAL objects: " + r.error().to_string());
      retry = *batch;
    } else {
      for (auto& e : r->errors) {
        log::warn("wal", "deleting trimmed WAL object " + e.key + ": " + e.code + " " + e.message);
        retry.push_back(e.key);
      }
    }
    if (!retry.empty()) {
      if (stopping) {
        log::warn("wal", std::to_string(retry.size()) + " trimmed WAL objects stay behind; the next open deletes them");
      } else {
        for (auto& k : retry) doomed.push_back(std::move(k));
        delete_not_before = Clock::now() + std::chrono::milliseconds(opt.delete_retry_ms);
      }
    }
    cv.notify_all();
  });
  lk.lock();
}

// Runs the callbacks of the done prefix of in_flight, in order (contract (2)); after a failure
// every object from the failed one on gets the error even if its own put succeeded (invariant (1)).
// REQUIRES lk holds mu (released while callbacks run).
void ObjectWal::Impl::acknowledge_locked(std::unique_lock<std::mutex>& lk) {
  std::vector<std::shared_ptr<Put>> ready;
  while (!in_flight.empty() && in_flight.front()->done) {
    auto front = std::move(in_flight.front());
    in_flight.pop_front();
    if (!front->error && failed && front->start >= failed_from) front->error = failure;
    if (!front->error) {
      end_offset = front->end;
      if (front->end <= trim_offset) doomed.push_back(front->key);
      else live.push_back(Live{front->start, front->end, front->key});
    }
    ready.push_back(std::move(front));
  }
  if (ready.empty()) return;
  lk.unlock();
  for (auto& put : ready) {
    Result<Position> result = put->error ? Result<Position>(*put->error) : Result<Position>(Position{put->start, put->end});
    for (auto& p : put->batch) p.done(result);
  }
  lk.lock();
}

void ObjectWal::Impl::run() {
  std::unique_lock lk(mu);
  for (;;) {
    const auto now = Clock::now();
    if (!in_flight.empty() && in_flight.front()->done) {
      acknowledge_locked(lk);
      continue;
    }
    if (failed && !queue.empty()) {
      // Hand the queue on as one failed object behind what is in flight: callbacks stay in order.
      auto rest = std::make_shared<Put>();
      rest->error = failure;
      rest->done = true;
      for (auto& p : queue) rest->batch.push_back(std::move(p));
      queue.clear();
      queued_bytes = 0;
      in_flight.push_back(std::move(rest));
      continue;
    }
    if (stopping && !queue.empty() && puts_running == 0 && in_flight.empty() && !may_form_locked(now)) {
      // Nothing will trim any more: what cannot fit the capacity fails.
      mark_failed_locked(Error(Errc::too_large, "WAL full (s3.wal.capacity, nothing trimmed) while shutting down"), write_end);
      continue;
    }
    if (!doomed.empty() && !deleting && now >= delete_not_before) {
      start_delete_locked(lk);
      continue;
    }
    if (!failed && may_form_locked(now)) {
      start_put_locked(lk);
      continue;
    }
    if (stopping && queue.empty() && in_flight.empty() && puts_running == 0 && !deleting && doomed.empty()) break;
    // Sleep until woken (an append, a put or delete done, a trim, close) or the next deadline.
    std::optional<Clock::time_point> deadline;
    const auto linger_end = first_queued_at + std::chrono::milliseconds(opt.linger_ms);
    if (!queue.empty() && !failed && linger_end > now) deadline = linger_end;
    if (!doomed.empty() && !deleting && delete_not_before > now)
      deadline = deadline ? std::min(*deadline, delete_not_before) : delete_not_before;
    if (deadline) cv.wait_until(lk, *deadline);
    else cv.wait(lk);
  }
}

ObjectWal::ObjectWal(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ObjectWal::~ObjectWal() { close(); }

Result<ObjectWal::Opened> ObjectWal::open(const ObjectWalOptions& options) {
  FLOE_ASSERT(options.store);
  if (options.max_object_bytes < of::kHeaderBytes + of::kEntryOverheadBytes || options.max_puts_in_flight == 0)
    return Error(Errc::config, "object WAL: max object bytes and puts in flight must be positive");
  auto impl = std::make_unique<Impl>();
  impl->opt = options;

  objectstore::BlockingStore store(*options.store);
  const std::string prefix = of::node_prefix(options.key_prefix, options.node_id);
  auto listed = store.list_all(prefix);
  if (!listed.ok()) return Error(listed.error().code, "listing WAL objects " + prefix + ": " + listed.error().message);
  struct Listed {
    of::KeyName name;
    std::string key;
  };
  std::vector<Listed> objects;
  std::map<uint64_t, Listed> markers;  // by generation
  uint64_t max_generation = 0;
  for (const auto& o : *listed) {
    auto name = of::parse_key_name(std::string_view(o.key).substr(prefix.size()));
    if (!name)
      return Error(Errc::corrupt, "WAL object " + o.key + ": not a WAL key (expected " + prefix +
                                      "<start>-<generation> or " + prefix + "open-<generation>-<start>)");
    max_generation = std::max(max_generation, name->generation);
    if (name->open_marker) markers[name->generation] = Listed{*name, o.key};
    else objects.push_back(Listed{*name, o.key});
  }
  std::sort(objects.begin(), objects.end(), [](const Listed& x, const Listed& y) {
    return std::pair(x.name.start, x.name.generation) < std::pair(y.name.start, y.name.generation);
  });
  impl->generation = max_generation + 1;

  Opened opened;
  std::vector<std::string> stale;  // late puts of earlier opens, and markers nobody needs
  uint64_t prev_end = 0, first_start = 0, min_generation = impl->generation;
  bool any = false;
  // GETs run kRecoveryGetsInFlight at a time (startup time on S3 is their latency, not their
  // bytes); objects are checked in position order as they arrive.
  std::deque<std::future<Result<objectstore::GetResult>>> fetching;
  size_t next_fetch = 0;
  // On an error, the GETs still running finish first (so none outlives open()).
  auto fail = [&](Error e) {
    for (auto& f : fetching) f.wait();
    return e;
  };
  for (const auto& [name, key] : objects) {
    while (next_fetch < objects.size() && fetching.size() < kRecoveryGetsInFlight) {
      auto promise = std::make_shared<std::promise<Result<objectstore::GetResult>>>();
      fetching.push_back(promise->get_future());
      options.store->get(objects[next_fetch++].key, objectstore::ByteRange::all(),
                         [promise](Result<objectstore::GetResult> r) { promise->set_value(std::move(r)); });
    }
    auto got = fetching.front().get();
    fetching.pop_front();
    if (!got.ok()) return fail(Error(got.error().code, "reading WAL object " + key + ": " + got.error().message));
    auto object = of::decode(got->body);
    if (!object.ok()) return fail(Error(Errc::corrupt, "WAL object " + key + ": " + object.error().message));
    const of::Header& h = object->header;
    if (h.start != name.start || h.generation != name.generation)
      return fail(Error(Errc::corrupt, "WAL object " + key + ": its header says start " + std::to_string(h.start) +
                                           ", generation " + std::to_string(h.generation)));
    if (h.node_id != options.node_id)
      return fail(Error(Errc::corrupt, "WAL object " + key + ": written by node " + std::to_string(h.node_id)));
    // The first later open's marker says where that open started: this object ending after it
    // landed after that open listed, so it was never acknowledged.
    auto later = markers.upper_bound(h.generation);
    if (later != markers.end() && h.end > later->second.name.start) {
      log::warn("wal", "recovery: skipping " + key + ": a put of open " + std::to_string(h.generation) +
                           " that landed after open " + std::to_string(later->first) + " began at " +
                           std::to_string(later->second.name.start) + " (never acknowledged)");
      stale.push_back(key);
      continue;
    }
    if (any && h.start < prev_end)
      return fail(Error(Errc::corrupt, "WAL object " + key + " overlaps the object before it (which ends at " +
                                           std::to_string(prev_end) + ")"));
    if (any && h.start > prev_end)
      log::info("wal", "recovery: gap [" + std::to_string(prev_end) + ", " + std::to_string(h.start) +
                           ") before " + key + " (trimmed objects left by a cut-short delete, or a failed put)");
    if (!any) first_start = h.start;
    any = true;
    prev_end = h.end;
    min_generation = std::min(min_generation, h.generation);
    const Position pos{h.start, h.end};
    for (auto& e : object->entries) opened.recovered.push_back(RecoveredEntry{std::move(e), pos});
    impl->live.push_back(Live{h.start, h.end, key});
  }
  impl->write_end = impl->end_offset = prev_end;
  impl->trim_offset = any ? first_start : prev_end;
  // This open's marker is durable before any append can be acknowledged.
  const std::string marker = of::open_marker_key(options.key_prefix, options.node_id, impl->generation, prev_end);
  if (auto put = store.put(marker, SharedBytes()); !put.ok())
    return Error(put.error().code, "writing the WAL open marker " + marker + ": " + put.error().message);
  for (const auto& [generation, m] : markers) {
    if (generation <= min_generation) stale.push_back(m.key);  // only markers after an object's generation matter
  }
  for (size_t i = 0; i < stale.size(); i += objectstore::kMaxDeleteBatch) {
    std::vector<std::string> batch(stale.begin() + static_cast<std::ptrdiff_t>(i),
                                   stale.begin() + static_cast<std::ptrdiff_t>(std::min(stale.size(), i + objectstore::kMaxDeleteBatch)));
    if (auto d = store.delete_keys(std::move(batch)); !d.ok())
      log::warn("wal", "deleting stale WAL keys: " + d.error().to_string() + " (the next open retries)");
  }
  log::info("wal", "opened object WAL " + options.store->describe() + "/" + prefix + " as generation " +
                       std::to_string(impl->generation) + ": recovered " + std::to_string(opened.recovered.size()) +
                       " entries from " + std::to_string(impl->live.size()) +
                       " objects, positions [" + std::to_string(impl->trim_offset) + ", " + std::to_string(prev_end) + ")");
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->run(); });
  opened.wal.reset(new ObjectWal(std::move(impl)));
  return opened;
}

void ObjectWal::append(Entry entry, AppendCallback done) {
  Impl& s = *impl_;
  const size_t n = entry.payload.size();
  std::optional<Error> refuse;
  bool wake = false;
  {
    std::lock_guard lk(s.mu);
    if (s.failed) refuse = s.failure;
    else if (s.stopping) refuse = Error(Errc::io, "WAL is closed");
    else if (n > UINT32_MAX || of::encoded_bytes(1, n) > s.opt.capacity_bytes / 2)
      refuse = Error(Errc::too_large, "entry of " + std::to_string(n) + " bytes exceeds half the WAL capacity (s3.wal.capacity)");
    else if (s.queue.size() >= kMaxQueuedEntries || s.queued_bytes + n > s.opt.max_queued_bytes)
      refuse = Error(Errc::too_large, "WAL queue full (" + std::to_string(s.queued_bytes) + " bytes queued)");
    else {
      if (s.queue.empty()) {
        s.first_queued_at = Clock::now();
        wake = true;  // the thread sets its linger deadline
      }
      s.queued_bytes += n;
      ++s.appends;
      s.append_bytes += n;
      s.queue.push_back(Pending{std::move(entry), std::move(done)});
      if (s.full_object_queued_locked() || s.opt.linger_ms == 0) wake = true;
    }
  }
  if (refuse) return done(*refuse);
  if (wake) s.cv.notify_all();
}

Status ObjectWal::trim(uint64_t offset) {
  Impl& s = *impl_;
  {
    std::lock_guard lk(s.mu);
    if (offset <= s.trim_offset) return {};
    if (offset > s.end_offset)
      return Error(Errc::invalid_value, "trim to " + std::to_string(offset) + " beyond the WAL end " + std::to_string(s.end_offset));
    s.trim_offset = offset;
    while (!s.live.empty() && s.live.front().end <= offset) {
      s.doomed.push_back(std::move(s.live.front().key));
      s.live.pop_front();
    }
  }
  s.cv.notify_all();
  return {};
}

WalStats ObjectWal::stats() const {
  const Impl& s = *impl_;
  std::lock_guard lk(s.mu);
  WalStats out;
  out.appends = s.appends;
  out.append_bytes = s.append_bytes;
  out.records_written = s.puts;
  out.device_bytes_written = s.put_bytes;
  out.syncs = s.puts_done;
  out.queued_bytes = s.queued_bytes;
  out.capacity_bytes = s.opt.capacity_bytes;
  out.end_offset = s.end_offset;
  out.written_end_offset = s.write_end;
  out.trim_offset = s.trim_offset;
  out.used_bytes = s.end_offset - std::min(s.end_offset, s.trim_offset);
  return out;
}

void ObjectWal::close() {
  Impl& s = *impl_;
  {
    std::lock_guard lk(s.mu);
    s.stopping = true;
  }
  s.cv.notify_all();
  if (s.thread.joinable()) s.thread.join();
}

}  // namespace floe::wal
