/* Thread caches: exact statistics with blocks in caches, verify with caches
 * full, a thread's exit giving its blocks back, heaps destroyed before the
 * threads that cached them exit, several heaps per thread, a same-thread
 * double free caught, memory asked back (trim, shrink, budget) emptying
 * caches, and a fork child taking back the caches of threads it lost. */
#include "anr/anr_malloc.h"
#include "anr/heap_internal.h"
#include "anr/tcache.h"
#include "mbtest.h"

#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB ((size_t)1 << 20)
#define N 2000

static void cached_options(struct anr_options *o)
{
    anr_options_init(o);
    o->pool_size = 16 * MiB;
    o->map_size = 32 * MiB;
    o->thread_cache = true;
}

static bool verify_ok(anr_heap *h)
{
    char msg[256];
    int rc = anr_heap_verify(h, msg, sizeof msg);
    if (rc != 0)
        fprintf(stderr, "    verify: %s\n", msg);
    return rc == 0;
}

static void test_options(void)
{
    struct anr_options o;
    anr_options_init(&o);
    MBT_FALSE(o.thread_cache);
    MBT_EQ_U64(512 * 1024, o.thread_cache_bytes);
    MBT_EQ_U64(64, o.thread_cache_threads);
    anr_heap *h = NULL;
    o.thread_cache = true;
    o.thread_cache_threads = 0;
    MBT_EQ_INT(-EINVAL, anr_heap_create(&o, &h));
    o.thread_cache_threads = ANR_TC_MAX_THREADS + 1;
    MBT_EQ_INT(-EINVAL, anr_heap_create(&o, &h));
    o.thread_cache_threads = 4;
    MBT_EQ_INT(0, anr_heap_create(&o, &h));
    /* The 44 default slab classes share 256 KiB from the smallest up: the
     * 16-32 byte bins are capped at 128 blocks, the 48-byte class gets an
     * equal share of the rest (126), the 128-byte one 47, 3072 bytes 3. */
    MBT_EQ_U64(44, h->nclasses);
    MBT_EQ_U64(128, h->tc_limit[0]);
    MBT_EQ_U64(128, h->tc_limit[1]);
    MBT_EQ_U64(126, h->tc_limit[2]);
    MBT_EQ_U64(47, h->tc_limit[7]);
    MBT_EQ_U64(3, h->tc_limit[43]);
    /* Ten chunk classes, four per doubling up to 16 KiB, share the other
     * 256 KiB and what the slab classes left. */
    static const uint32_t chunk_sizes[] = {3584, 4096, 5120, 6144, 7168,
                                           8192, 10240, 12288, 14336, 16384};
    static const uint32_t chunk_limits[] = {7, 6, 5, 4, 3, 3, 2, 2, 2, 2};
    MBT_EQ_U64(54, h->tc_classes);
    size_t bytes = 0;
    for (unsigned c = 0; c < h->tc_classes; c++) {
        if (c >= 44) {
            MBT_EQ_U64(chunk_sizes[c - 44], h->classes[c].size);
            MBT_EQ_U64(chunk_limits[c - 44], h->tc_limit[c]);
        }
        bytes += (size_t)h->tc_limit[c] * h->classes[c].size;
    }
    MBT_TRUE(bytes <= 512 * 1024);
    MBT_EQ_U64(16384, h->tc_max_size);
    /* A 5000-byte request sits in the 5120-byte class; 16385 is above the
     * cached range and 3072 is a slab class. */
    MBT_EQ_U64(5120, anr_tc_round_request(h, 5000));
    MBT_EQ_U64(3584, anr_tc_round_request(h, 3073));
    MBT_EQ_U64(16384, anr_tc_round_request(h, 16384));
    MBT_EQ_U64(16385, anr_tc_round_request(h, 16385));
    MBT_EQ_U64(3072, anr_tc_round_request(h, 3072));
    anr_heap_destroy(h);
}

