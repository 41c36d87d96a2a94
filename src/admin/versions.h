// The versions of the libraries linked into this floe binary, for `floe --version`: asked of each
// library at run time where it can tell (so a static build reports what it really contains).
// Thread safety: safe to call from any thread.
#pragma once

#include <string>

namespace floe::admin {

// One line, e.g. "libcurl 7.88.1 (OpenSSL/3.0.19), OpenSSL 3.0.19, zstd 1.5.4, lz4 1.9.4, ...".
std::string linked_library_versions();

}  // namespace floe::admin
