/* chunk.c: the boundary-tagged chunk space (large blocks and slab carving).
 *
 * Every chunk starts with a 16-byte header (prev_size, size|flags); the
 * payload follows it, so payloads are 16-aligned like the chunks. A free
 * chunk also stores its bin links and its give-back list links after the
 * header (ANR_FREE_BOOK bytes in all); its other pages hold nothing.
 *
 * Free chunks sit in TLSF bins: a first level per power of two and 16
 * second-level bins inside each, with a bitmap per level, so finding a bin
 * that holds a big-enough chunk is two find-first-set operations. Chunks are
 * coalesced with free neighbours as soon as they are freed, so no two free
 * chunks touch. The cost of every call here is O(1) in bins and lists, plus
 * one page-state byte per page of the block (pagemap.c).
 */
#include "anr/heap_internal.h"

static unsigned fls_size(size_t v)
{
    return 63u - (unsigned)__builtin_clzll((unsigned long long)v);
}

void anr_chunk_bin_of(size_t size, unsigned *fl, unsigned *sl)
{
    if (size < ((size_t)1 << ANR_FL_SHIFT)) {
        *fl = 0;
        *sl = (unsigned)(size / ANR_GRANULE);
        return;
    }
    unsigned f = fls_size(size);
    *fl = f - ANR_FL_SHIFT + 1u;
    *sl = (unsigned)(size >> (f - ANR_SL_LOG2)) & (ANR_SL_COUNT - 1u);
}

/* The bin whose every chunk is at least `size` bytes. */
static void search_bin_of(size_t size, unsigned *fl, unsigned *sl)
{
    if (size >= ((size_t)1 << ANR_FL_SHIFT))
        size += ((size_t)1 << (fls_size(size) - ANR_SL_LOG2)) - 1u;
    anr_chunk_bin_of(size, fl, sl);
}

static void bin_insert(struct anr_heap *h, struct anr_chunk *c)
{
    unsigned fl, sl;
    anr_chunk_bin_of(anr_chunk_size(c), &fl, &sl);
    struct anr_chunk *first = h->bins[fl][sl];
    anr_links(c)->next = first;
    anr_links(c)->prev = NULL;
    if (first != NULL)
        anr_links(first)->prev = c;
    h->bins[fl][sl] = c;
    h->sl_bitmap[fl] |= 1u << sl;
    h->fl_bitmap |= 1ull << fl;
}

static void bin_remove(struct anr_heap *h, struct anr_chunk *c)
{
    unsigned fl, sl;
    anr_chunk_bin_of(anr_chunk_size(c), &fl, &sl);
    struct anr_chunk *next = anr_links(c)->next;
    struct anr_chunk *prev = anr_links(c)->prev;
    if (next != NULL)
        anr_links(next)->prev = prev;
    if (prev != NULL) {
        anr_links(prev)->next = next;
    } else {
        h->bins[fl][sl] = next;
        if (next == NULL) {
            h->sl_bitmap[fl] &= ~(1u << sl);
            if (h->sl_bitmap[fl] == 0)
                h->fl_bitmap &= ~(1ull << fl);
        }
    }
}

/* ---- give-back list: free chunks that may hold DIRTY pages -------------- */

void anr_dirty_unlink(struct anr_heap *h, struct anr_chunk *c)
{
    struct anr_chunk *next = anr_links(c)->dirty_next;
    struct anr_chunk *prev = anr_links(c)->dirty_prev;
    if (next != NULL)
        anr_links(next)->dirty_prev = prev;
    else
        h->dirty_tail = prev;
    if (prev != NULL)
        anr_links(prev)->dirty_next = next;
    else
        h->dirty_head = next;
    c->head &= ~(size_t)ANR_C_DIRTY_LISTED;
}

/* Inserts c after `after` (NULL: at the head, the oldest end). */
static void dirty_insert_after(struct anr_heap *h, struct anr_chunk *after, struct anr_chunk *c)
{
    struct anr_chunk *next = after != NULL ? anr_links(after)->dirty_next : h->dirty_head;
    anr_links(c)->dirty_prev = after;
    anr_links(c)->dirty_next = next;
    if (next != NULL)
        anr_links(next)->dirty_prev = c;
    else
        h->dirty_tail = c;
    if (after != NULL)
        anr_links(after)->dirty_next = c;
    else
        h->dirty_head = c;
    c->head |= ANR_C_DIRTY_LISTED;
}

/* ---- finding room ------------------------------------------------------- */

