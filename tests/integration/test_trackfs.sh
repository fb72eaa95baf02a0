#!/usr/bin/env bash
# trackfs on real FUSE mounts: POSIX behaviour against plain tmpfs, quota
# exactness in standalone mode, refusals at mount, and broker mode against a
# real mbserver (ENOSPC within the stall time, balance as the broker sees it).
# usage: test_trackfs.sh TRACKFS MBSERVER MBCTL
# Exit 77 (skipped) only when FUSE cannot be used here, with the reason.
set -uo pipefail
trackfs=${1:?usage: test_trackfs.sh TRACKFS MBSERVER MBCTL}
server=${2:?usage: test_trackfs.sh TRACKFS MBSERVER MBCTL}
mbctl=${3:?usage: test_trackfs.sh TRACKFS MBSERVER MBCTL}

here=$(cd "$(dirname "$0")" && pwd)
. "$here/testlib.sh"
. "$here/test_trackfs_lib.sh"
books() { # books NAME FIELD: a figure of the last "books:" line after SIGUSR1
  local name=$1 field=$2 pidvar=${1}_pid before
  before=$(grep -c "books:" "$tmp/$name.log")
  kill -USR1 "${!pidvar}"
  wait_until '[[ $(grep -c "books:" "$tmp/$name.log") -gt $before ]]' || return 1
  grep "books:" "$tmp/$name.log" | tail -n 1 | sed -E "s/.*[ (]$field ([0-9]+).*/\1/"
}

# ---- 1. POSIX operations: the same sequence on tmpfs and on trackfs ------
cat >"$tmp/posix.py" <<'PY'
import errno, hashlib, os, stat, sys
top = sys.argv[1]
os.chdir(top)
out = []
def note(*a): out.append(" ".join(str(x) for x in a))
def attempt(name, f, *a):
    try:
        r = f(*a); note(name, "ok", "" if r is None else r)
    except OSError as e:
        note(name, "error", errno.errorcode[e.errno])
def desc(path):
    st = os.lstat(path)
    kind = stat.S_IFMT(st.st_mode)
    size = st.st_size if not stat.S_ISDIR(st.st_mode) else "-"
    return "%s mode=%o kind=%o nlink=%d size=%s" % (path, stat.S_IMODE(st.st_mode), kind, st.st_nlink, size)
def content(path):
    with open(path, "rb") as f: return hashlib.sha256(f.read()).hexdigest()[:16]
os.umask(0o022)
with open("a", "w") as f: f.write("hello\n")
note(desc("a"), content("a"))
with open("a", "a") as f: f.write("appended\n")
note(desc("a"), content("a"))
with open("a", "r+b") as f:
    f.seek(3); f.write(b"XY"); f.seek(0); note("read", f.read())
with open("b", "wb") as f:
    f.write(os.urandom(1) * 0 + bytes(range(256)) * 300)
note(desc("b"), content("b"))
os.truncate("b", 1000); note(desc("b"), content("b"))
os.truncate("b", 70000); note(desc("b"), content("b"))
with open("b", "r+b") as f:
    f.truncate(10); note(desc("b"), content("b"))
fd = os.open("c", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o640)
os.pwrite(fd, b"x" * 10, 1 << 20); os.close(fd)
note(desc("c"), content("c"))
# Holes: SEEK_DATA and SEEK_HOLE see the same file layout as on tmpfs.
fd = os.open("c", os.O_RDONLY)
for off, whence in ((0, os.SEEK_DATA), (0, os.SEEK_HOLE), (8192, os.SEEK_HOLE),
                    ((1 << 20) + 4096, os.SEEK_HOLE), ((1 << 20) + 8192, os.SEEK_DATA)):
    attempt("lseek %d %d" % (off, whence), os.lseek, fd, off, whence)
