// AlignedBuffer: a 4 KiB-aligned, growable byte buffer for O_DIRECT reads and writes of the WAL.
//
// Invariants: (1) data() is kBlockBytes-aligned; (2) capacity is a multiple of kBlockBytes and
// only grows (contents are not preserved across a growth).
// A buffer of 2 MiB or more is 2 MiB-aligned and asks for transparent huge pages: an O_DIRECT
// write pins every page of its buffer, and a 4 MiB group commit is 1024 small pages but only two
// huge ones (the pinning was ~6% of the WAL's CPU with 64 KiB entries; gone with huge pages).
// Thread safety: none; one owner.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include <sys/mman.h>

#include "common/assert.h"
#include "wal/block_format.h"

namespace floe::wal {

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer() { std::free(data_); }

  // At least n bytes, aligned; earlier contents are lost if it grows.
  uint8_t* ensure(size_t n) {
    if (n > capacity_bytes_) {
      size_t want = block_format::align_up(std::max(n, capacity_bytes_ * 2));
      std::free(data_);
      data_ = nullptr;
      capacity_bytes_ = 0;
      void* p = nullptr;
      const bool huge = want >= kHugePageBytes;
      if (huge) want = (want + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
      FLOE_ASSERT_MSG(posix_memalign(&p, huge ? kHugePageBytes : block_format::kBlockBytes, want) == 0,
                      "out of memory for WAL buffer");
      if (huge) (void)::madvise(p, want, MADV_HUGEPAGE);  // a hint: fewer pages to pin per O_DIRECT write
      data_ = static_cast<uint8_t*>(p);
      capacity_bytes_ = want;
    }
    return data_;
  }
  uint8_t* data() const { return data_; }

 private:
  static constexpr size_t kHugePageBytes = 2u << 20;
  uint8_t* data_ = nullptr;
  size_t capacity_bytes_ = 0;
};

}  // namespace floe::wal
