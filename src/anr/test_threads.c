/* Threads: cross-thread frees under contention (the lock-free queue of
 * frees made while the lock is taken), a free that provably does not wait
 * for the lock, and fork while other threads allocate; each without and
 * with thread caches (cross-thread frees then land in the freeing thread's
 * cache, and every thread's exit gives its cache back). */
#include "anr/anr_malloc.h"
#include "anr/heap_internal.h"
#include "anr/tcache.h"
#include "mbtest.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB ((size_t)1 << 20)
#define THREADS 4
#define EXCHANGE 256

static anr_heap *heap;
static _Atomic(unsigned char *) exchange[EXCHANGE];
static atomic_uint bad_blocks;
static atomic_uint failed_allocs;
static atomic_bool stop;
static bool caches_on;

static void options(struct anr_options *o, size_t pool)
{
    anr_options_init(o);
    o->pool_size = pool;
    o->map_size = 64 * MiB;
    o->thread_cache = caches_on;
}

struct worker {
    unsigned id;
    unsigned ops;
    uint64_t rng;
};

static uint64_t next(struct worker *w)
{
    return mbt_xorshift64(&w->rng);
}

/* A block records its size in its first bytes and repeats a tag to its end. */
static void stamp(unsigned char *p, size_t n)
{
    memcpy(p, &n, sizeof n);
    memset(p + sizeof n, (int)(n & 0xff), n - sizeof n);
}

static void check_and_free(unsigned char *p)
{
    size_t n;
    memcpy(&n, p, sizeof n);
    if (n < sizeof n || n > 70000 || p[n - 1] != (unsigned char)(n & 0xff))
        atomic_fetch_add(&bad_blocks, 1);
    anr_heap_free(heap, p);
}

static void *churn(void *arg)
{
    struct worker *w = arg;
    for (unsigned i = 0; i < w->ops; i++) {
        uint64_t r = next(w);
        size_t n = sizeof(size_t) + 1u + (size_t)(r % 100 < 95 ? next(w) % 600 : next(w) % 60000);
        unsigned char *p = anr_heap_malloc(heap, n);
        if (p == NULL) {
            atomic_fetch_add(&failed_allocs, 1);
            continue;
        }
        stamp(p, n);
        /* Swap into a shared slot: whatever was there (usually another
         * thread's block) is freed by this thread. */
        unsigned char *old = atomic_exchange(&exchange[next(w) % EXCHANGE], p);
        if (old != NULL)
            check_and_free(old);
    }
    return NULL;
}

static void test_cross_thread_frees(void)
{
    struct anr_options o;
    options(&o, 48 * MiB);
    MBT_EQ_INT(0, anr_heap_create(&o, &heap));
    MBT_REQUIRE(heap != NULL);
    pthread_t t[THREADS];
    struct worker w[THREADS];
    for (unsigned i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.id = i, .ops = 40000, .rng = 0x1234567ull * (i + 1)};
        MBT_EQ_INT(0, pthread_create(&t[i], NULL, churn, &w[i]));
    }
    for (unsigned i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (unsigned i = 0; i < EXCHANGE; i++) {
        unsigned char *p = atomic_exchange(&exchange[i], NULL);
        if (p != NULL)
            check_and_free(p);
    }
    MBT_EQ_U64(0, atomic_load(&bad_blocks));
    MBT_EQ_U64(0, atomic_load(&failed_allocs));
    struct anr_stats st;
    anr_heap_get_stats(heap, &st); /* drains any queued frees first */
    MBT_EQ_U64(0, st.in_use_bytes);
    MBT_EQ_U64(0, st.live_blocks);
    MBT_EQ_U64(THREADS * 40000ull, st.mallocs);
    MBT_EQ_U64(THREADS * 40000ull, st.frees);
    MBT_EQ_U64(0, st.invalid_frees);
    /* The workers are gone: only this thread's cache may hold blocks. */
    MBT_TRUE(st.thread_cached_bytes <= 512 * 1024);
    if (!caches_on)
        MBT_EQ_U64(0, st.thread_cached_blocks);
    printf("test_threads (caches %s): %llu of %llu frees went through the lock-free queue\n",
           caches_on ? "on" : "off", (unsigned long long)st.deferred_frees,
           (unsigned long long)st.frees);
    char msg[200];
    MBT_EQ_INT(0, anr_heap_verify(heap, msg, sizeof msg));
    anr_heap_destroy(heap);
    heap = NULL;
}

/* Blocks this thread's cache of the heap holds (the core counts them live). */
static uint64_t cached_here(void)
{
    const struct anr_tcache *tc = anr_tc_mine(heap);
    uint64_t n = 0;
    for (unsigned c = 0; tc != NULL && c < heap->nclasses; c++)
        n += tc->bins[c].count;
    return n;
}

