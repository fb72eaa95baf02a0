#!/usr/bin/env python3
"""Deterministic inputs for test_gmalloc_programs.sh (run without any preload).

  gen.py tree DIR ENTRIES   a directory tree: nested dirs, files of many sizes
                            (sparse), modes, fixed mtimes, symlinks
  gen.py lines FILE COUNT   COUNT text lines of varied keys and lengths
  gen.py data FILE BYTES    compressible mixed text and binary
"""
import os
import random
import sys


def lcg(state):
    return (state * 6364136223846793005 + 1442695040888963407) & ((1 << 64) - 1)


def tree(root, entries):
    state = 42
    dirs = [root]
    os.makedirs(root, exist_ok=True)
    for n in range(entries):
        state = lcg(state)
        r = state >> 20
        parent = dirs[r % len(dirs)]
        name = "%s%05d.%s" % ("abcdefgh"[r % 8] * (1 + r % 5), n, ("txt", "c", "dat", "log")[r % 4])
        path = os.path.join(parent, name)
        kind = (r >> 8) % 20
        if kind == 0 and len(dirs) < entries // 25 + 1:
            os.mkdir(path)
            os.chmod(path, 0o755 if r & 1 else 0o700)
            dirs.append(path)
        elif kind == 1:
            os.symlink("../" * (r % 3) + "target%d" % (r % 50), path)
        else:
            with open(path, "wb") as f:
                f.truncate((r >> 12) % (1 << ((r >> 16) % 24)))
            os.chmod(path, (0o644, 0o600, 0o755, 0o444)[(r >> 4) % 4])
        stamp = 1500000000 + (r % 300000000)
        os.utime(path, (stamp, stamp), follow_symlinks=False)
    # Directory mtimes last, after their contents stopped changing.
    for i, d in enumerate(reversed(dirs)):
        os.utime(d, (1600000000 + i, 1600000000 + i))


def lines(path, count):
    # random.Random with an int seed is reproducible across Python versions.
    rng = random.Random(7)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    keys = [w * k for w in words for k in (1, 2, 3)]
    bits = rng.getrandbits
    with open(path, "w") as f:
        for _ in range(count // 1000 + 1):
            block = ["%s\t%d\t%x%s\n" % (keys[bits(5) % 24], bits(17), bits(40), "-x" * bits(3))
                     for _ in range(min(1000, count))]
            count -= len(block)
            f.write("".join(block))
            if count <= 0:
                break


def data(path, size):
    state = 99
    chunks = []
    total = 0
    while total < size:
        state = lcg(state)
        r = state >> 16
        if r % 3:
            piece = ("record %d value %d name %s\n" % (total, r % 1000, "q" * (r % 17))).encode()
        else:
            piece = r.to_bytes(8, "little") * (1 + r % 4)
        chunks.append(piece)
        total += len(piece)
    with open(path, "wb") as f:
        f.write(b"".join(chunks)[:size])


def main():
    what, target, amount = sys.argv[1], sys.argv[2], int(sys.argv[3])
    {"tree": tree, "lines": lines, "data": data}[what](target, amount)


if __name__ == "__main__":
    main()
