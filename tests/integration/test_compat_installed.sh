#!/usr/bin/env bash
# The compat API as an existing client meets it: compat_original_style.c,
# written in the original membroker client's style against
# <membroker/compat.h> alone, is built against the installed tree (DESTDIR
# install, `pkg-config --cflags --libs membroker`, no source-tree include
# paths) and run against a real mbserver.
#
# usage: test_compat_installed.sh BUILD_DIR CC MBSERVER
set -euo pipefail
build=${1:?usage: test_compat_installed.sh BUILD_DIR CC MBSERVER}
cc=${2:?usage: test_compat_installed.sh BUILD_DIR CC MBSERVER}
mbserver=${3:?usage: test_compat_installed.sh BUILD_DIR CC MBSERVER}
here=$(dirname "$0")
source "$here/testlib.sh"

total=1000
dest=$(mktemp -d /tmp/mb-compat.XXXXXX)
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$dest"
}
trap cleanup EXIT

prefix=/usr/local
DESTDIR=$dest/root cmake --install "$build" --prefix "$prefix" >"$dest/install.log" 2>&1 ||
  { cat "$dest/install.log"; exit 1; }
root=$dest/root$prefix
pc=$(find "$root" -name membroker.pc | head -n 1)
[[ -n $pc ]] || { echo "FAIL: membroker.pc was not installed"; exit 1; }
PKG_CONFIG_LIBDIR=$(dirname "$pc")
export PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR=$dest/root
flags=$(pkg-config --cflags --libs membroker)
check "pkg-config names the installed headers" grep -q -- "-I$root/include" <<<"$flags"
# shellcheck disable=SC2086
check "builds against the installed tree" \
  "$cc" -std=gnu17 -Wall -Wextra -Werror -o "$dest/compat_client" \
  "$here/compat_original_style.c" $flags
libdir=$(dirname "$(dirname "$pc")")
check "links the installed libmbclient" \
  bash -c "LD_LIBRARY_PATH='$libdir' ldd '$dest/compat_client' | grep -q '$libdir/libmbclient.so'"

sock=$dest/run/socket
mkdir -p "$dest/run"
"$mbserver" --foreground --socket "$sock" --total "${total}p" --log-level err &
server_pid=$!
check "mbserver listens" wait_for test -S "$sock"
expect "the original-style client runs" 0 "all checks passed" -- \
  env MEMBROKER_SOCKET="$sock" LD_LIBRARY_PATH="$libdir" "$dest/compat_client" "$total"
check "mbserver still serves" kill -0 "$server_pid"
finish compat_installed
