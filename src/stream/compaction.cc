// StreamManager::compact_now / gc_now: see stream_manager.h.
#include "stream/stream_manager.h"

namespace floe::stream {

Status StreamManager::compact_now() { return {}; }
Status StreamManager::gc_now() { return {}; }

}  // namespace floe::stream
