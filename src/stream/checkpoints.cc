#include "stream/checkpoints.h"

#include <algorithm>
#include <cstdio>

#include "common/crc32c.h"
#include "common/log.h"

namespace floe::stream {

namespace {
constexpr uint8_t kMagic[4] = {'F', 'L', 'C', 'K'};
constexpr uint16_t kVersion = 1;
constexpr size_t kHeaderBytes = 4 + 2 + 8 + 8 + 4 + 4;
constexpr std::string_view kRoot = "checkpoints/";

std::string padded(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(v));
  return buf;
}
}  // namespace

StreamCheckpoints::StreamCheckpoints(std::shared_ptr<objectstore::ObjectStore> store, CheckpointOptions options)
    : store_(std::move(store)), options_(options) {
  FLOE_ASSERT(store_ && options_.keep >= 1);
}

StreamCheckpoints::~StreamCheckpoints() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [this] { return in_flight_ == 0; });
}

template <typename Callback>
Callback StreamCheckpoints::tracked(Callback done) {
  {
    std::lock_guard lock(mu_);
    ++in_flight_;
  }
  return [this, done = std::move(done)](auto result) {
    done(std::move(result));
    std::lock_guard lock(mu_);  // notified under the lock: the destructor cannot pass before
    --in_flight_;
    idle_cv_.notify_all();
  };
}

std::string StreamCheckpoints::prefix(StreamId stream) { return std::string(kRoot) + padded(stream.value()) + "/"; }

std::string StreamCheckpoints::key(StreamId stream, int64_t offset) {
  FLOE_ASSERT(offset >= 0);
  return prefix(stream) + padded(static_cast<uint64_t>(offset));
}

Bytes StreamCheckpoints::encode(StreamId stream, int64_t offset, std::span<const uint8_t> payload) {
  ByteWriter w(kHeaderBytes + payload.size());
  w.write_bytes(kMagic);
  w.write_u16(kVersion);
  w.write_u64(stream.value());
  w.write_i64(offset);
  w.write_u32(static_cast<uint32_t>(payload.size()));
  w.write_u32(crc32c(payload));
  w.write_bytes(payload);
  return w.take();
}

Result<Checkpoint> StreamCheckpoints::decode(StreamId stream, const SharedBytes& object) {
  auto bad = [&](const std::string& why) {
    return Error(Errc::corrupt, "checkpoint of stream " + std::to_string(stream.value()) + ": " + why);
  };
  if (object.size() < kHeaderBytes) return bad("shorter than its header");
  ByteReader r(object.span());
  for (uint8_t m : kMagic) {
    if (*r.read_u8() != m) return bad("bad magic");
  }
  if (*r.read_u16() != kVersion) return bad("unknown version");
  if (*r.read_u64() != stream.value()) return bad("written for another stream");
  int64_t offset = *r.read_i64();
  uint32_t length = *r.read_u32();
  uint32_t crc = *r.read_u32();
  if (offset < 0) return bad("negative offset");
  if (length != object.size() - kHeaderBytes) return bad("length does not match the object");
  SharedBytes payload = object.slice(kHeaderBytes, length);
  if (crc32c(payload.span()) != crc) return bad("CRC mismatch");
  return Checkpoint{offset, std::move(payload)};
}

void StreamCheckpoints::list_keys(StreamId stream, std::function<void(Result<std::vector<std::string>>)> done) {
  objectstore::ListRequest req;
  req.prefix = prefix(stream);
  store_->list(req, [done = std::move(done)](Result<objectstore::ListPage> page) {
    if (!page.ok()) return done(page.take_error());
    std::vector<std::string> keys;
    for (auto& o : page->objects) keys.push_back(std::move(o.key));
    std::sort(keys.begin(), keys.end());  // zero-padded offsets: byte order is offset order
    done(std::move(keys));
  });
}

void StreamCheckpoints::put(StreamId stream, int64_t offset, SharedBytes payload, PutCallback done) {
  if (payload.size() + kHeaderBytes > options_.max_bytes)
    return done(Error(Errc::too_large, "checkpoint of " + std::to_string(payload.size()) + " bytes over the limit"));
  done = tracked(std::move(done));
  SharedBytes body(encode(stream, offset, payload.span()));
  std::string k = key(stream, offset);
  store_->put(k, body, [this, stream, done = std::move(done)](Result<objectstore::PutResult> r) {
    if (!r.ok()) return done(r.take_error());
    // Durable: answer now, prune in the background (tracked too, so the destructor waits for it;
    // failing to prune only leaves extra objects behind, which the next put retries).
    PutCallback pruned = tracked(PutCallback([](Status) {}));
    done({});
    list_keys(stream, [this, pruned](Result<std::vector<std::string>> keys) {
      if (!keys.ok() || keys->size() <= options_.keep) return pruned({});
      std::vector<std::string> old(keys->begin(), keys->end() - options_.keep);
      store_->delete_keys(std::move(old), [pruned](Result<objectstore::DeleteResult>) { pruned({}); });
    });
  });
}

void StreamCheckpoints::latest(StreamId stream, LatestCallback done, int64_t below) {
  done = tracked(std::move(done));
  list_keys(stream, [this, stream, below, done = std::move(done)](Result<std::vector<std::string>> keys) {
    if (!keys.ok()) return done(keys.take_error());
    auto newest_first = std::make_shared<std::vector<std::string>>();
    for (auto it = keys->rbegin(); it != keys->rend(); ++it) {
      if (below < std::numeric_limits<int64_t>::max() && *it >= key(stream, std::max<int64_t>(below, 0))) continue;
      newest_first->push_back(*it);
    }
    if (newest_first->size() > kMaxCheckpointTries) newest_first->resize(kMaxCheckpointTries);
    try_newest(stream, std::move(newest_first), done);
  });
}

void StreamCheckpoints::try_newest(StreamId stream, std::shared_ptr<std::vector<std::string>> keys, LatestCallback done) {
  if (keys->empty()) return done(std::optional<Checkpoint>());
  std::string k = keys->front();
  keys->erase(keys->begin());
  store_->get(k, {}, [this, stream, keys, k, done](Result<objectstore::GetResult> got) {
    if (!got.ok()) {
      if (got.error().code == Errc::not_found) return try_newest(stream, keys, done);  // pruned meanwhile
      return done(got.take_error());
    }
    if (got->body.size() > options_.max_bytes) {
      floe::log::warn("stream", k + ": checkpoint of " + std::to_string(got->body.size()) + " bytes over the limit; skipped");
      return try_newest(stream, keys, done);
    }
    auto cp = decode(stream, got->body);
    if (!cp.ok() || key(stream, cp->offset) != k) {
      floe::log::warn("stream", k + ": " + (cp.ok() ? std::string("offset does not match its key") : cp.error().message) +
                                    "; skipped");
      return try_newest(stream, keys, done);
    }
    done(std::optional<Checkpoint>(std::move(*cp)));
  });
}

void StreamCheckpoints::remove_all(StreamId stream, PutCallback done) {
  done = tracked(std::move(done));
  list_keys(stream, [this, done = std::move(done)](Result<std::vector<std::string>> keys) {
    if (!keys.ok()) return done(keys.take_error());
    if (keys->empty()) return done({});
    store_->delete_keys(std::move(*keys), [done](Result<objectstore::DeleteResult> r) {
      if (!r.ok()) return done(r.take_error());
      if (!r->errors.empty()) return done(Error(Errc::io, "deleting checkpoints: " + r->errors.front().message));
      done({});
    });
  });
}

}  // namespace floe::stream
