/* heap.c: a heap's life (create, destroy), its lock and the queue of frees
 * made while the lock was taken, and the allocation entry points that pick
 * slab or chunk, apply the budget and call the need-more-memory callback.
 *
 * The heap struct and all its tables live at the start of the one
 * reservation made in anr_heap_create(); nothing here calls libc malloc.
 */
#include "anr/heap_internal.h"
#include "anr/os.h"
#include "anr/tcache.h"
#include "anr/vg.h"

#include <errno.h>
#include <string.h>

#define MiB ((size_t)1 << 20)

void anr_options_init(struct anr_options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->pool_size = 2 * MiB;
    opts->map_size = 0;
    opts->hard_limit = 0;
    opts->page_ceiling = 128;
    opts->page_floor = SIZE_MAX; /* ceiling / 2 */
    opts->reclaim_batch = 256;
    opts->max_attempts = 8;
    opts->use_madv_free = false;
    opts->thread_cache = false;
    opts->thread_cache_bytes = 512 * 1024;
    opts->thread_cache_threads = 64;
    opts->report_fd = 2;
}

static size_t pages_up(size_t bytes, size_t page_size)
{
    return bytes / page_size + (bytes % page_size != 0);
}

/* Critical sections are short (a slab slice, a bin operation, a batch of
 * cache refills): a waiter spins a little before it sleeps in the kernel,
 * where a handoff costs more than the section itself. */
static int init_lock(pthread_mutex_t *lock)
{
    pthread_mutexattr_t attr;
    if (pthread_mutexattr_init(&attr) != 0)
        return -1;
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
    int rc = pthread_mutex_init(lock, &attr);
    pthread_mutexattr_destroy(&attr);
    return rc;
}

