#!/usr/bin/env python3
"""Runs the allocator benchmarks under each allocator, side by side.

Called by scripts/bench-alloc (which builds the programs first):

    bench_alloc.py --bin BUILD/bench [--gmalloc PATH] [--quick] [--reps N]
                   [--markdown FILE] [--only SECTIONS]

Every program runs in its own process with the allocator preloaded
(LD_PRELOAD; glibc is the run without a preload). Timed workloads repeat
--reps times, interleaved (each repetition runs every allocator, in a
rotating order, before the next starts), and the median is printed. Memory
figures, instruction counts (callgrind) and address-space call counts
(strace, inside the programs' begin/end markers, so the allocator's
initialization is left out) come from their own passes. Prints each figure
and gmalloc's ratio to each peer; writes the same tables as Markdown.
"""
import argparse
import datetime
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

AS_CALLS = ("mmap", "munmap", "mremap", "mprotect", "brk")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def multiarch_dir():
    try:
        arch = subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        arch = platform.machine() + "-linux-gnu"
    return "/usr/lib/" + arch


def find_allocators(gmalloc):
    lib = multiarch_dir()
    allocs = [("glibc", "")]
    for name, so in (("jemalloc", "libjemalloc.so.2"), ("mimalloc", "libmimalloc.so.2"),
                     ("tcmalloc", "libtcmalloc_minimal.so.4")):
        path = os.path.join(lib, so)
        if os.path.exists(path):
            allocs.append((name, path))
        else:
            log("note: %s not found (%s); scripts/install-deps installs it" % (name, path))
    if gmalloc and os.path.exists(gmalloc):
        allocs.append(("gmalloc", os.path.abspath(gmalloc)))
    else:
        log("note: gmalloc not built (%s); running the peers only" % (gmalloc or "no path"))
    return allocs


def env_for(preload):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if preload:
        env["LD_PRELOAD"] = preload
    return env


def parse_result(text):
    """Returns the key=value fields of the last 'result' line of text."""
    fields = None
    for line in text.splitlines():
        if line.startswith("result "):
            parts = line.split()
            fields = {"workload": parts[1]}
            for p in parts[2:]:
                k, _, v = p.partition("=")
                try:
                    fields[k] = float(v)
                except ValueError:
                    fields[k] = v
    return fields


def run_program(argv, preload, timeout=600):
    try:
        cp = subprocess.run(argv, env=env_for(preload), capture_output=True, text=True,
                            timeout=timeout)
    except subprocess.TimeoutExpired:
        log("  timeout: %s" % " ".join(argv))
        return None
    if cp.returncode != 0:
        log("  failed (%d): %s\n%s" % (cp.returncode, " ".join(argv), cp.stderr.strip()[-500:]))
        return None
    return parse_result(cp.stdout)


def workloads(binp, quick):
    """(key, label, argv, metric, higher_is_better, unit) of the timed workloads."""
    work = os.path.join(binp, "alloc", "bench_alloc_work")
    f = 0.25 if quick else 1.0

    def n(x):
        return str(max(1, int(x * f)))

    return [
        ("churn_1t_1k", "churn 1 thread, 1k slots", [work, "churn", "--threads", "1", "--slots",
         "1000", "--steps", n(4e6)], "mops", True, "M ops/s"),
        ("churn_2t_1k", "churn 2 threads, 1k slots", [work, "churn", "--threads", "2", "--slots",
         "1000", "--steps", n(2e6)], "mops", True, "M ops/s"),
        ("churn_1t_100k", "churn 1 thread, 100k slots", [work, "churn", "--threads", "1",
         "--slots", "100000", "--steps", n(2e6)], "mops", True, "M ops/s"),
        ("churn_2t_100k", "churn 2 threads, 100k slots", [work, "churn", "--threads", "2",
         "--slots", "100000", "--steps", n(1e6)], "mops", True, "M ops/s"),
        ("larson", "larson-like, 2 threads", [work, "larson", "--threads", "2", "--slots", "5000",
         "--steps", n(1e5), "--rounds", "20"], "mops", True, "M ops/s"),
        ("prodcons", "producer/consumer", [work, "prodcons", "--steps", n(2e6)], "mops", True,
         "M ops/s"),
        ("realloc", "realloc growth", [work, "realloc", "--steps", n(1e6)], "mops", True,
         "M reallocs/s"),
        ("large", "large blocks 5-25 MiB", [work, "large", "--steps", n(120)], "ms_per_op", False,
         "ms/op"),
    ]


