/* reclaim.c: the page budget and giving free pages back with madvise.
 *
 * Free chunks that may hold DIRTY pages are on a list, oldest first. Giving
 * back walks it from the head and discards each run of DIRTY pages with one
 * madvise call; the pages become CLEAN and stop counting as resident.
 *
 * Automatic give-back after frees follows two watermarks: when DIRTY pages
 * pass the ceiling, pages are given back until the floor is reached (the
 * hysteresis keeps a free/malloc cycle from discarding and refaulting the
 * same pages), at most batch pages per call so no free does unbounded work.
 * An allocation that would pass the budget gives back what it needs first.
 */
#include "anr/heap_internal.h"
#include "anr/os.h"

#include <errno.h>
#include <string.h>

/* Gives back the DIRTY pages [first, end) in one call. */
static bool discard_run(struct anr_heap *h, size_t first, size_t end)
{
    size_t bytes = (end - first) << h->page_shift;
    h->st.madvise_calls++;
    if (anr_os_discard(anr_page_addr(h, first), bytes, h->madv_free) != 0) {
        /* mlocked memory cannot be given back: keep the pages DIRTY and stop
         * this round rather than retrying the same call. */
        h->st.madvise_failures++;
        return false;
    }
    anr_pm_set(h, first, end, ANR_PG_CLEAN);
    h->st.pages_returned += end - first;
    return true;
}

uint64_t anr_reclaim(struct anr_heap *h, uint64_t want, uint64_t max, const char *excl_lo,
                     const char *excl_hi)
{
    uint64_t done = 0;
    uint64_t limit = want < max ? want : max;
    size_t ex_first = 0, ex_end = 0;
    if (excl_lo != NULL && excl_hi > excl_lo) {
        ex_first = anr_page_of(h, excl_lo);
        ex_end = (anr_page_of(h, excl_hi - 1) + 1u);
    }
    struct anr_chunk *c = h->dirty_head;
    while (c != NULL && done < limit) {
        struct anr_chunk *next = anr_links(c)->dirty_next;
        size_t first, end;
        bool left = false;
        anr_pm_interior(h, anr_chunk_addr(c), anr_chunk_addr(c) + anr_chunk_size(c), &first,
                        &end);
        size_t p = first;
        while (p < end && done < limit) {
            const uint8_t *hit = memchr(h->page_state + p, ANR_PG_DIRTY, end - p);
            if (hit == NULL) {
                p = end;
                break;
            }
            p = (size_t)(hit - h->page_state);
            if (p >= ex_first && p < ex_end) {
                left = true;
                p = ex_end;
                continue;
            }
            size_t q = p + 1;
            uint64_t room = limit - done;
            while (q < end && h->page_state[q] == ANR_PG_DIRTY && q - p < room &&
                   !(q >= ex_first && q < ex_end))
                q++;
            if (!discard_run(h, p, q))
                return done;
            done += q - p;
            p = q;
        }
        if (p < end)
            return done; /* stopped inside this chunk: it stays first */
        if (!left)
            anr_dirty_unlink(h, c);
        c = next;
    }
    return done;
}

void anr_reclaim_auto(struct anr_heap *h)
{
    uint64_t dirty = h->count[ANR_PG_DIRTY];
    if (dirty > h->ceiling_pages)
        anr_reclaim(h, dirty - h->floor_pages, h->batch_pages, NULL, NULL);
}

int anr_budget_admit(struct anr_heap *h, uint64_t need, const char *excl_lo, const char *excl_hi,
                     uint64_t *shortfall)
{
    uint64_t resident = anr_resident_pages(h);
    if (resident + need <= h->budget_pages)
        return 0;
    anr_reclaim(h, resident + need - h->budget_pages, UINT64_MAX, excl_lo, excl_hi);
    resident = anr_resident_pages(h);
    if (resident + need <= h->budget_pages)
        return 0;
    *shortfall = resident + need - h->budget_pages;
    return -EAGAIN;
}
