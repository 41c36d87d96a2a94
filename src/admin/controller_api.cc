#include "admin/controller_api.h"

#include "common/log.h"
#include "protocol/api.h"
#include "protocol/generated/create_topics_request.h"
#include "protocol/generated/create_topics_response.h"
#include "protocol/generated/describe_quorum_request.h"
#include "protocol/generated/describe_quorum_response.h"
#include "protocol/generated/metadata_request.h"
#include "protocol/generated/metadata_response.h"
#include "protocol/generated/request_header.h"
#include "protocol/generated/response_header.h"
#include "raft/wire.h"

namespace floe::admin {

namespace {

constexpr int16_t kNotController = 41;
constexpr int16_t kUnknownTopicOrPartition = 3;
constexpr int16_t kMaxMetadataVersion = 12;  // v13 adds only a top-level error code; keep to 12

// One request: its frame, the responder, and where the body starts.
struct Call {
  net::RequestFrame frame;
  net::Responder responder;
  size_t body_offset = 0;

  template <typename Request>
  std::optional<Request> decode() {
    ByteReader r(frame.frame);
    Request request;
    if (!r.skip(body_offset).ok() || !request.decode(r, frame.api_version).ok()) return std::nullopt;
    return request;
  }
  template <typename Response>
  void reply(const Response& response) {
    ByteWriter w(256);
    protocol::ResponseHeader header;
    header.correlation_id = frame.correlation_id;
    header.encode(w, protocol::response_header_version(frame.api_key, frame.api_version));
    response.encode(w, frame.api_version);
    responder.respond(w.take());
  }
};

protocol::DescribeQuorumResponse quorum_response(const raft::QuorumDescription& q, int16_t version,
                                                 const std::vector<raft::VoterAddress>& voters,
                                                 const std::string& listener_name) {
  protocol::DescribeQuorumResponse response;
  if (version >= 2) {
    for (const auto& v : voters) {
      protocol::DescribeQuorumResponse::Node node;
      node.node_id = v.id;
      node.listeners.push_back({listener_name, v.host, v.port, {}});
      response.nodes.push_back(std::move(node));
    }
  }
  protocol::DescribeQuorumResponse::TopicData topic;
  topic.topic_name = std::string(raft::kMetadataTopicName);
  protocol::DescribeQuorumResponse::PartitionData p;
  p.partition_index = raft::kMetadataPartition;
  p.leader_id = q.leader_id;
  p.leader_epoch = q.epoch;
  p.high_watermark = q.high_watermark;
  auto convert = [](const raft::QuorumReplicaState& s) {
    protocol::DescribeQuorumResponse::ReplicaState r;
    r.replica_id = s.replica_id;
    r.log_end_offset = s.log_end_offset;
    r.last_fetch_timestamp = s.last_fetch_timestamp_ms;
    r.last_caught_up_timestamp = s.last_caught_up_timestamp_ms;
    return r;
  };
  for (const auto& v : q.voters) p.current_voters.push_back(convert(v));
  for (const auto& o : q.observers) p.observers.push_back(convert(o));
  if (version < 2) p.error_message.reset();
  topic.partitions.push_back(std::move(p));
  response.topics.push_back(std::move(topic));
  if (version < 2) response.error_message.reset();
  return response;
}

}  // namespace

void ControllerApi::attach(std::shared_ptr<metadata::Controller> controller) {
  std::lock_guard lock(mu_);
  controller_ = std::move(controller);
}

void ControllerApi::detach() {
  std::lock_guard lock(mu_);
  controller_.reset();
}

std::shared_ptr<metadata::Controller> ControllerApi::controller() const {
  std::lock_guard lock(mu_);
  return controller_;
}

void ControllerApi::handle(net::RequestFrame request, net::Responder responder) {
  auto call = std::make_shared<Call>(Call{std::move(request), std::move(responder), 0});
  const int16_t api = call->frame.api_key;
  const int16_t version = call->frame.api_version;
  int16_t max_version = api == protocol::DescribeQuorumRequest::kApiKey  ? protocol::DescribeQuorumRequest::kHighestVersion
                        : api == protocol::CreateTopicsRequest::kApiKey ? protocol::CreateTopicsRequest::kHighestVersion
                        : api == protocol::MetadataRequest::kApiKey     ? kMaxMetadataVersion
                                                                        : -1;
  if (version < 0 || version > max_version) {
    log::debug("controller-api", "closing " + call->frame.peer + ": unsupported api " + std::to_string(api) + " v" +
                                     std::to_string(version));
    return call->responder.close();
  }
  {
    ByteReader r(call->frame.frame);
    protocol::RequestHeader header;
    if (!header.decode(r, protocol::request_header_version(api, version)).ok()) return call->responder.close();
    call->body_offset = r.pos();
  }
  auto controller = this->controller();

  if (api == protocol::DescribeQuorumRequest::kApiKey) {
    if (!call->decode<protocol::DescribeQuorumRequest>()) return call->responder.close();
    if (!controller) {
      raft::QuorumDescription q;
      q.self_id = self_id_;
      return call->reply(quorum_response(q, version, voters_, listener_name_));
    }
    return controller->describe_quorum(
        [call, version, voters = voters_, name = listener_name_](raft::QuorumDescription q) {
          call->reply(quorum_response(q, version, voters, name));
        });
  }

  if (api == protocol::CreateTopicsRequest::kApiKey) {
    auto req = call->decode<protocol::CreateTopicsRequest>();
    if (!req) return call->responder.close();
    if (!controller) {
      protocol::CreateTopicsResponse response;
      for (const auto& t : req->topics) {
        protocol::CreateTopicsResponse::CreatableTopicResult r;
        r.name = t.name;
        r.error_code = kNotController;
        r.error_message = "not the controller";
        response.topics.push_back(std::move(r));
      }
      return call->reply(response);
    }
    std::vector<metadata::TopicSpec> specs;
    for (const auto& t : req->topics) {
      metadata::TopicSpec spec;
      spec.name = t.name;
      spec.num_partitions = t.num_partitions;
      for (const auto& c : t.configs) {
        if (c.value) spec.configs[c.name] = *c.value;
      }
      specs.push_back(std::move(spec));
    }
    return controller->create_topics(
        std::move(specs), req->validate_only, [call](Result<std::vector<metadata::TopicResult>> results) {
          protocol::CreateTopicsResponse response;
          if (results.ok()) {
            std::vector<metadata::TopicResult> list = std::move(results.value());
            response.topics.resize(list.size());
            for (size_t i = 0; i < list.size(); ++i) {
              auto& out = response.topics[i];
              const bool ok = list[i].error_code == 0;
              out.name = list[i].name;
              out.topic_id = list[i].topic_id;
              out.error_code = list[i].error_code;
              if (ok) out.error_message.reset();
              else out.error_message = list[i].error_message;
              out.num_partitions = ok ? list[i].num_partitions : -1;
              out.replication_factor = ok ? 1 : -1;
            }
          }
          call->reply(response);
        });
  }

  // Metadata: the committed image.
  auto req = call->decode<protocol::MetadataRequest>();
  if (!req) return call->responder.close();
  protocol::MetadataResponse response;
  if (!controller) return call->reply(response);
  auto image = controller->image();
  auto status = controller->raft_status();
  response.cluster_id = image->cluster_id.empty() ? std::nullopt : std::optional<std::string>(image->cluster_id);
  response.controller_id = status.leader_id;
  auto add = [&](const metadata::TopicImage& t) {
    protocol::MetadataResponse::MetadataResponseTopic topic;
    topic.name = t.name;
    topic.topic_id = t.id;
    topic.is_internal = t.internal;
    for (const auto& p : t.partitions) {
      protocol::MetadataResponse::MetadataResponsePartition part;
      part.partition_index = p.index;
      part.leader_id = p.leader.value();
      part.leader_epoch = p.leader_epoch;
      part.replica_nodes = {p.leader.value()};
      part.isr_nodes = {p.leader.value()};
      topic.partitions.push_back(std::move(part));
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
        protocol::MetadataResponse::MetadataResponseTopic missing;
        missing.name = wanted.name;
        missing.error_code = kUnknownTopicOrPartition;
        response.topics.push_back(std::move(missing));
      }
    }
  }
  call->reply(response);
}

}  // namespace floe::admin
