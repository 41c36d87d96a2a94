// The command-line front door of the single floe binary: `floe serve`, `floe config keys`,
// `floe storage probe`, `floe perf wal`, `floe --version`, `floe --help`, and (later) the admin
// verbs of DESIGN.md's admin/ row.
// main() calls run_cli and exits with its return value.
//
// Exit status (documented in `floe --help` and man/floe.1):
//   0  success
//   1  the command ran and failed (e.g. a `floe storage probe` step)
//   2  usage error (unknown verb or option, missing argument) or configuration error (unknown
//      key, invalid value, unreadable file); the message on stderr names the culprit
//   3  the request is valid but not implemented in this build (planned admin verbs)
// `floe serve` is the only verb that starts servers (admin/serve.h).
// Thread safety: run from the main thread only.
#pragma once

#include <cstdio>
#include <span>
#include <string>

namespace floe::admin {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNotImplemented = 3;

// Parses argv and runs the chosen verb. Returns the process exit code.
int run_cli(int argc, char** argv);

// The same with the arguments after the program name, writing to the given streams (tests).
int run_cli(std::span<const std::string> args, std::FILE* out, std::FILE* err);

}  // namespace floe::admin
