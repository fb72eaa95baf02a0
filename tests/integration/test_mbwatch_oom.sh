#!/usr/bin/env bash
# mbwatch OOM evidence, live: small v1 memory cgroups (so only they run out
# of memory, never the machine), each cleaned up on exit.
#  1. OOM killer disabled, a hog inside: the OOM is held, the dump appears
#     with every file correctly formed, and the kill policy lets the kernel
#     kill the hog.
#  2. The same with the raise-limit policy: the limit grows and the hog
#     lives on.
#  3. A lamb (oom_score_adj 1000) and a hog in one group past its limit:
#     the kernel kills the lamb first, the evidence is written (the kill in
#     its kmsg, a freezer group frozen meanwhile), a new lamb starts once
#     the hog is gone.
# usage: test_mbwatch_oom.sh DRIVER [MBSERVER]
set -uo pipefail
source "$(dirname "$0")/testlib.sh"
driver=${1:?usage: test_mbwatch_oom.sh DRIVER [MBSERVER]}
server=${2:-}

mem=/sys/fs/cgroup/memory
frz=/sys/fs/cgroup/freezer
if [[ $EUID -ne 0 || ! -w $mem/cgroup.procs ]]; then
  echo "skip: needs root and the cgroup v1 memory controller"
  exit 77
fi
tag=mbtest-oom-$$
tmp=$(mktemp -d /tmp/mb-watch-oom.XXXXXX)
pids=()
groups=()

