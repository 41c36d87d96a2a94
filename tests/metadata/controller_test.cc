#include <catch2/catch.hpp>
#include <algorithm>
#include <chrono>
#include <future>
#include <thread>

#include "metadata/snapshot.h"
#include "raft/snapshot_store.h"
#include "metadata_test_util.h"

using namespace floe;
using namespace floe::metadata;
using namespace floe::metadata::testing;
namespace ke = floe::metadata::kafka_errors;

TEST_CASE("first_start_leads_and_commits_a_kafka_style_cluster_id") {
  TempDir dir;
  auto c = open_controller(single_node(dir.path));
  auto image = c->image();
  CHECK(image->cluster_id.size() == 22);  // base64url of 16 bytes, no padding
  CHECK(image->cluster_id[0] != '-');
  CHECK(image->offset >= 0);
  std::string id = image->cluster_id;
  c->close();
  c = open_controller(single_node(dir.path));
  CHECK(c->image()->cluster_id == id);  // generated once
}

TEST_CASE("create_topics_makes_one_stream_per_partition_led_by_the_registered_broker") {
  TempDir dir;
  auto c = open_controller(single_node(dir.path));
  register_self(*c);
  auto r = create_one(*c, "orders", 3, {{"retention.ms", "1000"}});
  CHECK(r.error_code == ke::kNone);
  CHECK(r.num_partitions == 3);
  CHECK_FALSE(r.topic_id.is_zero());
  auto image = c->image();
  const TopicImage* t = image->topic("orders");
  REQUIRE(t);
  CHECK(image->topic(r.topic_id) == t);
  REQUIRE(t->partitions.size() == 3);
  std::set<StreamId> streams;
  for (size_t i = 0; i < 3; ++i) {
    CHECK(t->partitions[i].index == static_cast<int32_t>(i));
    CHECK(t->partitions[i].leader == NodeId(1));
    CHECK(t->partitions[i].leader_epoch == 0);
    streams.insert(t->partitions[i].stream_id);
    auto info = call<stream::StreamInfo>([&](auto cb) { c->describe_stream(t->partitions[i].stream_id, cb); });
    REQUIRE(info.ok());
  }
  CHECK(streams.size() == 3);
  CHECK(t->configs.at("retention.ms") == "1000");
  CHECK(create_one(*c, "defaulted").num_partitions == 1);
}

TEST_CASE("create_topics_reports_every_kafka_error_per_topic") {
  TempDir dir;
  auto c = open_controller(single_node(dir.path));
  REQUIRE(create_one(*c, "taken").error_code == ke::kNone);
  REQUIRE(create_one(*c, "a.b").error_code == ke::kNone);
  auto results = create(*c, {
                                TopicSpec{"taken", 1, {}, false},
                                TopicSpec{"bad name!", 1, {}, false},
                                TopicSpec{"", 1, {}, false},
                                TopicSpec{"..", 1, {}, false},
                                TopicSpec{std::string(250, 'x'), 1, {}, false},
                                TopicSpec{"a_b", 1, {}, false},
                                TopicSpec{"zero", 0, {}, false},
                                TopicSpec{"negative", -5, {}, false},
                                TopicSpec{"huge", kMaxPartitionsPerTopic + 1, {}, false},
                                TopicSpec{"badconfig", 1, {{"retention.ms", "soon"}}, false},
                                TopicSpec{"unknownconfig", 1, {{"no.such", "1"}}, false},
                                TopicSpec{"twice", 1, {}, false},
                                TopicSpec{"twice", 1, {}, false},
                                TopicSpec{"__consumer_offsets", 1, {}, false},
                                TopicSpec{"fine", 2, {}, false},
                            });
  std::vector<int16_t> codes;
  for (auto& r : results) codes.push_back(r.error_code);
  CHECK(codes == std::vector<int16_t>{ke::kTopicAlreadyExists, ke::kInvalidTopicException, ke::kInvalidTopicException, ke::kInvalidTopicException,
                                      ke::kInvalidTopicException, ke::kInvalidTopicException, ke::kInvalidPartitions,
                                      ke::kInvalidPartitions, ke::kInvalidPartitions, ke::kInvalidConfig,
                                      ke::kInvalidConfig, ke::kInvalidRequest, ke::kInvalidRequest,
                                      ke::kInvalidRequest, ke::kNone});
  for (auto& r : results) {
    if (r.error_code != ke::kNone) CHECK_FALSE(r.error_message.empty());
  }
  auto image = c->image();
  CHECK(image->topics.size() == 3);  // taken, a.b, fine
  CHECK(create(*c, {TopicSpec{"__consumer_offsets", 50, {}, true}})[0].error_code == ke::kNone);
  CHECK(c->image()->topic("__consumer_offsets")->internal);
}

