#include <catch2/catch.hpp>
#include <map>

#include "objectstore/blocking.h"
#include "stream_test_util.h"

using namespace floe;
using namespace floe::stream;
using namespace floe::stream::testing;

namespace {
size_t live_objects(InMemoryStreamMetadata& meta, ObjectKind kind) {
  size_t n = 0;
  for (auto& m : meta.all_objects()) n += m.state == ObjectState::committed && m.kind == kind;
  return n;
}
size_t stored_objects(objectstore::ObjectStore& store) {
  objectstore::BlockingStore b(store);
  return b.list_all("")->size();
}
}  // namespace

TEST_CASE("compaction_splits_stream_set_objects_into_stream_objects_and_gc_deletes_sources_after_the_delay") {
  Harness h;
  h.options.compaction.stream_object_min_bytes = 20 << 10;
  h.options.compaction.gc_delay_ms = 60000;
  h.start();
  auto big = h.open(h.create());
  auto small = h.open(h.create());
  std::vector<Batch> wb, ws;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 10; ++i) {
      int64_t o = round * 10 + i;
      SharedBytes b = pattern(1500, o), c = pattern(50, 1000 + o);
      REQUIRE(append(*big, o, 1, b).ok());
      REQUIRE(append(*small, o, 1, c).ok());
      wb.push_back({Offset(o), 1, b});
      ws.push_back({Offset(o), 1, c});
    }
    h.flush();
  }
  REQUIRE(live_objects(*h.meta, ObjectKind::stream_set) == 4);
  REQUIRE(h.manager->compact_now().ok());
  CHECK(live_objects(*h.meta, ObjectKind::stream_set) == 1);  // the small stream's ranges
  CHECK(live_objects(*h.meta, ObjectKind::stream) == 1);      // the big stream, one range
  CHECK(stored_objects(*h.store) == 6);
  REQUIRE(h.manager->gc_now().ok());
  CHECK(stored_objects(*h.store) == 6);  // within the delay: readers may still use the sources
  *h.clock_ms += 60001;
  REQUIRE(h.manager->gc_now().ok());
  CHECK(stored_objects(*h.store) == 2);
  CHECK(h.manager->stats().gc_deleted_objects == 4);
  h.restart();
  CHECK(fetch_all(*h.open(big->id()), 0) == wb);
  CHECK(fetch_all(*h.open(small->id()), 0) == ws);
}

TEST_CASE("small_adjacent_stream_objects_are_merged") {
  Harness h;
  h.options.stream_object_threshold_bytes = 10 << 10;
  h.options.compaction.stream_object_target_bytes = 1 << 20;
  h.start();
  auto s = h.open(h.create());
  std::vector<Batch> w;
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 10; ++i) {
      int64_t o = round * 10 + i;
      SharedBytes b = pattern(2000, o);
      REQUIRE(append(*s, o, 1, b).ok());
      w.push_back({Offset(o), 1, b});
    }
    h.flush();
  }
  REQUIRE(live_objects(*h.meta, ObjectKind::stream) == 5);
  REQUIRE(h.manager->compact_now().ok());
  CHECK(live_objects(*h.meta, ObjectKind::stream) == 1);
  h.restart();
  CHECK(fetch_all(*h.open(s->id()), 0) == w);
}

TEST_CASE("objects_wholly_below_the_start_offset_are_destroyed_and_deleted") {
  Harness h;
  h.options.compaction.gc_delay_ms = 0;
  h.start();
  auto s = h.open(h.create());
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 10; ++i) REQUIRE(append(*s, round * 10 + i, 1, pattern(100, i)).ok());
    h.flush();
  }
  REQUIRE(stored_objects(*h.store) == 3);
  REQUIRE(sync<Done>([&](auto cb) { s->trim(Offset(20), cb); }).ok());
  REQUIRE(h.manager->gc_now().ok());
  CHECK(stored_objects(*h.store) == 1);
  auto r = fetch(*s, 20);
  REQUIRE(r.ok());
  CHECK(r->batches[0].base_offset == Offset(20));
}

// Random appends, fetches, trims, uploads, compactions, GC and crashes (restart = WAL recovery)
// against a simple model: each stream is the list of its batches and a start offset.
TEST_CASE("random_operations_match_a_simple_model_on_mem_and_fs_backends") {
  for (bool fs_backend : {false, true}) {
    for (uint64_t seed : {1u, 2u, 3u}) {
      INFO("seed " << seed << (fs_backend ? " fs" : " mem"));
      std::mt19937_64 rng(seed);
      Harness h(fs_backend);
      h.options.cache_size_bytes = 128 << 10;
      h.options.upload_threshold_bytes = 64 << 10;
      h.options.stream_object_threshold_bytes = 48 << 10;
      h.options.compaction.stream_object_min_bytes = 16 << 10;
      h.options.compaction.gc_delay_ms = 1000;
      h.options.block_target_bytes = 4 << 10;
      h.start();
      struct Model {
        StreamId id;
        std::vector<Batch> batches;
        int64_t start = 0;
        int64_t end() const { return batches.empty() ? 0 : batches.back().end_offset().value(); }
      };
      std::vector<Model> model(4);
      std::vector<std::shared_ptr<Stream>> handles;
      for (auto& m : model) {
        m.id = h.create();
        handles.push_back(h.open(m.id));
      }
      for (int step = 0; step < 400; ++step) {
        size_t i = rng() % model.size();
        auto& m = model[i];
        int op = static_cast<int>(rng() % 100);
        if (op < 60) {
          uint32_t count = 1 + rng() % 5;
          SharedBytes b = pattern(rng() % 3000, rng());
          auto r = append(*handles[i], m.end(), count, b);
          REQUIRE(r.ok());
          m.batches.push_back({Offset(m.end()), count, b});
        } else if (op < 85) {
          if (m.end() == m.start) continue;
          int64_t at = m.start + static_cast<int64_t>(rng() % (m.end() - m.start));
          auto r = fetch(*handles[i], at, rng() % 8000);
          REQUIRE(r.ok());
          REQUIRE_FALSE(r->batches.empty());
          auto it = std::find_if(m.batches.begin(), m.batches.end(), [&](const Batch& b) { return b.end_offset().value() > at; });
          for (auto& b : r->batches) {
            REQUIRE(it != m.batches.end());
            CHECK(b == *it);
            ++it;
          }
        } else if (op < 89) {
          if (m.end() == m.start) continue;
          int64_t to = m.start + static_cast<int64_t>(rng() % (m.end() - m.start + 1));
          REQUIRE(sync<Done>([&](auto cb) { handles[i]->trim(Offset(to), cb); }).ok());
          m.start = to;
        } else if (op < 93) {
          h.flush();
        } else if (op < 96) {
          REQUIRE(h.manager->compact_now().ok());
          *h.clock_ms += 500;
          REQUIRE(h.manager->gc_now().ok());
        } else {
          h.restart();  // a crash as far as the stream layer knows: the tail is only in the WAL
          for (size_t k = 0; k < model.size(); ++k) {
            handles[k] = h.open(model[k].id);
            REQUIRE(handles[k]->end_offset().value() == model[k].end());
          }
        }
      }
      // Everything readable from objects after a final restart.
      h.restart();
      for (size_t k = 0; k < model.size(); ++k) {
        auto s = h.open(model[k].id);
        auto& m = model[k];
        auto all = fetch_all(*s, s->start_offset().value());
        auto it = std::find_if(m.batches.begin(), m.batches.end(),
                               [&](const Batch& b) { return b.end_offset() > s->start_offset(); });
        CHECK(std::vector<Batch>(it, m.batches.end()) == all);
      }
    }
  }
}
