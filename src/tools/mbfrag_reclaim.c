/* mbfrag_reclaim.c: see mbfrag_reclaim.h. */
#include "tools/mbfrag_reclaim.h"

#include "common/clock.h"
#include "common/numparse.h"
#include "common/proc_read.h"
#include "common/units.h"
#include "tools/mbfrag_root.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DROP_CACHES "/proc/sys/vm/drop_caches"
#define COMPACT_MEMORY "/proc/sys/vm/compact_memory"
#define NODE_DIR "/sys/devices/system/node"

void mbfrag_reclaim_options_defaults(struct mbfrag_reclaim_options *opts)
{
    *opts = (struct mbfrag_reclaim_options){
        .sync = true,
        .drop_caches = 3,
        .compact = true,
        .passes = MBFRAG_DEFAULT_PASSES,
        .threshold_bytes = MBFRAG_DEFAULT_THRESHOLD,
    };
}

static int compare_unsigned(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return (x > y) - (x < y);
}

size_t mbfrag_list_nodes(const char *root, unsigned *nodes, size_t max)
{
    char dir_path[MBFRAG_PATH_MAX];
    if (mbfrag_root_path(root, NODE_DIR, dir_path, sizeof dir_path) < 0)
        return 0;
    DIR *dir = opendir(dir_path);
    if (dir == NULL)
        return 0;
    size_t count = 0;
    const struct dirent *entry;
    while ((entry = readdir(dir)) != NULL && count < max) {
        const char *name = entry->d_name;
        uint64_t number;
        if (strncmp(name, "node", 4) != 0 ||
            mb_parse_u64_exact(name + 4, strlen(name + 4), &number) < 0 || number > 65535)
            continue;
        nodes[count++] = (unsigned)number;
    }
    closedir(dir);
    qsort(nodes, count, sizeof nodes[0], compare_unsigned);
    return count;
}

/* Writes text to path (or says it would); one line to out. Returns 1 when the
 * write failed, else 0. EAGAIN from a reclaim file means "reclaimed less than
 * asked", which is the expected end of a reclaim-everything request. */
static unsigned write_step(const struct mbfrag_reclaim_options *opts, FILE *out,
                           const char *step, const char *path, const char *text)
{
    if (opts->dry_run) {
        fprintf(out, "%s: would write %s to %s\n", step, text, path);
        return 0;
    }
    int rc = mbfrag_root_write(opts->root, path, text);
    if (rc == 0) {
        fprintf(out, "%s: wrote %s to %s\n", step, text, path);
        return 0;
    }
    if (rc == -EAGAIN) {
        fprintf(out, "%s: wrote %s to %s (the kernel reclaimed less: nothing more to take)\n",
                step, text, path);
        return 0;
    }
    fprintf(out, "%s: failed: %s: %s\n", step, path, strerror(-rc));
    return 1;
}

static unsigned step_sync(const struct mbfrag_reclaim_options *opts, FILE *out)
{
    if (!opts->sync) {
        fputs("sync: skipped (--no-sync)\n", out);
        return 0;
    }
    if (opts->dry_run) {
        fputs("sync: would call sync(2)\n", out);
        return 0;
    }
    sync();
    fputs("sync: done\n", out);
    return 0;
}

static unsigned step_drop_caches(const struct mbfrag_reclaim_options *opts, FILE *out)
{
    if (opts->drop_caches == 0) {
        fputs("drop_caches: skipped (--drop-caches 0)\n", out);
        return 0;
    }
    if (!mbfrag_root_exists(opts->root, DROP_CACHES)) {
        fputs("drop_caches: skipped: " DROP_CACHES " not available\n", out);
        return 0;
    }
    char text[4] = {(char)('0' + opts->drop_caches), '\0'};
    return write_step(opts, out, "drop_caches", DROP_CACHES, text);
}

