// `floe perf produce` and `floe perf consume`: load generators in the spirit of Kafka's
// producer/consumer perf-test tools, speaking the Kafka protocol to any broker (floe or Kafka).
//
// produce: --records N of --record-size B bytes to --topic T (auto-created by the Metadata
//   request when the broker allows it), round-robin over its partitions, --batch-bytes per batch,
//   --acks (-1, 0, 1), --inflight requests pipelined per connection, optional --throughput limit
//   (records/s; 0 = unlimited). Reports records/s, MB/s and batch latency percentiles (send to
//   acknowledgement; every record of a batch shares its batch's latency), with a progress line
//   each second on stderr.
// consume: reads --records N (or until --timeout-ms passes without new data) from the earliest
//   offset of every partition of --topic; reports records/s and MB/s.
// Exit codes: 0 done; 1 the run failed (connection lost, a partition error); 2 usage.
#pragma once

namespace floe::admin {

// argv[0] = "perf", argv[1] = "produce" | "consume".
int run_perf_produce(int argc, char** argv);
int run_perf_consume(int argc, char** argv);

}  // namespace floe::admin
