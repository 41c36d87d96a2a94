// Hashing primitives the S3 client needs (SHA-256, HMAC-SHA-256, MD5, base64), over OpenSSL's
// EVP/HMAC one-shot functions.
//
// Thread safety: every function is pure and safe to call from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace floe::objectstore {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest sha256(std::span<const uint8_t> data);
std::string sha256_hex(std::span<const uint8_t> data);
std::string sha256_hex(std::string_view text);
Sha256Digest hmac_sha256(std::span<const uint8_t> key, std::string_view message);
// MD5 of data, base64-encoded: the Content-MD5 header DeleteObjects requires.
std::string md5_base64(std::span<const uint8_t> data);
std::string md5_hex(std::span<const uint8_t> data);
std::string base64_encode(std::span<const uint8_t> data);

inline std::span<const uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace floe::objectstore
