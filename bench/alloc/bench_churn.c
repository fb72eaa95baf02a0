/* bench_churn: the "churn" workload of shared/ANCHORS.md, anr against glibc
 * malloc in the same run.
 *
 * Each thread owns an array of slots filled with live blocks; one step frees
 * a random slot and mallocs a new block into it (80% 16-128 B, 17% 129-1024
 * B, 3% 1-16 KiB) and writes its first and last byte, so a step is one
 * malloc+free pair on a heap of steady size. Cases: 1 thread with 1k slots,
 * 2 threads with 1k slots each, 1 thread with 100k slots. The allocators
 * alternate (glibc, anr, glibc, anr, ...) for several repetitions so drift
 * of the machine affects both alike; the median of each is printed in M
 * pairs/s with the ratio anr/glibc.
 *
 * anr is called through the anr_malloc API (the process default heap),
 * linked directly; glibc through malloc/free. Both go through the same
 * function pointers.
 *
 *   bench_churn [--reps N] [--scale F] [--no-cache] [--cache-bytes N]
 *               [--only anr|glibc] [--case 1t1k|2t1k|1t100k] [--steps N]
 *
 * --steps fixes the steps per thread (for instruction counts under
 * callgrind: run twice with different steps and divide the difference).
 */
#include "anr/anr_malloc.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MiB ((size_t)1 << 20)
#define MAX_THREADS 2
#define MAX_SLOTS 100000

/* The slot arrays are the benchmark's own, outside both allocators. */
static unsigned char *slot_store[MAX_THREADS][MAX_SLOTS];

struct allocator {
    const char *name;
    void *(*alloc)(size_t);
    void (*release)(void *);
};

static void *glibc_malloc(size_t n)
{
    return malloc(n);
}

static void glibc_free(void *p)
{
    free(p);
}

static const struct allocator glibc = {"glibc", glibc_malloc, glibc_free};
static const struct allocator anr = {"anr", anr_malloc, anr_free};

struct churn_case {
    const char *name;
    unsigned threads;
    size_t slots;
    uint64_t steps; /* per thread, at --scale 1 */
};

static const struct churn_case cases[] = {
    {"1t1k", 1, 1000, 4000000},
    {"2t1k", 2, 1000, 4000000},
    {"1t100k", 1, 100000, 2000000},
};

struct worker {
    const struct allocator *a;
    size_t slots;
    uint64_t steps;
    uint64_t rng;
    unsigned char **slot;
    uint64_t checksum;
};

static inline uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static inline size_t churn_size(uint64_t r)
{
    unsigned pick = (unsigned)(r % 100u);
    r /= 100u;
    if (pick < 80)
        return 16u + (size_t)(r % 113u); /* 16..128 */
    if (pick < 97)
        return 129u + (size_t)(r % 896u); /* 129..1024 */
    return 1024u + (size_t)(r % (15u * 1024u + 1u)); /* 1 KiB..16 KiB */
}

static unsigned char *new_block(const struct allocator *a, uint64_t r)
{
    size_t n = churn_size(r);
    unsigned char *p = a->alloc(n);
    if (p == NULL) {
        fprintf(stderr, "bench_churn: %s: malloc(%zu) failed\n", a->name, n);
        exit(1);
    }
    p[0] = (unsigned char)n;
    p[n - 1] = (unsigned char)r;
    return p;
}

