// WorkerPool and lower_current_thread_priority: cold-read threads run at a lower CPU priority.
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <future>

#include "objectstore/executor.h"

using namespace floe::objectstore;

namespace {

int current_thread_nice() {
  errno = 0;
  return ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)));
}

int nice_inside(WorkerPool& pool) {
  std::promise<int> seen;
  REQUIRE(pool.submit([&] { seen.set_value(current_thread_nice()); }));
  return seen.get_future().get();
}


}  // namespace

TEST_CASE("a_worker_pool_made_with_a_nice_increment_runs_its_tasks_at_that_lower_priority") {
  const int base = current_thread_nice();
  WorkerPool background(2, 16, 5);
  CHECK(nice_inside(background) == std::min(19, base + 5));
  WorkerPool normal(1, 16);
  CHECK(nice_inside(normal) == base);
  CHECK(current_thread_nice() == base);  // only the pool's own threads changed
}

TEST_CASE("the_nice_value_is_capped_at_19") {
  const int base = current_thread_nice();
  WorkerPool lowest(1, 4, 100);
  CHECK(nice_inside(lowest) == 19);
  CHECK(current_thread_nice() == base);
}
