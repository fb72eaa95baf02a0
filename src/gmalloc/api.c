/* api.c: the C library's allocation functions over gmalloc's heap.
 *
 * Every function starts gmalloc if needed (gm_heap_get). While this thread
 * is starting it, allocations come from the bootstrap area. A pointer that
 * is neither in the heap's arena nor in that area is foreign (made before
 * gmalloc was loaded): free ignores and counts it, realloc copies it into a
 * new block (foreign.c) and leaves the old one alone. Failures set errno as
 * glibc's malloc does; ENOMEM failures go through gm_oom (the report and,
 * with SVC_ERR_ON_OOM, abort).
 *
 * malloc and free inline the core's thread-cache fast paths (anr/tcache.h):
 * a hit is a leaf function with no call and no errno traffic; everything
 * else goes through an out-of-line slow function.
 */
#include "gmalloc/gm_internal.h"

#include "anr/tcache.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GM_EXPORT __attribute__((visibility("default")))
#define CALLER __builtin_return_address(0)

/* glibc still exports cfree (no longer declared): the same as free. */
void cfree(void *ptr);

/* Without a heap: the bootstrap area during start-up, else ENOMEM. */
static void *no_heap(size_t size, size_t align)
{
    if (gm_starting())
        return gm_boot_alloc(size == 0 ? 1 : size, align);
    errno = ENOMEM;
    return NULL;
}

static void *failed(size_t size, const void *caller)
{
    if (errno == ENOMEM)
        gm_oom(size, caller);
    return NULL;
}

__attribute__((noinline)) static void *malloc_slow(anr_heap *h, size_t size, const void *caller)
{
    if (h == NULL && (h = gm_heap_get()) == NULL) /* starts gmalloc if needed */
        return no_heap(size, 16);
    void *p = anr_heap_malloc(h, size);
    return p != NULL ? p : failed(size, caller);
}

GM_EXPORT void *malloc(size_t size)
{
    anr_heap *h = atomic_load_explicit(&gm_heap, memory_order_acquire);
    if (__builtin_expect(h != NULL, 1)) {
        void *p = anr_tc_pop_in(h, size, false); /* gmalloc's heap lives for good */
        if (__builtin_expect(p != NULL, 1))
            return p;
    }
    return malloc_slow(h, size, CALLER);
}

static __thread unsigned tl_frees __attribute__((tls_model("initial-exec")));

/* A block of the arena that the thread cache did not take: the core's free,
 * which may call the kernel (madvise) and so must not change errno. With
 * the broker, every 64th of these frees in a thread checks for surplus
 * quota: only frees that reach the core free pages (a cache hit keeps the
 * block's memory in use), and a thread that only frees reaches it once
 * every half bin. */
__attribute__((noinline)) static void free_in_arena(anr_heap *h, void *ptr)
{
    int saved = errno;
    anr_heap_free(h, ptr);
    if (gm_broker_on && (++tl_frees & 63u) == 0)
        gm_broker_return_surplus();
    errno = saved;
}

/* NULL, a start-up block (never reused) or a foreign pointer (counted). */
__attribute__((noinline)) static void free_outside(void *ptr)
{
    if (ptr == NULL || gm_boot_owns(ptr))
        return;
    atomic_fetch_add_explicit(&gm_count.foreign_frees, 1, memory_order_relaxed);
}

GM_EXPORT void free(void *ptr)
{
    anr_heap *h = atomic_load_explicit(&gm_heap, memory_order_acquire);
    if (__builtin_expect(h != NULL, 1)) {
        /* The heap's arena is gmalloc's (gm_in_arena); NULL is outside it,
         * as the arena never starts at address 0. */
        size_t off = (size_t)((uintptr_t)ptr - (uintptr_t)h->arena);
        if (__builtin_expect(off < h->arena_bytes, 1)) {
            if (anr_tc_push_page(h, ptr, off >> h->page_shift, false))
                return;
            free_in_arena(h, ptr);
            return;
        }
    }
    free_outside(ptr);
}

GM_EXPORT void free_sized(void *ptr, size_t size)
{
    (void)size;
    free(ptr);
}

GM_EXPORT void free_aligned_sized(void *ptr, size_t alignment, size_t size)
{
    (void)alignment;
    (void)size;
    free(ptr);
}

GM_EXPORT void cfree(void *ptr)
{
    free(ptr);
}

