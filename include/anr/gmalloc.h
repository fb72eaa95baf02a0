/* gmalloc.h: inspection API of libgmalloc.so, the drop-in malloc.
 *
 * libgmalloc.so replaces the C library's allocator (malloc, free, calloc,
 * realloc, reallocarray, posix_memalign, aligned_alloc, memalign, valloc,
 * pvalloc, malloc_usable_size, free_sized, free_aligned_sized, mallinfo,
 * mallinfo2, malloc_trim, mallopt, malloc_stats, malloc_info) with the anr
 * allocator core: LD_PRELOAD it, or link it before the C library. Its
 * configuration and behaviour are described in docs/gmalloc.md and
 * gmalloc(3).
 *
 * The functions below let a program (or a test) see that its heap really is
 * gmalloc's and what it is doing. They never allocate and may be called from
 * any thread. A program that uses them must be linked with -lgmalloc; to
 * probe for gmalloc without linking it, look the names up with dlsym.
 */
#ifndef ANR_GMALLOC_H
#define ANR_GMALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "anr/anr_malloc.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define GMALLOC_API __attribute__((visibility("default")))
#else
#define GMALLOC_API
#endif

/* C23's sized frees (older C libraries do not declare them): gmalloc
 * provides both; the size and alignment are not checked. */
void free_sized(void *ptr, size_t size);
void free_aligned_sized(void *ptr, size_t alignment, size_t size);

/* What gmalloc counts on top of the heap's own statistics. */
struct gmalloc_stats {
    struct anr_stats heap;     /* anr_heap_get_stats of gmalloc's heap */
    uint64_t foreign_frees;    /* free()/realloc(p, 0) of pointers gmalloc does not own:
                                  ignored, never touched */
    uint64_t foreign_reallocs; /* realloc() of such pointers: copied into a new block */
    uint64_t bootstrap_blocks; /* blocks served from the static start-up area (calls
                                  made while gmalloc was initializing itself) */
    uint64_t bootstrap_bytes;  /* bytes of that area used */
    uint64_t oom_failures;     /* allocation calls that failed with ENOMEM */
    bool config_rejected;      /* the configuration was refused: defaults in use */
    /* USE_MEMBROKER */
    bool broker_active;          /* the broker client runs */
    bool broker_pool_backed;     /* POOL_SIZE was reserved from the broker at start */
    uint64_t broker_balance_bytes; /* quota held (libmbclient's count) */
    uint64_t broker_requests;    /* REQUESTs made while malloc waited */
    uint64_t broker_granted_bytes;  /* granted by them */
    uint64_t broker_returned_bytes; /* surplus given back */
    uint64_t broker_giveback_queries; /* BROKER_BIDIRECTIONAL: queries answered */
    uint64_t broker_giveback_bytes;   /* and the quota they gave back */
};

/* The settings in force after the configuration was read (docs/gmalloc.md
 * lists the keys; sizes are in bytes, rounded to pages). */
struct gmalloc_settings {
    uint64_t pool_size;    /* POOL_SIZE: the budget at start */
    uint64_t map_size;     /* MAP_SIZE: address space reserved (may be less than asked
                              when the reservation had to shrink, see map_reduced) */
    uint64_t hard_limit;   /* HARD_LIMIT: the budget never goes above this */
    uint64_t page_ceiling; /* PAGE_CEILING, in pages */
    uint32_t slab_sizes[64]; /* SLAB_SIZES as used (rounded to 16, sorted); count 0 = built-in */
    size_t slab_size_count;
    bool thread_cache;         /* THREAD_CACHE */
    uint64_t thread_cache_bytes;   /* THREAD_CACHE_BYTES */
    unsigned thread_cache_threads; /* THREAD_CACHE_THREADS */
    bool madv_free;            /* MADV_FREE */
    bool svc_err_on_oom;       /* SVC_ERR_ON_OOM */
    bool dump_debug_on_oom;    /* DUMP_DEBUG_ON_OOM */
    char dump_file[256];       /* DUMP_FILE ("" = standard error) */
    int dump_signal;           /* DUMP_SIGNAL (0 = off) */
    unsigned extra_debug_words; /* EXTRA_DEBUG_WORDS */
    bool fill_with_trash;      /* FILL_WITH_TRASH */
    bool memory_debug;         /* MEMORY_DEBUG */
    unsigned stack_depth;      /* STACK_DEPTH (used with MEMORY_DEBUG) */
    unsigned flight_recorder;  /* FLIGHT_RECORDER entries */
    bool use_membroker;        /* USE_MEMBROKER */
    bool expandable_pool_size; /* EXPANDABLE_POOL_SIZE */
    bool no_autorequest_memory; /* NO_AUTOREQUEST_MEMORY */
    bool broker_bidirectional; /* BROKER_BIDIRECTIONAL */
    bool map_size_set;         /* MAP_SIZE was configured (not the default) */
    bool map_reduced;          /* the reservation was smaller than configured */
    char source[128];          /* the file read, or "" when none was */
};

/* Fills *out. Returns 0, or -ENODEV (out zeroed) when gmalloc's heap does
 * not exist (gmalloc is not the process's allocator, or could not start). */
GMALLOC_API int gmalloc_stats(struct gmalloc_stats *out);

/* Fills *out with the settings in force. Returns 0 or -ENODEV. */
GMALLOC_API int gmalloc_settings(struct gmalloc_settings *out);

/* Writes the text report (settings and statistics, one "name value" per
 * line) to fd with write(2). Returns 0, -ENODEV, or -errno of write. */
GMALLOC_API int gmalloc_report(int fd);

/* Gives every free page back to the kernel. Returns the bytes given back. */
GMALLOC_API uint64_t gmalloc_trim(void);

/* true when ptr is inside a page of gmalloc's heap that holds blocks. */
GMALLOC_API bool gmalloc_owns(const void *ptr);

/* Full consistency check of the heap (anr_heap_verify). Returns 0, -ENODEV,
 * or -EFAULT with a one-line description of the first fault in buf. */
GMALLOC_API int gmalloc_verify(char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* ANR_GMALLOC_H */
