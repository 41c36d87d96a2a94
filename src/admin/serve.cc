#include "admin/serve.h"

#include <atomic>
#include <csignal>
#include <filesystem>
#include <future>
#include <pthread.h>
#include <thread>

#include "admin/controller_api.h"
#include "admin/serve_metrics.h"
#include "broker/broker.h"
#include "common/log.h"
#include "http/http_server.h"
#include "http/metrics.h"
#include "metadata/controller_client.h"
#include "metadata/remote_controller.h"
#include "net/server.h"
#include "objectstore/bucket_uri.h"
#include "raft/transport_tcp.h"
#include "stream/stream_manager.h"
#include "wal/block_wal.h"
#include "wal/object_wal.h"

namespace floe::admin {

namespace {

// Blocks SIGTERM and SIGINT in this thread and every thread started after (they inherit the
// mask), so that only wait_for_shutdown_signal sees them; ignores SIGPIPE.
sigset_t block_shutdown_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  return signals;
}

void wait_for_shutdown_signal(const sigset_t& signals) {
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  floe::log::info("serve", std::string("received ") + (signal_number == SIGTERM ? "SIGTERM" : "SIGINT") +
                               ": shutting down");
}

int fail(std::FILE* err, const std::string& message) {
  std::fprintf(err, "floe serve: %s\n", message.c_str());
  return 1;
}

// The WAL that s3.wal.path names, recovered: file://PATH a BlockWal (a device or file); s3:// or
// fs:// an ObjectWal (wal/object_wal.h) on its own store, opened like a data bucket (s3: with
// retries; fs: fsynced puts, so an acknowledged append survives a crash). mem:// is refused: it
// would lose acknowledged data at exit.
struct OpenedWal {
  std::unique_ptr<wal::Wal> wal;
  std::vector<wal::RecoveredEntry> recovered;
  std::shared_ptr<objectstore::ObjectStore> store;  // the object WAL's store (kept alive with it)
  std::shared_ptr<objectstore::RetryingStore> retrying;  // the same, when it retries (s3): for metrics
};
Result<OpenedWal> open_wal(const config::Config& cfg, NodeId node_id) {
  const auto wals = cfg.get_buckets("s3.wal.path");
  FLOE_ASSERT(wals.size() == 1);  // config validation: exactly one
  const BucketUri& uri = wals[0];
  const std::string text = redact_bucket_uri(cfg.get_string("s3.wal.path"));
  const uint64_t capacity = static_cast<uint64_t>(cfg.get_size_bytes("s3.wal.capacity"));
  auto failed = [&](const Error& e) { return Error(e.code, "s3.wal.path '" + text + "': " + e.message); };
  std::error_code ec;
  OpenedWal out;
  if (uri.scheme == "file") {
    std::filesystem::create_directories(std::filesystem::path(uri.path).parent_path(), ec);
    wal::BlockWalOptions wo;
    wo.path = uri.path;
    wo.capacity_bytes = capacity & ~uint64_t{4095};
    wo.node_id = node_id.value();
    auto wal = wal::BlockWal::open(wo);
    if (!wal.ok()) return failed(wal.error());
    out.wal = std::move(wal->wal);
    out.recovered = std::move(wal->recovered);
    return out;
  }
  if (uri.scheme == "mem")
    return failed(Error(Errc::config, "a mem:// WAL would lose acknowledged writes at exit; use file://, fs:// or s3://"));
  if (uri.is_local_dir()) {
    std::filesystem::create_directories(uri.path, ec);
    if (ec) return failed(Error(Errc::io, "cannot create " + uri.path + ": " + ec.message()));
  }
  objectstore::OpenOptions oo;
  oo.fsync = true;
  auto store = objectstore::open_store(uri, oo);
  if (!store.ok()) return failed(store.error());
  wal::ObjectWalOptions wo;
  wo.store = store->store;
  wo.node_id = node_id.value();
  wo.capacity_bytes = capacity;
  wo.max_object_bytes = static_cast<size_t>(cfg.get_size_bytes("s3.wal.object.max.bytes"));
  wo.linger_ms = static_cast<uint32_t>(cfg.get_duration_ms("s3.wal.object.linger.ms"));
  auto wal = wal::ObjectWal::open(wo);
  if (!wal.ok()) return failed(wal.error());
  out.wal = std::move(wal->wal);
  out.recovered = std::move(wal->recovered);
  out.store = store->store;
  out.retrying = store->retrying;
  return out;
}

// The listener named `name` (PLAINTEXT by default) from a listeners-style key.
std::optional<config::Listener> find_listener(const config::Config& cfg, std::string_view key, std::string_view name) {
  for (auto& l : cfg.get_listeners(key)) {
    if (l.name == name) return l;
  }
  return std::nullopt;
}

// http.listeners: the operators' endpoint. /metrics renders `registry`; /health answers 200 "serving"
// while `serving` is set, else 503 (starting or stopping). Null (and no error) when the key is
// empty. Collectors are added to `registry` once the objects they read exist, and the server is
// stopped before those objects go.
enum class Phase { starting, serving, stopping };
struct OperatorEndpoint {
  http::MetricsRegistry registry;
  std::atomic<Phase> phase{Phase::starting};
  std::unique_ptr<http::HttpServer> server;
};
Status start_operator_endpoint(const config::Config& cfg, OperatorEndpoint& endpoint, std::FILE* out) {
  auto listeners = cfg.get_listeners("http.listeners");
  add_process_metrics(endpoint.registry);
  if (listeners.empty()) return {};
  http::HttpServerConfig hc;
  hc.host = listeners[0].host.empty() ? "0.0.0.0" : listeners[0].host;
  hc.port = listeners[0].port;
  endpoint.server = std::make_unique<http::HttpServer>(hc);
  endpoint.server->route("/metrics", [&endpoint] {
    http::HttpResponse r;
    r.content_type = std::string(http::kMetricsContentType);
    r.body = endpoint.registry.scrape();
    return r;
  });
  endpoint.server->route("/health", [&endpoint] {
    http::HttpResponse r;
    Phase p = endpoint.phase.load();
    r.status = p == Phase::serving ? 200 : 503;
    r.body = p == Phase::serving ? "serving\n" : p == Phase::starting ? "starting\n" : "stopping\n";
    return r;
  });
  if (Status s = endpoint.server->start(); !s.ok()) return Error(s.error().code, "http.listeners: " + s.error().message);
  std::fprintf(out, "floe: serving /metrics and /health on http://%s:%u\n", hc.host.c_str(), endpoint.server->port());
  std::fflush(out);
  return {};
}
void stop_operator_endpoint(OperatorEndpoint& endpoint) {
  if (endpoint.server) endpoint.server->stop();
}

// process.roles=controller: one voter of a (multi-node) metadata quorum. Its CONTROLLER listener
// carries Raft (TcpRaftTransport) plus DescribeQuorum/CreateTopics/Metadata (admin/controller_api.h).
int serve_controller_only(const config::Config& cfg, std::FILE* out, std::FILE* err) {
  const NodeId node_id(cfg.get_int("node.id"));
  auto voters = cfg.get_voters("controller.quorum.voters");
  const config::Voter* self = nullptr;
  for (const auto& v : voters) {
    if (v.id == node_id.value()) self = &v;
  }
  if (self == nullptr) {
    return fail(err, "controller.quorum.voters: node.id " + std::to_string(node_id.value()) +
                         " is not a voter (a controller-only node must be one)");
  }
  std::string names = cfg.get_string("controller.listener.names");
  std::string name = names.substr(0, names.find(','));
  if (name.empty()) name = "CONTROLLER";
  auto listener = find_listener(cfg, "listeners", name);
  if (!listener) return fail(err, "listeners: no " + name + " listener (e.g. " + name + "://localhost:9093)");

  const sigset_t signals = block_shutdown_signals();
  OperatorEndpoint endpoint;
  if (Status s = start_operator_endpoint(cfg, endpoint, out); !s.ok()) return fail(err, s.error().message);

  std::error_code ec;
  metadata::ControllerOptions co;
  co.node_id = node_id;
  co.log_dir = cfg.get_string("metadata.log.dir");
  for (const auto& v : voters) co.voters.push_back(raft::VoterAddress{v.id, v.host, v.port});
  co.default_num_partitions = cfg.get_int("num.partitions");
  co.snapshot_interval_entries = cfg.get_int("metadata.log.max.snapshot.interval.entries");
  co.snapshot_retention_ms = cfg.get_duration_ms("metadata.max.retention.ms");
  co.snapshot_retention_bytes = cfg.get_size_bytes("metadata.max.retention.bytes");
  co.open_timeout_ms = 60000;  // the other voters may start later
  std::filesystem::create_directories(co.log_dir, ec);
  if (ec) return fail(err, "metadata.log.dir: cannot create '" + co.log_dir + "': " + ec.message());

  raft::TcpTransportConfig tc;
  tc.self_id = node_id.value();
  tc.voters = co.voters;
  tc.listen_host = listener->host.empty() ? "0.0.0.0" : listener->host;
  tc.listen_port = listener->port;
  tc.wire.listener_name = name;
  tc.wire.host = self->host;
  tc.wire.port = self->port;
  for (const auto& a : ControllerApi::served_apis()) tc.fallback_apis.push_back({a.key, a.min_version, a.max_version});
  raft::TcpRaftTransport transport(tc);
  auto api = std::make_shared<ControllerApi>(node_id.value(), co.voters, name);
  transport.set_fallback([api](net::RequestFrame request, net::Responder responder) {
    api->handle(std::move(request), std::move(responder));
  });
  transport.set_api_versions_features([api] { return api->api_versions_features(); });
  if (Status s = transport.listen(); !s.ok()) {
    return fail(err, "listeners: cannot listen on " + tc.listen_host + ":" + std::to_string(tc.listen_port) + ": " +
                         s.error().message);
  }
  co.transport = &transport;
  auto controller = metadata::Controller::open(co);
  if (!controller.ok()) {
    transport.stop();
    return fail(err, "metadata quorum (metadata.log.dir '" + co.log_dir + "'): " + controller.error().message);
  }
  std::shared_ptr<metadata::Controller> meta(std::move(*controller));
  api->attach(meta);
  std::fprintf(out, "floe: controller %d serving the metadata quorum on %s:%u\n", node_id.value(),
               tc.listen_host.c_str(), transport.port());
  std::fflush(out);
  add_metadata_metrics(endpoint.registry, [meta] { return meta->image(); });
  add_raft_metrics(endpoint.registry, [meta] { return meta->raft_status(); });
  add_raft_transport_metrics(endpoint.registry, transport);
  endpoint.phase = Phase::serving;

  wait_for_shutdown_signal(signals);
  endpoint.phase = Phase::stopping;
  stop_operator_endpoint(endpoint);
  api->detach();
  meta->close();
  transport.stop();
  floe::log::info("serve", "stopped");
  return 0;
}

}  // namespace

