/* anr_malloc.h: the ANR allocator's public API.
 *
 * An anr heap serves blocks from one address-space reservation made when the
 * heap is created and never changed afterwards: after creation no call of
 * this API makes an mmap, munmap, mremap, mprotect or brk system call
 * (destroying a heap unmaps it; the opt-in debug socket helper,
 * anr_debug_server_start, is outside this promise). Memory the heap no
 * longer needs goes back to the kernel with madvise. The heap keeps the
 * pages the kernel must back (its "resident" pages: pages holding blocks
 * plus free pages not yet given back)
 * within a budget; an allocation that would pass the budget first gives back
 * free pages, then asks the need-more-memory callback, which may raise the
 * budget (for example after asking the memory broker).
 *
 * Two faces over the same engine:
 *   - handle-based (anr_heap_*): any number of independent heaps;
 *   - the process default heap (anr_malloc_init, anr_malloc, anr_free, ...).
 *
 * Every returned block is aligned to at least 16 bytes (more with
 * anr_memalign). Functions that return a block set errno on failure exactly
 * as malloc does: ENOMEM when the request cannot be met (too large, budget
 * refused, address space full, size arithmetic overflows), EINVAL for a bad
 * alignment. No error state outlives the call that met it.
 *
 * Blocking: calls that take the heap's lock (all but anr_heap_free /
 * anr_free) may wait for another thread holding it. Free never waits: when
 * the lock is taken the block is queued on a lock-free list that the next
 * holder of the lock drains. An allocation that calls the need-more-memory
 * callback blocks for as long as the callback does; the heap's lock is NOT
 * held while the callback runs, so the callback may call anr_heap_expand()
 * or even allocate from the same heap. With thread caches on, most small
 * mallocs and frees take no lock at all; a thread that exits takes the lock
 * of each heap it cached to give its blocks back.
 */
#ifndef ANR_ANR_MALLOC_H
#define ANR_ANR_MALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ANR_API __attribute__((visibility("default")))
#else
#define ANR_API
#endif

/* The opaque heap handle. */
typedef struct anr_heap anr_heap;

/* What the need-more-memory callback tells the allocation that called it. */
enum anr_need_result {
    ANR_NEED_GIVE_UP = 0, /* fail the allocation with ENOMEM now */
    ANR_NEED_RETRY = 1,   /* try again (the callback usually raised the budget) */
};

/* Called (without the heap's lock held) when an allocation needs
 * `bytes_needed` more bytes of budget than the heap has, after the heap gave
 * back every free page it could. `attempt` counts 1, 2, ... within one
 * allocation; after options.max_attempts calls the allocation fails even if
 * the callback keeps answering ANR_NEED_RETRY. */
typedef enum anr_need_result (*anr_need_memory_fn)(anr_heap *heap, size_t bytes_needed,
                                                   unsigned attempt, void *user_data);

/* Heap options. Fill with anr_options_init() and change what you need;
 * the defaults follow the original gmalloc.cfg. Byte sizes are rounded up to
 * whole pages. */
