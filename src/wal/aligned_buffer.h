// AlignedBuffer: a 4 KiB-aligned, growable byte buffer for O_DIRECT reads and writes of the WAL.
//
// Invariants: (1) data() is kBlockBytes-aligned; (2) capacity_bytes() is a multiple of
// kBlockBytes, at least what ensure() asked for, and only grows (contents are not preserved
// across a growth, and a new allocation's bytes are unspecified).
// A buffer of 2 MiB or more is a private anonymous mapping of its own (mmap), 2 MiB-aligned and a
// multiple of 2 MiB, marked MADV_HUGEPAGE: an O_DIRECT write pins every page of its buffer, and a
// 4 MiB group commit is 1024 small pages but only two huge ones (the pinning was ~6% of the WAL's
// CPU with 64 KiB entries; gone with huge pages). Being its own mapping, the hint covers exactly
// the buffer: never a heap range that malloc shares with other data (posix_memalign may return
// heap memory even for megabytes, once glibc's dynamic mmap threshold has grown). Smaller
// buffers come from posix_memalign and get no hint.
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
  static constexpr size_t kHugePageBytes = 2u << 20;

  AlignedBuffer() = default;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer() { release(); }

  // At least n bytes, aligned; earlier contents are lost if it grows.
  uint8_t* ensure(size_t n) {
    if (n <= capacity_bytes_) return data_;
    size_t want = block_format::align_up(std::max(n, capacity_bytes_ * 2));
    release();
    if (want >= kHugePageBytes) {
      want = (want + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
      data_ = map_huge_aligned(want);
      mapped_ = true;
    } else {
      void* p = nullptr;
      FLOE_ASSERT_MSG(posix_memalign(&p, block_format::kBlockBytes, want) == 0, "out of memory for WAL buffer");
      data_ = static_cast<uint8_t*>(p);
      mapped_ = false;
    }
    capacity_bytes_ = want;
    return data_;
  }
  uint8_t* data() const { return data_; }
  size_t capacity_bytes() const { return capacity_bytes_; }

 private:
  // A 2 MiB-aligned anonymous mapping of `bytes` (a multiple of 2 MiB): maps one huge page more
  // than needed and unmaps the unaligned head and the tail.
  static uint8_t* map_huge_aligned(size_t bytes) {
    const size_t span = bytes + kHugePageBytes;
    void* p = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    FLOE_ASSERT_MSG(p != MAP_FAILED, "out of memory for WAL buffer (mmap)");
    const auto base = reinterpret_cast<uintptr_t>(p);
    const uintptr_t aligned = (base + kHugePageBytes - 1) & ~(uintptr_t{kHugePageBytes} - 1);
    const size_t head = aligned - base;
    const size_t tail = span - head - bytes;
    if (head != 0) ::munmap(p, head);
    if (tail != 0) ::munmap(reinterpret_cast<void*>(aligned + bytes), tail);
    auto* out = reinterpret_cast<uint8_t*>(aligned);
    (void)::madvise(out, bytes, MADV_HUGEPAGE);  // a hint: fewer pages to pin per O_DIRECT write
    return out;
  }

  void release() {
    if (data_ == nullptr) return;
    if (mapped_) ::munmap(data_, capacity_bytes_);
    else std::free(data_);
    data_ = nullptr;
    capacity_bytes_ = 0;
    mapped_ = false;
  }

  uint8_t* data_ = nullptr;
  size_t capacity_bytes_ = 0;
  bool mapped_ = false;  // data_ is an mmap of capacity_bytes_ (else posix_memalign)
};

}  // namespace floe::wal