TEST_CASE("validate_only_checks_without_creating") {
  TempDir dir;
  auto c = open_controller(single_node(dir.path));
  auto r = create(*c, {TopicSpec{"dry", 4, {}, false}}, true);
  CHECK(r[0].error_code == ke::kNone);
  CHECK(r[0].num_partitions == 4);
  CHECK(c->image()->topics.empty());
  auto p = call<std::vector<TopicResult>>([&](auto cb) { c->create_partitions({{"dry", 5}}, true, cb); });
  CHECK((*p)[0].error_code == ke::kUnknownTopicOrPartition);
}

TEST_CASE("delete_topics_removes_streams_and_destroys_their_objects") {
  TempDir dir;
  int64_t now = 1000;
  auto c = open_controller(single_node(dir.path, [&] { return now; }));
  register_self(*c);
  auto t = create_one(*c, "doomed", 2);
  auto stream_id = c->image()->topic("doomed")->partitions[0].stream_id;
  auto opened = call<stream::StreamInfo>([&](auto cb) { c->open_stream(stream_id, NodeId(1), cb); });
  REQUIRE(opened.ok());
  auto object = call<ObjectId>([&](auto cb) { c->prepare_objects(1, 60000, cb); });
  REQUIRE(object.ok());
  stream::StreamSetObjectCommit commit;
  commit.node_id = NodeId(1);
  commit.object_id = *object;
  commit.object_size_bytes = 10;
  commit.ranges = {{stream_id, opened->epoch, Offset(0), Offset(5)}};
  REQUIRE(call<stream::Done>([&](auto cb) { c->commit_stream_set_object(commit, cb); }).ok());

  auto results = call<std::vector<TopicResult>>([&](auto cb) { c->delete_topics({"doomed", "ghost", "doomed"}, cb); });
  REQUIRE(results.ok());
  CHECK((*results)[0].error_code == ke::kInvalidRequest);
  CHECK((*results)[1].error_code == ke::kUnknownTopicOrPartition);
  CHECK(c->image()->topic("doomed"));  // a duplicated name deletes nothing
  results = call<std::vector<TopicResult>>([&](auto cb) { c->delete_topics({"doomed"}, cb); });
  CHECK((*results)[0].error_code == ke::kNone);
  CHECK((*results)[0].topic_id == t.topic_id);
  CHECK_FALSE(c->image()->topic("doomed"));
  CHECK(c->image()->topic_names.empty());
  CHECK(call<stream::StreamInfo>([&](auto cb) { c->describe_stream(stream_id, cb); }).error().code == Errc::not_found);
  CHECK(c->object(*object)->state == stream::ObjectState::destroyed);
  CHECK(create_one(*c, "doomed").error_code == ke::kNone);  // the name is free again
}

TEST_CASE("create_partitions_only_grows_and_reports_errors") {
  TempDir dir;
  auto c = open_controller(single_node(dir.path));
  create_one(*c, "grow", 2);
  auto r = call<std::vector<TopicResult>>([&](auto cb) {
    c->create_partitions({{"grow", 5}, {"ghost", 3}, {"grow", 0}}, false, cb);
  });
  REQUIRE(r.ok());
  CHECK((*r)[0].error_code == ke::kInvalidRequest);  // "grow" twice
  CHECK((*r)[1].error_code == ke::kUnknownTopicOrPartition);
  r = call<std::vector<TopicResult>>([&](auto cb) { c->create_partitions({{"grow", 2}}, false, cb); });
  CHECK((*r)[0].error_code == ke::kInvalidPartitions);
  r = call<std::vector<TopicResult>>([&](auto cb) { c->create_partitions({{"grow", kMaxPartitionsPerTopic + 1}}, false, cb); });
  CHECK((*r)[0].error_code == ke::kInvalidPartitions);
  r = call<std::vector<TopicResult>>([&](auto cb) { c->create_partitions({{"grow", 5}}, true, cb); });
  CHECK((*r)[0].error_code == ke::kNone);
  CHECK(c->image()->topic("grow")->partitions.size() == 2);
  r = call<std::vector<TopicResult>>([&](auto cb) { c->create_partitions({{"grow", 5}}, false, cb); });
  CHECK((*r)[0].error_code == ke::kNone);
  const auto* t = c->image()->topic("grow");
  REQUIRE(t->partitions.size() == 5);
  CHECK(t->partitions[4].index == 4);
  CHECK(c->streams().streams.size() == 5);
}

