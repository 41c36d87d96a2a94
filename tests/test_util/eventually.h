// eventually(): the one way the unit tests wait for something another thread makes true.
// Polls a condition until it holds or a generous deadline passes, so a test never synchronises
// on a fixed sleep and never asserts on timing: on a loaded machine it only waits longer. The
// result is the condition's last value, read once more after the deadline. The condition runs on
// the caller's thread, once per poll interval (it may act, e.g. resend, as well as look).
#pragma once

#include <chrono>
#include <concepts>
#include <thread>

namespace floe::testing {

// Default bound: far above any wait a passing test needs, so only a real failure reaches it.
inline constexpr std::chrono::milliseconds kEventuallyTimeout{30000};
inline constexpr std::chrono::milliseconds kEventuallyPoll{5};

template <std::predicate Condition>
bool eventually(Condition cond, std::chrono::milliseconds timeout = kEventuallyTimeout,
                std::chrono::milliseconds poll = kEventuallyPoll) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(poll);
  }
  return cond();
}

}  // namespace floe::testing
