#include "raft/memory_log.h"

#include <algorithm>

namespace floe::raft {

const LogEntry& MemoryLog::entry(Offset offset) const {
  FLOE_ASSERT(offset >= start_ && offset < end_offset());
  return visible_[static_cast<size_t>(offset - start_)];
}

void MemoryLog::append(LogEntry entry) {
  Epoch previous_epoch = visible_.empty() ? start_epoch_ : visible_.back().epoch;
  FLOE_ASSERT_MSG(entry.epoch >= previous_epoch, "log epochs must not decrease");
  visible_.push_back(std::move(entry));
  if (observer_) observer_(end_offset() - 1, visible_.back(), previous_epoch);
}

void MemoryLog::truncate_to(Offset end) {
  FLOE_ASSERT(end >= start_ && end <= end_offset());
  visible_.resize(static_cast<size_t>(end - start_));
  first_dirty_ = std::min(first_dirty_, visible_.size());
}

Status MemoryLog::sync() {
  durable_.resize(first_dirty_);
  durable_.insert(durable_.end(), visible_.begin() + static_cast<ptrdiff_t>(first_dirty_),
                  visible_.end());
  first_dirty_ = visible_.size();
  return ok_status();
}

void MemoryLog::advance_start(SnapshotId snapshot) {
  FLOE_ASSERT(snapshot.end_offset >= start_ && snapshot.end_offset <= durable_end_offset());
  if (snapshot.end_offset == start_) return;
  FLOE_ASSERT(entry(snapshot.end_offset - 1).epoch == snapshot.epoch);
  auto drop = static_cast<size_t>(snapshot.end_offset - start_);
  FLOE_ASSERT(drop <= first_dirty_);
  visible_.erase(visible_.begin(), visible_.begin() + static_cast<ptrdiff_t>(drop));
  durable_.erase(durable_.begin(), durable_.begin() + static_cast<ptrdiff_t>(drop));
  first_dirty_ -= drop;
  start_ = snapshot.end_offset;
  start_epoch_ = snapshot.epoch;
}

void MemoryLog::reset_to(SnapshotId snapshot) {
  visible_.clear();
  durable_.clear();
  first_dirty_ = 0;
  start_ = snapshot.end_offset;
  start_epoch_ = snapshot.epoch;
}

void MemoryLog::crash() {
  visible_ = durable_;
  first_dirty_ = visible_.size();
}

std::optional<SnapshotId> MemorySnapshotStore::latest() const {
  if (snapshots_.empty()) return std::nullopt;
  return snapshots_.back().first;
}

Result<int64_t> MemorySnapshotStore::size_bytes(SnapshotId id) const {
  auto bytes = load(id);
  if (!bytes.ok()) return bytes.take_error();
  return static_cast<int64_t>(bytes->size());
}

Result<std::string> MemorySnapshotStore::read(SnapshotId id, int64_t position, int32_t max_bytes) const {
  for (const auto& [have, bytes] : snapshots_) {
    if (have != id) continue;
    if (position < 0 || position > static_cast<int64_t>(bytes.size()) || max_bytes < 0) {
      return Error(Errc::invalid_value, "snapshot position out of range");
    }
    return bytes.substr(static_cast<size_t>(position), static_cast<size_t>(max_bytes));
  }
  return Error(Errc::not_found, "no such snapshot");
}

Result<std::string> MemorySnapshotStore::load(SnapshotId id) const { return read(id, 0, INT32_MAX); }

Status MemorySnapshotStore::begin_download(SnapshotId id) {
  partial_.emplace(id, std::string());
  return ok_status();
}

Status MemorySnapshotStore::write_chunk(SnapshotId id, int64_t position, std::string_view bytes) {
  if (!partial_ || partial_->first != id || position != static_cast<int64_t>(partial_->second.size())) {
    return Error(Errc::invalid_value, "chunk does not continue the download");
  }
  partial_->second.append(bytes);
  return ok_status();
}

Status MemorySnapshotStore::finish_download(SnapshotId id) {
  if (!partial_ || partial_->first != id) return Error(Errc::invalid_value, "no such download");
  if (validator_) FLOE_TRY(validator_(id, partial_->second));
  auto [got, bytes] = std::move(*partial_);
  partial_.reset();
  save(got, std::move(bytes));
  ++installs_;
  return ok_status();
}

void MemorySnapshotStore::save(SnapshotId id, std::string bytes, size_t keep) {
  std::erase_if(snapshots_, [&](const auto& s) { return s.first == id; });
  snapshots_.emplace_back(id, std::move(bytes));
  std::sort(snapshots_.begin(), snapshots_.end(),
            [](const auto& a, const auto& b) { return a.first.end_offset < b.first.end_offset; });
  while (snapshots_.size() > keep) snapshots_.erase(snapshots_.begin());
}

}  // namespace floe::raft
