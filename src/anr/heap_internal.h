/* heap_internal.h: the anr core's data structures, shared by its files.
 *
 * docs/anr.md explains them with pictures; in short:
 *
 *   reservation = [ struct anr_heap | page states | slab descriptors |
 *                   slab bitmaps ] (rounded to pages) [ arena ... sentinel ]
 *
 * The arena is one boundary-tagged chunk space (TLSF bins over free chunks,
 * immediate coalescing). A slab is a chunk of 1..8 pages whose payload starts
 * on a page boundary; its slices are tracked by a bitmap in the slab
 * descriptor array, outside the slab. Every arena page has a state byte
 * (clean free, dirty free, used, slab) from which the budget counts follow.
 */
#ifndef ANR_HEAP_INTERNAL_H
#define ANR_HEAP_INTERNAL_H

#include "anr/anr_malloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ANR_GRANULE 16u        /* every block is aligned to and sized in this */
#define ANR_HDR 16u            /* bytes of chunk header before each chunk payload */
#define ANR_NONE UINT32_MAX    /* "no page" in slab lists */
#define ANR_MAX_CLASSES 64u
#define ANR_SLAB_MAX_SIZE 32768u
#define ANR_SLAB_MAX_PAGES 8u
#define ANR_REALLOC_HEADROOM_MAX ((size_t)1 << 20) /* most extra bytes a moved realloc gets */
#define ANR_MAX_ATTEMPTS_LIMIT 1000u
#define ANR_MIN_ARENA_PAGES 8u

/* TLSF: first level by highest bit, 16 second-level bins per power of two;
 * sizes below 256 have exact bins of 16 bytes. */
#define ANR_SL_LOG2 4u
#define ANR_SL_COUNT (1u << ANR_SL_LOG2)
#define ANR_FL_SHIFT 8u
#define ANR_FL_COUNT (sizeof(size_t) * 8u - ANR_FL_SHIFT + 1u)
/* Chunks examined in the exact bin when the good-fit lookup finds nothing. */
#define ANR_FALLBACK_SCAN 16u

/* Chunk header flags, in the low bits of anr_chunk.head. */
#define ANR_C_INUSE 1u        /* allocated (or the sentinel) */
#define ANR_C_PREV_FREE 2u    /* the chunk before is free; prev_size is valid */
#define ANR_C_DIRTY_LISTED 4u /* free chunk on the give-back list */
#define ANR_C_SLAB 8u         /* allocated chunk holding a slab */
#define ANR_C_FLAGS 15u

struct anr_chunk {
    size_t prev_size; /* size of the chunk before; valid only with ANR_C_PREV_FREE */
    size_t head;      /* chunk bytes (header included, multiple of 16) | flags */
};

/* Stored right after the header of a free chunk. */
struct anr_free_links {
    struct anr_chunk *next, *prev;             /* TLSF bin list */
    struct anr_chunk *dirty_next, *dirty_prev; /* give-back order, oldest first */
};

/* Bytes of a free chunk the allocator writes (header + links): pages after
 * these and before the next chunk's header hold nothing and can be given
 * back. Also the smallest chunk. */
#define ANR_FREE_BOOK \
    ((ANR_HDR + sizeof(struct anr_free_links) + ANR_GRANULE - 1u) & ~(size_t)(ANR_GRANULE - 1u))
#define ANR_MIN_CHUNK ANR_FREE_BOOK

/* Page states. CLEAN and DIRTY pages lie wholly inside the free interior of
 * a free chunk; DIRTY ones may be resident, CLEAN ones are not (never
 * touched, or given back). USED pages hold (part of) an allocated chunk or
 * the bookkeeping of a free one; SLAB pages are slab payload pages. */
enum anr_page_state {
    ANR_PG_CLEAN = 0, /* the zero the fresh mapping is filled with */
    ANR_PG_DIRTY = 1,
    ANR_PG_USED = 2,
    ANR_PG_SLAB = 3,
};

/* One per arena page; meaningful for slab pages. `head` (the slab's first
 * payload page) and `cls` are set on every page of a slab, the rest on the
 * head only. */
