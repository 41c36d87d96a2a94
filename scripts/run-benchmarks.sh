#!/usr/bin/env bash
# Runs every built benchmark binary (bench/*_bench.cc -> <build>/bench/<name>_bench) and every
# script benchmark (bench/*_bench.sh, given <build>/floe).
# Usage: scripts/run-benchmarks.sh [build dir, default build]. Benchmarks print their own figures
# (GB/s and ratios to a machine limit measured in the same run); they never fail on speed.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
status=0
found=0
for src in bench/*_bench.cc; do
  name=$(basename "$src" .cc)
  bin=""
  for candidate in "$build/bench/$name" "$build/$name"; do
    [ -x "$candidate" ] && { bin=$candidate; break; }
  done
  if [ -z "$bin" ]; then
    echo "bench: $name not built (cmake --build $build --target benchmarks)"
    continue
  fi
  found=$((found + 1))
  echo "== $name"
  "$bin" || { echo "bench: $name exited with $?"; status=1; }
done
# Script benchmarks (bench/*_bench.sh) drive the real binary.
for script in bench/*_bench.sh; do
  [ -x "$script" ] || continue
  found=$((found + 1))
  echo "== $(basename "$script" .sh)"
  "$script" "$build/floe" || { echo "bench: $script exited with $?"; status=1; }
done
[ "$found" -gt 0 ] || { echo "bench: no benchmark binaries under $build"; exit 1; }
exit $status
