#!/usr/bin/env bash
# Installs the Debian 12 packages floe needs to build and test, when any are missing.
# Idempotent; works as root or through sudo. Set FLOE_DEPS_EXTRA to add packages.
set -euo pipefail

build_pkgs=(g++ cmake ninja-build pkg-config ccache libasio-dev catch2 libcurl4-openssl-dev libssl-dev
  libpugixml-dev libzstd-dev liblz4-dev zlib1g-dev libsnappy-dev python3)
# Real peers for the integration tests (Kafka clients) and tools the tests drive.
test_pkgs=(kcat librdkafka-dev python3-confluent-kafka python3-kafka clang libclang-rt-14-dev man-db
  dpkg-dev curl python3-prometheus-client)

want=("${build_pkgs[@]}")
if [ "${1:-}" = "--test" ]; then want+=("${test_pkgs[@]}"); fi
# shellcheck disable=SC2206
want+=(${FLOE_DEPS_EXTRA:-})

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then missing+=("$p"); fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
