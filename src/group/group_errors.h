// The Kafka error codes the group coordinator answers with: the one table in protocol/errors.h,
// under the name this folder uses.
#pragma once

#include "protocol/errors.h"

namespace floe::broker {
namespace kafka_error = ::floe::protocol::kerr;
}  // namespace floe::broker
