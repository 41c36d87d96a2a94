#!/usr/bin/env bash
# `make static`: builds build-static/floe as one fully static executable (glibc, libstdc++,
# OpenSSL, libcurl, zstd, lz4, zlib, snappy all linked in), then checks that it is static and
# runs. Usage: build-static.sh [BUILD_DIR]   (default build-static; JOBS=N for make -j).
#
# libcurl: Debian's libcurl.a cannot link statically (it wants krb5/GSSAPI, LDAP, libpsl...), so
# scripts/build-static-curl.sh builds a minimal HTTP(S)-only libcurl.a from Debian's own curl source
# package once and caches it under BUILD_DIR/curl-prefix.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build-static}
jobs=${JOBS:-2}

bash scripts/build-static-curl.sh "$build_dir"

generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFLOE_STATIC=ON -DFLOE_TESTS=OFF \
    -DFLOE_CURL_PREFIX="$PWD/$build_dir/curl-prefix" >/dev/null
fi
# glibc warns that getaddrinfo/getpwnam in a static program want its shared NSS modules at run
# time: expected (name resolution still reads /etc/hosts and DNS). Keep every other line.
set +e
cmake --build "$build_dir" -j "$jobs" --target floe 2>&1 |
  grep -v -e 'statically linked applications requires at runtime' -e '^/usr/bin/ld: .*: in function'
status=${PIPESTATUS[0]}
set -e
[ "$status" -eq 0 ] || { echo "build-static: build failed" >&2; exit "$status"; }
bin="$build_dir/floe"
[ -x "$bin" ] || { echo "build-static: $bin was not built" >&2; exit 1; }
ldd_out=$(ldd "$bin" 2>&1 || true)  # ldd exits 1 on a static binary
if ! grep -q "not a dynamic executable" <<<"$ldd_out"; then
  echo "build-static: $bin is not static: $ldd_out" >&2
  exit 1
fi
"$bin" --version
size_bytes=$(stat -c %s "$bin")
strip -o "$bin.stripped" "$bin"
stripped_bytes=$(stat -c %s "$bin.stripped")
echo "build-static: $bin is static: ${size_bytes} bytes with debug info, ${stripped_bytes} bytes stripped" \
  "($(( (stripped_bytes + 524288) / 1048576 )) MiB: $bin.stripped)"