GM_EXPORT void *calloc(size_t n, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes)) {
        errno = ENOMEM;
        return failed(SIZE_MAX, CALLER);
    }
    anr_heap *h = gm_heap_get();
    if (__builtin_expect(h == NULL, 0)) {
        void *b = no_heap(bytes, 16);
        if (b != NULL)
            memset(b, 0, bytes);
        return b;
    }
    void *p = anr_heap_calloc(h, n, size);
    return __builtin_expect(p != NULL, 1) ? p : failed(bytes, CALLER);
}

/* realloc of a block that is not in the heap: a start-up block (size
 * known) or a foreign one (size unknown: gm_foreign_copy). */
static void *realloc_outside(anr_heap *h, void *ptr, size_t size, const void *caller)
{
    bool boot = gm_boot_owns(ptr);
    if (size == 0) { /* glibc: realloc(p, 0) frees p */
        if (!boot)
            atomic_fetch_add_explicit(&gm_count.foreign_frees, 1, memory_order_relaxed);
        return NULL;
    }
    void *q = h != NULL ? anr_heap_malloc(h, size) : no_heap(size, 16);
    if (q == NULL)
        return failed(size, caller);
    if (boot) {
        size_t old = gm_boot_size(ptr);
        memcpy(q, ptr, old < size ? old : size);
    } else {
        gm_foreign_copy(q, ptr, size);
        atomic_fetch_add_explicit(&gm_count.foreign_reallocs, 1, memory_order_relaxed);
    }
    return q;
}

GM_EXPORT void *realloc(void *ptr, size_t size)
{
    anr_heap *h = gm_heap_get();
    if (ptr == NULL) {
        if (__builtin_expect(h == NULL, 0))
            return no_heap(size, 16);
        void *p = anr_heap_realloc(h, NULL, size);
        return p != NULL ? p : failed(size, CALLER);
    }
    if (h == NULL || !gm_in_arena(ptr))
        return realloc_outside(h, ptr, size, CALLER);
    void *p = anr_heap_realloc(h, ptr, size);
    if (p == NULL && size != 0)
        return failed(size, CALLER);
    return p;
}

GM_EXPORT void *reallocarray(void *ptr, size_t n, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes)) {
        errno = ENOMEM;
        return failed(SIZE_MAX, CALLER);
    }
    return realloc(ptr, bytes);
}

/* alignment: a power of two (checked by the callers). */
static void *aligned(size_t alignment, size_t size, const void *caller)
{
    anr_heap *h = gm_heap_get();
    if (__builtin_expect(h == NULL, 0))
        return no_heap(size, alignment);
    void *p = anr_heap_memalign(h, alignment, size);
    return p != NULL ? p : failed(size, caller);
}

static bool pow2(size_t v)
{
    return v != 0 && (v & (v - 1u)) == 0;
}

GM_EXPORT int posix_memalign(void **memptr, size_t alignment, size_t size)
{
    if (!pow2(alignment) || alignment % sizeof(void *) != 0)
        return EINVAL;
    int saved = errno;
    void *p = aligned(alignment, size, CALLER);
    int rc = p != NULL ? 0 : errno;
    errno = saved;
    if (p != NULL)
        *memptr = p;
    return rc;
}

GM_EXPORT void *aligned_alloc(size_t alignment, size_t size)
{
    if (!pow2(alignment)) {
        errno = EINVAL;
        return NULL;
    }
    return aligned(alignment, size, CALLER);
}

/* glibc's memalign: an alignment that is not a power of two is rounded up
 * to the next one; one that cannot be is EINVAL. */
GM_EXPORT void *memalign(size_t alignment, size_t size)
{
    if (alignment > SIZE_MAX / 2u + 1u) {
        errno = EINVAL;
        return NULL;
    }
    size_t a = 1;
    while (a < alignment)
        a <<= 1;
    return aligned(a, size, CALLER);
}

static size_t page(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    return ps > 0 ? (size_t)ps : 4096u;
}

GM_EXPORT void *valloc(size_t size)
{
    return aligned(page(), size, CALLER);
}

GM_EXPORT void *pvalloc(size_t size)
{
    size_t pg = page();
    if (size > SIZE_MAX - (pg - 1u)) {
        errno = ENOMEM;
        return failed(size, CALLER);
    }
    size_t rounded = (size + pg - 1u) & ~(pg - 1u);
    return aligned(pg, rounded == 0 ? pg : rounded, CALLER);
}

GM_EXPORT size_t malloc_usable_size(void *ptr)
{
    if (ptr == NULL)
        return 0;
    anr_heap *h = atomic_load_explicit(&gm_heap, memory_order_acquire);
    if (h != NULL && gm_in_arena(ptr))
        return anr_heap_usable_size(h, ptr);
    if (gm_boot_owns(ptr))
        return gm_boot_size(ptr);
    return 0; /* foreign: unknown */
}