TEST_CASE("alter_configs_incremental_and_full_replace") {
  TempDir dir;
  auto c = open_controller(single_node(dir.path));
  create_one(*c, "conf", 1, {{"retention.ms", "1000"}, {"cleanup.policy", "compact"}});
  auto alter = [&](std::vector<ConfigChange> changes, bool incremental, bool validate_only = false) {
    auto r = call<TopicResult>([&](auto cb) { c->alter_topic_configs("conf", changes, incremental, validate_only, cb); });
    REQUIRE(r.ok());
    return *r;
  };
  CHECK(alter({{"retention.ms", ConfigOp::set, "2000"}, {"cleanup.policy", ConfigOp::remove, {}}}, true).error_code == ke::kNone);
  CHECK(c->image()->topic("conf")->configs == std::map<std::string, std::string>{{"retention.ms", "2000"}});
  CHECK(alter({{"max.message.bytes", ConfigOp::set, "100"}}, false).error_code == ke::kNone);
  CHECK(c->image()->topic("conf")->configs == std::map<std::string, std::string>{{"max.message.bytes", "100"}});
  CHECK(alter({{"retention.ms", ConfigOp::set, "5"}}, true, true).error_code == ke::kNone);
  CHECK(c->image()->topic("conf")->configs.count("retention.ms") == 0);  // validate_only

  CHECK(alter({{"retention.ms", ConfigOp::set, "x"}}, true).error_code == ke::kInvalidConfig);
  CHECK(alter({{"no.such", ConfigOp::set, "1"}}, true).error_code == ke::kInvalidConfig);
  CHECK(alter({{"no.such", ConfigOp::remove, {}}}, true).error_code == ke::kInvalidConfig);
  CHECK(alter({{"retention.ms", ConfigOp::set, {}}}, true).error_code == ke::kInvalidConfig);
  CHECK(alter({{"retention.ms", ConfigOp::set, "1"}, {"retention.ms", ConfigOp::set, "2"}}, true).error_code ==
        ke::kInvalidRequest);
  auto unknown = call<TopicResult>([&](auto cb) { c->alter_topic_configs("ghost", {}, true, false, cb); });
  CHECK(unknown->error_code == ke::kUnknownTopicOrPartition);
}

TEST_CASE("brokers_register_and_producer_id_blocks_are_never_reused") {
  TempDir dir;
  {
    auto c = open_controller(single_node(dir.path));
    BrokerRegistration reg{NodeId(1), Uuid{}, {{"PLAINTEXT", "127.0.0.1", 9092}}, std::string("rack-a"), {}};
    REQUIRE(call<stream::Done>([&](auto cb) { c->register_broker(reg, cb); }).ok());
    const auto& broker = c->image()->brokers.at(NodeId(1));
    CHECK_FALSE(broker.fenced);
    CHECK(broker.listeners == std::vector<BrokerListener>{{"PLAINTEXT", "127.0.0.1", 9092}});
    CHECK(broker.rack == "rack-a");
    BrokerRegistration bad{NodeId(2), Uuid{}, {{"PLAINTEXT", "h", 70000}}, std::nullopt, {}};
    CHECK_FALSE(call<stream::Done>([&](auto cb) { c->register_broker(bad, cb); }).ok());
    auto a = call<ProducerIdBlock>([&](auto cb) { c->allocate_producer_ids(NodeId(1), cb); });
    auto b = call<ProducerIdBlock>([&](auto cb) { c->allocate_producer_ids(NodeId(1), cb); });
    CHECK(a->first_id == 0);
    CHECK(a->size == 1000);
    CHECK(b->first_id == 1000);
  }
  auto c = open_controller(single_node(dir.path));
  auto next = call<ProducerIdBlock>([&](auto cb) { c->allocate_producer_ids(NodeId(1), cb); });
  CHECK(next->first_id == 2000);
  CHECK(c->image()->brokers.count(NodeId(1)) == 1);
}

