// Deterministic simulation of the Raft quorum (see simulation.h for what is checked).
//
// CI runs FLOE_RAFT_SEEDS seeds (default 5000, a few seconds) starting at FLOE_RAFT_FIRST_SEED
// (default 1); run more locally with FLOE_RAFT_SEEDS=100000, or replay one failing seed exactly
// with FLOE_RAFT_SEED=<n>.
#include "simulation.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace {

using floe::raft::sim::SimOptions;
using floe::raft::sim::Simulation;

volatile uint64_t g_current_seed = 0;

void print_seed_on_abort(int) {
  char text[128];
  int length = std::snprintf(text, sizeof(text), "\nraft simulation aborted: replay with FLOE_RAFT_SEED=%llu\n",
                             static_cast<unsigned long long>(g_current_seed));
  if (length > 0) (void)!write(2, text, static_cast<size_t>(length));
  std::signal(SIGABRT, SIG_DFL);
  std::raise(SIGABRT);
}

uint64_t env_u64(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::strtoull(value, nullptr, 10) : fallback;
}

}  // namespace

TEST_CASE("simulated_quorums_keep_raft_safety_and_liveness_under_faults") {
  std::signal(SIGABRT, print_seed_on_abort);
  uint64_t first = env_u64("FLOE_RAFT_SEED", env_u64("FLOE_RAFT_FIRST_SEED", 1));
  uint64_t count = std::getenv("FLOE_RAFT_SEED") ? 1 : env_u64("FLOE_RAFT_SEEDS", 5000);
  auto started = std::chrono::steady_clock::now();
  uint64_t steps = 0, elections = 0, crashes = 0, committed = 0, acked = 0, snapshots = 0, installs = 0;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    g_current_seed = seed;
    Simulation sim(seed, SimOptions::for_seed(seed));
    auto failure = sim.run();
    if (failure) {
      FAIL("seed " << seed << " failed: " << *failure << "\nreplay with FLOE_RAFT_SEED=" << seed);
    }
    steps += sim.stats().steps;
    elections += static_cast<uint64_t>(sim.stats().elections);
    crashes += static_cast<uint64_t>(sim.stats().crashes);
    committed += sim.stats().committed_entries;
    acked += static_cast<uint64_t>(sim.stats().acked_proposals);
    snapshots += static_cast<uint64_t>(sim.stats().snapshots_taken);
    installs += static_cast<uint64_t>(sim.stats().snapshots_installed);
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("raft simulation: %llu seeds, %llu steps, %llu elections, %llu crashes, %llu committed entries, "
              "%llu acknowledged proposals, %llu snapshots taken, %llu installed by FetchSnapshot, %.1f s\n",
              static_cast<unsigned long long>(count), static_cast<unsigned long long>(steps),
              static_cast<unsigned long long>(elections), static_cast<unsigned long long>(crashes),
              static_cast<unsigned long long>(committed), static_cast<unsigned long long>(acked),
              static_cast<unsigned long long>(snapshots), static_cast<unsigned long long>(installs), seconds);
  // Snapshots must actually be exercised: taken, and downloaded by laggards.
  if (count >= 200) {
    CHECK(snapshots > 0);
    CHECK(installs > 0);
  }
  std::signal(SIGABRT, SIG_DFL);
}

TEST_CASE("a_seed_replays_exactly") {
  for (uint64_t seed : {7ull, 8ull, 9ull}) {
    Simulation first(seed, SimOptions::for_seed(seed));
    Simulation second(seed, SimOptions::for_seed(seed));
    REQUIRE_FALSE(first.run().has_value());
    REQUIRE_FALSE(second.run().has_value());
    CHECK(first.stats().trace_digest == second.stats().trace_digest);
    CHECK(first.stats().steps == second.stats().steps);
    CHECK(first.stats().committed_entries == second.stats().committed_entries);
  }
}