struct anr_options {
    /* Initial budget: bytes of resident pages the heap may use (POOL_SIZE).
     * Default 2 MiB. */
    size_t pool_size;
    /* Address space reserved for blocks (MAP_SIZE). 0 means twice pool_size.
     * Fragmentation costs address space, not RAM: reserve generously. */
    size_t map_size;
    /* The budget can never be raised above this. 0 means map_size. */
    size_t hard_limit;
    /* Free pages kept resident before the heap gives pages back
     * (PAGE_CEILING, high watermark). Default 128 pages. */
    size_t page_ceiling;
    /* Give back down to this many free resident pages once the ceiling is
     * passed (low watermark). Default page_ceiling / 2. */
    size_t page_floor;
    /* Most pages one automatic give-back may return (bounds the work a free
     * can do). Default 256. anr_heap_trim() is not bounded. */
    size_t reclaim_batch;
    /* Most need-more-memory callback calls per allocation. Default 8;
     * at most 1000. */
    unsigned max_attempts;
    /* Give pages back with MADV_FREE instead of MADV_DONTNEED. Default false
     * (DONTNEED returns memory at once; FREE lets the kernel take it lazily). */
    bool use_madv_free;
    /* Slab size classes (SLAB_SIZES): ascending multiples of 16, each from 16
     * to 32768, at most 64 of them. NULL uses the built-in set (16..128 in
     * steps of 16, then 8 classes per doubling up to 3072: internal waste
     * under 12.5% beyond the rounding to 16 bytes). Larger requests go to the
     * boundary-tagged chunk allocator. */
    const uint32_t *slab_sizes;
    size_t slab_size_count;
    /* The need-more-memory callback; NULL means "never more than the budget". */
    anr_need_memory_fn need_memory;
    void *user_data;
    /* Per-thread caches of small blocks. Each thread that uses the heap keeps,
     * per slab class, a short stack of free blocks: malloc and free of small
     * sizes then mostly run without the heap's lock (several times faster,
     * and threads stop contending). The price: up to thread_cache_bytes of
     * free memory per thread stays in its cache (it counts as resident and
     * as free, see anr_stats.thread_cached_bytes) until the thread exits or
     * memory is asked back (trim, shrink, an allocation short of budget),
     * and a free of a pointer inside a slab that is not a live block is
     * detected late (when the cache is emptied) instead of at once. Default
     * false: strict real-time users keep every operation's cost bounded by
     * the lock and exact misuse detection; gmalloc turns it on. */
    bool thread_cache;
    /* Most bytes of free blocks one thread's cache of this heap holds: half
     * for the slab classes, half for blocks above them up to 16 KiB (made
     * at a class size, up to 1/4 above the request, when cached), shared
     * from the smallest class up (docs/anr.md). Default 512 KiB. */
    size_t thread_cache_bytes;
    /* Most threads with a cache of this heap at once (each cache takes about
     * 2 KiB of the reservation's metadata, touched only when used); further
     * threads run uncached. Default 64, from 1 to 4096. */
    unsigned thread_cache_threads;

    /* ---- Debugging (all off by default; docs/anr.md "Debugging") ---------
     * Any of guard_words, fill_with_trash, stack_depth,
     * flight_recorder_entries or client_debug_bytes switches the heap to debug mode: every block
     * gets a header in front (size, allocation number, generation, stack)
     * and its guards, live blocks are kept on a list, usable_size is exactly
     * the size asked for, realloc always moves, and the thread caches are
     * not used; statistics count the headers and guards as in use. All of it
     * is stored in the reservation made at creation: still no mmap-family
     * call afterwards. */
    /* EXTRA_DEBUG_WORDS: machine words of ANR_GUARD_BYTE written before and
     * after each block (rounded up to 8 bytes a side), checked on free, on
     * realloc and by anr_heap_verify. A damaged guard is reported once
     * (block address, size, which side) and counted in stats.guard_faults;
     * the block is kept out of use for good (it stays allocated and verify
     * keeps failing while it exists). Default 0, at most 64. */
    unsigned guard_words;
    /* FILL_WITH_TRASH: new blocks (not calloc's) are filled with
     * ANR_TRASH_ALLOC bytes and freed blocks with ANR_TRASH_FREE bytes.
     * Default false. */
    bool fill_with_trash;
    /* MEMORY_DEBUG: return addresses captured per allocation (without
     * allocating), shown by the leak report and the dump. Default 0, at most
     * 32. */
    unsigned stack_depth;
    /* Operations kept in the flight recorder ring (op, pointer, size,
     * thread, time), shown by anr_heap_dump. Default 0 (off), at most 2^20. */
    unsigned flight_recorder_entries;
    /* Bytes of a per-block area for the client's own debug data, zeroed at
     * allocation, moved by realloc, 16-byte aligned, reached with
     * anr_heap_debug_area(). Default 0, at most 256. Switches debug mode on
     * by itself too. */
    unsigned client_debug_bytes;
    /* Where debug reports go (guard faults, double and invalid frees in
     * debug mode): report(heap, line, report_user) when set, else one
     * write(2) of the line to report_fd (default 2; -1 = nowhere). Lines end
     * with '\n'. The callback runs with the heap's lock held: it may call
     * anr_heap_dump() on the heap, nothing else of it. */
    void (*report)(anr_heap *heap, const char *line, void *report_user);
    void *report_user;
    int report_fd;
};