TEST_CASE("partitions_go_to_the_least_loaded_unfenced_broker") {
  TempDir dir;
  auto c = open_controller(single_node(dir.path));
  for (int id : {1, 2}) {
    BrokerRegistration reg{NodeId(id), Uuid{}, {{"PLAINTEXT", "h", 9000 + id}}, std::nullopt, {}};
    REQUIRE(call<stream::Done>([&](auto cb) { c->register_broker(reg, cb); }).ok());
  }
  create_one(*c, "spread", 4);
  std::map<NodeId, int> led;
  for (const auto& p : c->image()->topic("spread")->partitions) ++led[p.leader];
  CHECK(led[NodeId(1)] == 2);
  CHECK(led[NodeId(2)] == 2);
}

namespace {
// Everything durable the image and the stream table hold.
void check_same_state(Controller& a, const MetadataImage& image, const StreamTable& streams) {
  CHECK(a.image()->same_content(image));
  CHECK(same_streams(a.streams(), streams));
}

void make_some_state(Controller& c, int64_t& now) {
  register_self(c);
  create_one(c, "alpha", 3, {{"retention.ms", "100"}});
  create_one(c, "beta", 1);
  auto sid = c.image()->topic("alpha")->partitions[1].stream_id;
  auto opened = call<stream::StreamInfo>([&](auto cb) { c.open_stream(sid, NodeId(1), cb); });
  auto first = call<ObjectId>([&](auto cb) { c.prepare_objects(3, 50, cb); });
  stream::StreamSetObjectCommit commit;
  commit.node_id = NodeId(1);
  commit.object_id = *first;
  commit.ranges = {{sid, opened->epoch, Offset(0), Offset(7)}};
  REQUIRE(call<stream::Done>([&](auto cb) { c.commit_stream_set_object(commit, cb); }).ok());
  REQUIRE(call<stream::Done>([&](auto cb) { c.trim_stream(sid, opened->epoch, Offset(3), cb); }).ok());
  now += 100;  // the other two prepared objects expire
  auto destroyed = call<std::vector<stream::ObjectMeta>>([&](auto cb) { c.list_destroyed_objects(now, 10, cb); });
  REQUIRE(destroyed->size() == 2);
  REQUIRE(call<stream::Done>([&](auto cb) { c.erase_objects({destroyed->at(0).id}, cb); }).ok());
  auto pids = call<ProducerIdBlock>([&](auto cb) { c.allocate_producer_ids(NodeId(1), cb); });
  REQUIRE(pids.ok());
  (void)call<std::vector<TopicResult>>([&](auto cb) { c.delete_topics({"beta"}, cb); });
}
}  // namespace

TEST_CASE("a_reopened_controller_has_an_identical_image_and_stream_table") {
  TempDir dir;
  int64_t now = 1000;
  std::shared_ptr<const MetadataImage> before;
  StreamTable streams_before;
  {
    auto c = open_controller(single_node(dir.path, [&] { return now; }));
    make_some_state(*c, now);
    before = c->image();
    streams_before = c->streams();
  }
  auto c = open_controller(single_node(dir.path, [&] { return now; }));
  check_same_state(*c, *before, streams_before);
  CHECK(c->image()->offset == before->offset);  // control entries (LeaderChange) are not applied
  // New ids continue after the old ones.
  auto s = call<stream::StreamInfo>([&](auto cb) { c->create_stream(cb); });
  CHECK(s->id.value() == streams_before.next_stream_id);
}

