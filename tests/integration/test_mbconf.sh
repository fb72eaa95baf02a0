#!/usr/bin/env bash
# mbconf against fixture trees and a real mbserver.
# usage: test_mbconf.sh PATH_TO_MBCONF PATH_TO_MBSERVER
# generate: exact TOTAL for the fixture machines, and the file passes
# `mbserver --check-config` with the same page count; check: exact findings
# and exit status, and a running mbserver is found reachable.
set -uo pipefail
mbconf=${1:?usage: test_mbconf.sh MBCONF MBSERVER}
server=${2:?usage: test_mbconf.sh MBCONF MBSERVER}
fixtures=${MB_SOURCE_DIR:?}/tests/fixtures
tmp=$(mktemp -d /tmp/mb-mbconf.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
expect() { # expect NAME STATUS PATTERN -- command...
  local name=$1 want=$2 pattern=$3; shift 4
  local out status
  out=$("$@" 2>&1); status=$?
  if [[ $status -eq $want ]] && grep -Eq -- "$pattern" <<<"$out"; then ok
  else fail "$name: exit $status (want $want), wanted /$pattern/ in:"; printf '%s\n' "$out"; fi
}
page=$(getconf PAGESIZE)

# ---- generate: exact totals, and mbserver accepts the file
for case in "root-arm256 162624" "root-x86 21541568"; do
  set -- $case
  expect "generate-$1" 0 "^wrote $tmp/$1.conf: TOTAL ${2}K " -- \
    "$mbconf" generate --root "$fixtures/$1" --output "$tmp/$1.conf" --socket "$tmp/$1.sock"
  grep -qx "TOTAL               ${2}K" "$tmp/$1.conf" && ok || fail "$1: TOTAL line"
  expect "check-config-$1" 0 "ok: total $((${2} * 1024 / page)) pages of $page bytes, socket $tmp/$1.sock, at most 1024 clients" -- \
    "$server" --check-config "$tmp/$1.conf"
done
expect overrides 0 "^TOTAL               199808K$" -- \
  "$mbconf" generate --root "$fixtures/root-arm256" --reserve-kernel 20M --reserve-cache 10% \
  --reserve-stacks 4M --reserve-dma 0
expect too-much 1 "the reserves \(.*\) leave nothing of MemTotal" -- \
  "$mbconf" generate --root "$fixtures/root-arm256" --reserve-cache 100%
expect bad-size 2 '--reserve-dma "12Q": unknown size suffix' -- "$mbconf" generate --reserve-dma 12Q
expect no-meminfo 1 "cannot read meminfo" -- "$mbconf" generate --root "$tmp/none"
expect unknown-command 2 'unknown command "tuning"' -- "$mbconf" tuning
expect check-option 2 "check: option --output does not apply" -- "$mbconf" check --output x
expect live-generate 0 "^TOTAL               [0-9]+K$" -- "$mbconf" generate

# ---- check: findings on the fixture machines
expect check-arm256 1 "WARN  overcommit: mode 1 \(always\)" -- \
  "$mbconf" check --root "$fixtures/root-arm256" --socket "$tmp/none.sock"
"$mbconf" check --root "$fixtures/root-arm256" --socket "$tmp/none.sock" >"$tmp/arm.txt"
for line in "WARN  psi: no /proc/pressure/memory: the kernel reports no memory pressure" \
            "info  swap: zram only: 1 device, 65532 kB" \
            "WARN  oom_score_adj: mbserver (pid 412) has oom_score_adj 0: the OOM killer may pick it" \
            "WARN  mbserver: not reachable at $tmp/none.sock: no membroker socket at the path" \
            "something needs attention (WARN above)"; do
  grep -Fxq -- "$line" "$tmp/arm.txt" && ok || { fail "arm256 check: no line \"$line\""; cat "$tmp/arm.txt"; }
done

# With a live broker on its socket, this machine's fixture needs no attention.
sock=$tmp/run/socket
"$server" --foreground --socket "$sock" --total 1000p --log-level err &
pids+=($!)
for i in $(seq 100); do [[ -S $sock ]] && break; sleep 0.05; done
expect check-x86 0 "nothing needs attention" -- "$mbconf" check --root "$fixtures/root-x86" --socket "$sock"
expect check-reachable 0 "ok    mbserver: answers at $sock: total 1000 pages of $page bytes, 1000 in the pool" -- \
  "$mbconf" check --root "$fixtures/root-x86" --socket "$sock"
expect check-env-socket 0 "answers at $sock" -- env MEMBROKER_SOCKET="$sock" "$mbconf" check --root "$fixtures/root-x86"
# Live: the server behind the socket (SO_PEERCRED), not any other mbserver,
# is the one whose oom_score_adj is reported.
adj=$(cat /proc/${pids[0]}/oom_score_adj)
"$mbconf" check --socket "$sock" >"$tmp/live.txt"
if grep -Eq "^(ok|WARN) +oom_score_adj: mbserver \(pid ${pids[0]}\) (has oom_score_adj $adj|is exempt)" "$tmp/live.txt"; then ok
else fail "live oom_score_adj of pid ${pids[0]}"; cat "$tmp/live.txt"; fi

echo "test_mbconf: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
