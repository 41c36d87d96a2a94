#include "admin/serve_metrics.h"

#include "broker/broker.h"
#include "metadata/image.h"
#include "raft/replica.h"
#include "raft/replicated_log.h"
#include "raft/transport_tcp.h"
#include "floe/version.h"
#include "net/server.h"
#include "objectstore/retrying_store.h"
#include "stream/stream_manager.h"

namespace floe::admin {

void add_process_metrics(http::MetricsRegistry& registry) {
  registry.add([](http::MetricsWriter& w) {
    w.gauge("floe_build_info", "Always 1; the label names this build's version.", 1, {{"version", kVersion}});
  });
}

void add_broker_metrics(http::MetricsRegistry& registry, const net::Server& server, const broker::Broker& broker) {
  registry.add([&server, &broker](http::MetricsWriter& w) {
    net::ServerStats n = server.stats();
    w.counter("floe_net_connections_accepted_total", "Kafka client connections accepted.", n.connections_accepted);
    w.counter("floe_net_connections_rejected_total", "Kafka client connections closed at once: over the connection limit.",
              n.connections_rejected);
    w.gauge("floe_net_connections_open", "Kafka client connections open now.", static_cast<double>(n.connections_open));
    w.counter("floe_net_requests_total", "Kafka requests read from clients.", n.requests);
    w.counter("floe_net_framing_errors_total",
              "Connections closed for a malformed frame (negative, too small or too large size).", n.framing_errors);
    w.gauge("floe_net_inflight_bytes", "Bytes of requests read and not yet answered.", static_cast<double>(n.inflight_bytes));
    broker::BrokerStats b = broker.stats();
    w.counter("floe_broker_requests_total", "Kafka requests handled by the broker.", b.requests);
    w.counter("floe_broker_produce_requests_total", "Produce requests handled.", b.produce_requests);
    w.counter("floe_broker_fetch_requests_total", "Fetch requests handled.", b.fetch_requests);
    w.counter("floe_broker_bad_requests_total",
              "Requests that could not be decoded (the connection is closed, as Kafka does).", b.closed_bad_requests);
    w.gauge("floe_broker_open_partitions", "Partitions this broker leads and has open.", static_cast<double>(b.open_partitions));
  });
}

void add_storage_metrics(http::MetricsRegistry& registry, const stream::StreamManager& streams) {
  registry.add([&streams](http::MetricsWriter& w) {
    wal::WalStats l = streams.wal_stats();
    w.counter("floe_wal_appends_total", "Entries appended to the WAL.", l.appends);
    w.counter("floe_wal_append_bytes_total", "Payload bytes appended to the WAL.", l.append_bytes);
    w.counter("floe_wal_writes_total", "WAL group commits (device writes or objects), each covering many appends.",
              l.records_written);
    w.counter("floe_wal_device_written_bytes_total", "Bytes the WAL wrote to its device or store (with headers and padding).",
              l.device_bytes_written);
    w.counter("floe_wal_syncs_total", "fdatasync calls of a block WAL.", l.syncs);
    w.gauge("floe_wal_queued_bytes", "Bytes of appends waiting for the WAL writer.", static_cast<double>(l.queued_bytes));
    w.gauge("floe_wal_used_bytes", "WAL bytes written and not yet trimmed (their data is not yet uploaded).",
            static_cast<double>(l.used_bytes));
    w.gauge("floe_wal_capacity_bytes", "Capacity of the WAL (s3.wal.capacity).", static_cast<double>(l.capacity_bytes));

    stream::StreamManagerStats s = streams.stats();
    w.counter("floe_stream_appends_total", "Record batches appended to streams.", s.appends);
    w.counter("floe_stream_append_bytes_total", "Bytes appended to streams.", s.append_bytes);
    w.counter("floe_stream_append_waits_total", "Appends that waited for room in the log cache (backpressure).",
              s.append_waits);
    w.gauge("floe_stream_log_cache_used_bytes", "Bytes held by the log cache (s3.wal.cache.size bounds it).",
            static_cast<double>(s.cache_used_bytes));
    w.gauge("floe_stream_unuploaded_bytes", "Bytes appended and not yet uploaded to the object store.",
            static_cast<double>(s.unuploaded_bytes));
    w.counter("floe_stream_uploads_total", "Upload rounds committed to the metadata.", s.uploads);
    w.counter("floe_stream_objects_written_total", "Objects written by uploads, by kind.", s.stream_set_objects,
              {{"kind", "stream_set"}});
    w.counter("floe_stream_objects_written_total", "Objects written by uploads, by kind.", s.stream_objects,
              {{"kind", "stream"}});
    w.counter("floe_stream_upload_bytes_total", "Object bytes written by uploads.", s.upload_bytes);
    w.counter("floe_stream_upload_put_attempts_total", "PUTs attempted by uploads.", s.put_attempts);
    w.counter("floe_stream_upload_put_failures_total", "Upload PUTs that failed after the store's retries.",
              s.put_failures);
    w.counter("floe_stream_fetches_total", "Stream fetches, by where they were served from.", s.cache_fetches,
              {{"source", "log_cache"}});
    w.counter("floe_stream_fetches_total", "Stream fetches, by where they were served from.", s.cold_fetches,
              {{"source", "object_store"}});
    w.gauge("floe_stream_cold_reads_in_flight", "Cold fetches and readahead reads queued or running.",
            static_cast<double>(s.cold_reads_in_flight));
    w.counter("floe_stream_object_gets_total", "Ranged GETs of object blocks, by purpose.", s.object_gets,
              {{"purpose", "read"}});
    w.counter("floe_stream_object_gets_total", "Ranged GETs of object blocks, by purpose.", s.readahead_gets,
              {{"purpose", "readahead"}});
    w.counter("floe_stream_block_cache_hits_total", "Block cache lookups that found the block.", s.block_cache_hits);
    w.counter("floe_stream_block_cache_misses_total", "Block cache lookups that did not.", s.block_cache_misses);
    w.counter("floe_stream_recovered_entries_total", "WAL entries recovered at start-up.", s.recovered_entries);
    w.counter("floe_stream_compactions_total", "Compaction rounds that rewrote objects.", s.compactions);
    w.counter("floe_stream_gc_deleted_objects_total", "Objects deleted by garbage collection.", s.gc_deleted_objects);
  });
}

void add_object_store_metrics(http::MetricsRegistry& registry, std::shared_ptr<objectstore::RetryingStore> store,
                              std::string use) {
  if (!store) return;
  registry.add([store, use](http::MetricsWriter& w) {
    objectstore::RetryingStore::Stats s = store->stats();
    w.counter("floe_objectstore_operations_total", "Object store operations started (PUT, GET, LIST, ...), by store use.",
              s.operations, {{"store", use}});
    w.counter("floe_objectstore_retries_total", "Attempts repeated after a retryable error (5xx, SlowDown, timeout, reset).",
              s.retries, {{"store", use}});
    w.counter("floe_objectstore_failures_total",
              "Operations that ended in an error, after retries or at once (not retryable, e.g. NoSuchKey).", s.failures,
              {{"store", use}});
    w.counter("floe_objectstore_gave_up_total", "Operations whose retryable errors outlasted the retry budget (attempts, time, or a full retry queue).",
              s.gave_up, {{"store", use}});
  });
}

void add_metadata_metrics(http::MetricsRegistry& registry,
                          std::function<std::shared_ptr<const metadata::MetadataImage>()> image) {
  registry.add([image = std::move(image)](http::MetricsWriter& w) {
    auto img = image();
    if (!img) return;
    size_t partitions = 0;
    for (const auto& [name, topic] : img->topics) partitions += topic.partitions.size();
    size_t fenced = 0;
    for (const auto& [id, broker] : img->brokers) fenced += broker.fenced ? 1 : 0;
    w.gauge("floe_metadata_applied_offset", "The last metadata log offset this node applied.", static_cast<double>(img->offset));
    w.gauge("floe_metadata_topics", "Topics in the metadata (internal ones included).", static_cast<double>(img->topics.size()));
    w.gauge("floe_metadata_partitions", "Partitions of all topics.", static_cast<double>(partitions));
    w.gauge("floe_metadata_brokers", "Registered brokers, by state.", static_cast<double>(img->brokers.size() - fenced),
            {{"state", "unfenced"}});
    w.gauge("floe_metadata_brokers", "Registered brokers, by state.", static_cast<double>(fenced), {{"state", "fenced"}});
  });
}

void add_raft_metrics(http::MetricsRegistry& registry, std::function<raft::NodeStatus()> status) {
  registry.add([status = std::move(status)](http::MetricsWriter& w) {
    raft::NodeStatus st = status();
    if (st.closed) return;
    for (raft::Role role : {raft::Role::unattached, raft::Role::prospective, raft::Role::candidate, raft::Role::leader,
                            raft::Role::follower, raft::Role::resigned}) {
      w.gauge("floe_raft_role", "1 for this node's current role in the metadata quorum, 0 for the others.",
              st.role == role ? 1 : 0, {{"role", raft::role_name(role)}});
    }
    w.gauge("floe_raft_epoch", "The metadata quorum's epoch as this node knows it.", static_cast<double>(st.epoch));
    w.gauge("floe_raft_leader_id", "The node id of the quorum leader this node knows (-1: none).",
            static_cast<double>(st.leader_id));
    w.gauge("floe_raft_high_watermark", "The metadata log's commit offset as this node knows it.",
            static_cast<double>(st.high_watermark));
    w.gauge("floe_raft_log_end_offset", "The end of this node's metadata log.", static_cast<double>(st.log_end));
    w.gauge("floe_raft_log_start_offset", "The start of this node's metadata log (its latest snapshot's end).",
            static_cast<double>(st.log_start));
    w.counter("floe_raft_snapshots_written_total", "Metadata snapshots this node made durable since it started.",
              static_cast<uint64_t>(st.snapshots_written));
    w.counter("floe_raft_snapshots_installed_total", "Metadata snapshots this node downloaded from a leader since it started.",
              static_cast<uint64_t>(st.snapshots_installed));
  });
}

void add_raft_transport_metrics(http::MetricsRegistry& registry, const raft::TcpRaftTransport& transport) {
  registry.add([&transport](http::MetricsWriter& w) {
    raft::TcpTransportStats t = transport.stats();
    w.counter("floe_raft_requests_sent_total", "Raft requests written to a peer.", t.requests_sent);
    w.counter("floe_raft_responses_received_total", "Raft responses decoded and delivered.", t.responses_received);
    w.counter("floe_raft_requests_received_total", "Raft requests decoded and delivered.", t.requests_received);
    w.counter("floe_raft_responses_sent_total", "Raft responses written.", t.responses_sent);
    w.counter("floe_raft_dropped_total", "Raft messages dropped, by reason.", t.dropped_queue_full, {{"reason", "queue_full"}});
    w.counter("floe_raft_dropped_total", "Raft messages dropped, by reason.", t.dropped_unknown_peer,
              {{"reason", "unknown_peer"}});
    w.counter("floe_raft_dropped_total", "Raft messages dropped, by reason.", t.dropped_unmatched_response,
              {{"reason", "unmatched_response"}});
    w.counter("floe_raft_error_answers_total", "Pending Raft requests answered with an error (peer gone, timeout).",
              t.error_answers);
    w.counter("floe_raft_connects_total", "Connections opened to peers.", t.connects);
    w.counter("floe_raft_connect_failures_total", "Connections to peers that failed.", t.connect_failures);
    w.counter("floe_raft_malformed_frames_total", "Peer connections closed for a malformed frame.", t.malformed_frames);
  });
}

}  // namespace floe::admin
