/* mbfrag_reclaim.h: one-shot system-wide reclaim and compaction, the
 * user-space form of the ELC 2015 talk's "memory shrinker".
 *
 * Mainline has no shrink_all_memory knob (the talk's
 * /proc/sys/vm/shrink_memory was never merged), so a pass chains what the
 * kernel does offer, each step skipped with a message where it is missing:
 *   1. sync(2), so dirty page cache becomes droppable;
 *   2. /proc/sys/vm/drop_caches (1 page cache, 2 slab, 3 both);
 *   3. compaction: /proc/sys/vm/compact_memory, else every
 *      /sys/devices/system/node/nodeN/compact;
 *   4. with node_reclaim: /sys/devices/system/node/nodeN/reclaim, asked for
 *      the node's MemTotal (the kernel stops when nothing more is reclaimable);
 *   5. with a cgroup: cgroup v2 memory.reclaim asked for memory.current, or
 *      v1 memory.force_empty.
 * Passes repeat while one gains at least the threshold of MemFree, at most
 * `passes` times (10 by default, as in the talk). Every kernel path is under
 * `root` (see mbfrag_root.h).
 */
#ifndef MB_TOOLS_MBFRAG_RECLAIM_H
#define MB_TOOLS_MBFRAG_RECLAIM_H

#include "tools/mbfrag_report.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define MBFRAG_DEFAULT_PASSES 10u
#define MBFRAG_DEFAULT_THRESHOLD (1024u * 1024u) /* bytes of MemFree a pass must gain */
#define MBFRAG_MAX_NODES 64

struct mbfrag_reclaim_options {
    const char *root;         /* NULL or "": the live machine */
    bool dry_run;             /* print each step, write nothing, one pass */
    bool sync;                /* step 1 (default on) */
    unsigned drop_caches;     /* step 2: 0 skips it, else 1, 2 or 3 (default 3) */
    bool compact;             /* step 3 (default on) */
    bool node_reclaim;        /* step 4 (default off) */
    const char *cgroup;       /* step 5: absolute path of a memory cgroup; NULL: none */
    unsigned passes;          /* at least 1 */
    uint64_t threshold_bytes; /* stop after a pass that gains less */
};

struct mbfrag_reclaim_result {
    unsigned passes_run;
    unsigned failed_steps;    /* steps that reported an error, over all passes */
    int64_t recovered_bytes;  /* MemFree after minus before (may be negative) */
    uint64_t elapsed_ns;
};

/* Defaults as documented above. */
void mbfrag_reclaim_options_defaults(struct mbfrag_reclaim_options *opts);

/* Node numbers found as root/sys/devices/system/node/nodeN, sorted, into
 * nodes[0..max). Returns how many (0 when the directory is missing: a
 * kernel without NUMA sysfs). Does not block. */
size_t mbfrag_list_nodes(const char *root, unsigned *nodes, size_t max);

/* Runs (or, with dry_run, describes) one pass, one line per step to out.
 * Returns the number of steps that failed. Blocks while the kernel reclaims
 * and compacts (seconds on a large machine). */
unsigned mbfrag_reclaim_pass(const struct mbfrag_reclaim_options *opts, FILE *out);

/* The whole command: snapshot before, passes (with a line per pass), snapshot
 * after. Returns 0, or a negative errno when a snapshot cannot be read
 * (reason in why). Blocks like mbfrag_reclaim_pass. */
int mbfrag_reclaim_run(const struct mbfrag_reclaim_options *opts, FILE *out,
                       struct mbfrag_snapshot *before, struct mbfrag_snapshot *after,
                       struct mbfrag_reclaim_result *result, char *why, size_t why_size);

/* Before/after: MemFree, MemAvailable, Cached, Slab; level per order for
 * every zone; memory recovered and time taken. Pure. */
void mbfrag_print_reclaim_report(FILE *out, const struct mbfrag_snapshot *before,
                                 const struct mbfrag_snapshot *after,
                                 const struct mbfrag_reclaim_result *result);

#endif
