// `floe serve`: wires one node together from a validated configuration and runs it until
// SIGTERM or SIGINT.
//
// Startup order (each step's failure stops startup with a message naming what failed):
//   data.dir → controller (Raft metadata log in metadata.log.dir; a single voter today) →
//   object store (s3.data.buckets) → WAL (s3.wal.path) and its recovery → stream manager
//   (re-uploads recovered WAL data before serving) → broker (registers, opens partitions) →
//   Kafka listener. Then one line on stdout says where it listens.
// Shutdown (SIGTERM/SIGINT): stop accepting connections; waiting fetches answer, new produce
// requests are refused (NOT_LEADER_OR_FOLLOWER, so clients retry after the restart); requests
// already running finish (up to 10 s); then close connections, close partitions (uploading their
// cached tails), flush and close the stream manager, close the controller; exit 0.
// Threads: the calling thread only waits for signals; every subsystem owns its threads.
#pragma once

#include <cstdio>

#include "common/config.h"

namespace floe::admin {

// Returns the process exit code (0 after a clean shutdown, 1 when startup failed).
int serve(const config::Config& config, std::FILE* out, std::FILE* err);

}  // namespace floe::admin
