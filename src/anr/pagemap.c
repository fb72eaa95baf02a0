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

/* Moves the pages of [first, end) whose state is `pair` or pair + 1 (CLEAN
 * and DIRTY: pair 0; USED and SLAB: pair 2, the two states whose bit 1 is
 * pair's) to state `to`, outside that pair. Returns how many moved.
 * Inlined so each caller's constants fold into the word loop. */
__attribute__((always_inline)) static inline uint64_t move_pair(struct anr_heap *h, size_t first,
                                                                size_t end, unsigned pair,
                                                                unsigned to)
{
    uint64_t moved = 0;
    size_t p = first;
    for (; p < end && p + 8u <= end; p += 8u) {
        uint64_t w = load8(h->page_state + p);
        if (w == all(pair) || w == all(pair + 1u)) { /* a run taken or freed whole */
            h->count[w & 3u] -= 8u;
            h->count[to] += 8u;
            store8(h->page_state + p, all(to));
            moved += 8u;
            continue;
        }
        uint64_t bit1 = (w >> 1) & LOW_BITS;
        uint64_t in = pair != 0u ? bit1 : ~bit1 & LOW_BITS; /* bytes in the pair */
        if (in == 0)
            continue;
        unsigned n = count_bits(in), odd = count_bits(in & w);
        h->count[pair] -= n - odd;
        h->count[pair + 1u] -= odd;
        h->count[to] += n;
        uint64_t sel = in * 0xffu; /* whole bytes */
        store8(h->page_state + p, (w & ~sel) | (sel & all(to)));
        moved += n;
    }
    for (; p < end; p++) {
        uint8_t st = h->page_state[p];
        if ((st & 2u) == pair) {
            h->count[st]--;
            h->count[to]++;
            h->page_state[p] = (uint8_t)to;
            moved++;
        }
    }
    return moved;
}

void anr_pm_mark_used(struct anr_heap *h, const char *a, const char *b)
{
    size_t first, end;
    overlap(h, a, b, &first, &end);
    move_pair(h, first, end, ANR_PG_CLEAN, ANR_PG_USED);
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
    anr_pm_interior(h, s, e, &first, &end);
    overlap(h, a, b, &ofirst, &oend);
    if (ofirst > first)
        first = ofirst;
    if (oend < end)
        end = oend;
    return move_pair(h, first, end, ANR_PG_USED, ANR_PG_DIRTY);
}
