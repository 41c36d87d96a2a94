#!/usr/bin/env bash
# floe serve with its data in S3 (moto_server, signature checks on): records produced through the
# Kafka protocol are uploaded to the bucket; after a clean shutdown the local WAL is deleted, and a
# restarted broker still serves every record, read back from S3 (cold reads through the block cache).
# Uses FLOE_TEST_S3_* when set (.ci/run), else starts its own moto via scripts/start-moto.sh.
# floe's keys live under "data/" in the shared test bucket; the other S3 tests use prefixes of
# their own.
set -uo pipefail
# A port nobody listens on now (ctest runs tests in parallel: a random one may be taken).
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
here=$(cd "$(dirname "$0")" && pwd)
src=${FLOE_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
floe=${FLOE_BIN:-$src/build/floe}
env_lines=
if [ -z "${FLOE_TEST_S3_ENDPOINT:-}" ]; then
  env_lines=$("$src/scripts/start-moto.sh"); rc=$?
  if [ $rc -eq 3 ]; then echo "test_kafka_s3: SKIP: moto_server not installed"; exit 0; fi
  [ $rc -eq 0 ] || { echo "test_kafka_s3: cannot start moto"; exit 1; }
  eval "$env_lines"
fi
tmp=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  [ -n "$env_lines" ] && kill "$FLOE_TEST_MOTO_PID" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$tmp/serve.err" ] && tail -20 "$tmp/serve.err" >&2; exit 1; }

uri="0@s3://$FLOE_TEST_S3_BUCKET?region=$FLOE_TEST_S3_REGION&endpoint=$FLOE_TEST_S3_ENDPOINT&pathStyle=true&accessKey=$FLOE_TEST_S3_ACCESS_KEY&secretKey=$FLOE_TEST_S3_SECRET_KEY"
port=$(free_port)
cport=$(free_port)  # the controller listener
start() {
  "$floe" serve --override data.dir="$tmp/data" --override num.partitions=4 \
    --override "s3.data.buckets=$uri" \
    --override s3.wal.upload.threshold=1048576 --override s3.wal.cache.size=2097152 \
    --override s3.block.cache.size=1048576 \
    --override listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport \
    --override controller.quorum.voters=1@127.0.0.1:$cport >"$tmp/serve.out" 2>"$tmp/serve.err" &
  pid=$!
  for _ in $(seq 1 600); do grep -q "serving Kafka on" "$tmp/serve.out" && return 0; sleep 0.1; done  # bounded: 60 s
  fail "serve did not start"
}
stop() {
  kill -TERM "$pid"
  wait "$pid"; local rc=$?
  pid=
  [ "$rc" -eq 0 ] || fail "serve exited $rc after SIGTERM"
}

start
out=$("$floe" perf produce --bootstrap 127.0.0.1:$port --topic s3data --records 20000 --record-size 300 2>/dev/null)
grep -q "^20000 records sent.*; 0 partition errors" <<<"$out" || fail "produce: $out"
echo "ok: 20000 records (6 MB) produced with the data bucket in S3"
out=$("$floe" perf consume --bootstrap 127.0.0.1:$port --topic s3data --records 20000 --timeout-ms 10000 2>&1)
grep -q "^20000 records consumed" <<<"$out" || fail "consume while serving: $out"
echo "ok: consumed while serving"
stop
[ -d "$tmp/data/objects" ] && fail "a local object store was used instead of S3"

# Everything was uploaded at shutdown: the WAL can go, the data is in S3.
rm -f "$tmp/data/wal"
start
out=$("$floe" perf consume --bootstrap 127.0.0.1:$port --topic s3data --records 20000 --timeout-ms 10000 2>&1)
grep -q "^20000 records consumed" <<<"$out" || fail "consume after restart without the WAL: $out"
echo "ok: after a restart with the WAL deleted, all 20000 records are read back from S3"
stop
echo "test_kafka_s3: ok"
