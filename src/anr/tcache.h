/* tcache.h: per-thread caches of blocks up to 16 KiB (tcache.c), and their
 * fast paths, inlined into heap.c's and gmalloc's malloc and free.
 *
 * For each heap it uses, a thread may own one cache slot (struct anr_tcache)
 * carved from the heap's reservation (docs/anr.md, "Thread caches"). A slot
 * holds, per class (the slab classes, then the chunk classes above them up
 * to ANR_TC_CHUNK_MAX), a stack of free blocks linked through their first
 * word, with a count and a limit. malloc pops and free pushes without the
 * heap's lock (chunk blocks in anr_tc_push_flushing, which checks their
 * headers); refill and flush happen in batches under it.
 *
 * Accounting. The core (slabs, h->st) sees a cached block as allocated: its
 * bitmap bit stays set and h->st.live_blocks counts it, so verify's walk is
 * unchanged. Blocks move core -> cache only in refills and cache -> core only
 * in flushes (both under the lock), tracked in h->tc_net_blocks/bytes. The
 * fast paths count pops (allocs) and pushes (frees) per bin, so
 *     blocks the application holds = st.live_blocks - tc_net_blocks
 *                                   + sum over live slots of (allocs - frees)
 * exactly (arithmetic modulo 2^64), and the same in bytes with class sizes.
 * The per-bin counters are relaxed atomics because statistics read them from
 * other threads; only the owner writes them.
 */
#ifndef ANR_TCACHE_H
#define ANR_TCACHE_H

#include "anr/heap_internal.h"

#define ANR_TC_HEAPS 8u          /* heaps one thread keeps a cache for */
#define ANR_TC_MAX_COUNT 128u    /* most blocks in one bin */
#define ANR_TC_MAX_THREADS 4096u /* most slots a heap may reserve */
#define ANR_TC_CHUNK_MAX 16384u  /* largest chunk class a cache holds */

struct anr_tc_bin {
    void *head;               /* cached blocks, linked through their first word */
    uint32_t count, limit;    /* limit 0: this class is not cached */
    _Atomic(uint64_t) allocs; /* blocks popped for the application */
    _Atomic(uint64_t) frees;  /* blocks the application freed into the bin */
};

struct anr_tcache {
    const void *owner; /* the owning thread's anr_tc_self; NULL: slot free (lock) */
    void *key;         /* in the second word of every cached block */
    uint64_t epoch;    /* heap's tc_epoch when this cache was last emptied */
    _Atomic(uint64_t) callocs; /* pops made by calloc (counted in allocs too) */
    struct anr_tc_bin bins[ANR_MAX_CLASSES];
};

/* A thread's caches, one entry per heap; entry 0 is the heap used last. */
struct anr_tc_entry {
    struct anr_heap *heap;
    uint64_t id; /* heap->id: an entry of a destroyed heap never matches */
    struct anr_tcache *cache;
};

struct anr_tc_thread {
    struct anr_tc_entry e[ANR_TC_HEAPS];
    bool exit_hook; /* the pthread key that flushes at thread exit is set */
};

extern __thread struct anr_tc_thread anr_tc_self __attribute__((tls_model("initial-exec")));

/* The owner's counter increment: no locked instruction (one writer). */
static inline void anr_tc_tally(_Atomic(uint64_t) *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1u,
                          memory_order_relaxed);
}

/* malloc's fast path: a cached block for a request of `size` bytes, or NULL
 * (caches off, size 0 or above the cached classes, no cache for this heap
 * in this thread yet, bin empty): then the caller takes the locked path.
 * About 27 instructions and 4 branches on x86-64 (gcc -O2) when it hits:
 * one compare of the size, two of the thread's entry 0 against the heap
 * (pointer and id), a class lookup, the pop and the counter. */
static inline void *anr_tc_pop_in(struct anr_heap *h, size_t size, bool check_id)
{
    if (size - 1u >= h->tc_max_size) /* also size 0, and 0 when caches are off */
        return NULL;
    struct anr_tc_entry *e = &anr_tc_self.e[0];
    if (e->heap != h || (check_id && e->id != h->id))
        return NULL;
    struct anr_tc_bin *b = &e->cache->bins[h->class_of[(size + ANR_GRANULE - 1u) / ANR_GRANULE]];
    void **blk = b->head;
    if (blk == NULL)
        return NULL;
    b->head = blk[0];
    blk[1] = NULL; /* the key: a block handed out must not look cached */
    b->count--;
    anr_tc_tally(&b->allocs);
    return blk;
}

/* check_id false is for a heap that is never destroyed and was created
 * before any other could have been (gmalloc's): no thread can hold a stale
 * entry of a destroyed heap at its address, so the pointer alone tells. */
static inline void *anr_tc_pop(struct anr_heap *h, size_t size)
{
    return anr_tc_pop_in(h, size, true);
}

/* Pushes a free block on the bin of cache tc, marked with tc's key. */
static inline void anr_tc_put(const struct anr_tcache *tc, struct anr_tc_bin *b, void **blk)
{
    blk[0] = b->head;
    blk[1] = tc->key;
    b->head = blk;
    b->count++;
    anr_tc_tally(&b->frees);
}

