/* bench_alloc_frag: how much memory an allocator gives back after most of a
 * small-object heap is freed, with no explicit trim.
 *
 *   bench_alloc_frag [--mode oldest|random] [--mib N] [--wait S] [--keep P]
 *
 * Allocates N MiB (default 1024) of 16-512 B objects, writing each, then
 * frees all but P% (default 10) of them, oldest first or in random order.
 * Heap RSS (process RSS minus the RSS before the allocations, the harness's
 * own arrays already touched) is read right after the frees and again S
 * seconds later (default 5). The floor is the number of distinct pages the
 * surviving objects touch: no allocator can hold less without moving them.
 *
 * Prints "result frag mode=... peak_mib=... after_mib=... later_mib=...
 * floor_mib=... free_seconds=... alloc_seconds=... objects=... live=...".
 */
#include "alloc_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROG "bench_alloc_frag"

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static double mib(uint64_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

static int usage(void)
{
    fprintf(stderr, "usage: " PROG " [--mode oldest|random] [--mib N] [--wait S] [--keep P]\n");
    return 2;
}

int main(int argc, char **argv)
{
    int random_order = 0;
    uint64_t total_mib = 1024, wait_s = 5, keep_pct = 10;
    for (int i = 1; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--mode") == 0 && v != NULL) {
            if (strcmp(v, "random") == 0)
                random_order = 1;
            else if (strcmp(v, "oldest") != 0)
                return usage();
        } else if (strcmp(argv[i], "--mib") == 0) {
            total_mib = bench_parse_u64(PROG, argv[i], v);
        } else if (strcmp(argv[i], "--wait") == 0) {
            wait_s = bench_parse_u64(PROG, argv[i], v);
        } else if (strcmp(argv[i], "--keep") == 0) {
            keep_pct = bench_parse_u64(PROG, argv[i], v);
        } else {
            return usage();
        }
    }
    if (total_mib == 0 || keep_pct > 100)
        return usage();
    uint64_t total = total_mib << 20;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    /* Sizes average 264 B; room for 30% more objects than that. */
    size_t cap = (size_t)(total / 264u) + (size_t)(total / 264u) * 3u / 10u + 16u;
    unsigned char **obj = bench_map(cap * sizeof *obj, 1);
    uint16_t *len = bench_map(cap * sizeof *len, 1);
    uint32_t *order = bench_map(cap * sizeof *order, 1);

    free(bench_malloc(16, "frag"));
    fflush(stdout);
    uint64_t base = bench_rss_bytes();
    uint64_t rng = 0x9e3779b97f4a7c15ull;

    bench_mark("begin");
    double t0 = bench_now();
    size_t count = 0;
    uint64_t bytes = 0;
    while (bytes < total && count < cap) {
        uint64_t x = bench_random(&rng);
        size_t n = 16u + (size_t)(x % 497u);
        unsigned char *p = bench_malloc(n, "frag");
        memset(p, (int)(x & 0xff), n);
        obj[count] = p;
        len[count] = (uint16_t)n;
        count++;
        bytes += n;
    }
    double t1 = bench_now();
    uint64_t peak = bench_rss_bytes();

    /* Which objects go: the oldest (lowest index) or a random choice. */
    for (size_t i = 0; i < count; i++)
        order[i] = (uint32_t)i;
    if (random_order) {
        for (size_t i = count; i > 1; i--) {
            size_t j = (size_t)(bench_random(&rng) % i);
            uint32_t tmp = order[i - 1];
            order[i - 1] = order[j];
            order[j] = tmp;
        }
    }
    size_t nfree = count - count * (size_t)keep_pct / 100u;
    double t2 = bench_now();
    for (size_t k = 0; k < nfree; k++) {
        size_t i = order[k];
        free(obj[i]);
        obj[i] = NULL;
    }
    double t3 = bench_now();
    uint64_t after = bench_rss_bytes();
    bench_mark("end");
    if (wait_s > 0) {
        struct timespec ts = {.tv_sec = (time_t)wait_s};
        while (nanosleep(&ts, &ts) != 0) {
        }
    }
    uint64_t later = bench_rss_bytes();

    /* The floor: distinct pages the live objects touch. */
    size_t live = count - nfree;
    uint64_t *pages = bench_map((2 * live + 1) * sizeof *pages, 0);
    size_t np = 0;
    for (size_t i = 0; i < count; i++) {
        if (obj[i] == NULL)
            continue;
        uintptr_t a = (uintptr_t)obj[i];
        uintptr_t first = a / page, last = (a + len[i] - 1u) / page;
        pages[np++] = (uint64_t)first;
        if (last != first)
            pages[np++] = (uint64_t)last;
    }
    qsort(pages, np, sizeof *pages, compare_u64);
    size_t distinct = 0;
    for (size_t i = 0; i < np; i++) {
        if (i == 0 || pages[i] != pages[i - 1])
            distinct++;
    }
    uint64_t floor_bytes = (uint64_t)distinct * page;

    printf("result frag mode=%s peak_mib=%.1f after_mib=%.1f later_mib=%.1f floor_mib=%.1f "
           "free_seconds=%.4f alloc_seconds=%.4f objects=%zu live=%zu\n",
           random_order ? "random" : "oldest", mib(peak - base),
           mib(after > base ? after - base : 0), mib(later > base ? later - base : 0),
           mib(floor_bytes), t3 - t2, t1 - t0, count, live);
    for (size_t i = 0; i < count; i++)
        free(obj[i]);
    bench_unmap(pages, (2 * live + 1) * sizeof *pages);
    return 0;
}
