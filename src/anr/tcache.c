/* tcache.c: per-thread caches of small blocks, the slow paths: claiming a
 * slot, refilling and flushing bins in batches under the heap's lock,
 * giving everything back when memory is asked back, at thread exit and in
 * a fork child, and the sums that keep statistics exact.
 *
 * Slots live in the heap's reservation (no mmap, no libc malloc). A thread
 * finds its slot through anr_tc_self, an array of (heap, id, slot) entries
 * in initial-exec TLS; ids are never reused, so an entry of a destroyed heap
 * (even one whose address a new heap took) never matches. A pthread key's
 * destructor empties the thread's caches at exit, into the heaps that are
 * still live per the registry in fork.c (registry lock first, then the heap
 * lock: the order the fork handlers use).
 *
 * Memory asked back (an allocation short of budget, trim, shrink) empties
 * the caller's cache at once and bumps the heap's epoch: every other thread
 * empties its cache at its next locked call (refill or a full bin), since
 * only the owner may touch a cache while it runs. The fast paths never look
 * at the epoch, so a thread that only hits its cache keeps what it holds:
 * at most thread_cache_bytes.
 */
#include "anr/tcache.h"
#include "anr/vg.h"

#include <string.h>

__thread struct anr_tc_thread anr_tc_self __attribute__((tls_model("initial-exec")));

static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static bool exit_key_ok;


static void thread_exit(void *arg);

static void make_exit_key(void)
{
    exit_key_ok = pthread_key_create(&exit_key, thread_exit) == 0;
}

/* Shares `bytes` among the bins [first, end), from the smallest class up:
 * each gets an equal share of what is left, at most ANR_TC_MAX_COUNT
 * blocks, so what a small class cannot use (its bin is full at 128 blocks)
 * goes to the larger ones. A class whose share is under two blocks is not
 * cached (a one-block bin would flush every time). Returns what is left. */
static size_t share_out(struct anr_heap *h, unsigned first, unsigned end, size_t bytes)
{
    for (unsigned c = first; c < end; c++) {
        size_t n = bytes / (end - c) / h->classes[c].size;
        if (n > ANR_TC_MAX_COUNT)
            n = ANR_TC_MAX_COUNT;
        if (n < 2)
            n = 0;
        h->tc_limit[c] = (uint32_t)n;
        bytes -= n * h->classes[c].size;
        if (n > 0)
            h->tc_max_size = h->classes[c].size;
    }
    return bytes;
}

void anr_tc_configure(struct anr_heap *h, size_t cache_bytes)
{
    /* Chunk classes: from the largest slab class up to ANR_TC_CHUNK_MAX,
     * four per doubling (3584, 4096, 5120, ... 16384 after the default
     * 3072), in the class slots left after the slab classes. A request in
     * their range is rounded up to its class (allocate), so any cached
     * block of the class serves it. */
    unsigned n = h->nclasses;
    uint32_t size = h->max_class_size;
    while (n < ANR_MAX_CLASSES) {
        uint32_t step = ((uint32_t)1 << (31 - __builtin_clz(size))) / 4u;
        if (step < ANR_GRANULE) /* custom slab classes that end small */
            step = ANR_GRANULE;
        uint32_t next = (size / step + 1u) * step;
        if (next > ANR_TC_CHUNK_MAX)
            break;
        h->classes[n] = (struct anr_class){.size = next, .partial = ANR_NONE, .spare = ANR_NONE};
        for (uint32_t idx = size / ANR_GRANULE + 1u; idx <= next / ANR_GRANULE; idx++)
            h->class_of[idx] = (uint8_t)n;
        size = next;
        n++;
    }
    h->tc_classes = n;
    /* Half the bytes for the slab classes, the other half and whatever
     * they leave for the chunk classes: a thread's cache of one heap never
     * holds more than cache_bytes. */
    h->tc_max_size = 0;
    size_t slab_bytes = n > h->nclasses ? cache_bytes / 2u : cache_bytes;
    size_t left = share_out(h, 0, h->nclasses, slab_bytes);
    share_out(h, h->nclasses, n, cache_bytes - slab_bytes + left);
}

size_t anr_tc_round_request(const struct anr_heap *h, size_t size)
{
    if (size <= h->max_class_size || size > h->tc_max_size)
        return size;
    unsigned c = h->class_of[(size + ANR_GRANULE - 1u) / ANR_GRANULE];
    return h->tc_limit[c] != 0 ? h->classes[c].size : size;
}