struct held_free {
    void **blocks;
    unsigned n;
    atomic_bool done;
};

static void *free_all(void *arg)
{
    struct held_free *f = arg;
    for (unsigned i = 0; i < f->n; i++)
        anr_heap_free(heap, f->blocks[i]);
    atomic_store(&f->done, true);
    return NULL;
}

static void test_free_does_not_wait_for_the_lock(void)
{
    struct anr_options o;
    options(&o, 2 * MiB);
    MBT_EQ_INT(0, anr_heap_create(&o, &heap));
    MBT_REQUIRE(heap != NULL);
    enum { N = 300 };
    static void *blocks[N];
    for (unsigned i = 0; i < N; i++) {
        blocks[i] = anr_heap_malloc(heap, i % 3 == 0 ? 5000 : 40);
        MBT_REQUIRE(blocks[i] != NULL);
    }
    struct held_free f = {.blocks = blocks, .n = N};
    atomic_init(&f.done, false);
    anr_lock(heap); /* hold the heap's lock while another thread frees */
    pthread_t t;
    MBT_EQ_INT(0, pthread_create(&t, NULL, free_all, &f));
    pthread_join(t, NULL); /* would hang here if free waited for the lock */
    MBT_TRUE(atomic_load(&f.done));
    MBT_EQ_U64(N + cached_here(), heap->st.live_blocks); /* nothing freed yet: all queued */
    anr_unlock(heap);
    struct anr_stats st;
    anr_heap_get_stats(heap, &st);
    MBT_EQ_U64(N, st.deferred_frees);
    MBT_EQ_U64(N, st.frees);
    MBT_EQ_U64(0, st.live_blocks);
    MBT_EQ_U64(0, st.in_use_bytes);
    char msg[200];
    MBT_EQ_INT(0, anr_heap_verify(heap, msg, sizeof msg));
    anr_heap_destroy(heap);
    heap = NULL;
}

static void *allocate_until_stopped(void *arg)
{
    struct worker *w = arg;
    unsigned char *mine[64] = {0};
    while (!atomic_load(&stop)) {
        unsigned s = (unsigned)(next(w) % 64);
        if (mine[s] != NULL) {
            check_and_free(mine[s]);
            mine[s] = NULL;
        } else {
            size_t n = sizeof(size_t) + 1u + (size_t)(next(w) % 9000);
            mine[s] = anr_heap_malloc(heap, n);
            if (mine[s] != NULL)
                stamp(mine[s], n);
        }
    }
    for (unsigned s = 0; s < 64; s++)
        if (mine[s] != NULL)
            check_and_free(mine[s]);
    return NULL;
}

/* In the child: the heap must be unlocked and consistent. */
static int child_allocates(void)
{
    char msg[200];
    void *p[100];
    for (int i = 0; i < 100; i++) {
        p[i] = anr_heap_malloc(heap, 16u + (size_t)i * 97u);
        if (p[i] == NULL)
            return 2;
    }
    for (int i = 0; i < 100; i++)
        anr_heap_free(heap, p[i]);
    return anr_heap_verify(heap, msg, sizeof msg) == 0 ? 0 : 3;
}

static void test_fork_while_allocating(void)
{
    struct anr_options o;
    options(&o, 32 * MiB);
    MBT_EQ_INT(0, anr_heap_create(&o, &heap));
    MBT_REQUIRE(heap != NULL);
    atomic_store(&stop, false);
    pthread_t t[3];
    struct worker w[3];
    for (unsigned i = 0; i < 3; i++) {
        w[i] = (struct worker){.id = i, .rng = 0xabcdefull * (i + 7)};
        MBT_EQ_INT(0, pthread_create(&t[i], NULL, allocate_until_stopped, &w[i]));
    }
    for (int i = 0; i < 20; i++) {
        usleep(2000);
        pid_t pid = fork();
        if (pid == 0)
            _exit(child_allocates());
        int status = -1;
        MBT_EQ_INT(pid, waitpid(pid, &status, 0));
        MBT_TRUE(WIFEXITED(status));
        MBT_EQ_INT(0, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    atomic_store(&stop, true);
    for (unsigned i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    MBT_EQ_U64(0, atomic_load(&bad_blocks));
    struct anr_stats st;
    anr_heap_get_stats(heap, &st);
    MBT_EQ_U64(0, st.live_blocks);
    char msg[200];
    MBT_EQ_INT(0, anr_heap_verify(heap, msg, sizeof msg));
    anr_heap_destroy(heap);
    heap = NULL;
}

int main(void)
{
    for (int pass = 0; pass < 2; pass++) {
        caches_on = pass == 1;
        MBT_RUN(test_cross_thread_frees);
        MBT_RUN(test_free_does_not_wait_for_the_lock);
        MBT_RUN(test_fork_while_allocating);
    }
    return mbt_finish();
}