def fmt(v, digits=None):
    if v is None:
        return "n/a"
    if digits is None:
        digits = 2 if abs(v) < 10 else (1 if abs(v) < 1000 else 0)
    return "%.*f" % (digits, v)


class Table:
    """Rows of figures per allocator, printed with gmalloc's ratio to each peer."""

    def __init__(self, title, allocs, note=""):
        self.title = title
        self.names = [a[0] for a in allocs]
        self.rows = []
        self.note = note

    def add(self, label, values, unit=""):
        self.rows.append((label, values, unit))

    def get(self, label, name):
        for lab, values, _unit in self.rows:
            if lab == label:
                return values.get(name)
        return None

    def ratio_names(self):
        if "gmalloc" in self.names:
            return [("gmalloc", p) for p in self.names if p != "gmalloc"]
        return [(a, "glibc") for a in self.names if a != "glibc"]

    def lines(self, markdown):
        ratios = self.ratio_names()
        head = ["case"] + self.names + ["%s/%s" % r for r in ratios]
        out = []
        if markdown:
            out.append("| " + " | ".join(head) + " |")
            out.append("|" + "---|" * len(head))
        else:
            out.append("  ".join("%-44s" % head[0] if i == 0 else "%10s" % h
                                 for i, h in enumerate(head)))
        for label, values, unit in self.rows:
            lab = label + (" (%s)" % unit if unit else "")
            cells = [fmt(values.get(n)) for n in self.names]
            for a, b in ratios:
                x, y = values.get(a), values.get(b)
                cells.append(fmt(x / y) if x is not None and y else "n/a")
            if markdown:
                out.append("| " + " | ".join([lab] + cells) + " |")
            else:
                out.append("%-44s  " % lab + "  ".join("%10s" % c for c in cells))
        return out

    def show(self, md):
        print("\n== %s" % self.title)
        if self.note:
            print(self.note)
        print("\n".join(self.lines(False)), flush=True)
        md.append("\n### %s\n" % self.title)
        if self.note:
            md.append(self.note + "\n")
        md.extend(self.lines(True))


def timed_section(args, allocs, md):
    wl = workloads(args.bin, args.quick)
    samples = {(w[0], a[0]): [] for w in wl for a in allocs}
    for rep in range(args.reps):
        order = allocs[rep % len(allocs):] + allocs[:rep % len(allocs)]
        log("timed workloads: repetition %d of %d" % (rep + 1, args.reps))
        for key, _label, argv, metric, _hib, _unit in wl:
            for name, preload in order:
                r = run_program(argv, preload)
                if r is not None and metric in r:
                    samples[(key, name)].append(r[metric])
    t = Table("Throughput (median of %d interleaved runs)" % args.reps, allocs,
              "Higher is better except large blocks (ms per malloc+touch+free, lower is better).")
    for key, label, _argv, _metric, _hib, unit in wl:
        vals = {}
        for name, _ in allocs:
            s = samples[(key, name)]
            if s:
                vals[name] = statistics.median(s)
        t.add(label, vals, unit)
    t.show(md)
    return t


