// BlockCache: a bounded LRU of object bytes (data blocks, object indexes) keyed by
// (object id, position), for cold reads (DESIGN.md read path: log cache → block cache → GET).
//
// Invariants: (1) the bytes held never exceed capacity_bytes (an item larger than the capacity is
// not cached); (2) items are immutable (objects never change once written), so a hit is always
// valid. Thread safety: all methods are thread-safe (one mutex).
#pragma once

#include <list>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "common/bytes.h"
#include "common/ids.h"

namespace floe::stream {

class BlockCache {
 public:
  explicit BlockCache(uint64_t capacity_bytes) : capacity_bytes_(capacity_bytes) {}

  std::optional<SharedBytes> get(ObjectId object, uint64_t position) {
    std::lock_guard lk(mu_);
    auto it = map_.find(Key{object.value(), position});
    if (it == map_.end()) {
      ++misses_;
      return std::nullopt;
    }
    ++hits_;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->bytes;
  }

  void put(ObjectId object, uint64_t position, SharedBytes bytes) {
    if (bytes.size() > capacity_bytes_) return;
    std::lock_guard lk(mu_);
    Key key{object.value(), position};
    if (map_.count(key)) return;
    used_bytes_ += bytes.size();
    lru_.push_front(Item{key, std::move(bytes)});
    map_[key] = lru_.begin();
    while (used_bytes_ > capacity_bytes_) {
      used_bytes_ -= lru_.back().bytes.size();
      map_.erase(lru_.back().key);
      lru_.pop_back();
    }
  }

  bool contains(ObjectId object, uint64_t position) const {
    std::lock_guard lk(mu_);
    return map_.count(Key{object.value(), position}) != 0;
  }
  uint64_t used_bytes() const { std::lock_guard lk(mu_); return used_bytes_; }
  uint64_t hits() const { std::lock_guard lk(mu_); return hits_; }
  uint64_t misses() const { std::lock_guard lk(mu_); return misses_; }

 private:
  struct Key {
    uint64_t object;
    uint64_t position;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return std::hash<uint64_t>{}(k.object * 0x9E3779B97F4A7C15ull ^ k.position); }
  };
  struct Item {
    Key key;
    SharedBytes bytes;
  };
  const uint64_t capacity_bytes_;
  mutable std::mutex mu_;
  std::list<Item> lru_;
  std::unordered_map<Key, std::list<Item>::iterator, KeyHash> map_;
  uint64_t used_bytes_ = 0;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace floe::stream
