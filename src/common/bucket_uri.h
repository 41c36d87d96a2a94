// BucketUri: where a bucket (or a WAL) lives, as floe's configuration writes it (DESIGN.md
// "Configuration", AutoMQ's style): `[id@]s3://bucket?region=..&endpoint=..&pathStyle=true`,
// `[id@]fs://path` or `file://path` (a local directory; for s3.wal.path, file:// is a block WAL),
// `mem://` (an in-memory store, tests).
//
// One parser for everyone: config validation (common/config.h, at startup, naming the key) and
// the object store when it opens a bucket (objectstore/bucket_uri.h) accept and refuse exactly
// the same strings. Parameters are percent-decoded; every s3 parameter name must be known and
// the ones with a fixed form (endpoint, pathStyle, signPayload, region, maxConnections) are
// checked here; credentials are taken as given.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"

namespace floe {

struct BucketUri {
  int32_t id = 0;                             // the `N@` prefix, [0, 9999]; 0 when absent
  std::string scheme;                         // s3 | fs | file | mem, as written
  std::string bucket;                         // s3: the bucket name
  std::string path;                           // fs/file: the directory (or the WAL's file/device)
  std::map<std::string, std::string> params;  // s3 only, percent-decoded
  std::string param(const std::string& name) const {
    auto it = params.find(name);
    return it == params.end() ? std::string() : it->second;
  }
  bool is_local_dir() const { return scheme == "fs" || scheme == "file"; }
};

inline constexpr std::string_view kAllBucketSchemes[] = {"s3", "fs", "file", "mem"};

// The text with the values of the credential parameters (accessKey, secretKey, sessionToken)
// replaced by "***", for logs and error messages. Works on a single entry or a comma list.
std::string redact_bucket_uri(std::string_view text);

// Parses one entry; `schemes` lists the schemes the caller accepts (in the order the error
// message names them). Errors are Errc::config, with a message naming the offending part.
Result<BucketUri> parse_bucket_uri(std::string_view entry, std::span<const std::string_view> schemes = kAllBucketSchemes);

}  // namespace floe
