/* inspect.c: what a program can ask the allocator: glibc's mallinfo,
 * mallinfo2, malloc_trim, mallopt, malloc_stats, malloc_info, and
 * gmalloc's own gmalloc_* functions (include/anr/gmalloc.h). docs/gmalloc.md
 * maps glibc's fields to anr's figures.
 */
#include "gmalloc/gm_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#define GM_EXPORT __attribute__((visibility("default")))

GM_EXPORT int gmalloc_stats(struct gmalloc_stats *out)
{
    memset(out, 0, sizeof *out);
    anr_heap *h = gm_heap_get();
    if (h == NULL)
        return -ENODEV;
    anr_heap_get_stats(h, &out->heap);
    out->foreign_frees = atomic_load(&gm_count.foreign_frees);
    out->foreign_reallocs = atomic_load(&gm_count.foreign_reallocs);
    out->oom_failures = atomic_load(&gm_count.oom_failures);
    out->config_rejected = atomic_load(&gm_count.config_rejected);
    gm_boot_usage(&out->bootstrap_blocks, &out->bootstrap_bytes);
    gm_broker_stats(out);
    return 0;
}

GM_EXPORT int gmalloc_settings(struct gmalloc_settings *out)
{
    if (gm_heap_get() == NULL) {
        memset(out, 0, sizeof *out);
        return -ENODEV;
    }
    *out = gm_set;
    return 0;
}

GM_EXPORT int gmalloc_report(int fd)
{
    if (gm_heap_get() == NULL)
        return -ENODEV;
    return gm_report_write(fd, "on request", false);
}

GM_EXPORT uint64_t gmalloc_trim(void)
{
    anr_heap *h = gm_heap_get();
    if (h == NULL)
        return 0;
    uint64_t bytes = anr_heap_trim(h);
    gm_broker_return_surplus();
    return bytes;
}

GM_EXPORT bool gmalloc_owns(const void *ptr)
{
    anr_heap *h = gm_heap_get();
    return h != NULL && anr_heap_owns(h, ptr);
}

static struct anr_stats heap_stats(void)
{
    struct anr_stats s;
    memset(&s, 0, sizeof s);
    anr_heap *h = gm_heap_get();
    if (h != NULL)
        anr_heap_get_stats(h, &s);
    return s;
}

GM_EXPORT struct mallinfo2 mallinfo2(void)
{
    struct anr_stats s = heap_stats();
    struct mallinfo2 mi;
    memset(&mi, 0, sizeof mi);
    mi.arena = (size_t)s.resident_bytes;
    mi.smblks = (size_t)s.thread_cached_blocks;
    mi.usmblks = (size_t)s.peak_resident_bytes;
    mi.fsmblks = (size_t)s.thread_cached_bytes;
    mi.uordblks = (size_t)s.in_use_bytes;
    mi.fordblks = (size_t)(s.resident_bytes > s.in_use_bytes ? s.resident_bytes - s.in_use_bytes : 0);
    mi.keepcost = (size_t)s.reclaimable_bytes;
    return mi;
}

static int clamp_int(size_t v)
{
    return v > (size_t)INT_MAX ? INT_MAX : (int)v;
}

GM_EXPORT struct mallinfo mallinfo(void)
{
    struct mallinfo2 m2 = mallinfo2();
    struct mallinfo mi;
    memset(&mi, 0, sizeof mi);
    mi.arena = clamp_int(m2.arena);
    mi.smblks = clamp_int(m2.smblks);
    mi.usmblks = clamp_int(m2.usmblks);
    mi.fsmblks = clamp_int(m2.fsmblks);
    mi.uordblks = clamp_int(m2.uordblks);
    mi.fordblks = clamp_int(m2.fordblks);
    mi.keepcost = clamp_int(m2.keepcost);
    return mi;
}

/* glibc: 1 when memory was given back. pad is ignored (anr keeps no top). */
GM_EXPORT int malloc_trim(size_t pad)
{
    (void)pad;
    return gmalloc_trim() > 0 ? 1 : 0;
}

/* Accepted and ignored: glibc's tunables (arenas, mmap and trim
 * thresholds, top pad, perturb) have no meaning for anr; gmalloc is set up
 * by its configuration. Returns 1 (success) as glibc does. */
GM_EXPORT int mallopt(int param, int value)
{
    (void)param;
    (void)value;
    return 1;
}

GM_EXPORT void malloc_stats(void)
{
    gm_report_write(2, "malloc_stats", false);
}

GM_EXPORT int malloc_info(int options, FILE *fp)
{
    if (options != 0) {
        errno = EINVAL;
        return -1;
    }
    struct anr_stats s = heap_stats();
    fprintf(fp,
            "<malloc version=\"gmalloc-1\">\n"
            "<heap nr=\"0\">\n"
            "<total type=\"in_use\" count=\"%" PRIu64 "\" size=\"%" PRIu64 "\"/>\n"
            "<total type=\"thread_cache\" count=\"%" PRIu64 "\" size=\"%" PRIu64 "\"/>\n"
            "<total type=\"reclaimable\" size=\"%" PRIu64 "\"/>\n"
            "<system type=\"current\" size=\"%" PRIu64 "\"/>\n"
            "<system type=\"max\" size=\"%" PRIu64 "\"/>\n"
            "<system type=\"budget\" size=\"%" PRIu64 "\"/>\n"
            "<system type=\"hard_limit\" size=\"%" PRIu64 "\"/>\n"
            "<aspace type=\"total\" size=\"%" PRIu64 "\"/>\n"
            "</heap>\n"
            "<total type=\"mmap\" count=\"0\" size=\"0\"/>\n"
            "<system type=\"current\" size=\"%" PRIu64 "\"/>\n"
            "<system type=\"max\" size=\"%" PRIu64 "\"/>\n"
            "<aspace type=\"total\" size=\"%" PRIu64 "\"/>\n"
            "</malloc>\n",
            s.live_blocks, s.in_use_bytes, s.thread_cached_blocks, s.thread_cached_bytes,
            s.reclaimable_bytes, s.resident_bytes, s.peak_resident_bytes, s.budget_bytes,
            s.hard_limit_bytes, s.map_bytes, s.resident_bytes, s.peak_resident_bytes,
            s.map_bytes);
    return 0;
}

GM_EXPORT int gmalloc_verify(char *buf, size_t len)
{
    anr_heap *h = gm_heap_get();
    if (h == NULL)
        return -ENODEV;
    return anr_heap_verify(h, buf, len);
}
