// `floe serve`: wires one node together from a validated configuration and runs it until
// SIGTERM or SIGINT. Three shapes, by process.roles:
//  - broker,controller: a single node; its broker calls the in-process Controller (a single-voter
//    Raft metadata log in metadata.log.dir);
//  - controller: one voter of a metadata quorum (controller.quorum.voters); its CONTROLLER
//    listener carries Raft plus the controller API (admin/controller_api.h);
//  - broker: a broker of a cluster whose quorum runs on the voters of controller.quorum.voters
//    (none of them this node): it follows the metadata log as a Raft observer and sends its
//    controller writes to the leader (metadata/remote_controller.h), registers, heartbeats every
//    broker.heartbeat.interval.ms and refuses writes once its heartbeats failed for
//    broker.session.timeout.ms.
//
// Broker startup order (each step's failure stops startup with a message naming what failed):
//   data.dir → controller (in process, or the remote quorum: waits until the local replica knows
//   a leader and replayed the log) → object store (s3.data.buckets) → WAL (s3.wal.path) and its
//   recovery → stream manager (re-uploads recovered WAL data before serving) → broker (registers
//   and, in a cluster, waits to be unfenced; opens the partitions it leads) → Kafka listener. Then
//   one line on stdout says where it listens.
// Shutdown (SIGTERM/SIGINT): a cluster broker first heartbeats want_shut_down (controlled
// shutdown: nothing new is placed here); stop accepting connections; waiting fetches answer, new
// produce requests are refused (NOT_LEADER_OR_FOLLOWER, so clients retry elsewhere or after the
// restart); requests already running finish (up to 10 s); then close connections, close
// partitions (uploading their cached tails and closing their streams, so the controller moves
// them), flush, wait (up to 10 s) for the controller's should_shut_down, close the stream manager
// and the controller client; exit 0.
// Threads: the calling thread only waits for signals; every subsystem owns its threads.
#pragma once

#include <cstdio>

#include "common/config.h"

namespace floe::admin {

// Returns the process exit code (0 after a clean shutdown, 1 when startup failed).
int serve(const config::Config& config, std::FILE* out, std::FILE* err);

}  // namespace floe::admin
