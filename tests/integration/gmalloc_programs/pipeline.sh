#!/usr/bin/env bash
# Pipelines with subshells, command and process substitution, background jobs
# and associative arrays: bash forks (children keep the parent's heap) and
# execs (children start a fresh one). Used by test_gmalloc_programs.sh; the
# output is deterministic. usage: pipeline.sh WORKDIR
set -euo pipefail
export LC_ALL=C
work=${1:?usage: pipeline.sh WORKDIR}
mkdir -p "$work"

# Subshells writing files in parallel, each with its own loop of execs.
for part in 1 2 3 4; do
  (
    for i in $(seq "$part" 4 240); do
      printf '%05d %s\n' $((i * 7919 % 10007)) "$(printf 'w%d' "$i" | tr '0-9' 'a-j')"
    done | sort >"$work/part$part"
  ) &
done
wait

# A pipeline of several execs, then command substitution of another one.
sort -m "$work"/part? | awk '{ print $2, $1 % 97 }' | sort -k2,2n -k1,1 | uniq -c -f1 | head -n 40 >"$work/merged"
lines=$(sort -m "$work"/part? | wc -l)
echo "merged $lines lines, $(wc -l <"$work/merged") groups"
cat "$work/merged"

# Associative arrays and string building in the shell's own heap.
declare -A seen=()
text=
while read -r key word; do
  seen[$word]=$((${seen[$word]:-0} + 10#$key % 13))
  text+="${word:0:2}"
done < <(sort -m "$work"/part?)
echo "keys ${#seen[@]}, text ${#text} bytes, $(printf '%s' "$text" | md5sum | cut -d' ' -f1)"
for k in $(printf '%s\n' "${!seen[@]}" | sort | head -n 10); do echo "$k=${seen[$k]}"; done

# Nested subshells and a here-document through a coprocess-like pair of pipes.
result=$( ( ( seq 1 2000 | paste -sd+ | bc ); echo "done" ) | tr '\n' ' ')
echo "nested: $result"
cat <<EOF | sed 's/^/> /' | tac
first $((6 * 7))
second ${#seen[@]}
EOF
