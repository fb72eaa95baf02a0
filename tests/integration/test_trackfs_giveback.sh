#!/usr/bin/env bash
# trackfs: ENOSPC with a bidirectional client that gives quota back. Under a
# real mbserver, `mbctl hold --bidirectional --keep` holds most of the pool;
# trackfs's stalled writes succeed because the broker asks the holder to
# give back, and ENOSPC comes only once the holder is at its floor. Exact
# figures from `mbctl status --json`, the holder's answers and the
# statistics attribute; then an unlink gives quota back and the same writes
# succeed again, and when the holder leaves, its quota is trackfs's to take.
# Last, urgency=reserve: whole chunks, the holder asked urgently.
# usage: test_trackfs_giveback.sh TRACKFS MBSERVER MBCTL
set -uo pipefail
trackfs=${1:?usage: test_trackfs_giveback.sh TRACKFS MBSERVER MBCTL}
server=${2:?usage: test_trackfs_giveback.sh TRACKFS MBSERVER MBCTL}
mbctl=${3:?usage: test_trackfs_giveback.sh TRACKFS MBSERVER MBCTL}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/testlib.sh"
. "$here/test_trackfs_lib.sh"

# Appends COUNT pages to PATH, one write(2) per page; prints "ok N" or
# "error ERRNO N" with N the pages written.
cat >"$tmp/pages.py" <<'PY'
import errno, os, sys
path, page, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
done = 0
try:
    for i in range(count):
        if os.write(fd, b"g" * page) != page:
            print("short", done); sys.exit(0)
        done += 1
except OSError as e:
    print("error", errno.errorcode[e.errno], done); sys.exit(0)
finally:
    os.close(fd)
print("ok", done)
PY
balance_of() {
  "$mbctl" status --json | json_field "([c['balance'] for c in d['clients'] if c['name']=='$1'] + ['none'])[0]"
}
given_back() { sed -n 's/^give-back asked.*, gave \([0-9]*\),.*/\1/p' "$tmp/giver.log" | awk '{ s += $1 } END { print s + 0 }'; }
stats() { local k out=(); for k in "$@"; do out+=("$(stat_field "$tmp/g" "$k")"); done; echo "${out[*]}"; }

total=1000 hold=960 keep=900
start_broker $total
# Chunks of 16 pages, no inode charge (the figures are data pages only),
# and a stall long enough for the broker to ask the holder.
mount_trackfs g "broker=$MEMBROKER_SOCKET,chunk=16p,stall_ms=2000,inode_cost=0"
g=$tmp/g
"$mbctl" hold ${hold}p --bidirectional --keep ${keep}p --name giver >"$tmp/giver.log" 2>&1 &
giver=$!; pids+=("$giver")
check giver-holds wait_for grep -qs "^holding $hold pages" "$tmp/giver.log"
equal before-pool $((total - hold)) "$(pool)"
equal before-trackfs 0 "$(balance_of trackfs)"

# ---- 1. Writes beyond the free pool succeed; ENOSPC at the holder's floor --
# trackfs may get the free pool (40) plus what the holder has above its
# floor (60): 100 pages, the 101st is refused.
room=$((total - keep))
equal fill-result "error ENOSPC $room" "$(python3 "$tmp/pages.py" "$g/f" "$page" 200)"
check giver-was-asked grep -q "^give-back asked" "$tmp/giver.log"
equal giver-gave $((hold - keep)) "$(given_back)"
equal giver-last-answer "gave 0, keeping $keep" "$(tail -n 1 "$tmp/giver.log" | sed 's/.*), //')"
equal giver-at-floor $keep "$(balance_of giver)"
equal pool-empty 0 "$(pool)"
# The books: 100 pages held, used, acquired; one refusal; the balance the
# broker shows is trackfs's own. Stalls: the charges that took a chunk
# (16 pages: 6 of them, the 7th got the last 4 pages) plus the refused one.
equal stats-full "100 100 100 0 100 0 1 8" \
  "$(stats quota_pages used_pages data_pages free_pages acquired_pages released_pages enospc stalls)"