int anr_heap_create(const struct anr_options *opts, anr_heap **out)
{
    struct anr_options defaults;
    if (opts == NULL) {
        anr_options_init(&defaults);
        opts = &defaults;
    }
    *out = NULL;
    size_t pg = anr_os_page_size();
    if (pg < 1024 || (pg & (pg - 1)) != 0)
        return -EINVAL;
    unsigned shift = (unsigned)__builtin_ctzll((unsigned long long)pg);

    /* The budget covers the arena's first and last pages (the first free
     * chunk's header and the end sentinel), resident from the start. */
    uint64_t pool_pages = pages_up(opts->pool_size, pg);
    if (pool_pages < 2)
        pool_pages = 2;
    uint64_t map_pages = opts->map_size != 0 ? pages_up(opts->map_size, pg) : 2u * pool_pages;
    uint64_t hard_pages = opts->hard_limit != 0 ? pages_up(opts->hard_limit, pg) : map_pages;
    uint64_t floor = opts->page_floor == SIZE_MAX ? opts->page_ceiling / 2u : opts->page_floor;
    if (map_pages < ANR_MIN_ARENA_PAGES || map_pages >= UINT32_MAX || pool_pages > hard_pages ||
        floor > opts->page_ceiling || opts->max_attempts > ANR_MAX_ATTEMPTS_LIMIT)
        return -EINVAL;
    unsigned tc_threads = opts->thread_cache ? opts->thread_cache_threads : 0;
    if (opts->thread_cache && (tc_threads == 0 || tc_threads > ANR_TC_MAX_THREADS))
        return -EINVAL;
    if (anr_dbg_check(opts) != 0)
        return -EINVAL;
    /* Debug mode puts a header on every block: no thread caches. */
    bool dbg = anr_dbg_wanted(opts);
    if (dbg)
        tc_threads = 0;

    /* Tables: heap struct, page states, slab descriptors, slab bitmaps. */
    size_t bits_words = pg / 1024u; /* one bit per 16 bytes of a page */
    uint64_t off = anr_round_up(sizeof(struct anr_heap), 64);
    uint64_t state_off = off;
    off = (off + map_pages + 63u) & ~(uint64_t)63u;
    uint64_t slabs_off = off;
    off += map_pages * sizeof(struct anr_slab);
    off = (off + 63u) & ~(uint64_t)63u;
    uint64_t bits_off = off;
    off += map_pages * bits_words * sizeof(uint64_t);
    off = (off + 63u) & ~(uint64_t)63u;
    uint64_t tc_off = off;
    size_t tc_stride = anr_round_up(sizeof(struct anr_tcache), 64);
    off += (uint64_t)tc_threads * tc_stride;
    off = (off + 63u) & ~(uint64_t)63u;
    uint64_t dbg_off = off;
    if (dbg)
        off += anr_dbg_meta_bytes(opts);
    uint64_t meta = (off + pg - 1u) & ~(uint64_t)(pg - 1u);
    uint64_t arena = map_pages * pg;
    if (arena > SIZE_MAX / 2u || meta > SIZE_MAX / 2u - arena)
        return -ENOMEM;

    char *base = anr_os_reserve((size_t)(meta + arena));
    if (base == NULL)
        return -ENOMEM;
    /* The mapping is zero-filled: every count, list and state starts at 0. */
    struct anr_heap *h = (struct anr_heap *)(void *)base;
    h->map_base = base;
    h->map_bytes = (size_t)(meta + arena);
    h->meta_bytes = (size_t)meta;
    h->arena = base + meta;
    h->arena_bytes = (size_t)arena;
    h->npages = (size_t)map_pages;
    h->page_size = pg;
    h->page_shift = shift;
    h->page_state = (uint8_t *)(base + state_off);
    h->slabs = (struct anr_slab *)(void *)(base + slabs_off);
    h->slab_bits = (uint64_t *)(void *)(base + bits_off);
    h->bits_words = bits_words;
    h->tc_slots = base + tc_off;
    h->tc_stride = tc_stride;
    h->tc_threads = tc_threads;
    h->budget_pages = pool_pages;
    h->hard_limit_pages = hard_pages;
    h->ceiling_pages = opts->page_ceiling;
    h->floor_pages = floor;
    h->batch_pages = opts->reclaim_batch;
    h->max_attempts = opts->max_attempts;
    h->madv_free = opts->use_madv_free;
    h->need_memory = opts->need_memory;
    h->user_data = opts->user_data;
    h->count[ANR_PG_CLEAN] = h->npages;
    atomic_init(&h->deferred, NULL);
    atomic_init(&h->tc_returned, NULL);
    atomic_init(&h->invalid_outside, 0);

    int rc = anr_classes_init(h, opts->slab_sizes, opts->slab_sizes ? opts->slab_size_count : 0);
    if (rc == 0 && init_lock(&h->lock) != 0)
        rc = -ENOMEM;
    if (rc != 0) {
        anr_os_release(base, h->map_bytes);
        return rc;
    }
    if (tc_threads > 0)
        anr_tc_configure(h, opts->thread_cache_bytes);
    if (dbg)
        anr_dbg_init(h, opts, base + dbg_off);
    anr_chunk_init_arena(h);
    /* Under memcheck, tell it about every block (vg.h); arena memory outside
     * announced blocks is off limits to the program. Tools that keep no
     * memory pools (callgrind, cachegrind) leave the heap as it is. */
    if (ANR_VG_RUNNING()) {
        ANR_VG_POOL_CREATE(h, h->d.guard_bytes);
        h->vg = ANR_VG_POOL_EXISTS(h);
        h->vg_core = h->vg && !dbg;
        h->slow = h->slow || h->vg_core;
        if (h->vg)
            ANR_VG_NOACCESS(h->arena, h->arena_bytes);
    }
    anr_fork_register(h);
    *out = h;
    return 0;
}

void anr_heap_destroy(anr_heap *h)
{
    if (h == NULL)
        return;
    anr_tc_forget(h);
    anr_fork_unregister(h);
    pthread_mutex_destroy(&h->lock);
    if (h->vg)
        ANR_VG_POOL_DESTROY(h);
    char *base = h->map_base;
    size_t bytes = h->map_bytes;
    anr_os_release(base, bytes);
}

/* ---- validity of pointers ----------------------------------------------- */

static bool in_arena(const struct anr_heap *h, const void *p)
{
    uintptr_t u = (uintptr_t)p, a = (uintptr_t)h->arena;
    return u >= a && u - a < h->arena_bytes;
}

