#!/usr/bin/env bash
# Starts moto_server on 127.0.0.1 with SigV4 signature checking ON, creates an IAM user with an
# access key and an s3:* policy, creates a test bucket, and prints `export` lines:
#   FLOE_TEST_S3_ENDPOINT  FLOE_TEST_S3_REGION  FLOE_TEST_S3_BUCKET
#   FLOE_TEST_S3_ACCESS_KEY  FLOE_TEST_S3_SECRET_KEY  FLOE_TEST_MOTO_PID  FLOE_TEST_MOTO_LOG
# Usage: eval "$(scripts/start-moto.sh [--port N] [--bucket NAME] [--env-file FILE])"
#        ... tests ...;  kill "$FLOE_TEST_MOTO_PID"
# --port 0 (the default) picks a free port. --env-file also writes the lines to FILE.
# Exit status: 0 started; 3 moto_server or boto3 is not installed; 1 any other failure.
# Every wait is bounded (30 s for the server to answer); on failure the script kills the server it
# started and exits non-zero with the log's tail. Only 127.0.0.1 is ever used.
set -euo pipefail

port=0
bucket=floe-test
env_file=""
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port=$2; shift 2 ;;
    --bucket) bucket=$2; shift 2 ;;
    --env-file) env_file=$2; shift 2 ;;
    *) echo "start-moto: unknown argument $1" >&2; exit 2 ;;
  esac
done

# A python that has boto3 (pyenv's, usually first on PATH; Debian's may lack it).
py=""
for candidate in python3 python /root/.pyenv/shims/python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c "import boto3" >/dev/null 2>&1; then
    py=$(command -v "$candidate"); break
  fi
done
# Exit 3 (not 1) when the tools are missing, so callers can tell "not installed" from "broken".
[ -n "$py" ] || { echo "start-moto: no python with boto3 found" >&2; exit 3; }
command -v moto_server >/dev/null 2>&1 || { echo "start-moto: moto_server not on PATH" >&2; exit 3; }

if [ "$port" = "0" ]; then
  port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
fi
log=$(mktemp "${TMPDIR:-/tmp}/floe-moto-$port-XXXXXX.log")
# setsid: the server outlives this script (the caller kills it by pid) and ignores the caller's ^C.
setsid moto_server -H 127.0.0.1 -p "$port" >"$log" 2>&1 < /dev/null &
pid=$!
endpoint="http://127.0.0.1:$port"

fail() {
  echo "start-moto: $1" >&2
  tail -n 20 "$log" >&2 || true
  kill "$pid" 2>/dev/null || true
  exit 1
}

for _ in $(seq 1 300); do
  if curl -fsS -o /dev/null --max-time 1 "$endpoint/moto-api/" 2>/dev/null; then break; fi
  kill -0 "$pid" 2>/dev/null || fail "moto_server exited"
  sleep 0.1
done
curl -fsS -o /dev/null --max-time 1 "$endpoint/moto-api/" 2>/dev/null || fail "moto_server did not answer within 30 s"

creds=$(ENDPOINT="$endpoint" BUCKET="$bucket" timeout 60 "$py" - <<'PY'
import json, os, urllib.request
import boto3
from botocore.config import Config

ep = os.environ["ENDPOINT"]
cfg = Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=20)
anon = dict(endpoint_url=ep, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x", config=cfg)
iam = boto3.client("iam", **anon)
iam.create_user(UserName="floe")
key = iam.create_access_key(UserName="floe")["AccessKey"]
iam.put_user_policy(UserName="floe", PolicyName="s3all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
# From now on every request must carry a valid signature.
req = urllib.request.Request(ep + "/moto-api/reset-auth", data=b"0", method="POST",
                             headers={"Content-Type": "application/octet-stream"})
urllib.request.urlopen(req, timeout=10).read()
s3 = boto3.client("s3", endpoint_url=ep, region_name="us-east-1", aws_access_key_id=key["AccessKeyId"],
                  aws_secret_access_key=key["SecretAccessKey"], config=cfg)
s3.create_bucket(Bucket=os.environ["BUCKET"])
print(key["AccessKeyId"], key["SecretAccessKey"])
PY
) || fail "IAM/bucket setup failed"
read -r access_key secret_key <<<"$creds"

out="export FLOE_TEST_S3_ENDPOINT=$endpoint
export FLOE_TEST_S3_REGION=us-east-1
export FLOE_TEST_S3_BUCKET=$bucket
export FLOE_TEST_S3_ACCESS_KEY=$access_key
export FLOE_TEST_S3_SECRET_KEY=$secret_key
export FLOE_TEST_MOTO_PID=$pid
export FLOE_TEST_MOTO_LOG=$log"
[ -n "$env_file" ] && printf '%s\n' "$out" > "$env_file"
printf '%s\n' "$out"
