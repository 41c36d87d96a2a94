// Kafka protocol error codes used by the broker's handlers (Kafka's Errors table; the numbers
// are wire format, fixed forever). log/partition.h repeats the few a partition decides itself.
#pragma once

#include <cstdint>

namespace floe::broker::kerr {
inline constexpr int16_t kUnknownServerError = -1;
inline constexpr int16_t kNone = 0;
inline constexpr int16_t kOffsetOutOfRange = 1;
inline constexpr int16_t kCorruptMessage = 2;
inline constexpr int16_t kUnknownTopicOrPartition = 3;
inline constexpr int16_t kInvalidFetchSize = 4;
inline constexpr int16_t kLeaderNotAvailable = 5;
inline constexpr int16_t kNotLeaderOrFollower = 6;
inline constexpr int16_t kRequestTimedOut = 7;
inline constexpr int16_t kMessageTooLarge = 10;
inline constexpr int16_t kCoordinatorLoadInProgress = 14;
inline constexpr int16_t kCoordinatorNotAvailable = 15;
inline constexpr int16_t kNotCoordinator = 16;
inline constexpr int16_t kInvalidTopicException = 17;
inline constexpr int16_t kInvalidRequiredAcks = 21;
inline constexpr int16_t kUnsupportedVersion = 35;
inline constexpr int16_t kTopicAlreadyExists = 36;
inline constexpr int16_t kInvalidPartitions = 37;
inline constexpr int16_t kInvalidRequest = 42;
inline constexpr int16_t kPolicyViolation = 44;
inline constexpr int16_t kInvalidConfig = 40;
inline constexpr int16_t kNotController = 41;
inline constexpr int16_t kInvalidProducerEpoch = 47;
inline constexpr int16_t kTransactionalIdAuthorizationFailed = 53;
inline constexpr int16_t kKafkaStorageError = 56;
inline constexpr int16_t kFetchSessionIdNotFound = 70;
inline constexpr int16_t kInvalidFetchSessionEpoch = 71;
inline constexpr int16_t kFencedLeaderEpoch = 74;
inline constexpr int16_t kUnknownLeaderEpoch = 76;
inline constexpr int16_t kUnknownTopicId = 100;
inline constexpr int16_t kInconsistentTopicId = 103;
}  // namespace floe::broker::kerr
