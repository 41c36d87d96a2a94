// Invariants of the controller's committed metadata state, as checks that name the first
// violation: for tests (the controller simulation, tests/metadata/controller_sim_test.cc) and as
// a debug check. A state that only the controller wrote (through its planning code) satisfies:
//  - topics/topic_names index the same topics; partitions[i].index == i; every partition's stream
//    exists and belongs to that partition only (stream_partitions agrees);
//  - a partition's leader is -1 or a registered, unfenced broker (as long as no single fence
//    touched more than kMaxLeaderChangesPerEntry partitions: the rest wait for the next repair);
//  - stream and object ids are below next_stream_id / next_object_id; the object map's keys are
//    the objects' ids; prepared objects, and only they, have a deadline;
//  - a committed object has at least one range, each non-empty; the committed ranges of a live
//    stream that reach above its start offset do not overlap, are contiguous, cover its start
//    and end at its end offset (ranges below the start are garbage, kept while their object
//    holds live ranges of other streams); so every committed object holds a live range (one
//    without is destroyed in the write that made it so);
//  - the object index (metadata/object_index.h) equals one rebuilt from the objects.
// check_progress(before, after) for two committed states of one log, `after` later: stream
// epochs, start and end offsets, partition leader epochs, broker epochs and the id counters never
// go backwards; removed stream and object ids never come back; a destroyed object never
// becomes live again.
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>

#include "metadata/image.h"

namespace floe::metadata {

std::optional<std::string> check_invariants(const MetadataState& state);
std::optional<std::string> check_progress(const MetadataState& before, const MetadataState& after);

}  // namespace floe::metadata
