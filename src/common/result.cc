#include "common/result.h"

namespace floe {

const ErrorDetail& Error::detail() const {
  static const ErrorDetail kNone;
  return detail_ ? *detail_ : kNone;
}

std::string Error::to_string() const {
  if (!detail_) return std::string(errc_name(code)) + ": " + message;
  std::string s = detail_->service_code.empty() ? errc_name(code) : detail_->service_code;
  if (detail_->http_status != 0) s += " (HTTP " + std::to_string(detail_->http_status) + ")";
  if (!message.empty()) s += ": " + message;
  if (!detail_->request_id.empty()) s += " [request id " + detail_->request_id + "]";
  return s;
}

const char* errc_name(Errc code) {
  switch (code) {
    case Errc::ok: return "ok";
    case Errc::truncated: return "truncated";
    case Errc::invalid_length: return "invalid_length";
    case Errc::invalid_value: return "invalid_value";
    case Errc::corrupt: return "corrupt";
    case Errc::too_large: return "too_large";
    case Errc::unsupported: return "unsupported";
    case Errc::io: return "io";
    case Errc::config: return "config";
    case Errc::not_found: return "not_found";
    case Errc::timeout: return "timeout";
    case Errc::fenced: return "fenced";
    case Errc::internal: return "internal";
  }
  return "unknown";
}

}  // namespace floe
