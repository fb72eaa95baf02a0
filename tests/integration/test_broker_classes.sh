#!/usr/bin/env bash
# Classes on the real mbserver: CLASS, CLASS_RULE and DEFAULT_CLASS from a
# config file put a client in its class by executable name or by the name
# it gives, status shows the class, and a class limit caps what its members
# get however much they ask for.
# usage: test_broker_classes.sh PATH_TO_MBSERVER PATH_TO_MBCTL
set -uo pipefail
source "$(dirname "$0")/testlib.sh"
server=${1:?usage: test_broker_classes.sh MBSERVER MBCTL}
mbctl=${2:?usage: test_broker_classes.sh MBSERVER MBCTL}
tmp=$(mktemp -d /tmp/mb-classes.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# A copy of mbctl under another name: its comm is "mbplayer".
cp "$mbctl" "$tmp/mbplayer"
cat >"$tmp/mbserver.conf" <<CONF
TOTAL          1000p
REQUEST_TIMEOUT 200ms
CLASS media    limit=100p priority=1
CLASS batch    limit=30p
CLASS open     limit=0
CLASS_RULE class=media exe=mbplayer
CLASS_RULE class=batch name=job
DEFAULT_CLASS  open
CONF

expect check-config 0 "class media: limit 100 pages, priority 1" -- "$server" --check-config "$tmp/mbserver.conf"
expect check-config-rules 0 "rule 2: name=job -> batch" -- "$server" --check-config "$tmp/mbserver.conf"
expect check-config-default 0 "class open: no limit, priority 0 \(the default class\)" -- "$server" --check-config "$tmp/mbserver.conf"
printf 'TOTAL 10p\nCLASS a\nCLASS_RULE class=b\n' >"$tmp/bad.conf"
expect check-config-bad 1 'CLASS_RULE 1 \("class=b"\): class "b" is not defined by a CLASS line' -- "$server" --check-config "$tmp/bad.conf"

export MEMBROKER_SOCKET=$tmp/run/socket
"$server" --foreground --config "$tmp/mbserver.conf" --socket "$MEMBROKER_SOCKET" --log-level err &
pids+=($!)
wait_for test -S "$MEMBROKER_SOCKET" || { echo "FAIL mbserver did not start"; exit 1; }

# Matched by executable name: asks 150, the class allows 100.
"$tmp/mbplayer" hold 150p --name player >"$tmp/player.log" 2>&1 &
pids+=($!)
check player-limited wait_for grep -qs "holding 100 pages" "$tmp/player.log"
# Matched by its given name: asks 50, the class allows 30.
"$mbctl" hold 50p --name job >"$tmp/job.log" 2>&1 &
pids+=($!)
check job-limited wait_for grep -qs "holding 30 pages" "$tmp/job.log"
# Neither: the default class "open", no limit of its own.
"$mbctl" hold 200p --name other >"$tmp/other.log" 2>&1 &
pids+=($!)
check other-unlimited wait_for grep -qs "holding 200 pages" "$tmp/other.log"

# The class is full: a second member of media gets nothing more.
expect media-full 1 "class limit reached" -- "$tmp/mbplayer" request 10p
# A RESERVE beyond the limit is refused, all or nothing.
expect batch-reserve 1 "reserve: " -- "$mbctl" reserve 1p --name job --deadline 200

"$mbctl" status --json >"$tmp/status.json"
class_of() { json_field "[c['class'] for c in d['clients'] if c['name']=='$1'][0]" <"$tmp/status.json"; }
balance_of() { json_field "[c['balance'] for c in d['clients'] if c['name']=='$1'][0]" <"$tmp/status.json"; }
check json-player-class test "$(class_of player)" = media
check json-job-class test "$(class_of job)" = batch
check json-other-class test "$(class_of other)" = open
check json-player-balance test "$(balance_of player)" = 100
check json-job-balance test "$(balance_of job)" = 30
check json-pool test "$(json_field 'd["pool"]' <"$tmp/status.json")" = 670

echo "classes: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