/* Stats count what the application holds; cached blocks are free memory. */
static void test_stats_exact_and_verify_with_full_caches(void)
{
    struct anr_options o;
    cached_options(&o);
    anr_heap *h = NULL;
    MBT_EQ_INT(0, anr_heap_create(&o, &h));
    MBT_REQUIRE(h != NULL);
    static void *p[N];
    for (unsigned i = 0; i < N; i++) {
        p[i] = anr_heap_malloc(h, 16u + (i % 20u) * 16u);
        MBT_REQUIRE(p[i] != NULL);
    }
    struct anr_stats st;
    anr_heap_get_stats(h, &st);
    MBT_EQ_U64(N, st.live_blocks);
    MBT_EQ_U64(N, st.mallocs);
    uint64_t bytes = 0;
    for (unsigned i = 0; i < N; i++)
        bytes += anr_heap_usable_size(h, p[i]); /* the class size */
    MBT_EQ_U64(bytes, st.in_use_bytes);
    MBT_TRUE(verify_ok(h));
    for (unsigned i = 0; i < N; i++)
        anr_heap_free(h, p[i]);
    anr_heap_get_stats(h, &st);
    MBT_EQ_U64(0, st.live_blocks);
    MBT_EQ_U64(0, st.in_use_bytes);
    MBT_EQ_U64(N, st.frees);
    /* What the statistics call cached is what this thread's bins hold. */
    struct anr_tcache *tc = anr_tc_mine(h);
    MBT_REQUIRE(tc != NULL);
    uint64_t want_blocks = 0, want_bytes = 0;
    for (unsigned c = 0; c < h->nclasses; c++) {
        MBT_TRUE(tc->bins[c].count <= h->tc_limit[c]);
        want_blocks += tc->bins[c].count;
        want_bytes += (uint64_t)tc->bins[c].count * h->classes[c].size;
    }
    MBT_TRUE(want_blocks > 0);
    MBT_EQ_U64(want_blocks, st.thread_cached_blocks);
    MBT_EQ_U64(want_bytes, st.thread_cached_bytes);
    MBT_TRUE(st.thread_cached_bytes <= o.thread_cache_bytes);
    MBT_TRUE(st.resident_bytes >= st.thread_cached_bytes);
    MBT_TRUE(verify_ok(h));
    /* Blocks come back out of the cache, most recently freed first. */
    void *q = anr_heap_malloc(h, 16);
    MBT_TRUE(q == p[N - 20]);
    anr_heap_free(h, q);
    /* Fill the 16-byte bin to its limit exactly and verify. */
    uint32_t limit = h->tc_limit[0];
    for (unsigned i = 0; i < limit; i++)
        p[i] = anr_heap_malloc(h, 16);
    unsigned next = 0;
    while (tc->bins[0].count < limit && next < limit)
        anr_heap_free(h, p[next++]);
    MBT_EQ_U64(limit, tc->bins[0].count);
    MBT_TRUE(verify_ok(h));
    anr_heap_get_stats(h, &st);
    MBT_EQ_U64(limit - next, st.live_blocks);
    MBT_EQ_U64((uint64_t)(limit - next) * 16u, st.in_use_bytes);
    while (next < limit)
        anr_heap_free(h, p[next++]);
    MBT_TRUE(verify_ok(h));
    /* trim empties this thread's cache: everything goes back. */
    anr_heap_trim(h);
    anr_heap_get_stats(h, &st);
    MBT_EQ_U64(0, st.thread_cached_blocks);
    MBT_EQ_U64(0, st.thread_cached_bytes);
    MBT_EQ_U64(0, st.reclaimable_bytes);
    MBT_EQ_U64(N + 1 + limit, st.mallocs);
    MBT_EQ_U64(N + 1 + limit, st.frees);
    MBT_TRUE(verify_ok(h));
    anr_heap_destroy(h);
}

