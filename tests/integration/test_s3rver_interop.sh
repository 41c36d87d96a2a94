#!/usr/bin/env bash
# Interop with a second S3 implementation, s3rver (npm; tests/s3rver/package.json): `floe storage
# probe` path-style and virtual-hosted, an unknown access key failing with InvalidAccessKeyId, and
# the objectstore unit tests tagged s3rver (put/get/ranged get/list pages/delete/multipart/lost
# complete reconciled) against it. s3rver listens on 127.0.0.1 only and is killed at exit.
# SKIPs (exit 0, with the reason) when node/npm are missing or `npm ci` cannot install s3rver.
# s3rver 3.7 cannot check: SigV4 signatures (a wrong secret passes), AbortMultipartUpload,
# ListMultipartUploads; see tests/objectstore/s3rver_test.cc.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${FLOE_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
floe=${FLOE_BIN:-$src/build/floe}
bindir=${FLOE_BINARY_DIR:-$(dirname "$floe")}
pkg=$src/tests/s3rver

command -v node >/dev/null 2>&1 || { echo "test_s3rver_interop: SKIP: node not installed"; exit 0; }
if [ ! -x "$pkg/node_modules/.bin/s3rver" ]; then
  command -v npm >/dev/null 2>&1 || { echo "test_s3rver_interop: SKIP: s3rver not installed and npm missing"; exit 0; }
  if ! (cd "$pkg" && timeout 300 npm ci --no-audit --no-fund >/dev/null 2>&1); then
    echo "test_s3rver_interop: SKIP: npm ci failed in tests/s3rver (offline?)"; exit 0
  fi
fi
if ! "$floe" storage --help 2>/dev/null | grep -q "storage probe"; then
  echo "test_s3rver_interop: SKIP: 'floe storage' is not wired into the CLI of $floe"; exit 0
fi

work=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
bucket=floe-interop
mkdir -p "$work/data"
# --openssl-legacy-provider: s3rver's ListObjectsV2 continuation tokens use a cipher OpenSSL 3
# keeps in its legacy provider. --service-endpoint localhost: bucket.s3.localhost is virtual-hosted.
node --openssl-legacy-provider "$pkg/node_modules/s3rver/bin/s3rver.js" -d "$work/data" -a 127.0.0.1 -p "$port" \
  --service-endpoint localhost --configure-bucket "$bucket" >"$work/s3rver.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do  # bounded: 60 s
  grep -q "listening" "$work/s3rver.log" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { echo "FAIL: s3rver exited"; cat "$work/s3rver.log"; exit 1; }
  sleep 0.1
done
grep -q "listening" "$work/s3rver.log" || { echo "FAIL: s3rver did not start within 60 s"; exit 1; }
endpoint="http://127.0.0.1:$port"

failed=0
expect() {  # expect NAME WANT_RC PATTERN... -- CMD...
  local name=$1 want=$2; shift 2
  local patterns=()
  while [ "$1" != "--" ]; do patterns+=("$1"); shift; done
  shift
  local out rc ok=1
  out=$(timeout 300 "$@" 2>&1); rc=$?
  [ "$rc" -eq "$want" ] || ok=0
  for p in "${patterns[@]}"; do echo "$out" | grep -q -- "$p" || ok=0; done
  if [ $ok -eq 1 ]; then echo "ok: $name"; else
    echo "FAIL: $name (exit $rc, want $want)"; echo "$out" | tail -40 | sed 's/^/    /'; failed=$((failed + 1))
  fi
}

keys=(env AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER)
expect "probe, path-style: every step passes" 0 "put 1.0 MiB" "ranged get" "list" "multipart put" \
  "across a part boundary" "delete 2 objects" "all steps passed" -- \
  "${keys[@]}" "$floe" storage probe --bucket "0@s3://$bucket?region=us-east-1&endpoint=$endpoint&pathStyle=true"
expect "probe, virtual-hosted (bucket.s3.localhost): every step passes" 0 "virtual-hosted" "all steps passed" -- \
  "${keys[@]}" "$floe" storage probe --bucket "0@s3://$bucket?region=us-east-1&endpoint=http://s3.localhost:$port"
expect "probe with an unknown access key fails with InvalidAccessKeyId" 1 "InvalidAccessKeyId" "hint:" -- \
  env AWS_ACCESS_KEY_ID=NOSUCHKEY AWS_SECRET_ACCESS_KEY=S3RVER \
  "$floe" storage probe --bucket "0@s3://$bucket?region=us-east-1&endpoint=$endpoint&pathStyle=true"
if [ -x "$bindir/tests/objectstore_tests" ]; then
  expect "objectstore unit tests against s3rver" 0 "All tests passed" -- \
    env FLOE_TEST_S3RVER_ENDPOINT="$endpoint" FLOE_TEST_S3RVER_BUCKET="$bucket" \
    "$bindir/tests/objectstore_tests" "s3rver*"
else
  echo "FAIL: $bindir/tests/objectstore_tests not built"; failed=$((failed + 1))
fi

# Not a check (s3rver does not verify SigV4): record what a wrong secret does, for the log.
out=$(AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=wrong timeout 60 "$floe" storage probe \
  --bucket "0@s3://$bucket?region=us-east-1&endpoint=$endpoint&pathStyle=true" 2>&1 | tail -1)
echo "note: with a wrong secret s3rver says: $out (it does not verify SigV4 signatures)"

[ $failed -eq 0 ] && echo "s3rver interop: ok"
[ $failed -eq 0 ]
