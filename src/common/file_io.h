// file_io: the small POSIX file helpers every on-disk format of floe needs (the block WAL, the
// Raft log and snapshot store, the fs object store), so each retries EINTR and short writes and
// reports errors the same way: Errc::io with what failed, the path and strerror(errno).
// Thread safety: stateless; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/result.h"

namespace floe {

// Errc::io "<what> <path>: <strerror(errno)>", from the current errno.
Error io_error(const std::string& what, const std::string& path);

// Writes all `size` bytes at `offset` (retrying EINTR and short writes).
Status pwrite_all(int fd, const void* data, size_t size, uint64_t offset, const std::string& path);

// fsyncs a directory (after creating, renaming or unlinking an entry in it).
Status fsync_dir(const std::string& dir);

}  // namespace floe