void anr_chunk_init_arena(struct anr_heap *h)
{
    char *end = h->arena + h->arena_bytes;
    struct anr_chunk *f = anr_chunk_at(h->arena);
    size_t size = h->arena_bytes - ANR_HDR;
    f->prev_size = 0;
    f->head = size;
    h->sentinel = anr_chunk_at(end - ANR_HDR);
    h->sentinel->prev_size = size;
    h->sentinel->head = ANR_C_INUSE | ANR_C_PREV_FREE;
    bin_insert(h, f);
    anr_pm_mark_used(h, h->arena, h->arena + ANR_FREE_BOOK);
    anr_pm_mark_used(h, end - ANR_HDR, end);
}

static bool plan_fits(const struct anr_heap *h, struct anr_chunk *f, size_t n, size_t align,
                      enum anr_place how, struct anr_plan *plan)
{
    char *s = anr_chunk_addr(f);
    size_t fsize = anr_chunk_size(f);
    size_t off = 0; /* x - s */
    if (fsize < n)
        return false;
    if (how == ANR_PLACE_ALIGNED) {
        uintptr_t us = (uintptr_t)s;
        uintptr_t ux = ((us + ANR_HDR + align - 1u) & ~(uintptr_t)(align - 1u)) - ANR_HDR;
        if (ux != us && ux - us < ANR_MIN_CHUNK)
            ux = ((us + ANR_HDR + ANR_MIN_CHUNK + align - 1u) & ~(uintptr_t)(align - 1u)) - ANR_HDR;
        off = (size_t)(ux - us);
    } else if (how == ANR_PLACE_SLAB) {
        /* Slabs go at the high end of the chunk so they pack against each
         * other (and the sentinel) while large blocks fill from the low end. */
        uintptr_t us = (uintptr_t)s;
        uintptr_t ue = us + fsize;
        uintptr_t payload = (ue - n + ANR_HDR) & ~(uintptr_t)(h->page_size - 1u);
        if (payload < us + ANR_HDR)
            return false;
        off = (size_t)(payload - ANR_HDR - us);
        if (off != 0 && off < ANR_MIN_CHUNK)
            return false;
    }
    if (off > fsize || fsize - off < n)
        return false;
    size_t tail = fsize - off - n;
    plan->f = f;
    plan->x = s + off;
    plan->split_tail = tail >= ANR_MIN_CHUNK;
    plan->n = plan->split_tail ? n : n + tail;
    return true;
}

static struct anr_chunk *find_from(const struct anr_heap *h, unsigned fl, unsigned sl)
{
    if (fl >= ANR_FL_COUNT)
        return NULL;
    uint32_t slmap = h->sl_bitmap[fl] & (~0u << sl);
    if (slmap == 0) {
        uint64_t flmap = fl + 1u < 64u ? h->fl_bitmap & (~0ull << (fl + 1u)) : 0;
        if (flmap == 0)
            return NULL;
        fl = (unsigned)__builtin_ctzll(flmap);
        slmap = h->sl_bitmap[fl];
    }
    sl = (unsigned)__builtin_ctz(slmap);
    return h->bins[fl][sl];
}

bool anr_chunk_find(struct anr_heap *h, size_t n, size_t align, enum anr_place how,
                    struct anr_plan *plan)
{
    unsigned fl, sl;
    if (n > h->arena_bytes || align > h->arena_bytes)
        return false;
    /* Ask the bins for a size that fits whatever the placement costs. */
    uint64_t worst = n;
    if (how == ANR_PLACE_ALIGNED)
        worst += (uint64_t)align + ANR_MIN_CHUNK;
    else if (how == ANR_PLACE_SLAB)
        worst += (uint64_t)h->page_size + ANR_MIN_CHUNK;
    if (worst <= h->arena_bytes) {
        search_bin_of((size_t)worst, &fl, &sl);
        struct anr_chunk *c = find_from(h, fl, sl);
        if (c != NULL && plan_fits(h, c, n, align, how, plan))
            return true;
    }
    /* Near-fits live in the bin of n itself: look at a bounded few. */
    anr_chunk_bin_of(n, &fl, &sl);
    struct anr_chunk *c = h->bins[fl][sl];
    for (unsigned i = 0; c != NULL && i < ANR_FALLBACK_SCAN; i++, c = anr_links(c)->next) {
        if (plan_fits(h, c, n, align, how, plan))
            return true;
    }
    return false;
}

uint64_t anr_plan_new_pages(const struct anr_heap *h, const struct anr_plan *plan)
{
    size_t touched = plan->n + (plan->split_tail ? ANR_FREE_BOOK : 0);
    return anr_pm_count_clean(h, plan->x, plan->x + touched);
}

