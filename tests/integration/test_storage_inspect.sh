#!/usr/bin/env bash
# floe storage inspect: usage errors exit 2, damaged or foreign input exits 1 with a message,
# and never writes to what it inspects.
set -euo pipefail
bin=${FLOE_BIN:?FLOE_BIN must point at build/floe}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

set +e
"$bin" storage inspect >/dev/null 2>&1; [ $? -eq 2 ] || { echo "FAIL: bare inspect should be a usage error"; exit 1; }
"$bin" storage inspect wal >/dev/null 2>&1; [ $? -eq 2 ] || { echo "FAIL: inspect wal without a path should exit 2"; exit 1; }
printf 'not a wal at all' > "$dir/foreign"
before=$(sha256sum "$dir/foreign")
out=$("$bin" storage inspect wal "$dir/foreign" 2>&1); rc=$?
[ $rc -eq 1 ] || { echo "FAIL: a foreign file should exit 1, got $rc: $out"; exit 1; }
[ "$(sha256sum "$dir/foreign")" = "$before" ] || { echo "FAIL: inspect modified the file"; exit 1; }
out=$("$bin" storage inspect object "0@file://$dir/objects" no/such/key 2>&1); rc=$?
[ $rc -eq 1 ] || { echo "FAIL: a missing object should exit 1, got $rc: $out"; exit 1; }
out=$("$bin" storage inspect object "0@nope://x" key 2>&1); rc=$?
[ $rc -eq 2 ] || { echo "FAIL: a bad bucket URI should exit 2, got $rc: $out"; exit 1; }
set -e
echo "storage inspect: ok"