static void test_calloc_from_cache(void)
{
    struct anr_options o;
    cached_options(&o);
    anr_heap *h = NULL;
    MBT_EQ_INT(0, anr_heap_create(&o, &h));
    unsigned char *p = anr_heap_malloc(h, 100);
    MBT_REQUIRE(p != NULL);
    memset(p, 0xab, 100);
    anr_heap_free(h, p);
    unsigned char *q = anr_heap_calloc(h, 10, 10);
    MBT_TRUE(q == p); /* served by the cache, and cleared */
    unsigned nonzero = 0;
    for (unsigned i = 0; i < 100; i++)
        nonzero += q[i] != 0;
    MBT_EQ_U64(0, nonzero);
    struct anr_stats st;
    anr_heap_get_stats(h, &st);
    MBT_EQ_U64(1, st.mallocs);
    MBT_EQ_U64(1, st.callocs);
    MBT_EQ_U64(1, st.frees);
    MBT_EQ_U64(1, st.live_blocks);
    MBT_EQ_U64(112, st.in_use_bytes);
    anr_heap_free(h, q);
    MBT_TRUE(verify_ok(h));
    anr_heap_destroy(h);
}

static void test_double_free_caught(void)
{
    struct anr_options o;
    cached_options(&o);
    anr_heap *h = NULL;
    MBT_EQ_INT(0, anr_heap_create(&o, &h));
    void *a = anr_heap_malloc(h, 40);
    void *b = anr_heap_malloc(h, 40);
    anr_heap_free(h, a);
    anr_heap_free(h, b);
    anr_heap_free(h, a); /* already in this thread's cache */
    struct anr_stats st;
    anr_heap_get_stats(h, &st);
    MBT_EQ_U64(1, st.invalid_frees);
    MBT_EQ_U64(2, st.frees);
    MBT_EQ_U64(0, st.live_blocks);
    MBT_TRUE(verify_ok(h));
    void *x = anr_heap_malloc(h, 40), *y = anr_heap_malloc(h, 40);
    MBT_TRUE(x != y); /* the cache was not corrupted into handing a block out twice */
    anr_heap_free(h, x);
    anr_heap_free(h, y);
    anr_heap_destroy(h);
}

/* Blocks from the chunk space up to 16 KiB are cached too: made at their
 * class's size, freed into the bin under the lock, handed out again
 * without it, flushed with exact statistics, a double free caught. */
static void test_chunk_classes_cached(void)
{
    struct anr_options o;
    cached_options(&o);
    anr_heap *h = NULL;
    MBT_EQ_INT(0, anr_heap_create(&o, &h));
    MBT_REQUIRE(h != NULL);
    void *a = anr_heap_malloc(h, 5000);
    void *b = anr_heap_malloc(h, 4700);
    MBT_REQUIRE(a != NULL && b != NULL);
    MBT_EQ_U64(5120, anr_heap_usable_size(h, a));
    MBT_EQ_U64(5120, anr_heap_usable_size(h, b));
    anr_heap_free(h, a);
    anr_heap_free(h, b);
    struct anr_stats st;
    anr_heap_get_stats(h, &st);
    MBT_EQ_U64(0, st.live_blocks);
    MBT_EQ_U64(0, st.in_use_bytes);
    MBT_EQ_U64(2, st.frees);
    MBT_EQ_U64(2 * 5120, st.thread_cached_bytes);
    MBT_TRUE(verify_ok(h));
    /* Last in, first out, for any request of the class. */
    void *c = anr_heap_malloc(h, 4200);
    MBT_TRUE(c == b);
    MBT_EQ_U64(5120, anr_heap_usable_size(h, c));
    memset(c, 0xab, 4200);
    anr_heap_free(h, c);
    anr_heap_free(h, c); /* a double free of a cached chunk block */
    anr_heap_get_stats(h, &st);
    MBT_EQ_U64(1, st.invalid_frees);
    MBT_EQ_U64(3, st.frees);
    MBT_EQ_U64(3, st.mallocs);
    MBT_TRUE(verify_ok(h));
    /* A bin that fills flushes half of itself back to the chunk space. */
    unsigned limit = h->tc_limit[h->class_of[5120 / 16]];
    MBT_EQ_U64(5, limit);
    void *p[8];
    for (unsigned i = 0; i < 8; i++)
        MBT_REQUIRE((p[i] = anr_heap_malloc(h, 5100)) != NULL);
    for (unsigned i = 0; i < 8; i++)
        anr_heap_free(h, p[i]);
    anr_heap_get_stats(h, &st);
    MBT_EQ_U64(0, st.live_blocks);
    MBT_TRUE(st.thread_cached_bytes <= (uint64_t)limit * 5120);
    MBT_TRUE(verify_ok(h));
    /* Trim empties the bins into the chunk space. */
    anr_heap_trim(h);
    anr_heap_get_stats(h, &st);
    MBT_EQ_U64(0, st.thread_cached_bytes);
    MBT_EQ_U64(0, st.in_use_bytes);
    MBT_TRUE(verify_ok(h));
    anr_heap_destroy(h);
}

