#include "objectstore/bucket_uri.h"


#include "objectstore/credentials.h"
#include "objectstore/fs_store.h"
#include "objectstore/mem_store.h"
#include "objectstore/s3_store.h"

namespace floe::objectstore {

namespace {

Result<bool> parse_bool(const BucketUri& uri, const std::string& name, bool fallback) {
  std::string v = uri.param(name);
  if (v.empty()) return fallback;
  if (v == "true") return true;
  if (v == "false") return false;
  return Error(Errc::config, "bucket URI parameter " + name + "=" + v + ": expected true or false");
}

}  // namespace

Result<OpenedStore> open_store(const BucketUri& uri, const OpenOptions& options) {
  OpenedStore opened;
  if (uri.scheme == "mem") {
    opened.backend = std::make_shared<MemStore>(options.multipart);
    opened.store = opened.backend;
    return opened;
  }
  if (uri.is_local_dir()) {
    FsStoreOptions o;
    o.root = uri.path;
    o.fsync = options.fsync;
    o.multipart = options.multipart;
    o.thread_nice = options.thread_nice;
    if (options.local_dir_threads > 0) o.threads = options.local_dir_threads;
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
  s3.http.thread_nice = options.thread_nice;
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
  opened.retrying = std::make_shared<RetryingStore>(opened.backend, options.retry);
  opened.store = opened.retrying;
  return opened;
}

}  // namespace floe::objectstore
