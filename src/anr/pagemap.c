/* pagemap.c: one state byte per arena page and the per-state page counts.
 *
 * The counts are the budget's books: resident = DIRTY + USED + SLAB. Every
 * change of a page's state goes through this file so the counts never drift
 * (verify.c recounts them). Work is one byte per page touched, done eight
 * pages at a time: the four states are two bits, so a 64-bit word of states
 * is classified with a few masks and counted with popcount (a 1 MiB block
 * is 256 pages).
 */
#include "anr/heap_internal.h"

#include <string.h>

_Static_assert(ANR_PG_CLEAN == 0 && ANR_PG_DIRTY == 1 && ANR_PG_USED == 2 && ANR_PG_SLAB == 3,
               "the word tricks below read a state's two bits");

#define LOW_BITS UINT64_C(0x0101010101010101) /* bit 0 of every byte */

static uint64_t load8(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

static void store8(uint8_t *p, uint64_t w)
{
    memcpy(p, &w, sizeof w);
}

/* Bit 0 of each byte of w whose state is `state` (the others 0). */
static uint64_t is_state(uint64_t w, unsigned state)
{
    uint64_t b0 = w & LOW_BITS, b1 = (w >> 1) & LOW_BITS;
    uint64_t want0 = (state & 1u) ? b0 : ~b0 & LOW_BITS;
    uint64_t want1 = (state & 2u) ? b1 : ~b1 & LOW_BITS;
    return want0 & want1;
}

static unsigned count_bits(uint64_t v)
{
    return (unsigned)__builtin_popcountll(v);
}

/* Eight pages all in `state`, as a word. */
static uint64_t all(unsigned state)
{
    return LOW_BITS * state;
}

void anr_pm_set(struct anr_heap *h, size_t first, size_t end, enum anr_page_state state)
{
    size_t p = first;
    for (; p + 8u <= end; p += 8u) {
        uint64_t w = load8(h->page_state + p);
        if (w == all(ANR_PG_CLEAN) || w == all(ANR_PG_DIRTY) || w == all(ANR_PG_USED) ||
            w == all(ANR_PG_SLAB)) {
            h->count[w & 3u] -= 8u;
            continue;
        }
        for (unsigned st = 0; st < 4u; st++)
            h->count[st] -= count_bits(is_state(w, st));
    }
    for (; p < end; p++)
        h->count[h->page_state[p]]--;
    if (end > first) {
        memset(h->page_state + first, (int)state, end - first);
        h->count[state] += end - first;
    }
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
    size_t p = first;
    for (; p + 8u <= end; p += 8u) {
        uint64_t w = load8(h->page_state + p);
        if (w == all(ANR_PG_USED) || w == all(ANR_PG_SLAB))
            continue; /* runs with nothing to change */
        if (w == all(ANR_PG_CLEAN) || w == all(ANR_PG_DIRTY)) { /* a free run taken whole */
            h->count[w & 3u] -= 8u;
            h->count[ANR_PG_USED] += 8u;
            store8(h->page_state + p, all(ANR_PG_USED));
            continue;
        }
        uint64_t low = ~(w >> 1) & LOW_BITS; /* CLEAN or DIRTY: bit 1 clear */
        if (low == 0)
            continue;
        unsigned n = count_bits(low), dirty = count_bits(low & w);
        h->count[ANR_PG_CLEAN] -= n - dirty;
        h->count[ANR_PG_DIRTY] -= dirty;
        h->count[ANR_PG_USED] += n;
        uint64_t sel = low * 0xffu; /* whole bytes */
        store8(h->page_state + p, (w & ~sel) | (sel & all(ANR_PG_USED)));
    }
    for (; p < end; p++) {
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
    size_t p = first;
    for (; p + 8u <= end; p += 8u) {
        uint64_t w = load8(h->page_state + p);
        if (w == all(ANR_PG_CLEAN))
            n += 8u;
        else if (w != all(ANR_PG_DIRTY) && w != all(ANR_PG_USED) && w != all(ANR_PG_SLAB))
            n += count_bits(is_state(w, ANR_PG_CLEAN));
    }
    for (; p < end; p++)
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
    size_t p = first;
    for (; p < end && p + 8u <= end; p += 8u) {
        uint64_t w = load8(h->page_state + p);
        if (w == all(ANR_PG_USED)) { /* the common run: a whole freed block */
            h->count[ANR_PG_USED] -= 8u;
            h->count[ANR_PG_DIRTY] += 8u;
            store8(h->page_state + p, all(ANR_PG_DIRTY));
            changed += 8u;
            continue;
        }
        uint64_t high = (w >> 1) & LOW_BITS; /* USED or SLAB: bit 1 set */
        if (high == 0)
            continue;
        unsigned n = count_bits(high), slab = count_bits(high & w);
        h->count[ANR_PG_USED] -= n - slab;
        h->count[ANR_PG_SLAB] -= slab;
        h->count[ANR_PG_DIRTY] += n;
        uint64_t sel = high * 0xffu; /* whole bytes */
        store8(h->page_state + p, (w & ~sel) | (sel & all(ANR_PG_DIRTY)));
        changed += n;
    }
    for (; p < end; p++) {
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
