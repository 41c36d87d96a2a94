#include "admin/versions.h"

#include <curl/curl.h>
#include <lz4.h>
#include <openssl/crypto.h>
#include <snappy-stubs-public.h>
#include <zlib.h>
#include <zstd.h>

namespace floe::admin {

std::string linked_library_versions() {
  std::string out;
  const curl_version_info_data* curl = curl_version_info(CURLVERSION_NOW);
  out += "libcurl ";
  out += curl->version;
  if (curl->ssl_version) out += std::string(" (") + curl->ssl_version + ")";
  out += ", OpenSSL ";
  out += OpenSSL_version(OPENSSL_VERSION_STRING);
  out += ", zstd ";
  out += ZSTD_versionString();
  out += ", lz4 ";
  out += LZ4_versionString();
  out += ", zlib ";
  out += zlibVersion();
  // snappy has no run-time version call; its header states the version it was built against.
  out += ", snappy " + std::to_string(SNAPPY_MAJOR) + "." + std::to_string(SNAPPY_MINOR) + "." +
         std::to_string(SNAPPY_PATCHLEVEL);
  return out;
}

}  // namespace floe::admin
