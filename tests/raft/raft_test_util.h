// Shared by the raft unit tests: a fresh directory under /tmp, removed with everything in it
// when the test ends.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace floe::raft::testing {

struct TempDir {
  std::string path;
  TempDir() {
    char pattern[] = "/tmp/floe-raft-XXXXXX";
    const char* made = ::mkdtemp(pattern);
    path = made ? made : "";
    if (path.empty()) throw std::runtime_error("mkdtemp failed");
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

}  // namespace floe::raft::testing