struct anr_chunk *anr_chunk_of_payload(const struct anr_heap *h, const char *p)
{
    size_t off = (size_t)(p - h->arena);
    if (off < ANR_HDR || off % ANR_GRANULE != 0 || h->page_state[anr_page_of(h, p)] != ANR_PG_USED)
        return NULL;
    struct anr_chunk *c = anr_chunk_at(h->arena + off - ANR_HDR);
    size_t size = anr_chunk_size(c);
    if ((c->head & (ANR_C_INUSE | ANR_C_SLAB)) != ANR_C_INUSE || size < ANR_MIN_CHUNK ||
        size % ANR_GRANULE != 0 || size > h->arena_bytes - (off - ANR_HDR) - ANR_HDR)
        return NULL;
    if (anr_chunk_next(c)->head & ANR_C_PREV_FREE)
        return NULL;
    return c;
}

/* Usable bytes of the live block p, or 0. Lock held. */
size_t anr_core_usable_locked(const struct anr_heap *h, const char *p)
{
    if (!in_arena(h, p))
        return 0;
    if (h->page_state[anr_page_of(h, p)] == ANR_PG_SLAB)
        return anr_slab_usable(h, p);
    const struct anr_chunk *c = anr_chunk_of_payload(h, p);
    return c == NULL ? 0 : anr_chunk_size(c) - ANR_HDR;
}

/* ---- lock and deferred frees -------------------------------------------- */

static inline void free_locked(struct anr_heap *h, char *p)
{
    size_t usable = 0;
    if (h->page_state[anr_page_of(h, p)] == ANR_PG_SLAB) {
        usable = anr_slab_free(h, p);
    } else {
        struct anr_chunk *c = anr_chunk_of_payload(h, p);
        if (c != NULL) {
            usable = anr_chunk_size(c) - ANR_HDR;
            anr_chunk_release(h, c);
        }
    }
    if (usable == 0) {
        h->st.invalid_frees++;
        return;
    }
    h->st.in_use_bytes -= usable;
    h->st.live_blocks--;
    h->st.frees++;
}

void anr_core_free_locked(struct anr_heap *h, char *p)
{
    free_locked(h, p);
}

static void drain_deferred(struct anr_heap *h)
{
    anr_tc_drain_returned(h);
    /* A plain load first: the common empty case costs no locked instruction. */
    if (atomic_load_explicit(&h->deferred, memory_order_relaxed) == NULL)
        return;
    void *list = atomic_exchange_explicit(&h->deferred, NULL, memory_order_acquire);
    if (list == NULL)
        return;
    if (__builtin_expect(h->vg_core, 0))
        anr_vg_retire_list(h, list); /* memcheck: the blocks are freed now */
    while (list != NULL) {
        void *next;
        memcpy(&next, list, sizeof next); /* read the link before the free reuses the block */
        h->st.deferred_frees++;
        free_locked(h, list);
        list = next;
    }
    anr_reclaim_auto(h);
}

/* The lock for the malloc and free paths. Under valgrind these run inside
 * the wrappers of vg_allocate / vg_free, which silence memcheck around them. */
static inline void lock_fast(struct anr_heap *h)
{
    pthread_mutex_lock(&h->lock);
    drain_deferred(h);
}

static inline bool trylock_fast(struct anr_heap *h)
{
    if (pthread_mutex_trylock(&h->lock) != 0)
        return false;
    drain_deferred(h);
    return true;
}

static inline void unlock_fast(struct anr_heap *h)
{
    pthread_mutex_unlock(&h->lock);
    /* A free queued while we held the lock would wait for the next caller;
     * take it now if nobody else holds the lock (once: never spin). */
    if (atomic_load_explicit(&h->deferred, memory_order_relaxed) != NULL &&
        pthread_mutex_trylock(&h->lock) == 0) {
        drain_deferred(h);
        pthread_mutex_unlock(&h->lock);
    }
}

/* Under valgrind, memcheck's reports are off while a thread holds the lock:
 * the core reads and writes its boundary tags and free lists inside memory
 * memcheck knows as freed or never handed out. */
void anr_lock(struct anr_heap *h)
{
    if (__builtin_expect(h->vg, 0))
        anr_vg_quiet_begin();
    lock_fast(h);
}

bool anr_trylock(struct anr_heap *h)
{
    if (pthread_mutex_trylock(&h->lock) != 0)
        return false;
    if (__builtin_expect(h->vg, 0))
        anr_vg_quiet_begin();
    drain_deferred(h);
    return true;
}

