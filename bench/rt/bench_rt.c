/* bench_rt: does the allocator stall a real-time thread of the same process?
 *
 *   bench_rt [--seconds S] [--period-us P] [--deadline-us D] [--prio N] [--no-load]
 *
 * A SCHED_FIFO thread (priority N, default 80; an ordinary thread with a note
 * when FIFO is refused) wakes every P us (default 1000) on an absolute
 * timer. Each cycle it records its wake-up latency, mallocs and frees one
 * 256 B block (timed), and writes one never-touched page of a private
 * mapping (timed: the page fault needs the mmap lock, which an mmap, munmap,
 * mprotect or brk in another thread holds for writing). A cycle that ends
 * more than D us (default 10000) after its planned start is a deadline miss.
 * Meanwhile two ordinary threads of the same process load the allocator:
 * one churns small blocks (10k slots, the ANCHORS mix), the other mallocs
 * 1-64 MiB blocks, writes every page, and frees them. --no-load leaves them
 * out (the machine's own noise).
 *
 * Prints "result rt ..." with percentiles in microseconds of the wake-up
 * latency, of the whole cycle (response), of the malloc+free and of the
 * page touch, the misses, the page faults the real-time thread took, and
 * the load threads' operation counts.
 */
#include "../alloc/alloc_common.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define PROG "bench_rt"
#define SMALL_SLOTS 10000u
#define FRESH_BYTES ((size_t)256 << 20)

struct rt_samples {
    uint32_t *wake_ns;
    uint32_t *resp_ns;
    uint32_t *malloc_ns;
    uint32_t *touch_ns;
    size_t cap;
    size_t count;
    uint64_t misses;
    long minflt;
};

