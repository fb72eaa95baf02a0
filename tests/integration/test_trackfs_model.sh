#!/usr/bin/env bash
# trackfs: quota exactness under random operations from several threads,
# checked against a model after every batch (trackfs_model/model.py):
# standalone with a small quota (ENOSPC often, predicted exactly by
# single-threaded probes), then under a real mbserver, where the broker's
# balance must equal trackfs's own books at every check; and the race the
# model found (an inode named after its last link went), deterministically.
# usage: test_trackfs_model.sh TRACKFS MBSERVER MBCTL [SEED]
set -uo pipefail
trackfs=${1:?usage: test_trackfs_model.sh TRACKFS MBSERVER MBCTL [SEED]}
server=${2:?usage: test_trackfs_model.sh TRACKFS MBSERVER MBCTL [SEED]}
mbctl=${3:?usage: test_trackfs_model.sh TRACKFS MBSERVER MBCTL [SEED]}
seed=${4:-${TRACKFS_MODEL_SEED:-$(date +%s)}}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/testlib.sh"
. "$here/test_trackfs_lib.sh"
model=$here/trackfs_model/model.py
echo "seed $seed (rerun with TRACKFS_MODEL_SEED=$seed)"

# ---- 1. Standalone: 160 pages, 1 KiB per inode ----------------------------
mount_trackfs m "quota=160p,inode_cost=1K"
check model-standalone python3 "$model" "$tmp/m" "$tmp/m.back" --quota 160 --inode-cost 1024 \
  --threads 4 --batches 45 --ops 60 --seed "$seed"
equal standalone-backing-empty "" "$(ls -A "$tmp/m.back")"
unmount_trackfs m
check standalone-clean-exit test $? -eq 0

# ---- 2. Broker mode: the broker's books equal trackfs's -------------------
total=400
start_broker $total
mount_trackfs b "broker=$MEMBROKER_SOCKET,chunk=8p,stall_ms=200,inode_cost=512"
check model-broker python3 "$model" "$tmp/b" "$tmp/b.back" --inode-cost 512 \
  --threads 4 --batches 24 --ops 60 --seed "$((seed + 1))" \
  --broker-json "'$mbctl' status --json"
unmount_trackfs b
check broker-pool-whole wait_until '[[ $(pool) == "$total" ]]'

# ---- 3. The race the model found, made deterministic ---------------------
# A request may name an inode whose last link went after the kernel looked
# it up (here: an O_PATH descriptor, reopened through /proc after the
# unlink). Its storage was given back at the unlink; what is written
# through the new handle is charged and given back at its close, and an
# attribute set on it is refused (ENOENT) instead of charged for good.
mount_trackfs o "quota=64p,inode_cost=0"
o=$tmp/o
cat >"$tmp/reopen.py" <<'PY'
import errno, os, sys, time
mnt, page = sys.argv[1], int(sys.argv[2])
def used():
    text = os.getxattr(mnt, "user.trackfs.stats").decode()
    return dict(l.split(" ", 1) for l in text.splitlines())["used_pages"]
out = []
with open(mnt + "/f", "wb") as f:
    f.write(b"a" * 4 * page)
out.append(used())
path_fd = os.open(mnt + "/f", os.O_PATH)
os.unlink(mnt + "/f")
out.append(used())
w = os.open("/proc/self/fd/%d" % path_fd, os.O_WRONLY)
os.write(w, b"b" * 3 * page)
out.append(used())
os.close(w)
for _ in range(100):
    if used() == "0":
        break
    time.sleep(0.05)
out.append(used())
try:
    os.setxattr("/proc/self/fd/%d" % path_fd, "user.x", b"1" * 100)
    out.append("set")
except OSError as e:
    out.append(errno.errorcode[e.errno])
out.append(used())
os.close(path_fd)
print(" ".join(out))
PY
# used: 4 pages written, 0 after the unlink, 3 while reopened, 0 after close.
equal reopen-after-unlink "4 0 3 0 ENOENT 0" "$(python3 "$tmp/reopen.py" "$o" "$page")"
equal reopen-books "0 0 0" "$(stat_field "$o" data_pages) $(stat_field "$o" inodes) $(stat_field "$o" xattr_bytes)"
unmount_trackfs o

finish test_trackfs_model
