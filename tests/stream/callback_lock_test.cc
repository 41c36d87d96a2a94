// Callbacks of the stream manager never run while it holds its lock: a callback may call back into
// the stream (the partition's DeleteRecords callback reads the stream's end), which would
// deadlock on the manager's plain mutex. Each early answer (no metadata round trip) is checked
// by calling the stream from inside the callback on a helper thread, bounded by a timeout.
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "stream_test_util.h"

using namespace floe;
using namespace floe::stream;
using namespace floe::stream::testing;

namespace {

// Runs `start(callback)` on a detached thread; the callback reads the stream's end offset (takes
// the manager's lock). True if the callback finished within the bound.
template <typename Start>
bool callback_may_reenter(const std::shared_ptr<Stream>& s, Start start) {
  auto finished = std::make_shared<std::promise<void>>();
  auto future = finished->get_future();
  std::thread([s, start, finished] {
    start([s, finished](auto&&) {
      (void)s->end_offset();
      finished->set_value();
    });
  }).detach();
  return future.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
}

}  // namespace

TEST_CASE("early_answers_of_trim_close_and_open_are_given_without_the_manager_lock") {
  Harness h;
  h.start();
  StreamId id = h.create();
  auto s = h.open(id);
  REQUIRE(append(*s, 0, 10, pattern(100, 1)).ok());
  REQUIRE(sync<Done>([&](auto cb) { s->trim(Offset(5), cb); }).ok());
  // A trim to at or below the start answers at once.
  CHECK(callback_may_reenter(s, [s](auto cb) { s->trim(Offset(5), cb); }));
  // A trim beyond the end is refused at once.
  CHECK(callback_may_reenter(s, [s](auto cb) { s->trim(Offset(100), cb); }));
  // Opening a stream that is already open here is refused at once.
  CHECK(callback_may_reenter(s, [&h, id](auto cb) { h.manager->open_stream(id, cb); }));
  REQUIRE(sync<Done>([&](auto cb) { s->close(cb); }).ok());
  // Closing it again, and trimming it once closed, are refused at once.
  CHECK(callback_may_reenter(s, [s](auto cb) { s->close(cb); }));
  CHECK(callback_may_reenter(s, [s](auto cb) { s->trim(Offset(6), cb); }));
}
