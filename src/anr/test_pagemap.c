/* pagemap.c against a byte-at-a-time reference: random page states, random
 * ranges of every length and alignment (the word loops take eight pages at
 * a time and the tails one by one), exact states and counts after each. */
#include "anr/heap_internal.h"
#include "mbtest.h"

#include <stdlib.h>
#include <string.h>

#define PAGES 203u /* not a multiple of 8 */
#define PAGE 4096u

static struct anr_heap *h;
static uint8_t ref_state[PAGES];
static uint64_t ref_count[4];
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    return mbt_xorshift64(&rng);
}

/* Random states; with `runs`, in runs of 1-40 pages of one state (whole
 * words of one state take the loops' shortcuts). */
static void randomize(bool runs)
{
    memset(ref_count, 0, sizeof ref_count);
    memset(h->count, 0, sizeof h->count);
    uint8_t s = 0;
    size_t left = 0;
    for (size_t p = 0; p < PAGES; p++) {
        if (!runs || left == 0) {
            s = (uint8_t)(rnd() % 4u);
            left = 1u + (size_t)(rnd() % 40u);
        }
        left--;
        ref_state[p] = h->page_state[p] = s;
        ref_count[s]++;
        h->count[s]++;
    }
}

static bool same(void)
{
    bool ok = MBT_EQ_MEM(ref_state, h->page_state, PAGES);
    for (unsigned s = 0; s < 4; s++)
        ok &= MBT_EQ_U64(ref_count[s], h->count[s]);
    return ok;
}

static void ref_set(size_t first, size_t end, uint8_t state)
{
    for (size_t p = first; p < end; p++) {
        ref_count[ref_state[p]]--;
        ref_state[p] = state;
        ref_count[state]++;
    }
}

static void ref_move(size_t first, size_t end, uint8_t from_a, uint8_t from_b, uint8_t to,
                     uint64_t *changed)
{
    for (size_t p = first; p < end; p++) {
        if (ref_state[p] == from_a || ref_state[p] == from_b) {
            ref_count[ref_state[p]]--;
            ref_state[p] = to;
            ref_count[to]++;
            (*changed)++;
        }
    }
}

static void test_against_reference(void)
{
    for (unsigned round = 0; round < 3000; round++) {
        randomize(round % 8u >= 4u);
        size_t first = (size_t)(rnd() % PAGES);
        size_t end = first + (size_t)(rnd() % (PAGES - first + 1u));
        const char *a = h->arena + first * PAGE, *b = h->arena + end * PAGE;
        switch (round % 4) {
        case 0: {
            uint8_t st = (uint8_t)(rnd() % 4u);
            anr_pm_set(h, first, end, (enum anr_page_state)st);
            ref_set(first, end, st);
            break;
        }
        case 1: {
            uint64_t changed = 0;
            anr_pm_mark_used(h, a, b);
            ref_move(first, end, ANR_PG_CLEAN, ANR_PG_DIRTY, ANR_PG_USED, &changed);
            break;
        }
        case 2: {
            uint64_t clean = 0;
            for (size_t p = first; p < end; p++)
                clean += ref_state[p] == ANR_PG_CLEAN;
            MBT_EQ_U64(clean, anr_pm_count_clean(h, a, b));
            break;
        }
        default: {
            /* A free chunk [s, e) and the range [a, b) within it: only the
             * interior pages (past the chunk's book) change. */
            uint64_t changed = 0;
            size_t ifirst, iend;
            anr_pm_interior(h, a, b, &ifirst, &iend);
            uint64_t got = anr_pm_free_interior(h, a, b, a, b);
            ref_move(ifirst, iend, ANR_PG_USED, ANR_PG_SLAB, ANR_PG_DIRTY, &changed);
            MBT_EQ_U64(changed, got);
            break;
        }
        }
        if (!same()) {
            fprintf(stderr, "    round %u, pages [%zu, %zu)\n", round, first, end);
            return;
        }
    }
}

int main(void)
{
    h = calloc(1, sizeof *h);
    static uint8_t states[PAGES];
    if (!MBT_NOT_NULL(h))
        return mbt_finish();
    h->page_state = states;
    h->page_size = PAGE;
    h->page_shift = 12;
    h->npages = PAGES;
    static char arena[PAGES * PAGE]; /* addresses only: never touched */
    h->arena = arena;
    h->arena_bytes = (size_t)PAGES * PAGE;
    MBT_RUN(test_against_reference);
    free(h);
    return mbt_finish();
}
