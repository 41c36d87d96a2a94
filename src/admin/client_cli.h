// The client-side admin verbs of the floe binary, for hosts without Kafka's shell tools:
//   floe topic create|list|describe|delete   (CreateTopics, Metadata, DescribeConfigs, DeleteTopics)
//   floe produce                             (stdin lines -> idempotent, batched Produce)
//   floe consume                             (Fetch -> stdout, every codec; optional offset commits)
//   floe group list|describe                 (ListGroups; DescribeGroups + OffsetFetch + ListOffsets)
// They speak the Kafka protocol to any broker (floe or Kafka). Each takes (argc, argv) with argv[0]
// the verb. Exit status: 0 ok; 1 the command ran and failed (unreachable server, an error answer:
// Kafka's error name and message are printed); 2 usage error (the message names the option).
#pragma once

namespace floe::admin {

int run_topic_command(int argc, char** argv);
int run_produce_command(int argc, char** argv);
int run_consume_command(int argc, char** argv);
int run_group_command(int argc, char** argv);

}  // namespace floe::admin
