#!/usr/bin/env bash
# trackfs killed with SIGKILL under load while a broker lends it quota: the
# broker takes the quota back at once (its books stay whole), the dead mount
# is cleaned up with fusermount3 (lazily when still busy), and a new trackfs
# at the same mount point reserves quota for what is stored, serves the same
# data and works on.
# usage: test_trackfs_remount.sh TRACKFS MBSERVER MBCTL
set -uo pipefail
trackfs=${1:?usage: test_trackfs_remount.sh TRACKFS MBSERVER MBCTL}
server=${2:?usage: test_trackfs_remount.sh TRACKFS MBSERVER MBCTL}
mbctl=${3:?usage: test_trackfs_remount.sh TRACKFS MBSERVER MBCTL}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/testlib.sh"
. "$here/test_trackfs_lib.sh"

total=2000
chunk=16
start_broker $total
books_whole() { # the broker's pool plus every balance is its total
  "$mbctl" status --json | json_field 'd["pool"] + sum(c["balance"] for c in d["clients"])'
}
stored_pages() { # data pages and inodes the backing tree stores
  python3 - "$1" "$page" <<'PY'
import os, sys
top, page = sys.argv[1], int(sys.argv[2]); seen = set(); pages = inodes = 0
for d, dirs, files in os.walk(top):
    for n in dirs + files:
        st = os.lstat(os.path.join(d, n))
        if (st.st_dev, st.st_ino) in seen: continue
        seen.add((st.st_dev, st.st_ino)); inodes += 1
        pages += (st.st_blocks * 512 + page - 1) // page
print(pages, inodes)
PY
}
opts="broker=$MEMBROKER_SOCKET,chunk=${chunk}p,stall_ms=300,inode_cost=4K"
mount_trackfs r "$opts"
r=$tmp/r
mkdir "$r/sub"
head -c $((10 * page)) /dev/urandom >"$r/a"
head -c $((5 * page + 100)) /dev/urandom >"$r/sub/b"
ln "$r/a" "$r/a-link"
sums_before=$(cd "$r" && sha256sum a sub/b)
# Load: two writers cycling through 300 pages of a file each (bounded
# storage, endless writes) until the mount dies under them.
cat >"$tmp/writer.py" <<'PY'
import errno, os, sys
path, page = sys.argv[1], int(sys.argv[2])
fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
n = 0
try:
    while True:
        os.pwrite(fd, bytes([n % 251]) * page, (n % 300) * page); n += 1
        if n == 400:
            open(path + ".started", "w").close()
except OSError as e:
    print(errno.errorcode[e.errno], n)
PY
python3 "$tmp/writer.py" "$r/load1" "$page" >"$tmp/load1.out" 2>&1 &
w1=$!
python3 "$tmp/writer.py" "$r/sub/load2" "$page" >"$tmp/load2.out" 2>&1 &
w2=$!
check load-running wait_for test -e "$r/load1.started" -a -e "$r/sub/load2.started"
check balance-before-kill test "$(trackfs_balance)" -gt 0
exec {busy}<"$r/a"          # an open file keeps the dead mount busy
kill -9 "$r_pid"
wait "$r_pid" 2>/dev/null   # (bash reports "Killed")
wait "$w1" "$w2"
# A request in flight fails with ECONNABORTED, later ones with ENOTCONN;
# over io_uring, one the kernel was handing to a ring thread as it died
# fails with ECANCELED.
cut_off="ENOTCONN|ECONNABORTED"
[[ $transport_opt == uring=off ]] || cut_off+="|ECANCELED"
for w in 1 2; do
  grep -Eq "^($cut_off) [0-9]+$" "$tmp/load$w.out" || { echo "writer $w:"; cat "$tmp/load$w.out"; }
  check "writer$w-cut-off-by-kill" grep -Eq "^($cut_off) [0-9]+$" "$tmp/load$w.out"
done
# The broker noticed the dead client at once and took its quota back.
check broker-took-back wait_until '[[ $(pool) == "$total" ]]'
equal broker-no-trackfs none "$(trackfs_balance)"
equal broker-books-whole "$total" "$(books_whole)"
# The dead mount: still in the table, every access fails with ENOTCONN.
check dead-still-mounted is_mounted "$r"
expect dead-enotconn 1 "Transport endpoint is not connected" -- stat "$r/a"
# A new trackfs cannot mount over it.
expect remount-over-dead-refused 1 "is already a trackfs mount .*fusermount3 -u" -- \
  "$trackfs" -f -o "$opts" "$tmp/r.back" "$r"
# Busy: a plain unmount is refused; a lazy one detaches it.
expect unmount-busy 1 "busy" -- fusermount3 -u "$r"
check unmount-lazy fusermount3 -u -z "$r"
exec {busy}<&-
check unmounted bash -c "! grep -qs ' $r fuse' /proc/mounts"

# Remount over the same backing directory: quota for what is stored first.
read -r data_pages inodes < <(stored_pages "$tmp/r.back")
used=$((data_pages + inodes))   # inode_cost=4K: a page per inode
mount_trackfs r "$opts"
equal remount-data-pages "$data_pages" "$(stat_field "$r" data_pages)"
equal remount-inodes "$inodes" "$(stat_field "$r" inodes)"
reserved=$(( (used + chunk - 1) / chunk * chunk ))
equal remount-reserved "$reserved" "$(stat_field "$r" quota_pages)"
equal remount-balance "$reserved" "$(trackfs_balance)"
equal remount-books-whole "$total" "$(books_whole)"
equal remount-same-data "$sums_before" "$(cd "$r" && sha256sum a sub/b)"
for f in load1 sub/load2; do
  equal "remount-$f-intact" "$(sha256sum <"$tmp/r.back/$f")" "$(sha256sum <"$r/$f")"
done
equal remount-link-count 2 "$(stat -c %h "$r/a-link")"
# It works on: write, unlink, and the books follow.
head -c $((3 * page)) /dev/zero >"$r/new"
equal remount-write "$((data_pages + 3))" "$(stat_field "$r" data_pages)"
rm "$r/load1" "$r/sub/load2" "$r/new"
read -r data_pages inodes < <(stored_pages "$tmp/r.back")
equal remount-after-rm "$data_pages $inodes" "$(stat_field "$r" data_pages) $(stat_field "$r" inodes)"
equal remount-status-matches "$(trackfs_balance)" "$(stat_field "$r" broker_balance)"
unmount_trackfs r
check remount-clean-exit test $? -eq 0
check all-quota-back wait_until '[[ $(pool) == "$total" ]]'
equal backing-kept "$sums_before" "$(cd "$tmp/r.back" && sha256sum a sub/b)"

finish test_trackfs_remount
