#include "admin/storage_cli.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <string_view>

#include "objectstore/blocking.h"
#include "objectstore/bucket_uri.h"
#include "stream/inspect.h"

namespace floe::admin {

namespace os = floe::objectstore;

namespace {

const char* kUsage =
    "Usage:\n"
    "  floe storage probe --bucket URI [--size BYTES] [--multipart-size BYTES] [--prefix P]\n"
    "  floe storage inspect wal PATH          print a block WAL's header slots, records and entries\n"
    "  floe storage inspect wal URI           print an object WAL's objects (wal-* under s3:// or fs://)\n"
    "  floe storage inspect object URI KEY    print an object's footer and index, checking CRCs\n"
    "\n"
    "  URI: 0@s3://bucket?region=us-east-1&endpoint=http://127.0.0.1:9000&pathStyle=true\n"
    "       0@file:///var/lib/floe/objects\n"
    "  Credentials: accessKey=/secretKey= in the URI, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,\n"
    "  or ~/.aws/credentials (AWS_PROFILE). Exit 0: all steps passed; 1: a step failed; 2: usage.\n";

std::string hint_for(const Error& e) {
  const std::string& c = e.detail().service_code;
  if (c == "SignatureDoesNotMatch")
    return "the secret key does not match the access key: check secretKey= / AWS_SECRET_ACCESS_KEY "
           "(a proxy that rewrites requests causes this too)";
  if (c == "InvalidAccessKeyId")
    return "this endpoint does not know the access key: check accessKey= / AWS_ACCESS_KEY_ID and that endpoint= "
           "names the right service";
  if (c == "RequestTimeTooSkewed")
    return "clock skew: this machine's clock is more than 15 minutes off the server's; sync it (NTP/chrony)";
  if (c == "AuthorizationHeaderMalformed" || c == "PermanentRedirect" || c == "IllegalLocationConstraintException" ||
      e.detail().http_status == 301 || e.message.find("region") != std::string::npos)
    return "wrong region: the bucket lives in another region than region= says (the message may name it)";
  if (c == "NoSuchBucket") return "the bucket does not exist: create it, or check its name and endpoint=";
  if (c == "AccessDenied")
    return "the credentials are valid but not allowed: grant s3:PutObject, s3:GetObject, s3:ListBucket, "
           "s3:DeleteObject and s3:AbortMultipartUpload on the bucket";
  if (c == "FloeConnectFailed") return "cannot connect: check endpoint= (scheme, host, port) and that the server runs";
  if (c == "FloeTlsVerify") return "TLS verification failed: use caBundle=/path/ca.pem for a private CA";
  if (c == "FloeTimeout" || c == "FloeFirstByteTimeout" || e.code == Errc::timeout)
    return "the endpoint did not answer in time: check the network path and the server's load";
  if (c == "SlowDown" || e.detail().http_status >= 500) return "the server is failing or throttling: retry later";
  if (c == "FloeBadEndpoint") return "endpoint= is not a valid http:// or https:// URL";
  return "see the error code above";
}

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

SharedBytes random_bytes(size_t n) {
  Bytes b(n);
  std::mt19937_64 rng(std::random_device{}());
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    for (size_t j = 0; j < 8 && i + j < n; ++j) b[i + j] = static_cast<uint8_t>(v >> (8 * j));
  }
  return SharedBytes(std::move(b));
}

std::string human_bytes(uint64_t n) {
  char buf[32];
  if (n >= (1u << 20)) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(n) / (1 << 20));
  } else if (n >= 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(n) / 1024);
  } else {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  }
  return buf;
}

struct Probe {
  os::BlockingStore store;
  int failures = 0;

  // Prints one step line; on failure also the error and a hint. Returns whether it passed.
  bool report(const std::string& step, std::chrono::steady_clock::time_point started, const Error* error,
              const std::string& mismatch = "") {
    double ms = ms_since(started);
    if (!error && mismatch.empty()) {
      std::printf("  %-44s ok   %9.1f ms\n", step.c_str(), ms);
      std::fflush(stdout);
      return true;
    }
    ++failures;
    std::printf("  %-44s FAIL %9.1f ms\n", step.c_str(), ms);
    if (error) {
      std::printf("error: %s\n", error->to_string().c_str());
      const std::string& service_code = error->detail().service_code;
      std::printf("code: %s\n", service_code.empty() ? errc_name(error->code) : service_code.c_str());
      std::printf("hint: %s\n", hint_for(*error).c_str());
    } else {
      std::printf("error: %s\n", mismatch.c_str());
      std::printf("hint: the store returned different bytes than were written (a proxy or a broken backend)\n");
    }
    std::fflush(stdout);
    return false;
  }
};

