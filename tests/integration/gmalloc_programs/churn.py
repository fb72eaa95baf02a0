#!/usr/bin/env python3
"""Churns dicts, lists and strings across threads, then prints JSON.

Used by test_gmalloc_programs.sh: run once plainly and once under a preloaded
malloc, the output must be byte-identical. Everything printed is independent of
thread scheduling: each worker owns a seeded generator, and what crosses threads
(through queues, so objects made in one thread die in another) is folded into
order-free sums of content digests.
usage: churn.py [SCALE]   (SCALE multiplies the work; default 1)
"""
import hashlib
import json
import queue
import random
import sys
import threading

SCALE = int(sys.argv[1]) if len(sys.argv) > 1 else 1
WORKERS = 4
ROUNDS = 3000 * SCALE
MASK = (1 << 64) - 1


def digest(text):
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def word(rng):
    return "".join(chr(97 + rng.randrange(26)) for _ in range(rng.randrange(1, 24)))


def worker(index, handoff, results):
    rng = random.Random(1000 + index)
    table = {}
    history = []
    made = 0
    for step in range(ROUNDS):
        key = word(rng)
        action = rng.randrange(10)
        if action < 4:
            table[key] = [word(rng) for _ in range(rng.randrange(1, 12))]
        elif action < 6 and table:
            victim = rng.choice(sorted(table)[:32])
            history.append(" ".join(table.pop(victim)))
        elif action < 8:
            # A fresh nested object handed to another thread, which frees it.
            obj = {"from": index, "step": step,
                   "words": [word(rng) for _ in range(rng.randrange(1, 40))],
                   "blob": word(rng) * rng.randrange(1, 200)}
            handoff[(index + 1) % WORKERS].put(obj)
            made += 1
        else:
            text = "-".join(history[-50:]).upper()
            history = history[-200:] + text.split("-")[:10]
        if len(history) > 5000:
            history = history[2500:]
    for q in handoff:
        q.put(None)
    summary = {
        "keys": len(table),
        "values": sum(len(v) for v in table.values()),
        "table": digest(json.dumps(table, sort_keys=True)),
        "history": digest("|".join(history)),
        "sent": made,
    }
    results[index] = summary


def consumer(index, inbox, results):
    got = 0
    folded = 0
    ends = 0
    while ends < WORKERS:
        obj = inbox.get()
        if obj is None:
            ends += 1
            continue
        got += 1
        text = json.dumps(obj, sort_keys=True)
        folded = (folded + digest(text) + len(obj["blob"])) & MASK
        del obj
    results[index] = {"received": got, "folded": folded}


def main():
    handoff = [queue.Queue(maxsize=256) for _ in range(WORKERS)]
    produced = [None] * WORKERS
    consumed = [None] * WORKERS
    threads = [threading.Thread(target=worker, args=(i, handoff, produced)) for i in range(WORKERS)]
    threads += [threading.Thread(target=consumer, args=(i, handoff[i], consumed)) for i in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    big = {str(i): [i * j for j in range(i % 97)] for i in range(12000 * SCALE)}
    out = {
        "workers": produced,
        "consumers": consumed,
        "sent": sum(p["sent"] for p in produced),
        "received": sum(c["received"] for c in consumed),
        "big": digest(json.dumps(big, sort_keys=True)),
        "sample": {k: big[k] for k in sorted(big)[:5]},
    }
    json.dump(out, sys.stdout, sort_keys=True, indent=1)
    sys.stdout.write("\n")
    return 0 if out["sent"] == out["received"] else 1


if __name__ == "__main__":
    sys.exit(main())
