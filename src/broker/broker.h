// Broker: the Kafka API handlers of one floe node (DESIGN.md broker/). It turns framed requests
// from net/ into calls on the partitions it owns (log/ over stream/), the controller's metadata
// (metadata/) and the group coordinator (group/), and encodes the answers.
//
// Requests: net/ calls handle() on a connection's I/O thread; the header and body are decoded
// with the generated codecs at the request's version, the handler runs without blocking, and the
// answer is encoded at the same version (response header per Kafka's rules) and handed to the
// Responder from whatever thread completes it (net/ keeps per-connection order).
//  - Unknown API keys, versions outside what floe supports (supported_apis(); ApiVersions
//    excepted: it answers UNSUPPORTED_VERSION at v0, as Kafka does) and bodies that do not decode
//    close that connection only.
//
// Partitions: the broker opens a Partition for every partition the committed metadata image
// assigns to this node, and closes those no longer assigned (deleted topics). sync_partitions()
// reconciles after the broker's own metadata changes (create/delete topics) and on a timer.
//
// Fetch long-polling: a fetch with fewer than min_bytes available waits (up to max_wait_ms) on
// the partitions it reads; a successful produce to any of them wakes it to read again.
//
// Internal state (group metadata and committed offsets) lives in a hidden internal topic
// (kGroupStateTopic) that Kafka clients never see: it is absent from Metadata answers and
// every API answers UNKNOWN_TOPIC_OR_PARTITION for it. Only the broker that leads its one
// partition runs the group coordinator (FindCoordinator names that broker; group requests sent
// elsewhere get NOT_COORDINATOR, and the client looks the coordinator up again).
// Reassignment (AlterPartitionReassignments, handlers_reassign.cc) is forwarded to the controller;
// ListPartitionReassignments reads the broker's committed metadata (metadata/reassignment.h).
// Lease: produce requests are refused (NOT_LEADER_OR_FOLLOWER) while the controller client says
// writes are not allowed (a cluster broker that lost contact with the quorum).
//
// Invariants:
//  (1) every request gets exactly one completion (respond, no_response or close);
//  (2) the broker never blocks an I/O thread: all waits are callbacks or timers;
//  (3) every wait is bounded: fetch waits by max_wait_ms, produce by the stream layer's bounded
//      queues, admin calls by the controller.
// Thread safety: handle() may run on any I/O thread concurrently; state is behind mutexes.
#pragma once

#include <asio.hpp>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "broker/fetch_session.h"
#include "broker/kafka_errors.h"
#include "group/group_coordinator.h"
#include "log/partition.h"
#include "metadata/controller_client.h"
#include "net/server.h"
#include "protocol/api.h"
#include "stream/stream_manager.h"

namespace floe::broker {

inline constexpr const char* kGroupStateTopic = "__floe_group_state";

struct BrokerOptions {
  NodeId node_id{1};
  std::string advertised_host = "localhost";
  int32_t advertised_port = 9092;
  std::optional<std::string> rack;
  bool auto_create_topics = true;         // auto.create.topics.enable
  int32_t default_num_partitions = 1;     // num.partitions
  // This node's server.properties / --override values: the static layer under the dynamic broker
  // configs of the metadata image (message.max.bytes, log.retention.*: metadata/broker_config.h).
  metadata::StaticBrokerConfigs static_configs;
  int64_t retention_check_interval_ms = 300000;
  int64_t partition_sync_interval_ms = 1000;
  GroupCoordinatorOptions group;          // partition_exists and now_ms are filled in by the broker
  std::function<int64_t()> now_ms;        // wall clock; default system_clock
};

// The versions floe serves, per API (a subset of the codecs' versions: those whose semantics the
// handlers implement). Sorted by key.
struct SupportedApi {
  int16_t key;
  int16_t min_version;
  int16_t max_version;
};
std::span<const SupportedApi> supported_apis();
const SupportedApi* find_supported_api(int16_t key);

class FetchOp;

struct BrokerStats {
  uint64_t requests = 0;
  uint64_t closed_bad_requests = 0;
  uint64_t produce_requests = 0;
  uint64_t fetch_requests = 0;
  uint64_t open_partitions = 0;
};

class Broker final : public net::RequestHandler {
 public:
  Broker(BrokerOptions options, metadata::ControllerClient& controller, stream::StreamManager& streams);
  ~Broker() override;
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Startup (blocks, bounded): registers this broker, creates the internal topic if missing,
  // opens the partitions assigned here and loads the group coordinator.
  Status start();
  // Graceful shutdown, first step: waiting fetches answer now, later fetches do not wait, and
  // produce requests are refused with NOT_LEADER_OR_FOLLOWER (not written, so clients retry them
  // after the restart). Requests already running finish normally.
  void begin_shutdown();
  // Stops timers, fails waiting fetches (they answer empty), closes partitions (uploading their
  // tails) and the coordinator. Idempotent.
  void stop();

  void handle(net::RequestFrame request, net::Responder responder) override;
  void connection_closed(uint64_t connection_id) override;

  // Opens newly assigned partitions and closes unassigned ones; done once every partition of the
  // image assigned here has finished opening and loading: the opens it started and those another
  // sync (the timer's) had already started. So CreateTopics answers only when Metadata shows the
  // new partitions with a leader.
  void sync_partitions(std::function<void()> done = {});
  BrokerStats stats() const;

  // One request in flight: decoded header plus the way to answer it. Public for the handlers'
  // translation units; not part of the broker's API.
  struct Call;
  struct FetchWaiter;