/* The fill bytes of fill_with_trash. */
#define ANR_TRASH_ALLOC 0xA5u /* new, not yet written memory */
#define ANR_TRASH_FREE 0xDEu  /* freed memory */
/* The byte every guard word is made of. */
#define ANR_GUARD_BYTE 0xFDu

/* Heap statistics, a consistent snapshot taken under the heap's lock. */
struct anr_stats {
    uint64_t page_size;
    uint64_t map_bytes;         /* address space for blocks */
    uint64_t metadata_bytes;    /* address space of the heap's own tables */
    uint64_t budget_bytes;      /* "total": the current budget */
    uint64_t hard_limit_bytes;
    uint64_t in_use_bytes;      /* usable bytes of live blocks */
    uint64_t live_blocks;
    uint64_t resident_bytes;    /* pages counted against the budget */
    uint64_t reclaimable_bytes; /* free pages still resident (dirty) */
    uint64_t peak_in_use_bytes;
    uint64_t peak_resident_bytes;
    uint64_t mallocs;   /* successful malloc-family calls (incl. if_possible, if_available) */
    uint64_t callocs;
    uint64_t reallocs;
    uint64_t memaligns;
    uint64_t frees;     /* blocks freed (NULL frees not counted) */
    uint64_t failures;  /* allocation calls that failed */
    uint64_t callback_calls;
    uint64_t deferred_frees; /* frees queued because the lock was taken */
    uint64_t invalid_frees;  /* pointers freed that were not live blocks of this heap */
    uint64_t madvise_calls;
    uint64_t pages_returned;
    /* Free blocks held in the threads' caches (part of resident_bytes, not of
     * in_use_bytes). Exact while the threads owning caches are idle. */
    uint64_t thread_cached_bytes;
    uint64_t thread_cached_blocks;
    /* Debugging: blocks found with a damaged guard (each counted once). */
    uint64_t guard_faults;
};

/* Fills *opts with the documented defaults. Never blocks. */
ANR_API void anr_options_init(struct anr_options *opts);

/* Creates a heap: reserves its address space and tables (the only mmap calls
 * the heap ever makes). opts NULL means all defaults. Returns 0 and stores
 * the handle, -EINVAL for inconsistent options (bad slab list, sizes too
 * small, pool larger than hard limit), -ENOMEM when the reservation fails. */
ANR_API int anr_heap_create(const struct anr_options *opts, anr_heap **out);

/* Unmaps the heap and every block in it. NULL is ignored. No other thread
 * may use the heap during or after this call (threads may still hold caches
 * of it: they are forgotten, not flushed, when those threads exit). */
ANR_API void anr_heap_destroy(anr_heap *heap);

/* malloc: NULL and errno ENOMEM on failure. size 0 returns a unique
 * minimum-size block. May call the need-more-memory callback. */
ANR_API void *anr_heap_malloc(anr_heap *heap, size_t size);
/* calloc: zeroed memory; ENOMEM when n * size overflows. */
ANR_API void *anr_heap_calloc(anr_heap *heap, size_t n, size_t size);
/* realloc: keeps min(old, new) bytes; on failure returns NULL, sets ENOMEM
 * and leaves ptr untouched. ptr NULL acts as malloc; size 0 with a non-NULL
 * ptr frees ptr and returns NULL (errno unchanged), as glibc does. */
ANR_API void *anr_heap_realloc(anr_heap *heap, void *ptr, size_t size);
/* free: NULL is ignored; a pointer that is not a live block of this heap is
 * ignored and counted in stats.invalid_frees. Never blocks, except in debug
 * mode (below), where free takes the heap's lock. */
