#!/usr/bin/env bash
# `floe storage probe` against moto_server with signature checking on (and against the fs
# backend): the right key passes every step; a wrong secret, an unknown key, a missing bucket and
# an unreachable endpoint fail with the S3 error code and a hint, exit code 1.
# Uses FLOE_TEST_S3_* when set (.ci/run), else starts its own moto via scripts/start-moto.sh.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${FLOE_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
floe=${FLOE_BIN:-$src/build/floe}

if ! "$floe" storage --help 2>/dev/null | grep -q "storage probe"; then
  echo "test_s3_probe: SKIP: 'floe storage' is not wired into the CLI of $floe"
  exit 0
fi
if [ -z "${FLOE_TEST_S3_ENDPOINT:-}" ]; then
  env_lines=$("$src/scripts/start-moto.sh"); rc=$?
  if [ $rc -eq 3 ]; then echo "test_s3_probe: SKIP: moto_server/boto3 not installed"; exit 0; fi
  [ $rc -eq 0 ] || { echo "test_s3_probe: cannot start moto"; exit 1; }
  eval "$env_lines"
  trap 'kill "$FLOE_TEST_MOTO_PID" 2>/dev/null' EXIT
fi

failed=0
work=$(mktemp -d)
trap 'rm -rf "$work"; [ -n "${env_lines:-}" ] && kill "$FLOE_TEST_MOTO_PID" 2>/dev/null' EXIT
uri="0@s3://$FLOE_TEST_S3_BUCKET?region=$FLOE_TEST_S3_REGION&endpoint=$FLOE_TEST_S3_ENDPOINT&pathStyle=true"

# expect NAME WANT_RC PATTERN... -- CMD...: runs CMD (bounded by timeout), checks exit code and output.
expect() {
  local name=$1 want=$2; shift 2
  local patterns=()
  while [ "$1" != "--" ]; do patterns+=("$1"); shift; done
  shift
  local out rc
  out=$(timeout 120 "$@" 2>&1); rc=$?
  local ok=1
  [ "$rc" -eq "$want" ] || ok=0
  for p in "${patterns[@]}"; do echo "$out" | grep -q -- "$p" || ok=0; done
  if [ $ok -eq 1 ]; then
    echo "ok: $name"
  else
    echo "FAIL: $name (exit $rc, want $want)"; echo "$out" | sed 's/^/    /'
    failed=$((failed + 1))
  fi
}

good_env=(env AWS_ACCESS_KEY_ID="$FLOE_TEST_S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$FLOE_TEST_S3_SECRET_KEY")

expect "right key passes every step (credentials from the environment)" 0 \
  "put 1.0 MiB" "ranged get" "list" "multipart put" "across a part boundary" "delete 2 objects" "all steps passed" \
  "credentials from environment" -- "${good_env[@]}" "$floe" storage probe --bucket "$uri"

expect "virtual-hosted addressing (bucket.localhost) passes every step" 0 "virtual-hosted" "all steps passed" -- \
  "${good_env[@]}" "$floe" storage probe \
  --bucket "0@s3://$FLOE_TEST_S3_BUCKET?region=$FLOE_TEST_S3_REGION&endpoint=http://localhost:${FLOE_TEST_S3_ENDPOINT##*:}"

expect "right key in the bucket URI" 0 "all steps passed" "credentials from bucket URI" -- \
  env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$floe" storage probe \
  --bucket "$uri&accessKey=$FLOE_TEST_S3_ACCESS_KEY&secretKey=$(python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.argv[1],safe=""))' "$FLOE_TEST_S3_SECRET_KEY")"

printf '[probe]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$FLOE_TEST_S3_ACCESS_KEY" \
  "$FLOE_TEST_S3_SECRET_KEY" > "$work/credentials"
expect "right key from a shared credentials file profile" 0 "all steps passed" "credentials from $work/credentials" -- \
  env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_SHARED_CREDENTIALS_FILE="$work/credentials" AWS_PROFILE=probe \
  "$floe" storage probe --bucket "$uri"

expect "wrong secret fails with SignatureDoesNotMatch and a hint" 1 \
  "FAIL" "code: SignatureDoesNotMatch" "hint: the secret key does not match" -- \
  env AWS_ACCESS_KEY_ID="$FLOE_TEST_S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY=wrong "$floe" storage probe --bucket "$uri"

expect "unknown key fails with InvalidAccessKeyId" 1 "code: InvalidAccessKeyId" "hint: this endpoint does not know" -- \
  env AWS_ACCESS_KEY_ID=AKIAUNKNOWNKEY000000 AWS_SECRET_ACCESS_KEY=x "$floe" storage probe --bucket "$uri"

expect "missing bucket fails with NoSuchBucket" 1 "code: NoSuchBucket" "hint: the bucket does not exist" -- \
  "${good_env[@]}" "$floe" storage probe \
  --bucket "0@s3://no-such-bucket-here?region=us-east-1&endpoint=$FLOE_TEST_S3_ENDPOINT&pathStyle=true"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
expect "unreachable endpoint fails with a connect hint" 1 "code: FloeConnectFailed" "hint: cannot connect" -- \
  "${good_env[@]}" "$floe" storage probe --bucket "0@s3://bucket?endpoint=http://127.0.0.1:$port&pathStyle=true"

expect "the fs backend passes every step" 0 "all steps passed" -- \
  "$floe" storage probe --bucket "0@file://$work/objects"

expect "a bad URI is a usage error" 2 "regoin" -- "$floe" storage probe --bucket "0@s3://bucket?regoin=x"
expect "a missing --bucket is a usage error" 2 "required" -- "$floe" storage probe

echo "test_s3_probe: $failed failed"
[ "$failed" -eq 0 ]