void anr_unlock(struct anr_heap *h)
{
    unlock_fast(h);
    if (__builtin_expect(h->vg, 0))
        anr_vg_quiet_end();
}

/* free under memcheck, without debug mode: the block is retired
 * (MEMPOOL_FREE) when the core takes it back, under the lock (for a queued
 * free: when the queue is drained). A block a thread cache takes stays
 * allocated to memcheck. Never waits for the lock, as free_slow. */
__attribute__((noinline, cold)) static void vg_free(struct anr_heap *h, void *ptr)
{
    if (!in_arena(h, ptr)) {
        atomic_fetch_add_explicit(&h->invalid_outside, 1, memory_order_relaxed);
        return;
    }
    anr_vg_quiet_begin();
    if (!anr_tc_push_flushing(h, ptr)) {
        anr_tc_prepare(h);
        if (trylock_fast(h)) {
            if (!anr_tc_free_locked(h, ptr)) {
                if (anr_core_usable_locked(h, ptr) != 0)
                    anr_vg_free(h, ptr);
                free_locked(h, ptr);
            }
            anr_reclaim_auto(h);
            unlock_fast(h);
        } else {
            void *old = atomic_load_explicit(&h->deferred, memory_order_relaxed);
            do {
                memcpy(ptr, &old, sizeof old);
            } while (!atomic_compare_exchange_weak_explicit(
                &h->deferred, &old, ptr, memory_order_release, memory_order_relaxed));
        }
    } else if (atomic_load_explicit(&h->tc_returned, memory_order_relaxed) != NULL &&
               trylock_fast(h)) {
        anr_reclaim_auto(h); /* as free_slow: a full bin's flush, returned now */
        unlock_fast(h);
    }
    anr_vg_quiet_end();
}

/* free when the thread cache did not take the block. Out of line so the
 * fast path in anr_heap_free saves no registers. */
__attribute__((noinline)) static void free_slow(struct anr_heap *h, void *ptr)
{
    if (h->slow) {
        if (h->dbg)
            anr_dbg_free(h, ptr);
        else
            vg_free(h, ptr);
        return;
    }
    if (!in_arena(h, ptr)) {
        atomic_fetch_add_explicit(&h->invalid_outside, 1, memory_order_relaxed);
        return;
    }
    if (anr_tc_push_flushing(h, ptr)) {
        /* A full bin sent half its blocks to the lock holder's queue. If
         * nobody holds the lock, give them back now and let the watermarks
         * act: a phase that only frees (no malloc takes the lock) would
         * otherwise keep every one of them, and their pages, forever. Once
         * per half a bin of frees; never waits. */
        if (atomic_load_explicit(&h->tc_returned, memory_order_relaxed) != NULL &&
            trylock_fast(h)) {
            anr_reclaim_auto(h);
            unlock_fast(h);
        }
        return;
    }
    anr_tc_prepare(h);
    if (trylock_fast(h)) {
        if (!anr_tc_free_locked(h, ptr))
            free_locked(h, ptr);
        anr_reclaim_auto(h);
        unlock_fast(h);
        return;
    }
    /* Lock taken: queue the block (lock-free push; the one consumer takes
     * the whole list at once, so there is no ABA problem). */
    void *old = atomic_load_explicit(&h->deferred, memory_order_relaxed);
    do {
        memcpy(ptr, &old, sizeof old);
    } while (!atomic_compare_exchange_weak_explicit(&h->deferred, &old, ptr, memory_order_release,
                                                    memory_order_relaxed));
}

void anr_heap_free(anr_heap *h, void *ptr)
{
    if (ptr == NULL || h == NULL)
        return;
    if (in_arena(h, ptr) && anr_tc_push(h, ptr))
        return;
    free_slow(h, ptr);
}

/* ---- allocation --------------------------------------------------------- */

#define alloc_kind anr_kind
#define KIND_MALLOC ANR_KIND_MALLOC
#define KIND_CALLOC ANR_KIND_CALLOC
#define KIND_REALLOC ANR_KIND_REALLOC
#define KIND_MEMALIGN ANR_KIND_MEMALIGN