ANR_API void anr_heap_free(anr_heap *heap, void *ptr);
/* memalign: alignment must be a power of two (EINVAL otherwise). */
ANR_API void *anr_heap_memalign(anr_heap *heap, size_t alignment, size_t size);
/* Bytes usable in the block (>= the size asked for; exactly the size asked
 * for in debug mode); 0 for NULL or a pointer that is not a live block of
 * this heap. */
ANR_API size_t anr_heap_usable_size(anr_heap *heap, const void *ptr);
/* true when ptr lies inside a page of this heap that holds blocks (O(1);
 * does not check that ptr is the start of a live block). */
ANR_API bool anr_heap_owns(anr_heap *heap, const void *ptr);

/* Like malloc; may call the need-more-memory callback; never triggers any
 * out-of-memory handling beyond returning NULL with ENOMEM. */
ANR_API void *anr_heap_malloc_if_possible(anr_heap *heap, size_t size);
/* Uses only memory available within the current budget (it may give free
 * pages back to make room) and never calls the callback: fails fast. */
ANR_API void *anr_heap_malloc_if_available(anr_heap *heap, size_t size);

/* Fills *stats. Takes the lock (drains queued frees first). */
ANR_API void anr_heap_get_stats(anr_heap *heap, struct anr_stats *stats);
/* Gives every free page (and the spare empty slabs) back to the kernel,
 * after emptying the calling thread's cache; the other threads empty theirs
 * at their next locked call. Returns the bytes given back. Work grows with
 * the heap's size. */
ANR_API uint64_t anr_heap_trim(anr_heap *heap);
/* Raises the budget by `bytes` (rounded up to pages). Returns 0, or -ENOSPC
 * (budget unchanged) when the result would pass the hard limit. */
ANR_API int anr_heap_expand(anr_heap *heap, size_t bytes);
/* Lowers the budget by up to `bytes` (rounded down to pages), giving free
 * pages back so the budget stays >= the resident pages. Returns the bytes by
 * which the budget actually went down (may be less than asked, or 0). */
ANR_API uint64_t anr_heap_shrink(anr_heap *heap, size_t bytes);
/* Full consistency check of the heap (blocks, free lists, bins, page map,
 * slabs, counters). Returns 0, or -EFAULT and writes a one-line description
 * of the first fault found into buf (NUL-terminated when len > 0). Work grows
 * with the heap's size; takes the lock. */
ANR_API int anr_heap_verify(anr_heap *heap, char *buf, size_t len);

/* ---- Debugging ----------------------------------------------------------
 * Reports are written with write(2) into a fixed buffer on the stack: no
 * stdio, no malloc, no mmap. */

/* Operations in the flight recorder. */
enum anr_op {
    ANR_OP_MALLOC = 1,   /* malloc, malloc_if_possible, malloc_if_available */
    ANR_OP_CALLOC = 2,
    ANR_OP_REALLOC = 3,  /* ptr: the new block, old_ptr: the one passed in */
    ANR_OP_MEMALIGN = 4,
    ANR_OP_FREE = 5,     /* also realloc's release of the old block */
    ANR_OP_BAD_FREE = 6, /* free of a pointer that is not a live block */
    ANR_OP_GUARD = 7,    /* a damaged guard found (ptr, size: the block) */
};

struct anr_flight_entry {
    uint64_t seq;     /* 1, 2, ... per heap, in order */
    uint64_t time_ns; /* CLOCK_MONOTONIC */
    uint64_t ptr;     /* the block (as an integer: 32-bit safe) */
    uint64_t old_ptr; /* realloc: the block passed in; else 0 */
    uint64_t size;    /* bytes asked for (free: the block's size) */
    uint32_t tid;     /* kernel thread id */
    uint32_t op;      /* enum anr_op */
};

/* Copies the newest min(max, recorded) flight recorder entries into out,
 * oldest first. Returns how many; 0 when the recorder is off. */
ANR_API size_t anr_heap_flight_recorder(anr_heap *heap, struct anr_flight_entry *out,
                                        size_t max);

