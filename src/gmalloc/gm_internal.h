/* gm_internal.h: what the files of libgmalloc share.
 *
 *   settings.c   the configuration: keys, defaults, file and environment,
 *                checks, and the anr_options they give (heap-free)
 *   init.c       start-up from whatever call comes first, the one heap
 *   bootstrap.c  a static area serving calls made during start-up
 *   foreign.c    realloc of blocks gmalloc does not own (safe copy)
 *   report.c     the text report, the out-of-memory path, the dump signal
 *   api.c        the C library's allocation functions
 *   broker.c     membroker quota (USE_MEMBROKER), over anr_membroker.h
 *   inspect.c    mallinfo, malloc_stats, malloc_info, gmalloc_* (gmalloc.h)
 */
#ifndef GMALLOC_GM_INTERNAL_H
#define GMALLOC_GM_INTERNAL_H

#include "anr/gmalloc.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- settings.c --------------------------------------------------------- */

/* Reads the configuration (GMALLOC_CFG or /etc/gmalloc.cfg, then the
 * GMALLOC_* environment in envp, plus USE_MEMBROKER and MEMORY_DEBUG) into
 * *out. On any error *out holds the built-in defaults and msg (cap bytes)
 * holds one line for standard error; returns -errno. Returns 0 otherwise
 * (msg ""). Calls no allocator, stdio or locale function. */
int gm_settings_load(char *const *envp, struct gmalloc_settings *out, char *msg, size_t cap);
/* The built-in defaults. */
void gm_settings_defaults(struct gmalloc_settings *out);
/* The anr options for these settings (slab list points into s). */
void gm_settings_options(const struct gmalloc_settings *s, struct anr_options *opts);

/* ---- init.c ------------------------------------------------------------- */

/* The heap once started; NULL before. */
extern _Atomic(anr_heap *) gm_heap;
/* Its arena, [gm_arena_lo, gm_arena_lo + gm_arena_len): pointers outside it
 * (and outside the bootstrap area) are foreign. */
extern uintptr_t gm_arena_lo;
extern size_t gm_arena_len;
extern struct gmalloc_settings gm_set;

struct gm_counters {
    _Atomic(uint64_t) foreign_frees, foreign_reallocs, oom_failures;
    _Atomic(bool) config_rejected;
};
extern struct gm_counters gm_count;

/* Starts gmalloc if needed. Returns the heap, or NULL when the caller must
 * use the bootstrap area (this thread is starting gmalloc) or fail with
 * ENOMEM (gmalloc could not start): see gm_starting(). */
anr_heap *gm_start(void);
/* Whether this thread is inside gmalloc's start-up. */
bool gm_starting(void);

static inline anr_heap *gm_heap_get(void)
{
    anr_heap *h = atomic_load_explicit(&gm_heap, memory_order_acquire);
    return __builtin_expect(h != NULL, 1) ? h : gm_start();
}

static inline bool gm_in_arena(const void *p)
{
    return (uintptr_t)p - gm_arena_lo < gm_arena_len;
}

/* ---- bootstrap.c -------------------------------------------------------- */

/* A block of size bytes aligned to align (a power of two, at most 4096)
 * from the static area; NULL with ENOMEM when it is used up. */
void *gm_boot_alloc(size_t size, size_t align);
bool gm_boot_owns(const void *p);
/* The size a bootstrap block was asked with. */
size_t gm_boot_size(const void *p);
void gm_boot_usage(uint64_t *blocks, uint64_t *bytes);

/* ---- foreign.c ---------------------------------------------------------- */

/* Copies up to n bytes from src (a block gmalloc does not own) to dst,
 * stopping where src stops being readable. Returns the bytes copied. */
size_t gm_foreign_copy(void *dst, const void *src, size_t n);

/* ---- report.c ----------------------------------------------------------- */

/* Writes the report to fd: a title line, the settings, the statistics
 * (locked snapshot unless lockfree, which reads the counters racily but
 * never blocks: for the signal handler). */
int gm_report_write(int fd, const char *title, bool lockfree);
/* An allocation of size bytes failed with ENOMEM: counts it, writes the
 * report when DUMP_DEBUG_ON_OOM / SVC_ERR_ON_OOM ask for it, and aborts
 * with SVC_ERR_ON_OOM. caller is the return address of the malloc call. */
void gm_oom(size_t size, const void *caller);
/* Installs the DUMP_SIGNAL handler (when configured). */
void gm_report_install_signal(void);
/* Writes msg with write(2) to standard error, retrying short writes. */
void gm_write_all(int fd, const char *msg, size_t len);

/* ---- broker.c ----------------------------------------------------------- */

/* Set once the broker client runs: free then checks for surplus quota. */
extern bool gm_broker_on;
/* Adds the need-more-memory callback to the heap's options (USE_MEMBROKER
 * without NO_AUTOREQUEST_MEMORY). */
void gm_broker_prepare(struct anr_options *opts);
/* After the heap exists: connects and reserves POOL_SIZE. */
void gm_broker_start(void);
/* Lowers the budget and RETURNs quota when the unused part is large
 * (hysteresis); never waits for another thread talking to the broker. */
void gm_broker_return_surplus(void);
void gm_broker_stats(struct gmalloc_stats *out);

#endif