struct anr_slab {
    uint32_t next, prev; /* partial list of the class (page indices) */
    uint32_t head;
    uint16_t used;      /* slices allocated */
    uint16_t hint;      /* first bitmap word that may have a free slice */
    uint8_t cls;
    uint8_t pages;
    uint8_t on_partial;
    uint8_t reserved;
};

struct anr_class {
    uint32_t size;     /* slice bytes */
    uint16_t capacity; /* slices per slab */
    uint8_t pages;     /* pages per slab */
    uint8_t reserved;
    uint32_t partial;  /* head of the partial slab list, or ANR_NONE */
    uint32_t spare;    /* one empty slab kept back, or ANR_NONE */
};

struct anr_counters {
    uint64_t in_use_bytes, live_blocks, peak_in_use, peak_resident;
    uint64_t mallocs, callocs, reallocs, memaligns, frees, failures;
    uint64_t callback_calls, deferred_frees, invalid_frees, madvise_calls, pages_returned;
    uint64_t madvise_failures;
};

/* ---- debug mode (debug.c, report.c; docs/anr.md "Debugging") -------------
 *
 * A debug block is carved out of an ordinary ("inner") block:
 *
 *   inner: [ pad | anr_dbg_hdr + stack [+ client area] | front guard | user ... | back guard ]
 *                                                                     ^ returned pointer
 *
 * offset = user - inner is a multiple of the alignment asked for. A free of
 * an inner chunk overwrites its first words (the free links), so the fields
 * needed after a free (magic, size, stack) come after the first 32 bytes. */
#define ANR_DBG_LIVE 0x4c495645u  /* a live block */
#define ANR_DBG_FREED 0x46524545u /* freed (kept only until the memory is reused) */
#define ANR_DBG_QUAR 0x51554152u  /* freed with a damaged guard: never reused */
#define ANR_DBG_MAX_GUARD 64u
#define ANR_DBG_MAX_STACK 32u
#define ANR_DBG_MAX_FLIGHT (1u << 20)
#define ANR_DBG_SITES 1024u       /* sites a report groups (the last: "other") */
#define ANR_DBG_F_REPORTED 1u     /* its damaged guard was reported and counted */
#define ANR_DBG_F_MARKED 2u       /* reached by the running collection (mark.c) */
#define ANR_DBG_MAX_CLIENT 256u   /* options.client_debug_bytes */
#define ANR_DBG_MAX_MARKERS 32u   /* anr_heap_register_marker slots */

struct anr_dbg_hdr {
    struct anr_dbg_hdr *next, *prev; /* the live list, oldest first */
    uint64_t seq;                    /* allocation number */
    uint64_t gen;                    /* generation at allocation */
    /* 32 bytes on 64-bit, 24 on 32-bit: what a chunk free may overwrite */
    uint32_t magic;
    uint32_t offset;                 /* user - inner */
    uint64_t size;                   /* bytes asked for */
    struct anr_dbg_hdr *site_next;   /* report scratch: blocks of the same site */
    uint16_t depth;                  /* frames in stack */
    uint16_t flags;
    uint32_t op;                     /* enum anr_op that made it */
    uintptr_t stack[];               /* options.stack_depth slots */
};

struct anr_dbg_site {
    uint64_t count, bytes;
    struct anr_dbg_hdr *first, *last; /* chained through site_next */
    uint32_t hash;
    uint32_t used;
};

struct anr_debug {
    size_t guard_bytes;   /* per side */
    size_t hdr_bytes;     /* header + stack, a multiple of 8 */
    unsigned stack_depth;
    bool trash;
    void (*report)(anr_heap *heap, const char *line, void *report_user);
    void *report_user;
    int report_fd;
    /* under the lock */
    struct anr_dbg_hdr *live_head, *live_tail;
    uint64_t live_count;
    uint64_t seq, gen, guard_faults;
    struct anr_flight_entry *fr; /* ring in the metadata */
    uint32_t fr_size;
    uint64_t fr_next; /* entries written so far (the next one's seq - 1) */
    struct anr_dbg_site *sites; /* ANR_DBG_SITES, in the metadata */
    /* the client's area per block: client_bytes at header + client_off */
    size_t client_off, client_bytes;
    /* mark and sweep (mark.c), under the lock */
    struct anr_dbg_marker {
        void (*fn)(anr_heap *heap, void *user);
        void *user;
    } markers[ANR_DBG_MAX_MARKERS];
    unsigned nmarkers;
    bool collecting;
    pthread_t collector; /* the thread running the collection */
    uint64_t collect_marked, collect_bad_marks;
};