/* One live block, as the walk and the leak report see it. */
struct anr_block_info {
    void *ptr;
    size_t size;          /* bytes asked for */
    uint64_t seq;         /* allocation number (1, 2, ... per heap) */
    uint64_t generation;  /* anr_heap_mark generation at allocation */
    unsigned depth;       /* return addresses in stack */
    const uintptr_t *stack; /* innermost (the allocating call) first */
};
typedef void (*anr_block_fn)(const struct anr_block_info *block, void *user);

/* Starts a new generation and returns its number (1, 2, ...): blocks
 * allocated from now on belong to it. -EOPNOTSUPP (as a negative value cast
 * to int64_t) when the heap is not in debug mode. */
ANR_API int64_t anr_heap_mark(anr_heap *heap);
/* Calls fn for every live block of generation >= since, oldest first, with
 * the heap's lock held (fn must not call this heap). Returns the number of
 * blocks, or -EOPNOTSUPP when the heap is not in debug mode. */
ANR_API int64_t anr_heap_walk_live(anr_heap *heap, uint64_t since, anr_block_fn fn, void *user);
/* Leak report: the live blocks allocated since the last anr_heap_mark (all
 * live blocks when none), grouped by allocation site (the captured stack),
 * largest site first, each block listed. Written to fd. Returns the number
 * of blocks listed, or -EOPNOTSUPP when the heap is not in debug mode. */
ANR_API int64_t anr_heap_report_leaks(anr_heap *heap, int fd);
/* Writes the heap's statistics, its largest allocation sites (debug mode)
 * and the flight recorder (when on) to fd. Usable when memory is exhausted
 * and from a signal handler: it never blocks on the heap's lock (when the
 * lock is taken it says so and skips what needs it), never allocates, and
 * uses only write(2). Returns 0 or -errno of a failed write. */
ANR_API int anr_heap_dump(anr_heap *heap, int fd);

/* The client's debug area of live block ptr (options.client_debug_bytes
 * bytes, *len set to that size), or NULL with *len 0 when the heap has no
 * such areas or ptr is not a live block of it. len may be NULL. Takes the
 * lock; the area stays valid until the block is freed. */
ANR_API void *anr_heap_debug_area(anr_heap *heap, const void *ptr, size_t *len);

/* ---- Mark and sweep (debug mode only; docs/anr.md "Mark and sweep") ------
 * Subsystems register markers; anr_heap_collect calls them, and each marks
 * the blocks it still reaches with anr_heap_mark_block. The live blocks left
 * unmarked are unreachable: the collection reports them grouped by
 * allocation site and frees them (ANR_SWEEP_FREE) or keeps them
 * (ANR_SWEEP_REPORT). The mark bit lives in the debug header: on a heap not
 * in debug mode every call here returns -EOPNOTSUPP. No call allocates or
 * maps memory; a collection's work grows with the live blocks. */
typedef void (*anr_marker_fn)(anr_heap *heap, void *user);

enum anr_sweep {
    ANR_SWEEP_FREE = 1,   /* free the unreachable blocks */
    ANR_SWEEP_REPORT = 2, /* only report them */
};

struct anr_collect_result {
    uint64_t markers;            /* marker callbacks called */
    uint64_t live_blocks;        /* live blocks when the sweep began */
    uint64_t marked_blocks;      /* blocks marked (each counted once) */
    uint64_t bad_marks;          /* anr_heap_mark_block calls on non-blocks */
    uint64_t spared_blocks;      /* allocated after the collection began: kept */
    uint64_t unreachable_blocks; /* unmarked (freed or reported) */
    uint64_t unreachable_bytes;  /* their sizes as asked for */
    uint64_t freed_blocks;       /* ANR_SWEEP_FREE: those freed (a block with a
                                  * damaged guard is quarantined instead) */
};

/* Adds a marker, called by every later collection (in registration order)
 * with the same user. 0, -ENOSPC when 32 are registered, -EINVAL for a NULL
 * mark, -EOPNOTSUPP. */
ANR_API int anr_heap_register_marker(anr_heap *heap, anr_marker_fn mark, void *user);
/* Removes the marker registered with this (mark, user). 0 or -ENOENT. */
ANR_API int anr_heap_unregister_marker(anr_heap *heap, anr_marker_fn mark,
                                       const void *user);
