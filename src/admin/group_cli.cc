// `floe group list|describe`: see client_cli.h. describe prints, per committed partition, the
// committed offset, the log end offset and the lag, with the member assigned to it (decoded from
// the consumer protocol's assignment) — the table of kafka-consumer-groups.sh --describe. A
// coordinator that moves meanwhile is found again (CoordinatorLink), bounded by --timeout-ms; a
// bootstrap broker that goes away after the first Metadata leaves the later one to the brokers it
// named (brokers_to_ask).
#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "admin/client_cli.h"
#include "admin/kafka_tools.h"
#include "protocol/generated/consumer_protocol_assignment.h"
#include "protocol/generated/describe_groups_request.h"
#include "protocol/generated/describe_groups_response.h"
#include "protocol/generated/list_groups_request.h"
#include "protocol/generated/list_groups_response.h"
#include "protocol/generated/offset_fetch_request.h"
#include "protocol/generated/offset_fetch_response.h"

namespace floe::admin {

namespace {
constexpr int16_t kListGroupsVersion = 4;
constexpr int16_t kDescribeGroupsVersion = 5;
constexpr int16_t kOffsetFetchVersion = 7;

const char* kGroupUsage =
    "usage: floe group list --bootstrap-server H:P\n"
    "       floe group describe --bootstrap-server H:P --group G\n";

int usage(const std::string& message) { return usage_error("group", message, kGroupUsage); }

int fail(const std::string& sub, const std::string& message) {
  std::fprintf(stderr, "floe group %s: %s\n", sub.c_str(), message.c_str());
  return 1;
}

struct Owner {
  std::string member, host, client;
};
}  // namespace

int run_group_command(int argc, char** argv) {
  if (argc < 2) return usage("missing subcommand (known: list, describe)");
  const std::string sub = argv[1];
  if (sub != "list" && sub != "describe") return usage("unknown subcommand '" + sub + "' (known: list, describe)");
  std::string bootstrap, group;
  int64_t timeout_ms = 30000;
  ArgWalker w(argc, argv, 2);
  while (!w.done()) {
    w.next();
    if (w.take("--bootstrap-server", &bootstrap)) {
    } else if (sub == "describe" && w.take("--group", &group)) {
    } else if (w.take_int("--timeout-ms", 100, 3600000, &timeout_ms)) {
    } else {
      w.unknown();
    }
  }
  if (!w.error.empty()) return usage(sub + ": " + w.error);
  if (bootstrap.empty()) return usage(sub + ": --bootstrap-server HOST:PORT is required");
  if (sub == "describe" && group.empty()) return usage("describe: --group is required");

  Connections conns("floe-group", timeout_ms);
  auto boot = conns.get(bootstrap);
  if (!boot.ok()) return fail(sub, "cannot reach " + bootstrap + ": " + boot.error().message);

  if (sub == "list") {
    // Every broker coordinates some groups: ask each one the cluster names.
    auto view = fetch_cluster(**boot, std::vector<std::string>{});
    if (!view.ok()) return fail(sub, bootstrap + ": " + view.error().message);
    std::set<std::tuple<std::string, std::string, std::string>> groups;
    std::vector<std::string> addresses;
    for (const auto& [id, address] : view->brokers) addresses.push_back(address);
    if (addresses.empty()) addresses.push_back(bootstrap);
    int rc = 0;
    for (const auto& address : addresses) {
      auto c = conns.get(address);
      if (!c.ok()) {
        rc = fail(sub, "cannot reach " + address + ": " + c.error().message);
        continue;
      }
      auto resp = (*c)->call<protocol::ListGroupsResponse>(protocol::ListGroupsRequest{}, kListGroupsVersion);
      if (!resp.ok()) {
        rc = fail(sub, address + ": " + resp.error().message);
        continue;
      }
      if (resp->error_code != 0) {
        rc = fail(sub, address + ": " + kafka_error_name(resp->error_code));
        continue;
      }
      for (const auto& g : resp->groups) groups.insert({g.group_id, g.group_state, g.protocol_type});
    }
    std::printf("%-40s %-20s %s\n", "GROUP", "STATE", "PROTOCOL-TYPE");
    for (const auto& [id, state, type] : groups) {
      std::printf("%-40s %-20s %s\n", id.c_str(), state.empty() ? "-" : state.c_str(), type.empty() ? "-" : type.c_str());
    }
    return rc;
  }

  // The coordinator may move between (or during) the requests: the link finds it again.
  CoordinatorLink coordinator(conns, "group " + sub, bootstrap, group, timeout_ms);
  std::vector<std::string> metadata_brokers{bootstrap};
  if (auto view = fetch_cluster(**boot, std::vector<std::string>{}); view.ok()) {
    coordinator.learn_brokers(*view);
    metadata_brokers = brokers_to_ask(bootstrap, *view);
  }
  protocol::DescribeGroupsRequest dreq;
  dreq.groups.push_back(group);
  auto described = coordinator.call<protocol::DescribeGroupsResponse>(dreq, kDescribeGroupsVersion, [](const auto& r) {
    return r.groups.empty() ? int16_t{0} : r.groups[0].error_code;
  });
  if (!described.ok()) return fail(sub, described.error().message);
  std::string state = "Dead";
  std::map<std::pair<std::string, int32_t>, Owner> owners;
  size_t members = 0;
  for (const auto& g : described->groups) {
    if (g.error_code != 0) return fail(sub, "'" + group + "': " + kafka_error_text(g.error_code, g.error_message));
    state = g.group_state;
    members = g.members.size();
    for (const auto& m : g.members) {
      if (g.protocol_type != "consumer" || m.member_assignment.size() < 2) continue;
      ByteReader r(m.member_assignment);
      auto version = r.read_i16();
      if (!version.ok()) continue;
      protocol::ConsumerProtocolAssignment a;
      if (!a.decode(r, std::min<int16_t>(*version, protocol::ConsumerProtocolAssignment::kHighestVersion)).ok()) continue;
      for (const auto& tp : a.assigned_partitions) {
        for (int32_t p : tp.partitions) owners[{tp.topic, p}] = {m.member_id, m.client_host, m.client_id};
      }
    }
  }
  protocol::OffsetFetchRequest oreq;
  oreq.group_id = group;
  oreq.topics = std::nullopt;  // every partition with a committed offset
  auto fetched = coordinator.call<protocol::OffsetFetchResponse>(oreq, kOffsetFetchVersion, [](const auto& r) {
    return r.error_code;
  });
  if (!fetched.ok()) return fail(sub, "OffsetFetch: " + fetched.error().message);
  if (fetched->error_code != 0) return fail(sub, "OffsetFetch: " + kafka_error_name(fetched->error_code));
  std::map<TopicPartition, int64_t> committed;
  for (const auto& t : fetched->topics) {
    for (const auto& p : t.partitions) {
      if (p.error_code == 0 && p.committed_offset >= 0) committed[{t.name, p.partition_index}] = p.committed_offset;
    }
  }
  for (const auto& [tp, owner] : owners) committed.try_emplace(tp, -1);

  // Log end offsets from each partition's leader.
  std::set<std::string> topics;
  for (const auto& [tp, off] : committed) topics.insert(tp.first);
  std::map<TopicPartition, int64_t> end_offsets;
  if (!topics.empty()) {
    // Not `boot`: the coordinator link may have dropped (and freed) that connection since.
    const std::vector<std::string> topic_names(topics.begin(), topics.end());
    auto view = ask_brokers(conns, metadata_brokers, [&](KafkaConnection& c) { return fetch_cluster(c, topic_names); });
    if (!view.ok()) return fail(sub, view.error().message);
    std::vector<OffsetQuery> lookups;
    for (const auto& [tp, off] : committed) lookups.push_back({tp.first, tp.second, -1});
    auto offsets = list_offsets(conns, *view, lookups);
    if (!offsets.ok()) return fail(sub, offsets.error().message);
    for (const auto& [tp, answer] : *offsets) {
      if (answer.error_code == 0) end_offsets[tp] = answer.offset;
    }
  }

  std::printf("Group %s: state %s, %zu members, coordinator %s\n\n", group.c_str(), state.c_str(), members,
              coordinator.address().c_str());
  std::printf("%-24s %-24s %-10s %-15s %-15s %-8s %-40s %-20s %s\n", "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET",
              "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID");
  for (const auto& [tp, off] : committed) {
    auto e = end_offsets.find(tp);
    int64_t end = e == end_offsets.end() ? -1 : e->second;
    std::string lag = off >= 0 && end >= 0 ? std::to_string(std::max<int64_t>(0, end - off)) : "-";
    auto o = owners.find(tp);
    std::printf("%-24s %-24s %-10d %-15s %-15s %-8s %-40s %-20s %s\n", group.c_str(), tp.first.c_str(), tp.second,
                off >= 0 ? std::to_string(off).c_str() : "-", end >= 0 ? std::to_string(end).c_str() : "-", lag.c_str(),
                o == owners.end() ? "-" : o->second.member.c_str(), o == owners.end() ? "-" : o->second.host.c_str(),
                o == owners.end() ? "-" : o->second.client.c_str());
  }
  return 0;
}

}  // namespace floe::admin