int probe(const std::string& uri_text, uint64_t size_bytes, uint64_t multipart_bytes, const std::string& user_prefix) {
  auto uri = os::parse_bucket_uri(uri_text);
  if (!uri.ok()) {
    std::fprintf(stderr, "floe storage probe: %s\n", uri.error().message.c_str());
    return 2;
  }
  os::OpenOptions options;
  options.multipart = os::MultipartPolicy{5ull << 20, 5ull << 20, 4};
  options.retry = os::RetryPolicy{4, 100, 1000, 15000};
  auto opened = os::open_store(uri.value(), options);
  if (!opened.ok()) {
    std::fprintf(stderr, "floe storage probe: %s\n", opened.error().message.c_str());
    return 2;
  }
  std::printf("probing %s\n", opened->store->describe().c_str());
  if (!opened->credentials_source.empty()) std::printf("credentials from %s\n", opened->credentials_source.c_str());

  char host[64] = "host";
  ::gethostname(host, sizeof host - 1);
  std::string prefix = user_prefix + "floe-probe-" + host + "-" + std::to_string(::getpid()) + "-" +
                       std::to_string(std::chrono::system_clock::now().time_since_epoch().count() % 1000000000) + "-";
  std::string small_key = prefix + "small";
  std::string big_key = prefix + "multipart";
  Probe p{os::BlockingStore(*opened->store)};
  auto t = std::chrono::steady_clock::now();

  auto small = random_bytes(static_cast<size_t>(size_bytes));
  t = std::chrono::steady_clock::now();
  auto put = p.store.put_object(small_key, small);
  if (!p.report("put " + human_bytes(size_bytes), t, put.ok() ? nullptr : &put.error())) return 1;

  uint64_t offset = size_bytes / 3;
  uint64_t len = std::min<uint64_t>(64 * 1024, size_bytes - offset);
  t = std::chrono::steady_clock::now();
  auto ranged = p.store.get(small_key, os::ByteRange{offset, len});
  std::string mismatch;
  if (ranged.ok() && !(ranged->body == small.slice(offset, len))) mismatch = "ranged get returned different bytes";
  if (!p.report("ranged get " + human_bytes(len) + " at " + std::to_string(offset), t,
                ranged.ok() ? nullptr : &ranged.error(), mismatch))
    return 1;

  t = std::chrono::steady_clock::now();
  auto listed = p.store.list(os::ListRequest{prefix, "", 100});
  if (listed.ok() && (listed->objects.size() != 1 || listed->objects[0].key != small_key ||
                      listed->objects[0].size_bytes != size_bytes))
    mismatch = "list did not show exactly the probe object with its size";
  if (!p.report("list " + prefix, t, listed.ok() ? nullptr : &listed.error(), mismatch)) return 1;

  auto big = random_bytes(static_cast<size_t>(multipart_bytes));
  t = std::chrono::steady_clock::now();
  auto mp = p.store.multipart_put(big_key, big, options.multipart);
  if (!p.report("multipart put " + human_bytes(multipart_bytes) + " (5 MiB parts)", t, mp.ok() ? nullptr : &mp.error())) {
    // The failed upload was aborted by multipart_put; still remove the first object.
    (void)p.store.delete_keys({small_key});
    return 1;
  }
  uint64_t boundary = options.multipart.part_size_bytes - 1000;
  uint64_t span = std::min<uint64_t>(2000, multipart_bytes - boundary);
  t = std::chrono::steady_clock::now();
  auto across = p.store.get(big_key, os::ByteRange{boundary, span});
  if (across.ok() && !(across->body == big.slice(boundary, span))) mismatch = "bytes across a part boundary differ";
  if (!p.report("ranged get across a part boundary", t, across.ok() ? nullptr : &across.error(), mismatch)) return 1;

  t = std::chrono::steady_clock::now();
  auto del = p.store.delete_keys({small_key, big_key});
  if (del.ok() && !del->errors.empty()) {
    Error e = os::store_error(Errc::io, del->errors[0].key + ": " + del->errors[0].message, del->errors[0].code);
    p.report("delete 2 objects", t, &e);
    return 1;
  }
  if (!p.report("delete 2 objects", t, del.ok() ? nullptr : &del.error())) return 1;
  auto after = p.store.list(os::ListRequest{prefix, "", 100});
  if (after.ok() && !after->objects.empty()) {
    p.report("list after delete", std::chrono::steady_clock::now(), nullptr, "deleted objects are still listed");
    return 1;
  }
  std::printf("all steps passed\n");
  return 0;
}