def frag_section(args, allocs, md):
    frag = os.path.join(args.bin, "alloc", "bench_alloc_frag")
    mib = "256" if args.quick else "1024"
    wait = "2" if args.quick else "5"
    reps = 1 if args.quick else min(args.reps, 2)
    res = {}
    for rep in range(reps):
        order = allocs[rep % len(allocs):] + allocs[:rep % len(allocs)]
        for mode in ("oldest", "random"):
            log("fragmentation: %s, repetition %d of %d" % (mode, rep + 1, reps))
            for name, preload in order:
                # Only the first repetition waits for the later reading.
                r = run_program([frag, "--mode", mode, "--mib", mib, "--wait",
                                 wait if rep == 0 else "0"], preload)
                if r is not None:
                    r["waited"] = rep == 0
                    res.setdefault((mode, name), []).append(r)
    tables = []
    for mode in ("oldest", "random"):
        t = Table("Fragmentation: %s MiB of 16-512 B objects, 90%% freed %s" %
                  (mib, "oldest first" if mode == "oldest" else "at random"), allocs,
                  "Heap RSS in MiB (RSS minus the RSS before the allocations), median of %d; "
                  "floor = pages still touched by live objects; /floor rows divide by it; the "
                  "later reading is from the first run." % reps)
        rows = (("peak_mib", "RSS at peak", "MiB"), ("after_mib", "RSS right after the frees",
                "MiB"), ("later_mib", "RSS %s s later" % wait, "MiB"), ("floor_mib", "floor",
                "MiB"), ("free_seconds", "free phase", "s"), ("alloc_seconds",
                "allocation phase", "s"))
        for key, label, unit in rows:
            vals = {}
            for name, _ in allocs:
                rs = [r for r in res.get((mode, name), []) if key != "later_mib" or r["waited"]]
                if rs:
                    vals[name] = statistics.median(r[key] for r in rs)
            t.add(label, vals, unit)
        for key, label in (("after_mib", "after / floor"), ("later_mib", "later / floor")):
            vals = {}
            for name, _ in allocs:
                rs = [r for r in res.get((mode, name), []) if key != "later_mib" or r["waited"]]
                if rs:
                    vals[name] = statistics.median(r[key] / r["floor_mib"] for r in rs)
            t.add(label, vals, "x")
        t.show(md)
        tables.append(t)
    return tables


def idle_section(args, allocs, md):
    idle = os.path.join(args.bin, "alloc", "bench_alloc_idle")
    vals, anon, files = {}, {}, {}
    for name, preload in allocs:
        s, a, f = [], [], []
        for _ in range(3):
            r = run_program([idle], preload)
            if r is not None:
                s.append(r["rss_kib"])
                a.append(r.get("anon_kib", 0))
                f.append(r.get("file_kib", 0))
        if s:
            vals[name] = statistics.median(s)
            anon[name] = statistics.median(a)
            files[name] = statistics.median(f)
    t = Table("Idle footprint of a trivial program", allocs,
              "RSS in KiB after one malloc+free, median of 3; split into file-backed pages "
              "(library text and data, shared between processes; how many are mapped also "
              "depends on the page cache, through fault-around) and anonymous ones "
              "(private to the process).")
    t.add("RSS", vals, "KiB")
    if "glibc" in vals:
        t.add("RSS minus glibc's", {k: v - vals["glibc"] for k, v in vals.items()}, "KiB")
    t.add("anonymous (private)", anon, "KiB")
    t.add("file-backed (shared)", files, "KiB")
    if "glibc" in anon:
        t.add("anonymous minus glibc's", {k: v - anon["glibc"] for k, v in anon.items()}, "KiB")
    t.show(md)
    return t


def callgrind_count(argv, preload, tmp):
    """Inclusive instructions of calls_malloc and calls_free, or None."""
    out = os.path.join(tmp, "cg.out")
    cp = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] + argv,
                        env=env_for(preload), capture_output=True, text=True, timeout=900)
    if cp.returncode != 0 or not os.path.exists(out):
        log("  callgrind failed: %s" % cp.stderr.strip()[-300:])
        return None
    ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", out],
                         capture_output=True, text=True).stdout
    os.unlink(out)
    counts = {}
    for line in ann.splitlines():
        m = re.match(r"\s*([\d,]+)\s.*:(calls_malloc|calls_free)\s", line)
        if m:
            counts[m.group(2)] = int(m.group(1).replace(",", ""))
    return counts if len(counts) == 2 else None