 private:
  friend class FetchOp;
  struct PartitionSlot {
    std::shared_ptr<log::Partition> partition;  // null until the stream is open; then loading, then ready
    bool opening = false;                        // from the sync that starts the open until it ends (loaded or failed)
    std::vector<std::function<void()>> open_waiters;  // syncs that found it opening; run when the open ends
  };
  struct TopicState {
    std::string name;
    std::vector<PartitionSlot> partitions;
  };
  struct Lookup {
    int16_t error_code = kerr::kNone;
    std::shared_ptr<log::Partition> partition;
  };
  // Dispatch (broker.cc).
  void dispatch(std::shared_ptr<Call> call);

  // Handlers. handlers_meta.cc
  void handle_api_versions(std::shared_ptr<Call> call);
  void handle_metadata(std::shared_ptr<Call> call);
  void handle_create_topics(std::shared_ptr<Call> call);
  void handle_delete_topics(std::shared_ptr<Call> call);
  void handle_create_partitions(std::shared_ptr<Call> call);
  void handle_describe_configs(std::shared_ptr<Call> call);
  void handle_alter_configs(std::shared_ptr<Call> call);
  void handle_incremental_alter_configs(std::shared_ptr<Call> call);
  template <typename Request, typename Response, typename ToChanges>
  void alter_configs(std::shared_ptr<Call> call, bool incremental, ToChanges to_changes);
  void handle_describe_cluster(std::shared_ptr<Call> call);
  void handle_update_features(std::shared_ptr<Call> call);
  void handle_describe_log_dirs(std::shared_ptr<Call> call);
  // handlers_data.cc
  void handle_produce(std::shared_ptr<Call> call);
  void handle_fetch(std::shared_ptr<Call> call);
  void handle_list_offsets(std::shared_ptr<Call> call);
  void handle_offset_for_leader_epoch(std::shared_ptr<Call> call);
  void handle_delete_records(std::shared_ptr<Call> call);
  void handle_init_producer_id(std::shared_ptr<Call> call);
  // handlers_group.cc
  void handle_find_coordinator(std::shared_ptr<Call> call);
  void handle_group_api(std::shared_ptr<Call> call);
  // handlers_reassign.cc
  void handle_alter_partition_reassignments(std::shared_ptr<Call> call);
  void handle_list_partition_reassignments(std::shared_ptr<Call> call);

  // Partitions (broker.cc).
  Lookup lookup(std::string_view topic, int32_t partition) const;
  std::vector<std::shared_ptr<log::Partition>> open_partitions() const;
  log::PartitionConfig partition_config(const metadata::MetadataImage& image, const metadata::TopicImage& topic) const;
  void open_partition(const metadata::TopicImage& topic, const metadata::PartitionImage& p, std::function<void()> done);
  void open_stream_of(Uuid topic_id, int32_t index, std::string name, StreamId stream_id, log::PartitionConfig config,
                      std::function<void()> done, std::function<void()> clear_opening);
  bool hidden_topic(std::string_view name) const { return name == kGroupStateTopic; }
  void schedule_maintenance();
  Status start_coordinator(int64_t timeout_ms);
  // Starts the group coordinator if this broker leads the group-state partition (and runs none).
  void maybe_start_coordinator(int64_t timeout_ms);
  std::shared_ptr<GroupCoordinator> coordinator() const;
  // The broker that leads the group-state partition (-1 when none) and its PLAINTEXT endpoint.
  struct Endpoint {
    int32_t node_id = -1;
    std::string host;
    int32_t port = -1;
  };
  Endpoint coordinator_endpoint() const;

  // Fetch long-poll (handlers_data.cc).
  void wake_fetchers(const log::Partition* partition);
  void add_fetch_waiter(const std::shared_ptr<FetchWaiter>& waiter, const std::vector<const log::Partition*>& partitions,
                        int64_t wait_ms);

  // Producer ids (handlers_data.cc): blocks of ids from the controller.
  void next_producer_id(std::function<void(int16_t error_code, int64_t id)> done);

  int64_t now_ms() const;

  BrokerOptions options_;
  metadata::ControllerClient& controller_;
  stream::StreamManager& streams_;
  std::shared_ptr<stream::Stream> group_stream_;
  // Runs on the broker that leads the group-state topic's partition (set once, under mu_).
  std::shared_ptr<GroupCoordinator> coordinator_;
  std::atomic<bool> coordinator_starting_{false};

  mutable std::mutex mu_;  // topics_, waiters_, producer ids
  std::map<Uuid, TopicState> topics_;  // by topic id: a re-created topic is a new entry
  std::map<const log::Partition*, std::vector<std::weak_ptr<FetchWaiter>>> waiters_;
  FetchSessionCache fetch_sessions_;
  int64_t next_producer_id_ = 0;
  int64_t producer_id_block_end_ = 0;
  std::vector<std::function<void(int16_t, int64_t)>> producer_id_waiters_;
  bool producer_id_request_in_flight_ = false;
  std::mutex sync_mu_;  // one sync_partitions at a time

  asio::io_context timer_io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> timer_work_;
  std::thread timer_thread_;
  std::unique_ptr<asio::steady_timer> maintenance_timer_;
  int64_t last_retention_ms_ = 0;
  std::atomic<bool> stopped_{false};
  std::atomic<bool> draining_{false};

  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> closed_bad_requests_{0};
  std::atomic<uint64_t> produce_requests_{0};
  std::atomic<uint64_t> fetch_requests_{0};
};

}  // namespace floe::broker