struct anr_heap {
    /* Set at creation, only read afterwards. The lock-free fast paths of the
     * thread caches read these, so they share no cache line with anything
     * other threads write (the lock, counters, bins). */
    char *map_base;
    size_t map_bytes;      /* the whole reservation */
    size_t meta_bytes;     /* the part before the arena */
    char *arena;
    size_t arena_bytes;
    size_t npages;
    size_t page_size;
    unsigned page_shift;
    uint8_t *page_state;   /* npages */
    struct anr_slab *slabs; /* npages */
    uint64_t *slab_bits;   /* npages * bits_words; bit set = slice allocated */
    size_t bits_words;
    uint64_t id;           /* unique among this process's heaps (fork.c) */
    size_t tc_max_size;    /* largest cached class; 0 = thread caches off */
    char *tc_slots;        /* tc_threads slots of tc_stride bytes, in the metadata */
    size_t tc_stride;
    unsigned tc_threads;
    unsigned nclasses;
    /* Thread-cache bins in use: the nclasses slab classes, then (caches on)
     * the chunk classes, sizes above max_class_size whose blocks come from
     * the chunk space; their classes[] entries hold only a size. */
    unsigned tc_classes;
    uint32_t max_class_size;
    uint8_t dbg; /* debug mode: every block goes through debug.c */
    uint8_t slow; /* dbg or vg_core: allocations and frees take the slow paths */
    uint8_t vg;  /* running under valgrind: memcheck hears of every block */
    uint8_t vg_core; /* vg and not dbg: the core and the caches announce blocks */
    uint8_t class_of[ANR_SLAB_MAX_SIZE / ANR_GRANULE + 1]; /* by (size + 15) / 16 */

    /* Everything below changes while threads run. */
    _Alignas(64) pthread_mutex_t lock;
    /* Blocks freed while the lock was taken: a lock-free stack linked
     * through each block's first word, drained by the next lock holder. */
    _Atomic(void *) deferred;
    _Atomic(uint64_t) invalid_outside; /* frees of pointers outside the arena, and
                                          double frees caught by a thread cache */
    struct anr_heap *registry_next; /* fork registry (fork.c) */
    /* Half-bins a thread cache flushed without the lock: a lock-free stack
     * of blocks (word 0: next, word 1: their class), given back to the slabs
     * by the next lock holder (tcache.c). */
    _Atomic(void *) tc_returned;

    /* TLSF bins */
    uint64_t fl_bitmap;
    uint32_t sl_bitmap[ANR_FL_COUNT];
    struct anr_chunk *bins[ANR_FL_COUNT][ANR_SL_COUNT];

    struct anr_chunk *dirty_head, *dirty_tail;
    struct anr_chunk *sentinel;

    /* slab classes */
    struct anr_class classes[ANR_MAX_CLASSES];

    /* budget, in pages */
    uint64_t budget_pages;
    uint64_t hard_limit_pages;
    uint64_t count[4]; /* pages in each anr_page_state */

    /* configuration */
    uint64_t ceiling_pages, floor_pages, batch_pages;
    unsigned max_attempts;
    bool madv_free;
    anr_need_memory_fn need_memory;
    void *user_data;

    struct anr_counters st;

    /* thread caches (tcache.c, tcache.h), under the lock */
    uint32_t tc_limit[ANR_MAX_CLASSES]; /* blocks per bin, 0 = class not cached */
    uint64_t tc_epoch;   /* bumped when memory is asked back */
    uint64_t tc_net_blocks, tc_net_bytes; /* refilled minus flushed (mod 2^64) */

    struct anr_debug d; /* debug mode state (debug.c) */
};

/* ---- small helpers ------------------------------------------------------ */