static void account_alloc(struct anr_heap *h, size_t usable, enum alloc_kind kind)
{
    h->st.in_use_bytes += usable;
    h->st.live_blocks++;
    if (h->st.in_use_bytes > h->st.peak_in_use)
        h->st.peak_in_use = h->st.in_use_bytes;
    uint64_t resident = anr_resident_pages(h);
    if (resident > h->st.peak_resident)
        h->st.peak_resident = resident;
    switch (kind) {
    case KIND_MALLOC: h->st.mallocs++; break;
    case KIND_CALLOC: h->st.callocs++; break;
    case KIND_REALLOC: h->st.reallocs++; break;
    case KIND_MEMALIGN: h->st.memaligns++; break;
    }
}

/* The slab class serving `size` at alignment `align`, or -1 for a chunk. */
static int class_for_aligned(const struct anr_heap *h, size_t size, size_t align)
{
    if (align <= ANR_GRANULE)
        return anr_class_for(h, size);
    if (align > h->page_size || size > h->max_class_size)
        return -1;
    /* Slabs start on a page, so a slice is aligned when its class is a
     * multiple of the alignment. */
    int c = anr_class_for(h, anr_round_up(size, align));
    while (c >= 0 && (unsigned)c < h->nclasses && h->classes[c].size % align != 0)
        c++;
    return c >= 0 && (unsigned)c < h->nclasses ? c : -1;
}

/* One try under the lock. NULL with *err -EAGAIN (budget, *shortfall set)
 * or -ENOMEM (no room). align is a power of two >= 16. */
static void *alloc_once(struct anr_heap *h, size_t size, size_t align, size_t *usable, int *err,
                        uint64_t *shortfall)
{
    int cls = class_for_aligned(h, size, align);
    if (cls >= 0) {
        void *p = anr_slab_alloc(h, (unsigned)cls, err, shortfall);
        if (p != NULL)
            *usable = h->classes[cls].size;
        return p;
    }
    if (align <= ANR_GRANULE)
        size = anr_tc_round_request(h, size);
    size_t n = anr_round_up(size + ANR_HDR, ANR_GRANULE);
    if (n < ANR_MIN_CHUNK)
        n = ANR_MIN_CHUNK;
    struct anr_plan plan;
    if (!anr_chunk_find(h, n, align, align > ANR_GRANULE ? ANR_PLACE_ALIGNED : ANR_PLACE_LOW,
                        &plan)) {
        *err = -ENOMEM;
        return NULL;
    }
    uint64_t need = anr_plan_new_pages(h, &plan);
    if (anr_budget_admit(h, need, plan.x, plan.x + plan.n + ANR_FREE_BOOK, shortfall) != 0) {
        *err = -EAGAIN;
        return NULL;
    }
    struct anr_chunk *c = anr_chunk_take(h, &plan, 0);
    *usable = anr_chunk_size(c) - ANR_HDR;
    return anr_chunk_addr(c) + ANR_HDR;
}

static void *alloc_locked(struct anr_heap *h, size_t size, size_t align, enum alloc_kind kind,
                          int *err, uint64_t *shortfall)
{
    size_t usable = 0;
    void *p = alloc_once(h, size, align, &usable, err, shortfall);
    /* The spare empty slabs are the last free memory: give them up and retry. */
    if (p == NULL && anr_slab_release_spares(h) > 0)
        p = alloc_once(h, size, align, &usable, err, shortfall);
    if (p != NULL)
        account_alloc(h, usable, kind);
    return p;
}

static void count_failure(struct anr_heap *h)
{
    anr_lock(h);
    h->st.failures++;
    anr_unlock(h);
}

/* Allocation with the budget rules: give pages back, then (if allowed) ask
 * the callback at most max_attempts times, without the lock held. */