/* The chunk class of the live chunk block p (lock held): its usable size
 * must be exactly a chunk class's. -1 otherwise. */
static int chunk_class_of(const struct anr_heap *h, const void *p)
{
    if (h->tc_classes == h->nclasses)
        return -1;
    const struct anr_chunk *c = anr_chunk_of_payload(h, p);
    if (c == NULL)
        return -1;
    size_t usable = anr_chunk_size(c) - ANR_HDR;
    if (usable <= h->max_class_size || usable > h->classes[h->tc_classes - 1u].size)
        return -1;
    unsigned cls = h->class_of[usable / ANR_GRANULE];
    return h->classes[cls].size == usable ? (int)cls : -1;
}

struct anr_tcache *anr_tc_slot(const struct anr_heap *h, unsigned i)
{
    return (struct anr_tcache *)(void *)(h->tc_slots + (size_t)i * h->tc_stride);
}

/* Whether blk is in the bin: a same-thread double free. */
static bool holds(const struct anr_tc_bin *b, const void *blk)
{
    unsigned n = 0;
    for (void *const *p = b->head; p != NULL && n <= ANR_TC_MAX_COUNT; p = p[0], n++)
        if (p == blk)
            return true;
    return false;
}

/* Counts a double free caught without the lock. */
static void count_double_free(struct anr_heap *h)
{
    atomic_fetch_add_explicit(&h->invalid_outside, 1, memory_order_relaxed);
}

bool anr_tc_block_ok(const struct anr_heap *h, const struct anr_tcache *tc, unsigned cls,
                     const void *blk)
{
    uintptr_t u = (uintptr_t)blk, a = (uintptr_t)h->arena;
    if (u < a || u - a >= h->arena_bytes || u % ANR_GRANULE != 0)
        return false;
    if (cls >= h->nclasses) {
        if (chunk_class_of(h, blk) != (int)cls)
            return false;
    } else {
        size_t page = anr_page_of(h, blk);
        if (h->page_state[page] != ANR_PG_SLAB || h->slabs[h->slabs[page].head].cls != cls)
            return false;
        if (anr_slab_usable(h, blk) != h->classes[cls].size)
            return false;
    }
    void *const *words = blk;
    return words[1] == tc->key;
}

/* Gives one cached block back to the core. */
static void give_back(struct anr_heap *h, unsigned cls, void **blk)
{
    blk[1] = NULL;
    size_t size = 0;
    if (cls < h->nclasses) {
        size = anr_slab_free(h, (char *)blk);
    } else if (chunk_class_of(h, blk) == (int)cls) {
        size = h->classes[cls].size;
        anr_chunk_release(h, anr_chunk_of_payload(h, (char *)blk));
    }
    if (size == 0) {
        /* A pointer freed into the cache that was not a live block: the
         * core never handed it out, so undo the free the cache counted. */
        h->st.invalid_frees++;
        h->st.frees--;
    } else {
        if (h->vg_core)
            anr_vg_free(h, blk);
        h->st.in_use_bytes -= size;
        h->st.live_blocks--;
    }
    h->tc_net_blocks--;
    h->tc_net_bytes -= h->classes[cls].size;
}

/* The chunk class of p without the lock, for a block the caller is freeing
 * (so it owns it): the same checks as chunk_class_of. The size and the
 * in-use flag of an allocated chunk change only when it is freed; the
 * neighbours' frees may set ANR_C_PREV_FREE in its header and rewrite the
 * next chunk's size at any moment (under the lock), hence the atomic loads
 * of those two words. -1 when p is not a live chunk of a cached class. */
