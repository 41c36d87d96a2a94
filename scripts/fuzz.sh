#!/usr/bin/env bash
# Builds every libFuzzer target in fuzz/ with clang and runs each for $1 seconds.
set -euo pipefail
secs=${1:-60}
cd "$(dirname "$0")/.."
targets=(fuzz/*_fuzz.cc)
[ -e "${targets[0]}" ] || { echo "fuzz: no targets"; exit 0; }
cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=Debug -DFLOE_TESTS=OFF -DFLOE_FUZZ=ON >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target fuzzers
for t in "${targets[@]}"; do
  name=$(basename "$t" .cc)
  corpus=build-fuzz/corpus/$name
  mkdir -p "$corpus"
  seeds=testdata/fuzz/$name
  echo "fuzz: $name for ${secs}s"
  build-fuzz/$name -max_total_time="$secs" -max_len=1048576 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "$corpus" $( [ -d "$seeds" ] && echo "$seeds" ) 2>&1 | tail -5
done
