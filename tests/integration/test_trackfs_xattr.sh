#!/usr/bin/env bash
# trackfs: extended attributes and renameat2 flags against plain tmpfs, the
# attributes' charge (name length plus value size) exactly, and the
# statistics attribute user.trackfs.stats with exact figures after known
# writes, standalone and under a real mbserver.
# usage: test_trackfs_xattr.sh TRACKFS MBSERVER MBCTL
set -uo pipefail
trackfs=${1:?usage: test_trackfs_xattr.sh TRACKFS MBSERVER MBCTL}
server=${2:?usage: test_trackfs_xattr.sh TRACKFS MBSERVER MBCTL}
mbctl=${3:?usage: test_trackfs_xattr.sh TRACKFS MBSERVER MBCTL}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/testlib.sh"
. "$here/test_trackfs_lib.sh"

# ---- 1. The same sequence on tmpfs and on trackfs ------------------------
cat >"$tmp/seq.py" <<'PY'
import ctypes, errno, os, sys
os.chdir(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD = -100
NOREPLACE, EXCHANGE, WHITEOUT = 1, 2, 4
out = []
def note(*a): out.append(" ".join(str(x) for x in a))
def attempt(name, f, *a):
    try:
        r = f(*a); note(name, "ok", "" if r is None else r)
    except OSError as e:
        note(name, "error", errno.errorcode[e.errno])
def rename2(a, b, flags):
    if libc.renameat2(AT_FDCWD, a.encode(), AT_FDCWD, b.encode(), flags) != 0:
        e = ctypes.get_errno(); raise OSError(e, os.strerror(e))
def getx_small(path, name, size):
    buf = ctypes.create_string_buffer(max(size, 1))
    n = libc.getxattr(path.encode(), name.encode(), buf, ctypes.c_size_t(size))
    if n < 0:
        e = ctypes.get_errno(); raise OSError(e, os.strerror(e))
    return n
def body(p):
    with open(p, "rb") as f: return f.read()
def put(p, data):
    with open(p, "wb") as f: f.write(data)
put("a", b"AAA"); put("b", b"BBBBB"); os.mkdir("d"); put("d/x", b"x")
attempt("noreplace-exists", rename2, "a", "b", NOREPLACE)
note("after", body("a"), body("b"))
attempt("noreplace-new", rename2, "a", "c", NOREPLACE)
note("listing", sorted(os.listdir(".")))
attempt("exchange-files", rename2, "c", "b", EXCHANGE)
note("after", body("b"), body("c"))
attempt("exchange-file-dir", rename2, "c", "d", EXCHANGE)
note("kinds", os.path.isdir("c"), os.path.isfile("d"), os.listdir("c"), body("d"))
attempt("exchange-missing", rename2, "b", "nothing", EXCHANGE)
attempt("exchange-and-noreplace", rename2, "b", "d", EXCHANGE | NOREPLACE)
attempt("exchange-same", rename2, "b", "b", EXCHANGE)
attempt("noreplace-onto-dir", rename2, "b", "c", NOREPLACE)
attempt("plain-dir-over-file", rename2, "c", "b", 0)
note("listing", sorted(os.listdir(".")))
# Extended attributes.
attempt("set", os.setxattr, "b", "user.one", b"1" * 100)
attempt("get", lambda: len(os.getxattr("b", "user.one")))
attempt("set-create-exists", os.setxattr, "b", "user.one", b"2", os.XATTR_CREATE)
attempt("set-replace-missing", os.setxattr, "b", "user.two", b"2", os.XATTR_REPLACE)
attempt("set-replace", os.setxattr, "b", "user.one", b"short", os.XATTR_REPLACE)
attempt("get-after-replace", os.getxattr, "b", "user.one")
attempt("set-empty", os.setxattr, "b", "user.empty", b"")
attempt("get-empty", os.getxattr, "b", "user.empty")
attempt("set-big", os.setxattr, "b", "user.big", bytes(range(256)) * 16)
attempt("get-big", lambda: os.getxattr("b", "user.big") == bytes(range(256)) * 16)
attempt("size-probe", getx_small, "b", "user.big", 0)
attempt("too-small", getx_small, "b", "user.big", 10)
attempt("list", lambda: sorted(os.listxattr("b")))
attempt("get-missing", os.getxattr, "b", "user.none")
attempt("remove", os.removexattr, "b", "user.empty")
attempt("remove-missing", os.removexattr, "b", "user.empty")
attempt("list-after-remove", lambda: sorted(os.listxattr("b")))
attempt("set-dir", os.setxattr, "d", "user.dir", b"on a directory")
attempt("get-dir", os.getxattr, "d", "user.dir")
os.symlink("b", "sym")
attempt("set-on-symlink", lambda: os.setxattr("sym", "user.s", b"s", follow_symlinks=False))
attempt("get-through-symlink", os.getxattr, "sym", "user.one")
attempt("set-trusted", os.setxattr, "b", "trusted.t", b"root only")
attempt("get-trusted", os.getxattr, "b", "trusted.t")
attempt("bad-namespace", os.setxattr, "b", "nonsense.x", b"1")
os.link("b", "b2")
attempt("via-hard-link", lambda: sorted(os.listxattr("b2")))
fd = os.open("b", os.O_RDONLY)
attempt("fset", os.setxattr, fd, "user.fd", b"by descriptor")
attempt("fget", os.getxattr, fd, "user.fd")
os.close(fd)
print("\n".join(out))
PY
new_tmpfs "$tmp/plain"
python3 "$tmp/seq.py" "$tmp/plain" >"$tmp/seq.plain" 2>&1
mount_trackfs seq "quota=64M"
python3 "$tmp/seq.py" "$tmp/seq" >"$tmp/seq.trackfs" 2>&1
check seq-same-as-tmpfs diff -u "$tmp/seq.plain" "$tmp/seq.trackfs"
check seq-exchanged grep -q "^exchange-files ok" "$tmp/seq.trackfs"
check seq-xattr-set grep -q "^get-after-replace ok b'short'" "$tmp/seq.trackfs"
# The charge equals what the backing tmpfs stores, attribute by attribute.
stored=$(python3 - "$tmp/seq.back" <<'PY'
import os, sys
seen, total = set(), 0
for d, dirs, files in os.walk(sys.argv[1]):
    for n in dirs + files:
        p = os.path.join(d, n); st = os.lstat(p)
        if (st.st_dev, st.st_ino) in seen: continue
        seen.add((st.st_dev, st.st_ino))
        for a in os.listxattr(p, follow_symlinks=False):
            total += len(a) + len(os.getxattr(p, a, follow_symlinks=False))
print(total)
PY
)
check seq-some-attributes test "$stored" -gt 4096
equal seq-xattr-bytes-match-backing "$stored" "$(stat_field "$tmp/seq" xattr_bytes)"
unmount_trackfs seq

# ---- 2. The charge, exactly, and ENOSPC for attributes --------------------
mount_trackfs x "quota=3p,inode_cost=0"
x=$tmp/x
printf 'data' >"$x/f"          # one data page
mkdir "$x/dir"
equal x-empty-attrs 0 "$(stat_field "$x" xattr_bytes)"
python3 -c "import os; os.setxattr('$x/f', 'user.a', b'v' * 100)"
equal x-set 106 "$(stat_field "$x" xattr_bytes)"
python3 -c "import os; os.setxattr('$x/f', 'user.a', b'v' * 50)"
equal x-replace-smaller 56 "$(stat_field "$x" xattr_bytes)"
python3 -c "import os; os.setxattr('$x/dir', 'user.dd', b'z' * 10)"
equal x-on-dir 73 "$(stat_field "$x" xattr_bytes)"
equal x-used-one-meta-page 2 "$(stat_field "$x" used_pages)"
python3 -c "import os; os.removexattr('$x/f', 'user.a')"
equal x-removed 17 "$(stat_field "$x" xattr_bytes)"
# A failed set (XATTR_REPLACE of a missing name) charges nothing.
check x-replace-missing-fails python3 -c "
import os, errno
try: os.setxattr('$x/f', 'user.none', b'1', os.XATTR_REPLACE)
except OSError as e: assert e.errno == errno.ENODATA; raise SystemExit(0)
raise SystemExit(1)"
equal x-failed-set-uncharged 17 "$(stat_field "$x" xattr_bytes)"
# Up to the quota: 3 pages = 1 data page + 2 metadata pages (8192 bytes).
python3 -c "import os; os.setxattr('$x/f', 'user.big', b'b' * 4000)"
equal x-big 4025 "$(stat_field "$x" xattr_bytes)"
check x-second-big-fits python3 -c "import os; os.setxattr('$x/dir', 'user.big2', b'b' * 4000)"
equal x-full-attrs 8034 "$(stat_field "$x" xattr_bytes)"
equal x-full-used 3 "$(stat_field "$x" used_pages)"
check x-over-quota-refused python3 -c "
import os, errno
try: os.setxattr('$x/f', 'user.more', b'm' * 200)
except OSError as e: assert e.errno == errno.ENOSPC, e; raise SystemExit(0)
raise SystemExit(1)"
check x-refused-not-stored python3 -c "import os; assert 'user.more' not in os.listxattr('$tmp/x.back/f')"
equal x-enospc-counted 1 "$(stat_field "$x" enospc)"
# Growing an existing attribute is charged by the growth only.
check x-regrow-within python3 -c "import os; os.setxattr('$x/f', 'user.big', b'b' * 4100)"
equal x-regrow 8134 "$(stat_field "$x" xattr_bytes)"
# Unlinking the last link gives the attributes back; an open file keeps them.
ln "$x/f" "$x/f2"
rm "$x/f"
equal x-other-link-keeps 8134 "$(stat_field "$x" xattr_bytes)"
exec {held}<"$x/f2"
rm "$x/f2"
equal x-open-unlinked-keeps 8134 "$(stat_field "$x" xattr_bytes)"
exec {held}<&-
check x-freed-at-close wait_until '[[ $(stat_field "$x" xattr_bytes) == 4026 ]]'
# Rename over a file with attributes gives back the replaced file's.
touch "$x/g" "$x/h"
python3 -c "import os; os.setxattr('$x/h', 'user.h', b'h' * 94)"
equal x-before-rename 4126 "$(stat_field "$x" xattr_bytes)"
mv "$x/g" "$x/h"
equal x-rename-over 4026 "$(stat_field "$x" xattr_bytes)"
rmdir "$x/dir"
equal x-rmdir 0 "$(stat_field "$x" xattr_bytes)"
equal x-all-back 0 "$(stat_field "$x" used_pages)"
# The root's own attributes are charged too.
python3 -c "import os; os.setxattr('$x', 'user.r', b'r' * 20)"
equal x-root-attr 26 "$(stat_field "$x" xattr_bytes)"
unmount_trackfs x
# Remounted: what the backing tree stores in attributes is charged again.
python3 -c "import os; os.setxattr('$tmp/x.back/h', 'user.kept', b'k' * 1000)"
mount_trackfs x "quota=3p,inode_cost=0"
equal x-remount-adopts 1035 "$(stat_field "$x" xattr_bytes)"
unmount_trackfs x

# ---- 3. The statistics attribute ------------------------------------------
mount_trackfs s "quota=64p,inode_cost=1K"
s=$tmp/s
cat >"$tmp/pages.py" <<'PY'
import errno, os, sys
path, page, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
done = 0
try:
    for i in range(count):
        done += os.write(fd, b"p" * page)
except OSError as e:
    print("error", errno.errorcode[e.errno], done); sys.exit(0)
finally:
    os.close(fd)
print("ok", done)
PY
python3 "$tmp/pages.py" "$s/a" "$page" 10 >/dev/null
python3 "$tmp/pages.py" "$s/b" "$page" 5 >/dev/null
want="mode standalone
page_size $page
quota_pages 64
used_pages 16
data_pages 15
inodes 2
xattr_bytes 0
free_pages 48
acquired_pages 0
released_pages 0
stalls 0
stall_ms 0
enospc 0"
equal stats-standalone-exact "$want" "$(python3 -c "import os,sys; print(os.getxattr(sys.argv[1], 'user.trackfs.stats').decode(), end='')" "$s")"
# getfattr-style size probe, and the attribute is hidden, fixed, root-only.
check stats-not-listed python3 -c "import os; assert 'user.trackfs.stats' not in os.listxattr('$s')"
check stats-read-only python3 -c "
import os, errno
for f in (lambda: os.setxattr('$s', 'user.trackfs.stats', b'0'), lambda: os.removexattr('$s', 'user.trackfs.stats')):
    try: f(); raise SystemExit(1)
    except OSError as e: assert e.errno == errno.EPERM, e"
check stats-only-on-root python3 -c "
import os, errno
try: os.getxattr('$s/a', 'user.trackfs.stats'); raise SystemExit(1)
except OSError as e: assert e.errno == errno.ENODATA, e"
read -r result done < <(python3 "$tmp/pages.py" "$s/a" "$page" 100)
equal stats-fill-result "error ENOSPC $((48 * page))" "$result $done"
equal stats-enospc 1 "$(stat_field "$s" enospc)"
equal stats-full 0 "$(stat_field "$s" free_pages)"
rm "$s/a" "$s/b"
equal stats-emptied "0 0 0" "$(stat_field "$s" used_pages) $(stat_field "$s" data_pages) $(stat_field "$s" inodes)"
unmount_trackfs s

# Broker mode: chunks, stalls, the balance as the broker sees it.
total=1000
start_broker $total
mount_trackfs sb "broker=$MEMBROKER_SOCKET,chunk=16p,stall_ms=300,inode_cost=0"
sb=$tmp/sb
python3 "$tmp/pages.py" "$sb/f" "$page" 20 >/dev/null
# 20 single-page writes: the 1st and the 17th waited for a 16-page chunk.
for kv in "mode broker" "quota_pages 32" "used_pages 20" "data_pages 20" "broker_balance 32" \
          "acquired_pages 32" "released_pages 0" "stalls 2" "enospc 0"; do
  equal "stats-broker-${kv% *}" "${kv#* }" "$(stat_field "$sb" "${kv% *}")"
done
equal stats-broker-balance-as-mbctl "$(trackfs_balance)" "$(stat_field "$sb" broker_balance)"
"$mbctl" hold $((total - 32))p --name hog >"$tmp/hog.log" 2>&1 &
hog=$!; pids+=($hog)
check hog-holds wait_for grep -qs "holding" "$tmp/hog.log"
read -r result done < <(python3 "$tmp/pages.py" "$sb/f" "$page" 20)
equal stats-broker-fill "error ENOSPC $((12 * page))" "$result $done"
equal stats-broker-enospc 1 "$(stat_field "$sb" enospc)"
equal stats-broker-stalls 3 "$(stat_field "$sb" stalls)"
check stats-broker-stall-ms test "$(stat_field "$sb" stall_ms)" -ge 0
kill "$hog"; wait "$hog" 2>/dev/null
rm "$sb/f"
# 32 pages of slack is two chunks, within the hysteresis: kept.
equal stats-broker-after-unlink "32 0 0" "$(stat_field "$sb" quota_pages) $(stat_field "$sb" used_pages) $(stat_field "$sb" released_pages)"
equal stats-broker-balance-after "$(trackfs_balance)" "$(stat_field "$sb" broker_balance)"
unmount_trackfs sb
check broker-books-whole wait_until '[[ $(pool) == "$total" ]]'

finish test_trackfs_xattr
