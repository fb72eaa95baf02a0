#!/usr/bin/env python3
"""Random-sequence model test of trackfs's quota books (driver of
test_trackfs_model.sh).

Several threads run random operations (create, write, truncate, fallocate,
punch-hole, rename, link, unlink, unlink-while-open, set/remove xattr) on a
shared set of names below a trackfs mount. After every batch, when all
threads are idle, the books in user.trackfs.stats must equal what the model
computes from the backing tree (distinct inodes: st_blocks in pages, the
inode count, attribute bytes; metadata rounded up to pages as a whole):
used_pages, data_pages, inodes, xattr_bytes, free_pages.

ENOSPC is checked three ways:
- "growth" batches run only operations that never shrink storage, so the
  usage at a refusal is at most the usage at the end of the batch: each
  refusal of a charge of at most N pages needs used_end + N > quota;
- after each batch the main thread alone runs probes whose outcome the
  model predicts exactly (a write of k pages with F free succeeds for
  min(k, F) pages and is refused iff k > F; a create and an attribute set
  are refused iff their metadata pages do not fit);
- the enospc counter equals the refusals the threads and probes saw.
A monitor thread reads the statistics throughout: used never exceeds the
quota. At the end everything is removed and the books return to zero.

With --broker-json CMD (broker mode) the quota is what the broker granted:
the probes and growth bounds are skipped; instead at every check the
broker's balance for "trackfs" (CMD prints `mbctl status --json`) equals
quota_pages and broker_balance in the statistics.

Prints one summary line; exits 1 with the reasons on a mismatch.
"""
import argparse
import ctypes
import errno
import json
import os
import random
import subprocess
import sys
import threading
import time

PAGE = os.sysconf("SC_PAGE_SIZE")
FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE = 1, 2
_libc = ctypes.CDLL(None, use_errno=True)
_fallocate = getattr(_libc, "fallocate64", None) or _libc.fallocate
_fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
_fallocate.restype = ctypes.c_int

# Errors a racing operation may legitimately get; anything else is a failure.
BENIGN = {errno.ENOENT, errno.EEXIST, errno.ENODATA}


def fallocate(fd, mode, off, length):
    if _fallocate(fd, mode, off, length) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def pages_spanned(off, length):
    return 0 if length == 0 else (off + length - 1) // PAGE - off // PAGE + 1


def ceil_pages(nbytes):
    return (nbytes + PAGE - 1) // PAGE


