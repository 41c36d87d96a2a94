#include "raft/memory_log.h"

#include <algorithm>

namespace floe::raft {

const LogEntry& MemoryLog::entry(Offset offset) const {
  FLOE_ASSERT(offset >= 0 && offset < end_offset());
  return visible_[static_cast<size_t>(offset)];
}

void MemoryLog::append(LogEntry entry) {
  Epoch previous_epoch = visible_.empty() ? 0 : visible_.back().epoch;
  FLOE_ASSERT_MSG(entry.epoch >= previous_epoch, "log epochs must not decrease");
  visible_.push_back(std::move(entry));
  if (observer_) observer_(end_offset() - 1, visible_.back(), previous_epoch);
}

void MemoryLog::truncate_to(Offset end) {
  FLOE_ASSERT(end >= 0 && end <= end_offset());
  visible_.resize(static_cast<size_t>(end));
  first_dirty_ = std::min(first_dirty_, visible_.size());
}

Status MemoryLog::sync() {
  durable_.resize(first_dirty_);
  durable_.insert(durable_.end(), visible_.begin() + static_cast<ptrdiff_t>(first_dirty_),
                  visible_.end());
  first_dirty_ = visible_.size();
  return ok_status();
}

void MemoryLog::crash() {
  visible_ = durable_;
  first_dirty_ = visible_.size();
}

}  // namespace floe::raft
