/* bench_alloc_work: throughput workloads over the libc malloc API, to run
 * under any preloaded allocator (scripts/bench-alloc runs them side by side).
 *
 *   bench_alloc_work churn    [--threads T] [--slots S] [--steps N]
 *   bench_alloc_work larson   [--threads T] [--slots S] [--steps N] [--rounds R]
 *   bench_alloc_work prodcons [--steps N]
 *   bench_alloc_work realloc  [--steps N]
 *   bench_alloc_work large    [--steps N]
 *
 * churn: each thread frees a random slot of its own and mallocs a new block
 *   into it (the ANCHORS size mix); one step is one malloc+free pair.
 * larson: like churn with 8-1000 B blocks, but the threads swap their slot
 *   arrays after every round, so most blocks are freed by a thread other
 *   than the one that allocated them (the pattern of larson's server).
 * prodcons: one thread mallocs blocks (16-1024 B) and passes them through a
 *   lock-free ring to a second thread, which frees them: every free is
 *   cross-thread.
 * realloc: 16 buffers grow by 16-512 B per realloc up to a random final size
 *   (4 KiB-1 MiB), then are freed and start again; contents are checked.
 * large: 4 slots; each step frees one and mallocs a 5-25 MiB block into it,
 *   writing one byte per page (an allocator that gives blocks back at once
 *   pays the refaults).
 *
 * Prints "result <workload> mops=<M ops/s> seconds=<s> ops=<n>" (large also
 * ms_per_op). Steps are per thread.
 */
#include "alloc_common.h"

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_THREADS 8
#define PROG "bench_alloc_work"

struct options {
    unsigned threads;
    size_t slots;
    uint64_t steps;
    uint64_t rounds;
};

/* ---- churn and larson: threads over slot arrays ---- */

struct slot_set {
    unsigned char **slot;
    uint64_t rng;
};

struct shared_run {
    const struct options *o;
    int larson;
    pthread_barrier_t barrier;
    struct slot_set sets[MAX_THREADS];
    double t0, t1;
};

struct worker {
    struct shared_run *run;
    unsigned id;
    uint64_t rng;
    uint64_t checksum;
};

static size_t workload_size(int larson, uint64_t r)
{
    if (larson)
        return 8u + (size_t)(r % 993u); /* 8..1000 B */
    return bench_churn_size(r);
}

static unsigned char *new_block(int larson, uint64_t r)
{
    size_t n = workload_size(larson, r);
    unsigned char *p = bench_malloc(n, larson ? "larson" : "churn");
    p[0] = (unsigned char)n;
    p[n - 1] = (unsigned char)r;
    return p;
}

static uint64_t run_steps(struct slot_set *set, size_t slots, uint64_t steps, int larson,
                          uint64_t *rng)
{
    uint64_t sum = 0;
    if (slots == 0)
        return 0;
    for (uint64_t i = 0; i < steps; i++) {
        size_t s = (size_t)(bench_random(rng) % slots);
        sum += set->slot[s][0];
        free(set->slot[s]);
        set->slot[s] = new_block(larson, bench_random(rng));
    }
    return sum;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct shared_run *run = w->run;
    const struct options *o = run->o;
    unsigned t = o->threads;
    struct slot_set *own = &run->sets[w->id];

    pthread_barrier_wait(&run->barrier); /* start */
    for (size_t s = 0; s < o->slots; s++)
        own->slot[s] = new_block(run->larson, bench_random(&w->rng));
    pthread_barrier_wait(&run->barrier); /* filled */
    if (w->id == 0)
        run->t0 = bench_now();
    uint64_t sum = 0;
    if (!run->larson) {
        pthread_barrier_wait(&run->barrier);
        sum = run_steps(own, o->slots, o->steps, 0, &w->rng);
    } else {
        /* Each round a thread works on another thread's set of last round. */
        for (uint64_t r = 0; r < o->rounds; r++) {
            pthread_barrier_wait(&run->barrier);
            struct slot_set *set = &run->sets[(w->id + (unsigned)r) % t];
            sum += run_steps(set, o->slots, o->steps, 1, &w->rng);
        }
    }
    pthread_barrier_wait(&run->barrier); /* done */
    if (w->id == 0)
        run->t1 = bench_now();
    for (size_t s = 0; s < o->slots; s++)
        free(own->slot[s]);
    pthread_barrier_wait(&run->barrier); /* cleaned */
    w->checksum = sum;
    /* Stay until the end marker: a thread's exit (stack madvise) is not the
     * allocator's. Thread 0 (main) writes the marker, then releases them. */
    if (w->id != 0)
        pthread_barrier_wait(&run->barrier);
    return NULL;
}