def callgrind_per_call(argv, preload, tmp):
    """Instructions of each call of calls_malloc and calls_free, in order.

    callgrind dumps its counters each time one of them returns; the inclusive
    cost of that function in each dump is the cost of one call."""
    d = tempfile.mkdtemp(dir=tmp)
    out = os.path.join(d, "cg.out")
    cp = subprocess.run(["valgrind", "--tool=callgrind", "--dump-after=calls_malloc",
                         "--dump-after=calls_free", "--callgrind-out-file=" + out] + argv,
                        env=env_for(preload), capture_output=True, text=True, timeout=900)
    per = {"calls_malloc": [], "calls_free": []}
    if cp.returncode != 0:
        log("  callgrind failed: %s" % cp.stderr.strip()[-300:])
        shutil.rmtree(d, ignore_errors=True)
        return None
    names = {}
    parts = sorted((int(f.rsplit(".", 1)[1]), f) for f in os.listdir(d)
                   if re.fullmatch(r"cg\.out\.\d+", f))
    fn_re = re.compile(r"(c?)fn=\((\d+)\)(?: (.*))?$")
    for _n, f in parts:
        cur, inc = None, {}
        with open(os.path.join(d, f), encoding="utf-8", errors="replace") as fh:
            for line in fh:
                line = line.rstrip("\n")
                m = fn_re.match(line)
                if m:
                    # Names are given once, at first use, in fn= or cfn= lines.
                    if m.group(3):
                        names[m.group(2)] = m.group(3)
                    if not m.group(1):
                        cur = names.get(m.group(2))
                    continue
                if line and (line[0].isdigit() or line[0] in "+-*") and cur in per:
                    inc[cur] = inc.get(cur, 0) + int(line.split()[-1])
        for k, v in inc.items():
            per[k].append(v)
    shutil.rmtree(d, ignore_errors=True)
    return per


def percentile(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * q))] if v else None


def calls_section(args, allocs, md):
    if shutil.which("valgrind") is None or shutil.which("callgrind_annotate") is None:
        log("note: valgrind not installed; no instruction counts")
        return None
    prog = os.path.join(args.bin, "alloc", "bench_alloc_calls")
    cases = (("hot", "hot: malloc(32)+free", 20000), ("mixed", "mixed: 100k slots, churn mix",
             20000), ("grow", "grow: mallocs, then frees shuffled", 20000),
             ("large", "large: 64 KiB-1 MiB", 2000))
    t = Table("Instructions per call (callgrind)", allocs,
              "Inclusive instructions of malloc and of free per call, from two runs of N and 2N "
              "calls (start-up cancels out); averages, not maxima.")
    with tempfile.TemporaryDirectory(prefix="bench-alloc-cg.") as tmp:
        for case, label, n in cases:
            if args.quick:
                n //= 4
            mal, fre = {}, {}
            for name, preload in allocs:
                log("callgrind: %s under %s" % (case, name))
                a = callgrind_count([prog, case, str(n)], preload, tmp)
                b = callgrind_count([prog, case, str(2 * n)], preload, tmp)
                if a is None or b is None:
                    continue
                mal[name] = (b["calls_malloc"] - a["calls_malloc"]) / n
                fre[name] = (b["calls_free"] - a["calls_free"]) / n
            t.add(label + ", malloc", mal, "instr")
            t.add(label + ", free", fre, "instr")
        # Per call: the slowest call (after the first, which initializes the
        # allocator and resolves the symbol) and the 99th percentile.
        w = Table("Instructions per call, slowest calls (callgrind)", allocs,
                  "Each call counted on its own (a callgrind dump after every call); the first "
                  "call of each function is left out. %d calls per case." %
                  (300 if args.quick else 1000))
        for case, label in (("mixed", "mixed"), ("grow", "grow"), ("large", "large")):
            n = 300 if args.quick else 1000
            rows = {}
            for name, preload in allocs:
                log("callgrind per call: %s under %s" % (case, name))
                per = callgrind_per_call([prog, case, str(n)], preload, tmp)
                if per is None:
                    continue
                for fn in ("calls_malloc", "calls_free"):
                    v = per[fn][1:]
                    if v:
                        rows.setdefault((fn, "p99"), {})[name] = float(percentile(v, 0.99))
                        rows.setdefault((fn, "max"), {})[name] = float(max(v))
            for fn in ("calls_malloc", "calls_free"):
                for stat in ("p99", "max"):
                    w.add("%s: %s %s" % (label, fn[6:], stat), rows.get((fn, stat), {}), "instr")
    t.show(md)
    w.show(md)
    return t


