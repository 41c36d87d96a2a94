// Cluster and admin APIs: ApiVersions, Metadata, CreateTopics, DeleteTopics, CreatePartitions,
// DescribeConfigs, AlterConfigs, IncrementalAlterConfigs, UpdateFeatures, DescribeCluster, DescribeLogDirs.
#include <limits>
#include <map>

#include "broker/broker.h"
#include "broker/call.h"
#include "common/config.h"
#include "metadata/broker_config.h"
#include "metadata/features.h"
#include "metadata/topic_config.h"
#include "protocol/messages.h"

namespace floe::broker {

namespace {
constexpr int8_t kResourceTopic = 2;
constexpr int8_t kResourceBroker = 4;

// DescribeConfigs' config type codes (Kafka's ConfigType).
int8_t kafka_config_type(metadata::ConfigType t) {
  switch (t) {
    case metadata::ConfigType::boolean: return 1;
    case metadata::ConfigType::string: return 2;
    case metadata::ConfigType::int_: return 3;
    case metadata::ConfigType::long_: return 5;
    case metadata::ConfigType::double_: return 6;
    case metadata::ConfigType::list: return 7;
  }
  return 0;
}

// Shared completion counter for handlers that fan out to several async calls.
struct FanIn {
  explicit FanIn(size_t n, std::function<void()> done) : remaining(n), done(std::move(done)) {}
  void one_done() {
    if (remaining.fetch_sub(1) == 1) done();
  }
  std::atomic<size_t> remaining;
  std::function<void()> done;
};
}  // namespace

void Broker::handle_api_versions(std::shared_ptr<Call> call) {
  protocol::ApiVersionsResponse resp;
  for (const auto& a : supported_apis()) {
    resp.api_keys.push_back({a.key, a.min_version, a.max_version, {}});
  }
  const SupportedApi* self = find_supported_api(protocol::api_key::kApiVersions);
  if (call->version() > self->max_version) {
    // KIP-511: answer at v0 with UNSUPPORTED_VERSION so the client retries with a version we know.
    resp.error_code = kerr::kUnsupportedVersion;
    call->frame.api_version = 0;
    return call->reply(resp);
  }
  // v3+ bodies carry the client's software name/version; not needed beyond validation.
  if (!decode_request<protocol::ApiVersionsRequest>(*call)) return;
  if (call->version() >= 3) {
    // Feature levels (metadata/features.h): floe's ranges, the cluster's finalized levels and the
    // metadata offset they hold at.
    raft::put_api_versions_features(metadata::api_versions_features(controller_.image().get()), resp);
  }
  call->reply(resp);
}

void Broker::handle_metadata(std::shared_ptr<Call> call) {
  auto req = decode_request<protocol::MetadataRequest>(*call);
  if (!req) return;
  const int16_t v = call->version();
  // v0: an empty list means every topic; v1+: null means every topic.
  bool all_topics = !req->topics.has_value() || (v == 0 && req->topics->empty());
  bool allow_auto_create = v < 4 ? true : req->allow_auto_topic_creation;

  auto respond = [this, call, req = *req, all_topics]() {
    auto image = controller_.image();
    protocol::MetadataResponse resp;
    for (const auto& [id, b] : image->brokers) {
      if (b.fenced) continue;
      for (const auto& l : b.listeners) {
        if (l.name != "PLAINTEXT") continue;
        resp.brokers.push_back({static_cast<int32_t>(id.value()), l.host, l.port, b.rack, {}});
      }
    }
    resp.cluster_id = image->cluster_id;
    resp.controller_id = static_cast<int32_t>(options_.node_id.value());
    auto describe = [&](const metadata::TopicImage& t) {
      protocol::MetadataResponse::MetadataResponseTopic out;
      out.name = t.name;
      out.topic_id = t.id;
      out.is_internal = t.internal;
      for (const auto& p : t.partitions) {
        protocol::MetadataResponse::MetadataResponsePartition mp;
        mp.partition_index = p.index;
        mp.leader_id = static_cast<int32_t>(p.leader.value());
        mp.leader_epoch = p.leader_epoch;
        auto found = lookup(t.name, p.index);
        if (found.partition) mp.leader_epoch = found.partition->leader_epoch();
        mp.error_code = found.error_code == kerr::kNotLeaderOrFollower ? kerr::kNone : found.error_code;
        if (found.partition && !found.partition->ready()) mp.error_code = kerr::kLeaderNotAvailable;
        // Offline (its owner was fenced with data only in its WAL): no leader until it is back.
        if (p.leader.value() < 0 && found.error_code == kerr::kNotLeaderOrFollower) mp.error_code = kerr::kLeaderNotAvailable;
        mp.replica_nodes = {mp.leader_id};
        mp.isr_nodes = {mp.leader_id};
        // A partition still being opened here has no leader yet: clients (acks=0 ones included)
        // must not send to it, they re-query metadata (Kafka does the same for new topics).
        if (mp.error_code == kerr::kLeaderNotAvailable) mp.leader_id = -1;
        out.partitions.push_back(std::move(mp));
      }
      return out;
    };
    if (all_topics) {
      for (const auto& [name, t] : image->topics) {
        if (!hidden_topic(name)) resp.topics.push_back(describe(t));
      }
    } else {
      for (const auto& rt : *req.topics) {
        const metadata::TopicImage* t = nullptr;
        if (rt.name.has_value() && !rt.name->empty()) {
          t = image->topic(*rt.name);
        } else if (!rt.topic_id.is_zero()) {
          t = image->topic(rt.topic_id);
        }
        if (t == nullptr || hidden_topic(t->name)) {
          protocol::MetadataResponse::MetadataResponseTopic missing;
          missing.name = rt.name;
          missing.topic_id = rt.topic_id;
          missing.error_code = rt.name.has_value() && !rt.name->empty() ? kerr::kUnknownTopicOrPartition
                                                                         : kerr::kUnknownTopicId;
          resp.topics.push_back(std::move(missing));
          continue;
        }
        resp.topics.push_back(describe(*t));
      }
    }
    call->reply(resp);
  };

  // Auto-create the named topics that do not exist (Kafka does this on a producer's or
  // consumer's metadata request when both the request and the broker allow it).
  std::vector<metadata::TopicSpec> to_create;
  if (!all_topics && allow_auto_create && options_.auto_create_topics) {
    auto image = controller_.image();
    for (const auto& rt : *req->topics) {
      if (!rt.name.has_value() || rt.name->empty() || hidden_topic(*rt.name)) continue;
      if (image->topic(*rt.name) != nullptr) continue;
      metadata::TopicSpec spec;
      spec.name = *rt.name;
      spec.num_partitions = options_.default_num_partitions;
      to_create.push_back(std::move(spec));
    }
  }
  if (to_create.empty()) return respond();
  controller_.create_topics(std::move(to_create), false,
                            [this, respond](Result<std::vector<metadata::TopicResult>>) {
                              // Whatever the outcome (an invalid name stays unknown), answer from
                              // the image once the new partitions are open here.
                              sync_partitions(respond);
                            });
}

void Broker::handle_create_topics(std::shared_ptr<Call> call) {
  auto req = decode_request<protocol::CreateTopicsRequest>(*call);
  if (!req) return;
  std::vector<metadata::TopicSpec> specs;
  std::map<std::string, int16_t> early_errors;  // duplicates in one request
  std::map<std::string, int> seen;
  for (const auto& t : req->topics) ++seen[t.name];
  for (const auto& t : req->topics) {
    if (seen[t.name] > 1) {
      early_errors[t.name] = kerr::kInvalidRequest;
      continue;
    }
    if (hidden_topic(t.name)) {
      early_errors[t.name] = kerr::kInvalidTopicException;
      continue;
    }
    metadata::TopicSpec spec;
    spec.name = t.name;
    spec.num_partitions = t.num_partitions;
    if (!t.assignments.empty()) spec.num_partitions = static_cast<int32_t>(t.assignments.size());
    for (const auto& c : t.configs) {
      if (c.value.has_value()) spec.configs[c.name] = *c.value;
    }
    specs.push_back(std::move(spec));
  }
  auto version = call->version();
  auto finish = [this, call, req = *req, early_errors, version](std::vector<metadata::TopicResult> results) {
    protocol::CreateTopicsResponse resp;
    std::map<std::string, metadata::TopicResult> by_name;
    for (auto& r : results) by_name[r.name] = r;
    for (const auto& t : req.topics) {
      protocol::CreateTopicsResponse::CreatableTopicResult out;
      out.name = t.name;
      if (auto e = early_errors.find(t.name); e != early_errors.end()) {
        out.error_code = e->second;
        out.error_message = e->second == kerr::kInvalidRequest ? "the topic is named twice in the request"
                                                               : "the name is reserved for floe's internal use";
      } else if (auto r = by_name.find(t.name); r != by_name.end()) {
        out.error_code = r->second.error_code;
        if (!r->second.error_message.empty()) out.error_message = r->second.error_message;
        else out.error_message = std::nullopt;
        out.topic_id = r->second.topic_id;
        if (r->second.error_code == 0) {
          out.num_partitions = r->second.num_partitions;
          out.replication_factor = 1;
        }
      } else {
        out.error_code = kerr::kUnknownServerError;
      }
      if (version < 5) out.configs = std::nullopt;
      resp.topics.push_back(std::move(out));
    }
    call->reply(resp);
  };
  if (specs.empty()) return finish({});
  std::vector<std::string> names;
  for (const auto& spec : specs) names.push_back(spec.name);
  controller_.create_topics(std::move(specs), req->validate_only,
                            [this, finish, names](Result<std::vector<metadata::TopicResult>> r) {
                              if (!r.ok()) {
                                std::vector<metadata::TopicResult> failed;
                                for (const auto& n : names) {
                                  metadata::TopicResult f;
                                  f.name = n;
                                  f.error_code = kerr::kNotController;
                                  f.error_message = r.error().message;
                                  failed.push_back(std::move(f));
                                }
                                return finish(std::move(failed));
                              }
                              auto results = std::move(*r);
                              sync_partitions([finish, results] { finish(results); });
                            });
}

void Broker::handle_delete_topics(std::shared_ptr<Call> call) {
  auto req = decode_request<protocol::DeleteTopicsRequest>(*call);
  if (!req) return;
  auto image = controller_.image();
  struct Wanted {
    std::optional<std::string> name;
    Uuid id;
    int16_t error = kerr::kNone;
  };
  std::vector<Wanted> wanted;
  for (const auto& n : req->topic_names) wanted.push_back({n, {}, kerr::kNone});
  for (const auto& t : req->topics) {
    Wanted w{t.name, t.topic_id, kerr::kNone};
    if ((!t.name.has_value() || t.name->empty()) && !t.topic_id.is_zero()) {
      const auto* found = image->topic(t.topic_id);
      if (found == nullptr) w.error = kerr::kUnknownTopicId;
      else w.name = found->name;
    }
    wanted.push_back(std::move(w));
  }
  std::vector<std::string> names;
  for (auto& w : wanted) {
    if (w.error != kerr::kNone || !w.name.has_value()) continue;
    if (hidden_topic(*w.name)) {
      w.error = kerr::kUnknownTopicOrPartition;
      continue;
    }
    names.push_back(*w.name);
  }
  auto finish = [this, call, wanted](std::vector<metadata::TopicResult> results) {
    protocol::DeleteTopicsResponse resp;
    std::map<std::string, metadata::TopicResult> by_name;
    for (auto& r : results) by_name[r.name] = r;
    for (const auto& w : wanted) {
      protocol::DeleteTopicsResponse::DeletableTopicResult out;
      out.name = w.name;
      out.topic_id = w.id;
      out.error_code = w.error;
      if (w.error == kerr::kNone && w.name.has_value()) {
        auto r = by_name.find(*w.name);
        if (r == by_name.end()) {
          out.error_code = kerr::kUnknownServerError;
        } else {
          out.error_code = r->second.error_code;
          if (!r->second.error_message.empty()) out.error_message = r->second.error_message;
          if (out.topic_id.is_zero()) out.topic_id = r->second.topic_id;
        }
      }
      resp.responses.push_back(std::move(out));
    }
    call->reply(resp);
  };
  if (names.empty()) return finish({});
  controller_.delete_topics(std::move(names), [this, finish](Result<std::vector<metadata::TopicResult>> r) {
    auto results = r.ok() ? std::move(*r) : std::vector<metadata::TopicResult>{};
    sync_partitions([finish, results] { finish(results); });
  });
}

void Broker::handle_create_partitions(std::shared_ptr<Call> call) {
  auto req = decode_request<protocol::CreatePartitionsRequest>(*call);
  if (!req) return;
  std::vector<metadata::PartitionsSpec> specs;
  for (const auto& t : req->topics) {
    if (hidden_topic(t.name)) continue;
    specs.push_back({t.name, t.count});
  }
  auto finish = [this, call, req = *req](std::vector<metadata::TopicResult> results) {
    protocol::CreatePartitionsResponse resp;
    std::map<std::string, metadata::TopicResult> by_name;
    for (auto& r : results) by_name[r.name] = r;
    for (const auto& t : req.topics) {
      protocol::CreatePartitionsResponse::CreatePartitionsTopicResult out;
      out.name = t.name;
      auto r = by_name.find(t.name);
      if (r == by_name.end()) {
        out.error_code = hidden_topic(t.name) ? kerr::kUnknownTopicOrPartition : kerr::kUnknownServerError;
      } else {
        out.error_code = r->second.error_code;
        if (!r->second.error_message.empty()) out.error_message = r->second.error_message;
      }
      resp.results.push_back(std::move(out));
    }
    call->reply(resp);
  };
  if (specs.empty()) return finish({});
  controller_.create_partitions(std::move(specs), req->validate_only,
                                [this, finish](Result<std::vector<metadata::TopicResult>> r) {
                                  auto results = r.ok() ? std::move(*r) : std::vector<metadata::TopicResult>{};
                                  sync_partitions([finish, results] { finish(results); });
                                });
}

namespace {
// DescribeConfigs' config type of a config registry key (Kafka's ConfigType codes).
int8_t kafka_config_type(const config::KeySpec& spec) {
  switch (spec.type) {
    case config::Type::boolean: return 1;
    case config::Type::integer:
    case config::Type::duration_ms:
    case config::Type::size_bytes: return spec.max <= std::numeric_limits<int32_t>::max() ? 3 : 5;
    case config::Type::subset:
    case config::Type::name_list:
    case config::Type::path_list:
    case config::Type::listeners:
    case config::Type::voters:
    case config::Type::bucket_list: return 7;
    default: return 2;
  }
}
}  // namespace

constexpr size_t kMaxDescribedConfigResources = 1000;

void Broker::handle_describe_configs(std::shared_ptr<Call> call) {
  auto req = decode_request<protocol::DescribeConfigsRequest>(*call);
  if (!req) return;
  auto image = controller_.image();
  const int16_t v = call->version();
  const std::string self = std::to_string(options_.node_id.value());
  protocol::DescribeConfigsResponse resp;
  size_t described = 0;
  for (const auto& res : req->resources) {
    protocol::DescribeConfigsResponse::DescribeConfigsResult out;
    out.resource_type = res.resource_type;
    out.resource_name = res.resource_name;
    out.error_message = std::nullopt;
    // A resource of a few request bytes expands to ~100 configs with documentation: the number
    // described per request is bounded, so one small request cannot ask for a huge answer.
    if (++described > kMaxDescribedConfigResources) {
      out.error_code = kerr::kInvalidRequest;
      out.error_message = "at most " + std::to_string(kMaxDescribedConfigResources) +
                          " resources are described per request";
      resp.results.push_back(std::move(out));
      continue;
    }
    auto wanted = [&](std::string_view key) {
      if (!res.configuration_keys.has_value() || res.configuration_keys->empty()) return true;
      for (const auto& k : *res.configuration_keys) {
        if (k == key) return true;
      }
      return false;
    };
    // sensitive: the value may hold credentials; as Kafka does for passwords, it is never sent.
    auto add = [&](const std::string& name, const metadata::EffectiveConfig& e, bool read_only, int8_t type,
                   std::string_view doc, bool sensitive = false) {
      if (!wanted(name)) return;
      protocol::DescribeConfigsResponse::DescribeConfigsResourceResult c;
      c.name = name;
      c.value = sensitive ? std::nullopt : std::optional<std::string>(e.value);
      c.is_sensitive = sensitive;
      c.read_only = read_only;
      c.is_default = e.source == metadata::ConfigSource::default_value;
      c.config_source = static_cast<int8_t>(e.source);
      c.config_type = type;
      if (v >= 3 && req->include_documentation) c.documentation = std::string(doc);
      else c.documentation = std::nullopt;
      if (req->include_synonyms && v >= 1) {
        for (const auto& s : e.synonyms) {
          c.synonyms.push_back({s.name, sensitive ? std::nullopt : std::optional<std::string>(s.value),
                                static_cast<int8_t>(s.source), {}});
        }
      }
      out.configs.push_back(std::move(c));
    };
    if (res.resource_type == kResourceTopic) {
      const auto* t = image->topic(res.resource_name);
      if (t == nullptr || hidden_topic(res.resource_name)) {
        out.error_code = kerr::kUnknownTopicOrPartition;
        out.error_message = "unknown topic";
      } else {
        for (const auto& def : metadata::topic_config_defs()) {
          add(def.name,
              metadata::effective_topic_config(*image, t, def, options_.node_id, options_.static_configs),
              false, kafka_config_type(def.type), def.doc);
        }
      }
    } else if (res.resource_type == kResourceBroker) {
      if (!res.resource_name.empty() && res.resource_name != self) {
        // Kafka: a broker describes itself or the cluster default ("").
        out.error_code = kerr::kInvalidRequest;
        out.error_message = "Unexpected broker id, expected " + self + " or empty string, but received " +
                            res.resource_name;
      } else {
        std::optional<NodeId> broker;
        if (!res.resource_name.empty()) {
          broker = options_.node_id;
          metadata::EffectiveConfig id{self, metadata::ConfigSource::static_broker,
                                       {{"node.id", self, metadata::ConfigSource::static_broker}}};
          add("broker.id", id, true, 3, "This node's id (node.id).");
        }
        for (const auto& spec : config::all_keys()) {
          auto e = metadata::effective_broker_config(*image, spec.name, broker, options_.static_configs);
          if (!e) continue;
          add(std::string(spec.name), *e, metadata::find_dynamic_broker_key(spec.name) == nullptr,
              kafka_config_type(spec), spec.doc, config::is_sensitive(spec));
        }
      }
    } else {
      out.error_code = kerr::kInvalidRequest;
      out.error_message = "unsupported resource type " + std::to_string(res.resource_type);
    }
    resp.results.push_back(std::move(out));
  }
  call->reply(resp);
}

// AlterConfigs and IncrementalAlterConfigs share everything but how a request entry becomes
// changes (Kafka's OpType: 0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT): each resource is checked here,
// then applied by the controller (TOPIC: alter_topic_configs; BROKER: alter_broker_configs, which
// validates the keys and values).
template <typename Request, typename Response, typename ToChanges>
void Broker::alter_configs(std::shared_ptr<Call> call, bool incremental, ToChanges to_changes) {
  auto req = decode_request<Request>(*call);
  if (!req) return;
  auto resp = std::make_shared<Response>();
  resp->responses.resize(req->resources.size());
  auto fan = std::make_shared<FanIn>(req->resources.size() + 1, [call, resp] { call->reply(*resp); });
  for (size_t i = 0; i < req->resources.size(); ++i) {
    const auto& res = req->resources[i];
    auto& out = resp->responses[i];
    out.resource_type = res.resource_type;
    out.resource_name = res.resource_name;
    out.error_message = std::nullopt;
    std::vector<metadata::BrokerConfigChange> changes;
    std::string refusal;
    const bool broker = res.resource_type == kResourceBroker;
    if ((res.resource_type != kResourceTopic && !broker) || (!broker && hidden_topic(res.resource_name))) {
      out.error_code = res.resource_type == kResourceTopic ? kerr::kUnknownTopicOrPartition : kerr::kInvalidRequest;
      refusal = "only topic and broker configs can be altered";
    } else if (!to_changes(res, changes, refusal)) {
      out.error_code = kerr::kInvalidRequest;
    } else if (!broker) {
      for (const auto& c : changes) {
        if (c.op == metadata::BrokerConfigOp::append || c.op == metadata::BrokerConfigOp::subtract) {
          out.error_code = kerr::kInvalidRequest;
          refusal = "APPEND and SUBTRACT of topic configs are not supported yet";
        }
      }
    }
    if (!refusal.empty()) {
      out.error_message = refusal;
      fan->one_done();
      continue;
    }
    auto done = [this, resp, i, fan](Result<metadata::TopicResult> r) {
      auto& out = resp->responses[i];
      if (!r.ok()) {
        out.error_code = kerr::kUnknownServerError;
        out.error_message = r.error().message;
      } else {
        out.error_code = r->error_code;
        if (!r->error_message.empty()) out.error_message = r->error_message;
      }
      sync_partitions();
      fan->one_done();
    };
    if (broker) {
      controller_.alter_broker_configs(res.resource_name, std::move(changes), incremental, req->validate_only,
                                       std::move(done));
      continue;
    }
    std::vector<metadata::ConfigChange> topic_changes;
    for (auto& c : changes) {
      topic_changes.push_back({std::move(c.key), c.op == metadata::BrokerConfigOp::remove ? metadata::ConfigOp::remove
                                                                                          : metadata::ConfigOp::set,
                               std::move(c.value)});
    }
    controller_.alter_topic_configs(res.resource_name, std::move(topic_changes), incremental, req->validate_only,
                                    std::move(done));
  }
  fan->one_done();
}

void Broker::handle_alter_configs(std::shared_ptr<Call> call) {
  alter_configs<protocol::AlterConfigsRequest, protocol::AlterConfigsResponse>(
      std::move(call), false, [](const auto& res, std::vector<metadata::BrokerConfigChange>& changes, std::string&) {
        for (const auto& c : res.configs) changes.push_back({c.name, metadata::BrokerConfigOp::set, c.value});
        return true;
      });
}

void Broker::handle_incremental_alter_configs(std::shared_ptr<Call> call) {
  alter_configs<protocol::IncrementalAlterConfigsRequest, protocol::IncrementalAlterConfigsResponse>(
      std::move(call), true,
      [](const auto& res, std::vector<metadata::BrokerConfigChange>& changes, std::string& refusal) {
        for (const auto& c : res.configs) {
          if (c.config_operation < 0 || c.config_operation > 3) {
            refusal = "unknown config operation " + std::to_string(c.config_operation);
            return false;
          }
          changes.push_back({c.name, static_cast<metadata::BrokerConfigOp>(c.config_operation), c.value});
        }
        return true;
      });
}

void Broker::handle_update_features(std::shared_ptr<Call> call) {
  auto req = decode_request<protocol::UpdateFeaturesRequest>(*call);
  if (!req) return;
  const int16_t version = call->version();
  auto updates = metadata::feature_updates_of(*req, version);
  controller_.update_features(updates, req->validate_only,
                              [call, version, updates](Result<std::vector<metadata::FeatureUpdateResult>> r) {
                                std::vector<metadata::FeatureUpdateResult> results;
                                if (r.ok()) {
                                  results = std::move(*r);
                                } else {
                                  for (const auto& u : updates) {
                                    results.push_back({u.feature, kerr::kUnknownServerError, r.error().message});
                                  }
                                }
                                call->reply(metadata::update_features_response(results, version));
                              });
}

void Broker::handle_describe_cluster(std::shared_ptr<Call> call) {
  auto req = decode_request<protocol::DescribeClusterRequest>(*call);
  if (!req) return;
  auto image = controller_.image();
  protocol::DescribeClusterResponse resp;
  resp.cluster_id = image->cluster_id;
  resp.controller_id = static_cast<int32_t>(options_.node_id.value());
  for (const auto& [id, b] : image->brokers) {
    for (const auto& l : b.listeners) {
      if (l.name != "PLAINTEXT") continue;
      resp.brokers.push_back({static_cast<int32_t>(id.value()), l.host, l.port, b.rack, b.fenced, {}});
    }
  }
  call->reply(resp);
}

void Broker::handle_describe_log_dirs(std::shared_ptr<Call> call) {
  auto req = decode_request<protocol::DescribeLogDirsRequest>(*call);
  if (!req) return;
  protocol::DescribeLogDirsResponse resp;
  protocol::DescribeLogDirsResponse::DescribeLogDirsResult dir;
  dir.log_dir = "floe-object-store";
  std::map<std::string, protocol::DescribeLogDirsResponse::DescribeLogDirsTopic> topics;
  for (auto& p : open_partitions()) {
    if (hidden_topic(p->topic())) continue;
    bool wanted = !req->topics.has_value();
    if (req->topics.has_value()) {
      for (const auto& t : *req->topics) {
        if (t.topic != p->topic()) continue;
        for (int32_t idx : t.partitions) wanted = wanted || idx == p->index();
      }
    }
    if (!wanted) continue;
    auto& t = topics[p->topic()];
    t.name = p->topic();
    t.partitions.push_back({p->index(), static_cast<int64_t>(p->size_bytes()), 0, false, {}});
  }
  for (auto& [name, t] : topics) dir.topics.push_back(std::move(t));
  resp.results.push_back(std::move(dir));
  call->reply(resp);
}

}  // namespace floe::broker