static int run_slots(const struct options *o, int larson)
{
    static struct shared_run run;
    struct worker w[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    unsigned t = o->threads;
    size_t set_bytes = o->slots * sizeof(unsigned char *);

    run.o = o;
    run.larson = larson;
    for (unsigned i = 0; i < t; i++) {
        run.sets[i].slot = bench_map(set_bytes, 1);
        w[i] = (struct worker){.run = &run, .id = i, .rng = 0x9e3779b97f4a7c15ull * (i + 1u)};
    }
    pthread_barrier_init(&run.barrier, NULL, t);
    /* Threads exist before the marker, so their stacks are not counted;
     * thread 0 is the main thread (glibc gives it the main arena). */
    for (unsigned i = 1; i < t; i++) {
        if (pthread_create(&tid[i], NULL, worker_main, &w[i]) != 0) {
            fprintf(stderr, PROG ": pthread_create failed\n");
            return 1;
        }
    }
    bench_mark("begin");
    worker_main(&w[0]);
    bench_mark("end");
    pthread_barrier_wait(&run.barrier); /* released */
    for (unsigned i = 1; i < t; i++)
        pthread_join(tid[i], NULL);
    pthread_barrier_destroy(&run.barrier);
    for (unsigned i = 0; i < t; i++)
        bench_unmap(run.sets[i].slot, set_bytes);

    double secs = run.t1 - run.t0;
    uint64_t ops = o->steps * t * (larson ? o->rounds : 1u);
    printf("result %s mops=%.3f seconds=%.4f ops=%" PRIu64 " threads=%u slots=%zu\n",
           larson ? "larson" : "churn", (double)ops / secs / 1e6, secs, ops, t, o->slots);
    return 0;
}

/* ---- producer/consumer through a single-producer single-consumer ring ---- */

#define RING_SIZE 4096u

struct ring {
    _Alignas(64) _Atomic uint64_t head; /* next slot the producer writes */
    _Alignas(64) _Atomic uint64_t tail; /* next slot the consumer reads */
    _Alignas(64) unsigned char *item[RING_SIZE];
    pthread_barrier_t finish; /* consumer done, then released after the end marker */
    uint64_t total;
    uint64_t checksum;
};

static void *consumer_main(void *arg)
{
    struct ring *r = arg;
    uint64_t sum = 0;
    uint64_t tail = 0;
    while (tail < r->total) {
        uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
        if (head == tail) {
            sched_yield();
            continue;
        }
        while (tail < head) {
            unsigned char *p = r->item[tail % RING_SIZE];
            sum += p[0];
            free(p);
            tail++;
        }
        atomic_store_explicit(&r->tail, tail, memory_order_release);
    }
    r->checksum = sum;
    pthread_barrier_wait(&r->finish);
    pthread_barrier_wait(&r->finish);
    return NULL;
}

static int run_prodcons(const struct options *o)
{
    struct ring *r = bench_map(sizeof *r, 1);
    r->total = o->steps;
    pthread_barrier_init(&r->finish, NULL, 2);
    pthread_t consumer;
    if (pthread_create(&consumer, NULL, consumer_main, r) != 0) {
        fprintf(stderr, PROG ": pthread_create failed\n");
        return 1;
    }
    uint64_t rng = 0x2545f4914f6cdd1dull;
    bench_mark("begin");
    double t0 = bench_now();
    uint64_t head = 0;
    while (head < o->steps) {
        uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (head - tail >= RING_SIZE) {
            sched_yield();
            continue;
        }
        uint64_t room = RING_SIZE - (head - tail);
        for (uint64_t i = 0; i < room && head < o->steps; i++, head++) {
            uint64_t x = bench_random(&rng);
            size_t n = 16u + (size_t)(x % 1009u);
            unsigned char *p = bench_malloc(n, "prodcons");
            p[0] = (unsigned char)x;
            p[n - 1] = 1;
            r->item[head % RING_SIZE] = p;
        }
        atomic_store_explicit(&r->head, head, memory_order_release);
    }
    pthread_barrier_wait(&r->finish);
    double secs = bench_now() - t0;
    bench_mark("end");
    pthread_barrier_wait(&r->finish);
    pthread_join(consumer, NULL);
    pthread_barrier_destroy(&r->finish);
    printf("result prodcons mops=%.3f seconds=%.4f ops=%" PRIu64 "\n",
           (double)o->steps / secs / 1e6, secs, o->steps);
    bench_unmap(r, sizeof *r);
    return 0;
}

/* ---- realloc growth ---- */

#define GROW_BUFFERS 16

static int run_realloc(const struct options *o)
{
    unsigned char *buf[GROW_BUFFERS];
    size_t len[GROW_BUFFERS], target[GROW_BUFFERS];
    uint64_t rng = 0x853c49e6748fea9bull;
    bench_mark("begin");
    double t0 = bench_now();
    for (unsigned i = 0; i < GROW_BUFFERS; i++) {
        len[i] = 16;
        target[i] = 4096u + (size_t)(bench_random(&rng) % (1020u * 1024u));
        buf[i] = bench_malloc(len[i], "realloc");
        buf[i][0] = (unsigned char)i;
    }
    for (uint64_t k = 0; k < o->steps; k++) {
        uint64_t x = bench_random(&rng);
        unsigned i = (unsigned)(x % GROW_BUFFERS);
        if (len[i] >= target[i]) {
            free(buf[i]);
            len[i] = 16u + (size_t)((x >> 8) % 49u);
            target[i] = 4096u + (size_t)((x >> 16) % (1020u * 1024u));
            buf[i] = bench_malloc(len[i], "realloc");
            buf[i][0] = (unsigned char)i;
            continue;
        }
        size_t n = len[i] + 16u + (size_t)((x >> 8) % 497u);
        unsigned char *p = realloc(buf[i], n);
        if (p == NULL) {
            fprintf(stderr, PROG " realloc: realloc(%zu) failed\n", n);
            return 1;
        }
        if (p[0] != (unsigned char)i) {
            fprintf(stderr, PROG " realloc: contents lost after realloc to %zu bytes\n", n);
            return 1;
        }
        p[n - 1] = (unsigned char)x;
        buf[i] = p;
        len[i] = n;
    }
    for (unsigned i = 0; i < GROW_BUFFERS; i++)
        free(buf[i]);
    double secs = bench_now() - t0;
    bench_mark("end");
    printf("result realloc mops=%.3f seconds=%.4f ops=%" PRIu64 "\n",
           (double)o->steps / secs / 1e6, secs, o->steps);
    return 0;
}

/* ---- large blocks ---- */

#define LARGE_SLOTS 4

static unsigned char *new_large(uint64_t x)
{
    const size_t mib = (size_t)1 << 20;
    size_t n = 5u * mib + (size_t)(x % (20u * mib + 1u));
    unsigned char *p = bench_malloc(n, "large");
    for (size_t off = 0; off < n; off += 4096u)
        p[off] = (unsigned char)off;
    p[n - 1] = 1;
    return p;
}

static int run_large(const struct options *o)
{
    unsigned char *slot[LARGE_SLOTS];
    uint64_t rng = 0xda942042e4dd58b5ull;
    bench_mark("begin");
    double t0 = bench_now();
    for (unsigned i = 0; i < LARGE_SLOTS; i++)
        slot[i] = new_large(bench_random(&rng));
    for (uint64_t k = 0; k < o->steps; k++) {
        uint64_t x = bench_random(&rng);
        unsigned i = (unsigned)(x % LARGE_SLOTS);
        free(slot[i]);
        slot[i] = new_large(x >> 3);
    }
    for (unsigned i = 0; i < LARGE_SLOTS; i++)
        free(slot[i]);
    double secs = bench_now() - t0;
    bench_mark("end");
    uint64_t ops = o->steps + LARGE_SLOTS;
    printf("result large mops=%.6f seconds=%.4f ops=%" PRIu64 " ms_per_op=%.4f\n",
           (double)ops / secs / 1e6, secs, ops, secs * 1e3 / (double)ops);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: " PROG " churn|larson|prodcons|realloc|large [--threads T] [--slots S]\n"
                    "       [--steps N] [--rounds R]\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    const char *what = argv[1];
    struct options o = {.threads = 1, .slots = 1000, .steps = 1000000, .rounds = 20};
    for (int i = 2; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--threads") == 0)
            o.threads = (unsigned)bench_parse_u64(PROG, argv[i], v);
        else if (strcmp(argv[i], "--slots") == 0)
            o.slots = (size_t)bench_parse_u64(PROG, argv[i], v);
        else if (strcmp(argv[i], "--steps") == 0)
            o.steps = bench_parse_u64(PROG, argv[i], v);
        else if (strcmp(argv[i], "--rounds") == 0)
            o.rounds = bench_parse_u64(PROG, argv[i], v);
        else
            return usage();
    }
    if (o.threads == 0 || o.threads > MAX_THREADS || o.slots == 0 || o.steps == 0 || o.rounds == 0) {
        fprintf(stderr, PROG ": threads must be 1-%d; slots, steps and rounds above 0\n",
                MAX_THREADS);
        return 2;
    }
    /* Initialize the allocator (and stdio's buffer) before any marker. */
    free(bench_malloc(16, what));
    fflush(stdout);

    if (strcmp(what, "churn") == 0)
        return run_slots(&o, 0);
    if (strcmp(what, "larson") == 0)
        return run_slots(&o, 1);
    if (strcmp(what, "prodcons") == 0)
        return run_prodcons(&o);
    if (strcmp(what, "realloc") == 0)
        return run_realloc(&o);
    if (strcmp(what, "large") == 0)
        return run_large(&o);
    return usage();
}