static unsigned step_compact(const struct mbfrag_reclaim_options *opts, FILE *out,
                             const unsigned *nodes, size_t node_count)
{
    if (!opts->compact) {
        fputs("compact: skipped (--no-compact)\n", out);
        return 0;
    }
    if (mbfrag_root_exists(opts->root, COMPACT_MEMORY))
        return write_step(opts, out, "compact", COMPACT_MEMORY, "1");
    unsigned failed = 0;
    bool any = false;
    for (size_t i = 0; i < node_count; i++) {
        char path[96];
        snprintf(path, sizeof path, NODE_DIR "/node%u/compact", nodes[i]);
        if (!mbfrag_root_exists(opts->root, path))
            continue;
        any = true;
        failed += write_step(opts, out, "compact", path, "1");
    }
    if (!any)
        fputs("compact: skipped: kernel without compaction (no " COMPACT_MEMORY
              " nor node compact files)\n", out);
    return failed;
}

/* "Node 0 MemTotal:  1048576 kB" from a node's meminfo, in bytes. The key
 * holds spaces, so the /proc/meminfo parser does not take these lines. */
static int node_memtotal(const char *root, const char *path, uint64_t *bytes)
{
    static char buf[8192];
    size_t len = 0;
    int rc = mbfrag_root_read(root, path, buf, sizeof buf, &len);
    if (rc < 0 && rc != -EFBIG)
        return rc;
    static const char key[] = " MemTotal:";
    const char *found = memmem(buf, len, key, sizeof key - 1);
    if (found == NULL)
        return -ENOENT;
    size_t pos = (size_t)(found - buf) + sizeof key - 1;
    pos += mb_span_blanks(buf + pos, len - pos);
    uint64_t kib = 0;
    if (mb_parse_u64_prefix(buf + pos, len - pos, &kib) <= 0)
        return -EINVAL;
    return mb_mul_u64(kib, 1024, bytes);
}

static unsigned step_node_reclaim(const struct mbfrag_reclaim_options *opts, FILE *out,
                                  const unsigned *nodes, size_t node_count)
{
    if (!opts->node_reclaim)
        return 0;
    unsigned failed = 0;
    bool any = false;
    for (size_t i = 0; i < node_count; i++) {
        char path[96], meminfo_path[96];
        snprintf(path, sizeof path, NODE_DIR "/node%u/reclaim", nodes[i]);
        if (!mbfrag_root_exists(opts->root, path))
            continue;
        any = true;
        /* Ask for the whole node: the kernel reclaims what it can and stops. */
        snprintf(meminfo_path, sizeof meminfo_path, NODE_DIR "/node%u/meminfo", nodes[i]);
        uint64_t node_total = 0;
        if (node_memtotal(opts->root, meminfo_path, &node_total) < 0 || node_total == 0) {
            fprintf(out, "node reclaim: failed: %s: no MemTotal\n", meminfo_path);
            failed++;
            continue;
        }
        char text[32];
        snprintf(text, sizeof text, "%" PRIu64, node_total);
        failed += write_step(opts, out, "node reclaim", path, text);
    }
    if (!any)
        fputs("node reclaim: skipped: kernel without " NODE_DIR "/nodeN/reclaim\n", out);
    return failed;
}

static unsigned step_cgroup(const struct mbfrag_reclaim_options *opts, FILE *out)
{
    if (opts->cgroup == NULL)
        return 0;
    char path[MBFRAG_PATH_MAX], current_path[MBFRAG_PATH_MAX];
    int n1 = snprintf(path, sizeof path, "%s/memory.reclaim", opts->cgroup);
    int n2 = snprintf(current_path, sizeof current_path, "%s/memory.current", opts->cgroup);
    if (n1 < 0 || (size_t)n1 >= sizeof path || n2 < 0 || (size_t)n2 >= sizeof current_path) {
        fputs("cgroup reclaim: failed: path too long\n", out);
        return 1;
    }
    if (mbfrag_root_exists(opts->root, path)) {
        uint64_t current = 0;
        int rc = mbfrag_root_read_u64(opts->root, current_path, &current);
        if (rc < 0) {
            fprintf(out, "cgroup reclaim: failed: %s: %s\n", current_path, strerror(-rc));
            return 1;
        }
        if (current == 0) {
            fprintf(out, "cgroup reclaim: skipped: %s charges nothing\n", opts->cgroup);
            return 0;
        }
        char text[32];
        snprintf(text, sizeof text, "%" PRIu64, current);
        return write_step(opts, out, "cgroup reclaim", path, text);
    }
    int n3 = snprintf(path, sizeof path, "%s/memory.force_empty", opts->cgroup);
    if (n3 >= 0 && (size_t)n3 < sizeof path && mbfrag_root_exists(opts->root, path))
        return write_step(opts, out, "cgroup force_empty", path, "0");
    fprintf(out, "cgroup reclaim: failed: %s has neither memory.reclaim (v2) nor "
                 "memory.force_empty (v1)\n", opts->cgroup);
    return 1;
}

