// The controller's metadata state machine on the seeded Raft simulator (tests/raft/simulation.h):
// every replica of a simulated quorum (drops, delays, duplicates, partitions, crashes that lose
// unsynced writes, snapshots and FetchSnapshot) applies the committed entries with the real
// controller code — metadata/records.h decode_batch, MetadataState::apply_all — and snapshots
// and restores with the real snapshot encoding (metadata/snapshot.h). After every apply and every
// snapshot load, each replica's metadata state must equal the reference state rebuilt from the
// committed prefix, and every committed entry must apply (the controller stops on one that does
// not). Proposals are record batches of the kinds the controller writes (new topics with their
// partitions and streams, topic configs, broker registrations, leader changes), made by the
// leader from its own applied state.
//
// FLOE_METADATA_SIM_SEEDS (default 200; 30 under ASan) seeds from FLOE_METADATA_SIM_FIRST_SEED (default 1);
// FLOE_METADATA_SIM_SEED=<n> replays one.
#include <catch2/catch.hpp>
#include <cstdlib>

#include "metadata/image.h"
#include "metadata/records.h"
#include "metadata/snapshot.h"
#include "simulation.h"

using namespace floe;
using namespace floe::metadata;
using floe::raft::sim::Rng;
using floe::raft::sim::SimOptions;
using floe::raft::sim::SimStateMachine;
using floe::raft::sim::Simulation;

namespace {

Uuid uuid_from(uint64_t seq) {
  Uuid id;
  for (int i = 0; i < 8; ++i) id.bytes[static_cast<size_t>(8 + i)] = static_cast<uint8_t>(seq >> (8 * i));
  id.bytes[0] = 0x5a;  // never the zero uuid
  return id;
}

class MetadataMachine final : public SimStateMachine {
 public:
  std::string next_proposal(uint64_t seq, Rng& rng) override {
    std::vector<MetadataRecord> records;
    const auto& topics = state_.image.topics;
    // Only what stays valid on any later state: topics are never removed here, partitions only
    // grow, and a broker registration replaces the previous one.
    switch (topics.empty() ? 0 : rng.below(4)) {
      case 0: {
        protocol::TopicRecord t;
        t.name = "t" + std::to_string(seq);
        t.topic_id = uuid_from(seq);
        records.emplace_back(t);
        const int32_t partitions = 1 + static_cast<int32_t>(rng.below(3));
        for (int32_t p = 0; p < partitions; ++p) {
          protocol::FloePartitionRecord r;
          r.topic_id = t.topic_id;
          r.partition_id = p;
          r.stream_id = static_cast<int64_t>(seq * 16 + static_cast<uint64_t>(p));
          r.leader = 1 + static_cast<int32_t>(rng.below(3));
          records.emplace_back(r);
        }
        break;
      }
      case 1: {
        auto it = std::next(topics.begin(), static_cast<long>(rng.below(static_cast<int64_t>(topics.size()))));
        protocol::ConfigRecord c;
        c.resource_type = kTopicResourceType;
        c.resource_name = it->first;
        c.name = rng.below(2) ? "retention.ms" : "max.message.bytes";
        if (rng.below(4) != 0) c.value = std::to_string(seq);
        if (rng.below(2) == 0) {  // a dynamic broker config: the cluster default or one broker's
          c.resource_type = kBrokerResourceType;
          const int64_t broker = rng.below(4);
          c.resource_name = broker == 0 ? "" : std::to_string(broker);
          c.name = c.name == "retention.ms" ? "log.retention.ms" : "message.max.bytes";
        }
        records.emplace_back(c);
        if (rng.below(4) == 0) {  // a feature level change (level 0 removes the feature)
          records.emplace_back(protocol::FeatureLevelRecord{rng.below(2) ? "metadata.version" : "x.version",
                                                            static_cast<int16_t>(rng.below(8)), {}});
        }
        break;
      }
      case 2: {
        protocol::RegisterBrokerRecord b;
        b.broker_id = 1 + static_cast<int32_t>(rng.below(4));
        b.broker_epoch = static_cast<int64_t>(seq);
        b.incarnation_id = uuid_from(seq ^ 0xffff);
        b.fenced = rng.below(2) == 0;
        protocol::RegisterBrokerRecord::BrokerEndpoint e;
        e.name = "PLAINTEXT";
        e.host = "h" + std::to_string(b.broker_id);
        e.port = static_cast<uint16_t>(9000 + b.broker_id);
        b.end_points.push_back(e);
        records.emplace_back(b);
        break;
      }
      default: {
        auto it = std::next(topics.begin(), static_cast<long>(rng.below(static_cast<int64_t>(topics.size()))));
        if (it->second.partitions.empty()) break;
        protocol::PartitionChangeRecord c;
        c.topic_id = it->second.id;
        c.partition_id = static_cast<int32_t>(rng.below(static_cast<int64_t>(it->second.partitions.size())));
        c.leader = static_cast<int32_t>(rng.below(4));  // 0 stands for "offline" here: any id is a valid value
        records.emplace_back(c);
        break;
      }
    }
    if (records.empty()) {
      protocol::ConfigRecord c;  // a no-op-shaped write that always applies once a topic exists
      c.resource_type = kTopicResourceType;
      c.resource_name = topics.begin()->first;
      c.name = "retention.bytes";
      c.value = std::to_string(seq);
      records.emplace_back(c);
    }
    return encode_batch(records);
  }

