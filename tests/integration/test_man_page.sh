#!/usr/bin/env bash
# man/floe.1 renders without warnings and documents every configuration key the binary knows
# (`floe config keys`), so the page and the code cannot drift apart.
set -euo pipefail
: "${FLOE_BIN:?set FLOE_BIN to the floe binary}"
src=${FLOE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
page="$src/man/floe.1"
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v man >/dev/null || fail "man is not installed (apt-get install man-db)"
[ -f "$page" ] || fail "$page is missing"

warnings=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null) || fail "man failed: $warnings"
[ -z "$warnings" ] || fail "man --warnings: $warnings"
rendered=$(MANWIDTH=80 man -l "$page" 2>/dev/null | col -b)
for section in NAME SYNOPSIS DESCRIPTION COMMANDS OPTIONS CONFIGURATION "EXIT STATUS" FILES EXAMPLES "SEE ALSO"; do
  grep -q "^$section" <<<"$rendered" || fail "section $section missing"
done
# Every key of the registry appears in the rendered page, and the page's generated list is current.
keys=$("$FLOE_BIN" config keys | grep -E '^[a-z0-9.]+  \(' | cut -d' ' -f1)
[ -n "$keys" ] || fail "floe config keys printed no keys"
missing=()
for key in $keys; do grep -qF -- "$key" <<<"$rendered" || missing+=("$key"); done
[ ${#missing[@]} -eq 0 ] || fail "keys missing from man/floe.1: ${missing[*]} (run scripts/update-man-keys.sh)"
generated=$(awk '/^\.\\" BEGIN GENERATED KEYS/{on=1;next} /^\.\\" END GENERATED KEYS/{on=0} on' "$page")
[ "$generated" = "$("$FLOE_BIN" config keys --format man)" ] \
  || fail "man/floe.1 key list is stale: run scripts/update-man-keys.sh"
echo "test_man_page: ok ($(wc -w <<<"$keys") keys)"