equal books-agree "$(balance_of trackfs)" "$(stat_field "$g" broker_balance)"
# mbctl status shows trackfs's own figures beside the broker's books.
"$mbctl" status --json >"$tmp/status.json"
equal status-trackfs "$g 100 100 1 8" "$(json_field '" ".join(str(x) for x in [d["trackfs"][0]["mountpoint"], d["trackfs"][0]["quota_pages"], d["trackfs"][0]["used_pages"], d["trackfs"][0]["enospc"], d["trackfs"][0]["stalls"]])' <"$tmp/status.json")"
check status-trackfs-table grep -Eq "^ +[0-9]+ $g +100 +100 +8 +1\$" <("$mbctl" status)
# Nothing partial: exactly 100 pages in the file and in the backing store.
equal file-size $((room * page)) "$(stat -c %s "$g/f")"
equal backing-blocks $((room * page / 512)) "$(stat -c %b "$tmp/g.back/f")"
# A refused fallocate stores nothing either.
check fallocate-refused python3 -c "
import errno, os
fd = os.open('$g/f', os.O_WRONLY)
try: os.posix_fallocate(fd, $((room * page)), $page); raise SystemExit(1)
except OSError as e: assert e.errno == errno.ENOSPC, e
finally: os.close(fd)"
equal after-fallocate "$((room * page)) $room 2" "$(stat -c %s "$g/f") $(stat_field "$g" data_pages) $(stat_field "$g" enospc)"

# ---- 2. Unlink: the slack beyond one chunk goes back; the writes succeed again
rm "$g/f"
# 100 pages of slack are more than two chunks: all but one chunk goes back.
equal unlink-books "16 0 84" "$(stats quota_pages used_pages released_pages)"
equal unlink-broker "16 84" "$(balance_of trackfs) $(pool)"
equal refill-result "error ENOSPC $room" "$(python3 "$tmp/pages.py" "$g/f2" "$page" 200)"
equal refill-giver-unchanged $keep "$(balance_of giver)"
equal refill-books "100 100 3" "$(stats quota_pages used_pages enospc)"

# ---- 3. The holder leaves: its quota is free, the stalled writer proceeds --
kill "$giver"; wait "$giver" 2>/dev/null
check giver-gone wait_until '[[ $(balance_of giver) == none ]]'
equal pool-after-giver $keep "$(pool)"
equal after-giver-write "ok 200" "$(python3 "$tmp/pages.py" "$g/f2" "$page" 200)"
equal after-giver-books "300 300 3" "$(stats used_pages data_pages enospc)"
equal after-giver-agree "$(balance_of trackfs)" "$(stat_field "$g" broker_balance)"
check after-giver-within test "$(stat_field "$g" quota_pages)" -le $((300 + 32))
rm "$g/f2"
equal emptied-used 0 "$(stat_field "$g" used_pages)"
unmount_trackfs g
check broker-books-whole wait_until '[[ $(pool) == "$total" ]]'

# ---- 4. urgency=reserve: all or nothing, the holder asked urgently --------
# Each charge reserves a whole 16-page chunk: the holder, asked urgently,
# gives all it has above its floor at once (60), and with 100 pages of room
# six chunks (96 pages) fit; the 4 pages left cannot make a chunk.
"$mbctl" hold ${hold}p --bidirectional --keep ${keep}p --name giver >"$tmp/giver.log" 2>&1 &
giver=$!; pids+=("$giver")
check reserve-giver-holds wait_for grep -qs "^holding $hold pages" "$tmp/giver.log"
mount_trackfs r "broker=$MEMBROKER_SOCKET,chunk=16p,stall_ms=2000,inode_cost=0,urgency=reserve"
r=$tmp/r
equal reserve-fill "error ENOSPC 96" "$(python3 "$tmp/pages.py" "$r/f" "$page" 200)"
equal reserve-giver-gave $((hold - keep)) "$(given_back)"
check reserve-asked-urgently grep -q "^give-back asked: .* (urgent), gave $((hold - keep))," "$tmp/giver.log"
equal reserve-broker "$keep 96 4" "$(balance_of giver) $(balance_of trackfs) $(pool)"
equal reserve-books "96 96 0 1" "$(stat_field "$r" quota_pages) $(stat_field "$r" used_pages) $(stat_field "$r" free_pages) $(stat_field "$r" enospc)"
equal reserve-file-size $((96 * page)) "$(stat -c %s "$r/f")"
unmount_trackfs r
kill "$giver"; wait "$giver" 2>/dev/null
check reserve-books-whole wait_until '[[ $(pool) == "$total" ]]'

finish test_trackfs_giveback
