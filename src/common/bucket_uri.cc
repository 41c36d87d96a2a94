#include "common/bucket_uri.h"

#include <algorithm>
#include <optional>

namespace floe {
namespace {

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

bool valid_bucket_name(std::string_view b) {
  if (b.size() < 3 || b.size() > 63) return false;
  if (b.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") != std::string_view::npos) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  return alnum(b.front()) && alnum(b.back());
}

constexpr std::string_view kS3Params[] = {"region",       "endpoint", "pathStyle",   "accessKey",     "secretKey",
                                          "sessionToken", "caBundle", "signPayload", "maxConnections"};
constexpr std::string_view kS3ParamList =
    "region, endpoint, pathStyle, accessKey, secretKey, sessionToken, caBundle, signPayload, maxConnections";

Status check_s3_param(const std::string& name, const std::string& value) {
  if (std::find(std::begin(kS3Params), std::end(kS3Params), name) == std::end(kS3Params))
    return Error(Errc::config, "parameter '" + name + "' is not one of {" + std::string(kS3ParamList) + "}");
  if (name == "endpoint") {
    if (!(value.starts_with("http://") || value.starts_with("https://")) || value.size() <= 8)
      return Error(Errc::config, "endpoint '" + value + "' is not an http:// or https:// URL");
  } else if (name == "pathStyle" || name == "signPayload") {
    if (value != "true" && value != "false")
      return Error(Errc::config, name + " must be true or false, got '" + value + "'");
  } else if (name == "region") {
    if (value.empty() || value.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos)
      return Error(Errc::config, "region '" + value + "' is not made of a-z, 0-9, '-'");
  } else if (name == "maxConnections") {
    if (value.empty() || value.size() > 4 || value.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(value) < 1 || std::stoi(value) > 1024)
      return Error(Errc::config, "maxConnections must be 1..1024, got '" + value + "'");
  }
  return ok_status();
}

}  // namespace

std::string redact_bucket_uri(std::string_view text) {
  static constexpr std::string_view kSecrets[] = {"accessKey=", "secretKey=", "sessionToken="};
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    bool redacted = false;
    if (i > 0 && (text[i - 1] == '?' || text[i - 1] == '&')) {
      for (auto name : kSecrets) {
        if (text.substr(i).starts_with(name)) {
          out += name;
          out += "***";
          i += name.size();
          while (i < text.size() && text[i] != '&' && text[i] != ',') ++i;
          redacted = true;
          break;
        }
      }
    }
    if (!redacted) out.push_back(text[i++]);
  }
  return out;
}

Result<BucketUri> parse_bucket_uri(std::string_view entry, std::span<const std::string_view> schemes) {
  BucketUri u;
  const size_t sep = entry.find("://");
  if (sep == std::string_view::npos)
    return Error(Errc::config, "entry '" + std::string(entry) + "' has no scheme:// (expected [id@]s3://bucket?..., fs://path, file://path or mem://)");
  std::string_view head = entry.substr(0, sep);
  std::string_view rest = entry.substr(sep + 3);
  if (size_t at = head.find('@'); at != std::string_view::npos) {
    std::string_view id = head.substr(0, at);
    if (id.empty() || id.size() > 4 || id.find_first_not_of("0123456789") != std::string_view::npos)
      return Error(Errc::config, "bucket id '" + std::string(id) + "' is not in [0, 9999]");
    u.id = std::stoi(std::string(id));
    head = head.substr(at + 1);
  }
  u.scheme = std::string(head);
  if (std::find(schemes.begin(), schemes.end(), head) == schemes.end()) {
    std::string allowed;
    for (auto s : schemes) allowed += (allowed.empty() ? "" : ", ") + std::string(s) + "://";
    return Error(Errc::config, "scheme '" + u.scheme + "://' is not one of {" + allowed + "}");
  }
  if (u.scheme == "mem") return u;  // an in-memory store (tests); takes nothing
  if (u.scheme != "s3") {
    if (rest.empty()) return Error(Errc::config, "entry '" + std::string(entry) + "' has an empty path");
    if (rest.find('?') != std::string_view::npos)
      return Error(Errc::config, "entry '" + std::string(entry) + "': " + u.scheme + ":// takes no ?parameters");
    u.path = std::string(rest);
    return u;
  }
  const size_t q = rest.find('?');
  u.bucket = std::string(rest.substr(0, q));
  if (!valid_bucket_name(u.bucket))
    return Error(Errc::config, "bucket name '" + u.bucket + "' is not 3-63 characters of a-z, 0-9, '.', '-'");
  std::string_view query = q == std::string_view::npos ? std::string_view() : rest.substr(q + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos) return Error(Errc::config, "parameter '" + std::string(pair) + "' is not name=value");
    auto name = percent_decode(pair.substr(0, eq));
    auto value = percent_decode(pair.substr(eq + 1));
    if (!name || !value)  // the value may be a secret: name only the parameter
      return Error(Errc::config, "parameter '" + std::string(pair.substr(0, eq)) + "' has a bad %-escape in its name or value");
    FLOE_TRY(check_s3_param(*name, *value));
    if (!u.params.emplace(*name, *value).second) return Error(Errc::config, "parameter '" + *name + "' is repeated");
  }
  return u;
}

}  // namespace floe