class Run:
    def __init__(self, a):
        self.a = a
        self.mnt, self.back = a.mount, a.backing
        self.failures = []
        self.lock = threading.Lock()
        self.refusals = 0  # ENOSPC seen by anyone
        self.grow_refusals = []  # (need) of refusals in growth batches
        self.checks = 0
        self.max_used = self.max_quota = 0
        self.ops = 0
        self.op_counts = {}
        dirs = ["", "d1", "d2"]
        self.names = [os.path.join(d, "f%d" % i) for d in dirs for i in range(6)]

    def fail(self, msg):
        with self.lock:
            if len(self.failures) < 30:
                self.failures.append(msg)

    # ---- the books and the model ----------------------------------------
    def stats(self):
        text = os.getxattr(self.mnt, "user.trackfs.stats").decode()
        out = {}
        for line in text.splitlines():
            k, v = line.split(" ", 1)
            out[k] = int(v) if v.isdigit() else v
        return out

    def measure(self):
        seen, data, inodes = set(), 0, 0
        xattr = self.xattr_bytes(self.back)
        for d, dirs, files in os.walk(self.back):
            for n in dirs + files:
                p = os.path.join(d, n)
                st = os.lstat(p)
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
                inodes += 1
                data += ceil_pages(st.st_blocks * 512)
                xattr += self.xattr_bytes(p)
        meta = ceil_pages(inodes * self.a.inode_cost + xattr)
        return {"used_pages": data + meta, "data_pages": data, "inodes": inodes,
                "xattr_bytes": xattr}

    @staticmethod
    def xattr_bytes(p):
        total = 0
        for name in os.listxattr(p, follow_symlinks=False):
            try:
                total += len(name) + len(os.getxattr(p, name, follow_symlinks=False))
            except OSError:
                pass
        return total

    def broker_balance(self):
        out = subprocess.run(self.a.broker_json, shell=True, check=True,
                             capture_output=True, text=True).stdout
        for c in json.loads(out)["clients"]:
            if c["name"] == "trackfs":
                return c["balance"]
        return None

    def check_books(self, where):
        """Waits (up to 5 s: a close's release reaches trackfs after close
        returns) until the books equal the model, then checks them whole."""
        deadline = time.monotonic() + 5
        while True:
            s, m = self.stats(), self.measure()
            got = {k: s[k] for k in m}
            if got == m or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        self.checks += 1
        if got != m:
            self.fail("%s: books %s, model %s" % (where, got, m))
        if s["used_pages"] > s["quota_pages"]:
            self.fail("%s: used %d > quota %d" % (where, s["used_pages"], s["quota_pages"]))
        if s["free_pages"] != s["quota_pages"] - s["used_pages"]:
            self.fail("%s: free %d != quota %d - used %d" %
                      (where, s["free_pages"], s["quota_pages"], s["used_pages"]))
        if self.a.broker_json:
            bal = self.broker_balance()
            if not (bal == s["quota_pages"] == s["broker_balance"]):
                self.fail("%s: broker balance %s, quota_pages %d, broker_balance %d" %
                          (where, bal, s["quota_pages"], s["broker_balance"]))
        elif s["quota_pages"] != self.a.quota:
            self.fail("%s: quota_pages %d, want %d" % (where, s["quota_pages"], self.a.quota))
        return s

    # ---- the threads ------------------------------------------------------
    def monitor(self, stop):
        while not stop.is_set():
            s = self.stats()
            self.max_used = max(self.max_used, s["used_pages"])
            self.max_quota = max(self.max_quota, s["quota_pages"])
            if s["used_pages"] > s["quota_pages"]:
                self.fail("monitor: used %d > quota %d" % (s["used_pages"], s["quota_pages"]))
            time.sleep(0.003)

    def refused(self, growth, need):
        with self.lock:
            self.refusals += 1
            if growth:
                self.grow_refusals.append(need)

    def worker(self, tid, seed, nops, growth):
        rng = random.Random(seed)
        P = lambda n: os.path.join(self.mnt, n)
        meta_need = ceil_pages(self.a.inode_cost)
        grow_ops = ["create", "write", "write", "fallocate", "link", "xattr"]
        all_ops = grow_ops + ["truncate", "otrunc", "punch", "rename", "rename", "unlink",
                              "unlink_open", "rmxattr", "xattr_shrink"]
        for _ in range(nops):
            op = rng.choice(grow_ops if growth else all_ops)
            a, b = rng.choice(self.names), rng.choice(self.names)
            need = 0
            fd = -1
            try:
                if op == "create":
                    need = meta_need
                    fd = os.open(P(a), os.O_WRONLY | os.O_CREAT, 0o644)
                elif op in ("write", "fallocate", "punch", "unlink_open"):
                    off = rng.randrange(0, 48 * PAGE)
                    length = rng.randrange(1, 8 * PAGE)
                    need = meta_need
                    flags = os.O_WRONLY if op == "punch" else os.O_WRONLY | os.O_CREAT
                    fd = os.open(P(a), flags, 0o644)
                    if op == "unlink_open":
                        os.unlink(P(a))
                    need = pages_spanned(off, length)
                    if op == "fallocate":
                        fallocate(fd, 0, off, length)
                    elif op == "punch":
                        fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, length)
                    else:
                        # The kernel may split a write into several requests;
                        # a refused later one makes a short write (one
                        # refusal), and the rest is refused again when
                        # retried, as here.
                        done = 0
                        while done < length:
                            need = pages_spanned(off + done, length - done)
                            n = os.pwrite(fd, b"m" * (length - done), off + done)
                            if n < length - done:
                                self.refused(growth, need)
                            done += n
                elif op == "truncate":
                    os.truncate(P(a), rng.randrange(0, 56 * PAGE))
                elif op == "otrunc":
                    fd = os.open(P(a), os.O_WRONLY | os.O_TRUNC)
                elif op == "rename":
                    os.rename(P(a), P(b))
                elif op == "link":
                    os.link(P(a), P(b))
                elif op == "unlink":
                    os.unlink(P(a))
                elif op in ("xattr", "xattr_shrink"):
                    # Growth batches touch only this thread's names, never
                    # making one smaller, so storage only grows.
                    name = "user.t%d.%d" % (tid, rng.randrange(3))
                    try:
                        old = len(os.getxattr(P(a), name))
                        old_cost = old
                    except OSError as e:
                        if e.errno != errno.ENODATA:
                            raise
                        old, old_cost = 0, -len(name)
                    size = rng.randrange(0, 3000)
                    if op == "xattr":
                        size = max(size, old)
                    need = ceil_pages(max(size - old_cost, 0))
                    os.setxattr(P(a), name, b"x" * size)
                elif op == "rmxattr":
                    os.removexattr(P(a), "user.t%d.%d" % (tid, rng.randrange(3)))
            except OSError as e:
                if e.errno == errno.ENOSPC:
                    self.refused(growth, need)
                elif e.errno not in BENIGN:
                    self.fail("thread %d %s %s %s: %s" % (tid, op, a, b, e))
            finally:
                if fd >= 0:
                    os.close(fd)
            with self.lock:
                self.ops += 1
                self.op_counts[op] = self.op_counts.get(op, 0) + 1

    # ---- exact single-threaded probes -------------------------------------
    def expect_refused(self, what, fn, refused_wanted):
        try:
            fn()
            got = False
        except OSError as e:
            if e.errno != errno.ENOSPC:
                self.fail("probe %s: %s" % (what, e))
                return False
            got = True
            self.refusals += 1
        if got != refused_wanted:
            self.fail("probe %s: refused %s, model says %s" % (what, got, refused_wanted))
        return not got

    def probes(self, rng, where):
        s = self.stats()
        free = s["quota_pages"] - s["used_pages"]
        probe = os.path.join(self.mnt, "probe")
        # A write of k pages, one page per call: min(k, free) pages land.
        k = max(1, free + rng.choice((0, 1)))
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        written, refused = 0, False
        try:
            for _ in range(k):
                os.write(fd, b"p" * PAGE)
                written += 1
        except OSError as e:
            if e.errno != errno.ENOSPC:
                self.fail("probe write: %s" % e)
            refused = True
            self.refusals += 1
        finally:
            os.close(fd)
        if written != min(k, free) or refused != (k > free):
            self.fail("%s probe write %d of %d free: wrote %d, refused %s" %
                      (where, k, free, written, refused))
        s2 = self.stats()
        if s2["used_pages"] != s["used_pages"] + written:
            self.fail("%s probe write: used %d -> %d for %d pages" %
                      (where, s["used_pages"], s2["used_pages"], written))
        # At (or near) full: a new inode and an attribute, by the model.
        meta = s2["inodes"] * self.a.inode_cost + s2["xattr_bytes"]
        free2 = s2["quota_pages"] - s2["used_pages"]
        need = ceil_pages(meta + self.a.inode_cost) - ceil_pages(meta)
        extra = os.path.join(self.mnt, "probe.new")
        if self.expect_refused("create", lambda: os.close(os.open(extra, os.O_CREAT | os.O_WRONLY)),
                               need > free2):
            os.unlink(extra)
            # The inode is given back at the close's release, which reaches
            # trackfs after close returns (over io_uring it is served on the
            # closing CPU's queue, and under load after the unlink): wait.
            deadline = time.monotonic() + 5
            while self.stats()["inodes"] != s2["inodes"] and time.monotonic() < deadline:
                time.sleep(0.005)
        size = rng.randrange(1, 2 * PAGE)
        name = "user.probe"
        need = ceil_pages(meta + len(name) + size) - ceil_pages(meta)
        if self.expect_refused("xattr", lambda: os.setxattr(probe, name, b"q" * size), need > free2):
            os.removexattr(probe, name)
        os.truncate(probe, 0)
        s3 = self.stats()
        if s3["used_pages"] != s["used_pages"]:
            self.fail("%s probe undone: used %d, was %d" % (where, s3["used_pages"], s["used_pages"]))

    # ---- the run -----------------------------------------------------------
    def run(self):
        a = self.a
        rng = random.Random(a.seed)
        for d in ("d1", "d2"):
            os.mkdir(os.path.join(self.mnt, d))
        if not a.broker_json:
            os.close(os.open(os.path.join(self.mnt, "probe"), os.O_CREAT | os.O_WRONLY, 0o644))
        base = self.stats()["enospc"]
        self.check_books("start")
        stop = threading.Event()
        mon = threading.Thread(target=self.monitor, args=(stop,))
        mon.start()
        growth_batches = 0
        try:
            for batch in range(a.batches):
                growth = batch % 3 == 1
                growth_batches += growth
                start = len(self.grow_refusals)
                ts = [threading.Thread(target=self.worker,
                                       args=(t, rng.getrandbits(32), a.ops, growth))
                      for t in range(a.threads)]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join()
                s = self.check_books("batch %d" % batch)
                if growth and not a.broker_json:
                    for need in self.grow_refusals[start:]:
                        if s["used_pages"] + need <= s["quota_pages"]:
                            self.fail("batch %d: a charge of at most %d pages refused, "
                                      "used %d of %d at the end" %
                                      (batch, need, s["used_pages"], s["quota_pages"]))
                if not a.broker_json:
                    self.probes(rng, "batch %d" % batch)
                    self.check_books("batch %d probes" % batch)
                if len(self.failures) >= 10:
                    break
        finally:
            stop.set()
            mon.join()
        s = self.stats()
        if s["enospc"] - base != self.refusals:
            self.fail("enospc counter went up by %d, refusals seen %d" %
                      (s["enospc"] - base, self.refusals))
        # Everything removed: the books return to zero.
        for d, dirs, files in os.walk(self.mnt, topdown=False):
            for n in files:
                os.unlink(os.path.join(d, n))
            for n in dirs:
                os.rmdir(os.path.join(d, n))
        end = self.check_books("emptied")
        for k in ("used_pages", "data_pages", "inodes", "xattr_bytes"):
            if end[k] != 0:
                self.fail("emptied: %s is %d" % (k, end[k]))
        print("model: threads %d batches %d (growth %d) ops %d checks %d refusals %d "
              "(growth %d) max used %d, max quota %d pages; ops %s" %
              (a.threads, a.batches, growth_batches, self.ops, self.checks, self.refusals,
               len(self.grow_refusals), self.max_used, self.max_quota,
               " ".join("%s=%d" % kv for kv in sorted(self.op_counts.items()))))
        for f in self.failures:
            print("FAIL", f)
        return 1 if self.failures else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("mount")
    p.add_argument("backing")
    p.add_argument("--quota", type=int, default=0, help="standalone quota in pages")
    p.add_argument("--inode-cost", type=int, default=1024)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--batches", type=int, default=30)
    p.add_argument("--ops", type=int, default=60, help="operations per thread per batch")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--broker-json", default="", help="command printing mbctl status --json")
    a = p.parse_args()
    print("seed", a.seed)
    sys.exit(Run(a).run())


if __name__ == "__main__":
    main()
