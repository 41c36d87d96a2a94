#!/usr/bin/env bash
# Regenerates the key list in man/floe.1 (between the GENERATED KEYS markers) from the binary's
# own registry: `floe config keys --format man`. Usage: update-man-keys.sh [FLOE_BIN]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/floe}
page=man/floe.1
keys=$(mktemp)
trap 'rm -f "$keys"' EXIT
"$bin" config keys --format man >"$keys"
awk -v keys="$keys" '
  /^\.\\" BEGIN GENERATED KEYS/ { print; while ((getline line < keys) > 0) print line; skip = 1; next }
  /^\.\\" END GENERATED KEYS/ { skip = 0 }
  !skip { print }
' "$page" >"$page.tmp"
mv "$page.tmp" "$page"
echo "update-man-keys: $(grep -c '^\.TP' "$page") .TP entries in $page"