def strace_counts(argv, preload, tmp):
    """Counts of address-space calls (and madvise) between the begin/end markers."""
    out = os.path.join(tmp, "st.out")
    trace = ",".join(AS_CALLS + ("madvise", "write"))
    cp = subprocess.run(["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=" + trace, "-o", out]
                        + argv, env=env_for(preload), capture_output=True, text=True, timeout=900)
    if cp.returncode != 0 or not os.path.exists(out):
        log("  strace failed: %s" % cp.stderr.strip()[-300:])
        return None
    counts = {c: 0 for c in AS_CALLS + ("madvise",)}
    inside = False
    name_re = re.compile(r"^\d+\s+(\w+)\(")
    with open(out, encoding="utf-8", errors="replace") as f:
        for line in f:
            if "mb-bench-begin" in line:
                inside = True
                continue
            if "mb-bench-end" in line:
                inside = False
                continue
            m = name_re.match(line)
            if inside and m and m.group(1) in counts:
                counts[m.group(1)] += 1
    os.unlink(out)
    return counts


def syscalls_section(args, allocs, md, rt_seconds):
    if shutil.which("strace") is None:
        log("note: strace not installed; no address-space call counts")
        return None
    progs = [(w[1], w[2]) for w in workloads(args.bin, True)]
    progs.append(("fragmentation oldest, 256 MiB", [os.path.join(args.bin, "alloc",
                  "bench_alloc_frag"), "--mode", "oldest", "--mib", "256", "--wait", "0"]))
    progs.append(("fragmentation random, 256 MiB", [os.path.join(args.bin, "alloc",
                  "bench_alloc_frag"), "--mode", "random", "--mib", "256", "--wait", "0"]))
    progs.append(("rt experiment, %d s" % rt_seconds, [os.path.join(args.bin, "rt", "bench_rt"),
                  "--seconds", str(rt_seconds)]))
    t = Table("Address-space calls during each workload (strace)", allocs,
              "mmap+munmap+mremap+mprotect+brk between the workload's begin and end (after the "
              "allocator's init; the quick-run sizes); madvise in its own row. Goal for "
              "gmalloc: 0.")
    detail = []
    with tempfile.TemporaryDirectory(prefix="bench-alloc-st.") as tmp:
        for label, argv in progs:
            as_calls, madv = {}, {}
            for name, preload in allocs:
                log("strace: %s under %s" % (label, name))
                c = strace_counts(argv, preload, tmp)
                if c is None:
                    continue
                as_calls[name] = float(sum(c[k] for k in AS_CALLS))
                madv[name] = float(c["madvise"])
                detail.append("%s, %s: %s" % (label, name, " ".join(
                    "%s=%d" % (k, v) for k, v in c.items() if v)))
            t.add(label, as_calls, "calls")
            t.add(label + ", madvise", madv, "calls")
    t.show(md)
    print("\n".join("  " + d for d in detail))
    return t


