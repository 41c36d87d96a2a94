// Result<T>: errors as values on hot paths (a small std::expected for C++20).
//
// An Error carries a category-free code (Errc) and a human message, and optionally an
// ErrorDetail: what a remote service (object storage over HTTP) said — status, its own error
// code, request id — and whether repeating the same request may succeed. A Result<T> holds either
// a T or an Error, never both. Status is Result<void>.
//
// Invariants:
//  (1) value() on an error Result, or error() on a value Result, is a programmer error (asserts).
//  (2) Errc::ok never appears inside an Error.
// Thread safety: none needed; Results are plain values.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <variant>

#include "common/assert.h"

namespace floe {

enum class Errc {
  ok = 0,
  truncated,         // input ended before a complete value was read
  invalid_length,    // a length prefix is negative (where not allowed) or exceeds a bound
  invalid_value,     // a value is outside its allowed set (enum, magic, version)
  corrupt,           // a checksum did not match
  too_large,         // a size is above a configured or structural limit
  unsupported,       // a version, codec or feature floe does not implement
  io,                // an operating-system I/O error
  config,            // a configuration key or value is invalid
  not_found,
  timeout,
  fenced,            // a stale epoch: another owner opened the stream since (stream/)
  internal,
};

const char* errc_name(Errc code);

// Facts about an error reported by a remote service. Immutable once attached to an Error (shared,
// so copying an Error stays cheap).
struct ErrorDetail {
  int http_status = 0;       // 0 when no HTTP response arrived
  std::string service_code;  // the service's own code: S3's "NoSuchKey", "SlowDown", ... (may be empty)
  std::string request_id;
  bool retryable = false;    // repeating the same request may succeed (5xx, throttling, timeouts)
};

struct Error {
  Errc code = Errc::internal;
  std::string message;

  Error() = default;
  Error(Errc c, std::string msg) : code(c), message(std::move(msg)) { FLOE_ASSERT(c != Errc::ok); }
  Error(Errc c, std::string msg, ErrorDetail d)
      : code(c), message(std::move(msg)), detail_(std::make_shared<const ErrorDetail>(std::move(d))) {
    FLOE_ASSERT(c != Errc::ok);
  }
  // The detail, or an empty one (status 0, no code, not retryable) when there is none.
  const ErrorDetail& detail() const;
  bool has_detail() const { return detail_ != nullptr; }
  bool retryable() const { return detail().retryable; }
  // "errc: message", or with a detail "ServiceCode (HTTP n): message [request id r]".
  std::string to_string() const;

 private:
  std::shared_ptr<const ErrorDetail> detail_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT
  Result(Errc code, std::string msg) : v_(std::in_place_index<1>, Error(code, std::move(msg))) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { FLOE_ASSERT(ok()); return std::get<0>(v_); }
  const T& value() const& { FLOE_ASSERT(ok()); return std::get<0>(v_); }
  T&& value() && { FLOE_ASSERT(ok()); return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { FLOE_ASSERT(!ok()); return std::get<1>(v_); }
  Error&& take_error() { FLOE_ASSERT(!ok()); return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : err_(std::move(error)), ok_(false) {}  // NOLINT
  Result(Errc code, std::string msg) : err_(code, std::move(msg)), ok_(false) {}

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { FLOE_ASSERT(!ok_); return err_; }
  Error&& take_error() { FLOE_ASSERT(!ok_); return std::move(err_); }

 private:
  Error err_;
  bool ok_ = true;
};

using Status = Result<void>;

inline Status ok_status() { return Status(); }

}  // namespace floe

// Propagate an error from an expression yielding a Result/Status: FLOE_TRY(r.read_i32(x));
#define FLOE_TRY(expr)                                 \
  do {                                                 \
    auto floe_try_result_ = (expr);                    \
    if (!floe_try_result_.ok()) [[unlikely]]           \
      return floe_try_result_.take_error();            \
  } while (0)
