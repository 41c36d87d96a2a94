// Strong types for the ids and offsets that cross layer boundaries (STYLE.md: never pass a
// bare int64_t between layers). A StrongInt<Tag, T> is a T that only compares and converts
// explicitly, so a StreamId can't be passed where an Offset is expected.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>

namespace floe {

template <typename Tag, typename T>
class StrongInt {
 public:
  using value_type = T;
  constexpr StrongInt() = default;
  constexpr explicit StrongInt(T v) : v_(v) {}
  constexpr T value() const { return v_; }
  friend constexpr auto operator<=>(StrongInt, StrongInt) = default;
  std::string to_string() const { return std::to_string(v_); }

 private:
  T v_{};
};

using StreamId = StrongInt<struct StreamIdTag, uint64_t>;
using StreamEpoch = StrongInt<struct StreamEpochTag, uint64_t>;
using Offset = StrongInt<struct OffsetTag, int64_t>;  // a record offset within a stream/partition
using NodeId = StrongInt<struct NodeIdTag, int32_t>;
using ObjectId = StrongInt<struct ObjectIdTag, uint64_t>;

}  // namespace floe

template <typename Tag, typename T>
struct std::hash<floe::StrongInt<Tag, T>> {
  size_t operator()(floe::StrongInt<Tag, T> v) const noexcept { return std::hash<T>{}(v.value()); }
};