os.close(fd)
attempt("create-excl-again", os.open, "c", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
os.rename("c", "c2"); note(desc("c2"))
attempt("stat-old-name", os.stat, "c")
os.link("a", "alink"); note(desc("a"), desc("alink"))
attempt("link-exists", os.link, "a", "alink")
os.symlink("a", "sym"); note(desc("sym"), os.readlink("sym"), content("sym"))
os.symlink("x" * 300, "longsym"); note(desc("longsym"), len(os.readlink("longsym")))
os.mkdir("d", 0o750); note(desc("d"))
os.mkdir("d/e"); note(desc("d"))
attempt("rmdir-nonempty", os.rmdir, "d")
os.rename("alink", "d/moved"); note(desc("a"), desc("d/moved"))
os.rename("b", "a")  # replaces a; a's other link d/moved keeps the data
note(desc("a"), desc("d/moved"), content("d/moved"))
attempt("rename-noent", os.rename, "nothing", "x")
os.chmod("a", 0o600); note(desc("a"))
os.chown("a", 1234, 5678); st = os.stat("a"); note("owner", st.st_uid, st.st_gid)
os.utime("a", (1000000000, 1100000000)); st = os.stat("a"); note("times", int(st.st_atime), int(st.st_mtime))
fd = os.open("open-unlinked", os.O_CREAT | os.O_RDWR, 0o600)
os.write(fd, b"still here"); os.unlink("open-unlinked")
note("after-unlink", os.pread(fd, 20, 0), os.fstat(fd).st_nlink); os.close(fd)
attempt("unlink-noent", os.unlink, "open-unlinked")
os.mkfifo("fifo", 0o600); note(desc("fifo"))
# A set-group-ID directory gives its group to what is made in it, and its
# set-group-ID bit to new directories.
os.mkdir("sg"); os.chown("sg", 0, 4321); os.chmod("sg", 0o2775)
with open("sg/file", "w") as f: f.write("x")
os.mkdir("sg/dir"); os.mkfifo("sg/fifo"); os.symlink("file", "sg/link")
os.mknod("sg/node", 0o600 | stat.S_IFREG)
for n in ("file", "dir", "fifo", "link", "node"):
    st = os.lstat("sg/" + n); note("setgid-dir", n, st.st_uid, st.st_gid, "%o" % stat.S_IMODE(st.st_mode))
for i in range(300): open("d/e/f%03d" % i, "w").close()
note("readdir-big", len(os.listdir("d/e")), sorted(os.listdir("d/e"))[:3])
for i in range(300): os.unlink("d/e/f%03d" % i)
os.rmdir("d/e"); note(desc("d"))
attempt("rmdir-file", os.rmdir, "a")
attempt("unlink-dir", os.unlink, "d")
note("readdir", sorted(os.listdir(".")))
for name in sorted(os.listdir(".")): note(desc(name))
print("\n".join(out))
PY
new_tmpfs "$tmp/plain"
python3 "$tmp/posix.py" "$tmp/plain" >"$tmp/posix.plain" 2>&1
mount_trackfs posix "quota=64M"
python3 "$tmp/posix.py" "$tmp/posix" >"$tmp/posix.trackfs" 2>&1
check posix-same-as-tmpfs diff -u "$tmp/posix.plain" "$tmp/posix.trackfs"
check posix-ran grep -q "readdir-big ok\|readdir-big 300" "$tmp/posix.trackfs"
# The books equal what the backing tmpfs stores.
stored=$(python3 - "$tmp/posix.back" "$page" <<'PY'
import os, sys
top, page = sys.argv[1], int(sys.argv[2]); seen = set(); pages = 0; inodes = 0
for d, dirs, files in os.walk(top):
    for n in dirs + files:
        st = os.lstat(os.path.join(d, n))
        if (st.st_dev, st.st_ino) in seen: continue
        seen.add((st.st_dev, st.st_ino)); inodes += 1
        pages += (st.st_blocks * 512 + page - 1) // page
print(pages, inodes)
PY
)
equal posix-books-data "${stored% *}" "$(books posix data)"
equal posix-books-inodes "${stored#* }" "$(books posix inodes)"
unmount_trackfs posix
check posix-daemon-exited test $? -eq 0

# ---- 2. Standalone quota: exact, refused, given back ----------------------
quota_pages=256
mount_trackfs quota "quota=${quota_pages}p,inode_cost=4K"
cat >"$tmp/fill.py" <<'PY'
import errno, os, sys
path, page = sys.argv[1], int(sys.argv[2])
fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
written = 0
while True:
    try:
        n = os.write(fd, b"q" * page)
        written += n
    except OSError as e:
        assert e.errno == errno.ENOSPC, e
        break
os.close(fd)
print(written)
PY
statfs() { python3 -c "import os,sys; s=os.statvfs(sys.argv[1]); print(s.f_frsize, s.f_blocks, s.f_bfree, s.f_bavail)" "$1"; }
equal quota-statfs-empty "$page $quota_pages $quota_pages $quota_pages" "$(statfs "$tmp/quota")"
written=$(python3 "$tmp/fill.py" "$tmp/quota/fill" "$page")
# One page goes to the inode (4 KiB), the rest to data.
equal quota-fill-bytes $(((quota_pages - 1) * page)) "$written"
backing_bytes=$(( $(stat -c %b "$tmp/quota.back/fill") * 512 ))
equal quota-backing-stores "$written" "$backing_bytes"
equal quota-statfs-full "$page $quota_pages 0 0" "$(statfs "$tmp/quota")"
# Overwriting stored pages needs no quota; holes cost nothing.
check quota-overwrite-at-full python3 -c "
import os,sys; fd=os.open(sys.argv[1], os.O_WRONLY); os.pwrite(fd, b'o'*8192, 4096); os.close(fd)" "$tmp/quota/fill"
check quota-sparse-at-full truncate -s 1G "$tmp/quota/fill"
check quota-create-refused-at-full bash -c "! touch '$tmp/quota/another' 2>/dev/null"
equal quota-refused-no-file "" "$(ls "$tmp/quota.back" | grep -v '^fill$')"
rm "$tmp/quota/fill"
equal quota-statfs-after-unlink "$page $quota_pages $quota_pages $quota_pages" "$(statfs "$tmp/quota")"
equal quota-fill-again $(((quota_pages - 1) * page)) "$(python3 "$tmp/fill.py" "$tmp/quota/fill" "$page")"
# Truncating down gives back at once; an unlinked open file keeps its pages until closed.
truncate -s $((100 * page)) "$tmp/quota/fill"
equal quota-truncate-down "$page $quota_pages $((quota_pages - 101)) $((quota_pages - 101))" "$(statfs "$tmp/quota")"
exec {held_fd}<"$tmp/quota/fill"
rm "$tmp/quota/fill"
equal quota-open-unlinked-held "$((quota_pages - 101))" "$(statfs "$tmp/quota" | cut -d' ' -f3)"
exec {held_fd}<&-
check quota-freed-at-close wait_until '[[ $(statfs "$tmp/quota" | cut -d" " -f3) == "$quota_pages" ]]'
equal quota-refusals-counted 3 "$(books quota refusals)"
# Four writers at once fill exactly the quota: one page per inode, the rest
# data, never a page more (each stops at its first ENOSPC, when none is free).
read -r total_written data_stored < <(python3 - "$tmp/quota" "$tmp/quota.back" "$page" <<'PY'
import errno, os, sys, threading
mnt, back, page = sys.argv[1], sys.argv[2], int(sys.argv[3])
written = [0] * 4
fds = [os.open(os.path.join(mnt, "w%d" % i), os.O_CREAT | os.O_WRONLY, 0o600) for i in range(4)]
def writer(i):
    fd = fds[i]
    try:
        while True:
            written[i] += os.write(fd, b"c" * page)
    except OSError as e:
        assert e.errno == errno.ENOSPC, e
    os.close(fd)
threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
for t in threads: t.start()
for t in threads: t.join()
stored = sum(os.stat(os.path.join(back, "w%d" % i)).st_blocks * 512 for i in range(4))
print(sum(written), stored)
PY
)
equal quota-parallel-written $(((quota_pages - 4) * page)) "$total_written"
equal quota-parallel-stored $(((quota_pages - 4) * page)) "$data_stored"
rm -f "$tmp"/quota/w?
equal quota-parallel-freed "$page $quota_pages $quota_pages $quota_pages" "$(statfs "$tmp/quota")"
unmount_trackfs quota

# ---- 3. Mount refused when the backing directory holds more than the quota
new_tmpfs "$tmp/over.back"
head -c $((20 * page)) /dev/urandom >"$tmp/over.back/data"
mkdir -p "$tmp/over"
out=$("$trackfs" -f -o quota=10p "$tmp/over.back" "$tmp/over" 2>&1); status=$?
equal over-refused-status 1 "$status"
check over-refused-message grep -q "already stores 21 pages .* only 10 pages of quota could be had: not mounting" <<<"$out"
check over-not-mounted bash -c "! grep -qs ' $tmp/over fuse' /proc/mounts"
mount_trackfs over "quota=21p"
equal over-adopted "21" "$(books over used)"
unmount_trackfs over

# Each file the kernel remembers holds a descriptor in trackfs: started with
# a soft limit of 256 (systemd gives services 1024), it raises the limit to
# the hard one, and a thousand files stay usable.
mkdir -p "$tmp/many"; new_tmpfs "$tmp/many.back"
prlimit --nofile=256:8192 "$trackfs" -f -o "quota=64M,$transport_opt" "$tmp/many.back" \
  "$tmp/many" >"$tmp/many.log" 2>&1 &
many_pid=$!; pids+=($many_pid); mounts+=("$tmp/many")
check many-mounted wait_for is_mounted "$tmp/many"
equal many-files-created "1000 1000" "$(python3 -c '
import os, sys
top = sys.argv[1]
for i in range(1000):
    with open(os.path.join(top, "f%d" % i), "w") as f:
        f.write("x")
print(len(os.listdir(top)), sum(os.stat(os.path.join(top, n)).st_size for n in os.listdir(top)))
' "$tmp/many" 2>&1)"
unmount_trackfs many

# ---- 4. Broker mode against mbserver ------------------------------------
export MEMBROKER_SOCKET=$tmp/run/socket
total=1000
MBSERVER_REQUEST_TIMEOUT=300ms "$server" --foreground --socket "$MEMBROKER_SOCKET" --total ${total}p --log-level err &
pids+=($!)
wait_for test -S "$MEMBROKER_SOCKET" || { echo "FAIL mbserver did not start"; exit 1; }

stall_ms=300
mount_trackfs broker "broker=$MEMBROKER_SOCKET,chunk=16p,stall_ms=$stall_ms,inode_cost=0"
equal broker-idle-balance 0 "$(trackfs_balance)"
head -c $((20 * page)) /dev/zero >"$tmp/broker/f1"
# 20 pages used, taken in 16-page chunks: 32 held.
equal broker-balance-chunks 32 "$(trackfs_balance)"
equal broker-books-held 32 "$(books broker held)"
equal broker-books-balance 32 "$(books broker balance)"
# Exhaust the pool with a holder; trackfs's unused slack goes to it too.
"$mbctl" hold $((total - 20))p --name hog >"$tmp/hog.log" 2>&1 &
hog=$!; pids+=($hog)
check hog-holds wait_for grep -qs "holding" "$tmp/hog.log"
check broker-pool-empty wait_until '[[ $(pool) == 0 ]]'
cat >"$tmp/timed_write.py" <<'PY'
import errno, os, sys, time
path, size = sys.argv[1], int(sys.argv[2])
t0 = time.monotonic()
try:
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
    os.write(fd, b"w" * size); os.close(fd); result = "ok"
except OSError as e:
    result = errno.errorcode[e.errno]
print(result, int((time.monotonic() - t0) * 1000))
PY
read -r result ms < <(python3 "$tmp/timed_write.py" "$tmp/broker/f1" $((8 * page)))
equal broker-enospc-when-pool-empty ENOSPC "$result"
check broker-enospc-within-stall test "$ms" -lt $((stall_ms + 1500))
kill "$hog"; wait "$hog" 2>/dev/null
check broker-pool-back wait_until '[[ $(pool) -gt 0 ]]'
read -r result ms < <(python3 "$tmp/timed_write.py" "$tmp/broker/f1" $((8 * page)))
equal broker-write-after-holder-exits ok "$result"
balance=$(trackfs_balance)
equal broker-status-matches-books "$balance" "$(books broker balance)"
equal broker-held-matches-books "$balance" "$(books broker held)"
equal broker-used 28 "$(books broker used)"
# Unlinking gives back what lies unused beyond two chunks, keeping one.
rm "$tmp/broker/f1"
check broker-gives-back wait_until '[[ $(trackfs_balance) -le 32 ]]'
equal broker-status-after-unlink "$(trackfs_balance)" "$(books broker held)"
unmount_trackfs broker
check broker-balance-returned wait_until '[[ $(pool) == "$total" ]]'

# In the background (no -f) the process that serves owns the broker
# connection: it forks before connecting, and its parent exits 0 once mounted.
mkdir -p "$tmp/bg"; new_tmpfs "$tmp/bg.back"
"$trackfs" -o "broker=$MEMBROKER_SOCKET,chunk=16p,inode_cost=0" "$tmp/bg.back" "$tmp/bg" >"$tmp/bg.log" 2>&1
equal bg-parent-status 0 "$?"
mounts+=("$tmp/bg")
check bg-mounted is_mounted "$tmp/bg"
head -c "$page" /dev/zero >"$tmp/bg/one"
equal bg-balance 16 "$(trackfs_balance)"
fusermount3 -u "$tmp/bg"
check bg-balance-returned wait_until '[[ $(pool) == "$total" ]]'
out=$("$trackfs" -o quota=1p "$tmp/bg.back" "$tmp/bg" 2>&1); status=$?
equal bg-refused-status 1 "$status"
check bg-refused-message grep -q "not mounting" <<<"$out"

# A broker that cannot cover what the backing directory stores: no mount.
"$mbctl" hold ${total}p --name hog2 >"$tmp/hog2.log" 2>&1 &
hog=$!; pids+=($hog)
check hog2-holds wait_for grep -qs "holding" "$tmp/hog2.log"
new_tmpfs "$tmp/full.back"
head -c $((5 * page)) /dev/zero >"$tmp/full.back/data"
mkdir -p "$tmp/full"
out=$("$trackfs" -f -o "broker=$MEMBROKER_SOCKET" "$tmp/full.back" "$tmp/full" 2>&1); status=$?
equal full-refused-status 1 "$status"
check full-refused-message grep -q "not mounting" <<<"$out"
kill "$hog"; wait "$hog" 2>/dev/null

out=$("$trackfs" -f -o "broker=$tmp/nowhere" "$tmp/full.back" "$tmp/full" 2>&1); status=$?
equal no-broker-status 1 "$status"
check no-broker-message grep -q "cannot reach the broker" <<<"$out"
out=$("$trackfs" -o quota=12Q "$tmp/full.back" "$tmp/full" 2>&1); status=$?
equal bad-option-status 2 "$status"
check bad-option-message grep -q "quota=: unknown size suffix" <<<"$out"

echo "test_trackfs: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
