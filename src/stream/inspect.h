// Operator views of floe's storage formats (`floe storage inspect wal PATH`,
// `floe storage inspect object URI KEY`; the CLI wiring lives in admin/).
//
// inspect_wal reads a block WAL file READ-ONLY (it never opens it as a BlockWal, which would bump
// the header epoch) and prints both header slots and every record from the trim offset, the way
// recovery walks them, with each entry's stream, epoch, base offset, record count and size.
// inspect_object_wal lists an object WAL's objects (`floe storage inspect wal URI`) the same way.
// inspect_object prints an object's footer, index and per-block batch summary, verifying CRCs.
// Both return a process exit code: 0 when everything parsed, 1 when the file or object is
// corrupt or unreadable (the first problem is printed). Thread safety: none needed.
#pragma once

#include <iostream>
#include <string>

#include "common/bytes.h"
#include "objectstore/object_store.h"

namespace floe::stream {

int inspect_wal(const std::string& path, std::ostream& out = std::cout);
// An object WAL (wal/object_wal.h): every object named wal-* (every node's), in key order, with its
// header and entries, each checked (CRCs, sizes). REQUIRES: not called from a thread of store.
int inspect_object_wal(objectstore::ObjectStore& store, std::ostream& out = std::cout);
// REQUIRES: not called from a thread of store (it waits for the GETs).
int inspect_object(objectstore::ObjectStore& store, const std::string& key, std::ostream& out = std::cout);
int inspect_object_bytes(const SharedBytes& object, std::ostream& out = std::cout);

}  // namespace floe::stream