static inline size_t anr_chunk_size(const struct anr_chunk *c)
{
    return c->head & ~(size_t)ANR_C_FLAGS;
}

static inline struct anr_chunk *anr_chunk_at(char *addr)
{
    return (struct anr_chunk *)(void *)addr;
}

static inline char *anr_chunk_addr(struct anr_chunk *c)
{
    return (char *)c;
}

static inline struct anr_chunk *anr_chunk_next(struct anr_chunk *c)
{
    return anr_chunk_at(anr_chunk_addr(c) + anr_chunk_size(c));
}

static inline struct anr_free_links *anr_links(struct anr_chunk *c)
{
    return (struct anr_free_links *)(void *)(anr_chunk_addr(c) + ANR_HDR);
}

static inline size_t anr_page_of(const struct anr_heap *h, const char *p)
{
    return (size_t)(p - h->arena) >> h->page_shift;
}

static inline char *anr_page_addr(const struct anr_heap *h, size_t page)
{
    return h->arena + (page << h->page_shift);
}

static inline uint64_t anr_resident_pages(const struct anr_heap *h)
{
    return h->count[ANR_PG_DIRTY] + h->count[ANR_PG_USED] + h->count[ANR_PG_SLAB];
}

static inline size_t anr_round_up(size_t v, size_t align)
{
    return (v + align - 1u) & ~(align - 1u);
}

static inline uint64_t *anr_slab_bitmap(const struct anr_heap *h, size_t head)
{
    return h->slab_bits + head * h->bits_words;
}

/* ---- pagemap.c: page states and their counts ---------------------------- */

/* Sets pages [first, end) to `state`, keeping the counts. */
void anr_pm_set(struct anr_heap *h, size_t first, size_t end, enum anr_page_state state);
/* Pages overlapping [a, b): CLEAN and DIRTY become USED. */
void anr_pm_mark_used(struct anr_heap *h, const char *a, const char *b);
/* CLEAN pages overlapping [a, b): the pages a write there would add. */
uint64_t anr_pm_count_clean(const struct anr_heap *h, const char *a, const char *b);
/* First and end page of the free interior of a free chunk [s, e). */
void anr_pm_interior(const struct anr_heap *h, const char *s, const char *e, size_t *first,
                     size_t *end);
/* Pages of the interior of free chunk [s, e) that also lie in [a, b): USED
 * and SLAB become DIRTY. Returns how many changed. */
uint64_t anr_pm_free_interior(struct anr_heap *h, const char *s, const char *e, const char *a,
                              const char *b);

/* ---- chunk.c: boundary tags, TLSF bins, the give-back list -------------- */

/* Where a block goes inside free chunk f: [x, x + n); split_tail says whether
 * the rest after it becomes a free chunk (else it is absorbed into n). */
struct anr_plan {
    struct anr_chunk *f;
    char *x;
    size_t n;
    bool split_tail;
};

enum anr_place { ANR_PLACE_LOW, ANR_PLACE_ALIGNED, ANR_PLACE_SLAB };

void anr_chunk_init_arena(struct anr_heap *h);
/* Finds a free chunk for a block of n chunk bytes (header included) placed
 * as `how` (align: payload alignment for ALIGNED). O(1) with at most
 * ANR_FALLBACK_SCAN extra chunks examined. Returns false when none fits. */
bool anr_chunk_find(struct anr_heap *h, size_t n, size_t align, enum anr_place how,
                    struct anr_plan *plan);
/* The pages a plan would make resident (CLEAN pages it writes). */
uint64_t anr_plan_new_pages(const struct anr_heap *h, const struct anr_plan *plan);
/* Carves the planned block out (flags: ANR_C_SLAB or 0). */
struct anr_chunk *anr_chunk_take(struct anr_heap *h, const struct anr_plan *plan,
                                 size_t flags);
/* Frees an allocated chunk, coalescing at once with free neighbours. */
void anr_chunk_release(struct anr_heap *h, struct anr_chunk *c);
/* Splits the allocated chunk c to n bytes when at least ANR_MIN_CHUNK is
 * left over, freeing the tail. Returns true when it shrank. */
