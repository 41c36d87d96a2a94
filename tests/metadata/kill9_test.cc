#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "metadata_test_util.h"

using namespace floe;
using namespace floe::metadata;
using namespace floe::metadata::testing;

TEST_CASE("acknowledged_topics_survive_kill9_at_random_moments") {
  // A child process runs a controller on the on-disk metadata log and creates topics in a loop,
  // reporting each acknowledged one through a pipe. We SIGKILL it at a random moment, reopen the
  // log here, and require every acknowledged topic (with its streams) to be there. 20 rounds.
  TempDir dir;
  uint64_t rng = 0x9e3779b97f4a7c15ull;
  auto next_random = [&] { return (rng = rng * 6364136223846793005ull + 1442695040888963407ull) >> 33; };
  std::vector<std::string> acknowledged;
  for (int round = 0; round < 20; ++round) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      ::close(fds[0]);
      auto options = single_node(dir.path);
      options.snapshot_interval_entries = 7;  // snapshots get written (and killed) too
      auto c = Controller::open(options);
      if (!c.ok()) ::_exit(3);
      for (int32_t i = 0;; ++i) {
        TopicSpec spec{"r" + std::to_string(round) + "-" + std::to_string(i), 1 + i % 3, {}, false};
        auto r = stream::meta_wait<std::vector<TopicResult>>(
            [&](auto cb) { (*c)->create_topics({spec}, false, cb); });
        if (!r.ok() || (*r)[0].error_code != 0) ::_exit(4);
        if (::write(fds[1], &i, sizeof(i)) != sizeof(i)) ::_exit(5);
      }
    }
    ::close(fds[1]);
    int32_t last = -1;
    auto target = static_cast<int32_t>(next_random() % 30);
    while (last < target && ::read(fds[0], &last, sizeof(last)) == sizeof(last)) {
    }
    ::usleep(static_cast<useconds_t>(next_random() % 3000));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    int32_t value;
    while (::read(fds[0], &value, sizeof(value)) == sizeof(value)) last = value;
    ::close(fds[0]);
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGKILL);  // killed by us, not an assertion
    for (int32_t i = 0; i <= last; ++i) acknowledged.push_back("r" + std::to_string(round) + "-" + std::to_string(i));
    INFO("round " << round << ": " << acknowledged.size() << " topics acknowledged so far");
    auto options = single_node(dir.path);
    options.snapshot_interval_entries = 7;
    auto c = open_controller(options);
    auto image = c->image();
    auto streams = c->streams();
    for (const auto& name : acknowledged) {
      const TopicImage* t = image->topic(name);
      REQUIRE(t);
      for (const auto& p : t->partitions) REQUIRE(streams.streams.count(p.stream_id) == 1);
    }
  }
  CHECK(acknowledged.size() >= 20);
}
