// wal/aligned_buffer.h: the O_DIRECT buffers of the WAL: aligned, as large as asked, and the
// huge-page hint only on a mapping of the buffer's own.
#include "wal/aligned_buffer.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

using namespace floe::wal;

namespace {

// One mapping of this process as /proc/self/smaps shows it.
struct Mapping {
  uintptr_t start = 0, end = 0;
  std::string flags;  // the VmFlags line's two-letter codes ("hg": MADV_HUGEPAGE)
};

// The mapping that holds `addr`, if any. smaps has a header line per mapping ("lo-hi perms ...")
// followed by "Name: value" lines, the last of them "VmFlags: ...".
std::optional<Mapping> mapping_of(const void* addr) {
  const auto a = reinterpret_cast<uintptr_t>(addr);
  std::ifstream in("/proc/self/smaps");
  std::string line;
  std::optional<Mapping> current;
  while (std::getline(in, line)) {
    const std::string first = line.substr(0, line.find(' '));
    if (!first.empty() && first.back() == ':') {
      if (first == "VmFlags:" && current) {
        current->flags = line.substr(first.size());
        return current;
      }
      continue;
    }
    current.reset();
    const size_t dash = first.find('-');
    if (dash == std::string::npos) continue;
    const uintptr_t lo = std::stoull(first.substr(0, dash), nullptr, 16);
    const uintptr_t hi = std::stoull(first.substr(dash + 1), nullptr, 16);
    if (lo <= a && a < hi) current = Mapping{lo, hi, {}};
  }
  return std::nullopt;
}

bool has_flag(const Mapping& m, const char* flag) {
  std::istringstream in(m.flags);
  std::string f;
  while (in >> f)
    if (f == flag) return true;
  return false;
}

// Whether the kernel has transparent huge pages (else madvise(MADV_HUGEPAGE) fails harmlessly).
bool kernel_has_thp() { return std::filesystem::exists("/sys/kernel/mm/transparent_hugepage/enabled"); }

}  // namespace

TEST_CASE("a small buffer is 4 KiB-aligned, block-sized and holds every byte asked for") {
  AlignedBuffer b;
  CHECK(b.data() == nullptr);
  for (size_t n : {size_t{1}, size_t{4096}, size_t{5000}, size_t{300u << 10}}) {
    uint8_t* p = b.ensure(n);
    REQUIRE(p != nullptr);
    CHECK(reinterpret_cast<uintptr_t>(p) % block_format::kBlockBytes == 0);
    CHECK(b.capacity_bytes() >= n);
    CHECK(b.capacity_bytes() % block_format::kBlockBytes == 0);
    std::memset(p, 0x5a, n);
    CHECK((p[0] == 0x5a && p[n - 1] == 0x5a));
  }
}

TEST_CASE("a buffer only grows: asking for less keeps the same memory") {
  AlignedBuffer b;
  uint8_t* p = b.ensure(64u << 10);
  const size_t cap = b.capacity_bytes();
  CHECK(b.ensure(4096) == p);
  CHECK(b.ensure(cap) == p);
  CHECK(b.capacity_bytes() == cap);
  b.ensure(cap + 1);
  CHECK(b.capacity_bytes() >= cap + 1);
}

TEST_CASE("a buffer of 2 MiB or more is a 2 MiB-aligned mapping of its own, marked for huge pages") {
  AlignedBuffer b;
  uint8_t* p = b.ensure((3u << 20) + 100);
  REQUIRE(p != nullptr);
  CHECK(reinterpret_cast<uintptr_t>(p) % AlignedBuffer::kHugePageBytes == 0);
  CHECK(b.capacity_bytes() == (4u << 20));
  std::memset(p, 0xc3, b.capacity_bytes());  // every byte is writable
  CHECK(p[b.capacity_bytes() - 1] == 0xc3);
  auto m = mapping_of(p);
  REQUIRE(m.has_value());
  if (kernel_has_thp()) {
    // The hint is on exactly the buffer: a mapping that starts and ends with it (a flagged
    // mapping does not merge with unflagged neighbours), not a heap range shared with others.
    CHECK(has_flag(*m, "hg"));
    CHECK(m->start == reinterpret_cast<uintptr_t>(p));
    CHECK(m->end - m->start == b.capacity_bytes());
  }
}

TEST_CASE("a small buffer gets no huge-page hint, so none lands on the heap") {
  AlignedBuffer b;
  uint8_t* p = b.ensure(8192);
  auto m = mapping_of(p);
  REQUIRE(m.has_value());
  CHECK_FALSE(has_flag(*m, "hg"));
}

TEST_CASE("growing past 2 MiB and destroying a huge buffer give its mapping back") {
  uintptr_t huge_at = 0;
  {
    AlignedBuffer b;
    b.ensure(4096);
    uint8_t* p = b.ensure(2u << 20);
    CHECK(reinterpret_cast<uintptr_t>(p) % AlignedBuffer::kHugePageBytes == 0);
    CHECK(b.capacity_bytes() == (2u << 20));
    uint8_t* q = b.ensure(6u << 20);  // a second mapping replaces the first
    CHECK(reinterpret_cast<uintptr_t>(q) % AlignedBuffer::kHugePageBytes == 0);
    CHECK(b.capacity_bytes() == (6u << 20));
    huge_at = reinterpret_cast<uintptr_t>(q);
  }
  CHECK_FALSE(mapping_of(reinterpret_cast<const void*>(huge_at)).has_value());
}