void *anr_core_allocate(struct anr_heap *h, size_t size, size_t align, enum alloc_kind kind,
                        bool may_ask)
{
    if (size > h->arena_bytes || align > h->arena_bytes / 2u) {
        count_failure(h);
        errno = ENOMEM;
        return NULL;
    }
    if (size == 0)
        size = 1;
    /* Plain malloc and calloc refill this thread's cache (the other kinds
     * are rare and keep their own counters). */
    bool refill = size - 1u < h->tc_max_size && align == ANR_GRANULE &&
                  (kind == KIND_MALLOC || kind == KIND_CALLOC);
    bool caches_emptied = false;
    unsigned attempt = 1;
    if (refill)
        anr_tc_prepare(h);
    for (;;) {
        int err = 0;
        uint64_t shortfall = 0;
        lock_fast(h);
        void *p = alloc_locked(h, size, align, kind, &err, &shortfall);
        if (p != NULL) {
            if (refill)
                anr_tc_refill_locked(h, size);
            unlock_fast(h);
            return p;
        }
        /* Short of budget: this thread's cached blocks are free memory, and
         * the other threads are told to give theirs back; try once more
         * before asking the callback. */
        if (err == -EAGAIN && !caches_emptied) {
            caches_emptied = true;
            if (anr_tc_ask_back_locked(h) > 0) {
                unlock_fast(h);
                continue;
            }
        }
        bool ask = err == -EAGAIN && may_ask && h->need_memory != NULL &&
                   attempt <= h->max_attempts;
        if (!ask) {
            h->st.failures++;
            unlock_fast(h);
            errno = ENOMEM;
            return NULL;
        }
        h->st.callback_calls++;
        anr_need_memory_fn fn = h->need_memory;
        void *user = h->user_data;
        unlock_fast(h);
        if (fn(h, (size_t)(shortfall << h->page_shift), attempt, user) != ANR_NEED_RETRY) {
            count_failure(h);
            errno = ENOMEM;
            return NULL;
        }
        attempt++;
    }
}

/* Allocation under memcheck without debug mode: the core's work silenced,
 * the block announced with its usable size. */
__attribute__((noinline)) static void *vg_allocate(struct anr_heap *h, size_t size,
                                                   size_t align, enum alloc_kind kind,
                                                   bool may_ask)
{
    anr_vg_quiet_begin();
    void *p = anr_core_allocate(h, size, align, kind, may_ask);
    if (p != NULL) {
        lock_fast(h);
        anr_vg_alloc(h, p, anr_core_usable_locked(h, p));
        unlock_fast(h);
    }
    anr_vg_quiet_end();
    return p;
}

/* Debug mode or memcheck, else the core. */
__attribute__((noinline, cold)) static void *slow_allocate(struct anr_heap *h, size_t size,
                                                           size_t align, enum alloc_kind kind,
                                                           bool may_ask, const void *ra)
{
    if (h->dbg)
        return anr_dbg_allocate(h, size, align, kind, may_ask, ra);
    return vg_allocate(h, size, align, kind, may_ask);
}

/* The slow path of every allocation call. Inlined into each public
 * function, so `ra` is its caller (the allocation site), and the core's
 * call stays a tail call. */
#define allocate(h, size, align, kind, may_ask)                                        \
    ((h)->slow ? slow_allocate((h), (size), (align), (kind), (may_ask),                \
                               __builtin_return_address(0))                            \
               : anr_core_allocate((h), (size), (align), (kind), (may_ask)))

void *anr_heap_malloc(anr_heap *h, size_t size)
{
    void *p = anr_tc_pop(h, size);
    return p != NULL ? p : allocate(h, size, ANR_GRANULE, KIND_MALLOC, true);
}

void *anr_heap_malloc_if_possible(anr_heap *h, size_t size)
{
    void *p = anr_tc_pop(h, size);
    return p != NULL ? p : allocate(h, size, ANR_GRANULE, KIND_MALLOC, true);
}

/* A cached block is within the budget already: the cache serves it too. */
void *anr_heap_malloc_if_available(anr_heap *h, size_t size)
{
    void *p = anr_tc_pop(h, size);
    return p != NULL ? p : allocate(h, size, ANR_GRANULE, KIND_MALLOC, false);
}

void *anr_heap_calloc(anr_heap *h, size_t n, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes)) {
        count_failure(h);
        errno = ENOMEM;
        return NULL;
    }
    void *p = anr_tc_pop(h, bytes);
    if (p != NULL)
        anr_tc_tally(&anr_tc_self.e[0].cache->callocs);
    else
        p = allocate(h, bytes, ANR_GRANULE, KIND_CALLOC, true);
    /* Always clear: a given-back page reads as zero only with DONTNEED and
     * only where the kernel honours it, and reused blocks hold old data. */
    if (p != NULL)
        memset(p, 0, bytes);
    return p;
}

void *anr_heap_memalign(anr_heap *h, size_t alignment, size_t size)
{
    if (alignment == 0 || (alignment & (alignment - 1u)) != 0) {
        count_failure(h);
        errno = EINVAL;
        return NULL;
    }
    if (alignment < ANR_GRANULE)
        alignment = ANR_GRANULE;
    return allocate(h, size, alignment, KIND_MEMALIGN, true);
}