TEST_CASE("snapshots_shorten_replay_and_drop_the_log_below_them_and_a_corrupt_one_is_a_startup_error") {
  TempDir dir;
  int64_t now = 1000;
  auto options = single_node(dir.path, [&] { return now; });
  options.snapshot_interval_entries = 5;
  std::shared_ptr<const MetadataImage> before;
  StreamTable streams_before;
  {
    auto c = open_controller(options);
    make_some_state(*c, now);
    for (int i = 0; i < 7; ++i) create_one(*c, "more-" + std::to_string(i));
    before = c->image();
    streams_before = c->streams();
    // Snapshots are written in the background and the log below one is dropped once it is
    // durable, so the drop may come a moment after the last write returned.
    for (int i = 0; i < 1000 && c->raft_status().log_start == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(c->raft_status().log_start > 0);  // the log below the snapshot is gone
  }
  std::optional<raft::SnapshotId> latest;
  {
    auto store = raft::FileSnapshotStore::open(dir.path.string());
    REQUIRE(store.ok());
    latest = (*store)->latest();
    REQUIRE(latest);
    CHECK(latest->end_offset > 0);
    CHECK(latest->end_offset <= before->offset + 1);
    auto payload = (*store)->load(*latest);
    REQUIRE(payload.ok());
    CHECK(decode_snapshot(*payload, latest->end_offset).ok());
  }
  {
    auto c = open_controller(options);
    check_same_state(*c, *before, streams_before);
    // Replay starts at the snapshot (the reopened node may already be writing a newer one).
    CHECK(c->raft_status().log_start >= latest->end_offset);
  }
  {
    // Flip a payload byte of the newest snapshot: the CRC catches it, and with the log below it
    // gone that is an error at open (never a silently smaller state).
    latest = raft::FileSnapshotStore::open(dir.path.string()).value()->latest();
    REQUIRE(latest);
    std::string path = raft::FileSnapshotStore::open(dir.path.string()).value()->path_of(*latest);
    FILE* f = std::fopen(path.c_str(), "r+b");
    REQUIRE(f);
    std::fseek(f, 30, SEEK_SET);
    int ch = std::fgetc(f);
    std::fseek(f, 30, SEEK_SET);
    std::fputc(ch ^ 0xff, f);
    std::fclose(f);
    auto c = Controller::open(options);
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().code == Errc::corrupt);
  }
}

TEST_CASE("calls_after_close_fail_instead_of_hanging") {
  TempDir dir;
  auto c = open_controller(single_node(dir.path));
  c->close();
  c->close();
  auto r = create(*c, {TopicSpec{"late", 1, {}, false}});
  CHECK(r[0].error_code == ke::kNotController);
  CHECK_FALSE(call<stream::StreamInfo>([&](auto cb) { c->create_stream(cb); }).ok());
}

TEST_CASE("concurrent_writers_from_many_threads_all_commit") {
  TempDir dir;
  auto c = open_controller(single_node(dir.path));
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        auto r = call<std::vector<TopicResult>>([&](auto cb) {
          c->create_topics({TopicSpec{"t" + std::to_string(t) + "-" + std::to_string(i), 2, {}, false}}, false, cb);
        });
        if (r.ok() && (*r)[0].error_code == 0) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == 100);
  CHECK(c->image()->topics.size() == 100);
  CHECK(c->streams().streams.size() == 200);
}