/* Custom slab classes that end small: the chunk classes start right above
 * them, every one a multiple of the 16-byte granule, and each request maps
 * to the smallest class that holds it. */
static void test_chunk_classes_after_small_slabs(void)
{
    static const uint32_t sizes[] = {16, 32};
    struct anr_options o;
    cached_options(&o);
    o.slab_sizes = sizes;
    o.slab_size_count = 2;
    anr_heap *h = NULL;
    MBT_EQ_INT(0, anr_heap_create(&o, &h));
    MBT_REQUIRE(h != NULL);
    MBT_EQ_U64(2, h->nclasses);
    MBT_EQ_U64(48, h->classes[2].size);
    MBT_EQ_U64(64, h->classes[3].size);
    MBT_EQ_U64(80, h->classes[4].size);
    for (unsigned c = 1; c < h->tc_classes; c++) {
        MBT_EQ_U64(0, h->classes[c].size % 16u);
        MBT_TRUE(h->classes[c].size > h->classes[c - 1].size);
    }
    for (uint32_t size = 33; size <= h->classes[h->tc_classes - 1].size; size++) {
        uint32_t k = h->classes[h->class_of[(size + 15u) / 16u]].size;
        MBT_TRUE(k >= size && k - size < 16u + k / 4u);
    }
    void *a = anr_heap_malloc(h, 40);
    MBT_REQUIRE(a != NULL);
    MBT_EQ_U64(48, anr_heap_usable_size(h, a));
    anr_heap_free(h, a);
    MBT_TRUE(anr_heap_malloc(h, 33) == a); /* from the 48-byte bin */
    anr_heap_free(h, a);
    MBT_TRUE(verify_ok(h));
    anr_heap_destroy(h);
}

/* A free into a full bin while the lock is taken: half the bin goes to the
 * heap's lock-free return stack, the free completes, and the next lock
 * holder gives those blocks back with exact statistics. */
static void test_full_bin_flushes_without_the_lock(void)
{
    struct anr_options o;
    cached_options(&o);
    anr_heap *h = NULL;
    MBT_EQ_INT(0, anr_heap_create(&o, &h));
    uint32_t limit = h->tc_limit[1]; /* 32-byte blocks */
    static void *p[300];
    MBT_REQUIRE(limit + 1u <= 300u);
    for (unsigned i = 0; i <= limit; i++)
        p[i] = anr_heap_malloc(h, 32);
    struct anr_tcache *tc = anr_tc_mine(h);
    MBT_REQUIRE(tc != NULL);
    unsigned next = 0;
    while (tc->bins[1].count < limit)
        anr_heap_free(h, p[next++]);
    MBT_REQUIRE(next < limit + 1u);
    anr_lock(h); /* as if another thread held it: this free must not wait */
    anr_heap_free(h, p[next++]);
    MBT_TRUE(atomic_load(&h->tc_returned) != NULL);
    MBT_EQ_U64(limit / 2u + 1u, tc->bins[1].count);
    anr_unlock(h);
    while (next <= limit)
        anr_heap_free(h, p[next++]);
    struct anr_stats st;
    anr_heap_get_stats(h, &st);
    MBT_TRUE(atomic_load(&h->tc_returned) == NULL);
    MBT_EQ_U64(0, st.live_blocks);
    MBT_EQ_U64(0, st.in_use_bytes);
    MBT_EQ_U64(limit + 1u, st.mallocs);
    MBT_EQ_U64(limit + 1u, st.frees);
    MBT_EQ_U64(0, st.invalid_frees);
    MBT_EQ_U64(tc->bins[1].count, st.thread_cached_blocks);
    MBT_TRUE(verify_ok(h));
    anr_heap_destroy(h);
}