unsigned mbfrag_reclaim_pass(const struct mbfrag_reclaim_options *opts, FILE *out)
{
    unsigned nodes[MBFRAG_MAX_NODES];
    size_t node_count = mbfrag_list_nodes(opts->root, nodes, MBFRAG_MAX_NODES);
    unsigned failed = step_sync(opts, out);
    failed += step_drop_caches(opts, out);
    failed += step_compact(opts, out, nodes, node_count);
    failed += step_node_reclaim(opts, out, nodes, node_count);
    failed += step_cgroup(opts, out);
    return failed;
}

static int read_memfree(const char *root, uint64_t *bytes)
{
    static char buf[16 * 1024];
    size_t len = 0;
    int rc = mbfrag_root_read(root, "/proc/meminfo", buf, sizeof buf, &len);
    if (rc < 0)
        return rc;
    return mb_meminfo_lookup(buf, len, "MemFree", bytes);
}

static int64_t difference(uint64_t after, uint64_t before)
{
    return after >= before ? (int64_t)(after - before) : -(int64_t)(before - after);
}

int mbfrag_reclaim_run(const struct mbfrag_reclaim_options *opts, FILE *out,
                       struct mbfrag_snapshot *before, struct mbfrag_snapshot *after,
                       struct mbfrag_reclaim_result *result, char *why, size_t why_size)
{
    *result = (struct mbfrag_reclaim_result){0};
    uint64_t start = mb_clock_monotonic_ns();
    int rc = mbfrag_snapshot_read(opts->root, NULL, before, why, why_size);
    if (rc < 0)
        return rc;
    unsigned passes = opts->passes == 0 ? 1 : opts->passes;
    for (unsigned pass = 1; pass <= passes; pass++) {
        uint64_t free_before = 0, free_after = 0;
        rc = read_memfree(opts->root, &free_before);
        if (rc < 0) {
            snprintf(why, why_size, "meminfo: cannot read MemFree");
            return rc;
        }
        fprintf(out, "pass %u:\n", pass);
        result->failed_steps += mbfrag_reclaim_pass(opts, out);
        result->passes_run = pass;
        if (opts->dry_run) {
            fputs("dry run: nothing was written\n", out);
            break;
        }
        rc = read_memfree(opts->root, &free_after);
        if (rc < 0) {
            snprintf(why, why_size, "meminfo: cannot read MemFree");
            return rc;
        }
        int64_t gain = difference(free_after, free_before);
        fprintf(out, "pass %u: MemFree %+" PRId64 " kB\n", pass, gain / 1024);
        if (gain < 0 || (uint64_t)gain < opts->threshold_bytes)
            break;
    }
    rc = mbfrag_snapshot_read(opts->root, NULL, after, why, why_size);
    if (rc < 0)
        return rc;
    result->recovered_bytes =
        difference(mb_meminfo_get(&after->mem, MB_MEMINFO_MEM_FREE, 0),
                   mb_meminfo_get(&before->mem, MB_MEMINFO_MEM_FREE, 0));
    result->elapsed_ns = mb_clock_monotonic_ns() - start;
    return 0;
}