/* Marks the live block starting at ptr as reachable, during a collection
 * (normally from a marker). Returns 1 when newly marked, 0 when already
 * marked, -ENOENT (counted in bad_marks) when ptr is not a live block of the
 * heap, -EINVAL when no collection is running. Takes the lock. */
ANR_API int anr_heap_mark_block(anr_heap *heap, const void *ptr);
/* A collection: clears every mark, calls the markers (without the heap's
 * lock held: they may allocate and free; blocks allocated from then on are
 * spared), then sweeps. When report_fd >= 0 it writes a report there
 * ("anr: collection of heap 0x..: N blocks, B bytes unreachable, freed|kept,
 * S sites", then the sites and their blocks as the leak report shows them,
 * then "anr: end of collection report"). Fills *out when not NULL. Returns
 * the number of unreachable blocks, -errno of a failed report write (the
 * sweep is done), -EBUSY when a collection is already running, -EINVAL for
 * a bad mode, -EOPNOTSUPP. */
ANR_API int64_t anr_heap_collect(anr_heap *heap, enum anr_sweep mode, int report_fd,
                                 struct anr_collect_result *out);

/* ---- The debug socket --------------------------------------------------- */

/* Serves one debug connection: writes anr_heap_dump and then the leak
 * report (or "anr: no leak report: debug mode off") to fd, which stays
 * open. Takes the heap's lock for the report. 0, or -errno of a failed
 * write, -EINVAL for a NULL heap or a negative fd. */
ANR_API int anr_heap_debug_serve(anr_heap *heap, int fd);

/* Optional helper (debug_server.c), outside the real-time guarantee: it
 * creates a thread, a Unix stream socket listening at unix_path (an
 * existing socket file there is replaced) and allocates its state with the
 * C library's malloc. Every connection gets anr_heap_debug_serve and is
 * closed. Returns 0 and stores the server, or -errno (-ENAMETOOLONG for a
 * path that does not fit sun_path). */
struct anr_debug_server;
ANR_API int anr_debug_server_start(anr_heap *heap, const char *unix_path,
                                   struct anr_debug_server **out);
/* Stops the thread (waiting for a connection being served), closes and
 * unlinks the socket, frees the state. NULL is ignored. Call it before
 * anr_heap_destroy. */
ANR_API void anr_debug_server_stop(struct anr_debug_server *server);

/* ---- The process default heap ------------------------------------------- */

/* Creates the default heap. Returns 0, -EALREADY when it exists, or what
 * anr_heap_create returns. Until it is called, the allocation functions below
 * fail with ENOMEM. */
ANR_API int anr_malloc_init(const struct anr_options *opts);
/* Destroys the default heap (no thread may still use it). */
ANR_API void anr_malloc_destroy(void);
/* The default heap, or NULL before anr_malloc_init. */
ANR_API anr_heap *anr_malloc_default_heap(void);

ANR_API void *anr_malloc(size_t size);
ANR_API void *anr_calloc(size_t n, size_t size);
ANR_API void *anr_realloc(void *ptr, size_t size);
ANR_API void anr_free(void *ptr);
ANR_API void *anr_memalign(size_t alignment, size_t size);
ANR_API size_t anr_malloc_usable_size(const void *ptr);
ANR_API void *anr_malloc_if_possible(size_t size);
ANR_API void *anr_malloc_if_available(size_t size);
/* The anr_heap_* functions on the default heap. Before anr_malloc_init:
 * stats, expand and verify return -ENODEV (stats zeroed), trim and shrink
 * return 0, free and usable_size do nothing and return 0. */
ANR_API int anr_malloc_stats(struct anr_stats *stats);
ANR_API uint64_t anr_malloc_trim(void);
ANR_API int anr_malloc_expand(size_t bytes);
ANR_API uint64_t anr_malloc_shrink(size_t bytes);
ANR_API int anr_malloc_verify(char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* ANR_ANR_MALLOC_H */