static void *run_worker(void *arg)
{
    struct worker *w = arg;
    const struct allocator *a = w->a;
    uint64_t sum = 0;
    if (w->slots == 0)
        return NULL;
    for (uint64_t i = 0; i < w->steps; i++) {
        uint64_t r = next_random(&w->rng);
        size_t s = (size_t)(r % w->slots);
        sum += w->slot[s][0];
        a->release(w->slot[s]);
        w->slot[s] = new_block(a, next_random(&w->rng));
    }
    w->checksum = sum;
    return NULL;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One timed run of a case; returns M pairs per second over all threads. */
static double run_case(const struct allocator *a, const struct churn_case *c, uint64_t steps)
{
    struct worker w[MAX_THREADS];
    pthread_t t[MAX_THREADS];
    for (unsigned i = 0; i < c->threads; i++) {
        w[i] = (struct worker){.a = a, .slots = c->slots, .steps = steps,
                               .rng = 0x9e3779b97f4a7c15ull * (i + 1u)};
        w[i].slot = slot_store[i];
        for (size_t s = 0; s < c->slots; s++)
            w[i].slot[s] = new_block(a, next_random(&w[i].rng));
    }
    double t0 = now_seconds();
    if (c->threads == 1) {
        run_worker(&w[0]);
    } else {
        for (unsigned i = 0; i < c->threads; i++) {
            if (pthread_create(&t[i], NULL, run_worker, &w[i]) != 0) {
                fprintf(stderr, "bench_churn: pthread_create failed\n");
                exit(1);
            }
        }
        for (unsigned i = 0; i < c->threads; i++)
            pthread_join(t[i], NULL);
    }
    double elapsed = now_seconds() - t0;
    for (unsigned i = 0; i < c->threads; i++) {
        for (size_t s = 0; s < c->slots; s++)
            a->release(w[i].slot[s]);
    }
    return (double)steps * c->threads / elapsed / 1e6;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
    qsort(v, n, sizeof *v, compare_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_churn [--reps N] [--scale F] [--no-cache] [--cache-bytes N]\n"
                    "                   [--only anr|glibc] [--case 1t1k|2t1k|1t100k] [--steps N]\n");
    return 2;
}

int main(int argc, char **argv)
{
    unsigned reps = 5;
    double scale = 1.0;
    bool cache = true;
    size_t cache_bytes = 0;
    const char *only = NULL, *which = NULL;
    uint64_t fixed_steps = 0;
    for (int i = 1; i < argc && argv[i] != NULL; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--reps") == 0 && v) {
            reps = (unsigned)strtoul(v, NULL, 10);
            i++;
        } else if (strcmp(argv[i], "--scale") == 0 && v) {
            scale = strtod(v, NULL);
            i++;
        } else if (strcmp(argv[i], "--steps") == 0 && v) {
            fixed_steps = strtoull(v, NULL, 10);
            i++;
        } else if (strcmp(argv[i], "--only") == 0 && v) {
            only = v;
            i++;
        } else if (strcmp(argv[i], "--case") == 0 && v) {
            which = v;
            i++;
        } else if (strcmp(argv[i], "--cache-bytes") == 0 && v) {
            cache_bytes = (size_t)strtoull(v, NULL, 10);
            i++;
        } else if (strcmp(argv[i], "--no-cache") == 0) {
            cache = false;
        } else {
            return usage();
        }
    }
    if (reps == 0 || reps > 101 || !(scale > 0))
        return usage();

    struct anr_options o;
    anr_options_init(&o);
    o.pool_size = 512 * MiB; /* a budget that never binds: this measures speed */
    o.map_size = 1024 * MiB;
    o.thread_cache = cache;
    if (cache_bytes != 0)
        o.thread_cache_bytes = cache_bytes;
    int rc = anr_malloc_init(&o);
    if (rc != 0) {
        fprintf(stderr, "bench_churn: anr_malloc_init: %s\n", strerror(-rc));
        return 1;
    }

    printf("churn: M malloc+free pairs/s, median of %u alternating runs (anr thread cache %s)\n",
           reps, cache ? "on" : "off");
    printf("%-8s %10s %10s %12s\n", "case", "glibc", "anr", "anr/glibc");
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const struct churn_case *c = &cases[k];
        if (which != NULL && strcmp(which, c->name) != 0)
            continue;
        uint64_t steps = fixed_steps ? fixed_steps : (uint64_t)((double)c->steps * scale);
        if (steps == 0)
            steps = 1;
        double g[101] = {0}, a[101] = {0};
        for (unsigned r = 0; r < reps; r++) {
            g[r] = only && strcmp(only, "glibc") != 0 ? 0 : run_case(&glibc, c, steps);
            a[r] = only && strcmp(only, "anr") != 0 ? 0 : run_case(&anr, c, steps);
        }
        double gm = median(g, reps), am = median(a, reps);
        printf("%-8s %10.1f %10.1f %12.2f\n", c->name, gm, am, gm > 0 ? am / gm : 0.0);
    }
    struct anr_stats st;
    anr_malloc_stats(&st);
    printf("anr: %" PRIu64 " madvise calls returned %" PRIu64 " pages; peak resident %" PRIu64
           " KiB; %" PRIu64 " frees queued while the lock was taken\n",
           st.madvise_calls, st.pages_returned, st.peak_resident_bytes / 1024, st.deferred_frees);
    if (st.in_use_bytes != 0 || st.live_blocks != 0) {
        fprintf(stderr, "bench_churn: anr still counts %" PRIu64 " bytes in %" PRIu64
                        " blocks in use after the runs\n",
                st.in_use_bytes, st.live_blocks);
        return 1;
    }
    anr_malloc_destroy();
    return 0;
}
