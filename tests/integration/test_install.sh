#!/usr/bin/env bash
# Installs the build into a DESTDIR and checks what a user gets: every
# pkg-config file resolves, and a small program builds and runs against each
# installed library through `pkg-config --cflags --libs`.
set -euo pipefail
build=${1:?usage: test_install.sh BUILD_DIR CC}
cc=${2:?usage: test_install.sh BUILD_DIR CC EXPECTED_PC_NAMES}
expected=${3:-}   # comma-separated pkg-config names that must be installed
dest=$(mktemp -d /tmp/mb-install.XXXXXX)
trap 'rm -rf "$dest"' EXIT
prefix=/usr/local

DESTDIR=$dest cmake --install "$build" --prefix "$prefix" >"$dest.log" 2>&1 || { cat "$dest.log"; exit 1; }
rm -f "$dest.log"
root=$dest$prefix
pcdir=$(find "$root" -type d -name pkgconfig | head -n 1)
export PKG_CONFIG_LIBDIR=${pcdir:-/nonexistent} PKG_CONFIG_SYSROOT_DIR=$dest

checked=0
for pc in "$root"/lib*/pkgconfig/*.pc "$root"/lib/*/pkgconfig/*.pc; do
  [[ -f $pc ]] || continue
  name=$(basename "$pc" .pc)
  export PKG_CONFIG_LIBDIR=$(dirname "$pc")
  flags=$(pkg-config --cflags --libs "$name")
  src=$MB_SOURCE_DIR/tests/integration/install_$name.c
  [[ -f $src ]] || { echo "FAIL: no install test program for $name ($src)"; exit 1; }
  # shellcheck disable=SC2086
  "$cc" -o "$dest/prog_$name" "$src" $flags
  libdir=$(dirname "$(dirname "$pc")")
  LD_LIBRARY_PATH=$libdir "$dest/prog_$name"
  echo "ok: $name (pkg-config: $flags)"
  checked=$((checked + 1))
done
IFS=, read -ra want <<<"$expected"
for name in "${want[@]}"; do
  [[ -n $name ]] || continue
  found=$(find "$root" -name "$name.pc" | head -n 1)
  [[ -n $found ]] || { echo "FAIL: $name.pc was not installed"; exit 1; }
done
# Headers are installed whatever libraries exist.
[[ -d $root/include/membroker || -d $root/include/anr ]] || { echo "FAIL: no headers installed"; exit 1; }
echo "install_tree: $checked pkg-config file(s) checked"
