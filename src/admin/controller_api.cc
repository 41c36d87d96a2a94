#include "admin/controller_api.h"

#include <algorithm>

#include "broker/call.h"
#include "common/log.h"
#include "metadata/controller_rpc.h"
#include "metadata/features.h"
#include "protocol/api.h"
#include "protocol/messages.h"
#include "raft/wire.h"

namespace floe::admin {

namespace {

using broker::KafkaCall;
using broker::decode_request;
namespace rpc = metadata::rpc;
namespace p = protocol;

constexpr int16_t kUnknownTopicOrPartition = 3;
constexpr int16_t kMaxMetadataVersion = 12;  // v13 adds only a top-level error code; keep to 12

// What the controller listener serves besides Raft (the transport answers ApiVersions and the
// Raft APIs itself). Sorted by key.
constexpr ControllerApi::Served kServed[] = {
    {3, 0, kMaxMetadataVersion},                                    // Metadata
    {19, 0, p::CreateTopicsRequest::kHighestVersion},               // CreateTopics
    {20, 0, p::DeleteTopicsRequest::kHighestVersion},               // DeleteTopics
    {33, 0, p::AlterConfigsRequest::kHighestVersion},               // AlterConfigs
    {37, 0, p::CreatePartitionsRequest::kHighestVersion},           // CreatePartitions
    {44, 0, p::IncrementalAlterConfigsRequest::kHighestVersion},    // IncrementalAlterConfigs
    {45, 0, p::AlterPartitionReassignmentsRequest::kHighestVersion},  // AlterPartitionReassignments
    {46, 0, p::ListPartitionReassignmentsRequest::kHighestVersion},   // ListPartitionReassignments
    {55, 0, p::DescribeQuorumRequest::kHighestVersion},             // DescribeQuorum
    {57, 0, p::UpdateFeaturesRequest::kHighestVersion},             // UpdateFeatures
    {62, 0, p::BrokerRegistrationRequest::kHighestVersion},         // BrokerRegistration
    {63, 0, p::BrokerHeartbeatRequest::kHighestVersion},            // BrokerHeartbeat
    {67, 0, p::AllocateProducerIdsRequest::kHighestVersion},        // AllocateProducerIds
    {1100, 0, 0}, {1101, 0, 0}, {1102, 0, 0}, {1103, 0, 0},          // floe's stream RPCs
    {1104, 0, 0}, {1105, 0, 0}, {1106, 0, 0}, {1107, 0, 0},          // floe's object RPCs
};

p::DescribeQuorumResponse quorum_response(const raft::QuorumDescription& q, int16_t version,
                                          const std::vector<raft::VoterAddress>& voters,
                                          const std::string& listener_name) {
  p::DescribeQuorumResponse response;
  if (version >= 2) {
    for (const auto& v : voters) {
      p::DescribeQuorumResponse::Node node;
      node.node_id = v.id;
      node.listeners.push_back({listener_name, v.host, v.port, {}});
      response.nodes.push_back(std::move(node));
    }
  }
  p::DescribeQuorumResponse::TopicData topic;
  topic.topic_name = std::string(raft::kMetadataTopicName);
  p::DescribeQuorumResponse::PartitionData part;
  part.partition_index = raft::kMetadataPartition;
  part.leader_id = q.leader_id;
  part.leader_epoch = q.epoch;
  part.high_watermark = q.high_watermark;
  auto convert = [](const raft::QuorumReplicaState& s) {
    p::DescribeQuorumResponse::ReplicaState r;
    r.replica_id = s.replica_id;
    r.log_end_offset = s.log_end_offset;
    r.last_fetch_timestamp = s.last_fetch_timestamp_ms;
    r.last_caught_up_timestamp = s.last_caught_up_timestamp_ms;
    return r;
  };
  for (const auto& v : q.voters) part.current_voters.push_back(convert(v));
  for (const auto& o : q.observers) part.observers.push_back(convert(o));
  if (version < 2) part.error_message.reset();
  topic.partitions.push_back(std::move(part));
  response.topics.push_back(std::move(topic));
  if (version < 2) response.error_message.reset();
  return response;
}

// The offset a write's callback has been applied at (the Controller publishes its image before
// it runs the callback).
int64_t applied_offset(const metadata::Controller& c) { return c.image()->offset; }

// floe RPC responses: fill the common status fields.
template <typename Response>
void put_status(Response& response, const Status& status, int64_t offset) {
  if (status.ok()) {
    response.metadata_offset = offset;
    return;
  }
  auto wire = rpc::to_wire(status.error());
  response.error_code = wire.error_code;
  response.status_code = wire.status_code;
  response.error_message = wire.error_message;
  response.metadata_offset = -1;
}

// The placeholder answer of a Controller that does not implement broker sessions yet.

// ListPartitionReassignments: the moves in progress in this node's committed state (a node
// without its controller attached answers NOT_CONTROLLER).
void list_reassignments(const std::shared_ptr<KafkaCall>& call, const std::shared_ptr<metadata::Controller>& c) {
  auto req = decode_request<p::ListPartitionReassignmentsRequest>(*call);
  if (!req) return;
  if (!c) {
    p::ListPartitionReassignmentsResponse response;
    response.error_code = rpc::kNotController;
    response.error_message = "not the controller";
    return call->reply(response);
  }
  call->reply(metadata::list_reassignments_response(c->list_partition_reassignments(metadata::reassignment_filter(*req))));
}

int16_t topic_error_code(const Error& e) {
  return rpc::is_not_controller(e) ? rpc::kNotController : rpc::kUnknownServerError;
}

}  // namespace

std::span<const ControllerApi::Served> ControllerApi::served_apis() { return kServed; }

void ControllerApi::attach(std::shared_ptr<metadata::Controller> controller) {
  std::lock_guard lock(mu_);
  controller_ = std::move(controller);
}

void ControllerApi::detach() {
  std::lock_guard lock(mu_);
  controller_.reset();
}

raft::ApiVersionsFeatures ControllerApi::api_versions_features() const {
  auto c = controller();
  auto image = c ? c->image() : nullptr;  // lock-free (metadata/controller.h)
  return metadata::api_versions_features(image.get());
}

std::shared_ptr<metadata::Controller> ControllerApi::controller() const {
  std::lock_guard lock(mu_);
  return controller_;
}

void ControllerApi::handle(net::RequestFrame request, net::Responder responder) {
  auto call = std::make_shared<KafkaCall>(std::move(request), std::move(responder));
  const int16_t api = call->api_key();
  const int16_t version = call->version();
  const Served* served = nullptr;
  for (const auto& s : kServed) {
    if (s.key == api) served = &s;
  }
  if (served == nullptr || version < served->min_version || version > served->max_version) {
    log::debug("controller-api", "closing " + call->frame.peer + ": unsupported api " + std::to_string(api) + " v" +
                                     std::to_string(version));
    return call->close();
  }
  {
    ByteReader r(call->frame.frame);
    p::RequestHeader header;
    if (!header.decode(r, p::request_header_version(api, version)).ok()) return call->close();
    call->body_offset = r.pos();
  }
  auto c = controller();
  switch (api) {
    case p::DescribeQuorumRequest::kApiKey: return describe_quorum(call, c);
    case p::MetadataRequest::kApiKey: return metadata(call, c);
    case p::ListPartitionReassignmentsRequest::kApiKey: return list_reassignments(call, c);
    default: break;
  }
  // Everything else writes: only a leader that has its controller attached takes it.
  if (api >= 1100) return floe_rpc(call, c);
  return kafka_write(call, c);
}

void ControllerApi::describe_quorum(const std::shared_ptr<KafkaCall>& call,
                                    const std::shared_ptr<metadata::Controller>& c) {
  if (!decode_request<p::DescribeQuorumRequest>(*call)) return;
  const int16_t version = call->version();
  if (!c) {
    raft::QuorumDescription q;
    q.self_id = self_id_;
    return call->reply(quorum_response(q, version, voters_, listener_name_));
  }
  c->describe_quorum([call, version, voters = voters_, name = listener_name_](raft::QuorumDescription q) {
    call->reply(quorum_response(q, version, voters, name));
  });
}

// Metadata: the committed image (topics only; brokers as registered).
void ControllerApi::metadata(const std::shared_ptr<KafkaCall>& call, const std::shared_ptr<metadata::Controller>& c) {
  auto req = decode_request<p::MetadataRequest>(*call);
  if (!req) return;
  const int16_t version = call->version();
  p::MetadataResponse response;
  if (!c) return call->reply(response);
  auto image = c->image();
  auto status = c->raft_status();
  response.cluster_id = image->cluster_id.empty() ? std::nullopt : std::optional<std::string>(image->cluster_id);
  response.controller_id = status.leader_id;
  for (const auto& [id, b] : image->brokers) {
    if (b.fenced) continue;
    for (const auto& l : b.listeners) {
      if (l.name != "PLAINTEXT") continue;
      response.brokers.push_back({static_cast<int32_t>(id.value()), l.host, l.port, b.rack, {}});
    }
  }
  auto add = [&](const metadata::TopicImage& t) {
    p::MetadataResponse::MetadataResponseTopic topic;
    topic.name = t.name;
    topic.topic_id = t.id;
    topic.is_internal = t.internal;
    for (const auto& part : t.partitions) {
      p::MetadataResponse::MetadataResponsePartition out;
      out.partition_index = part.index;
      out.leader_id = part.leader.value();
      out.leader_epoch = part.leader_epoch;
      out.replica_nodes = {part.leader.value()};
      out.isr_nodes = {part.leader.value()};
      topic.partitions.push_back(std::move(out));
    }
    response.topics.push_back(std::move(topic));
  };
  if (!req->topics || req->topics->empty()) {
    if (!req->topics || version == 0) {
      for (const auto& [name, t] : image->topics) add(t);
    }
  } else {
    for (const auto& wanted : *req->topics) {
      const metadata::TopicImage* t = wanted.name ? image->topic(*wanted.name) : nullptr;
      if (t) {
        add(*t);
      } else {
        p::MetadataResponse::MetadataResponseTopic missing;
        missing.name = wanted.name;
        missing.error_code = kUnknownTopicOrPartition;
        response.topics.push_back(std::move(missing));
      }
    }
  }
  call->reply(response);
}

// Kafka's controller writes. A node without an attached controller answers NOT_CONTROLLER (the
// Controller itself answers it when this node does not lead).
void ControllerApi::kafka_write(const std::shared_ptr<KafkaCall>& call,
                                const std::shared_ptr<metadata::Controller>& c) {
  const int16_t api = call->api_key();
  auto topic_results = [](std::vector<metadata::TopicResult>* list, const Result<std::vector<metadata::TopicResult>>& r,
                          const std::vector<std::string>& names) {
    if (r.ok()) {
      *list = *r;
      return;
    }
    for (const auto& n : names) {
      metadata::TopicResult t;
      t.name = n;
      t.error_code = topic_error_code(r.error());
      t.error_message = r.error().message;
      list->push_back(std::move(t));
    }
  };
  auto not_controller = Error(Errc::internal, "not the controller");

  if (api == p::CreateTopicsRequest::kApiKey) {
    auto req = decode_request<p::CreateTopicsRequest>(*call);
    if (!req) return;
    std::vector<metadata::TopicSpec> specs;
    std::vector<std::string> names;
    for (const auto& t : req->topics) {
      metadata::TopicSpec spec;
      spec.name = t.name;
      spec.num_partitions = t.num_partitions;
      for (const auto& cfg : t.configs) {
        if (cfg.value) spec.configs[cfg.name] = *cfg.value;
      }
      // floe's hidden group-state topic: created by the first broker that starts.
      spec.internal = t.name == broker::kGroupStateTopic;
      specs.push_back(std::move(spec));
      names.push_back(t.name);
    }
    auto finish = [call, names, topic_results, c](Result<std::vector<metadata::TopicResult>> results) {
      std::vector<metadata::TopicResult> list;
      topic_results(&list, results, names);
      p::CreateTopicsResponse response;
      for (const auto& t : list) {
        auto& out = response.topics.emplace_back();
        const bool ok = t.error_code == 0;
        out.name = t.name;
        out.topic_id = t.topic_id;
        out.error_code = t.error_code;
        if (ok) out.error_message.reset();
        else out.error_message = t.error_message;
        out.num_partitions = ok ? t.num_partitions : -1;
        out.replication_factor = ok ? 1 : -1;
      }
      if (c && results.ok()) rpc::set_metadata_offset(response.unknown_tagged_fields, applied_offset(*c));
      call->reply(response);
    };
    if (!c) return finish(not_controller);
    return c->create_topics(std::move(specs), req->validate_only, finish);
  }

  if (api == p::DeleteTopicsRequest::kApiKey) {
    auto req = decode_request<p::DeleteTopicsRequest>(*call);
    if (!req) return;
    std::vector<std::string> names = req->topic_names;
    for (const auto& t : req->topics) {
      if (t.name) names.push_back(*t.name);
    }
    auto finish = [call, names, topic_results, c](Result<std::vector<metadata::TopicResult>> results) {
      std::vector<metadata::TopicResult> list;
      topic_results(&list, results, names);
      p::DeleteTopicsResponse response;
      for (const auto& t : list) {
        auto& out = response.responses.emplace_back();
        out.name = t.name;
        out.topic_id = t.topic_id;
        out.error_code = t.error_code;
        if (t.error_code != 0) out.error_message = t.error_message;
      }
      if (c && results.ok()) rpc::set_metadata_offset(response.unknown_tagged_fields, applied_offset(*c));
      call->reply(response);
    };
    if (!c) return finish(not_controller);
    return c->delete_topics(names, finish);
  }

  if (api == p::AlterPartitionReassignmentsRequest::kApiKey) {
    auto req = decode_request<p::AlterPartitionReassignmentsRequest>(*call);
    if (!req) return;
    auto items = metadata::reassignments_from_wire(*req);
    auto finish = [call, items, c](Result<std::vector<metadata::ReassignResult>> results) {
      p::AlterPartitionReassignmentsResponse response = metadata::reassign_response(items, results);
      if (c && results.ok()) rpc::set_metadata_offset(response.unknown_tagged_fields, applied_offset(*c));
      call->reply(response);
    };
    if (!c) return finish(not_controller);
    return c->alter_partition_reassignments(std::move(items), finish);
  }

  if (api == p::CreatePartitionsRequest::kApiKey) {
    auto req = decode_request<p::CreatePartitionsRequest>(*call);
    if (!req) return;
    std::vector<metadata::PartitionsSpec> specs;
    std::vector<std::string> names;
    for (const auto& t : req->topics) {
      specs.push_back({t.name, t.count});
      names.push_back(t.name);
    }
    auto finish = [call, names, topic_results, c](Result<std::vector<metadata::TopicResult>> results) {
      std::vector<metadata::TopicResult> list;
      topic_results(&list, results, names);
      p::CreatePartitionsResponse response;
      for (const auto& t : list) {
        auto& out = response.results.emplace_back();
        out.name = t.name;
        out.error_code = t.error_code;
        if (t.error_code != 0) out.error_message = t.error_message;
      }
      if (c && results.ok()) rpc::set_metadata_offset(response.unknown_tagged_fields, applied_offset(*c));
      call->reply(response);
    };
    if (!c) return finish(not_controller);
    return c->create_partitions(std::move(specs), req->validate_only, finish);
  }

  if (api == p::IncrementalAlterConfigsRequest::kApiKey || api == p::AlterConfigsRequest::kApiKey) {
    // One resource per request (what RemoteController sends); each resource is answered. TOPIC
    // resources go to alter_topic_configs, BROKER ones to alter_broker_configs.
    struct Item {
      std::string topic;
      std::vector<metadata::ConfigChange> changes;
      int8_t resource_type;
      std::vector<metadata::BrokerConfigChange> broker_changes = {};
      bool bad_op = false;  // an operation outside SET, DELETE, APPEND, SUBTRACT
    };
    std::vector<Item> items;
    bool validate_only = false;
    const bool incremental = api == p::IncrementalAlterConfigsRequest::kApiKey;
    if (incremental) {
      auto req = decode_request<p::IncrementalAlterConfigsRequest>(*call);
      if (!req) return;
      validate_only = req->validate_only;
      for (const auto& res : req->resources) {
        Item item{res.resource_name, {}, res.resource_type};
        for (const auto& cfg : res.configs) {
          item.changes.push_back({cfg.name, cfg.config_operation == 1 ? metadata::ConfigOp::remove : metadata::ConfigOp::set,
                                  cfg.value});
          item.broker_changes.push_back(
              {cfg.name, static_cast<metadata::BrokerConfigOp>(std::clamp<int8_t>(cfg.config_operation, 0, 3)), cfg.value});
          if (cfg.config_operation < 0 || cfg.config_operation > 3) item.bad_op = true;
        }
        items.push_back(std::move(item));
      }
    } else {
      auto req = decode_request<p::AlterConfigsRequest>(*call);
      if (!req) return;
      validate_only = req->validate_only;
      for (const auto& res : req->resources) {
        Item item{res.resource_name, {}, res.resource_type};
        for (const auto& cfg : res.configs) {
          item.changes.push_back({cfg.name, metadata::ConfigOp::set, cfg.value});
          item.broker_changes.push_back({cfg.name, metadata::BrokerConfigOp::set, cfg.value});
        }
        items.push_back(std::move(item));
      }
    }
    struct State {
      std::mutex mu;
      std::vector<metadata::TopicResult> results;
      std::vector<int8_t> types;
      size_t remaining = 0;
      bool any_ok = false;
    };
    auto state = std::make_shared<State>();
    state->results.resize(items.size());
    state->remaining = items.size();
    for (const auto& item : items) state->types.push_back(item.resource_type);
    auto reply = [call, state, incremental, c] {
      auto fill = [&](auto& response) {
        for (size_t i = 0; i < state->results.size(); ++i) {
          auto& out = response.responses.emplace_back();
          out.resource_type = state->types[i];
          out.resource_name = state->results[i].name;
          out.error_code = state->results[i].error_code;
          if (state->results[i].error_code != 0) out.error_message = state->results[i].error_message;
          else out.error_message.reset();
        }
        if (c && state->any_ok) rpc::set_metadata_offset(response.unknown_tagged_fields, applied_offset(*c));
        call->reply(response);
      };
      if (incremental) {
        p::IncrementalAlterConfigsResponse response;
        fill(response);
      } else {
        p::AlterConfigsResponse response;
        fill(response);
      }
    };
    if (items.empty()) return reply();
    for (size_t i = 0; i < items.size(); ++i) {
      auto done = [state, i, reply, name = items[i].topic](Result<metadata::TopicResult> r) {
        bool last = false;
        {
          std::lock_guard lock(state->mu);
          if (r.ok()) {
            state->results[i] = *r;
            if (r->error_code == 0) state->any_ok = true;
          } else {
            state->results[i].error_code = topic_error_code(r.error());
            state->results[i].error_message = r.error().message;
          }
          state->results[i].name = name;
          last = --state->remaining == 0;
        }
        if (last) reply();
      };
      if (!c) {
        done(not_controller);
        continue;
      }
      if (items[i].resource_type == metadata::kBrokerResourceType) {
        if (items[i].bad_op) {
          metadata::TopicResult bad;
          bad.error_code = p::kerr::kInvalidRequest;
          bad.error_message = "unknown config operation";
          done(bad);
          continue;
        }
        c->alter_broker_configs(items[i].topic, std::move(items[i].broker_changes), incremental, validate_only, done);
        continue;
      }
      c->alter_topic_configs(items[i].topic, std::move(items[i].changes), incremental, validate_only, done);
    }
    return;
  }

  if (api == p::BrokerRegistrationRequest::kApiKey) {
    auto req = decode_request<p::BrokerRegistrationRequest>(*call);
    if (!req) return;
    metadata::BrokerRegistration reg;
    reg.id = NodeId(req->broker_id);
    reg.incarnation_id = req->incarnation_id;
    for (const auto& l : req->listeners) reg.listeners.push_back(metadata::BrokerListener{l.name, l.host, l.port});
    reg.rack = req->rack;
    for (const auto& f : req->features) reg.features[f.name] = {f.min_supported_version, f.max_supported_version};
    if (!c) {
      p::BrokerRegistrationResponse response;
      response.error_code = rpc::kNotController;
      return call->reply(response);
    }
    // Kafka's rule: a broker that cannot run at a finalized feature level may not register.
    if (auto refusal = metadata::registration_feature_error(*c->image(), reg.features)) {
      log::warn("controller", "broker " + std::to_string(req->broker_id) + ": " + *refusal);
      p::BrokerRegistrationResponse response;
      response.error_code = p::kerr::kUnsupportedVersion;
      return call->reply(response);
    }
    return c->register_broker(std::move(reg), [call, c](Result<metadata::BrokerRegistrationReply> r) {
      p::BrokerRegistrationResponse response;
      if (!r.ok()) {
        response.error_code = topic_error_code(r.error());
      } else if (r->error_code != 0) {
        response.error_code = r->error_code;
      } else {
        const int64_t offset = applied_offset(*c);
        response.broker_epoch = r->broker_epoch >= 0 ? r->broker_epoch : offset;
        rpc::set_metadata_offset(response.unknown_tagged_fields, offset);
      }
      call->reply(response);
    });
  }

  if (api == p::BrokerHeartbeatRequest::kApiKey) {
    auto req = decode_request<p::BrokerHeartbeatRequest>(*call);
    if (!req) return;
    if (!c) {
      p::BrokerHeartbeatResponse response;
      response.error_code = rpc::kNotController;
      return call->reply(response);
    }
    metadata::BrokerHeartbeat hb;
    hb.id = NodeId(req->broker_id);
    hb.broker_epoch = req->broker_epoch;
    hb.current_metadata_offset = req->current_metadata_offset;
    hb.want_fence = req->want_fence;
    hb.want_shutdown = req->want_shut_down;
    return c->broker_heartbeat(hb, [call, c](Result<metadata::BrokerHeartbeatReply> r) {
      p::BrokerHeartbeatResponse response;
      if (!r.ok()) {
        response.error_code = topic_error_code(r.error());
      } else {
        response.error_code = r->error_code;
        response.is_caught_up = r->is_caught_up;
        response.is_fenced = r->is_fenced;
        response.should_shut_down = r->should_shutdown;
        if (r->error_code == 0) rpc::set_metadata_offset(response.unknown_tagged_fields, applied_offset(*c));
      }
      call->reply(response);
    });
  }

  if (api == p::UpdateFeaturesRequest::kApiKey) {
    auto req = decode_request<p::UpdateFeaturesRequest>(*call);
    if (!req) return;
    const int16_t version = call->version();
    auto updates = metadata::feature_updates_of(*req, version);
    auto finish = [call, c, version, updates](Result<std::vector<metadata::FeatureUpdateResult>> r) {
      std::vector<metadata::FeatureUpdateResult> results;
      if (r.ok()) {
        results = std::move(*r);
      } else {
        for (const auto& u : updates) results.push_back({u.feature, topic_error_code(r.error()), r.error().message});
      }
      auto response = metadata::update_features_response(results, version);
      if (c && r.ok()) rpc::set_metadata_offset(response.unknown_tagged_fields, applied_offset(*c));
      call->reply(response);
    };
    if (!c) return finish(not_controller);
    return c->update_features(std::move(updates), req->validate_only, finish);
  }

  if (api == p::AllocateProducerIdsRequest::kApiKey) {
    auto req = decode_request<p::AllocateProducerIdsRequest>(*call);
    if (!req) return;
    auto finish = [call, c](Result<metadata::ProducerIdBlock> r) {
      p::AllocateProducerIdsResponse response;
      if (r.ok()) {
        response.producer_id_start = r->first_id;
        response.producer_id_len = r->size;
        rpc::set_metadata_offset(response.unknown_tagged_fields, applied_offset(*c));
      } else {
        response.error_code = topic_error_code(r.error());
      }
      call->reply(response);
    };
    if (!c) return finish(not_controller);
    return c->allocate_producer_ids(NodeId(req->broker_id), finish);
  }
  call->close();
}

// floe's stream and object RPCs (1100+).
void ControllerApi::floe_rpc(const std::shared_ptr<KafkaCall>& call, const std::shared_ptr<metadata::Controller>& c) {
  auto not_controller = Error(Errc::internal, "not the controller");
  // Answers a Done-valued write.
  auto done_writer = [call, c]<typename Response>(Response*) {
    return [call, c](Result<stream::Done> r) {
      Response response;
      put_status(response, r.ok() ? Status{} : Status(r.error()), c ? applied_offset(*c) : -1);
      call->reply(response);
    };
  };
  switch (call->api_key()) {
    case p::FloeCreateStreamRequest::kApiKey: {
      if (!decode_request<p::FloeCreateStreamRequest>(*call)) return;
      auto finish = [call, c](Result<stream::StreamInfo> r) {
        p::FloeCreateStreamResponse response;
        put_status(response, r.ok() ? Status{} : Status(r.error()), c ? applied_offset(*c) : -1);
        if (r.ok()) rpc::put_stream_info(response, *r);
        call->reply(response);
      };
      if (!c) return finish(not_controller);
      return c->create_stream(finish);
    }
    case p::FloeOpenStreamRequest::kApiKey: {
      auto req = decode_request<p::FloeOpenStreamRequest>(*call);
      if (!req) return;
      auto finish = [call, c](Result<stream::StreamInfo> r) {
        p::FloeOpenStreamResponse response;
        put_status(response, r.ok() ? Status{} : Status(r.error()), c ? applied_offset(*c) : -1);
        if (r.ok()) rpc::put_stream_info(response, *r);
        call->reply(response);
      };
      if (!c) return finish(not_controller);
      return c->open_stream(StreamId(static_cast<uint64_t>(req->stream_id)), NodeId(req->node_id), req->request_id,
                            finish);
    }
    case p::FloeCloseStreamRequest::kApiKey: {
      auto req = decode_request<p::FloeCloseStreamRequest>(*call);
      if (!req) return;
      auto finish = done_writer(static_cast<p::FloeCloseStreamResponse*>(nullptr));
      if (!c) return finish(not_controller);
      return c->close_stream(StreamId(static_cast<uint64_t>(req->stream_id)),
                             StreamEpoch(static_cast<uint64_t>(req->epoch)), finish);
    }
    case p::FloeTrimStreamRequest::kApiKey: {
      auto req = decode_request<p::FloeTrimStreamRequest>(*call);
      if (!req) return;
      auto finish = done_writer(static_cast<p::FloeTrimStreamResponse*>(nullptr));
      if (!c) return finish(not_controller);
      return c->trim_stream(StreamId(static_cast<uint64_t>(req->stream_id)),
                            StreamEpoch(static_cast<uint64_t>(req->epoch)), Offset(req->new_start_offset), finish);
    }
    case p::FloePrepareObjectsRequest::kApiKey: {
      auto req = decode_request<p::FloePrepareObjectsRequest>(*call);
      if (!req) return;
      auto finish = [call, c](Result<ObjectId> r) {
        p::FloePrepareObjectsResponse response;
        put_status(response, r.ok() ? Status{} : Status(r.error()), c ? applied_offset(*c) : -1);
        if (r.ok()) response.first_object_id = static_cast<int64_t>(r->value());
        call->reply(response);
      };
      if (!c) return finish(not_controller);
      if (req->count <= 0) return finish(Error(Errc::invalid_value, "prepare_objects: count must be positive"));
      return c->prepare_objects(static_cast<uint32_t>(req->count), req->ttl_ms, finish);
    }
    case p::FloeCommitStreamSetObjectRequest::kApiKey: {
      auto req = decode_request<p::FloeCommitStreamSetObjectRequest>(*call);
      if (!req) return;
      auto finish = done_writer(static_cast<p::FloeCommitStreamSetObjectResponse*>(nullptr));
      if (!c) return finish(not_controller);
      return c->commit_stream_set_object(rpc::from_wire(*req), finish);
    }
    case p::FloeCommitStreamObjectRequest::kApiKey: {
      auto req = decode_request<p::FloeCommitStreamObjectRequest>(*call);
      if (!req) return;
      auto finish = done_writer(static_cast<p::FloeCommitStreamObjectResponse*>(nullptr));
      if (!c) return finish(not_controller);
      return c->commit_stream_object(rpc::from_wire(*req), finish);
    }
    case p::FloeEraseObjectsRequest::kApiKey: {
      auto req = decode_request<p::FloeEraseObjectsRequest>(*call);
      if (!req) return;
      auto finish = done_writer(static_cast<p::FloeEraseObjectsResponse*>(nullptr));
      if (!c) return finish(not_controller);
      std::vector<ObjectId> ids;
      for (auto id : req->object_ids) ids.push_back(ObjectId(static_cast<uint64_t>(id)));
      return c->erase_objects(std::move(ids), finish);
    }
    default:
      return call->close();
  }
}

}  // namespace floe::admin
