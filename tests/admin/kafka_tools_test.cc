// The shared pieces of the client-side admin verbs: keyed records land where Kafka's own clients
// put them (murmur2 vectors from Kafka's UtilsTest), topic ids print as Kafka tools print them,
// error codes get Kafka's names, options given either way parse alike, and cluster-wide questions
// fall back from the bootstrap broker to the learnt ones (on loopback sockets that never answer).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "admin/kafka_tools.h"

using namespace floe;
using namespace floe::admin;

TEST_CASE("murmur2_matches_kafka_so_keyed_records_land_on_kafkas_partition") {
  CHECK(kafka_murmur2("21") == -973932308);
  CHECK(kafka_murmur2("foobar") == -790332482);
  CHECK(kafka_murmur2("a-little-bit-long-string") == -985981536);
  CHECK(kafka_murmur2("a-little-bit-longer-string") == -1486304829);
  CHECK(kafka_murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") == -58897971);
  CHECK(kafka_murmur2("abc") == 479470107);
  CHECK(kafka_partition_for_key("foobar", 7) == ((-790332482 & 0x7fffffff) % 7));
  for (int32_t n : {1, 2, 6, 100}) {
    int32_t p = kafka_partition_for_key("some key", n);
    CHECK((p >= 0 && p < n));
  }
}

TEST_CASE("error_codes_get_kafkas_names_and_unknown_codes_their_number") {
  CHECK(kafka_error_name(3) == "UNKNOWN_TOPIC_OR_PARTITION");
  CHECK(kafka_error_name(36) == "TOPIC_ALREADY_EXISTS");
  CHECK(kafka_error_name(-1) == "UNKNOWN_SERVER_ERROR");
  CHECK(kafka_error_name(9999) == "ERROR_9999");
  CHECK(kafka_error_text(40, std::string("unknown topic config x")) == "INVALID_CONFIG: unknown topic config x");
  CHECK(kafka_error_text(40, std::nullopt) == "INVALID_CONFIG");
}

TEST_CASE("options_parse_as_separate_or_equals_values_and_errors_name_the_option") {
  std::vector<std::string> args = {"verb", "--topic", "t1", "--partitions=4", "--bogus", "--partitions"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  ArgWalker w(static_cast<int>(argv.size()), argv.data(), 1);
  std::string topic;
  int64_t n = 0;
  w.next();
  CHECK(w.take("--topic", &topic));
  CHECK(topic == "t1");
  w.next();
  CHECK_FALSE(w.take("--topic", &topic));
  CHECK(w.take_int("--partitions", 1, 10, &n));
  CHECK(n == 4);
  CHECK(w.error.empty());
  w.next();
  CHECK_FALSE(w.take_int("--partitions", 1, 10, &n));
  w.unknown();
  CHECK(w.error == "unknown option '--bogus'");
  CHECK(w.done());

  std::vector<std::string> bad = {"verb", "--partitions", "99", "--topic"};
  argv.clear();
  for (auto& a : bad) argv.push_back(a.data());
  ArgWalker w2(static_cast<int>(argv.size()), argv.data(), 1);
  w2.next();
  CHECK(w2.take_int("--partitions", 1, 10, &n));
  CHECK(w2.error == "--partitions needs a number in [1, 10], got '99'");
  ArgWalker w3(static_cast<int>(argv.size()), argv.data(), 3);
  w3.next();
  CHECK(w3.take("--topic", &topic));
  CHECK(w3.error == "--topic needs a value");
}

TEST_CASE("only_coordinator_errors_send_a_client_to_find_the_group_coordinator_again") {
  CHECK(is_coordinator_error(14));  // COORDINATOR_LOAD_IN_PROGRESS
  CHECK(is_coordinator_error(15));  // COORDINATOR_NOT_AVAILABLE
  CHECK(is_coordinator_error(16));  // NOT_COORDINATOR
  for (int16_t other : {0, -1, 3, 6, 22, 25, 27, 69}) CHECK_FALSE(is_coordinator_error(other));
}

TEST_CASE("list_offsets_answers_a_partition_without_a_live_leader_leader_not_available_unasked") {
  ClusterView view;
  view.brokers[1] = "127.0.0.1:1";
  TopicView t;
  t.name = "t";
  t.partitions.push_back({0, -1, 5, {1}, {}});  // leaderless
  t.partitions.push_back({1, 7, 0, {7}, {7}});  // led by a broker Metadata did not list
  view.topics.push_back(t);
  Connections conns("test", 1000);
  auto answers = list_offsets(conns, view, {{"t", 0, -1}, {"t", 1, -2}, {"unknown", 0, -1}});
  REQUIRE(answers.ok());
  REQUIRE(answers->size() == 3);
  for (const auto& [tp, answer] : *answers) {
    CHECK(answer.error_code == 5);
    CHECK(answer.offset == -1);
  }
}

TEST_CASE("cluster_wide_questions_go_to_the_bootstrap_broker_first_then_to_each_learnt_broker_once") {
  ClusterView view;
  view.brokers[3] = "h3:9092";
  view.brokers[1] = "boot:9092";  // the bootstrap broker is one of the learnt ones
  view.brokers[2] = "h2:9092";
  view.brokers[4] = "h2:9092";  // two node ids behind one address
  CHECK(brokers_to_ask("boot:9092", view) == std::vector<std::string>{"boot:9092", "h2:9092", "h3:9092"});
  CHECK(brokers_to_ask("boot:9092", ClusterView{}) == std::vector<std::string>{"boot:9092"});
}

namespace {
// A host:port that accepts TCP connections (the kernel's backlog) and never answers, so a
// KafkaConnection to it opens; and a host:port nobody listens on.
struct Listener {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor{io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  std::string address() const { return "127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()); }
};
std::string dead_address() {
  Listener l;
  std::string a = l.address();
  l.acceptor.close();
  return a;
}
}  // namespace

TEST_CASE("ask_brokers_passes_over_unreachable_and_failing_brokers_until_one_answers") {
  Listener failing, answering;
  const std::string dead = dead_address();
  Connections conns("test", 5000);
  std::vector<KafkaConnection*> asked;
  auto answer = ask_brokers(conns, {dead, failing.address(), answering.address()}, [&](KafkaConnection& c) -> Result<int> {
    asked.push_back(&c);
    if (asked.size() == 1) return Error{Errc::io, "connection reset"};
    return 42;
  });
  REQUIRE(answer.ok());
  CHECK(*answer == 42);
  CHECK(asked.size() == 2);  // the dead broker was never asked
  // The failing broker's connection was dropped (a new one opens), the answering one's kept.
  auto again = conns.get(answering.address());
  REQUIRE(again.ok());
  CHECK(*again == asked[1]);
}

TEST_CASE("ask_brokers_without_an_answer_returns_the_last_error_naming_its_broker_or_stops_when_told") {
  Listener first, second;
  const std::string dead = dead_address();
  Connections conns("test", 5000);
  int asks = 0;
  auto fail = [&](KafkaConnection&) -> Result<int> {
    ++asks;
    return Error{Errc::timeout, "still leaderless"};
  };
  auto none = ask_brokers(conns, {first.address(), second.address()}, fail);
  REQUIRE_FALSE(none.ok());
  CHECK(asks == 2);
  CHECK(none.error().code == Errc::timeout);
  CHECK(none.error().message == second.address() + ": still leaderless");

  asks = 0;
  auto stopped = ask_brokers(conns, {first.address(), second.address()}, fail,
                             [](const Error& e) { return e.code == Errc::timeout ? AfterFailure::stop : AfterFailure::next_broker; });
  REQUIRE_FALSE(stopped.ok());
  CHECK(asks == 1);
  CHECK(stopped.error().message == first.address() + ": still leaderless");

  auto unreachable = ask_brokers(conns, {dead}, fail);
  REQUIRE_FALSE(unreachable.ok());
  CHECK(unreachable.error().message.starts_with("cannot reach " + dead + ": "));
}