TEST_CASE("an_upload_holding_data_of_a_deleted_stream_commits_the_live_streams_and_drops_the_rest") {
  TempDir dir;
  int64_t now = 1000;
  auto c = open_controller(single_node(dir.path, [&] { return now; }));
  register_self(*c);
  create_one(*c, "doomed", 1);
  create_one(*c, "alive", 1);
  auto doomed = c->image()->topic("doomed")->partitions[0].stream_id;
  auto alive = c->image()->topic("alive")->partitions[0].stream_id;
  auto d = call<stream::StreamInfo>([&](auto cb) { c->open_stream(doomed, NodeId(1), cb); });
  auto a = call<stream::StreamInfo>([&](auto cb) { c->open_stream(alive, NodeId(1), cb); });
  REQUIRE((d.ok() && a.ok()));
  auto object = call<ObjectId>([&](auto cb) { c->prepare_objects(2, 60000, cb); });
  REQUIRE(object.ok());
  REQUIRE((*call<std::vector<TopicResult>>([&](auto cb) { c->delete_topics({"doomed"}, cb); }))[0].error_code == ke::kNone);

  // The uploader had packed both streams before the delete; its commit must still succeed.
  stream::StreamSetObjectCommit commit;
  commit.node_id = NodeId(1);
  commit.object_id = *object;
  commit.object_size_bytes = 10;
  commit.ranges = {{doomed, d->epoch, Offset(0), Offset(3)}, {alive, a->epoch, Offset(0), Offset(4)}};
  REQUIRE(call<stream::Done>([&](auto cb) { c->commit_stream_set_object(commit, cb); }).ok());
  CHECK(call<stream::StreamInfo>([&](auto cb) { c->describe_stream(alive, cb); })->end_offset == Offset(4));
  CHECK(c->object(*object)->state == stream::ObjectState::committed);

  // An object holding nothing but the deleted stream is destroyed at once.
  stream::StreamSetObjectCommit only_dead;
  only_dead.node_id = NodeId(1);
  only_dead.object_id = ObjectId(object->value() + 1);
  only_dead.object_size_bytes = 10;
  only_dead.ranges = {{doomed, d->epoch, Offset(3), Offset(6)}};
  REQUIRE(call<stream::Done>([&](auto cb) { c->commit_stream_set_object(only_dead, cb); }).ok());
  CHECK(c->object(*only_dead.object_id)->state == stream::ObjectState::destroyed);
}

TEST_CASE("a_resent_open_stream_gets_the_epoch_its_first_attempt_set_and_every_other_open_still_bumps") {
  TempDir dir;
  auto options = single_node(dir.path);
  options.snapshot_interval_entries = 3;  // the reopened controller starts from a snapshot
  auto open = [](Controller& c, StreamId id, NodeId node, int64_t request_id) {
    auto r = call<stream::StreamInfo>([&](auto cb) { c.open_stream(id, node, request_id, cb); });
    REQUIRE(r.ok());
    return r->epoch.value();
  };
  StreamId sid;
  {
    auto c = open_controller(options);
    auto created = call<stream::StreamInfo>([&](auto cb) { c->create_stream(cb); });
    REQUIRE(created.ok());
    sid = created->id;
    const uint64_t first = open(*c, sid, NodeId(1), 41);
    CHECK(open(*c, sid, NodeId(1), 41) == first);  // the resend: no second bump
    CHECK(c->streams().streams.at(sid).epoch.value() == first);
    CHECK(open(*c, sid, NodeId(1), 42) == first + 1);  // another open by the same node bumps
    CHECK(open(*c, sid, NodeId(2), 42) == first + 2);  // another node with the same id bumps
    CHECK(open(*c, sid, NodeId(1), 0) == first + 3);  // no request id: every open bumps
    CHECK(open(*c, sid, NodeId(1), 0) == first + 4);
    CHECK(open(*c, sid, NodeId(1), 43) == first + 5);
    // Closed since: a late resend opens it again (a new epoch).
    REQUIRE(call<stream::Done>([&](auto cb) { c->close_stream(sid, StreamEpoch(first + 5), cb); }).ok());
    CHECK(open(*c, sid, NodeId(1), 43) == first + 6);
    // A trim (a stream record that is no open) keeps the request id of the open.
    REQUIRE(call<stream::Done>([&](auto cb) { c->trim_stream(sid, StreamEpoch(first + 6), Offset(1), cb); }).ok());
    CHECK(c->streams().streams.at(sid).start_offset == Offset(1));
    CHECK(open(*c, sid, NodeId(1), 43) == first + 6);
  }
  // The request id is in the log and in snapshots: a new leader recognises the resend too.
  auto c = open_controller(options);
  const uint64_t epoch = c->streams().streams.at(sid).epoch.value();
  CHECK(open(*c, sid, NodeId(1), 43) == epoch);
  CHECK(open(*c, sid, NodeId(1), 44) == epoch + 1);
}

