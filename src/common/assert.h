// FLOE_ASSERT: invariant checks that stay on in release builds.
//
// A failed assertion is a programmer error: it prints the condition, file and line (and an
// optional message) to stderr and aborts. Operating errors (bad client bytes, disk full, S3 503)
// are never asserted; they travel as values (see result.h).
#pragma once

#include <cstdio>
#include <cstdlib>

namespace floe::detail {
[[noreturn]] inline void assert_fail(const char* cond, const char* file, int line, const char* msg) {
  std::fprintf(stderr, "floe: assertion failed: %s (%s:%d)%s%s\n", cond, file, line, msg ? ": " : "",
               msg ? msg : "");
  std::fflush(stderr);
  std::abort();
}
}  // namespace floe::detail

#define FLOE_ASSERT(cond)                                                         \
  do {                                                                            \
    if (!(cond)) [[unlikely]] ::floe::detail::assert_fail(#cond, __FILE__, __LINE__, nullptr); \
  } while (0)

#define FLOE_ASSERT_MSG(cond, msg)                                                \
  do {                                                                            \
    if (!(cond)) [[unlikely]] ::floe::detail::assert_fail(#cond, __FILE__, __LINE__, (msg)); \
  } while (0)

#define FLOE_UNREACHABLE() ::floe::detail::assert_fail("unreachable", __FILE__, __LINE__, nullptr)
