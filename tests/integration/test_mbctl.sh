#!/usr/bin/env bash
# mbctl against a real mbserver: every command, exact figures and exit codes.
# usage: test_mbctl.sh PATH_TO_MBSERVER PATH_TO_MBCTL
set -uo pipefail
source "$(dirname "$0")/testlib.sh"
server=${1:?usage: test_mbctl.sh MBSERVER MBCTL}
mbctl=${2:?usage: test_mbctl.sh MBSERVER MBCTL}
tmp=$(mktemp -d /tmp/mb-mbctl.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

export MEMBROKER_SOCKET=$tmp/run/socket
MBSERVER_REQUEST_TIMEOUT=300ms "$server" --foreground --socket "$MEMBROKER_SOCKET" --total 1000p --log-level err &
pids+=($!)
wait_for test -S "$MEMBROKER_SOCKET" || { echo "FAIL mbserver did not start"; exit 1; }

expect usage 2 "usage: mbctl" -- "$mbctl"
expect unknown-command 2 'unknown command "frob"' -- "$mbctl" frob
expect missing-amount 2 "request needs an AMOUNT" -- "$mbctl" request
expect bad-amount 2 '"12Q": unknown size suffix' -- "$mbctl" request 12Q
expect bad-option 2 'status: unknown option "--yaml"' -- "$mbctl" status --yaml
expect no-broker 3 "cannot reach the broker" -- "$mbctl" --socket "$tmp/none" status
expect query 0 "page size $(getconf PAGESIZE), total 1000, pool 1000, balance 0 pages" -- "$mbctl" query
expect request-all 0 "granted 100 pages" -- "$mbctl" request 100p
expect request-chain 0 "returned 40 pages" -- "$mbctl" request 100p return 40p query
expect return-unheld 1 "holds 0 pages; it can only give back what it took" -- "$mbctl" return 1p
expect request-partial 1 "granted 1000 pages" -- "$mbctl" request 1200p
expect reserve-refused 1 "reserve: " -- "$mbctl" reserve 1200p --deadline 500

# A bidirectional holder gives back down to its floor when a request needs it.
"$mbctl" hold 900p --bidirectional --keep 300p --name cache >"$tmp/cache.log" 2>&1 &
pids+=($!)
wait_for grep -qs "holding 900 pages" "$tmp/cache.log"
check cache-holds wait_for grep -qs "holding 900 pages" "$tmp/cache.log"
expect giveback-request 0 "granted 500 pages" -- "$mbctl" request 500p
check cache-gave wait_for grep -qs "gave 400, keeping 500" "$tmp/cache.log"

"$mbctl" status --json >"$tmp/status.json"
check json-valid python3 -c "import json; json.load(open('$tmp/status.json'))"
check json-total test "$(json_field 'd["total"]' <"$tmp/status.json")" = 1000
cache_balance=$(json_field '[c["balance"] for c in d["clients"] if c["name"]=="cache"][0]' <"$tmp/status.json")
pool=$(json_field 'd["pool"]' <"$tmp/status.json")
check json-cache-balance test "$cache_balance" = 500
check json-books test $((cache_balance + pool)) = 1000
expect status-table 0 "cache +bidirectional +default +500" -- "$mbctl" status
expect watch 0 "total 1000 pages" -- "$mbctl" watch --interval 50 --count 2
kill "${pids[1]}"
wait "${pids[1]}" 2>/dev/null
check cache-released grep -q "released 500 pages" "$tmp/cache.log"
pool_is_whole() { test "$("$mbctl" status --json | json_field 'd["pool"]')" = 1000; }
check pool-whole wait_for pool_is_whole

echo "test_mbctl: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