TEST_CASE("image_never_waits_for_the_controller_lock_held_while_entries_apply_and_snapshots_encode") {
  // The controller listener answers ApiVersions (its finalized features come from image()) on the
  // Raft transport's thread, which must never block behind an apply or a snapshot encoding.
  TempDir dir;
  auto c = open_controller(single_node(dir.path));
  const int64_t offset = c->image()->offset;
  // The future lives outside the locked section and nothing inside it throws: a reader that took
  // the lock fails the check below after 30 s instead of deadlocking the test (a future's
  // destructor waits for its task, which would wait for the lock).
  std::future<std::shared_ptr<const metadata::MetadataImage>> read;
  bool answered_while_locked = false;
  c->while_locked_for_test([&] {
    read = std::async(std::launch::async, [&] { return c->image(); });
    answered_while_locked = read.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
  });
  REQUIRE(answered_while_locked);
  auto image = read.get();
  CHECK(image->offset == offset);
  CHECK_FALSE(image->features.empty());  // floe's finalized levels, committed at first start
}

TEST_CASE("a_trim_destroys_exactly_the_objects_it_leaves_with_nothing_live_among_many") {
  TempDir dir;
  int64_t now = 1000;
  auto c = open_controller(single_node(dir.path, [&] { return now; }));
  register_self(*c);
  const stream::StreamInfo a = create_open_stream(*c);
  const stream::StreamInfo b = create_open_stream(*c);
  // 120 objects of 10 offsets of A; every fourth also holds 5 offsets of B (kept while B needs it).
  constexpr int kObjects = 120;
  auto first = call<ObjectId>([&](auto cb) { c->prepare_objects(kObjects + 1, 60000, cb); });
  REQUIRE(first.ok());
  auto commit = [&](int i, std::vector<stream::StreamRange> ranges) {
    stream::StreamSetObjectCommit commit;
    commit.node_id = NodeId(1);
    commit.object_id = ObjectId(first->value() + static_cast<uint64_t>(i));
    commit.object_size_bytes = 100;
    commit.ranges = std::move(ranges);
    REQUIRE(call<stream::Done>([&](auto cb) { c->commit_stream_set_object(commit, cb); }).ok());
  };
  for (int i = 0; i < kObjects; ++i) {
    std::vector<stream::StreamRange> ranges{{a.id, a.epoch, Offset(10 * i), Offset(10 * i + 10)}};
    if (i % 4 == 0) ranges.push_back({b.id, b.epoch, Offset(5 * (i / 4)), Offset(5 * (i / 4) + 5)});
    commit(i, std::move(ranges));
  }
  // Trims `st` to `start`; every object ends as the rule says (committed objects left with no
  // range above its stream's start destroyed, every other object as it was), checked against the
  // whole object table. Returns how many it destroyed.
  auto trim = [&](const stream::StreamInfo& st, int64_t start) {
    const StreamTable before = c->streams();
    REQUIRE(call<stream::Done>([&](auto cb) { c->trim_stream(st.id, st.epoch, Offset(start), cb); }).ok());
    const StreamTable after = c->streams();
    c->check_object_index();
    REQUIRE(after.objects.size() == before.objects.size());
    int destroyed = 0;
    for (const auto& [id, m] : before.objects) {
      bool dead = m.state == stream::ObjectState::committed &&
                  std::all_of(m.ranges.begin(), m.ranges.end(), [&](const stream::StreamRange& r) {
                    return r.end_offset <= after.streams.at(r.stream_id).start_offset;
                  });
      INFO("object " << id.value() << ", trim of stream " << st.id.value() << " to " << start);
      CHECK(after.objects.at(id).state == (dead ? stream::ObjectState::destroyed : m.state));
      destroyed += dead;
    }
    return destroyed;
  };
  CHECK(trim(a, 5) == 0);
  CHECK(trim(a, 20) == 1);     // object 1; object 0 holds B's [0, 5)
  CHECK(trim(a, 20) == 0);     // not forward: nothing
  CHECK(trim(a, 415) == 29);   // objects 2..40 but the 10 of them B needs
  CHECK(trim(a, 1300) == 60);  // past A's committed end (1200): the rest of A's own objects
  // An upload of A's [1200, 1210), now below A's start, packed with B's next offsets: kept for B.
  commit(kObjects, {{a.id, a.epoch, Offset(1200), Offset(1210)}, {b.id, b.epoch, Offset(150), Offset(155)}});
  CHECK(trim(a, 1400) == 0);
  CHECK(trim(b, 155) == 31);  // B's end: every object B kept
  for (const auto& [id, m] : c->streams().objects) CHECK(m.state == stream::ObjectState::destroyed);
}
