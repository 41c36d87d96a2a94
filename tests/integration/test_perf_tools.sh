#!/usr/bin/env bash
# `floe perf produce` and `floe perf consume` against a real `floe serve`: they run, report their
# figures, and consume exactly what was produced; usage errors exit 2.
set -euo pipefail
# A port nobody listens on now (ctest runs tests in parallel: a random one may be taken).
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
: "${FLOE_BIN:?set FLOE_BIN to the floe binary}"
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

port=$(free_port)
cport=$(free_port)  # the controller listener
"$FLOE_BIN" serve --override data.dir="$tmp/data" --override num.partitions=4 \
  --override listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport \
  --override controller.quorum.voters=1@127.0.0.1:$cport >"$tmp/serve.out" 2>"$tmp/serve.err" &
pid=$!
for _ in $(seq 1 600); do grep -q "serving Kafka on" "$tmp/serve.out" && break; sleep 0.1; done  # bounded: 60 s
grep -q "serving Kafka on" "$tmp/serve.out" || fail "serve did not start: $(cat "$tmp/serve.err")"

out=$("$FLOE_BIN" perf produce --bootstrap 127.0.0.1:$port --topic perf --records 20000 --record-size 200 2>/dev/null)
echo "$out"
grep -q "^20000 records sent, .* records/sec (.* MB/sec), .* ms 99th, .*; 0 partition errors" <<<"$out" || fail "produce report: $out"
out=$("$FLOE_BIN" perf consume --bootstrap 127.0.0.1:$port --topic perf --records 20000 --timeout-ms 30000 2>/dev/null)
echo "$out"
grep -q "^20000 records consumed" <<<"$out" || fail "consume report: $out"

set +e
"$FLOE_BIN" perf produce --bootstrap 127.0.0.1:$port >/dev/null 2>&1; rc=$?
set -e
[ "$rc" -eq 2 ] || fail "perf produce without --topic exited $rc, expected 2"
echo "test_perf_tools: ok"
