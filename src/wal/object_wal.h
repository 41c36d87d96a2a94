// ObjectWal: the Wal written as objects in object storage (`s3.wal.path=0@s3://bucket?..` or
// `0@fs://dir`), for brokers without a spare block device: an append is acknowledged once the
// object holding it is in the store (a 200 from S3; an fsynced file from the fs store).
//
// Group commit: appends gather into one object until it holds max_object_bytes (an entry larger
// than that goes alone) or the first of them has waited linger_ms; then the object goes up with
// ONE put. At most max_puts_in_flight puts run at once; the appends behind them wait in a queue
// bounded by max_queued_bytes. Callbacks run in append order on the WAL's thread, whatever order
// the puts finish in.
//
// Positions: an object covers [start, end) with end = start + its size in bytes; every entry in
// it gets that position (like a block WAL group record). Positions only grow within an open, and
// an open continues after the highest end it recovered.
//
// Keys (all under "<key_prefix>-<node id>-", so another broker can find a dead node's objects by
// its id; failover replay is not implemented yet, the objects carry all it would need):
//   object:      <key_prefix>-<node id>-<start, 20 digits>-<generation, 10 digits>
//   open marker: <key_prefix>-<node id>-open-<generation, 10 digits>-<start, 20 digits> (empty body)
// Each open of the WAL is a new GENERATION, one more than any listed, and writes its open marker
// (naming where it starts writing) before it accepts an append. The generation in every key means
// a put of an earlier open that lands late (the process died with the request on the wire, or
// its answer was lost) can never overwrite an object of a later open, which may hold acknowledged
// entries (positions alone would repeat: a new open starts at the highest end it lists).
// No '/' in the listing prefix: some S3-compatible servers (moto) mis-sign a '/' in a query
// value, and a flat name works the same on every store.
//
// Object format, version 1 (little-endian; self-describing, so any reader can check it alone):
//   header, 48 bytes:
//     0  u32 magic 0x424F5746 ("FWOB")    4  u16 version (1)      6  u16 header bytes (48)
//     8  i32 node id                     12  u32 entry count
//    16  u64 start position              24  u64 end position (= start + object bytes)
//    32  u64 generation (which open of the node wrote it; = the key's)
//    40  u32 reserved (0)                44  u32 CRC32C of bytes [0, 44)
//   then `count` entries, back to back, to the end of the object:
//     0  u64 stream id   8  u64 stream epoch   16  i64 base offset   24  u32 payload bytes (n)
//    28  payload (n bytes)   28+n  u32 CRC32C of the entry's bytes [0, 28+n)
//
// Recovery rule (open): list <key_prefix>-<node id>-*. An object of generation g that ends after
// the start named by the open marker of a later generation landed after that open had listed:
// its put never completed while its writer lived, so it was never acknowledged; it is skipped
// and deleted (every acknowledged object of g was listed by the next open, which started after
// its end). Read every other object in position order and verify it (magic, version, node id,
// start and generation = key, end = start + size, header and entry CRCs, nothing left over). A
// failed check is an error naming the key: puts are atomic, so unlike the block WAL there are no
// torn tails to stop at. Objects that overlap are an error too. Open markers of generations at or
// below every remaining object's are deleted (only later markers judge an object). A GAP
// between objects does NOT end recovery: it is either trimmed objects whose (unordered, batched)
// delete was cut short by a crash, so the objects after it may hold acknowledged entries that
// must be returned; or a put that failed while later puts succeeded: the WAL failed at that put,
// so the later objects' callbacks all got errors ("may or may not survive", contract (1)), and
// returning them is allowed by contract (3). Every acknowledged entry lies in an object that is
// not trimmed and therefore still listed, so recovery returns it (contract (3)).
//
// Invariants:
//  (1) An append is acknowledged only after its object's put succeeded and every earlier object's
//      put did too; after a failed put (the store's retries exhausted) the WAL is failed: that
//      object's and every later object's callbacks get the error, as with BlockWal (earlier
//      objects whose puts succeed after it are still acknowledged). Reopen to recover.
//  (2) Untrimmed bytes (end of the last object formed minus the trim offset) never exceed
//      capacity_bytes (s3.wal.capacity): objects wait for trims (backpressure), appends beyond the
//      queue bound are refused.
//  (3) trim(p) deletes, in the background and in batches of at most kMaxDeleteBatch keys, the
//      objects ending at or before p. Nothing else is persisted: a crash before the delete only
//      makes recovery return entries the stream layer has already uploaded (it skips them).
// Known limit: a put that the store reported failed but that lands later (a lost response after
// all retries) before the next open lists could reappear at a restart (it is not after that
// open's marker); the stream layer's offset and epoch checks reject what does not continue a
// stream.
// Thread safety: append/trim/stats/close may be called from any thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "objectstore/object_store.h"
#include "wal/wal.h"

