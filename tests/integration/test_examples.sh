#!/usr/bin/env bash
# The examples of docs/integration.md work as the document says.
# cache_service against a real mbserver: it grows its cache with quota, gives
# back down to its floor when another client needs memory, and everything it
# held comes back when it stops.
# simple_client decodes when granted its buffer, skips a frame (and keeps
# nothing) when the broker grants less, and ends holding nothing.
# usage: test_examples.sh PATH_TO_MBSERVER PATH_TO_MBCTL PATH_TO_CACHE_SERVICE PATH_TO_SIMPLE_CLIENT
set -uo pipefail
source "$(dirname "$0")/testlib.sh"
server=${1:?usage: test_examples.sh MBSERVER MBCTL CACHE_SERVICE}
mbctl=${2:?usage: test_examples.sh MBSERVER MBCTL CACHE_SERVICE}
cache_service=${3:?usage: test_examples.sh MBSERVER MBCTL CACHE_SERVICE SIMPLE_CLIENT}
simple_client=${4:?usage: test_examples.sh MBSERVER MBCTL CACHE_SERVICE SIMPLE_CLIENT}
tmp=$(mktemp -d /tmp/mb-examples.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

page=$(getconf PAGESIZE)
mib() { echo $(( $1 * 1024 * 1024 / page )); }
export MEMBROKER_SOCKET=$tmp/socket
"$server" --foreground --socket "$MEMBROKER_SOCKET" --total 32M --log-level err &
pids+=($!)
wait_for test -S "$MEMBROKER_SOCKET" || { echo "FAIL mbserver did not start"; exit 1; }

balance() {
  "$mbctl" status --json | json_field "sum(c['balance'] for c in d['clients'] if c['name']=='$1')"
}
pool() { "$mbctl" status --json | json_field 'd["pool"]'; }
pool_at() { [[ $(pool) == "$(mib "$1")" ]]; }
cache_at() { [[ $(balance cache_service) == "$(mib "$1")" ]]; }
wait_long() { local i; for i in $(seq 100); do "$@" && return 0; sleep 0.1; done; return 1; }

expect usage 2 "usage: cache_service" -- "$cache_service" --frob
expect bad-number 2 "--target wants a whole number from 1 to 1024" -- "$cache_service" --target 0
expect no-broker 1 "cannot reach mbserver" -- env MEMBROKER_SOCKET="$tmp/none" "$cache_service" --seconds 1

"$cache_service" --target 24 --keep 4 >"$tmp/cache.log" 2>&1 &
cache_pid=$!
pids+=($cache_pid)
check cache-grows wait_long grep -qs "cache: 96 blocks (24 MiB)" "$tmp/cache.log"
check cache-balance test "$(balance cache_service)" = "$(mib 24)"

# Another client needs 20 MiB and holds it; 8 are free: the cache gives back
# 12 MiB, and cannot grow back while the holder keeps its quota.
"$mbctl" hold 20M --name app >"$tmp/app.log" 2>&1 &
app_pid=$!
pids+=($app_pid)
check app-holds wait_long grep -qs "holding $(mib 20) pages" "$tmp/app.log"
check cache-gave-back grep -q "give-back: asked $(mib 12) pages (normal), evicted 48 blocks, gave $(mib 12) pages, 48 blocks left" "$tmp/cache.log"
check cache-balance-after test "$(balance cache_service)" = "$(mib 12)"
check books test $(( $(balance cache_service) + $(balance app) + $(pool) )) = "$(mib 32)"

# The holder leaves: the cache grows back to its target.
kill -TERM "$app_pid"
check cache-regrows wait_long cache_at 24

# It stops cleanly: all it held comes back.
kill -TERM "$cache_pid"
wait "$cache_pid"; status=$?
check cache-exit test "$status" = 0
check cache-stopped grep -q "cache_service: stopped" "$tmp/cache.log"
check quota-back wait_long pool_at 32
[[ $failed -eq 0 ]] || cat "$tmp/cache.log"
# simple_client: 8 MiB frames in a 32 MiB broker.
expect simple-usage 2 "usage: simple_client" -- "$simple_client" --frob
expect simple-decodes 0 "decoded 3, skipped 0, balance now 0 pages" -- "$simple_client" --frames 3 --mib 8
check simple-checksum grep -q "frame 2: decoded with 8388608 bytes (checksum 4096)" <("$simple_client" --frames 2 --mib 8)
# Another client holds 28 MiB: 4 are free, so every frame is skipped, and
# the partial grants go back.
"$mbctl" hold 28M --name other >"$tmp/other.log" 2>&1 &
other_pid=$!
pids+=($other_pid)
check other-holds wait_long grep -qs "holding $(mib 28) pages" "$tmp/other.log"
expect simple-skips 0 "decoded 0, skipped 2, balance now 0 pages" -- "$simple_client" --frames 2 --mib 8
check simple-skip-line grep -q "frame 1: skipped, the broker granted 4194304 of 8388608 bytes" <("$simple_client" --frames 1 --mib 8)
check books-after-skips pool_at 4
kill -TERM "$other_pid"
check quota-back-again wait_long pool_at 32
expect simple-no-broker 1 "simple_client: " -- env MEMBROKER_SOCKET="$tmp/none" "$simple_client" --frames 1

finish examples
