/* vg.h: valgrind (memcheck) client requests, compiled in when ANR_VALGRIND
 * is 1 (src/anr/CMakeLists.txt: on when valgrind/memcheck.h exists). Each
 * is a few no-op instructions when the program does not run under
 * valgrind; the heap asks once, at creation (valgrind running, and its tool
 * keeps memory pools: memcheck does, callgrind does not), and uses the
 * others only when the answer was yes.
 *
 * Under valgrind each heap is a memcheck memory pool: each block is
 * announced (MEMPOOL_ALLOC) when the core hands it out, with its usable
 * size, and retired (MEMPOOL_FREE) when it comes back, so memcheck reports
 * reads of uninitialised or freed memory and overruns past the usable size.
 * Blocks in a thread cache count as allocated (announced when the cache
 * takes them, retired when it gives them back). In debug mode the debug
 * layer announces instead, with the exact size asked for. The arena outside
 * blocks is no-access to the program. The core's own accesses to memory
 * memcheck considers freed (boundary tags, free lists) happen with the
 * heap's lock held, where error reporting is off for the thread (anr_lock,
 * and the wrappers vg_allocate and vg_free in heap.c).
 */
#ifndef ANR_VG_H
#define ANR_VG_H

#include <stdbool.h>
#include <stddef.h>

#if defined(ANR_VALGRIND) && ANR_VALGRIND
#include <valgrind/memcheck.h>
#define ANR_VG_RUNNING() (RUNNING_ON_VALGRIND != 0)
/* Each heap is a memcheck memory pool keyed by the heap's address: blocks
 * are pool chunks, and destroying the pool forgets them all at once. */
#define ANR_VG_POOL_CREATE(h, rz) VALGRIND_CREATE_MEMPOOL((h), (rz), 0)
#define ANR_VG_POOL_DESTROY(h) VALGRIND_DESTROY_MEMPOOL((h))
#define ANR_VG_POOL_EXISTS(h) (VALGRIND_MEMPOOL_EXISTS((h)) != 0)
#define ANR_VG_ALLOC(h, p, n) VALGRIND_MEMPOOL_ALLOC((h), (p), (n))
#define ANR_VG_FREE(h, p) VALGRIND_MEMPOOL_FREE((h), (p))
/* A block resized in place from `old` to `new` bytes. */
#define ANR_VG_RESIZE(h, p, old, new)                                                 \
    do {                                                                              \
        VALGRIND_MEMPOOL_CHANGE((h), (p), (p), (new));                                \
        if ((new) > (old))                                                            \
            VALGRIND_MAKE_MEM_UNDEFINED((char *)(p) + (old), (new) - (old));          \
        else                                                                          \
            VALGRIND_MAKE_MEM_NOACCESS((char *)(p) + (new), (old) - (new));           \
    } while (0)
#define ANR_VG_NOACCESS(p, n) VALGRIND_MAKE_MEM_NOACCESS((p), (n))
#define ANR_VG_DEFINED(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#define ANR_VG_QUIET_BEGIN() VALGRIND_DISABLE_ERROR_REPORTING
#define ANR_VG_QUIET_END() VALGRIND_ENABLE_ERROR_REPORTING
#else
#define ANR_VG_RUNNING() false
#define ANR_VG_POOL_CREATE(h, rz) ((void)(h), (void)(rz))
#define ANR_VG_POOL_DESTROY(h) ((void)(h))
#define ANR_VG_POOL_EXISTS(h) ((void)(h), false)
#define ANR_VG_ALLOC(h, p, n) ((void)(h), (void)(p), (void)(n))
#define ANR_VG_FREE(h, p) ((void)(h), (void)(p))
#define ANR_VG_RESIZE(h, p, old, new) ((void)(h), (void)(p), (void)(old), (void)(new))
#define ANR_VG_NOACCESS(p, n) ((void)(p), (void)(n))
#define ANR_VG_DEFINED(p, n) ((void)(p), (void)(n))
#define ANR_VG_QUIET_BEGIN() ((void)0)
#define ANR_VG_QUIET_END() ((void)0)
#endif

/* Out of line and cold (vg.c): the callers' fast code stays as it was. Call
 * only when the heap's vg (or vg_core) flag is set. */
struct anr_heap;
__attribute__((cold)) void anr_vg_quiet_begin(void);
__attribute__((cold)) void anr_vg_quiet_end(void);
__attribute__((cold)) void anr_vg_alloc(struct anr_heap *h, void *p, size_t n);
__attribute__((cold)) void anr_vg_free(struct anr_heap *h, void *p);
/* Retires the blocks of a deferred-free list (linked through word 0). */
__attribute__((cold)) void anr_vg_retire_list(struct anr_heap *h, void *list);
__attribute__((cold)) void anr_vg_resize(struct anr_heap *h, void *p, size_t old, size_t n);

#endif
