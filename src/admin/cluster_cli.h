// `floe cluster status --bootstrap-controller HOST:PORT`: asks a controller for DescribeQuorum
// (following the answer to the leader, which alone knows every voter's progress) and prints the
// quorum the way Kafka's `kafka-metadata-quorum describe --status` and `--replication` do:
// leader, epoch, high watermark, max follower lag, voters and observers; then one row per replica
// (id, log end offset, lag behind the leader's log end, last fetch / caught-up times, role).
// `floe cluster reassign --bootstrap-server HOST:PORT --topic T --partition N (--broker B | --cancel)`:
// AlterPartitionReassignments v0 (replicas [B], or null to cancel) to a broker (it forwards to the
// controller) or a controller listener; `floe cluster reassignments --bootstrap-server HOST:PORT
// [--topic T]`: ListPartitionReassignments, one row per move in progress (replicas, adding,
// removing), like kafka-reassign-partitions --verify lists them.
// Exit: 0 printed; 1 no controller/broker reachable or it answered with an error; 2 usage.
#pragma once

namespace floe::admin {

int run_cluster_command(int argc, char** argv);

}  // namespace floe::admin