bool anr_chunk_shrink(struct anr_heap *h, struct anr_chunk *c, size_t n);
/* Plans growing allocated chunk c in place to n bytes out of the free chunk
 * after it. Returns false when that chunk is absent or too small. */
bool anr_chunk_plan_grow(struct anr_heap *h, struct anr_chunk *c, size_t n,
                         struct anr_plan *plan);
void anr_chunk_commit_grow(struct anr_heap *h, struct anr_chunk *c, const struct anr_plan *plan);
/* TLSF bin index of a size (used by verify). */
void anr_chunk_bin_of(size_t size, unsigned *fl, unsigned *sl);
void anr_dirty_unlink(struct anr_heap *h, struct anr_chunk *c);

/* ---- reclaim.c: budget and giving pages back ---------------------------- */

/* Gives back up to min(want, max) DIRTY pages, oldest free chunk first,
 * skipping pages overlapping [excl_lo, excl_hi). Returns pages given back. */
uint64_t anr_reclaim(struct anr_heap *h, uint64_t want, uint64_t max, const char *excl_lo,
                     const char *excl_hi);
/* The high/low watermark rule, after frees. */
void anr_reclaim_auto(struct anr_heap *h);
/* Whether `need` more resident pages fit the budget, giving pages back
 * outside [excl_lo, excl_hi) if that helps. 0, or -EAGAIN with the missing
 * pages in *shortfall. */
int anr_budget_admit(struct anr_heap *h, uint64_t need, const char *excl_lo, const char *excl_hi,
                     uint64_t *shortfall);

/* ---- slab.c: small sizes ------------------------------------------------ */

/* Builds the class table (sizes NULL: the default set). 0 or -EINVAL. */
int anr_classes_init(struct anr_heap *h, const uint32_t *sizes, size_t n);
/* Class for a request of `size` bytes, or -1 when it is above the classes. */
int anr_class_for(const struct anr_heap *h, size_t size);
/* A slice of class cls. NULL with *err = -EAGAIN (+ *shortfall pages) when
 * a new slab would pass the budget, -ENOMEM when the arena is full. */
void *anr_slab_alloc(struct anr_heap *h, unsigned cls, int *err, uint64_t *shortfall);
/* Frees a slice. Returns its class size, or 0 when p is not an allocated
 * slice (then nothing changed). */
size_t anr_slab_free(struct anr_heap *h, char *p);
/* Class size of the live slice p, or 0 when p is not one. */
size_t anr_slab_usable(const struct anr_heap *h, const char *p);
/* Returns the spare empty slabs to the chunk space. Returns slabs released. */
unsigned anr_slab_release_spares(struct anr_heap *h);

/* ---- heap.c ------------------------------------------------------------- */

/* Takes the heap's lock and frees the blocks queued while it was taken. */
void anr_lock(struct anr_heap *h);
/* anr_lock without waiting: false when another thread holds the lock. */
bool anr_trylock(struct anr_heap *h);
/* Releases it (and drains once more if frees were queued meanwhile). */
void anr_unlock(struct anr_heap *h);

/* The core behind the public allocation calls (no debug header). */
enum anr_kind { ANR_KIND_MALLOC, ANR_KIND_CALLOC, ANR_KIND_REALLOC, ANR_KIND_MEMALIGN };
void *anr_core_allocate(struct anr_heap *h, size_t size, size_t align, enum anr_kind kind,
                        bool may_ask);
/* Frees the live block p (lock held); counts an invalid free otherwise. */
void anr_core_free_locked(struct anr_heap *h, char *p);
/* Usable bytes of the core block p, or 0 (lock held). */
size_t anr_core_usable_locked(const struct anr_heap *h, const char *p);
/* Statistics (lock held). */
void anr_stats_locked(struct anr_heap *h, struct anr_stats *s);

/* Size and flags of the live chunk whose payload is p, or NULL. */
struct anr_chunk *anr_chunk_of_payload(const struct anr_heap *h, const char *p);

/* ---- debug.c: debug mode ------------------------------------------------ */

