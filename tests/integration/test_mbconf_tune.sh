#!/usr/bin/env bash
# mbconf tune, live, in a small memory cgroup standing for a small device:
# it must find pressure below the cgroup's limit, recommend a TOTAL under
# it, write that TOTAL into a generated config that mbserver accepts, keep
# the file untouched when stopped by a signal, and refuse bad input.
# usage: test_mbconf_tune.sh PATH_TO_MBCONF PATH_TO_MBSERVER
set -uo pipefail
mbconf=${1:?usage: test_mbconf_tune.sh MBCONF MBSERVER}
server=${2:?usage: test_mbconf_tune.sh MBCONF MBSERVER}
source "$(dirname "$0")/testlib.sh"

limit_mib=256
cg=
if [[ -w /sys/fs/cgroup/memory/cgroup.procs ]]; then
  cg=/sys/fs/cgroup/memory/mbconf-tune-test.$$
  mkdir "$cg" && echo $((limit_mib << 20)) >"$cg/memory.limit_in_bytes" || cg=
elif grep -qw memory /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
  cg=/sys/fs/cgroup/mbconf-tune-test.$$
  mkdir "$cg" && echo $((limit_mib << 20)) >"$cg/memory.max" || cg=
fi
if [[ -z $cg ]]; then
  echo "SKIP mbconf tune: no writable memory cgroup controller (v1 or v2) on this machine"
  exit 0
fi
tmp=$(mktemp -d /var/tmp/mb-tune.XXXXXX)
cleanup() {
  pkill -KILL -f "mbconf tune --cgroup $cg" 2>/dev/null
  [[ -f $cg/cgroup.procs ]] && while read -r p; do kill -KILL "$p" 2>/dev/null; done <"$cg/cgroup.procs"
  for _ in $(seq 50); do rmdir "$cg" 2>/dev/null && break; sleep 0.1; done
  rm -rf "$tmp"
}
trap cleanup EXIT
cgroup_empty() { [[ -z $(cat "$cg/cgroup.procs") ]]; }

# A config to tune, as a user would make it.
check generate "$mbconf" generate --output "$tmp/mbserver.conf" --socket "$tmp/mb.sock"
cp "$tmp/mbserver.conf" "$tmp/original.conf"

# The run: 128 MiB up in 16 MiB steps, 32 MiB working set, 1 s windows.
"$mbconf" tune --cgroup "$cg" --config "$tmp/mbserver.conf" --start 50% --step 16M \
  --working-set 32M --window 1000 --timeout 180 --workdir "$tmp" >"$tmp/tune.out" 2>&1
status=$?
cat "$tmp/tune.out"
check tune-exit [ "$status" -eq 0 ]
check tune-found-pressure grep -Eq '^pressure \((oom-killed|psi|majfaults)( (psi|majfaults))*\) at ' "$tmp/tune.out"
check tune-quiet-first grep -Eq '^ +128 MiB +[0-9]+ms .* quiet$' "$tmp/tune.out"
total_k=$(sed -nE 's/^recommended TOTAL ([0-9]+)K .*/\1/p' "$tmp/tune.out")
check tune-total-printed [ -n "$total_k" ]
total_k=${total_k:-0}
# Under the limit, and at least the first quiet candidate less the margin.
check tune-total-under-limit [ "$total_k" -lt $((limit_mib * 1024)) ]
check tune-total-sane [ "$total_k" -ge $((128 * 1024 * 9 / 10 / 64 * 64)) ]
check tune-total-64k [ $((total_k % 64)) -eq 0 ]
# The last quiet candidate less 10% is exactly the TOTAL.
quiet=$(grep -E ' quiet$' "$tmp/tune.out" | tail -n 1 | awk '{print $1, $2}')
check tune-file-total grep -qx "TOTAL               ${total_k}K" "$tmp/mbserver.conf"
check tune-file-comment grep -q '^# mbconf tune: pressure (' "$tmp/mbserver.conf"
# Everything but the TOTAL line and the comment is as generated.
check tune-file-rest diff <(grep -v -e '^TOTAL ' -e '^# mbconf tune' "$tmp/original.conf") \
  <(grep -v -e '^TOTAL ' -e '^# mbconf tune' "$tmp/mbserver.conf")
page=$(getconf PAGESIZE)
expect tune-config-accepted 0 "ok: total $((total_k * 1024 / page)) pages of $page bytes" -- \
  "$server" --check-config "$tmp/mbserver.conf"
# The load is gone and the cgroup is empty.
check tune-load-gone cgroup_empty
echo "last quiet candidate: $quiet; recommended ${total_k}K"

# Stopped by a signal: exit 130, the file untouched, the load killed.
cp "$tmp/mbserver.conf" "$tmp/before-signal.conf"
"$mbconf" tune --cgroup "$cg" --config "$tmp/mbserver.conf" --start 10% --step 1% \
  --working-set 8M --window 1000 --workdir "$tmp" >"$tmp/signal.out" 2>&1 &
tune_pid=$!
wait_for grep -q ' quiet$' "$tmp/signal.out"
kill -INT "$tune_pid"
wait "$tune_pid"; status=$?
check signal-exit [ "$status" -eq 130 ]
check signal-message grep -q 'stopped by signal 2; nothing written' "$tmp/signal.out"
check signal-file-untouched cmp -s "$tmp/before-signal.conf" "$tmp/mbserver.conf"
check signal-load-gone wait_for cgroup_empty

# Bad input: a clear message, nothing written.
expect not-a-cgroup 1 "is not a memory cgroup" -- "$mbconf" tune --cgroup "$tmp" --config "$tmp/mbserver.conf"
expect bad-margin 2 "--margin 100: want 0 to 99" -- "$mbconf" tune --margin 100
expect bad-size 2 '--step "12Q": unknown size suffix' -- "$mbconf" tune --step 12Q
expect start-above-max 1 "the first candidate \(--start\) is above the last \(--max\)" -- \
  "$mbconf" tune --cgroup "$cg" --start 90% --max 50%
expect no-detector 2 "leave only the OOM killer" -- "$mbconf" tune --psi-permille 0 --majfault-rate 0
expect bad-workdir 1 "cannot create a working-set file in $tmp/none" -- \
  "$mbconf" tune --cgroup "$cg" --workdir "$tmp/none"
check bad-input-file-untouched cmp -s "$tmp/before-signal.conf" "$tmp/mbserver.conf"

finish mbconf_tune
