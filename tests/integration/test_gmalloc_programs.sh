#!/usr/bin/env bash
# Real programs under a preloaded malloc: each program runs once plainly
# (glibc's malloc) and once with LD_PRELOAD=LIB; standard output and standard
# error must be byte-identical and every exit status 0. The preloaded run is
# also traced with LD_DEBUG=bindings: every process it started (execs
# included) must have bound malloc, free, calloc and realloc to LIB and none to
# the C library, so a preload that silently did nothing fails. When LIB is
# gmalloc, a small module preloaded after it (gmalloc_programs/exit_report.c)
# also writes gmalloc's report as each process exits: every run must show
# allocations served by gmalloc, and no failed, invalid or foreign frees.
# Then, when LIB is gmalloc, programs run into a small GMALLOC_HARD_LIMIT and
# must fail as docs/gmalloc.md says (ENOMEM: the program's own out-of-memory
# error; with GMALLOC_SVC_ERR_ON_OOM=1, the report and an abort).
# usage: test_gmalloc_programs.sh PATH_TO_PRELOAD_LIBRARY [PROGRAM...]
# (PROGRAM names select a subset: ls sort python perl sqlite xz-gzip git gcc
# bash limit). Any other allocator works too (e.g. libjemalloc.so.2), which
# checks the harness itself. GMALLOC_* variables of the caller are dropped;
# GMPROG_ENV="GMALLOC_FILL_WITH_TRASH=1 GMALLOC_THREAD_CACHE=0" (say) sets
# variables for the preloaded runs of the programs only.
# The prog_* functions are called by name (prog_$name).
# shellcheck disable=SC2317
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/testlib.sh"
lib=${1:?usage: test_gmalloc_programs.sh PRELOAD_LIBRARY [PROGRAM...]}
shift
[[ -f $lib ]] || { echo "FAIL no library at $lib"; exit 1; }
lib=$(realpath "$lib")
progs=$here/gmalloc_programs
# In memory when there is room (tens of thousands of small files and some
# 100 MB of outputs; a busy disk makes the run several times slower).
scratch=/tmp
if [[ -d /dev/shm && -w /dev/shm ]] &&
   [[ $(df -Pk /dev/shm | awk 'NR == 2 { print $4 }') -gt $((1024 * 1024)) ]]; then
  scratch=/dev/shm
fi
tmp=$(mktemp -d "$scratch/mb-gmprog.XXXXXX")
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

# The same environment for both runs: no locale, time zone or hash-seed
# differences, and no configuration of the user's leaking in.
export LC_ALL=C TZ=UTC PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1 PERL_HASH_SEED=0
export HOME=$tmp/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
unset GMALLOC_CFG MALLOC_CONF MALLOC_ARENA_MAX MALLOC_CHECK_ MALLOC_PERTURB_ 2>/dev/null
while read -r v; do unset "$v"; done < <(env | sed -n 's/^\(GMALLOC_[A-Z_]*\)=.*/\1/p')
mkdir -p "$HOME"
# Debian's interpreter (the one install-deps installs), not a shim in PATH.
python=/usr/bin/python3
[[ -x $python ]] || python=$(command -v python3)

elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

