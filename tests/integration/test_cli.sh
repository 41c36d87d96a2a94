#!/usr/bin/env bash
# The floe command line as a user meets it: version, help, config validation with named-key errors
# and documented exit codes (0 ok, 1 failed, 2 usage/config error, 3 not implemented), and a serve
# that starts, answers SIGTERM and exits 0.
set -euo pipefail
# A port nobody listens on now (ctest runs tests in parallel: a random one may be taken).
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
: "${FLOE_BIN:?set FLOE_BIN to the floe binary}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# Runs floe, capturing stdout, stderr and the exit code into $out, $err, $rc.
run() {
  set +e
  "$FLOE_BIN" "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  set -e
  out=$(cat "$tmp/out")
  err=$(cat "$tmp/err")
}
expect_rc() { [ "$rc" -eq "$1" ] || fail "expected exit $1, got $rc for: $2 (stderr: $err)"; }
expect_in() { grep -qF -- "$2" <<<"$1" || fail "expected '$2' in: $1"; }

# --version: "floe <version>" then the linked library versions.
run --version
expect_rc 0 --version
[[ "$(head -1 <<<"$out")" =~ ^floe\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "first line of --version: $out"
for lib in libcurl OpenSSL zstd lz4 zlib snappy; do expect_in "$(sed -n 2p <<<"$out")" "$lib "; done

# --help names every verb and option.
run --help
expect_rc 0 --help
for word in serve --config --override --check "config keys" --version --help "Exit status"; do expect_in "$out" "$word"; done

# Unknown verbs and options are usage errors that name them.
run frobnicate; expect_rc 2 frobnicate; expect_in "$err" "unknown command 'frobnicate'"
run serve --bogus; expect_rc 2 "serve --bogus"; expect_in "$err" "unknown option '--bogus'"
run; expect_rc 2 "(no arguments)"

# A valid file with --check: exit 0, the effective configuration printed.
cat >"$tmp/server.properties" <<'PROPS'
# a single node, both roles
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://localhost:19092,\
          CONTROLLER://localhost:19093
controller.quorum.voters=1@localhost:19093
num.partitions = 3
log.retention.hours=24
s3.wal.capacity=2GiB
PROPS
run serve --config "$tmp/server.properties" --check
expect_rc 0 "serve --check"
expect_in "$out" "num.partitions=3"
expect_in "$out" "listeners=PLAINTEXT://localhost:19092,CONTROLLER://localhost:19093"
expect_in "$out" "# from $tmp/server.properties:7"

# Overrides beat the file, the later override wins.
run serve --config "$tmp/server.properties" --override num.partitions=5 --override=num.partitions=6 --check
expect_rc 0 "serve --override --check"
expect_in "$out" "num.partitions=6"
grep -q '^num.partitions=3$' <<<"$out" && fail "the file's value survived an override"

# The printed configuration loads back as a properties file with the same values.
run serve --config "$tmp/server.properties" --check
cp "$tmp/out" "$tmp/effective.properties"
run serve --config "$tmp/effective.properties" --check
expect_rc 0 "reloading the printed configuration"
diff <(grep -v '^#' "$tmp/effective.properties" | sort) <(grep -v '^#' "$tmp/out" | sort) || fail "reloaded config differs"

# A bad key stops startup: exit 2, the key named (with a suggestion), and the file line.
printf 'node.id=1\nlisenters=PLAINTEXT://:9092\n' >"$tmp/bad.properties"
run serve --config "$tmp/bad.properties" --check
expect_rc 2 "bad key"
expect_in "$err" "floe: config: unknown key 'lisenters' (did you mean 'listeners'?)"
expect_in "$err" "bad.properties:2"

# A bad value: exit 2, the key and the allowed values named.
run serve --override process.roles=brokr --check
expect_rc 2 "bad process.roles"
expect_in "$err" "'process.roles' must be a comma-separated subset of {broker, controller}, got 'brokr'"
run serve --override node.id=abc --check
expect_rc 2 "bad node.id"
expect_in "$err" "'node.id' must be an integer in [0, 2147483647], got 'abc'"
run serve --config "$tmp/missing.properties" --check
expect_rc 2 "missing file"
expect_in "$err" "missing.properties"

# serve refuses what this build cannot run yet, naming the key (exit 1).
run serve --override controller.quorum.voters=1@localhost:19093,2@localhost:19094 --override data.dir="$tmp/d0"
expect_rc 1 "serve with two voters"
expect_in "$err" "controller.quorum.voters"
run serve --override process.roles=broker --override data.dir="$tmp/d0"
expect_rc 1 "serve as broker only"
expect_in "$err" "process.roles"

# serve runs until SIGTERM, says where it listens, then exits 0.
port=$(free_port)
cport=$(free_port)  # the controller listener
"$FLOE_BIN" serve --override data.dir="$tmp/d1" \
  --override listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport \
  --override controller.quorum.voters=1@127.0.0.1:$cport >"$tmp/serve.out" 2>"$tmp/serve.err" &
pid=$!
for _ in $(seq 1 600); do grep -q "serving Kafka on" "$tmp/serve.out" && break; sleep 0.1; done  # bounded: 60 s
grep -q "serving Kafka on 127.0.0.1:$port" "$tmp/serve.out" || { kill -9 $pid; fail "serve did not start: $(cat "$tmp/serve.err")"; }
kill -TERM $pid
set +e; wait $pid; rc=$?; set -e
[ "$rc" -eq 0 ] || fail "serve exited $rc after SIGTERM: $(cat "$tmp/serve.err")"
[ -d "$tmp/d1/metadata" ] && [ -f "$tmp/d1/wal" ] || fail "serve did not create its data under data.dir"

# config keys: every key, in every format.
run config keys
expect_rc 0 "config keys"
for key in node.id process.roles listeners controller.quorum.voters s3.data.buckets s3.wal.path log.level data.dir; do
  expect_in "$out" "$key"
done
run config keys --format markdown; expect_rc 0 "config keys --format markdown"; expect_in "$out" "| \`node.id\` |"
# cluster status against a peer that accepts but never answers: a bounded wait, exit 1, a message.
hang_port=$(free_port)
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); print("ready", flush=True)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
' $hang_port >"$tmp/hang.out" 2>&1 &
hang_pid=$!
for _ in $(seq 1 300); do grep -q ready "$tmp/hang.out" && break; sleep 0.1; done  # bounded: 30 s
start=$(date +%s)
run cluster status --bootstrap-controller 127.0.0.1:$hang_port
took=$(( $(date +%s) - start ))
kill $hang_pid 2>/dev/null || true
expect_rc 1 "cluster status against a silent peer"
expect_in "$err" "timed out"
[ "$took" -le 60 ] || fail "cluster status waited ${took}s for a silent peer"  # its 5 s timeout, loosely (a loaded machine)

# perf wal: one small round and two latency slice pairs run and report (the p99s of raw and WAL
# slices, each pair's ratio); a bad option is a usage error (exit 2).
run perf wal --path "$tmp" --bytes 16777216 --rounds 1 --slices 2
expect_rc 0 "perf wal"
expect_in "$out" "append latency, 1 KiB at 2000/s"
expect_in "$out" "raw 4 KiB O_DIRECT write+fdatasync latency"
expect_in "$out" "per slice pair, WAL p99 / raw p99"
expect_in "$out" "raw 4 KiB O_DIRECT write+fdatasync latency, 2 writers"
expect_in "$out" "latency tails (us)"
expect_in "$out" "moderate load = 1 KiB entries at 2000 appends/s"
expect_in "$out" "append latency, 1 KiB at 50000/s"
run perf wal --rounds 0
expect_rc 2 "perf wal --rounds 0"
run perf wal --slices 0
expect_rc 2 "perf wal --slices 0"

echo "test_cli: ok"