int serve(const config::Config& cfg, std::FILE* out, std::FILE* err) {
  if (cfg.has_role("controller") && !cfg.has_role("broker")) return serve_controller_only(cfg, out, err);
  if (!cfg.has_role("broker")) return fail(err, "process.roles: broker, controller, or both");
  const NodeId node_id(cfg.get_int("node.id"));
  auto voters = cfg.get_voters("controller.quorum.voters");
  const bool remote = !cfg.has_role("controller");
  if (!remote && (voters.size() != 1 || voters[0].id != node_id.value())) {
    return fail(err, "controller.quorum.voters: a broker,controller node runs a single-voter quorum; set it to " +
                         std::to_string(node_id.value()) +
                         "@host:port, or run the quorum on process.roles=controller nodes and this node with "
                         "process.roles=broker");
  }
  if (remote) {
    for (const auto& v : voters) {
      if (v.id == node_id.value()) {
        return fail(err, "process.roles=broker: node.id " + std::to_string(v.id) +
                             " is one of controller.quorum.voters; a broker-only node follows a quorum of other "
                             "nodes (give it another node.id, or add controller to process.roles)");
      }
    }
  }
  auto listener = find_listener(cfg, "listeners", "PLAINTEXT");
  if (!listener) return fail(err, "listeners: no PLAINTEXT listener (e.g. PLAINTEXT://localhost:9092)");
  auto advertised = find_listener(cfg, "advertised.listeners", "PLAINTEXT");
  if (!advertised) advertised = listener;
  if (advertised->host.empty()) advertised->host = "localhost";

  const sigset_t signals = block_shutdown_signals();
  // Declared before everything its collectors read, so that it is destroyed after them; it is
  // also stopped explicitly before they close.
  OperatorEndpoint endpoint;
  if (Status s = start_operator_endpoint(cfg, endpoint, out); !s.ok()) return fail(err, s.error().message);

  std::error_code ec;
  const std::string data_dir = cfg.get_string("data.dir");
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return fail(err, "data.dir: cannot create '" + data_dir + "': " + ec.message());

  // The controller: in process (a single-voter Raft metadata log), or a remote quorum that this
  // broker follows as an observer (metadata/remote_controller.h).
  std::shared_ptr<metadata::Controller> meta;
  std::shared_ptr<metadata::RemoteController> remote_meta;
  std::shared_ptr<metadata::ControllerClient> client;
  std::shared_ptr<stream::StreamMetadata> stream_meta;
  const std::string log_dir = cfg.get_string("metadata.log.dir");
  std::filesystem::create_directories(log_dir, ec);
  if (!remote) {
    metadata::ControllerOptions co;
    co.node_id = node_id;
    co.log_dir = log_dir;
    co.voters.push_back(raft::VoterAddress{voters[0].id, voters[0].host, voters[0].port});
    co.default_num_partitions = cfg.get_int("num.partitions");
    co.snapshot_interval_entries = cfg.get_int("metadata.log.max.snapshot.interval.entries");
    co.snapshot_retention_ms = cfg.get_duration_ms("metadata.max.retention.ms");
    co.snapshot_retention_bytes = cfg.get_size_bytes("metadata.max.retention.bytes");
    auto controller = metadata::Controller::open(co);
    if (!controller.ok()) return fail(err, "metadata.log.dir '" + co.log_dir + "': " + controller.error().message);
    meta = std::shared_ptr<metadata::Controller>(std::move(*controller));
    client = std::make_shared<metadata::LocalControllerClient>(meta);
    stream_meta = meta;
  } else {
    metadata::RemoteControllerOptions ro;
    ro.node_id = node_id;
    ro.log_dir = log_dir;
    for (const auto& v : voters) ro.voters.push_back(raft::VoterAddress{v.id, v.host, v.port});
    std::string names = cfg.get_string("controller.listener.names");
    ro.controller_listener_name = names.substr(0, names.find(','));
    if (ro.controller_listener_name.empty()) ro.controller_listener_name = "CONTROLLER";
    ro.heartbeat_interval_ms = cfg.get_duration_ms("broker.heartbeat.interval.ms");
    ro.session_timeout_ms = cfg.get_duration_ms("broker.session.timeout.ms");
    ro.snapshot_interval_entries = cfg.get_int("metadata.log.max.snapshot.interval.entries");
    ro.snapshot_retention_ms = cfg.get_duration_ms("metadata.max.retention.ms");
    ro.snapshot_retention_bytes = cfg.get_size_bytes("metadata.max.retention.bytes");
    auto opened = metadata::RemoteController::open(ro);
    if (!opened.ok()) {
      return fail(err, "metadata quorum (controller.quorum.voters, metadata.log.dir '" + log_dir +
                           "'): " + opened.error().message);
    }
    remote_meta = std::shared_ptr<metadata::RemoteController>(std::move(*opened));
    client = remote_meta;
    stream_meta = remote_meta;
  }
  auto close_meta = [&] {
    if (meta) meta->close();
    if (remote_meta) remote_meta->close();
  };
  // Object store: the first data bucket; cold reads get their own instance (own connections).
  // Config validated every entry at load, with the same parser the object store uses.
  const std::vector<BucketUri> buckets = cfg.get_buckets("s3.data.buckets");
  if (buckets.empty()) return fail(err, "s3.data.buckets: no bucket");
  if (buckets.size() > 1) floe::log::warn("serve", "s3.data.buckets: only the first bucket is used in this build");
  const BucketUri* uri = &buckets[0];
  const std::string bucket_text = redact_bucket_uri(cfg.get_string("s3.data.buckets"));  // no secrets in logs
  if (uri->is_local_dir()) std::filesystem::create_directories(uri->path, ec);
  auto store = objectstore::open_store(*uri);
  if (!store.ok()) return fail(err, "s3.data.buckets '" + bucket_text + "': " + store.error().message);
  objectstore::OpenOptions cold_options;
  cold_options.thread_nice = stream::kColdReadNice;  // cold reads give way to appends (stream_manager.h)
  cold_options.local_dir_threads = stream::cold_read_cpu_threads_default();  // its reads copy: CPU work
  auto cold_store = uri->scheme == "mem" ? store : objectstore::open_store(*uri, cold_options);  // mem: one shared instance
  if (!cold_store.ok()) return fail(err, "s3.data.buckets '" + bucket_text + "': " + cold_store.error().message);

  // WAL and recovery.
  auto wal = open_wal(cfg, node_id);
  if (!wal.ok()) return fail(err, wal.error().message);
  std::shared_ptr<objectstore::RetryingStore> wal_store_retrying = wal->retrying;

  stream::StreamManagerOptions so;
  so.node_id = node_id;
  so.cache_size_bytes = static_cast<uint64_t>(cfg.get_size_bytes("s3.wal.cache.size"));
  so.upload_threshold_bytes = static_cast<uint64_t>(cfg.get_size_bytes("s3.wal.upload.threshold"));
  so.block_cache_size_bytes = static_cast<uint64_t>(cfg.get_size_bytes("s3.block.cache.size"));
  so.cold_gets_are_cpu_work = uri->is_local_dir();  // its reads copy from the page cache
  so.compaction_interval_ms = 60000;
  so.upload_interval_ms = 30000;
  auto streams = stream::StreamManager::open(so, std::move(wal->wal), std::move(wal->recovered), store->store,
                                             cold_store->store, stream_meta);
  if (!streams.ok()) return fail(err, "stream manager: " + streams.error().message);

  broker::BrokerOptions bo;
  bo.node_id = node_id;
  bo.advertised_host = advertised->host;
  bo.advertised_port = advertised->port;
  bo.auto_create_topics = cfg.get_bool("auto.create.topics.enable");
  bo.default_num_partitions = cfg.get_int("num.partitions");
  for (const auto& spec : config::all_keys()) {
    if (cfg.is_set(spec.name)) bo.static_configs.set[std::string(spec.name)] = cfg.get_string(spec.name);
    else if (cfg.has(spec.name)) bo.static_configs.defaults[std::string(spec.name)] = cfg.get_string(spec.name);
  }
  bo.retention_check_interval_ms = cfg.get_duration_ms("log.retention.check.interval.ms");
  bo.group.initial_rebalance_delay_ms = cfg.get_duration_ms("group.initial.rebalance.delay.ms");
  bo.group.min_session_timeout_ms = static_cast<int32_t>(cfg.get_duration_ms("group.min.session.timeout.ms"));
  bo.group.max_session_timeout_ms = static_cast<int32_t>(cfg.get_duration_ms("group.max.session.timeout.ms"));
  bo.group.offsets_retention_ms = cfg.get_duration_ms("offsets.retention.ms");
  auto broker = std::make_unique<broker::Broker>(bo, *client, **streams);
  if (Status s = broker->start(); !s.ok()) return fail(err, "broker: " + s.error().message);

  net::ServerConfig sc;
  sc.host = listener->host.empty() ? "0.0.0.0" : listener->host;
  sc.port = listener->port;
  sc.io_threads = static_cast<size_t>(cfg.get_int("num.network.threads"));
  sc.max_request_bytes = static_cast<size_t>(cfg.get_size_bytes("socket.request.max.bytes"));
  sc.max_inflight_bytes_total = static_cast<size_t>(cfg.get_size_bytes("queued.max.request.bytes"));
  sc.idle_timeout_ms = cfg.get_duration_ms("connections.max.idle.ms");
  net::Server server(sc, *broker);
  if (Status s = server.start(); !s.ok()) {
    broker->stop();
    return fail(err, "listeners: " + s.error().message);  // it names host:port and the reason
  }
  // Every object the collectors read exists from here until stop_operator_endpoint below.
  add_broker_metrics(endpoint.registry, server, *broker);
  add_storage_metrics(endpoint.registry, **streams);
  add_metadata_metrics(endpoint.registry, [client] { return client->image(); });
  if (meta) add_raft_metrics(endpoint.registry, [meta] { return meta->raft_status(); });
  if (remote_meta) add_raft_metrics(endpoint.registry, [remote_meta] { return remote_meta->raft_status(); });
  add_object_store_metrics(endpoint.registry, store->retrying, "data");
  if (cold_store->retrying != store->retrying) add_object_store_metrics(endpoint.registry, cold_store->retrying, "cold");
  add_object_store_metrics(endpoint.registry, wal_store_retrying, "wal");
  endpoint.phase = Phase::serving;
  std::fprintf(out, "floe: serving Kafka on %s:%u (node %d, data in %s); try: kcat -b %s:%d -L\n",
               sc.host.c_str(), server.port(), node_id.value(), data_dir.c_str(), advertised->host.c_str(),
               advertised->port);
  std::fflush(out);

  wait_for_shutdown_signal(signals);
  endpoint.phase = Phase::stopping;
  // Controlled shutdown (a cluster broker): tell the controller first, so that it places nothing
  // new here and moves each partition once this broker has uploaded and closed it (below).
  if (remote_meta) remote_meta->begin_controlled_shutdown();
  // Stop accepting, let running requests finish (bounded), then close everything.
  server.stop_accepting();
  broker->begin_shutdown();
  if (!server.wait_idle(10000)) floe::log::warn("serve", "requests still running after 10 s; closing their connections");
  server.stop();
  broker->stop();
  auto flushed = std::make_shared<std::promise<void>>();
  auto flushed_future = flushed->get_future();
  (*streams)->flush([flushed](Result<stream::Done>) { flushed->set_value(); });
  if (flushed_future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    floe::log::warn("serve", "the final upload did not finish within 30 s; the WAL keeps the data");
  }
  if (remote_meta && !remote_meta->controlled_shutdown(10000)) {
    floe::log::warn("serve", "the controller did not confirm the controlled shutdown within 10 s");
  }
  stop_operator_endpoint(endpoint);  // before the objects its collectors read close
  (*streams)->close();
  broker.reset();
  // A partition's last checkpoint callback may still hold it (and through its checkpoints the
  // data store) for a moment: let those finish, so the store is released here and never last on
  // one of its own threads (bounded).
  for (int i = 0; i < 500 && (*streams)->checkpoints().use_count() > 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  close_meta();
  floe::log::info("serve", "stopped");
  return 0;
}

}  // namespace floe::admin
