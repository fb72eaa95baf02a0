/* pagemap.c: one state byte per arena page and the per-state page counts.
 *
 * The counts are the budget's books: resident = DIRTY + USED + SLAB. Every
 * change of a page's state goes through this file so the counts never drift
 * (verify.c recounts them). Work is one byte per page touched.
 */
#include "anr/heap_internal.h"

void anr_pm_set(struct anr_heap *h, size_t first, size_t end, enum anr_page_state state)
{
    for (size_t p = first; p < end; p++) {
        h->count[h->page_state[p]]--;
        h->page_state[p] = (uint8_t)state;
    }
    if (end > first)
        h->count[state] += end - first;
}

/* Pages overlapping [a, b) as [first, end). */
static void overlap(const struct anr_heap *h, const char *a, const char *b, size_t *first,
                    size_t *end)
{
    size_t lo = (size_t)(a - h->arena);
    size_t hi = (size_t)(b - h->arena);
    *first = lo >> h->page_shift;
    *end = (hi + h->page_size - 1u) >> h->page_shift;
    if (*end > h->npages)
        *end = h->npages;
}

void anr_pm_mark_used(struct anr_heap *h, const char *a, const char *b)
{
    size_t first, end;
    overlap(h, a, b, &first, &end);
    for (size_t p = first; p < end; p++) {
        uint8_t s = h->page_state[p];
        if (s == ANR_PG_CLEAN || s == ANR_PG_DIRTY) {
            h->count[s]--;
            h->count[ANR_PG_USED]++;
            h->page_state[p] = ANR_PG_USED;
        }
    }
}

uint64_t anr_pm_count_clean(const struct anr_heap *h, const char *a, const char *b)
{
    size_t first, end;
    uint64_t n = 0;
    overlap(h, a, b, &first, &end);
    for (size_t p = first; p < end; p++)
        n += h->page_state[p] == ANR_PG_CLEAN;
    return n;
}

void anr_pm_interior(const struct anr_heap *h, const char *s, const char *e, size_t *first,
                     size_t *end)
{
    size_t lo = (size_t)(s - h->arena) + ANR_FREE_BOOK;
    size_t hi = (size_t)(e - h->arena);
    *first = (lo + h->page_size - 1u) >> h->page_shift;
    *end = hi >> h->page_shift;
    if (*end < *first)
        *end = *first;
}

uint64_t anr_pm_free_interior(struct anr_heap *h, const char *s, const char *e, const char *a,
                              const char *b)
{
    size_t first, end, ofirst, oend;
    uint64_t changed = 0;
    anr_pm_interior(h, s, e, &first, &end);
    overlap(h, a, b, &ofirst, &oend);
    if (ofirst > first)
        first = ofirst;
    if (oend < end)
        end = oend;
    for (size_t p = first; p < end; p++) {
        uint8_t st = h->page_state[p];
        if (st == ANR_PG_USED || st == ANR_PG_SLAB) {
            h->count[st]--;
            h->count[ANR_PG_DIRTY]++;
            h->page_state[p] = ANR_PG_DIRTY;
            changed++;
        }
    }
    return changed;
}