/* free's fast path for ptr inside h's arena, on page `page` of it: true
 * when the block went into this thread's cache. False: the bin is full,
 * the block carries the key (a double free?), or no cache applies;
 * anr_tc_push_flushing and the locked path decide. With the NULL and arena
 * checks, anr_heap_free runs about 45 instructions and 10 branches on
 * x86-64 when it hits, and saves no registers (everything slower is in an
 * out-of-line function). A pointer into a slab that is not the start of a
 * live slice is caught only when the cache is flushed. */
static inline bool anr_tc_push_page(struct anr_heap *h, void *ptr, size_t page, bool check_id)
{
    /* No test of h->tc_max_size: with caches off no thread has an entry
     * for h, so the entry test below fails. */
    if (h->page_state[page] != ANR_PG_SLAB || ((uintptr_t)ptr & (ANR_GRANULE - 1u)) != 0)
        return false;
    struct anr_tc_entry *e = &anr_tc_self.e[0];
    if (e->heap != h || (check_id && e->id != h->id))
        return false;
    struct anr_tcache *tc = e->cache;
    struct anr_tc_bin *b = &tc->bins[h->slabs[page].cls];
    void **blk = ptr;
    if (b->count >= b->limit || blk[1] == tc->key) /* full, or maybe a double free */
        return false;
    anr_tc_put(tc, b, blk);
    return true;
}

/* The same for a pointer known to be in h's arena. */
static inline bool anr_tc_push(struct anr_heap *h, void *ptr)
{
    return anr_tc_push_page(h, ptr, anr_page_of(h, ptr), true);
}

/* ---- tcache.c: the slow paths (lock held unless said) ------------------- */

/* free's second try, without the lock, after anr_tc_push said no (also the
 * first for blocks of the chunk classes, whose headers it checks): a block
 * already in this thread's bin (a double free) is counted and ignored; a
 * full bin moves its older half to h->tc_returned with one compare-and-swap
 * and takes ptr. False when no cache applies. Never blocks. */
bool anr_tc_push_flushing(struct anr_heap *h, void *ptr);
/* Gives the blocks on h->tc_returned back to the slabs (lock held). */
void anr_tc_drain_returned(struct anr_heap *h);

/* Sets the pthread key whose destructor empties this thread's caches when
 * it exits. Called without any heap lock held (glibc may call malloc in
 * pthread_setspecific, which under gmalloc is this allocator), before the
 * thread's first locked call that could claim a cache; a no-op afterwards
 * unless the key's destructor ran. */
void anr_tc_prepare_thread(void);
static inline void anr_tc_prepare(const struct anr_heap *h)
{
    if (h->tc_max_size != 0 && !anr_tc_self.exit_hook)
        anr_tc_prepare_thread();
}

/* Per-class limits, the chunk classes and the cached size range from the
 * options, at creation. */
void anr_tc_configure(struct anr_heap *h, size_t cache_bytes);
/* The size a chunk-space request of `size` bytes (no alignment beyond the
 * granule) is made with: its chunk class's size when that class is cached,
 * so the block can serve any request of the class later; else size. */
size_t anr_tc_round_request(const struct anr_heap *h, size_t size);
/* After a locked allocation of `size` bytes for malloc/calloc: fills this
 * thread's bin of that class up to half its limit from partly used slabs
 * (never a new slab: refills do not move the budget). Claims a slot first
 * when the thread has none. */
void anr_tc_refill_locked(struct anr_heap *h, size_t size);
/* free's locked path: puts a live slab slice into this thread's cache,
 * flushing half of a full bin first. False when the block is not for the
 * cache (caches off, not a live slice, no slot to be had). */
bool anr_tc_free_locked(struct anr_heap *h, void *ptr);
/* Memory is asked back (budget short, trim, shrink): empties this thread's
 * cache and tells the other threads to empty theirs at their next locked
 * call. Returns blocks given back to the core. */
uint64_t anr_tc_ask_back_locked(struct anr_heap *h);

struct anr_tc_totals {
    uint64_t allocs, frees, callocs; /* over the live slots */
    uint64_t net_blocks, net_bytes;  /* sum of (allocs - frees), blocks and bytes */
};
void anr_tc_totals_locked(const struct anr_heap *h, struct anr_tc_totals *t);
/* This thread's cache for h, or NULL (no claiming). */
struct anr_tcache *anr_tc_mine(struct anr_heap *h);
/* Whether blk may sit in bin cls of cache tc: a live slice of that class
 * carrying the cache's key. */
bool anr_tc_block_ok(const struct anr_heap *h, const struct anr_tcache *tc, unsigned cls,
                     const void *blk);
/* The slot i of h's cache area. */
struct anr_tcache *anr_tc_slot(const struct anr_heap *h, unsigned i);
/* In a fork child (locks held): empties the caches of the threads that did
 * not survive the fork and frees their slots. */
void anr_tc_fork_child(struct anr_heap *h);
/* anr_heap_destroy: forgets this thread's entry for h (no lock). */
void anr_tc_forget(struct anr_heap *h);

#endif