void *anr_heap_realloc(anr_heap *h, void *ptr, size_t size)
{
    if (h->dbg)
        return anr_dbg_realloc(h, ptr, size, __builtin_return_address(0));
    if (ptr == NULL)
        return allocate(h, size, ANR_GRANULE, KIND_REALLOC, true);
    if (size == 0) {
        anr_heap_free(h, ptr);
        return NULL;
    }
    if (size > h->arena_bytes) {
        count_failure(h);
        errno = ENOMEM;
        return NULL;
    }
    char *p = ptr;
    anr_lock(h);
    size_t old = anr_core_usable_locked(h, p);
    if (old == 0) {
        h->st.invalid_frees++;
        h->st.failures++;
        anr_unlock(h);
        errno = EINVAL;
        return NULL;
    }
    if (h->page_state[anr_page_of(h, p)] == ANR_PG_SLAB) {
        if (anr_class_for(h, size) >= 0 && h->classes[anr_class_for(h, size)].size == old) {
            h->st.reallocs++;
            anr_unlock(h);
            return ptr;
        }
    } else if (size > h->max_class_size) {
        /* Large stays large: shrink or grow in place when the neighbour
         * allows it (never calling the callback here; moving does). */
        struct anr_chunk *c = anr_chunk_at(p - ANR_HDR);
        size_t n = anr_round_up(size + ANR_HDR, ANR_GRANULE);
        if (n < ANR_MIN_CHUNK)
            n = ANR_MIN_CHUNK;
        size_t before = anr_chunk_size(c);
        bool done = n <= before;
        if (done) {
            anr_chunk_shrink(h, c, n);
        } else {
            struct anr_plan plan;
            uint64_t shortfall;
            if (anr_chunk_plan_grow(h, c, n, &plan) &&
                anr_budget_admit(h, anr_plan_new_pages(h, &plan), plan.x,
                                 plan.x + plan.n + ANR_FREE_BOOK, &shortfall) == 0) {
                anr_chunk_commit_grow(h, c, &plan);
                done = true;
            }
        }
        if (done) {
            if (h->vg_core)
                anr_vg_resize(h, p, before - ANR_HDR, anr_chunk_size(c) - ANR_HDR);
            h->st.in_use_bytes = h->st.in_use_bytes - before + anr_chunk_size(c);
            if (h->st.in_use_bytes > h->st.peak_in_use)
                h->st.peak_in_use = h->st.in_use_bytes;
            if (anr_resident_pages(h) > h->st.peak_resident)
                h->st.peak_resident = anr_resident_pages(h);
            h->st.reallocs++;
            anr_reclaim_auto(h);
            anr_unlock(h);
            return ptr;
        }
    }
    /* A large block that grows and cannot grow in place moves into one
     * with headroom (an eighth more, at most ANR_REALLOC_HEADROOM_MAX), so a
     * buffer grown a little at a time moves O(log n) times instead of at
     * every call (each move copies it). Only when that fits the budget as
     * it is: never asking the callback for the headroom. */
    void *q = NULL;
    if (size > old && size > h->max_class_size) { /* debug mode returned above */
        size_t extra = size / 8u < ANR_REALLOC_HEADROOM_MAX ? size / 8u : ANR_REALLOC_HEADROOM_MAX;
        int err = 0;
        uint64_t shortfall = 0;
        if (size <= h->arena_bytes - extra)
            q = alloc_locked(h, size + extra, ANR_GRANULE, KIND_REALLOC, &err, &shortfall);
        if (q != NULL && h->vg_core) /* memcheck: announce it as vg_allocate would */
            anr_vg_alloc(h, q, anr_core_usable_locked(h, q));
    }
    anr_unlock(h);
    if (q == NULL) {
        q = allocate(h, size, ANR_GRANULE, KIND_REALLOC, true);
        if (q == NULL)
            return NULL;
    }
    memcpy(q, ptr, old < size ? old : size);
    anr_heap_free(h, ptr);
    return q;
}