/* Whether the options ask for debug mode, and the metadata it needs. */
bool anr_dbg_wanted(const struct anr_options *o);
size_t anr_dbg_meta_bytes(const struct anr_options *o);
/* -EINVAL for out-of-range debug options. */
int anr_dbg_check(const struct anr_options *o);
/* Sets up debug mode in a new heap; meta: anr_dbg_meta_bytes of metadata. */
void anr_dbg_init(struct anr_heap *h, const struct anr_options *o, char *meta);
void *anr_dbg_allocate(struct anr_heap *h, size_t size, size_t align, enum anr_kind kind,
                       bool may_ask, const void *ra);
void anr_dbg_free(struct anr_heap *h, void *ptr);
void *anr_dbg_realloc(struct anr_heap *h, void *ptr, size_t size, const void *ra);
size_t anr_dbg_usable(struct anr_heap *h, const void *ptr);
/* verify's part (lock held): 0 or -EFAULT with a description. */
int anr_dbg_verify_locked(struct anr_heap *h, char *buf, size_t len);
/* Damage to the guards of live block hd: 0, or 1 (before) | 2 (after). */
unsigned anr_dbg_guard_damage(const struct anr_heap *h, const struct anr_dbg_hdr *hd);
static inline char *anr_dbg_user(const struct anr_heap *h, const struct anr_dbg_hdr *hd)
{
    return (char *)hd + h->d.hdr_bytes + h->d.guard_bytes;
}

/* Frees live block hd (lock held): guard check, trash, the core's free. */
void anr_dbg_free_live_locked(struct anr_heap *h, struct anr_dbg_hdr *hd);
/* The live (not quarantined) block whose user pointer is p, or NULL (lock
 * held). */
struct anr_dbg_hdr *anr_dbg_live_hdr(const struct anr_heap *h, const void *p);

/* stack.c: up to max return addresses, the first being ra (the caller of
 * the public function), without allocating. Returns how many. */
unsigned anr_stack_capture(uintptr_t *out, unsigned max, const void *ra);

/* report.c: reports without stdio or malloc. */
struct anr_wr {
    int fd;      /* -1: only collect (anr_wr_line) */
    int err;     /* first write error (-errno) */
    size_t n;
    char buf[512];
};
void anr_wr_init(struct anr_wr *w, int fd);
void anr_wr_str(struct anr_wr *w, const char *s);
void anr_wr_u64(struct anr_wr *w, uint64_t v);
void anr_wr_hex(struct anr_wr *w, uint64_t v);
void anr_wr_flush(struct anr_wr *w);
/* Sends one debug report line (built with fd -1) to the report callback or
 * report_fd. */
void anr_dbg_send(struct anr_heap *h, struct anr_wr *w);
/* Appends " allocated at 0x.. 0x.." for block hd (nothing without stack). */
void anr_wr_stack(struct anr_wr *w, const struct anr_dbg_hdr *hd);
/* report.c: which live blocks a site report groups. */
enum anr_grp { ANR_GRP_SINCE, ANR_GRP_UNMARKED };
/* Groups the live blocks chosen by (how, arg: the generation for SINCE, the
 * highest allocation number for UNMARKED) by site into h->d.sites, largest
 * first. Returns the number of sites; *blocks and *bytes get the totals.
 * Lock held. */
unsigned anr_dbg_group_sites(struct anr_heap *h, enum anr_grp how, uint64_t arg,
                             uint64_t *blocks, uint64_t *bytes);
/* Writes the sites grouped by anr_dbg_group_sites, each block listed. */
void anr_dbg_write_sites(struct anr_heap *h, struct anr_wr *w, unsigned m);

/* mark.c: in a fork child, forgets a collection another (now gone) thread
 * was running. Lock held. */
void anr_mark_fork_child(struct anr_heap *h);

/* ---- fork.c ------------------------------------------------------------- */

/* Adds h to the registry of live heaps and gives it its id. */
void anr_fork_register(struct anr_heap *h);
void anr_fork_unregister(struct anr_heap *h);
/* The registry's lock (taken before any heap's lock, never after), and
 * whether the heap at h with this id is still live (lock held). */
void anr_registry_lock(void);
void anr_registry_unlock(void);
bool anr_registry_has(const struct anr_heap *h, uint64_t id);

#endif
