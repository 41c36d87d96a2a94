#include "objectstore/executor.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

#include "common/assert.h"
#include "common/log.h"

namespace floe::objectstore {

void lower_current_thread_priority(int increment) {
  if (increment <= 0) return;
  const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  errno = 0;
  int current = ::getpriority(PRIO_PROCESS, tid);
  if (current == -1 && errno != 0) current = 0;
  if (::setpriority(PRIO_PROCESS, tid, std::min(19, current + increment)) != 0) {
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true)) {
      log::warn("executor", std::string("could not lower a background thread's priority: ") + std::strerror(errno));
    }
  }
}

WorkerPool::WorkerPool(size_t threads, size_t max_queued, int nice_increment) : max_queued_(max_queued) {
  FLOE_ASSERT(threads > 0 && max_queued > 0);
  for (size_t i = 0; i < threads; ++i) {
    threads_.emplace_back([this, nice_increment] {
      lower_current_thread_priority(nice_increment);
      run();
    });
  }
}

WorkerPool::~WorkerPool() { stop(); }

bool WorkerPool::submit(Task task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
  return true;
}

void WorkerPool::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
  }
  std::lock_guard lock(mu_);
  threads_.clear();
}

void WorkerPool::run() {
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

TimerQueue::TimerQueue(size_t max_pending) : max_pending_(max_pending) {
  FLOE_ASSERT(max_pending > 0);
  thread_ = std::thread([this] { run(); });
}

TimerQueue::~TimerQueue() { stop(); }

bool TimerQueue::schedule(std::chrono::milliseconds delay, Task task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || pending_.size() >= max_pending_) return false;
    pending_.emplace(Clock::now() + delay, std::move(task));
  }
  cv_.notify_one();
  return true;
}

void TimerQueue::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void TimerQueue::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (pending_.empty()) {
      if (stopping_) return;
      cv_.wait(lock);
      continue;
    }
    auto first = pending_.begin();
    if (!stopping_ && first->first > Clock::now()) {
      cv_.wait_until(lock, first->first);
      continue;
    }
    Task task = std::move(first->second);
    pending_.erase(first);
    lock.unlock();
    task();
    lock.lock();
  }
}

}  // namespace floe::objectstore