def rt_section(args, allocs, md):
    prog = os.path.join(args.bin, "rt", "bench_rt")
    secs = "3" if args.quick else "10"
    res = {}
    log("rt: baseline without load")
    base = run_program([prog, "--seconds", secs, "--no-load"], "")
    for name, preload in allocs:
        log("rt: %s" % name)
        r = run_program([prog, "--seconds", secs], preload)
        if r is not None:
            res[name] = r
    t = Table("Real-time thread (SCHED_FIFO, 1 ms period, %s s) while two threads allocate" % secs,
              allocs, "Microseconds; response = planned start to end of the cycle (wake-up, "
              "malloc+free of 256 B, one fresh page written); misses = cycles over 10 ms. One "
              "run per allocator." + ("" if base is None else
              " Same thread with no load: wake p99 %.1f, max %.1f; response max %.1f." %
              (base["wake_us_p99"], base["wake_us_max"], base["resp_us_max"])))
    keys = [("wake_us_p50", "wake-up p50"), ("wake_us_p99", "wake-up p99"),
            ("wake_us_p999", "wake-up p99.9"), ("wake_us_max", "wake-up max"),
            ("resp_us_p99", "response p99"), ("resp_us_max", "response max"),
            ("malloc_us_p99", "malloc+free p99"), ("malloc_us_max", "malloc+free max"),
            ("touch_us_p99", "page touch p99"), ("touch_us_max", "page touch max"),
            ("misses", "deadline misses"), ("cycles", "cycles"),
            ("small_mops", "load: small M ops/s"), ("large_ops", "load: large blocks")]
    for key, label in keys:
        t.add(label, {n: r[key] for n, r in res.items() if key in r})
    if any(r.get("fifo") == 0 for r in res.values()):
        t.note += " SCHED_FIFO was refused: the thread ran as an ordinary thread."
    t.show(md)
    return t