static int chunk_class_unlocked(const struct anr_heap *h, const char *p)
{
    size_t off = (size_t)(p - h->arena);
    if (h->tc_classes == h->nclasses || off < ANR_HDR ||
        __atomic_load_n(&h->page_state[off >> h->page_shift], __ATOMIC_RELAXED) != ANR_PG_USED)
        return -1;
    const struct anr_chunk *c = (const struct anr_chunk *)(const void *)(p - ANR_HDR);
    size_t head = __atomic_load_n(&c->head, __ATOMIC_RELAXED);
    size_t size = head & ~(size_t)ANR_C_FLAGS;
    if ((head & (ANR_C_INUSE | ANR_C_SLAB)) != ANR_C_INUSE || size <= h->max_class_size + ANR_HDR ||
        size > h->classes[h->tc_classes - 1u].size + ANR_HDR ||
        size > h->arena_bytes - (off - ANR_HDR) - ANR_HDR)
        return -1;
    size_t usable = size - ANR_HDR;
    unsigned cls = h->class_of[usable / ANR_GRANULE];
    if (h->classes[cls].size != usable)
        return -1;
    const struct anr_chunk *next = (const struct anr_chunk *)(const void *)(p - ANR_HDR + size);
    if (__atomic_load_n(&next->head, __ATOMIC_RELAXED) & ANR_C_PREV_FREE)
        return -1;
    return (int)cls;
}

bool anr_tc_push_flushing(struct anr_heap *h, void *ptr)
{
    size_t page = anr_page_of(h, ptr);
    if (h->tc_max_size == 0 || ((uintptr_t)ptr & (ANR_GRANULE - 1u)) != 0)
        return false;
    unsigned cls;
    if (h->page_state[page] == ANR_PG_SLAB) {
        cls = h->slabs[page].cls;
    } else {
        int c = chunk_class_unlocked(h, ptr);
        if (c < 0)
            return false;
        cls = (unsigned)c;
    }
    struct anr_tc_entry *e = &anr_tc_self.e[0];
    if (e->heap != h || e->id != h->id)
        return false;
    struct anr_tcache *tc = e->cache;
    struct anr_tc_bin *b = &tc->bins[cls];
    if (b->limit == 0)
        return false;
    void **blk = ptr;
    if (blk[1] == tc->key && holds(b, blk)) {
        count_double_free(h);
        return true;
    }
    if (b->count < b->limit) { /* the key was the application's data */
        anr_tc_put(tc, b, blk);
        return true;
    }
    /* Detach everything after the first half; each block records its class
     * for the lock holder that gives it back. */
    void **last = b->head;
    for (uint32_t i = 1; i < b->limit / 2u; i++)
        last = last[0];
    void **first = last[0], **tail = first;
    last[0] = NULL;
    b->count = b->limit / 2u;
    for (;;) {
        tail[1] = &h->classes[cls];
        if (tail[0] == NULL)
            break;
        tail = tail[0];
    }
    void *old = atomic_load_explicit(&h->tc_returned, memory_order_relaxed);
    do {
        tail[0] = old;
    } while (!atomic_compare_exchange_weak_explicit(&h->tc_returned, &old, first,
                                                    memory_order_release, memory_order_relaxed));
    anr_tc_put(tc, b, blk);
    return true;
}

void anr_tc_drain_returned(struct anr_heap *h)
{
    if (atomic_load_explicit(&h->tc_returned, memory_order_relaxed) == NULL)
        return;
    void **blk = atomic_exchange_explicit(&h->tc_returned, NULL, memory_order_acquire);
    while (blk != NULL) {
        void **next = blk[0];
        const struct anr_class *k = blk[1];
        give_back(h, (unsigned)(k - h->classes), blk);
        blk = next;
    }
}

/* Keeps the first `keep` blocks of the bin and gives the rest back. With
 * `check` (a fork child's orphaned caches, which a thread may have left
 * half-updated), stops at the first block that does not look cached. */
static uint64_t flush_bin(struct anr_heap *h, struct anr_tcache *tc, unsigned cls, uint32_t keep,
                          bool check)
{
    struct anr_tc_bin *b = &tc->bins[cls];
    void **last = NULL, **blk = b->head;
    uint32_t kept = 0;
    while (kept < keep && blk != NULL) {
        last = blk;
        blk = blk[0];
        kept++;
    }
    if (last != NULL)
        last[0] = NULL;
    else
        b->head = NULL;
    uint64_t n = 0;
    while (blk != NULL && n <= ANR_TC_MAX_COUNT) {
        if (check && !anr_tc_block_ok(h, tc, cls, blk))
            break;
        void **next = blk[0];
        give_back(h, cls, blk);
        blk = next;
        n++;
    }
    b->count = kept;
    return n;
}

static uint64_t flush_all(struct anr_heap *h, struct anr_tcache *tc, bool check)
{
    uint64_t n = 0;
    for (unsigned c = 0; c < h->tc_classes; c++)
        if (tc->bins[c].head != NULL)
            n += flush_bin(h, tc, c, 0, check);
    tc->epoch = h->tc_epoch;
    return n;
}

