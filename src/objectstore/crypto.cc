#include "objectstore/crypto.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/assert.h"
#include "common/bytes.h"

namespace floe::objectstore {

namespace {
template <size_t N>
std::array<uint8_t, N> digest(const EVP_MD* md, std::span<const uint8_t> data) {
  std::array<uint8_t, N> out{};
  unsigned int len = 0;
  int rc = EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr);
  FLOE_ASSERT(rc == 1 && len == N);
  return out;
}
}  // namespace

Sha256Digest sha256(std::span<const uint8_t> data) { return digest<32>(EVP_sha256(), data); }

std::string sha256_hex(std::span<const uint8_t> data) { return to_hex(sha256(data)); }

std::string sha256_hex(std::string_view text) { return sha256_hex(as_bytes(text)); }

Sha256Digest hmac_sha256(std::span<const uint8_t> key, std::string_view message) {
  Sha256Digest out{};
  unsigned int len = 0;
  const uint8_t* rc = HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                           reinterpret_cast<const uint8_t*>(message.data()), message.size(), out.data(), &len);
  FLOE_ASSERT(rc != nullptr && len == 32);
  return out;
}

std::string md5_hex(std::span<const uint8_t> data) { return to_hex(digest<16>(EVP_md5(), data)); }

std::string md5_base64(std::span<const uint8_t> data) { return base64_encode(digest<16>(EVP_md5(), data)); }

std::string base64_encode(std::span<const uint8_t> data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(), static_cast<int>(data.size()));
  FLOE_ASSERT(n >= 0);
  out.resize(static_cast<size_t>(n));
  return out;
}

}  // namespace floe::objectstore
