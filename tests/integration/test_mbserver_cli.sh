#!/usr/bin/env bash
# mbserver's command line and config checking: exact exit codes and messages.
# usage: test_mbserver_cli.sh PATH_TO_MBSERVER
set -uo pipefail
source "$(dirname "$0")/testlib.sh"
bin=${1:?usage: test_mbserver_cli.sh PATH_TO_MBSERVER}
tmp=$(mktemp -d /tmp/mb-cli.XXXXXX)
server_pid=
cleanup() { [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

page=$(getconf PAGESIZE)
cat >"$tmp/good.conf" <<CONF
# a device with a 64 MiB budget
TOTAL 64M
SOCKET $tmp/run/socket
MAX_CLIENTS 100
REQUEST_TIMEOUT 250ms
CONF
expect check-good 0 "ok: total $((64 * 1024 * 1024 / page)) pages of $page bytes, socket $tmp/run/socket, at most 100 clients" \
  -- "$bin" --check-config "$tmp/good.conf"

printf 'TOTAL 64M\nPOOL_SIZE 2M\n' >"$tmp/unknown.conf"
expect check-unknown-key 1 "$tmp/unknown.conf:2: POOL_SIZE: .*unknown" -- "$bin" --check-config "$tmp/unknown.conf"

printf 'TOTAL 64Q\n' >"$tmp/suffix.conf"
expect check-bad-suffix 1 "$tmp/suffix.conf:1: TOTAL: .*suffix" -- "$bin" --check-config "$tmp/suffix.conf"

printf 'SOCKET /tmp/x\n' >"$tmp/nototal.conf"
expect check-no-total 1 "no TOTAL" -- "$bin" --check-config "$tmp/nototal.conf"

printf 'TOTAL 0\n' >"$tmp/zero.conf"
expect check-zero-total 1 "TOTAL does not resolve" -- "$bin" --check-config "$tmp/zero.conf"

printf 'TOTAL 64M\nSOCKET_MODE 0999\n' >"$tmp/mode.conf"
expect check-bad-mode 1 'SOCKET_MODE "0999" is not an octal mode' -- "$bin" --check-config "$tmp/mode.conf"

printf 'TOTAL 64M\nMAX_CLIENTS 0\n' >"$tmp/range.conf"
expect check-range 1 "range.conf:1|range.conf:2: MAX_CLIENTS" -- "$bin" --check-config "$tmp/range.conf"

expect check-missing-file 1 "$tmp/absent.conf.*(No such file|cannot open)" -- "$bin" --check-config "$tmp/absent.conf"
expect env-override 0 "at most 7 clients" -- env MBSERVER_MAX_CLIENTS=7 "$bin" --check-config "$tmp/good.conf"
expect env-bad 1 "environment: MBSERVER_MAX_CLIENTS" -- env MBSERVER_MAX_CLIENTS=lots "$bin" --check-config "$tmp/good.conf"
expect total-percent 0 "ok: total" -- "$bin" --check-config "$tmp/good.conf" --total 50%
expect total-all-except 0 "ok: total" -- "$bin" --check-config "$tmp/good.conf" --total "all-except 200M"
expect total-bad 1 '--total "12X"' -- "$bin" --check-config "$tmp/good.conf" --total 12X
expect shipped-config 0 "ok: total [0-9]+ pages" -- "$bin" --check-config "$MB_SOURCE_DIR/conf/mbserver.conf"
expect help 0 "usage: mbserver" -- "$bin" --help
expect bad-option 2 "usage: mbserver" -- "$bin" --no-such-option
expect extra-arg 2 'unexpected argument "extra"' -- "$bin" --total 1M extra

# A second server on a live socket refuses to start, and the first keeps serving.
"$bin" --foreground --socket "$tmp/live/socket" --total 1M --log-level err &
server_pid=$!
for _ in $(seq 100); do [[ -S $tmp/live/socket ]] && break; sleep 0.05; done
expect second-server 3 "another mbserver is already serving" -- "$bin" --foreground --socket "$tmp/live/socket" --total 1M
if kill -0 "$server_pid" 2>/dev/null; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL first server died"; fi
kill "$server_pid"; wait "$server_pid"; status=$?
if [[ $status -eq 0 && ! -e $tmp/live/socket ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL shutdown status $status"; fi
server_pid=

# Detached start: the parent exits 0 once the daemon serves.
"$bin" --socket "$tmp/bg/socket" --total 1M --log-level err
status=$?
if [[ $status -eq 0 && -S $tmp/bg/socket ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL detached start ($status)"; fi
pkill -f -- "--socket $tmp/bg/socket" || true

echo "test_mbserver_cli: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
