// The small thread owners the local backends and wrappers run their completions on.
//
//  - WorkerPool: N threads draining one bounded FIFO of tasks (fs I/O, mem completions).
//  - TimerQueue: one thread running tasks at a deadline (retry backoff, injected latency).
//  - lower_current_thread_priority: background work (cold reads) gives way to the append path
//    when CPUs are short: a WorkerPool created with a nice increment runs its threads at it.
//
// Invariants:
//  (1) Queues are bounded: submit()/schedule() return false when full or stopped, and the task is
//      then not run (the caller completes its operation with an error instead).
//  (2) stop() runs every task already accepted (a TimerQueue runs its pending tasks at once,
//      ignoring deadlines), then joins the threads; after stop() nothing is accepted. The
//      destructor calls stop().
// Thread safety: all methods may be called from any thread, including from inside a task.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace floe::objectstore {

using Task = std::function<void()>;

// For background work (cold reads): raises the calling thread's nice value by `increment`
// (Linux: per thread; 0 does nothing): under CPU contention it gets about a tenth of a normal
// thread's share (nice +10), yet still progresses on a saturated machine. (SCHED_IDLE was tried:
// better tails on an idle machine, but on a saturated one such a thread waits about a second per
// slice, which would stall catching-up consumers.) Lowering priority needs no privilege; a
// failure is logged once and otherwise ignored (the thread then just runs at normal priority).
void lower_current_thread_priority(int increment);

class WorkerPool {
 public:
  // nice_increment > 0: the threads run at a lower CPU priority (lower_current_thread_priority).
  WorkerPool(size_t threads, size_t max_queued, int nice_increment = 0);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  bool submit(Task task);
  void stop();

 private:
  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> queue_;
  size_t max_queued_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

class TimerQueue {
 public:
  explicit TimerQueue(size_t max_pending);
  ~TimerQueue();
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  bool schedule(std::chrono::milliseconds delay, Task task);
  void stop();

 private:
  void run();

  using Clock = std::chrono::steady_clock;
  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<Clock::time_point, Task> pending_;
  size_t max_pending_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace floe::objectstore
