#!/usr/bin/env bash
# mbwatch live, as root: the group it watches goes away while its usage
# holds the level up. A cgroup v1 group with a 64 MiB limit stores 40 MiB in
# a tmpfs file (page cache stays charged to the group after the writer
# exits): moderate. Then the group is removed: both of its sources fail
# (ENODEV), mbwatch stops watching them and stays up, and the level falls to
# none after MODERATE_HOLD, as if usage had dropped; the broker is told.
# usage: test_mbwatch_source_gone.sh MBWATCH MBSERVER MBCTL
set -uo pipefail
source "$(dirname "$0")/testlib.sh"
mbwatch=${1:?usage: test_mbwatch_source_gone.sh MBWATCH MBSERVER MBCTL}
server=${2:?}
mbctl=${3:?}
v1=/sys/fs/cgroup/memory
if [[ $(id -u) -ne 0 ]]; then echo "SKIP: needs root (cgroup v1 groups)"; exit 77; fi
if [[ ! -e $v1/cgroup.event_control ]]; then echo "SKIP: no cgroup v1 memory controller"; exit 77; fi

tmp=$(mktemp -d /tmp/mb-gone.XXXXXX)
cg=$v1/mbwatch-gone-$$
server_pid='' watch_pid=''
cleanup() {
  [[ -z $watch_pid ]] || kill "$watch_pid" 2>/dev/null
  [[ -z $server_pid ]] || kill "$server_pid" 2>/dev/null
  wait 2>/dev/null
  umount "$tmp/shm" 2>/dev/null
  rmdir "$cg" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir "$cg" && echo 64M >"$cg/memory.limit_in_bytes" || { echo "FAIL cannot make $cg"; exit 1; }
mkdir "$tmp/shm" && mount -t tmpfs -o size=64M tmpfs "$tmp/shm" || { echo "FAIL no tmpfs"; exit 1; }

export MEMBROKER_SOCKET=$tmp/socket
printf 'TOTAL 1000p\nPRESSURE_RESERVE 200p\n' >"$tmp/mbserver.conf"
"$server" --foreground --config "$tmp/mbserver.conf" --socket "$MEMBROKER_SOCKET" \
  --log-level info >"$tmp/server.log" 2>&1 &
server_pid=$!
wait_for test -S "$MEMBROKER_SOCKET" || { echo "FAIL mbserver did not start"; exit 1; }
cat >"$tmp/mbwatch.conf" <<CONF
CGROUP             $cg
PSI                no
USAGE_MODERATE     50%
USAGE_CRITICAL     85%
V1_MODERATE_LEVEL  off
V1_CRITICAL_LEVEL  off
MODERATE_HOLD      500ms
EVIDENCE           no
MLOCK              no
REALTIME_PRIORITY  0
CONF
"$mbwatch" --config "$tmp/mbwatch.conf" >"$tmp/watch.log" 2>&1 &
watch_pid=$!
logged() { grep -Eq -- "$1" "$tmp/watch.log"; }
status_has() { "$mbctl" status 2>/dev/null | grep -q "pressure $1"; }
check watching-two wait_for logged "watching 2 sources"
check told-none wait_for logged "broker told: pressure none"

# 40 MiB of tmpfs pages charged to the group, which stay when the writer exits.
bash -c "echo \$\$ >$cg/cgroup.procs && exec dd if=/dev/zero of='$tmp/shm/data' bs=1M count=40 status=none"
check writer-ok test $? -eq 0
check usage-held test "$(cat "$cg/memory.usage_in_bytes")" -ge $((40 << 20))
check told-moderate wait_for logged "broker told: pressure moderate"
check status-moderate wait_for status_has moderate

# The group goes away under mbwatch (the charges move to the parent).
check group-removed rmdir "$cg"
check usage-source-gone wait_for logged "cgroup v1 usage thresholds .* on $cg: No such device; no longer watched"
check oom-source-gone wait_for logged "cgroup v1 oom_control on $cg: No such device; no longer watched"
check level-falls wait_for logged "pressure moderate -> none"
check told-none-again wait_for eval '[[ $(grep -c "broker told: pressure none" "$tmp/watch.log") -ge 2 ]]'
check status-none wait_for status_has none
check watch-alive kill -0 "$watch_pid"

# It stops cleanly, watching nothing.
kill "$watch_pid"; wait "$watch_pid"; status=$?; watch_pid=''
check watch-exit-0 test "$status" -eq 0
[[ $failed -eq 0 ]] || { echo "--- mbwatch log"; cat "$tmp/watch.log"; }
finish test_mbwatch_source_gone