namespace floe::wal {

namespace object_format {
inline constexpr uint32_t kMagic = 0x424F5746;  // "FWOB" little-endian
inline constexpr uint16_t kVersion = 1;
inline constexpr size_t kHeaderBytes = 48;
inline constexpr size_t kEntryHeaderBytes = 28;
inline constexpr size_t kEntryOverheadBytes = kEntryHeaderBytes + 4;

struct Header {
  int32_t node_id = 0;
  uint32_t count = 0;
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t generation = 0;
};

struct Object {
  Header header;
  std::vector<Entry> entries;  // payloads share the object's buffer
};

// "<prefix>-<node id>-", an object's key and an open marker's key (see "Keys" above).
std::string node_prefix(std::string_view key_prefix, int32_t node_id);
std::string object_key(std::string_view key_prefix, int32_t node_id, uint64_t start, uint64_t generation);
std::string open_marker_key(std::string_view key_prefix, int32_t node_id, uint64_t generation, uint64_t start);
// What a key names, from the part after node_prefix(); nullopt for a name of neither form.
struct KeyName {
  bool open_marker = false;
  uint64_t start = 0;
  uint64_t generation = 0;
};
std::optional<KeyName> parse_key_name(std::string_view name);

// Encodes entries as one object starting at `start` (its end is start + the returned size).
Bytes encode(const Header& header_without_end, const std::vector<const Entry*>& entries);
size_t encoded_bytes(size_t entries, size_t payload_bytes);
// Decodes and verifies an object (errors are Errc::corrupt and say what is wrong).
Result<Object> decode(const SharedBytes& body);
}  // namespace object_format

struct ObjectWalOptions {
  std::shared_ptr<objectstore::ObjectStore> store;  // retrying already (objectstore::open_store for s3)
  int32_t node_id = 0;
  std::string key_prefix = "wal";
  uint64_t capacity_bytes = 1ull << 30;   // s3.wal.capacity: bound on untrimmed bytes
  // s3.wal.object.max.bytes: 4 MiB amortizes a put's fixed latency and price (about 256 puts per
  // GiB) and stays below the store's multipart threshold (16 MiB), so an object is one PutObject.
  size_t max_object_bytes = 4u << 20;
  uint32_t linger_ms = 5;                  // s3.wal.object.linger.ms
  size_t max_puts_in_flight = 4;
  size_t max_queued_bytes = 256u << 20;    // bound on bytes waiting for a put
  uint32_t delete_retry_ms = 1000;         // after a failed delete
};

class ObjectWal final : public Wal {
 public:
  struct Opened {
    std::unique_ptr<ObjectWal> wal;
    std::vector<RecoveredEntry> recovered;  // in position order
  };
  // Lists and reads this node's objects (recovery rule above), then starts the writer thread.
  // Errors: the store cannot list or read, an object fails its checks, objects overlap.
  static Result<Opened> open(const ObjectWalOptions& options);

  ~ObjectWal() override;
  void append(Entry entry, AppendCallback done) override;
  Status trim(uint64_t offset) override;
  // records_written and syncs count puts (a completed put is durable), device_bytes_written the
  // object bytes put, written_end_offset the end of the last object handed to the store.
  WalStats stats() const override;
  void close() override;

 private:
  struct Impl;
  explicit ObjectWal(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace floe::wal
