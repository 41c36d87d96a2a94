#!/usr/bin/env bash
# Builds a minimal static libcurl (HTTP/HTTPS over OpenSSL, zlib; nothing else) from Debian's own
# curl source package, for the fully static floe binary (see scripts/build-static.sh).
#
# Why: Debian's libcurl.a cannot be linked statically (it needs libkrb5/GSSAPI, LDAP, libpsl, ...
# which ship no .a files). Usage: build-static-curl.sh BUILD_DIR  (default build-static).
# Result: BUILD_DIR/curl-prefix/{include,lib/libcurl.a}. Cached: does nothing when already built.
#
# The deb-src entry needed by `apt-get source` is added to a file of its own and removed again on
# exit (trap), so the machine's apt sources end as they began.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=$(realpath -m "${1:-build-static}")
src_dir="$build_dir/curl-src"
prefix="$build_dir/curl-prefix"
jobs=${JOBS:-2}

if [ -f "$prefix/lib/libcurl.a" ] && [ -f "$prefix/include/curl/curl.h" ]; then
  echo "build-static-curl: cached $prefix/lib/libcurl.a"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
mkdir -p "$build_dir"

if ! ls -d "$src_dir"/curl-*/ >/dev/null 2>&1; then
  debsrc=/etc/apt/sources.list.d/floe-curl-deb-src.sources
  cleanup() { $sudo rm -f "$debsrc"; }
  trap cleanup EXIT
  # A deb-src twin of the machine's Debian sources (same URIs, suites and keys).
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    sed -E 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources | $sudo tee "$debsrc" >/dev/null
  else
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      | $sudo tee "$debsrc" >/dev/null
  fi
  $sudo apt-get update -qq
  rm -rf "$src_dir.tmp" && mkdir -p "$src_dir.tmp"
  (cd "$src_dir.tmp" && apt-get source -qq curl)
  cleanup
  trap - EXIT
  # Refresh the lists so apt no longer carries the source indexes we fetched.
  $sudo apt-get update -qq || true
  rm -rf "$src_dir" && mv "$src_dir.tmp" "$src_dir"
fi

cd "$(ls -d "$src_dir"/curl-*/ | head -1)"
echo "build-static-curl: configuring $(basename "$PWD") (static, http/https only)"
protos=(ftp file ldap ldaps rtsp dict telnet tftp pop3 imap smb smtp gopher mqtt)
disable=()
for p in "${protos[@]}"; do disable+=("--disable-$p"); done
./configure -q --prefix="$prefix" --disable-shared --enable-static --with-pic \
  --with-openssl --with-zlib --without-gssapi --disable-ldap --disable-ldaps --without-libpsl \
  --without-libidn2 --without-nghttp2 --without-nghttp3 --without-ngtcp2 --without-brotli \
  --without-zstd --without-libssh2 --without-libssh --without-librtmp --without-hyper \
  --disable-manual --disable-dependency-tracking "${disable[@]}" >/dev/null
# Only the library and its headers: curl's tool, docs and tests are not needed.
make -s -j"$jobs" -C lib >/dev/null
make -s -C lib install >/dev/null
make -s -C include install >/dev/null
echo "build-static-curl: installed $prefix/lib/libcurl.a"