/* Empties a slot and folds its counters into the heap's, so the sums over
 * live slots stay exact without it; then frees the slot. */
static void retire(struct anr_heap *h, struct anr_tcache *tc, bool check)
{
    flush_all(h, tc, check);
    uint64_t allocs = 0, frees = 0, net_bytes = 0;
    for (unsigned c = 0; c < h->tc_classes; c++) {
        struct anr_tc_bin *b = &tc->bins[c];
        uint64_t a = atomic_load_explicit(&b->allocs, memory_order_relaxed);
        uint64_t f = atomic_load_explicit(&b->frees, memory_order_relaxed);
        allocs += a;
        frees += f;
        net_bytes += (a - f) * h->classes[c].size;
        atomic_store_explicit(&b->allocs, 0, memory_order_relaxed);
        atomic_store_explicit(&b->frees, 0, memory_order_relaxed);
    }
    uint64_t callocs = atomic_load_explicit(&tc->callocs, memory_order_relaxed);
    atomic_store_explicit(&tc->callocs, 0, memory_order_relaxed);
    h->st.mallocs += allocs - callocs;
    h->st.callocs += callocs;
    h->st.frees += frees;
    h->tc_net_blocks -= allocs - frees;
    h->tc_net_bytes -= net_bytes;
    tc->owner = NULL;
}

struct anr_tcache *anr_tc_mine(struct anr_heap *h)
{
    struct anr_tc_entry *e = anr_tc_self.e;
    for (unsigned i = 0; i < ANR_TC_HEAPS; i++) {
        if (e[i].heap == h && e[i].id == h->id) {
            if (i > 0) { /* most recently used first: the fast paths look at e[0] only */
                struct anr_tc_entry t = e[i];
                e[i] = e[0];
                e[0] = t;
            }
            return e[0].cache;
        }
    }
    return NULL;
}

/* This thread's cache for h, claiming a free slot when it has none; NULL
 * when no slot or no thread entry is free (the thread then runs uncached).
 * Empties the cache first when memory was asked back since it last was. */
static struct anr_tcache *acquire(struct anr_heap *h)
{
    struct anr_tcache *tc = anr_tc_mine(h);
    if (tc != NULL) {
        if (tc->epoch != h->tc_epoch)
            flush_all(h, tc, false);
        return tc;
    }
    struct anr_tc_entry *e = anr_tc_self.e;
    unsigned free_entry = ANR_TC_HEAPS;
    for (unsigned i = 0; i < ANR_TC_HEAPS && free_entry == ANR_TC_HEAPS; i++)
        if (e[i].heap == NULL || e[i].heap == h) /* same address, other id: a dead heap's */
            free_entry = i;
    /* Without the exit hook the blocks would be lost when the thread ends. */
    if (free_entry == ANR_TC_HEAPS || !anr_tc_self.exit_hook)
        return NULL;
    for (unsigned i = 0; i < h->tc_threads; i++) {
        tc = anr_tc_slot(h, i);
        if (tc->owner != NULL)
            continue;
        tc->owner = &anr_tc_self;
        /* An odd address inside the slot: no block pointer the application
         * keeps in its data can equal it. */
        tc->key = (char *)tc + 1;
        tc->epoch = h->tc_epoch;
        for (unsigned c = 0; c < h->tc_classes; c++) {
            tc->bins[c].head = NULL;
            tc->bins[c].count = 0;
            tc->bins[c].limit = h->tc_limit[c];
        }
        e[free_entry] = e[0];
        e[0] = (struct anr_tc_entry){.heap = h, .id = h->id, .cache = tc};
        return tc;
    }
    return NULL;
}

void anr_tc_prepare_thread(void)
{
    pthread_once(&exit_key_once, make_exit_key);
    if (exit_key_ok && pthread_setspecific(exit_key, &anr_tc_self) == 0)
        anr_tc_self.exit_hook = true;
}