cleanup() {
  local p g
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  for g in "${groups[@]}"; do
    [[ -d $g ]] || continue
    [[ -f $g/freezer.state ]] && echo THAWED >"$g/freezer.state" 2>/dev/null
    [[ -f $g/memory.oom_control ]] && echo 0 >"$g/memory.oom_control" 2>/dev/null
    while read -r p; do kill -9 "$p" 2>/dev/null; done <"$g/cgroup.procs"
  done
  wait 2>/dev/null
  for g in "${groups[@]}"; do
    for _ in $(seq 50); do [[ -d $g ]] && ! rmdir "$g" 2>/dev/null && sleep 0.1 || break; done
  done
  [[ -n ${MB_KEEP_TMP:-} ]] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

# wait_long SECONDS COMMAND...: retries every 0.1 s.
wait_long() {
  local limit=$(($1 * 10)) i; shift
  for ((i = 0; i < limit; i++)); do "$@" && return 0; sleep 0.1; done
  return 1
}

# new_group NAME LIMIT: a v1 memory cgroup with memory and memory+swap
# limits, its path in $group (not a subshell: cleanup must know it).
new_group() {
  group=$mem/$tag-$1
  mkdir "$group" || return 1
  groups+=("$group")
  echo "$2" >"$group/memory.limit_in_bytes"
  [[ -f $group/memory.memsw.limit_in_bytes ]] && echo "$2" >"$group/memory.memsw.limit_in_bytes"
  return 0
}

# start_hog OUT BYTES GROUP...: a hog joined to the groups; sets hog_pid.
start_hog() {
  local out=$1 bytes=$2; shift 2
  local joins="" g
  for g in "$@"; do joins+="echo \$\$ >'$g/cgroup.procs' && "; done
  bash -c "${joins}exec '$driver' hog $bytes" >"$out" 2>&1 &
  hog_pid=$!
  pids+=("$hog_pid")
}

socket_args=()
if [[ -n $server ]]; then
  "$server" --foreground --socket "$tmp/socket" --total 1000p --log-level err &
  pids+=($!)
  if wait_for test -S "$tmp/socket"; then socket_args=(--socket "$tmp/socket"); fi
fi

# Every file of a dump, correctly formed.
check_dump() {
  local name=$1 dump=$2 kind=$3 f
  for f in trigger meminfo vmstat buddyinfo processes maps broker kmsg; do
    check "$name-has-$f" test -s "$dump/$f"
  done
  check "$name-kind" grep -qx "kind=$kind" "$dump/trigger"
  # ok, or truncated (more processes than the table, or more OOM lines than the ring)
  check "$name-files-ok" test "$(grep -Ec '^file\.[a-z]+=(ok|truncated)$' "$dump/trigger")" = 7
  check "$name-time" grep -Eq '^time=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z$' "$dump/trigger"
  check "$name-meminfo" grep -Eq '^MemAvailable: +[0-9]+ kB$' "$dump/meminfo"
  check "$name-vmstat" grep -Eq '^nr_free_pages [0-9]+$' "$dump/vmstat"
  check "$name-buddyinfo" grep -Eq '^Node [0-9]+, zone +[A-Za-z0-9]+( +[0-9]+){11} *$' "$dump/buddyinfo"
  # Processes: every line has seven numbers and a comm, sizes never grow.
  check "$name-processes-form" awk '/^#/ {next} NF < 8 || $1 !~ /^[0-9]+$/ {exit 1}' "$dump/processes"
  check "$name-processes-sorted" awk '/^#/ {next} prev != "" && $2 > prev {exit 1} {prev = $2}' "$dump/processes"
  local largest
  largest=$(awk '!/^#/ {print $1; exit}' "$dump/processes")
  check "$name-largest" grep -qx "largest_pid=$largest" "$dump/trigger"
  local maps_pid
  maps_pid=$(sed -n 's/^maps_pid=//p' "$dump/trigger")
  check "$name-maps-pid" awk -v p="$maps_pid" '!/^#/ && $1 == p {f = 1} END {exit !f}' "$dump/processes"
  check "$name-maps" grep -Eq '^[0-9a-f]+-[0-9a-f]+ [r-][w-][x-][ps] ' "$dump/maps"
  check "$name-kmsg-header" grep -Eq '^# OOM lines of /dev/kmsg: records_read=[0-9]+ ' "$dump/kmsg"
  check "$name-kmsg-form" awk 'NR > 1 && $0 !~ /^[0-9]+,[0-9]+,[0-9]+,-;/ {exit 1}' "$dump/kmsg"
  if [[ ${#socket_args[@]} -gt 0 ]]; then
    check "$name-broker" grep -Eq '^summary total=1000 ' "$dump/broker"
    check "$name-broker-self" grep -q ' name=mbwatch-evidence$' "$dump/broker"
  else
    check "$name-broker" grep -q '^# no broker: not configured$' "$dump/broker"
  fi
  check "$name-no-tmp" test -z "$(ls -A "$(dirname "$dump")" | grep '^\.tmp-')"
}

# ---- 1. held OOM, kill policy
new_group kill 32M || { echo "FAIL cannot create a memory cgroup"; exit 1; }
g1=$group
"$driver" cgroup-oom --group "$g1" --dump "$tmp/d1" --policy kill --timeout 60 "${socket_args[@]}" \
  >"$tmp/kill.out" 2>&1 &
drv=$!
pids+=("$drv")
check kill-ready wait_long 10 grep -qs '^ready ' "$tmp/kill.out"
check kill-held grep -qx 'oom_kill_disable 1' "$g1/memory.oom_control"
start_hog "$tmp/hog1.out" 64M "$g1"
wait "$drv"
check kill-driver-exit test $? -eq 0
wait "$hog_pid" 2>/dev/null
check kill-hog-killed test $? -eq 137
check kill-event grep -Eq '^oom-event count=[0-9]+ under_oom=1 oom_kill=0$' "$tmp/kill.out"
check kill-resolved grep -q '^resolved policy=kill ' "$tmp/kill.out"
check kill-group-counted grep -qx 'oom_kill 1' "$g1/memory.oom_control"
check kill-killer-back grep -qx 'oom_kill_disable 0' "$g1/memory.oom_control"
dump1=$(sed -n 's/^evidence=//p' "$tmp/kill.out")
check kill-dump test -n "$dump1" -a -d "$dump1"
if [[ -n $dump1 ]]; then
  check_dump kill "$dump1" cgroup-oom
  check kill-trigger-group grep -qx "cgroup=$g1" "$dump1/trigger"
  check kill-trigger-detail grep -qx 'detail=memory cgroup OOM held: under_oom=1 oom_kill=0' "$dump1/trigger"
  # The held hog is in the table, with its 32 MiB nearly all anonymous.
  check kill-hog-listed awk -v p="$hog_pid" '$1 == p && $5 >= 30000 {f = 1} END {exit !f}' "$dump1/processes"
fi
# The kernel's report of the kill followed the dump.
kmsg_has() { grep -q "$1" < <(timeout 1 cat /dev/kmsg); }
check kill-kmsg-after kmsg_has "Killed process $hog_pid ("

# ---- 2. held OOM, raise-limit policy
new_group raise 32M
g2=$group
"$driver" cgroup-oom --group "$g2" --dump "$tmp/d2" --policy raise-limit --raise 64M --timeout 60 \
  "${socket_args[@]}" >"$tmp/raise.out" 2>&1 &
drv=$!
pids+=("$drv")
check raise-ready wait_long 10 grep -qs '^ready ' "$tmp/raise.out"
start_hog "$tmp/hog2.out" 48M "$g2"
wait "$drv"
check raise-driver-exit test $? -eq 0
check raise-resolved grep -qx 'resolved policy=raise-limit old_limit=33554432 new_limit=100663296' "$tmp/raise.out"
check raise-hog-full wait_long 20 grep -q '^hog-full ' "$tmp/hog2.out"
check raise-hog-alive kill -0 "$hog_pid"
check raise-limit test "$(cat "$g2/memory.limit_in_bytes")" = 100663296
check raise-no-kill grep -qx 'oom_kill 0' "$g2/memory.oom_control"
check raise-one-dump test "$(ls "$tmp/d2" | grep -c '^evidence-')" = 1
dump2=$(sed -n 's/^evidence=//p' "$tmp/raise.out")
[[ -n $dump2 ]] && check_dump raise "$dump2" cgroup-oom
kill -9 "$hog_pid" 2>/dev/null

# ---- 3. the lamb dies first
new_group lamb 96M
g3=$group
f3=$frz/$tag-lamb
have_freezer=0
if [[ -w $frz/cgroup.procs ]] && mkdir "$f3"; then groups+=("$f3"); have_freezer=1; fi
freeze_args=()
[[ $have_freezer -eq 1 ]] && freeze_args=(--freeze "$f3")
"$driver" lamb --dump "$tmp/d3" --bytes 48M --group "$g3" "${freeze_args[@]}" --deaths 1 \
  --timeout 90 "${socket_args[@]}" >"$tmp/lamb.out" 2>&1 &
drv=$!
pids+=("$drv")
check lamb-started wait_long 20 grep -qs '^lamb-started generation=1 ' "$tmp/lamb.out"
lamb1=$(sed -n 's/^lamb-started generation=1 pid=//p' "$tmp/lamb.out")
check lamb-score test "$(cat "/proc/$lamb1/oom_score_adj" 2>/dev/null)" = 1000
check lamb-in-group grep -qx "$lamb1" "$g3/cgroup.procs"
hog_groups=("$g3")
[[ $have_freezer -eq 1 ]] && hog_groups+=("$f3")
start_hog "$tmp/hog3.out" 64M "${hog_groups[@]}"
check lamb-died wait_long 60 grep -q '^lamb-died ' "$tmp/lamb.out"
check lamb-hog-survived wait_long 20 grep -q '^hog-full ' "$tmp/hog3.out"
check lamb-hog-alive kill -0 "$hog_pid"
want_freeze=1
[[ $have_freezer -eq 1 ]] && want_freeze=0
check lamb-report grep -Eqx "lamb-died pid=$lamb1 generation=1 signal=9 oom_killed=1 kmsg_confirmed=1 freeze_rc=$want_freeze thaw_rc=$want_freeze" "$tmp/lamb.out"
dump3=$(sed -n 's/^evidence=//p' "$tmp/lamb.out")
check lamb-dump test -n "$dump3" -a -d "$dump3"
if [[ -n $dump3 ]]; then
  check_dump lamb "$dump3" lamb-killed
  check lamb-trigger-pid grep -qx "pid=$lamb1" "$dump3/trigger"
  check lamb-kmsg-kill grep -Eq "^3,[0-9]+,[0-9]+,-;Memory cgroup out of memory: Killed process $lamb1 \(" "$dump3/kmsg"
  check lamb-kmsg-constraint grep -q "oom_memcg=/$tag-lamb,.*,pid=$lamb1," "$dump3/kmsg"
  [[ $have_freezer -eq 1 ]] && check lamb-frozen grep -qx "frozen=$f3" "$dump3/trigger"
fi
[[ $have_freezer -eq 1 ]] && check lamb-thawed grep -qx THAWED "$f3/freezer.state"
# No room for a new lamb while the hog holds the group; once it is gone, one starts.
check lamb-waits-for-room test "$(grep -c '^lamb-started' "$tmp/lamb.out")" = 1
kill -9 "$hog_pid"
check lamb-restarted wait_long 30 grep -q '^lamb-started generation=2 ' "$tmp/lamb.out"
wait "$drv"
check lamb-driver-exit test $? -eq 0
check lamb-done grep -qx 'done deaths=1' "$tmp/lamb.out"
check lamb-one-kill grep -qx 'oom_kill 1' "$g3/memory.oom_control"

# ---- once: a dump on demand of the live system
expect once 0 '^evidence=' -- "$driver" once --dump "$tmp/d4" "${socket_args[@]}"
dump4=$(ls -d "$tmp"/d4/evidence-* 2>/dev/null | head -1)
[[ -n $dump4 ]] && check_dump once "$dump4" manual

finish test_mbwatch_oom
