/* anr_malloc.c: the process default heap over the handle-based core. */
#include "anr/heap_internal.h"

#include <errno.h>
#include <string.h>

static _Atomic(anr_heap *) default_heap;

int anr_malloc_init(const struct anr_options *opts)
{
    if (atomic_load(&default_heap) != NULL)
        return -EALREADY;
    anr_heap *h;
    int rc = anr_heap_create(opts, &h);
    if (rc != 0)
        return rc;
    anr_heap *expected = NULL;
    if (!atomic_compare_exchange_strong(&default_heap, &expected, h)) {
        anr_heap_destroy(h);
        return -EALREADY;
    }
    return 0;
}

void anr_malloc_destroy(void)
{
    anr_heap_destroy(atomic_exchange(&default_heap, NULL));
}

anr_heap *anr_malloc_default_heap(void)
{
    return atomic_load_explicit(&default_heap, memory_order_acquire);
}

/* The default heap, or NULL with errno ENOMEM (nothing to allocate from). */
static anr_heap *heap_or_enomem(void)
{
    anr_heap *h = anr_malloc_default_heap();
    if (h == NULL)
        errno = ENOMEM;
    return h;
}

void *anr_malloc(size_t size)
{
    anr_heap *h = heap_or_enomem();
    return h ? anr_heap_malloc(h, size) : NULL;
}

void *anr_calloc(size_t n, size_t size)
{
    anr_heap *h = heap_or_enomem();
    return h ? anr_heap_calloc(h, n, size) : NULL;
}

void *anr_realloc(void *ptr, size_t size)
{
    anr_heap *h = heap_or_enomem();
    return h ? anr_heap_realloc(h, ptr, size) : NULL;
}

void anr_free(void *ptr)
{
    anr_heap_free(anr_malloc_default_heap(), ptr);
}

void *anr_memalign(size_t alignment, size_t size)
{
    anr_heap *h = heap_or_enomem();
    return h ? anr_heap_memalign(h, alignment, size) : NULL;
}

size_t anr_malloc_usable_size(const void *ptr)
{
    return anr_heap_usable_size(anr_malloc_default_heap(), ptr);
}

void *anr_malloc_if_possible(size_t size)
{
    anr_heap *h = heap_or_enomem();
    return h ? anr_heap_malloc_if_possible(h, size) : NULL;
}

void *anr_malloc_if_available(size_t size)
{
    anr_heap *h = heap_or_enomem();
    return h ? anr_heap_malloc_if_available(h, size) : NULL;
}

int anr_malloc_stats(struct anr_stats *stats)
{
    anr_heap *h = anr_malloc_default_heap();
    if (h == NULL) {
        memset(stats, 0, sizeof *stats);
        return -ENODEV;
    }
    anr_heap_get_stats(h, stats);
    return 0;
}

uint64_t anr_malloc_trim(void)
{
    anr_heap *h = anr_malloc_default_heap();
    return h ? anr_heap_trim(h) : 0;
}

int anr_malloc_expand(size_t bytes)
{
    anr_heap *h = anr_malloc_default_heap();
    return h ? anr_heap_expand(h, bytes) : -ENODEV;
}

uint64_t anr_malloc_shrink(size_t bytes)
{
    anr_heap *h = anr_malloc_default_heap();
    return h ? anr_heap_shrink(h, bytes) : 0;
}

int anr_malloc_verify(char *buf, size_t len)
{
    anr_heap *h = anr_malloc_default_heap();
    return h ? anr_heap_verify(h, buf, len) : -ENODEV;
}
