// `floe cluster status --bootstrap-controller HOST:PORT`: asks a controller for DescribeQuorum
// (following the answer to the leader, which alone knows every voter's progress) and prints the
// quorum the way Kafka's `kafka-metadata-quorum describe --status` and `--replication` do:
// leader, epoch, high watermark, max follower lag, voters and observers; then one row per replica
// (id, log end offset, lag behind the leader's log end, last fetch / caught-up times, role).
// Exit: 0 printed; 1 no controller reachable or it answered with an error; 2 usage.
#pragma once

namespace floe::admin {

int run_cluster_command(int argc, char** argv);

}  // namespace floe::admin
