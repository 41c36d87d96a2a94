#include "objectstore/bucket_uri.h"

#include <set>

#include "objectstore/credentials.h"
#include "objectstore/fs_store.h"
#include "objectstore/mem_store.h"
#include "objectstore/s3_store.h"

namespace floe::objectstore {

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

const char* kS3Params = "region, endpoint, pathStyle, accessKey, secretKey, sessionToken, caBundle, signPayload, maxConnections";

bool valid_bucket_name(const std::string& b) {
  if (b.size() < 3 || b.size() > 63) return false;
  for (char c : b) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  }
  return true;
}

Result<bool> parse_bool(const BucketUri& uri, const std::string& name, bool fallback) {
  std::string v = uri.param(name);
  if (v.empty()) return fallback;
  if (v == "true") return true;
  if (v == "false") return false;
  return Error(Errc::config, "bucket URI parameter " + name + "=" + v + ": expected true or false");
}

}  // namespace

Result<BucketUri> parse_bucket_uri(std::string_view uri) {
  BucketUri out;
  std::string_view rest = uri;
  size_t at = rest.find('@');
  size_t scheme_sep = rest.find("://");
  if (scheme_sep == std::string_view::npos)
    return Error(Errc::config, "bucket URI " + std::string(uri) + ": expected [id@]s3://bucket?..., file:///path or mem://");
  if (at != std::string_view::npos && at < scheme_sep) {
    std::string id(rest.substr(0, at));
    if (id.empty() || id.size() > 4 || id.find_first_not_of("0123456789") != std::string::npos)
      return Error(Errc::config, "bucket URI " + std::string(uri) + ": the id before '@' must be a small number");
    out.id = std::stoi(id);
    rest.remove_prefix(at + 1);
    scheme_sep = rest.find("://");
  }
  out.scheme = std::string(rest.substr(0, scheme_sep));
  rest.remove_prefix(scheme_sep + 3);
  std::string_view query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    auto name = percent_decode(pair.substr(0, eq));
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!name || !value) return Error(Errc::config, "bucket URI " + std::string(uri) + ": bad percent-encoding");
    out.params[*name] = *value;
  }
  if (out.scheme == "s3") {
    out.bucket = std::string(rest);
    if (!valid_bucket_name(out.bucket))
      return Error(Errc::config, "bucket URI " + std::string(uri) +
                                     ": bucket name must be 3-63 characters of a-z, 0-9, '-' and '.'");
    for (const auto& [name, value] : out.params) {
      static const std::set<std::string> known = {"region",       "endpoint", "pathStyle",   "accessKey",     "secretKey",
                                                  "sessionToken", "caBundle", "signPayload", "maxConnections"};
      if (known.count(name) == 0)
        return Error(Errc::config, "bucket URI parameter " + name + " is unknown; accepted: " + kS3Params);
    }
  } else if (out.scheme == "file" || out.scheme == "fs") {
    out.scheme = "file";
    out.path = std::string(rest);
    if (out.path.empty()) return Error(Errc::config, "bucket URI " + std::string(uri) + ": no directory");
    if (!out.params.empty()) return Error(Errc::config, "bucket URI " + std::string(uri) + ": file:// takes no parameters");
  } else if (out.scheme == "mem") {
    // nothing to parse
  } else {
    return Error(Errc::config, "bucket URI scheme " + out.scheme + " is unknown; accepted: s3, file, mem");
  }
  return out;
}

Result<OpenedStore> open_store(const BucketUri& uri, const OpenOptions& options) {
  OpenedStore opened;
  if (uri.scheme == "mem") {
    opened.backend = std::make_shared<MemStore>(options.multipart);
    opened.store = opened.backend;
    return opened;
  }
  if (uri.scheme == "file") {
    FsStoreOptions o;
    o.root = uri.path;
    o.fsync = options.fsync;
    o.multipart = options.multipart;
    auto fs = FsStore::open(o);
    if (!fs.ok()) return fs.take_error();
    opened.backend = std::shared_ptr<ObjectStore>(std::move(fs).value().release());
    opened.store = opened.backend;
    return opened;
  }
  S3Options s3;
  s3.bucket = uri.bucket;
  s3.region = resolve_region(uri.param("region"));
  s3.endpoint = uri.param("endpoint");
  if (s3.endpoint.empty()) {
    if (const char* e = std::getenv("AWS_ENDPOINT_URL_S3")) s3.endpoint = e;
    else if (const char* e2 = std::getenv("AWS_ENDPOINT_URL")) s3.endpoint = e2;
  }
  if (!s3.endpoint.empty() && s3.endpoint.rfind("http://", 0) != 0 && s3.endpoint.rfind("https://", 0) != 0)
    return Error(Errc::config, "bucket URI endpoint " + s3.endpoint + ": must start with http:// or https://");
  auto path_style = parse_bool(uri, "pathStyle", false);
  if (!path_style.ok()) return path_style.take_error();
  s3.path_style = path_style.value();
  auto sign_payload = parse_bool(uri, "signPayload", true);
  if (!sign_payload.ok()) return sign_payload.take_error();
  s3.sign_payload = sign_payload.value();
  s3.http.ca_bundle = uri.param("caBundle");
  if (s3.http.ca_bundle.empty()) {
    if (const char* ca = std::getenv("AWS_CA_BUNDLE")) s3.http.ca_bundle = ca;
  }
  if (std::string mc = uri.param("maxConnections"); !mc.empty()) {
    long n = std::strtol(mc.c_str(), nullptr, 10);
    if (n < 1 || n > 1024) return Error(Errc::config, "bucket URI parameter maxConnections=" + mc + ": expected 1..1024");
    s3.http.max_concurrent = static_cast<size_t>(n);
  }
  auto creds = resolve_credentials(Credentials{uri.param("accessKey"), uri.param("secretKey"), uri.param("sessionToken")});
  if (!creds.ok()) return creds.take_error();
  s3.credentials = creds->credentials;
  s3.multipart = options.multipart;
  opened.credentials_source = creds->source;
  opened.backend = std::make_shared<S3Store>(std::move(s3));
  opened.store = std::make_shared<RetryingStore>(opened.backend, options.retry);
  return opened;
}

}  // namespace floe::objectstore
