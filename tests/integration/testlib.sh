# testlib.sh: what the shell integration tests share. Source it, then use
#   check NAME COMMAND...                    passes when COMMAND succeeds
#   expect NAME STATUS PATTERN -- COMMAND... passes when COMMAND exits STATUS and
#                                            its output matches the extended regex
#   wait_for COMMAND...                      retries COMMAND for up to 5 s
#   json_field EXPR < JSON                   prints a Python expression of d
#   finish NAME                              prints "NAME: N passed, N failed" and
#                                            exits non-zero on any failure
passed=0 failed=0

check() {
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $name"; fi
}

expect() {
  local name=$1 want=$2 pattern=$3; shift 4
  local out status
  out=$("$@" 2>&1); status=$?
  if [[ $status -eq $want ]] && grep -Eq -- "$pattern" <<<"$out"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    printf 'FAIL %s: exit %s (want %s), output:\n%s\n(wanted /%s/)\n' "$name" "$status" "$want" "$out" "$pattern"
  fi
}

wait_for() { local i; for i in $(seq 100); do "$@" && return 0; sleep 0.05; done; return 1; }

json_field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

finish() {
  echo "$1: $passed passed, $failed failed"
  [[ $failed -eq 0 ]]
  exit $?
}
