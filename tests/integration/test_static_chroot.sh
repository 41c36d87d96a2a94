#!/usr/bin/env bash
# The static floe binary needs nothing from the system: copied alone into an empty directory, it
# runs there under chroot. Checks FLOE_STATIC_BIN (default: build-static/floe of the source tree).
# Skips (exit 0, says so) when that binary has not been built (`make static`) or when not root;
# .ci/run builds it and runs this script with FLOE_REQUIRE_STATIC=1, so CI never skips it.
set -euo pipefail
src=${FLOE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${FLOE_STATIC_BIN:-$src/build-static/floe}
fail() { echo "FAIL: $*" >&2; exit 1; }
if [ ! -x "$bin" ]; then
  [ -z "${FLOE_REQUIRE_STATIC:-}" ] || fail "$bin was not built"
  echo "test_static_chroot: skipped ($bin not built; run make static)"; exit 0
fi
if [ "$(id -u)" -ne 0 ]; then echo "test_static_chroot: skipped (chroot needs root)"; exit 0; fi

ldd_out=$(ldd "$bin" 2>&1 || true)  # ldd exits 1 on a static binary
grep -q "not a dynamic executable" <<<"$ldd_out" || fail "$bin is dynamic: $ldd_out"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
cp "$bin" "$root/floe"
[ "$(ls -A "$root")" = "floe" ] || fail "chroot dir is not empty"
out=$(chroot "$root" /floe --version) || fail "floe --version failed inside the chroot"
want=$("$bin" --version | head -1)
[ "$(head -1 <<<"$out")" = "$want" ] || fail "chroot output '$out', expected '$want'"
grep -q "libcurl " <<<"$out" || fail "no libcurl in: $out"
# Configuration validation works there too (no files, no shared libraries, no /etc).
chroot "$root" /floe serve --check --override node.id=1 >/dev/null 2>&1 || fail "serve --check failed in the chroot"
echo "test_static_chroot: ok ($(stat -c %s "$bin") bytes, $(head -1 <<<"$out"))"