struct anr_chunk *anr_chunk_take(struct anr_heap *h, const struct anr_plan *plan, size_t flags)
{
    struct anr_chunk *f = plan->f;
    char *s = anr_chunk_addr(f);
    char *e = s + anr_chunk_size(f);
    char *x = plan->x;
    size_t n = plan->n;
    bool listed = (f->head & ANR_C_DIRTY_LISTED) != 0;
    size_t f_prev_free = f->head & ANR_C_PREV_FREE;
    struct anr_chunk *list_pos = NULL;

    /* Read everything f's links hold before anything overwrites them. */
    bin_remove(h, f);
    if (listed && x == s) {
        list_pos = anr_links(f)->dirty_prev;
        anr_dirty_unlink(h, f);
    }

    struct anr_chunk *next = anr_chunk_at(e);
    struct anr_chunk *rest = NULL;
    if (plan->split_tail) {
        rest = anr_chunk_at(x + n);
        rest->head = (size_t)(e - (x + n));
        next->prev_size = (size_t)(e - (x + n));
    } else {
        next->head &= ~(size_t)ANR_C_PREV_FREE;
    }

    if (x > s) {
        /* The low part stays a free chunk in its old place on the list. */
        f->head = (size_t)(x - s) | f_prev_free | (listed ? ANR_C_DIRTY_LISTED : 0u);
        bin_insert(h, f);
        list_pos = f;
    }
    if (rest != NULL) {
        bin_insert(h, rest);
        if (listed)
            dirty_insert_after(h, list_pos, rest);
    }

    struct anr_chunk *c = anr_chunk_at(x);
    c->head = n | ANR_C_INUSE | flags | (x > s ? ANR_C_PREV_FREE : f_prev_free);
    if (x > s)
        c->prev_size = (size_t)(x - s);
    anr_pm_mark_used(h, x, x + n + (rest != NULL ? ANR_FREE_BOOK : 0));
    return c;
}

void anr_chunk_release(struct anr_heap *h, struct anr_chunk *c)
{
    char *a = anr_chunk_addr(c);
    char *b = a + anr_chunk_size(c);
    char *s = a, *e = b, *touched_end = b;
    bool listed = false;

    if (c->head & ANR_C_PREV_FREE) {
        struct anr_chunk *p = anr_chunk_at(a - c->prev_size);
        bin_remove(h, p);
        if (p->head & ANR_C_DIRTY_LISTED) {
            anr_dirty_unlink(h, p);
            listed = true;
        }
        s = anr_chunk_addr(p);
    }
    struct anr_chunk *n = anr_chunk_at(b);
    if (!(n->head & ANR_C_INUSE)) {
        bin_remove(h, n);
        if (n->head & ANR_C_DIRTY_LISTED) {
            anr_dirty_unlink(h, n);
            listed = true;
        }
        e = b + anr_chunk_size(n);
        touched_end = b + ANR_FREE_BOOK; /* n's own bookkeeping is free space now */
    }

    struct anr_chunk *f = anr_chunk_at(s);
    f->head = (size_t)(e - s);
    struct anr_chunk *after = anr_chunk_at(e);
    after->prev_size = (size_t)(e - s);
    after->head |= ANR_C_PREV_FREE;
    uint64_t changed = anr_pm_free_interior(h, s, e, a, touched_end);
    bin_insert(h, f);
    /* Youngest at the tail: the give-back takes the oldest first. */
    if (changed > 0 || listed)
        dirty_insert_after(h, h->dirty_tail, f);
}

bool anr_chunk_shrink(struct anr_heap *h, struct anr_chunk *c, size_t n)
{
    size_t size = anr_chunk_size(c);
    if (n > size || size - n < ANR_MIN_CHUNK)
        return false;
    struct anr_chunk *tail = anr_chunk_at(anr_chunk_addr(c) + n);
    c->head = n | (c->head & ANR_C_FLAGS);
    tail->head = (size - n) | ANR_C_INUSE;
    anr_chunk_release(h, tail);
    return true;
}

bool anr_chunk_plan_grow(struct anr_heap *h, struct anr_chunk *c, size_t n,
                         struct anr_plan *plan)
{
    (void)h;
    size_t size = anr_chunk_size(c);
    struct anr_chunk *nx = anr_chunk_next(c);
    if (n <= size || (nx->head & ANR_C_INUSE))
        return false;
    size_t nsize = anr_chunk_size(nx);
    size_t extra = n - size;
    if (nsize < extra)
        return false;
    plan->f = nx;
    plan->x = anr_chunk_addr(nx);
    plan->split_tail = nsize - extra >= ANR_MIN_CHUNK;
    plan->n = plan->split_tail ? extra : nsize;
    return true;
}

void anr_chunk_commit_grow(struct anr_heap *h, struct anr_chunk *c, const struct anr_plan *plan)
{
    struct anr_chunk *d = anr_chunk_take(h, plan, 0);
    c->head += anr_chunk_size(d);
}
