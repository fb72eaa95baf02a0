#!/usr/bin/env bash
# trackfs's write-only handles, which bypass the page cache (direct I/O):
# - what a write takes away, against tmpfs: set-user-ID and set-group-ID
#   (with group execute) go when a process without CAP_FSETID writes, stay
#   when root writes, and security.capability goes whoever writes; both when
#   the file had them at open (the kernel clears them) and when they were
#   set while a write-only handle was open (trackfs clears them, see
#   fs_privs.c); the books drop the removed attribute's bytes;
# - coherence: a reader and a shared mapping through other handles, their
#   pages cached, see what the write-only handle wrote;
# - the books after a shared mapping's write-back to a file with
#   security.capability, which the backing tmpfs drops at trackfs's write.
# usage: test_trackfs_direct.sh TRACKFS
set -uo pipefail
trackfs=${1:?usage: test_trackfs_direct.sh TRACKFS}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/testlib.sh"
. "$here/test_trackfs_lib.sh"
command -v setcap >/dev/null || { echo "SKIP: setcap is not installed"; exit 77; }
id nobody >/dev/null 2>&1 || { echo "SKIP: no user nobody"; exit 77; }

chmod 0755 "$tmp" # the unprivileged writer must reach the mounts
new_tmpfs "$tmp/n"
mount_trackfs m "quota=16M,inode_cost=0,allow_other"

cat >"$tmp/priv.py" <<'PY'
import errno, os, subprocess, sys
# priv.py FILE WRITER MODE BEFORE AFTER: makes FILE (MODE, octal, owned by
# nobody), BEFORE (none|caps) applied; WRITER (nobody|root) opens it
# write-only; then AFTER (none|caps|mode=OCTAL) is applied by root and the
# writer writes a byte through its open descriptor. Prints the mode (octal),
# whether security.capability is left, and the size.
path, writer, mode, before, after = sys.argv[1:6]
nobody = 65534
def caps():
    subprocess.run(['setcap', 'cap_net_raw+ep', path], check=True)
if os.path.lexists(path):
    os.unlink(path)
os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
os.chown(path, nobody, nobody)
os.chmod(path, int(mode, 8))
if before == 'caps':
    caps()
opened_r, opened_w = os.pipe()
go_r, go_w = os.pipe()
pid = os.fork()
if pid == 0:
    if writer == 'nobody':
        os.setgroups([])
        os.setgid(nobody)
        os.setuid(nobody)  # and with it every capability
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    os.write(opened_w, b'o')
    os.read(go_r, 1)
    os._exit(0 if os.write(fd, b'x') == 1 else 1)
os.read(opened_r, 1)
if after == 'caps':
    caps()
elif after.startswith('mode='):
    os.chmod(path, int(after[5:], 8))
os.write(go_w, b'g')
_, status = os.waitpid(pid, 0)
if status != 0:
    sys.exit('the write failed')
st = os.stat(path)
try:
    os.getxattr(path, 'security.capability')
    left = 'caps'
except OSError as e:
    left = 'nocaps' if e.errno == errno.ENODATA else 'error ' + str(e.errno)
print('%o %s %d' % (st.st_mode & 0o7777, left, st.st_size))
PY

# name writer mode before after -> what tmpfs does, which trackfs must do too
run_case() {
  local name=$1 want=$2; shift 2
  local native got
  native=$(python3 "$tmp/priv.py" "$tmp/n/$name" "$@" 2>&1)
  got=$(python3 "$tmp/priv.py" "$tmp/m/$name" "$@" 2>&1)
  equal "$name on tmpfs" "$want" "$native"
  equal "$name on trackfs" "$want" "$got"
}
run_case suid_at_open      "777 nocaps 1"  nobody 6777 none none
run_case suid_set_while_open "777 nocaps 1" nobody 0777 none mode=6777
run_case suid_only         "777 nocaps 1"  nobody 0777 none mode=4777
run_case sgid_only         "777 nocaps 1"  nobody 0777 none mode=2777
run_case sgid_no_group_x   "2767 nocaps 1" nobody 0777 none mode=2767
run_case root_keeps_setid  "6777 nocaps 1" root   0777 none mode=6777
run_case caps_at_open      "777 nocaps 1"  nobody 0777 caps none
run_case caps_set_while_open "777 nocaps 1" nobody 0777 none caps
run_case root_loses_caps   "777 nocaps 1"  root   0777 none caps

# The removed capabilities left the books; what is stored matches them.
equal "xattr bytes after the writes" 0 "$(stat_field "$tmp/m" xattr_bytes)"
equal "inodes after the writes" 9 "$(stat_field "$tmp/m" inodes)"
equal "data pages after the writes" 9 "$(stat_field "$tmp/m" data_pages)"

cat >"$tmp/coherent.py" <<'PY'
import mmap, os, sys
# coherent.py FILE: pages cached by a reader and a shared read mapping,
# then written through a write-only handle; prints what both see then.
path = sys.argv[1]
page = os.sysconf('SC_PAGE_SIZE')
fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_RDWR, 0o644)
os.write(fd, b'a' * (4 * page))
reader = os.open(path, os.O_RDONLY)
mapped = mmap.mmap(fd, 4 * page, mmap.MAP_SHARED, mmap.PROT_READ)
writer = os.open(path, os.O_WRONLY)
os.pread(reader, 4 * page, 0)  # cached (again: an open drops the cache)
mapped[:]
os.pwrite(writer, b'b' * page, page)
os.pwrite(writer, b'c' * 100, 3 * page + 10)
want = b'a' * page + b'b' * page + b'a' * (page + 10) + b'c' * 100 + b'a' * (page - 110)
print('read', 'new' if os.pread(reader, 4 * page, 0) == want else 'stale',
      'mapping', 'new' if mapped[:] == want else 'stale')
PY
equal "coherence on tmpfs" "read new mapping new" "$(python3 "$tmp/coherent.py" "$tmp/n/coherent" 2>&1)"
equal "coherence on trackfs" "read new mapping new" "$(python3 "$tmp/coherent.py" "$tmp/m/coherent" 2>&1)"
equal "data pages after the coherence check" 13 "$(stat_field "$tmp/m" data_pages)"

# A shared mapping's write-back: the kernel clears nothing before it, the
# backing tmpfs drops security.capability at trackfs's write all the same,
# and the books must follow what the backing inode keeps.
backing_xattr_bytes() {
  python3 -c "
import os, sys
top = sys.argv[1]
print(sum(len(a) + len(os.getxattr(os.path.join(top, n), a, follow_symlinks=False))
          for n in os.listdir(top) for a in os.listxattr(os.path.join(top, n), follow_symlinks=False)))" "$tmp/m.back"
}
python3 - "$tmp/m/mapped" <<'PY'
import mmap, os, subprocess, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR, 0o755)
os.write(fd, b'a' * 4096)
subprocess.run(['setcap', 'cap_net_raw+ep', sys.argv[1]], check=True)
m = mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
m[0:1] = b'z'
m.flush()
PY
equal "xattr bytes after a mapped write" "$(backing_xattr_bytes)" "$(stat_field "$tmp/m" xattr_bytes)"
unmount_trackfs m
finish test_trackfs_direct