struct thread_job {
    anr_heap *heaps[3];
    unsigned nheaps;
    unsigned blocks;
    int step;                 /* main -> thread: 1 = exit */
    pthread_mutex_t m;
    pthread_cond_t cv;
    bool parked;
};

/* Allocates and frees in every heap of the job so each has a full cache,
 * then parks until told to exit. */
static void *cache_and_park(void *arg)
{
    struct thread_job *j = arg;
    static _Thread_local void *p[N];
    for (unsigned k = 0; k < j->nheaps; k++) {
        for (unsigned i = 0; i < j->blocks; i++)
            p[i] = anr_heap_malloc(j->heaps[k], 16u + (i % 8u) * 16u);
        for (unsigned i = 0; i < j->blocks; i++)
            anr_heap_free(j->heaps[k], p[i]);
    }
    pthread_mutex_lock(&j->m);
    j->parked = true;
    pthread_cond_broadcast(&j->cv);
    while (j->step == 0)
        pthread_cond_wait(&j->cv, &j->m);
    pthread_mutex_unlock(&j->m);
    return NULL;
}

static void start_job(struct thread_job *j, pthread_t *t)
{
    pthread_mutex_init(&j->m, NULL);
    pthread_cond_init(&j->cv, NULL);
    MBT_EQ_INT(0, pthread_create(t, NULL, cache_and_park, j));
    pthread_mutex_lock(&j->m);
    while (!j->parked)
        pthread_cond_wait(&j->cv, &j->m);
    pthread_mutex_unlock(&j->m);
}

static void finish_job(struct thread_job *j, pthread_t t)
{
    pthread_mutex_lock(&j->m);
    j->step = 1;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->m);
    pthread_join(t, NULL);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->m);
}

/* A thread caching two heaps: while it lives its caches hold blocks; when
 * it exits every block comes back and the counters stay exact. */
static void test_thread_exit_gives_back(void)
{
    struct anr_options o;
    cached_options(&o);
    struct thread_job j = {.nheaps = 2, .blocks = 500};
    MBT_EQ_INT(0, anr_heap_create(&o, &j.heaps[0]));
    MBT_EQ_INT(0, anr_heap_create(&o, &j.heaps[1]));
    pthread_t t;
    start_job(&j, &t);
    for (unsigned k = 0; k < 2; k++) {
        struct anr_stats st;
        anr_heap_get_stats(j.heaps[k], &st);
        MBT_EQ_U64(0, st.live_blocks);
        MBT_EQ_U64(0, st.in_use_bytes);
        MBT_EQ_U64(500, st.mallocs);
        MBT_EQ_U64(500, st.frees);
        MBT_TRUE(st.thread_cached_blocks > 0);
        MBT_TRUE(verify_ok(j.heaps[k]));
    }
    finish_job(&j, t);
    for (unsigned k = 0; k < 2; k++) {
        struct anr_stats st;
        anr_heap_get_stats(j.heaps[k], &st);
        MBT_EQ_U64(0, st.thread_cached_blocks);
        MBT_EQ_U64(0, st.thread_cached_bytes);
        MBT_EQ_U64(0, st.live_blocks);
        MBT_EQ_U64(0, st.in_use_bytes);
        MBT_EQ_U64(500, st.mallocs);
        MBT_EQ_U64(500, st.frees);
        MBT_EQ_U64(0, j.heaps[k]->st.live_blocks); /* the core has every slice back */
        MBT_TRUE(verify_ok(j.heaps[k]));
        /* The slot is free again: a new thread can have it. */
        unsigned owned = 0;
        for (unsigned i = 0; i < j.heaps[k]->tc_threads; i++)
            owned += anr_tc_slot(j.heaps[k], i)->owner != NULL;
        MBT_EQ_U64(0, owned);
        anr_heap_destroy(j.heaps[k]);
    }
}

