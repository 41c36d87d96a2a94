// Helpers shared by the metadata unit tests: a temp dir, a single-voter Controller in it, and its topics and streams.
#pragma once

#include <catch2/catch.hpp>
#include <filesystem>

#include "metadata/controller.h"

namespace floe::metadata::testing {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "floe-metadata-test-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

inline ControllerOptions single_node(const std::filesystem::path& dir, std::function<int64_t()> now_ms = {}) {
  ControllerOptions options;
  options.node_id = NodeId(1);
  options.log_dir = dir.string();
  options.now_ms = std::move(now_ms);
  return options;
}

inline std::unique_ptr<Controller> open_controller(ControllerOptions options) {
  auto c = Controller::open(std::move(options));
  if (!c.ok()) FAIL(c.error().to_string());
  return std::move(c.value());
}

template <typename T, typename F>
Result<T> call(F start) {
  return stream::meta_wait<T>(start);
}

// Registers broker 1, this controller's own node (in process: unfenced at once), so that the
// partitions created afterwards are led by it.
inline void register_self(Controller& c) {
  BrokerRegistration self{NodeId(1), Uuid{}, {{"PLAINTEXT", "127.0.0.1", 9092}}, std::nullopt, {}};
  auto r = call<BrokerRegistrationReply>([&](auto cb) { c.register_broker(self, cb); });
  REQUIRE(r.ok());
  REQUIRE(r->error_code == kafka_errors::kNone);
}

inline std::vector<TopicResult> create(Controller& c, std::vector<TopicSpec> specs, bool validate_only = false) {
  auto r = call<std::vector<TopicResult>>([&](auto cb) { c.create_topics(specs, validate_only, cb); });
  REQUIRE(r.ok());
  return *r;
}

inline TopicResult create_one(Controller& c, std::string name, int32_t partitions = -1,
                              std::map<std::string, std::string> configs = {}) {
  auto results = create(c, {TopicSpec{std::move(name), partitions, std::move(configs), false}});
  REQUIRE(results.size() == 1);
  return results[0];
}

// A new stream (no partition's), opened by broker 1: its owner, at its first epoch.
inline stream::StreamInfo create_open_stream(Controller& c) {
  auto created = call<stream::StreamInfo>([&](auto cb) { c.create_stream(cb); });
  REQUIRE(created.ok());
  auto opened = call<stream::StreamInfo>([&](auto cb) { c.open_stream(created->id, NodeId(1), cb); });
  REQUIRE(opened.ok());
  return *opened;
}

}  // namespace floe::metadata::testing
