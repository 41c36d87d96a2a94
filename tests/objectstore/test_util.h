// Helpers shared by the objectstore unit tests.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "common/bytes.h"

namespace floe::objectstore::testing {

inline SharedBytes pattern_bytes(size_t n, uint64_t seed) {
  Bytes b(n);
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    for (size_t j = 0; j < 8 && i + j < n; ++j) b[i + j] = static_cast<uint8_t>(v >> (8 * j));
  }
  return SharedBytes(std::move(b));
}

// A fresh empty directory under the system temp dir, removed by the destructor.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "floe-os-test-XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    path = p ? std::filesystem::path(p) : std::filesystem::path();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace floe::objectstore::testing
