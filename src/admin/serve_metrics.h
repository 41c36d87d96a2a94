// The metrics a serving node exports on /metrics (http/metrics.h): their names, help texts and
// the stats each reads. Names are floe_<subsystem>_<what>, counters end in _total, byte amounts
// in _bytes (Prometheus conventions); `curl HOST:PORT/metrics` lists them with their help texts.
//
// Every collector reads counters that the subsystem keeps anyway (its stats()), so a scrape costs
// a few short locks and nothing is added to hot paths. The objects registered must outlive every
// scrape: serve stops the HTTP server before it destroys them.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "http/metrics.h"

namespace floe::net {
class Server;
}
namespace floe::broker {
class Broker;
}
namespace floe::stream {
class StreamManager;
}
namespace floe::objectstore {
class RetryingStore;
}
namespace floe::metadata {
class MetadataImage;
}
namespace floe::raft {
class TcpRaftTransport;
struct NodeStatus;
}

namespace floe::admin {

// floe_build_info (version), floe_up.
void add_process_metrics(http::MetricsRegistry& registry);
// Kafka listener (net), broker request counters.
void add_broker_metrics(http::MetricsRegistry& registry, const net::Server& server, const broker::Broker& broker);
// WAL, log cache, uploads, cold reads, block cache, compaction and GC.
void add_storage_metrics(http::MetricsRegistry& registry, const stream::StreamManager& streams);
// Retries and failures of an S3 store; `store` names its use (data, cold, wal). Null: nothing.
void add_object_store_metrics(http::MetricsRegistry& registry, std::shared_ptr<objectstore::RetryingStore> store,
                              std::string use);

// The metadata image this node serves from: its applied offset, topics, partitions, brokers.
void add_metadata_metrics(http::MetricsRegistry& registry,
                          std::function<std::shared_ptr<const metadata::MetadataImage>()> image);
// This node's Raft replica of the metadata log (a voter, or a broker's observer): role, epoch,
// leader, offsets, snapshots.
void add_raft_metrics(http::MetricsRegistry& registry, std::function<raft::NodeStatus()> status);
// The Raft transport of a controller node (requests, drops, connects).
void add_raft_transport_metrics(http::MetricsRegistry& registry, const raft::TcpRaftTransport& transport);

}  // namespace floe::admin