size_t anr_heap_usable_size(anr_heap *h, const void *ptr)
{
    if (ptr == NULL || h == NULL)
        return 0;
    if (h->dbg)
        return anr_dbg_usable(h, ptr);
    anr_lock(h);
    size_t n = anr_core_usable_locked(h, ptr);
    anr_unlock(h);
    return n;
}

bool anr_heap_owns(anr_heap *h, const void *ptr)
{
    if (h == NULL || !in_arena(h, ptr))
        return false;
    anr_lock(h);
    uint8_t st = h->page_state[anr_page_of(h, ptr)];
    anr_unlock(h);
    return st == ANR_PG_USED || st == ANR_PG_SLAB;
}

/* ---- budget and statistics ---------------------------------------------- */

void anr_heap_get_stats(anr_heap *h, struct anr_stats *s)
{
    anr_lock(h);
    anr_stats_locked(h, s);
    anr_unlock(h);
}

void anr_stats_locked(struct anr_heap *h, struct anr_stats *s)
{
    memset(s, 0, sizeof *s);
    struct anr_tc_totals tc;
    anr_tc_totals_locked(h, &tc);
    uint64_t pg = h->page_size;
    s->page_size = pg;
    s->map_bytes = h->arena_bytes;
    s->metadata_bytes = h->meta_bytes;
    s->budget_bytes = h->budget_pages * pg;
    s->hard_limit_bytes = h->hard_limit_pages * pg;
    /* The core counts cached blocks as allocated; they are free memory. */
    s->in_use_bytes = h->st.in_use_bytes - h->tc_net_bytes + tc.net_bytes;
    s->live_blocks = h->st.live_blocks - h->tc_net_blocks + tc.net_blocks;
    s->thread_cached_bytes = h->st.in_use_bytes - s->in_use_bytes;
    s->thread_cached_blocks = h->st.live_blocks - s->live_blocks;
    s->resident_bytes = anr_resident_pages(h) * pg;
    s->reclaimable_bytes = h->count[ANR_PG_DIRTY] * pg;
    s->peak_in_use_bytes = h->st.peak_in_use;
    s->peak_resident_bytes = h->st.peak_resident * pg;
    s->mallocs = h->st.mallocs + tc.allocs - tc.callocs;
    s->callocs = h->st.callocs + tc.callocs;
    s->reallocs = h->st.reallocs;
    s->memaligns = h->st.memaligns;
    s->frees = h->st.frees + tc.frees;
    s->failures = h->st.failures;
    s->callback_calls = h->st.callback_calls;
    s->deferred_frees = h->st.deferred_frees;
    s->invalid_frees = h->st.invalid_frees +
                       atomic_load_explicit(&h->invalid_outside, memory_order_relaxed);
    s->madvise_calls = h->st.madvise_calls;
    s->pages_returned = h->st.pages_returned;
    s->guard_faults = h->d.guard_faults;
}

uint64_t anr_heap_trim(anr_heap *h)
{
    anr_lock(h);
    anr_tc_ask_back_locked(h);
    anr_slab_release_spares(h);
    uint64_t pages = anr_reclaim(h, UINT64_MAX, UINT64_MAX, NULL, NULL);
    anr_unlock(h);
    return pages * h->page_size;
}

int anr_heap_expand(anr_heap *h, size_t bytes)
{
    uint64_t pages = pages_up(bytes, h->page_size);
    int rc = 0;
    anr_lock(h);
    if (pages > h->hard_limit_pages - h->budget_pages)
        rc = -ENOSPC;
    else
        h->budget_pages += pages;
    anr_unlock(h);
    return rc;
}

uint64_t anr_heap_shrink(anr_heap *h, size_t bytes)
{
    uint64_t pages = bytes / h->page_size;
    anr_lock(h);
    uint64_t old = h->budget_pages;
    uint64_t target = pages < old ? old - pages : 0;
    anr_tc_ask_back_locked(h);
    if (anr_resident_pages(h) > target) {
        anr_slab_release_spares(h);
        anr_reclaim(h, anr_resident_pages(h) - target, UINT64_MAX, NULL, NULL);
    }
    uint64_t resident = anr_resident_pages(h);
    h->budget_pages = target > resident ? target : resident;
    if (h->budget_pages > old)
        h->budget_pages = old; /* shrinking never raises the budget */
    uint64_t shrunk = old - h->budget_pages;
    anr_unlock(h);
    return shrunk * h->page_size;
}