static void print_signed_size(FILE *out, int64_t bytes)
{
    char human[MB_SIZE_STRING_MAX];
    uint64_t magnitude = bytes < 0 ? (uint64_t)0 - (uint64_t)bytes : (uint64_t)bytes;
    mb_format_size(magnitude, human, sizeof human);
    fprintf(out, "%s%" PRIu64 " kB (%s%s)", bytes < 0 ? "-" : "", magnitude / 1024,
            bytes < 0 ? "-" : "", human);
}

static void print_mem_row(FILE *out, const char *name, const struct mbfrag_snapshot *before,
                          const struct mbfrag_snapshot *after, enum mb_meminfo_field field)
{
    if (!mb_meminfo_has(&before->mem, field) || !mb_meminfo_has(&after->mem, field))
        return;
    uint64_t b = mb_meminfo_get(&before->mem, field, 0);
    uint64_t a = mb_meminfo_get(&after->mem, field, 0);
    fprintf(out, "%-13s %12" PRIu64 " %12" PRIu64 " %+12" PRId64 "\n", name, b / 1024, a / 1024,
            difference(a, b) / 1024);
}

/* The after snapshot's zone matching before's zone i (same node and name). */
static const struct mb_frag_zone *matching_zone(const struct mbfrag_snapshot *after,
                                                const struct mb_buddyinfo_zone *zone)
{
    for (size_t k = 0; k < after->buddy.zones; k++) {
        const struct mb_buddyinfo_zone *z = &after->buddy.zone[k];
        if (z->node == zone->node && strcmp(z->name, zone->name) == 0)
            return &after->frag[k];
    }
    return NULL;
}

void mbfrag_print_reclaim_report(FILE *out, const struct mbfrag_snapshot *before,
                                 const struct mbfrag_snapshot *after,
                                 const struct mbfrag_reclaim_result *result)
{
    fprintf(out, "\n%-13s %12s %12s %12s\n", "memory (kB)", "before", "after", "change");
    print_mem_row(out, "MemFree", before, after, MB_MEMINFO_MEM_FREE);
    print_mem_row(out, "MemAvailable", before, after, MB_MEMINFO_MEM_AVAILABLE);
    print_mem_row(out, "Cached", before, after, MB_MEMINFO_CACHED);
    print_mem_row(out, "Slab", before, after, MB_MEMINFO_SLAB);
    fputs("\nfragmentation level (%, unusable index), before -> after\n", out);
    for (size_t i = 0; i < before->buddy.zones; i++) {
        const struct mb_buddyinfo_zone *zone = &before->buddy.zone[i];
        const struct mb_frag_zone *b = &before->frag[i];
        const struct mb_frag_zone *a = matching_zone(after, zone);
        if (a == NULL)
            continue;
        fprintf(out, "Node %" PRIu32 ", zone %s:", zone->node, zone->name);
        size_t orders = b->orders < a->orders ? b->orders : a->orders;
        for (size_t j = 0; j < orders; j++)
            fprintf(out, " %zu:%" PRId32 "->%" PRId32, j,
                    mbfrag_level_percent(b->order[j].unusable_thousandths),
                    mbfrag_level_percent(a->order[j].unusable_thousandths));
        int32_t ba = b->average_unusable_thousandths, aa = a->average_unusable_thousandths;
        fprintf(out, "; average %" PRId32 ".%" PRId32 "%% -> %" PRId32 ".%" PRId32 "%%\n",
                ba / 10, ba % 10, aa / 10, aa % 10);
    }
    fputs("\nrecovered: ", out);
    print_signed_size(out, result->recovered_bytes);
    fprintf(out, " in %u pass%s, %" PRIu64 ".%03" PRIu64 " s", result->passes_run,
            result->passes_run == 1 ? "" : "es", result->elapsed_ns / MB_NSEC_PER_SEC,
            result->elapsed_ns / MB_NSEC_PER_MSEC % 1000u);
    if (result->failed_steps > 0)
        fprintf(out, "; %u step%s failed", result->failed_steps,
                result->failed_steps == 1 ? "" : "s");
    fputc('\n', out);
}