  Status apply(const std::string& data) override {
    auto records = decode_batch(data);
    if (!records.ok()) return records.take_error();
    return state_.apply_all(*records);
  }
  std::string snapshot() const override { return encode_snapshot(state_); }
  Status restore(const std::string& snapshot) override {
    auto decoded = decode_snapshot(snapshot, 1);
    if (!decoded.ok()) return decoded.take_error();
    state_ = std::move(*decoded);
    return ok_status();
  }
  void reset() override { state_ = MetadataState(); }
  std::string fingerprint() const override { return encode_snapshot(state_); }

 private:
  MetadataState state_;
};

uint64_t env_u64(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::strtoull(value, nullptr, 10) : fallback;
}

}  // namespace

TEST_CASE("the_metadata_state_machine_stays_identical_on_every_replica_of_a_simulated_quorum") {
  const uint64_t first = env_u64("FLOE_METADATA_SIM_SEED", env_u64("FLOE_METADATA_SIM_FIRST_SEED", 1));
#if defined(__SANITIZE_ADDRESS__)
  constexpr uint64_t kDefaultSeeds = 30;  // ~50x slower under ASan+UBSan; the release run does 200
#else
  constexpr uint64_t kDefaultSeeds = 200;
#endif
  const uint64_t count = std::getenv("FLOE_METADATA_SIM_SEED") ? 1 : env_u64("FLOE_METADATA_SIM_SEEDS", kDefaultSeeds);
  uint64_t applies = 0, committed = 0, installs = 0;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    SimOptions options = SimOptions::for_seed(seed);
    options.state_machine = [] { return std::make_unique<MetadataMachine>(); };
    // Metadata snapshots are kilobytes (the digest's are bytes): chunks of 1-5 KiB still take
    // several FetchSnapshot round trips, without starving the healed phase.
    options.snapshot_chunk_bytes = 1024 + static_cast<int32_t>(seed * 37 % 4096);
    Simulation sim(seed, options);
    auto failure = sim.run();
    if (failure) FAIL("seed " << seed << " failed: " << *failure << "\nreplay with FLOE_METADATA_SIM_SEED=" << seed);
    applies += sim.stats().machine_applies;
    committed += sim.stats().committed_entries;
    installs += static_cast<uint64_t>(sim.stats().snapshots_installed);
  }
  std::printf("metadata raft simulation: %llu seeds, %llu committed entries, %llu metadata applies, %llu snapshots "
              "installed\n",
              static_cast<unsigned long long>(count), static_cast<unsigned long long>(committed),
              static_cast<unsigned long long>(applies), static_cast<unsigned long long>(installs));
  if (count >= 30) {
    CHECK(applies > committed);  // several replicas applied the entries
    CHECK(installs > 0);         // and some got their state from a metadata snapshot
  }
}

TEST_CASE("a_replica_whose_state_diverged_is_caught_by_the_metadata_simulation") {
  // The check must bite: a machine that silently drops every 7th config change diverges.
  class Lossy final : public SimStateMachine {
   public:
    std::string next_proposal(uint64_t seq, Rng& rng) override { return inner_.next_proposal(seq, rng); }
    Status apply(const std::string& data) override {
      if (++applied_ % 7 == 0 && lossy_) return ok_status();
      return inner_.apply(data);
    }
    std::string snapshot() const override { return inner_.snapshot(); }
    Status restore(const std::string& s) override { return inner_.restore(s); }
    void reset() override { inner_.reset(); }
    std::string fingerprint() const override { return inner_.fingerprint(); }
    bool lossy_ = true;

   private:
    MetadataMachine inner_;
    uint64_t applied_ = 0;
  };
  int instance = 0;
  SimOptions options = SimOptions::for_seed(2);
  options.snapshot_chunk_bytes = 256;
  options.state_machine = [&instance]() -> std::unique_ptr<SimStateMachine> {
    auto m = std::make_unique<Lossy>();
    m->lossy_ = instance++ == 2;  // one replica (not the reference, made last) loses entries
    return m;
  };
  Simulation sim(2, options);
  auto failure = sim.run();
  REQUIRE(failure.has_value());
  CHECK(failure->find("state machine safety") != std::string::npos);
}
