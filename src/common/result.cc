#include "common/result.h"

namespace floe {

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