def goals_section(t, md):
    """Issue 5's goals for gmalloc, each with the measured value."""
    timed, frag, idle, sysc = t.get("timed"), t.get("frag"), t.get("idle"), t.get("syscalls")
    rows = []

    def ratio(table, label, a, b):
        if table is None:
            return None
        x, y = table.get(label, a), table.get(label, b)
        return x / y if x is not None and y else None

    def goal(text, value, ok, shown):
        rows.append((text, shown if value is not None else "n/a",
                     "n/a" if value is None else ("met" if ok(value) else "NOT met")))

    c1, c2 = "churn 1 thread, 1k slots", "churn 2 threads, 1k slots"
    for case in (c1, "churn 1 thread, 100k slots"):
        v = ratio(timed, case, "gmalloc", "mimalloc")
        goal("%s: >= 0.8x mimalloc" % case, v, lambda x: x >= 0.8, fmt(v) + "x")
        v = ratio(timed, case, "gmalloc", "glibc")
        goal("%s: >= 2x glibc" % case, v, lambda x: x >= 2.0, fmt(v) + "x")
    for case in (c2, "churn 2 threads, 100k slots"):
        v = ratio(timed, case, "gmalloc", "mimalloc")
        goal("%s: >= 0.8x mimalloc" % case, v, lambda x: x >= 0.8, fmt(v) + "x")
    if frag:
        v = frag[0].get("after / floor", "gmalloc")
        goal("RSS after oldest-90% free <= 1.2x floor", v, lambda x: x <= 1.2, fmt(v) + "x")
        v = frag[1].get("after / floor", "gmalloc")
        goal("RSS after random-90% free <= 1.05x floor", v, lambda x: x <= 1.05, fmt(v) + "x")
        for i, mode in enumerate(("oldest", "random")):
            v = ratio(frag[i], "free phase", "gmalloc", "mimalloc")
            goal("free phase (%s) <= 1.5x mimalloc" % mode, v, lambda x: x <= 1.5, fmt(v) + "x")
    v = ratio(timed, "large blocks 5-25 MiB", "gmalloc", "glibc")
    goal("large blocks time <= 1.2x glibc", v, lambda x: x <= 1.2, fmt(v) + "x")
    if idle:
        g, b = idle.get("RSS", "gmalloc"), idle.get("RSS", "glibc")
        v = g - b if g is not None and b is not None else None
        goal("idle RSS <= glibc + 256 KiB", v, lambda x: x <= 256, "+%s KiB" % fmt(v))
    if sysc:
        worst = [(lab, vals.get("gmalloc")) for lab, vals, _u in sysc.rows
                 if "madvise" not in lab and vals.get("gmalloc") is not None]
        v = sum(x for _l, x in worst) if worst else None
        goal("zero address-space calls after init (sum over workloads)", v, lambda x: x == 0,
             "%s (%s)" % (fmt(v, 0), ", ".join("%s %d" % (lab, x) for lab, x in worst if x)))
    print("\n== Goals (issue 5) for gmalloc")
    md.append("\n### Goals (issue 5) for gmalloc\n")
    md.append("| goal | measured | |")
    md.append("|---|---|---|")
    for text, shown, verdict in rows:
        print("%-60s %-12s %s" % (text, shown, verdict))
        md.append("| %s | %s | %s |" % (text, shown, verdict))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True, help="the build's bench directory")
    ap.add_argument("--gmalloc", default="", help="path of libgmalloc.so")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int, default=0)
    ap.add_argument("--markdown", default="")
    ap.add_argument("--only", default="timed,frag,idle,calls,syscalls,rt",
                    help="comma-separated sections")
    args = ap.parse_args()
    if args.reps <= 0:
        args.reps = 3 if args.quick else 5
    allocs = find_allocators(args.gmalloc)
    only = set(args.only.split(","))
    started = datetime.datetime.now(datetime.timezone.utc)
    md = ["Run %s UTC, %s, kernel %s, %d CPUs, load average %s; %s, %d repetitions." % (
        started.strftime("%Y-%m-%d %H:%M"), platform.node() or "host", platform.release(),
        os.cpu_count() or 0, " ".join("%.2f" % x for x in os.getloadavg()),
        "quick run" if args.quick else "full run", args.reps)]
    md.append("\nAllocators: " + ", ".join("%s (%s)" % (n, p or "no preload") for n, p in allocs)
              + ".")
    gm_env = sorted(k for k in os.environ if k.startswith("GMALLOC_") or k == "USE_MEMBROKER")
    md.append("\ngmalloc settings from the environment: %s; /etc/gmalloc.cfg %s." % (
        ", ".join("%s=%s" % (k, os.environ[k]) for k in gm_env) or "none",
        "present" if os.path.exists("/etc/gmalloc.cfg") else "absent"))
    print("\n".join(md))
    tables = {}
    section_start = [datetime.datetime.now(datetime.timezone.utc)]

    def section_done(name):
        now = datetime.datetime.now(datetime.timezone.utc)
        log("%s: %d s" % (name, (now - section_start[0]).total_seconds()))
        section_start[0] = now

    sections = (("timed", timed_section), ("frag", frag_section), ("idle", idle_section),
                ("calls", calls_section), ("rt", rt_section),
                ("syscalls", lambda a, al, m: syscalls_section(a, al, m, 2)))
    for name, run in sections:
        if name in only:
            tables[name] = run(args, allocs, md)
            section_done(name)
    if any(n == "gmalloc" for n, _ in allocs):
        goals_section(tables, md)
    took = datetime.datetime.now(datetime.timezone.utc) - started
    md.append("\nTook %d s; load average at the end %s." % (
        took.total_seconds(), " ".join("%.2f" % x for x in os.getloadavg())))
    print(md[-1].strip())
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write("\n".join(md) + "\n")
        print("markdown tables: %s" % args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