bool parse_size(const char* text, uint64_t* out) {
  char* end = nullptr;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0') return false;
  *out = v;
  return true;
}

// `inspect wal PATH` | `inspect object URI KEY`: read-only views for operators. Exit 0 when
// everything parsed and every CRC held, 1 when something is damaged, 2 on usage errors.
int inspect(int argc, char** argv) {
  if (argc == 2 && std::string_view(argv[0]) == "wal") {
    // An object WAL's URI (s3://, fs://, also with an id@ prefix); a path or file:// is a block WAL.
    const std::string_view arg = argv[1];
    if (arg.find("://") != std::string_view::npos && arg.find("file://") == std::string_view::npos) {
      auto uri = os::parse_bucket_uri(arg);
      if (!uri.ok()) {
        std::fprintf(stderr, "floe storage inspect: %s\n", uri.error().message.c_str());
        return 2;
      }
      auto opened = os::open_store(uri.value());
      if (!opened.ok()) {
        std::fprintf(stderr, "floe storage inspect: %s\n", opened.error().message.c_str());
        return 2;
      }
      return stream::inspect_object_wal(*opened->store);
    }
    return stream::inspect_wal(std::string(arg.substr(arg.rfind("file://", 0) == 0 ? 7 : 0)));
  }
  if (argc == 3 && std::string_view(argv[0]) == "object") {
    auto uri = os::parse_bucket_uri(argv[1]);
    if (!uri.ok()) {
      std::fprintf(stderr, "floe storage inspect: %s\n", uri.error().message.c_str());
      return 2;
    }
    auto opened = os::open_store(uri.value());
    if (!opened.ok()) {
      std::fprintf(stderr, "floe storage inspect: %s\n", opened.error().message.c_str());
      return 2;
    }
    return stream::inspect_object(*opened->store, argv[2]);
  }
  std::fprintf(stderr, "floe storage inspect: expected 'wal PATH', 'wal URI' or 'object URI KEY'\n\n%s", kUsage);
  return 2;
}

}  // namespace

int run_storage_command(int argc, char** argv) {
  int i = 0;
  while (i < argc && (std::string_view(argv[i]) == "storage" || std::string_view(argv[i]).find("floe") != std::string_view::npos))
    ++i;
  if (i >= argc || std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h") {
    std::fputs(kUsage, i >= argc ? stderr : stdout);
    return i >= argc ? 2 : 0;
  }
  if (std::string_view(argv[i]) == "inspect") return inspect(argc - i - 1, argv + i + 1);
  if (std::string_view(argv[i]) != "probe") {
    std::fprintf(stderr, "floe storage: unknown command '%s'\n\n%s", argv[i], kUsage);
    return 2;
  }
  std::string bucket;
  std::string prefix;
  uint64_t size_bytes = 1 << 20;
  uint64_t multipart_bytes = (11u << 20) + 123;
  for (++i; i < argc; ++i) {
    std::string_view a = argv[i];
    bool has_value = i + 1 < argc;
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--bucket" && has_value) {
      bucket = argv[++i];
    } else if (a == "--prefix" && has_value) {
      prefix = argv[++i];
    } else if (a == "--size" && has_value) {
      if (!parse_size(argv[++i], &size_bytes) || size_bytes < 16 || size_bytes > (1ull << 30)) {
        std::fprintf(stderr, "floe storage probe: --size must be 16 .. 1073741824 bytes\n");
        return 2;
      }
    } else if (a == "--multipart-size" && has_value) {
      if (!parse_size(argv[++i], &multipart_bytes) || multipart_bytes < (5ull << 20) + 1 ||
          multipart_bytes > (1ull << 30)) {
        std::fprintf(stderr, "floe storage probe: --multipart-size must be 5 MiB + 1 .. 1 GiB\n");
        return 2;
      }
    } else {
      std::fprintf(stderr, "floe storage probe: unexpected argument '%s'\n\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (bucket.empty()) {
    std::fprintf(stderr, "floe storage probe: --bucket URI is required\n\n%s", kUsage);
    return 2;
  }
  return probe(bucket, size_bytes, multipart_bytes, prefix);
}

}  // namespace floe::admin