struct run {
    uint64_t period_ns;
    uint64_t deadline_ns;
    uint64_t seconds;
    int load;
    _Atomic int stop;
    pthread_barrier_t start;
    pthread_barrier_t done;
    struct rt_samples rt;
    uint64_t small_ops;
    uint64_t large_ops;
    /* Harness memory, mapped by main before the threads start so that no
     * harness mmap falls between the strace markers. */
    unsigned char *fresh;
    unsigned char **small_slot;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint32_t clamp_ns(uint64_t ns)
{
    return ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

static void *rt_main(void *arg)
{
    struct run *run = arg;
    struct rt_samples *s = &run->rt;
    unsigned char *fresh = run->fresh;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t next_page = 0;
    struct rusage ru0, ru1;

    pthread_barrier_wait(&run->start);
    getrusage(RUSAGE_THREAD, &ru0);
    uint64_t planned = now_ns() + run->period_ns;
    while (s->count < s->cap && !atomic_load_explicit(&run->stop, memory_order_relaxed)) {
        struct timespec ts = {.tv_sec = (time_t)(planned / 1000000000u),
                              .tv_nsec = (long)(planned % 1000000000u)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
        }
        uint64_t woke = now_ns();
        unsigned char *p = malloc(256);
        if (p == NULL) {
            fprintf(stderr, PROG ": malloc(256) failed in the real-time thread\n");
            exit(1);
        }
        p[0] = 1;
        p[255] = 2;
        free(p);
        uint64_t allocated = now_ns();
        if (next_page + page > FRESH_BYTES) {
            madvise(fresh, FRESH_BYTES, MADV_DONTNEED);
            next_page = 0;
        }
        fresh[next_page] = 1;
        next_page += page;
        uint64_t finished = now_ns();
        size_t i = s->count++;
        s->wake_ns[i] = clamp_ns(woke - planned);
        s->malloc_ns[i] = clamp_ns(allocated - woke);
        s->touch_ns[i] = clamp_ns(finished - allocated);
        s->resp_ns[i] = clamp_ns(finished - planned);
        if (finished - planned > run->deadline_ns)
            s->misses++;
        planned += run->period_ns;
    }
    getrusage(RUSAGE_THREAD, &ru1);
    s->minflt = ru1.ru_minflt - ru0.ru_minflt;
    pthread_barrier_wait(&run->done);
    pthread_barrier_wait(&run->done); /* released after the end marker */
    return NULL;
}

static void *small_main(void *arg)
{
    struct run *run = arg;
    unsigned char **slot = run->small_slot;
    uint64_t rng = 0x9e3779b97f4a7c15ull, ops = 0;
    pthread_barrier_wait(&run->start);
    for (size_t i = 0; i < SMALL_SLOTS; i++)
        slot[i] = bench_malloc(bench_churn_size(bench_random(&rng)), "rt small");
    while (!atomic_load_explicit(&run->stop, memory_order_relaxed)) {
        for (unsigned k = 0; k < 1000; k++) {
            size_t i = (size_t)(bench_random(&rng) % SMALL_SLOTS);
            free(slot[i]);
            size_t n = bench_churn_size(bench_random(&rng));
            slot[i] = bench_malloc(n, "rt small");
            slot[i][0] = 1;
            slot[i][n - 1] = 2;
        }
        ops += 1000;
    }
    for (size_t i = 0; i < SMALL_SLOTS; i++)
        free(slot[i]);
    run->small_ops = ops;
    pthread_barrier_wait(&run->done);
    pthread_barrier_wait(&run->done);
    return NULL;
}

static void *large_main(void *arg)
{
    struct run *run = arg;
    uint64_t rng = 0x2545f4914f6cdd1dull, ops = 0;
    const size_t mib = (size_t)1 << 20;
    pthread_barrier_wait(&run->start);
    while (!atomic_load_explicit(&run->stop, memory_order_relaxed)) {
        size_t n = mib + (size_t)(bench_random(&rng) % (63u * mib));
        unsigned char *p = bench_malloc(n, "rt large");
        for (size_t off = 0; off < n; off += 4096u)
            p[off] = 1;
        free(p);
        ops++;
    }
    run->large_ops = ops;
    pthread_barrier_wait(&run->done);
    pthread_barrier_wait(&run->done);
    return NULL;
}

static int compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Prints name_p50, _p99, _p999 and _max in microseconds (sorts v). */
static void print_percentiles(const char *name, uint32_t *v, size_t n)
{
    if (n == 0)
        return;
    qsort(v, n, sizeof *v, compare_u32);
    size_t i50 = n / 2, i99 = n * 99 / 100, i999 = n * 999 / 1000;
    printf(" %s_p50=%.1f %s_p99=%.1f %s_p999=%.1f %s_max=%.1f", name, v[i50] / 1e3, name,
           v[i99] / 1e3, name, v[i999] / 1e3, name, v[n - 1] / 1e3);
}

static int usage(void)
{
    fprintf(stderr, "usage: " PROG " [--seconds S] [--period-us P] [--deadline-us D] [--prio N]"
                    " [--no-load]\n");
    return 2;
}

int main(int argc, char **argv)
{
    static struct run run;
    uint64_t prio = 80;
    run.seconds = 10;
    run.period_ns = 1000000;
    run.deadline_ns = 10000000;
    run.load = 1;
    int arg = 1;
    while (arg < argc) {
        const char *v = arg + 1 < argc ? argv[arg + 1] : NULL;
        int used = 2;
        if (strcmp(argv[arg], "--no-load") == 0) {
            run.load = 0;
            used = 1;
        } else if (strcmp(argv[arg], "--seconds") == 0) {
            run.seconds = bench_parse_u64(PROG, argv[arg], v);
        } else if (strcmp(argv[arg], "--period-us") == 0) {
            run.period_ns = bench_parse_u64(PROG, argv[arg], v) * 1000u;
        } else if (strcmp(argv[arg], "--deadline-us") == 0) {
            run.deadline_ns = bench_parse_u64(PROG, argv[arg], v) * 1000u;
        } else if (strcmp(argv[arg], "--prio") == 0) {
            prio = bench_parse_u64(PROG, argv[arg], v);
        } else {
            return usage();
        }
        arg += used;
    }
    if (run.seconds == 0 || run.seconds > 3600 || run.period_ns < 100000 || prio < 1 || prio > 99)
        return usage();

    struct rt_samples *s = &run.rt;
    s->cap = (size_t)(run.seconds * 1000000000u / run.period_ns) + 1u;
    s->wake_ns = bench_map(s->cap * sizeof(uint32_t), 1);
    s->resp_ns = bench_map(s->cap * sizeof(uint32_t), 1);
    s->malloc_ns = bench_map(s->cap * sizeof(uint32_t), 1);
    s->touch_ns = bench_map(s->cap * sizeof(uint32_t), 1);
    run.fresh = bench_map(FRESH_BYTES, 0);
    run.small_slot = bench_map(SMALL_SLOTS * sizeof *run.small_slot, 1);
    free(bench_malloc(16, "rt"));
    fflush(stdout);

    unsigned nthreads = run.load ? 3u : 1u;
    pthread_barrier_init(&run.start, NULL, nthreads + 1u);
    pthread_barrier_init(&run.done, NULL, nthreads + 1u);

    pthread_attr_t attr;
    struct sched_param sp = {.sched_priority = (int)prio};
    pthread_attr_init(&attr);
    pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
    pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
    pthread_attr_setschedparam(&attr, &sp);
    pthread_t tid[3];
    int fifo = 1;
    int rc = pthread_create(&tid[0], &attr, rt_main, &run);
    if (rc == EPERM) {
        fprintf(stderr, PROG ": SCHED_FIFO refused (EPERM); the timed thread runs as an "
                        "ordinary thread\n");
        fifo = 0;
        rc = pthread_create(&tid[0], NULL, rt_main, &run);
    }
    pthread_attr_destroy(&attr);
    if (rc != 0 || (run.load && (pthread_create(&tid[1], NULL, small_main, &run) != 0 ||
                                 pthread_create(&tid[2], NULL, large_main, &run) != 0))) {
        fprintf(stderr, PROG ": pthread_create failed\n");
        return 1;
    }
    bench_mark("begin");
    pthread_barrier_wait(&run.start);
    struct timespec ts = {.tv_sec = (time_t)run.seconds};
    while (nanosleep(&ts, &ts) != 0) {
    }
    atomic_store(&run.stop, 1);
    pthread_barrier_wait(&run.done);
    bench_mark("end");
    pthread_barrier_wait(&run.done);
    for (unsigned i = 0; i < nthreads; i++)
        pthread_join(tid[i], NULL);
    bench_unmap(run.fresh, FRESH_BYTES);
    bench_unmap(run.small_slot, SMALL_SLOTS * sizeof *run.small_slot);

    printf("result rt fifo=%d load=%d cycles=%zu misses=%" PRIu64 " rt_minflt=%ld small_mops=%.3f"
           " large_ops=%" PRIu64,
           fifo, run.load, s->count, s->misses, s->minflt,
           (double)run.small_ops / (double)run.seconds / 1e6, run.large_ops);
    print_percentiles("wake_us", s->wake_ns, s->count);
    print_percentiles("resp_us", s->resp_ns, s->count);
    print_percentiles("malloc_us", s->malloc_ns, s->count);
    print_percentiles("touch_us", s->touch_ns, s->count);
    printf("\n");
    return 0;
}