void anr_tc_refill_locked(struct anr_heap *h, size_t size)
{
    int cls = anr_class_for(h, size);
    if (cls < 0 || h->tc_limit[cls] == 0)
        return;
    struct anr_tcache *tc = acquire(h);
    if (tc == NULL)
        return;
    struct anr_tc_bin *b = &tc->bins[cls];
    struct anr_class *k = &h->classes[cls];
    uint32_t target = b->limit / 2u;
    while (b->count < target && k->partial != ANR_NONE) {
        int err = 0;
        uint64_t shortfall = 0;
        /* A partly used slab has a free slice: this cannot fail. */
        void **blk = anr_slab_alloc(h, (unsigned)cls, &err, &shortfall);
        if (blk == NULL)
            break;
        if (h->vg_core)
            anr_vg_alloc(h, blk, k->size);
        blk[0] = b->head;
        blk[1] = tc->key;
        b->head = blk;
        b->count++;
        h->st.in_use_bytes += k->size;
        h->st.live_blocks++;
        h->tc_net_blocks++;
        h->tc_net_bytes += k->size;
    }
    if (h->st.in_use_bytes > h->st.peak_in_use)
        h->st.peak_in_use = h->st.in_use_bytes;
}

bool anr_tc_free_locked(struct anr_heap *h, void *ptr)
{
    if (h->tc_max_size == 0)
        return false;
    unsigned cls;
    size_t page = anr_page_of(h, ptr);
    if (h->page_state[page] == ANR_PG_SLAB) {
        if (anr_slab_usable(h, ptr) == 0)
            return false; /* not a live slice: the core counts it as invalid */
        cls = h->slabs[h->slabs[page].head].cls;
    } else {
        int c = chunk_class_of(h, ptr);
        if (c < 0)
            return false; /* not a chunk of a cached size, or not live */
        cls = (unsigned)c;
    }
    if (h->tc_limit[cls] == 0)
        return false;
    struct anr_tcache *tc = acquire(h);
    if (tc == NULL)
        return false;
    struct anr_tc_bin *b = &tc->bins[cls];
    void **blk = ptr;
    if (blk[1] == tc->key && holds(b, blk)) {
        h->st.invalid_frees++;
        return true;
    }
    if (b->count >= b->limit)
        flush_bin(h, tc, cls, b->limit / 2u, false);
    anr_tc_put(tc, b, blk);
    return true;
}

uint64_t anr_tc_ask_back_locked(struct anr_heap *h)
{
    if (h->tc_max_size == 0)
        return 0;
    h->tc_epoch++;
    struct anr_tcache *tc = anr_tc_mine(h);
    return tc != NULL ? flush_all(h, tc, false) : 0;
}

void anr_tc_totals_locked(const struct anr_heap *h, struct anr_tc_totals *t)
{
    memset(t, 0, sizeof *t);
    for (unsigned i = 0; i < h->tc_threads; i++) {
        const struct anr_tcache *tc = anr_tc_slot(h, i);
        if (tc->owner == NULL)
            continue;
        t->callocs += atomic_load_explicit(&tc->callocs, memory_order_relaxed);
        for (unsigned c = 0; c < h->tc_classes; c++) {
            uint64_t a = atomic_load_explicit(&tc->bins[c].allocs, memory_order_relaxed);
            uint64_t f = atomic_load_explicit(&tc->bins[c].frees, memory_order_relaxed);
            t->allocs += a;
            t->frees += f;
            t->net_blocks += a - f;
            t->net_bytes += (a - f) * h->classes[c].size;
        }
    }
}

void anr_tc_fork_child(struct anr_heap *h)
{
    for (unsigned i = 0; i < h->tc_threads; i++) {
        struct anr_tcache *tc = anr_tc_slot(h, i);
        if (tc->owner != NULL && tc->owner != &anr_tc_self)
            retire(h, tc, true);
    }
}

void anr_tc_forget(struct anr_heap *h)
{
    for (unsigned i = 0; i < ANR_TC_HEAPS; i++)
        if (anr_tc_self.e[i].heap == h)
            anr_tc_self.e[i] = (struct anr_tc_entry){0};
}

static void thread_exit(void *arg)
{
    struct anr_tc_thread *self = arg;
    /* A later destructor that allocates again sets the key anew. */
    self->exit_hook = false;
    for (unsigned i = 0; i < ANR_TC_HEAPS; i++) {
        struct anr_tc_entry e = self->e[i];
        self->e[i] = (struct anr_tc_entry){0};
        if (e.heap == NULL)
            continue;
        anr_registry_lock();
        if (anr_registry_has(e.heap, e.id)) {
            anr_lock(e.heap);
            retire(e.heap, e.cache, false);
            anr_unlock(e.heap);
        }
        anr_registry_unlock();
    }
}
