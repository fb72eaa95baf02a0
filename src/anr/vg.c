/* vg.c: the valgrind client requests the heap makes while it runs (vg.h),
 * kept out of line so the allocation paths do not grow. */
#include "anr/vg.h"
#include "anr/heap_internal.h"

#include <string.h>

void anr_vg_quiet_begin(void)
{
    ANR_VG_QUIET_BEGIN();
}

void anr_vg_quiet_end(void)
{
    ANR_VG_QUIET_END();
}

void anr_vg_alloc(struct anr_heap *h, void *p, size_t n)
{
    ANR_VG_ALLOC(h, p, n);
    /* A thread cache's free reads a small block's second word (its key
     * check) before it knows what the block is: to memcheck that word is
     * initialised from the start. */
    if (h->tc_max_size != 0 && n <= h->tc_max_size)
        ANR_VG_DEFINED((char *)p + sizeof(void *), sizeof(void *));
}

void anr_vg_free(struct anr_heap *h, void *p)
{
    ANR_VG_FREE(h, p);
}

void anr_vg_retire_list(struct anr_heap *h, void *list)
{
    while (list != NULL) {
        void *next;
        memcpy(&next, list, sizeof next);
        if (anr_core_usable_locked(h, list) != 0)
            ANR_VG_FREE(h, list);
        list = next;
    }
}

void anr_vg_resize(struct anr_heap *h, void *p, size_t old, size_t n)
{
    ANR_VG_RESIZE(h, p, old, n);
}
