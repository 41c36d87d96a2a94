#include "objectstore/sigv4.h"

#include <algorithm>
#include <ctime>

#include "common/bytes.h"
#include "objectstore/crypto.h"

namespace floe::objectstore {

namespace {

bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Trims leading/trailing whitespace and collapses inner runs of spaces to one (SigV4 "Trimall").
std::string trim_all(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  bool in_space = false;
  for (char c : v) {
    bool space = c == ' ' || c == '\t';
    if (space) {
      in_space = true;
      continue;
    }
    if (in_space && !out.empty()) out.push_back(' ');
    in_space = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string uri_encode(std::string_view s, bool encode_slash) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3 / 2);
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (unreserved(c) || (c == '/' && !encode_slash)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::string encode_s3_path(std::string_view raw_path) {
  std::string out = "/";
  if (!raw_path.empty() && raw_path.front() == '/') raw_path.remove_prefix(1);
  out += uri_encode(raw_path, false);
  return out;
}

std::string canonical_query_string(const HeaderList& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& [name, value] : query) encoded.emplace_back(uri_encode(name, true), uri_encode(value, true));
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out.push_back('&');
    out += name;
    out.push_back('=');
    out += value;
  }
  return out;
}

std::pair<std::string, std::string> canonical_headers(const HeaderList& headers) {
  std::vector<std::pair<std::string, std::string>> normal;
  normal.reserve(headers.size());
  for (const auto& [name, value] : headers) normal.emplace_back(lower(name), trim_all(value));
  // Stable so that repeated names keep their order when joined.
  std::stable_sort(normal.begin(), normal.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string block;
  std::string names;
  for (size_t i = 0; i < normal.size(); ++i) {
    if (i > 0 && normal[i].first == normal[i - 1].first) {
      block.pop_back();  // the '\n' of the previous line: join with ','
      block.push_back(',');
      block += normal[i].second;
      block.push_back('\n');
      continue;
    }
    block += normal[i].first;
    block.push_back(':');
    block += normal[i].second;
    block.push_back('\n');
    if (!names.empty()) names.push_back(';');
    names += normal[i].first;
  }
  return {block, names};
}

std::string canonical_request(const SignableRequest& request) {
  auto [block, names] = canonical_headers(request.headers);
  std::string out;
  out.reserve(256 + block.size());
  out += request.method;
  out.push_back('\n');
  out += request.encoded_path.empty() ? "/" : request.encoded_path;
  out.push_back('\n');
  out += canonical_query_string(request.query);
  out.push_back('\n');
  out += block;
  out.push_back('\n');
  out += names;
  out.push_back('\n');
  out += request.payload_hash;
  return out;
}

std::string amz_timestamp(std::chrono::system_clock::time_point when) {
  std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  size_t n = std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return std::string(buf, n);
}

SignedParts sign_v4(const SignableRequest& request, const Credentials& credentials, std::string_view region,
                    std::string_view service, std::string_view amz_date) {
  SignedParts parts;
  parts.canonical_request = canonical_request(request);
  parts.signed_headers = canonical_headers(request.headers).second;
  std::string_view date = amz_date.substr(0, 8);
  std::string scope = std::string(date) + "/" + std::string(region) + "/" + std::string(service) + "/aws4_request";
  parts.string_to_sign = "AWS4-HMAC-SHA256\n" + std::string(amz_date) + "\n" + scope + "\n" +
                         sha256_hex(parts.canonical_request);
  std::string seed = "AWS4" + credentials.secret_access_key;
  Sha256Digest key = hmac_sha256(as_bytes(seed), date);
  key = hmac_sha256(key, region);
  key = hmac_sha256(key, service);
  key = hmac_sha256(key, "aws4_request");
  parts.signature = to_hex(hmac_sha256(key, parts.string_to_sign));
  parts.authorization = "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id + "/" + scope +
                        ", SignedHeaders=" + parts.signed_headers + ", Signature=" + parts.signature;
  return parts;
}

}  // namespace floe::objectstore