selected() { # selected NAME: whether NAME is to run
  [[ ${#want[@]} -eq 0 ]] && return 0
  local w; for w in "${want[@]}"; do [[ $w == "$1" ]] && return 0; done; return 1
}
want=("$@")
t_start=$(date +%s.%N)

is_gmalloc() { nm -D --defined-only "$lib" 2>/dev/null | grep -Eq ' [TWi] gmalloc_stats(@.*)?$'; }
preload=$lib
if is_gmalloc; then
  if ! gcc -std=gnu17 -O2 -Wall -Wextra -Werror -shared -fPIC -o "$tmp/exit_report.so" \
         "$progs/exit_report.c" -ldl; then
    echo "FAIL cannot build the exit report module"; exit 1
  fi
  preload="$lib $tmp/exit_report.so"
fi

# ---- inputs, made once and shared by both runs (without any preload)
if ! "$python" "$progs/gen.py" tree "$tmp/tree" 30000 ||
   ! "$python" "$progs/gen.py" lines "$tmp/lines" 1000000 ||
   ! "$python" "$progs/gen.py" data "$tmp/data" 3000000; then
  echo "FAIL cannot make the inputs"; exit 1
fi
# A snapshot of the project's sources for git (others may edit them meanwhile).
if ! mkdir -p "$tmp/src" || ! cp -a "${MB_SOURCE_DIR:-$here/../..}/src/." "$tmp/src/"; then
  echo "FAIL cannot copy the sources"; exit 1
fi
echo "inputs made in $(elapsed "$t_start")s"

# ---- the programs: each function writes what is compared to stdout/stderr
# and runs in "$work" (the same path in both runs, so paths that end up in
# outputs, such as gcc's debug info, are identical).

prog_ls() {
  ls -lR --time-style=full-iso "$tmp/tree"
}

prog_sort() {
  # A multi-threaded in-memory sort of the million lines on three keys, in
  # full; then an external merge sort (tiny buffer, temporary files).
  sort --parallel=2 -t "$(printf '\t')" -k2,2n -k1,1 -k3,3r "$tmp/lines"
  head -n 200000 "$tmp/lines" | sort -r -S 1M -T "$work" | sha256sum
}

prog_python() {
  PYTHONMALLOC=malloc "$python" "$progs/churn.py"
}

prog_perl() {
  perl "$progs/churn.pl"
}

prog_sqlite() {
  sqlite3 -batch -bail "$work/db" <"$progs/sqlite.sql"
  sqlite3 -batch -bail "$work/db" .dump | sha256sum
}

prog_xz_gzip() {
  xz -T2 -4 --block-size=1MiB -c "$tmp/data" >"$work/data.xz"
  gzip -n -6 -c "$tmp/data" >"$work/data.gz"
  sha256sum "$tmp/data" "$work/data.xz" "$work/data.gz" | sed "s|$tmp/||; s|$work/||"
  xz -T2 -dc "$work/data.xz" | sha256sum
  gzip -dc "$work/data.gz" | sha256sum
  xz -lvv "$work/data.xz" | sed "s|$work/||"
  # Round trip of the round trip, through pipes.
  xz -dc "$work/data.xz" | gzip -1 | gzip -dc | xz -1 | xz -dc | cmp - "$tmp/data"
}

prog_git() {
  export GIT_AUTHOR_NAME="Ada Author" GIT_AUTHOR_EMAIL=ada@example.org
  export GIT_COMMITTER_NAME="Carl Committer" GIT_COMMITTER_EMAIL=carl@example.org
  export GIT_AUTHOR_DATE="2026-01-02T03:04:05+00:00" GIT_COMMITTER_DATE="2026-01-02T03:04:05+00:00"
  cp -a "$tmp/src" "$work/repo"
  cd "$work/repo"
  git init -q -b main .
  git add -A
  git commit -q -m "First: the sources as they were"
  find . -name '*.c' -not -path './.git/*' | sort | head -n 40 |
    while read -r f; do sed -i 's/\t/        /g; 1i\/* touched *\/' "$f"; done
  git rm -q --cached "$(git ls-files | sort | tail -n 1)"
  GIT_COMMITTER_DATE="2026-01-03T00:00:00+00:00" git commit -q -a -m "Second: expand tabs"
  git log --stat --format=fuller
  git log -p | sha256sum
  git diff --stat HEAD~1 | tail -n 1
  git -c pack.threads=2 gc -q
  git fsck --full --strict --no-progress
  git count-objects -v | grep -E '^(count|in-pack|packs|garbage):'
  git clone -q --no-local . "$work/clone"
  git -C "$work/clone" log --oneline
  git archive --format=tar HEAD | sha256sum
}

prog_gcc() {
  cp "$progs/wordfreq.c" "$work/wordfreq.c"
  cd "$work"
  gcc -std=gnu17 -O2 -g -Wall -Wextra -Werror -c wordfreq.c -o wordfreq.o
  gcc -O0 -S -o - wordfreq.c | sha256sum
  gcc -o wordfreq wordfreq.o
  sha256sum wordfreq.o wordfreq
  ./wordfreq 400000
}

prog_bash() {
  bash "$progs/pipeline.sh" "$work/p"
}

# ---- running and comparing

# status_text STATUS: "exit N", or the signal for statuses above 128.
status_text() {
  if [[ $1 -gt 128 ]]; then echo "killed by SIG$(kill -l $(($1 - 128)) 2>/dev/null || echo $(($1 - 128)))"
  else echo "exit $1"; fi
}

# run_once NAME MODE: runs prog_NAME in $tmp/work (fresh); keeps its outputs
# in $tmp/NAME.MODE.{out,err,status} and moves the work dir aside.
run_once() {
  local name=$1 mode=$2 fn=prog_${1//-/_}
  work=$tmp/work
  rm -rf "$work" && mkdir -p "$work"
  (
    cd "$work" || exit 99
    if [[ $mode == preload ]]; then
      mkdir -p "$tmp/ld.$name" "$tmp/rep.$name"
      export LD_PRELOAD=$preload LD_DEBUG=bindings LD_DEBUG_OUTPUT=$tmp/ld.$name/ld
      export GMPROG_REPORT_DIR=$tmp/rep.$name
      # shellcheck disable=SC2086 # a list of NAME=VALUE words
      [[ -z ${GMPROG_ENV:-} ]] || export ${GMPROG_ENV?}
    fi
    set -e
    "$fn"
  ) >"$tmp/$name.$mode.out" 2>"$tmp/$name.$mode.err"
  echo $? >"$tmp/$name.$mode.status"
  mv "$work" "$tmp/$name.$mode.work"
}

# preload_proof NAME: checks the LD_DEBUG files of the preloaded run; prints
# "N processes" or the failure.
preload_proof() {
  local dir=$tmp/ld.$1 files unbound to_libc f bad=
  files=("$dir"/ld.*)
  [[ -e ${files[0]} ]] || { echo "no process left an LD_DEBUG trace"; return 1; }
  # Every dynamic process binds malloc (the C library refers to it); the
  # reference may go through the executable's own PLT entry (python3),
  # which is itself bound to the definition.
  mapfile -t unbound < <(grep -FL " to $lib [0]: normal symbol \`malloc'" "${files[@]}")
  mapfile -t to_libc < <(grep -El "to [^ ]*/libc\.so\.6 \[0\]: normal symbol \`(malloc|free|calloc|realloc)'" "${files[@]}")
  if [[ ${#unbound[@]} -ne 0 || ${#to_libc[@]} -ne 0 ]]; then
    for f in "${unbound[@]:0:8}"; do # the executables, for the message
      bad="$bad $(sed -n 's/.*binding file \([^ ]*\) \[0\].*/\1/p' "$f" | grep -v '\.so' | head -n 1)"
    done
    echo "of ${#files[@]} processes, ${#unbound[@]} did not bind malloc to the preload (${bad# }), ${#to_libc[@]} bound an allocation function to libc"
    return 1
  fi
  echo "${#files[@]} processes bound to the preload"
}

# served_proof NAME: (gmalloc) checks the reports written at exit (forked
# children write their own, counting what they inherited too); prints the
# processes and allocation calls counted, or the failure.
served_proof() {
  local dir=$tmp/rep.$1 files calls bad
  files=("$dir"/report.*)
  [[ -e ${files[0]} ]] || { echo "no process wrote gmalloc's report at exit"; return 1; }
  calls=$(awk '$1 ~ /^(mallocs|callocs|reallocs|memaligns)$/ { n += $2 } END { print n + 0 }' "${files[@]}")
  [[ $calls -gt 0 ]] || { echo "gmalloc's reports count no allocation"; return 1; }
  bad=$(awk '$1 ~ /^(failures|invalid_frees|foreign_frees|foreign_reallocs|oom_failures)$/ && $2 != 0 {
               print FILENAME ": " $1 " " $2 }' "${files[@]}" | sed "s|$dir/||" | head -n 5)
  [[ -z $bad ]] || { echo "gmalloc's reports count errors: ${bad//$'\n'/, }"; return 1; }
  echo "gmalloc's exit reports of ${#files[@]} processes count $calls allocation calls"
}

compare_program() {
  local name=$1 t0 t1 t2 ps rs proof served why=
  t0=$(date +%s.%N)
  run_once "$name" plain
  t1=$(elapsed "$t0")
  t0=$(date +%s.%N)
  run_once "$name" preload
  t2=$(elapsed "$t0")
  ps=$(cat "$tmp/$name.plain.status") rs=$(cat "$tmp/$name.preload.status")
  if [[ $ps -ne 0 ]]; then why="plain run: $(status_text "$ps")"
  elif [[ $rs -ne 0 ]]; then why="preloaded run: $(status_text "$rs")"
  elif ! cmp -s "$tmp/$name.plain.out" "$tmp/$name.preload.out"; then why="standard output differs"
  elif ! cmp -s "$tmp/$name.plain.err" "$tmp/$name.preload.err"; then why="standard error differs"
  fi
  if [[ -z $why ]] && ! proof=$(preload_proof "$name"); then why="preload not in effect: $proof"; fi
  if [[ -z $why && $preload != "$lib" ]]; then
    if served=$(served_proof "$name"); then proof="$proof; $served"; else why=$served; fi
  fi
  rm -rf "$tmp/ld.$name" "$tmp/rep.$name"
  if [[ -z $why ]]; then
    passed=$((passed + 1))
    printf 'ok   %-8s identical output (%s bytes), exit 0, %s (%ss plain, %ss preloaded)\n' \
      "$name" "$(wc -c <"$tmp/$name.plain.out")" "$proof" "$t1" "$t2"
    rm -rf "$tmp/$name".*
  else
    failed=$((failed + 1))
    printf 'FAIL %-8s %s (%ss plain, %ss preloaded)\n' "$name" "$why" "$t1" "$t2"
    local s
    for s in out err; do
      if ! cmp -s "$tmp/$name.plain.$s" "$tmp/$name.preload.$s"; then
        echo "  --- std$s, plain (<) against preloaded (>), first differences:"
        diff -a "$tmp/$name.plain.$s" "$tmp/$name.preload.$s" | head -n 20 | cut -c1-200 | sed 's/^/  /'
      fi
    done
    [[ $rs -ne 0 ]] && { echo "  --- stderr of the preloaded run (end):"; tail -n 15 "$tmp/$name.preload.err" | cut -c1-200 | sed 's/^/  /'; }
    # Keep the failed run's files for a look when asked.
    [[ -n ${MB_KEEP_FAILED:-} ]] && { cp -a "$tmp" "$tmp.failed"; echo "  (kept in $tmp.failed)"; }
    rm -rf "$tmp/$name".*
  fi
}

for name in ls sort python perl sqlite xz-gzip git gcc bash; do
  selected "$name" && compare_program "$name"
done

# ---- limits (gmalloc only): the documented failure at GMALLOC_HARD_LIMIT
limit_ok() { passed=$((passed + 1)); echo "ok   limit    $*"; }
limit_fail() { failed=$((failed + 1)); echo "FAIL limit    $*"; }

# A program that allocates 1 MiB blocks until malloc fails: python raises
# MemoryError (exit 1) and, before that, prints how many it got.
limit_script='
import sys
held = []
try:
    while True:
        held.append(bytearray(1 << 20))
except MemoryError:
    print("got", len(held), "MiB", flush=True)
    raise
'

if selected limit; then
  if [[ $preload == "$lib" ]]; then
    echo "skip limit: $lib is not gmalloc (no gmalloc_stats), the GMALLOC_ limit keys do not apply"
  else
    t0=$(date +%s.%N)
    limit_mib=48 limit_bytes=$((48 * 1048576))
    # ENOMEM: python raises MemoryError having stayed under the limit, set by
    # any of the original's keys (without the broker the pool is the fixed
    # limit; without either, the reservation is); with DUMP_DEBUG_ON_OOM the
    # first failure also writes the report to DUMP_FILE.
    for case in "HARD_LIMIT 48" "POOL_SIZE 40" "MAP_SIZE 64"; do
      read -r key mib <<<"$case"
      out=$(env "GMALLOC_$key=${mib}M" GMALLOC_DUMP_DEBUG_ON_OOM=1 GMALLOC_DUMP_FILE="$tmp/enomem-$key" \
            LD_PRELOAD="$lib" "$python" -c "$limit_script" 2>"$tmp/limit.err")
      st=$?
      got=$(sed -n 's/^got \([0-9]*\) MiB$/\1/p' <<<"$out")
      if [[ $st -eq 1 ]] && grep -q '^MemoryError' "$tmp/limit.err" && [[ -n $got ]] &&
         [[ $got -lt $mib && $got -ge $((mib / 2)) ]]; then
        limit_ok "python at GMALLOC_$key=${mib}M: MemoryError after $got MiB, exit 1"
      else
        limit_fail "python at GMALLOC_$key=${mib}M: $(status_text $st), stdout \"$out\" (want MemoryError after $((mib / 2))..$((mib - 1)) MiB, exit 1); stderr:"
        tail -n 5 "$tmp/limit.err" | sed 's/^/  /'
      fi
    done
    # (The last case's stderr and report: MAP_SIZE 64M sets the limit.)
    report=$tmp/enomem-MAP_SIZE
    if [[ $(grep -c '^gmalloc report: out of memory: request of [0-9]* bytes from 0x' "$report" 2>/dev/null) -eq 1 ]] &&
       grep -qx "hard_limit $((64 * 1048576))" "$report" && grep -qx 'oom_failures 1' "$report" &&
       grep -q "gmalloc: out of memory: .*; report written to $report" "$tmp/limit.err"; then
      limit_ok "GMALLOC_DUMP_DEBUG_ON_OOM=1: one report in DUMP_FILE, the program went on to its own error"
    else
      limit_fail "GMALLOC_DUMP_DEBUG_ON_OOM=1: want one report (hard_limit $((64 * 1048576))) in DUMP_FILE and a notice on stderr; report:"
      head -n 8 "$report" 2>&1 | sed 's/^/  /'
      echo "  stderr:"; grep gmalloc "$tmp/limit.err" | head -n 3 | sed 's/^/  /'
    fi

    # sqlite3 reports the failed malloc as its own error (SQLITE_NOMEM) and
    # exits with its code, 7.
    out=$(GMALLOC_HARD_LIMIT=32M LD_PRELOAD=$lib sqlite3 -batch -bail :memory: \
      "CREATE TABLE t(b); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400)
       INSERT INTO t SELECT zeroblob(1000000) || i FROM n; SELECT count(*) FROM t;" 2>&1)
    st=$?
    if [[ $st -eq 7 ]] && grep -q 'out of memory' <<<"$out"; then
      limit_ok "sqlite3 at GMALLOC_HARD_LIMIT=32M: \"$(head -n 1 <<<"$out")\", exit 7"
    else
      limit_fail "sqlite3 at GMALLOC_HARD_LIMIT=32M: $(status_text $st), want \"out of memory\" and exit 7, got:"
      head -n 5 <<<"$out" | sed 's/^/  /'
    fi

    # With SVC_ERR_ON_OOM the first failure writes the report and aborts.
    # (The outer braces take the shell's "Aborted" notice.)
    {
      (
        ulimit -c 0
        GMALLOC_HARD_LIMIT=${limit_mib}M GMALLOC_SVC_ERR_ON_OOM=1 GMALLOC_DUMP_FILE=$tmp/abort-report \
          LD_PRELOAD=$lib exec "$python" -c "$limit_script"
      ) >"$tmp/abort.out" 2>"$tmp/abort.err"
      st=$?
    } 2>/dev/null
    if [[ $st -eq $((128 + 6)) ]] && [[ ! -s $tmp/abort.out ]] &&
       grep -q '^gmalloc report: out of memory: request of [0-9]* bytes from 0x' "$tmp/abort-report" &&
       grep -qx "hard_limit $limit_bytes" "$tmp/abort-report" &&
       grep -qx 'oom_failures 1' "$tmp/abort-report" &&
       grep -qx 'end of gmalloc report' "$tmp/abort-report" &&
       grep -qx 'gmalloc: SVC_ERR_ON_OOM is set: aborting' "$tmp/abort.err"; then
      limit_ok "python with GMALLOC_SVC_ERR_ON_OOM=1: report of $(wc -l <"$tmp/abort-report") lines, then SIGABRT at the first failure"
    else
      limit_fail "python with GMALLOC_SVC_ERR_ON_OOM=1: $(status_text $st) (want SIGABRT), stdout \"$(cat "$tmp/abort.out")\" (want none), want a whole report with hard_limit $limit_bytes; report:"
      head -n 8 "$tmp/abort-report" 2>&1 | sed 's/^/  /'
      echo "  stderr:"; tail -n 3 "$tmp/abort.err" | sed 's/^/  /'
    fi
    echo "     (limits: $(elapsed "$t0")s)"
  fi
fi

echo "total $(elapsed "$t_start")s"
finish gmalloc_programs