/* The heap goes away while a thread still holds a cache of it; a new heap
 * may even take its address. The thread's exit must touch neither. */
static void test_heap_destroyed_before_thread_exit(void)
{
    struct anr_options o;
    cached_options(&o);
    struct thread_job j = {.nheaps = 1, .blocks = 300};
    MBT_EQ_INT(0, anr_heap_create(&o, &j.heaps[0]));
    pthread_t t;
    start_job(&j, &t);
    anr_heap_destroy(j.heaps[0]);
    anr_heap *again = NULL;
    MBT_EQ_INT(0, anr_heap_create(&o, &again)); /* often at the same address */
    void *p = anr_heap_malloc(again, 32);
    anr_heap_free(again, p);
    finish_job(&j, t);
    struct anr_stats st;
    anr_heap_get_stats(again, &st);
    MBT_EQ_U64(1, st.mallocs);
    MBT_EQ_U64(1, st.frees);
    MBT_EQ_U64(0, st.live_blocks);
    MBT_EQ_U64(0, st.invalid_frees);
    MBT_TRUE(verify_ok(again));
    anr_heap_destroy(again);
}

/* One thread, three heaps: blocks go back to the heap they came from. */
static void test_many_heaps_one_thread(void)
{
    struct anr_options o;
    cached_options(&o);
    anr_heap *h[3];
    for (unsigned k = 0; k < 3; k++)
        MBT_EQ_INT(0, anr_heap_create(&o, &h[k]));
    static void *p[3][300];
    for (unsigned round = 0; round < 3; round++) {
        for (unsigned i = 0; i < 300; i++)
            for (unsigned k = 0; k < 3; k++)
                p[k][i] = anr_heap_malloc(h[k], 24u + i % 100u);
        for (unsigned i = 0; i < 300; i++)
            for (unsigned k = 0; k < 3; k++) {
                MBT_TRUE(anr_heap_owns(h[k], p[k][i]));
                anr_heap_free(h[k], p[k][i]);
            }
    }
    for (unsigned k = 0; k < 3; k++) {
        struct anr_stats st;
        anr_heap_get_stats(h[k], &st);
        MBT_EQ_U64(900, st.mallocs);
        MBT_EQ_U64(900, st.frees);
        MBT_EQ_U64(0, st.live_blocks);
        MBT_EQ_U64(0, st.invalid_frees);
        MBT_TRUE(st.thread_cached_blocks > 0);
        MBT_TRUE(verify_ok(h[k]));
        anr_heap_destroy(h[k]);
    }
}

/* More threads than slots: the extra ones run uncached, counters exact. */
static void test_more_threads_than_slots(void)
{
    struct anr_options o;
    cached_options(&o);
    o.thread_cache_threads = 1;
    anr_heap *h = NULL;
    MBT_EQ_INT(0, anr_heap_create(&o, &h));
    void *mine = anr_heap_malloc(h, 64);
    anr_heap_free(h, mine); /* this thread takes the only slot */
    struct thread_job j = {.nheaps = 1, .blocks = 200, .heaps = {h}};
    pthread_t t;
    start_job(&j, &t);
    struct anr_stats st;
    anr_heap_get_stats(h, &st);
    MBT_EQ_U64(201, st.mallocs);
    MBT_EQ_U64(201, st.frees);
    MBT_EQ_U64(0, st.live_blocks);
    /* Only this thread's cache: the block it freed and the refill that came
     * with its malloc (half the 64-byte bin). */
    MBT_EQ_U64(h->tc_limit[3] / 2u + 1u, st.thread_cached_blocks);
    finish_job(&j, t);
    MBT_TRUE(verify_ok(h));
    anr_heap_destroy(h);
}

