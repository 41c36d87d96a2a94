#include "raft/types.h"

#include <charconv>
#include <set>

namespace floe::raft {

const char* message_name(const RaftMessage& message) {
  static const char* const kNames[] = {"VoteRequest", "VoteResponse", "BeginQuorumEpochRequest",
                                       "BeginQuorumEpochResponse", "EndQuorumEpochRequest",
                                       "EndQuorumEpochResponse", "FetchRequest", "FetchResponse",
                                       "FetchSnapshotRequest", "FetchSnapshotResponse"};
  return kNames[message.index()];
}

namespace {

template <typename T>
bool parse_number(std::string_view text, T& out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size() && !text.empty();
}

}  // namespace

Result<std::vector<VoterAddress>> parse_quorum_voters(std::string_view text) {
  std::vector<VoterAddress> voters;
  std::set<NodeId> seen;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    size_t at = item.find('@');
    size_t colon = item.rfind(':');
    if (at == std::string_view::npos || colon == std::string_view::npos || colon < at) {
      return Error(Errc::config, "controller.quorum.voters: expected id@host:port, got '" +
                                     std::string(item) + "'");
    }
    VoterAddress voter;
    voter.host = std::string(item.substr(at + 1, colon - at - 1));
    if (!parse_number(item.substr(0, at), voter.id) || voter.id < 0 ||
        !parse_number(item.substr(colon + 1), voter.port) || voter.port == 0 || voter.host.empty()) {
      return Error(Errc::config, "controller.quorum.voters: bad entry '" + std::string(item) + "'");
    }
    if (!seen.insert(voter.id).second) {
      return Error(Errc::config, "controller.quorum.voters: duplicate id " + std::to_string(voter.id));
    }
    voters.push_back(std::move(voter));
    if (comma != std::string_view::npos && text.empty()) {
      return Error(Errc::config, "controller.quorum.voters: trailing comma");
    }
  }
  if (voters.empty()) return Error(Errc::config, "controller.quorum.voters is empty");
  return voters;
}

}  // namespace floe::raft
