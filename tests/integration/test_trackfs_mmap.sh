#!/usr/bin/env bash
# trackfs and mmap: reads through a mapping, shared writable mappings
# charged when the kernel writes the dirty pages back (msync, fsync,
# background writeback), a refused write-back reported by msync as ENOSPC
# with nothing stored beyond the quota, and private mappings never charged.
# The books must equal what the backing tmpfs stores after every step.
# usage: test_trackfs_mmap.sh TRACKFS
set -uo pipefail
trackfs=${1:?usage: test_trackfs_mmap.sh TRACKFS}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/testlib.sh"
. "$here/test_trackfs_lib.sh"

quota=64
mount_trackfs m "quota=${quota}p,inode_cost=0"
m=$tmp/m
backing_pages() { # data pages the backing tmpfs stores, all files
  python3 -c "
import os, sys
top, page = sys.argv[1], int(sys.argv[2])
print(sum((os.lstat(os.path.join(top, n)).st_blocks * 512 + page - 1) // page for n in os.listdir(top)))" "$tmp/m.back" "$page"
}
books_match() { [[ $(backing_pages) == "$(stat_field "$m" data_pages)" ]]; }

cat >"$tmp/map.py" <<'PY'
import errno, mmap, os, sys
# map.py FILE PAGE OP [ARGS]: one mapping operation, prints its result
path, page, op = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def shared(pages, first, count, tag):
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    if os.fstat(fd).st_size < pages * page:
        os.ftruncate(fd, pages * page)       # a hole: free
    mm = mmap.mmap(fd, pages * page, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    for i in range(first, first + count):
        mm[i * page:(i + 1) * page] = (tag + b"%06d" % i) * (page // (len(tag) + 6)) + \
            b"." * (page % (len(tag) + 6))
    try:
        mm.flush(); result = "ok"
    except OSError as e:
        result = errno.errorcode[e.errno]
    mm.close(); os.close(fd)
    return result
if op == "write":                        # write PAGES FIRST COUNT TAG
    print(shared(int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7].encode()))
elif op == "read":                       # read: mapped bytes == read(2) bytes
    with open(path, "rb") as f: plain = f.read()
    fd = os.open(path, os.O_RDONLY)
    mm = mmap.mmap(fd, len(plain), mmap.MAP_SHARED, mmap.PROT_READ)
    print("same" if mm[:] == plain else "differ"); mm.close(); os.close(fd)
elif op == "private":                    # private copy-on-write: never written back
    fd = os.open(path, os.O_RDWR)
    size = os.fstat(fd).st_size
    mm = mmap.mmap(fd, size, mmap.MAP_PRIVATE, mmap.PROT_READ | mmap.PROT_WRITE)
    mm[:] = b"P" * size; mm.flush(); mm.close(); os.close(fd)
    print("done")
elif op == "check":                      # check BACKING TAG: stored pages carry TAG
    back, tag = sys.argv[4], sys.argv[5].encode()
    with open(back, "rb") as f: data = f.read()
    good = bad = 0
    for i in range(len(data) // page):
        chunk = data[i * page:(i + 1) * page]
        if chunk == bytes(page): continue  # a hole reads as zeros
        if chunk.startswith(tag + b"%06d" % i): good += 1
        else: bad += 1
    print(good, bad)
PY
map() { python3 "$tmp/map.py" "$@"; }

# Reads through a mapping see what write(2) stored.
head -c $((7 * page + 123)) /dev/urandom >"$m/r"
equal mmap-read-same same "$(map "$m/r" "$page" read)"
rm "$m/r"

# A shared writable mapping within the quota: charged at msync, exactly.
equal mmap-write-ok ok "$(map "$m/small" "$page" write 10 0 10 S)"
equal mmap-write-stored 10 "$(backing_pages)"
equal mmap-write-charged 10 "$(stat_field "$m" data_pages)"
equal mmap-write-content "10 0" "$(map "$m/small" "$page" check "$tmp/m.back/small" S)"
# Rewriting mapped pages that are stored costs nothing more.
equal mmap-rewrite-ok ok "$(map "$m/small" "$page" write 10 0 10 S)"
equal mmap-rewrite-charged 10 "$(stat_field "$m" data_pages)"

# Beyond the quota: the mapping can dirty every page of the file's size
# (a hole costs nothing until stored), but the write-back is refused: msync
# says ENOSPC, the refused pages are not stored, the books stay exact.
equal mmap-over-msync ENOSPC "$(map "$m/big" "$page" write 100 0 100 B)"
check mmap-over-books-exact books_match
check mmap-over-within-quota test "$(stat_field "$m" used_pages)" -le "$quota"
check mmap-over-counted test "$(stat_field "$m" enospc)" -ge 1
read -r good bad < <(map "$m/big" "$page" check "$tmp/m.back/big" B)
equal mmap-over-stored-intact 0 "$bad"
equal mmap-over-stored-charged "$((10 + good))" "$(stat_field "$m" data_pages)"
# Once quota is free again, mapped writes are stored.
rm "$m/small"
rm "$m/big"
equal mmap-after-free-ok ok "$(map "$m/big2" "$page" write 100 20 40 C)"
equal mmap-after-free-charged 40 "$(stat_field "$m" data_pages)"
equal mmap-after-free-content "40 0" "$(map "$m/big2" "$page" check "$tmp/m.back/big2" C)"
check mmap-after-free-books books_match

# Private mappings are copies: nothing is written back or charged.
sum_before=$(sha256sum <"$tmp/m.back/big2")
equal mmap-private done "$(map "$m/big2" "$page" private)"
equal mmap-private-not-stored "$sum_before" "$(sha256sum <"$tmp/m.back/big2")"
equal mmap-private-not-charged 40 "$(stat_field "$m" data_pages)"

# Two processes share one mapping's pages through the page cache; the
# write-back is charged once.
python3 - "$m/shared" "$page" <<'PY' >"$tmp/shared.out" 2>&1
import mmap, os, sys
path, page = sys.argv[1], int(sys.argv[2])
fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600); os.ftruncate(fd, 4 * page)
mm = mmap.mmap(fd, 4 * page, mmap.MAP_SHARED)
pid = os.fork()
if pid == 0:
    mm[0:5] = b"child"; mm[page:page + 5] = b"child"; mm.flush(); os._exit(0)
os.waitpid(pid, 0)
print(mm[0:5].decode(), mm[page:page + 5].decode())
PY
equal mmap-shared-seen "child child" "$(cat "$tmp/shared.out")"
equal mmap-shared-charged 42 "$(stat_field "$m" data_pages)"
check mmap-shared-books books_match
unmount_trackfs m
check mmap-clean-exit test $? -eq 0

finish test_trackfs_mmap