struct refusal {
    anr_heap *heap;
    unsigned calls;
    uint64_t cached_when_asked;
};

/* Refuses, noting how much the heap's caches held when it was asked. */
static enum anr_need_result refuse(anr_heap *h, size_t bytes, unsigned attempt, void *user)
{
    (void)bytes;
    (void)attempt;
    struct refusal *r = user;
    struct anr_stats st;
    anr_heap_get_stats(h, &st);
    r->calls++;
    r->cached_when_asked += st.thread_cached_blocks;
    return ANR_NEED_GIVE_UP;
}

/* An allocation short of budget takes the caller's cached blocks back
 * before it asks the callback; trim and shrink do the same. */
static void test_memory_asked_back_empties_caches(void)
{
    struct anr_options o;
    cached_options(&o);
    o.pool_size = 64 * 1024;
    o.map_size = 1 * MiB;
    struct refusal r = {0};
    o.need_memory = refuse;
    o.user_data = &r;
    anr_heap *h = NULL;
    MBT_EQ_INT(0, anr_heap_create(&o, &h));
    void *p = anr_heap_malloc(h, 48);
    anr_heap_free(h, p);
    struct anr_stats st;
    anr_heap_get_stats(h, &st);
    MBT_TRUE(st.thread_cached_blocks > 0);
    MBT_NULL(anr_heap_malloc(h, 60 * 1024)); /* more than the whole budget */
    MBT_EQ_U64(1, r.calls);
    MBT_EQ_U64(0, r.cached_when_asked);
    anr_heap_get_stats(h, &st);
    MBT_EQ_U64(0, st.thread_cached_blocks);
    MBT_EQ_U64(1, st.failures);
    p = anr_heap_malloc(h, 48);
    anr_heap_free(h, p);
    anr_heap_get_stats(h, &st);
    MBT_TRUE(st.thread_cached_blocks > 0);
    anr_heap_shrink(h, 4096);
    anr_heap_get_stats(h, &st);
    MBT_EQ_U64(0, st.thread_cached_blocks);
    MBT_EQ_U64(2, st.mallocs);
    MBT_EQ_U64(2, st.frees);
    MBT_EQ_U64(0, st.live_blocks);
    MBT_TRUE(verify_ok(h));
    anr_heap_destroy(h);
}

/* fork while another thread holds a full cache: the child gets its blocks
 * back (statistics exact, nothing cached but the child's own), allocates
 * and verifies. */
