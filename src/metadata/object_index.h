// ObjectIndex: the committed objects of a StreamTable indexed the three ways the stream layer
// reads them, so those reads never scan every object (they run under the controller's lock,
// which the append path's commits need too):
//  - per stream, the ranges of its COMMITTED objects ordered by (start offset, object id,
//    position in the object's ranges): list() answers Controller::list_objects in O(log n + k);
//  - per node, its committed stream-set objects by id (list_stream_set_objects);
//  - the destroyed objects by id (list_destroyed_objects: GC's work list, short).
// It is derived state: MetadataState::apply keeps it (remove() the object as it was before a
// record, add() it as it is after), a decoded snapshot rebuilds it by applying records, and it is
// never written anywhere.
//
// list() returns exactly what a scan of every object returns (scan_slices below, the reference):
// the ranges of committed objects of the stream with end > start and start < end, ordered by
// (start offset, object id, position), the first `limit` of them.
// How list() finds the first range in O(log n): within one stream, committed ranges normally do
// not overlap, so their end offsets grow with their start offsets; then the ranges starting
// before `start` that reach past it are the last few before the first range starting at or after
// it. The index counts, per stream, adjacent ranges whose ends go DOWN (end_inversions); while
// that is 0 the shortcut is exact; otherwise (overlapping garbage, e.g. two uploads of a deleted
// stream's data) list() walks that stream's ranges from its first: still exact, O(stream's ranges).
// Invariant (check() verifies it against a rebuild from the objects): the index holds exactly the
// ranges and ids the objects map implies, and end_inversions counts the descents.
// Thread safety: none (guarded with the state that holds it).
#pragma once

#include <compare>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/ids.h"
#include "stream/metadata.h"

namespace floe::metadata {

class ObjectIndex {
 public:
  // `m` as it now is / as it was (only committed objects have ranges in the index; destroyed ones
  // are in the destroyed set; prepared ones nowhere).
  void add(const stream::ObjectMeta& m);
  void remove(const stream::ObjectMeta& m);

  std::vector<stream::ObjectSlice> list(StreamId id, Offset start, Offset end, uint32_t limit) const;
  // Committed stream-set objects of `node`, ascending ids, at most limit.
  std::vector<ObjectId> stream_set_objects(NodeId node, uint32_t limit) const;
  const std::set<ObjectId>& destroyed() const { return destroyed_; }

  // The first difference from an index rebuilt from `objects` (the debug helper tests call).
  std::optional<std::string> check(const std::map<ObjectId, stream::ObjectMeta>& objects) const;

  friend bool operator==(const ObjectIndex&, const ObjectIndex&) = default;

 private:
  struct Key {
    Offset start;
    ObjectId object;
    uint32_t position = 0;  // of the range in the object's ranges
    friend auto operator<=>(const Key&, const Key&) = default;
  };
  struct Slice {
    Offset end;
    stream::ObjectKind kind = stream::ObjectKind::stream_set;
    uint64_t size_bytes = 0;
    friend bool operator==(const Slice&, const Slice&) = default;
  };
  struct StreamRanges {
    std::map<Key, Slice> by_start;
    size_t end_inversions = 0;  // adjacent pairs in by_start whose second ends below the first
    friend bool operator==(const StreamRanges&, const StreamRanges&) = default;
  };

  std::map<StreamId, StreamRanges> streams_;
  std::map<NodeId, std::set<ObjectId>> stream_set_by_node_;
  std::set<ObjectId> destroyed_;
};

// The reference list() is checked against: a scan of every object (what Controller::list_objects
// did before the index existed).
std::vector<stream::ObjectSlice> scan_slices(const std::map<ObjectId, stream::ObjectMeta>& objects, StreamId id,
                                             Offset start, Offset end, uint32_t limit);

}  // namespace floe::metadata
