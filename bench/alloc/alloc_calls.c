/* bench_alloc_calls: a driver for counting the instructions of malloc and
 * free under callgrind.
 *
 *   bench_alloc_calls hot|mixed|grow|large N
 *
 * Every call goes through calls_malloc() and calls_free(), which are never
 * inlined, so callgrind's inclusive count of those two functions is the cost
 * of the allocator's malloc and free whatever its symbols are called.
 * scripts/bench-alloc runs each case with two values of N and divides the
 * difference by the difference in calls, which removes start-up costs.
 *
 * hot:   malloc(32) then free of the same block, N times (the fastest path).
 * mixed: 100k live slots of the ANCHORS churn mix, N random free+malloc
 *        steps (a working set larger than any cache: slower paths).
 * grow:  N mallocs of the churn mix with no free, then N frees in random
 *        order (heap growth, refills, and frees to cold pages).
 * large: N malloc+free of 64 KiB-1 MiB blocks (the large-block path).
 */
#include "alloc_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "bench_alloc_calls"
#define MIXED_SLOTS 100000u

/* noipa (gcc) also stops constant-propagated clones with other names. */
#if defined(__clang__)
#define CALLS_OPAQUE __attribute__((noinline))
#else
#define CALLS_OPAQUE __attribute__((noipa))
#endif

CALLS_OPAQUE void *calls_malloc(size_t n);
CALLS_OPAQUE void calls_free(void *p);

CALLS_OPAQUE void *calls_malloc(size_t n)
{
    void *p = malloc(n);
    __asm__ volatile("" ::"r"(p) : "memory");
    return p;
}

CALLS_OPAQUE void calls_free(void *p)
{
    __asm__ volatile("" ::"r"(p) : "memory");
    free(p);
}

static unsigned char *checked(void *p, size_t n)
{
    if (p == NULL) {
        fprintf(stderr, PROG ": malloc(%zu) failed\n", n);
        exit(1);
    }
    unsigned char *c = p;
    c[0] = 1;
    return c;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: " PROG " hot|mixed|grow|large N\n");
        return 2;
    }
    const char *what = argv[1];
    size_t n = (size_t)bench_parse_u64(PROG, "N", argv[2]);
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    if (strcmp(what, "hot") == 0) {
        for (size_t i = 0; i < n; i++)
            calls_free(checked(calls_malloc(32), 32));
    } else if (strcmp(what, "mixed") == 0) {
        unsigned char **slot = bench_map(MIXED_SLOTS * sizeof *slot, 1);
        for (size_t s = 0; s < MIXED_SLOTS; s++) {
            size_t k = bench_churn_size(bench_random(&rng));
            slot[s] = checked(malloc(k), k);
        }
        for (size_t i = 0; i < n; i++) {
            size_t s = (size_t)(bench_random(&rng) % MIXED_SLOTS);
            calls_free(slot[s]);
            size_t k = bench_churn_size(bench_random(&rng));
            slot[s] = checked(calls_malloc(k), k);
        }
        for (size_t s = 0; s < MIXED_SLOTS; s++)
            free(slot[s]);
    } else if (strcmp(what, "grow") == 0) {
        unsigned char **obj = bench_map((n + 1) * sizeof *obj, 1);
        for (size_t i = 0; i < n; i++) {
            size_t k = bench_churn_size(bench_random(&rng));
            obj[i] = checked(calls_malloc(k), k);
        }
        for (size_t i = n; i > 1; i--) {
            size_t j = (size_t)(bench_random(&rng) % i);
            unsigned char *t = obj[i - 1];
            obj[i - 1] = obj[j];
            obj[j] = t;
        }
        for (size_t i = 0; i < n; i++)
            calls_free(obj[i]);
    } else if (strcmp(what, "large") == 0) {
        for (size_t i = 0; i < n; i++) {
            size_t k = ((size_t)64 << 10) + (size_t)(bench_random(&rng) % ((size_t)960 << 10));
            calls_free(checked(calls_malloc(k), k));
        }
    } else {
        fprintf(stderr, "usage: " PROG " hot|mixed|grow|large N\n");
        return 2;
    }
    return 0;
}