static void test_fork_child_takes_orphans(void)
{
    struct anr_options o;
    cached_options(&o);
    struct thread_job j = {.nheaps = 1, .blocks = 600};
    MBT_EQ_INT(0, anr_heap_create(&o, &j.heaps[0]));
    anr_heap *h = j.heaps[0];
    pthread_t t;
    start_job(&j, &t);
    struct anr_stats before;
    anr_heap_get_stats(h, &before);
    MBT_TRUE(before.thread_cached_blocks > 0);
    pid_t pid = fork();
    if (pid == 0) {
        struct anr_stats st;
        anr_heap_get_stats(h, &st);
        int rc = 0;
        if (st.thread_cached_blocks != 0 || st.live_blocks != 0 || st.mallocs != 600 ||
            st.frees != 600 || h->st.live_blocks != 0)
            rc = 2;
        void *p[50];
        for (int i = 0; i < 50; i++)
            p[i] = anr_heap_malloc(h, 16u * (unsigned)(i + 1));
        for (int i = 0; i < 50; i++)
            anr_heap_free(h, p[i]);
        char msg[200];
        if (rc == 0 && anr_heap_verify(h, msg, sizeof msg) != 0)
            rc = 3;
        anr_heap_get_stats(h, &st);
        if (rc == 0 && (st.live_blocks != 0 || st.mallocs != 650))
            rc = 4;
        _exit(rc);
    }
    int status = -1;
    MBT_EQ_INT(pid, waitpid(pid, &status, 0));
    MBT_TRUE(WIFEXITED(status));
    MBT_EQ_INT(0, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    /* The parent still has the thread and its cache. */
    struct anr_stats st;
    anr_heap_get_stats(h, &st);
    MBT_EQ_U64(before.thread_cached_blocks, st.thread_cached_blocks);
    finish_job(&j, t);
    MBT_TRUE(verify_ok(h));
    anr_heap_destroy(h);
}

/* A phase that only frees (no malloc takes the lock) still gives pages back:
 * each time a full bin sends half its blocks to the lock holder's queue, the
 * freeing thread tries the lock, returns them and lets the watermarks act.
 * Before, every block of such a phase stayed queued, and its pages resident,
 * until some later call took the lock. */
static void test_free_only_phase_gives_pages_back(void)
{
    struct anr_options o;
    cached_options(&o);
    o.page_ceiling = 16; /* the floor is 8 */
    anr_heap *h = NULL;
    MBT_EQ_INT(0, anr_heap_create(&o, &h));
    MBT_REQUIRE(h != NULL);
    enum { COUNT = 40000 }; /* 64-byte blocks: 625 pages of slices */
    static void *p[COUNT];
    for (unsigned i = 0; i < COUNT; i++) {
        p[i] = anr_heap_malloc(h, 64);
        MBT_REQUIRE(p[i] != NULL);
    }
    struct anr_stats before, after;
    anr_heap_get_stats(h, &before);
    for (unsigned i = 0; i < COUNT; i++)
        anr_heap_free(h, p[i]);
    /* Read without the lock first: the statistics call would drain the queue. */
    uint64_t dirty_now = h->count[ANR_PG_DIRTY];
    anr_heap_get_stats(h, &after);
    uint64_t page = after.page_size;
    uint64_t slice_pages = (uint64_t)COUNT * 64u / page;
    fprintf(stderr, "    returned %llu pages, dirty %llu, resident %llu -> %llu KiB\n",
            (unsigned long long)(after.pages_returned - before.pages_returned),
            (unsigned long long)dirty_now, (unsigned long long)(before.resident_bytes / 1024),
            (unsigned long long)(after.resident_bytes / 1024));
    /* All but the watermark's floor, a spare slab and what the last half-bin
     * holds went back during the frees themselves. */
    MBT_TRUE(after.pages_returned - before.pages_returned >= slice_pages - 32u);
    MBT_TRUE(dirty_now <= o.page_ceiling);
    MBT_EQ_U64(0, after.live_blocks);
    MBT_TRUE(verify_ok(h));
    anr_heap_destroy(h);
}

int main(void)
{
    MBT_RUN(test_options);
    MBT_RUN(test_stats_exact_and_verify_with_full_caches);
    MBT_RUN(test_calloc_from_cache);
    MBT_RUN(test_double_free_caught);
    MBT_RUN(test_chunk_classes_cached);
    MBT_RUN(test_chunk_classes_after_small_slabs);
    MBT_RUN(test_full_bin_flushes_without_the_lock);
    MBT_RUN(test_free_only_phase_gives_pages_back);
    MBT_RUN(test_thread_exit_gives_back);
    MBT_RUN(test_heap_destroyed_before_thread_exit);
    MBT_RUN(test_many_heaps_one_thread);
    MBT_RUN(test_more_threads_than_slots);
    MBT_RUN(test_memory_asked_back_empties_caches);
    MBT_RUN(test_fork_child_takes_orphans);
    return mbt_finish();
}
