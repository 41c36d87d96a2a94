#include "metadata/image.h"

#include <algorithm>
#include <limits>

namespace floe::metadata {

namespace {
Error contradiction(const std::string& what) { return Error(Errc::corrupt, "metadata record: " + what); }

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;
}  // namespace

bool is_broker_config_resource(std::string_view name) {
  if (name.empty()) return true;
  if (name.size() > 10 || (name.size() > 1 && name[0] == '0')) return false;
  int64_t id = 0;
  for (char ch : name) {
    if (ch < '0' || ch > '9') return false;
    id = id * 10 + (ch - '0');
  }
  return id <= std::numeric_limits<int32_t>::max();
}

bool is_internal_topic_name(std::string_view name) {
  return name == "__consumer_offsets" || name == "__transaction_state";
}

const TopicImage* MetadataImage::topic(std::string_view name) const {
  auto it = topics.find(std::string(name));
  return it == topics.end() ? nullptr : &it->second;
}

const TopicImage* MetadataImage::topic(const Uuid& id) const {
  auto it = topic_names.find(id);
  return it == topic_names.end() ? nullptr : topic(it->second);
}

bool MetadataImage::same_content(const MetadataImage& other) const {
  return cluster_id == other.cluster_id && topics == other.topics && topic_names == other.topic_names &&
         brokers == other.brokers && next_producer_id == other.next_producer_id &&
         broker_configs == other.broker_configs && features == other.features;
}

bool same_streams(const StreamTable& a, const StreamTable& b) {
  auto same_info = [](const stream::StreamInfo& x, const stream::StreamInfo& y) {
    return x.id == y.id && x.epoch == y.epoch && x.start_offset == y.start_offset && x.end_offset == y.end_offset &&
           x.open == y.open && x.owner == y.owner;
  };
  auto same_object = [](const stream::ObjectMeta& x, const stream::ObjectMeta& y) {
    return x.id == y.id && x.kind == y.kind && x.state == y.state && x.node_id == y.node_id &&
           x.size_bytes == y.size_bytes && x.ranges == y.ranges && x.committed_ms == y.committed_ms &&
           x.destroyed_ms == y.destroyed_ms;
  };
  return a.next_stream_id == b.next_stream_id && a.next_object_id == b.next_object_id &&
         a.prepared_deadline_ms == b.prepared_deadline_ms && a.open_request_ids == b.open_request_ids &&
         std::equal(a.streams.begin(), a.streams.end(), b.streams.begin(), b.streams.end(),
                    [&](const auto& x, const auto& y) { return x.first == y.first && same_info(x.second, y.second); }) &&
         std::equal(a.objects.begin(), a.objects.end(), b.objects.begin(), b.objects.end(),
                    [&](const auto& x, const auto& y) { return x.first == y.first && same_object(x.second, y.second); });
}

protocol::FloeStreamRecord MetadataState::stream_record(const stream::StreamInfo& info) const {
  protocol::FloeStreamRecord r;
  if (auto it = streams.open_request_ids.find(info.id); it != streams.open_request_ids.end()) {
    r.open_request_id = it->second;
  }
  r.stream_id = static_cast<int64_t>(info.id.value());
  r.epoch = static_cast<int64_t>(info.epoch.value());
  r.start_offset = info.start_offset.value();
  r.end_offset = info.end_offset.value();
  r.open = info.open;
  r.owner = info.owner.value();
  return r;
}

protocol::FloeObjectRecord MetadataState::object_record(const stream::ObjectMeta& m, int64_t deadline_ms) {
  protocol::FloeObjectRecord r;
  r.object_id = static_cast<int64_t>(m.id.value());
  r.kind = static_cast<int8_t>(m.kind);
  r.state = static_cast<int8_t>(m.state);
  r.node_id = m.node_id.value();
  r.size_bytes = static_cast<int64_t>(m.size_bytes);
  for (const auto& range : m.ranges) {
    r.ranges.push_back({static_cast<int64_t>(range.stream_id.value()), static_cast<int64_t>(range.epoch.value()),
                        range.start_offset.value(), range.end_offset.value(), {}});
  }
  r.committed_ms = m.committed_ms;
  r.destroyed_ms = m.destroyed_ms;
  r.deadline_ms = deadline_ms;
  return r;
}

protocol::FloeIdCountersRecord MetadataState::counters_record() const {
  protocol::FloeIdCountersRecord r;
  r.next_stream_id = static_cast<int64_t>(streams.next_stream_id);
  r.next_object_id = static_cast<int64_t>(streams.next_object_id);
  return r;
}

const PartitionImage* MetadataState::partition_of(StreamId id) const {
  auto it = stream_partitions.find(id);
  if (it == stream_partitions.end()) return nullptr;
  const TopicImage* topic = image.topic(it->second.first);
  if (!topic || it->second.second < 0 || static_cast<size_t>(it->second.second) >= topic->partitions.size()) return nullptr;
  return &topic->partitions[static_cast<size_t>(it->second.second)];
}

Status MetadataState::apply_all(const std::vector<MetadataRecord>& records) {
  for (const auto& r : records) FLOE_TRY(apply(r));
  return ok_status();
}

Status MetadataState::apply(const MetadataRecord& record) {
  auto check_broker = [&](int32_t id, int64_t epoch) -> Status {
    auto it = image.brokers.find(NodeId(id));
    if (it == image.brokers.end()) return contradiction("change of unregistered broker " + std::to_string(id));
    if (it->second.epoch != epoch) {
      return contradiction("broker " + std::to_string(id) + " epoch " + std::to_string(epoch) + " is not its current " +
                           std::to_string(it->second.epoch));
    }
    return ok_status();
  };
  return std::visit(
      Overloaded{
          [&](const protocol::TopicRecord& r) -> Status {
            if (image.topics.count(r.name) || image.topic_names.count(r.topic_id))
              return contradiction("topic " + r.name + " exists");
            TopicImage t;
            t.name = r.name;
            t.id = r.topic_id;
            t.internal = is_internal_topic_name(r.name);
            image.topic_names[r.topic_id] = r.name;
            image.topics[r.name] = std::move(t);
            return ok_status();
          },
          [&](const protocol::RemoveTopicRecord& r) -> Status {
            auto it = image.topic_names.find(r.topic_id);
            if (it == image.topic_names.end()) return contradiction("remove of unknown topic " + r.topic_id.to_string());
            for (const auto& p : image.topics[it->second].partitions) stream_partitions.erase(p.stream_id);
            image.topics.erase(it->second);
            image.topic_names.erase(it);
            return ok_status();
          },
          [&](const protocol::ConfigRecord& r) -> Status {
            if (r.resource_type == kBrokerResourceType) {
              if (!is_broker_config_resource(r.resource_name))
                return contradiction("broker config resource '" + r.resource_name + "'");
              auto& configs = image.broker_configs[r.resource_name];
              if (r.value) configs[r.name] = *r.value;
              else configs.erase(r.name);
              if (configs.empty()) image.broker_configs.erase(r.resource_name);
              return ok_status();
            }
            if (r.resource_type != kTopicResourceType) return contradiction("config of resource type " + std::to_string(r.resource_type));
            auto it = image.topics.find(r.resource_name);
            if (it == image.topics.end()) return contradiction("config of unknown topic " + r.resource_name);
            if (r.value) it->second.configs[r.name] = *r.value;
            else it->second.configs.erase(r.name);
            return ok_status();
          },
          [&](const protocol::RegisterBrokerRecord& r) -> Status {
            BrokerImage b;
            b.id = NodeId(r.broker_id);
            for (const auto& e : r.end_points) b.listeners.push_back({e.name, e.host, e.port});
            b.rack = r.rack;
            b.fenced = r.fenced;
            b.incarnation_id = r.incarnation_id;
            b.epoch = r.broker_epoch;
            b.in_controlled_shutdown = r.in_controlled_shutdown;
            for (const auto& f : r.features) b.features[f.name] = FeatureRange{f.min_supported_version, f.max_supported_version};
            image.brokers[b.id] = std::move(b);
            return ok_status();
          },
          [&](const protocol::FenceBrokerRecord& r) -> Status {
            FLOE_TRY(check_broker(r.id, r.epoch));
            image.brokers[NodeId(r.id)].fenced = true;
            return ok_status();
          },
          [&](const protocol::UnfenceBrokerRecord& r) -> Status {
            FLOE_TRY(check_broker(r.id, r.epoch));
            image.brokers[NodeId(r.id)].fenced = false;
            return ok_status();
          },
          [&](const protocol::BrokerRegistrationChangeRecord& r) -> Status {
            FLOE_TRY(check_broker(r.broker_id, r.broker_epoch));
            if (r.fenced < -1 || r.fenced > 1 || r.in_controlled_shutdown < 0 || r.in_controlled_shutdown > 1)
              return contradiction("broker registration change values");
            auto& b = image.brokers[NodeId(r.broker_id)];
            if (r.fenced != 0) b.fenced = r.fenced == 1;
            if (r.in_controlled_shutdown == 1) b.in_controlled_shutdown = true;
            return ok_status();
          },
          [&](const protocol::PartitionChangeRecord& r) -> Status {
            auto name = image.topic_names.find(r.topic_id);
            if (name == image.topic_names.end()) return contradiction("partition change of unknown topic");
            auto& parts = image.topics[name->second].partitions;
            if (r.partition_id < 0 || static_cast<size_t>(r.partition_id) >= parts.size())
              return contradiction("partition change of unknown partition " + std::to_string(r.partition_id));
            if (r.leader < -2) return contradiction("partition change leader " + std::to_string(r.leader));
            auto& p = parts[static_cast<size_t>(r.partition_id)];
            if (r.leader != -2) {
              p.leader = NodeId(r.leader);
              p.leader_epoch += 1;
            }
            return ok_status();
          },
          [&](const protocol::FeatureLevelRecord& r) -> Status {
            if (r.name.empty() || r.feature_level < 0) return contradiction("feature level record");
            if (r.feature_level == 0) image.features.erase(r.name);
            else image.features[r.name] = r.feature_level;
            return ok_status();
          },
          [&](const protocol::ProducerIdsRecord& r) -> Status {
            if (r.next_producer_id < image.next_producer_id) return contradiction("producer ids move backwards");
            image.next_producer_id = r.next_producer_id;
            return ok_status();
          },
          [&](const protocol::FloeClusterRecord& r) -> Status {
            if (!image.cluster_id.empty() && image.cluster_id != r.cluster_id) return contradiction("cluster id changes");
            image.cluster_id = r.cluster_id;
            return ok_status();
          },
          [&](const protocol::FloePartitionRecord& r) -> Status {
            auto name = image.topic_names.find(r.topic_id);
            if (name == image.topic_names.end()) return contradiction("partition of unknown topic");
            auto& parts = image.topics[name->second].partitions;
            PartitionImage p{r.partition_id, StreamId(static_cast<uint64_t>(r.stream_id)), NodeId(r.leader), r.leader_epoch};
            if (r.partition_id >= 0 && static_cast<size_t>(r.partition_id) < parts.size()) {
              stream_partitions.erase(parts[static_cast<size_t>(r.partition_id)].stream_id);
              parts[static_cast<size_t>(r.partition_id)] = p;  // a leader change
            } else if (static_cast<size_t>(r.partition_id) == parts.size()) {
              parts.push_back(p);
            } else {
              return contradiction("partition " + std::to_string(r.partition_id) + " out of order");
            }
            stream_partitions[p.stream_id] = {r.topic_id, r.partition_id};
            return ok_status();
          },
          [&](const protocol::FloeStreamRecord& r) -> Status {
            StreamId id(static_cast<uint64_t>(r.stream_id));
            if (id.value() >= streams.next_stream_id) return contradiction("stream id above the counter");
            stream::StreamInfo& s = streams.streams[id];
            s.id = id;
            s.epoch = StreamEpoch(static_cast<uint64_t>(r.epoch));
            s.start_offset = Offset(r.start_offset);
            s.end_offset = Offset(r.end_offset);
            s.open = r.open;
            s.owner = NodeId(r.owner);
            if (r.open_request_id != 0) streams.open_request_ids[id] = r.open_request_id;
            else streams.open_request_ids.erase(id);
            return ok_status();
          },
          [&](const protocol::FloeRemoveStreamRecord& r) -> Status {
            streams.streams.erase(StreamId(static_cast<uint64_t>(r.stream_id)));
            streams.open_request_ids.erase(StreamId(static_cast<uint64_t>(r.stream_id)));
            return ok_status();
          },
          [&](const protocol::FloeObjectRecord& r) -> Status {
            ObjectId id(static_cast<uint64_t>(r.object_id));
            if (id.value() >= streams.next_object_id) return contradiction("object id above the counter");
            if (r.kind < 1 || r.kind > 2 || r.state < 1 || r.state > 3) return contradiction("object kind/state");
            auto [it, fresh] = streams.objects.try_emplace(id);
            stream::ObjectMeta& m = it->second;
            if (!fresh) object_index.remove(m);  // as it was; added back below as it is
            m.id = id;
            m.kind = static_cast<stream::ObjectKind>(r.kind);
            m.state = static_cast<stream::ObjectState>(r.state);
            m.node_id = NodeId(r.node_id);
            m.size_bytes = static_cast<uint64_t>(r.size_bytes);
            m.ranges.clear();
            for (const auto& range : r.ranges) {
              m.ranges.push_back({StreamId(static_cast<uint64_t>(range.stream_id)),
                                  StreamEpoch(static_cast<uint64_t>(range.epoch)), Offset(range.start_offset),
                                  Offset(range.end_offset)});
            }
            m.committed_ms = r.committed_ms;
            m.destroyed_ms = r.destroyed_ms;
            if (m.state == stream::ObjectState::prepared) streams.prepared_deadline_ms[id] = r.deadline_ms;
            else streams.prepared_deadline_ms.erase(id);
            object_index.add(m);
            return ok_status();
          },
          [&](const protocol::FloeRemoveObjectRecord& r) -> Status {
            ObjectId id(static_cast<uint64_t>(r.object_id));
            if (auto it = streams.objects.find(id); it != streams.objects.end()) {
              object_index.remove(it->second);
              streams.objects.erase(it);
            }
            streams.prepared_deadline_ms.erase(id);
            return ok_status();
          },
          [&](const protocol::FloeIdCountersRecord& r) -> Status {
            if (static_cast<uint64_t>(r.next_stream_id) < streams.next_stream_id ||
                static_cast<uint64_t>(r.next_object_id) < streams.next_object_id)
              return contradiction("id counters move backwards");
            streams.next_stream_id = static_cast<uint64_t>(r.next_stream_id);
            streams.next_object_id = static_cast<uint64_t>(r.next_object_id);
            return ok_status();
          },
      },
      record);
}

std::vector<MetadataRecord> MetadataState::to_records() const {
  std::vector<MetadataRecord> out;
  // Kafka's snapshots begin with the feature levels (metadata.version says how to read the rest).
  for (const auto& [name, level] : image.features) out.push_back(protocol::FeatureLevelRecord{name, level, {}});
  if (!image.cluster_id.empty()) out.push_back(protocol::FloeClusterRecord{image.cluster_id, {}});
  out.push_back(counters_record());
  if (image.next_producer_id > 0) {
    protocol::ProducerIdsRecord r;
    r.broker_id = -1;
    r.next_producer_id = image.next_producer_id;
    out.push_back(r);
  }
  for (const auto& [id, b] : image.brokers) {
    protocol::RegisterBrokerRecord r;
    r.broker_id = id.value();
    r.incarnation_id = b.incarnation_id;
    for (const auto& l : b.listeners) {
      protocol::RegisterBrokerRecord::BrokerEndpoint e;
      e.name = l.name;
      e.host = l.host;
      e.port = static_cast<uint16_t>(l.port);
      r.end_points.push_back(e);
    }
    r.rack = b.rack;
    r.fenced = b.fenced;
    r.broker_epoch = b.epoch;
    r.in_controlled_shutdown = b.in_controlled_shutdown;
    r.features = feature_list<protocol::RegisterBrokerRecord::BrokerFeature>(b.features);
    out.push_back(r);
  }
  for (const auto& [resource, configs] : image.broker_configs) {
    for (const auto& [key, value] : configs) {
      out.push_back(protocol::ConfigRecord{kBrokerResourceType, resource, key, value, {}});
    }
  }
  for (const auto& [id, s] : streams.streams) out.push_back(stream_record(s));
  for (const auto& [name, t] : image.topics) {
    out.push_back(protocol::TopicRecord{t.name, t.id, {}});
    for (const auto& p : t.partitions) {
      out.push_back(protocol::FloePartitionRecord{t.id, p.index, static_cast<int64_t>(p.stream_id.value()),
                                                  p.leader.value(), p.leader_epoch, {}});
    }
    for (const auto& [key, value] : t.configs) {
      out.push_back(protocol::ConfigRecord{kTopicResourceType, t.name, key, value, {}});
    }
  }
  for (const auto& [id, m] : streams.objects) {
    auto deadline = streams.prepared_deadline_ms.find(id);
    out.push_back(object_record(m, deadline == streams.prepared_deadline_ms.end() ? 0 : deadline->second));
  }
  return out;
}

}  // namespace floe::metadata
