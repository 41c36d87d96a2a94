// The broker's name for the Kafka error-code table (protocol/errors.h).
#pragma once

#include "protocol/errors.h"

namespace floe::broker {
namespace kerr = ::floe::protocol::kerr;
}  // namespace floe::broker
