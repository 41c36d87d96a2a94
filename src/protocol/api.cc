#include "protocol/api.h"

#include <algorithm>

namespace floe::protocol {

const ApiInfo* find_api(int16_t api_key) {
  auto apis = all_apis();
  auto it = std::lower_bound(apis.begin(), apis.end(), api_key,
                             [](const ApiInfo& a, int16_t key) { return a.key < key; });
  if (it == apis.end() || it->key != api_key) return nullptr;
  return &*it;
}

int16_t request_header_version(int16_t api_key, int16_t api_version) {
  const ApiInfo* api = find_api(api_key);
  FLOE_ASSERT(api != nullptr);
  if (api_version >= api->first_flexible_version) return 2;
  if (api_key == api_key::kControlledShutdown && api_version == 0) return 0;
  return 1;
}

int16_t response_header_version(int16_t api_key, int16_t api_version) {
  const ApiInfo* api = find_api(api_key);
  FLOE_ASSERT(api != nullptr);
  if (api_key == api_key::kApiVersions) return 0;
  return api_version >= api->first_flexible_version ? 1 : 0;
}

}  // namespace floe::protocol
