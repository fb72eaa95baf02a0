/* verify.c: a full consistency check of a heap.
 *
 * Walks every chunk from the arena's start to the sentinel and checks the
 * boundary tags, then cross-checks the TLSF bins, the give-back list, the
 * page states and their counts, the slabs and their lists, and the in-use
 * counters against what the walk found. Reports the first fault.
 */
#include "anr/heap_internal.h"
#include "anr/tcache.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

struct walk {
    uint64_t free_chunks, listed_chunks, slab_pages, in_use, live;
};

__attribute__((format(printf, 3, 4))) static int fault(char *buf, size_t len, const char *fmt,
                                                        ...)
{
    if (len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, len, fmt, ap);
        va_end(ap);
    }
    return -EFAULT;
}

#define FAULT(...) return fault(buf, len, __VA_ARGS__)

static bool page_is_free_state(uint8_t s)
{
    return s == ANR_PG_CLEAN || s == ANR_PG_DIRTY;
}

static int check_slab(struct anr_heap *h, struct anr_chunk *c, struct walk *w, char *buf,
                      size_t len)
{
    char *payload = anr_chunk_addr(c) + ANR_HDR;
    size_t off = (size_t)(payload - h->arena);
    if (off % h->page_size != 0)
        FAULT("slab chunk at +%zu: payload not page-aligned", off - ANR_HDR);
    size_t head = off >> h->page_shift;
    const struct anr_slab *s = &h->slabs[head];
    if (s->cls >= h->nclasses)
        FAULT("slab at page %zu: class %u out of range", head, (unsigned)s->cls);
    const struct anr_class *k = &h->classes[s->cls];
    if (s->pages != k->pages || anr_chunk_size(c) < (size_t)k->pages * h->page_size)
        FAULT("slab at page %zu: %u pages in a chunk of %zu bytes, class wants %u", head,
              (unsigned)s->pages, anr_chunk_size(c), (unsigned)k->pages);
    for (size_t p = head; p < head + s->pages; p++) {
        if (h->page_state[p] != ANR_PG_SLAB || h->slabs[p].head != head ||
            h->slabs[p].cls != s->cls)
            FAULT("slab at page %zu: page %zu has state %u head %" PRIu32 " class %u", head, p,
                  (unsigned)h->page_state[p], h->slabs[p].head, (unsigned)h->slabs[p].cls);
    }
    const uint64_t *bits = anr_slab_bitmap(h, head);
    size_t words = (k->capacity + 63u) / 64u;
    uint64_t used = 0;
    for (size_t i = 0; i < words; i++)
        used += (uint64_t)__builtin_popcountll(bits[i]);
    if (k->capacity % 64u != 0) {
        uint64_t tail = ~0ull << (k->capacity % 64u);
        if ((bits[words - 1] & tail) != tail)
            FAULT("slab at page %zu: bits past the last slice are clear", head);
        used -= (uint64_t)__builtin_popcountll(tail);
    }
    if (used != s->used || s->used > k->capacity)
        FAULT("slab at page %zu: bitmap holds %" PRIu64 " slices, descriptor says %u", head, used,
              (unsigned)s->used);
    bool is_spare = k->spare == head;
    if (s->used == 0 && !is_spare)
        FAULT("slab at page %zu: empty but not the class spare", head);
    if (is_spare && (s->used != 0 || s->on_partial))
        FAULT("slab at page %zu: spare but used %u", head, (unsigned)s->used);
    bool want_partial = s->used > 0 && s->used < k->capacity;
    if ((s->on_partial != 0) != want_partial)
        FAULT("slab at page %zu: used %u of %u but on_partial %u", head, (unsigned)s->used,
              (unsigned)k->capacity, (unsigned)s->on_partial);
    w->slab_pages += s->pages;
    w->in_use += (uint64_t)s->used * k->size;
    w->live += s->used;
    return 0;
}

static int check_pages_of_chunk(struct anr_heap *h, struct anr_chunk *c, bool is_free, char *buf,
                                size_t len)
{
    char *a = anr_chunk_addr(c);
    char *b = a + anr_chunk_size(c);
    size_t first = anr_page_of(h, a), end = anr_page_of(h, b - 1) + 1u;
    size_t ifirst = 0, iend = 0;
    if (is_free)
        anr_pm_interior(h, a, b, &ifirst, &iend);
    bool dirty = false;
    for (size_t p = first; p < end; p++) {
        bool interior = p >= ifirst && p < iend;
        uint8_t s = h->page_state[p];
        if (interior != page_is_free_state(s))
            FAULT("page %zu (chunk at +%zu, %s): state %u", p, (size_t)(a - h->arena),
                  is_free ? "free" : "in use", (unsigned)s);
        dirty |= s == ANR_PG_DIRTY;
    }
    if (dirty && !(c->head & ANR_C_DIRTY_LISTED))
        FAULT("free chunk at +%zu has dirty pages but is not on the give-back list",
              (size_t)(a - h->arena));
    return 0;
}

static int walk_chunks(struct anr_heap *h, struct walk *w, char *buf, size_t len)
{
    struct anr_chunk *c = anr_chunk_at(h->arena);
    bool prev_free = false;
    size_t prev_size = 0;
    while (c != h->sentinel) {
        size_t off = (size_t)(anr_chunk_addr(c) - h->arena);
        size_t size = anr_chunk_size(c);
        if (size < ANR_MIN_CHUNK || size % ANR_GRANULE != 0 ||
            size > h->arena_bytes - ANR_HDR - off)
            FAULT("chunk at +%zu: bad size %zu", off, size);
        bool is_free = !(c->head & ANR_C_INUSE);
        if (((c->head & ANR_C_PREV_FREE) != 0) != prev_free)
            FAULT("chunk at +%zu: prev-free flag %d, previous chunk free %d", off,
                  (c->head & ANR_C_PREV_FREE) != 0, prev_free);
        if (prev_free && c->prev_size != prev_size)
            FAULT("chunk at +%zu: prev_size %zu, previous chunk %zu bytes", off, c->prev_size,
                  prev_size);
        if (is_free && prev_free)
            FAULT("chunk at +%zu: two free chunks touch", off);
        if (is_free && (c->head & ANR_C_SLAB))
            FAULT("chunk at +%zu: free chunk marked slab", off);
        int rc = check_pages_of_chunk(h, c, is_free, buf, len);
        if (rc != 0)
            return rc;
        if (is_free) {
            w->free_chunks++;
            w->listed_chunks += (c->head & ANR_C_DIRTY_LISTED) != 0;
        } else if (c->head & ANR_C_SLAB) {
            rc = check_slab(h, c, w, buf, len);
            if (rc != 0)
                return rc;
        } else {
            if (c->head & ANR_C_DIRTY_LISTED)
                FAULT("chunk at +%zu: in use but listed", off);
            w->in_use += size - ANR_HDR;
            w->live++;
        }
        prev_free = is_free;
        prev_size = size;
        c = anr_chunk_next(c);
    }
    if (((c->head & ANR_C_PREV_FREE) != 0) != prev_free || (prev_free && c->prev_size != prev_size))
        FAULT("sentinel: prev-free flag or size wrong");
    return 0;
}

static int check_bins(struct anr_heap *h, const struct walk *w, char *buf, size_t len)
{
    uint64_t seen = 0;
    for (unsigned fl = 0; fl < ANR_FL_COUNT; fl++) {
        if (((h->fl_bitmap >> fl) & 1u) != (h->sl_bitmap[fl] != 0))
            FAULT("bin level %u: first-level bit disagrees with second level", fl);
        for (unsigned sl = 0; sl < ANR_SL_COUNT; sl++) {
            struct anr_chunk *c = h->bins[fl][sl];
            if (((h->sl_bitmap[fl] >> sl) & 1u) != (c != NULL))
                FAULT("bin %u/%u: bitmap bit disagrees with the list", fl, sl);
            struct anr_chunk *prev = NULL;
            for (; c != NULL; prev = c, c = anr_links(c)->next) {
                unsigned cfl, csl;
                if (++seen > w->free_chunks)
                    FAULT("bins hold more chunks than the %" PRIu64 " free ones", w->free_chunks);
                if (c->head & ANR_C_INUSE)
                    FAULT("bin %u/%u holds a chunk in use", fl, sl);
                anr_chunk_bin_of(anr_chunk_size(c), &cfl, &csl);
                if (cfl != fl || csl != sl || anr_links(c)->prev != prev)
                    FAULT("bin %u/%u: chunk of %zu bytes misfiled or mislinked", fl, sl,
                          anr_chunk_size(c));
            }
        }
    }
    if (seen != w->free_chunks)
        FAULT("bins hold %" PRIu64 " chunks, the walk found %" PRIu64 " free", seen,
              w->free_chunks);
    uint64_t listed = 0;
    struct anr_chunk *prev = NULL;
    for (struct anr_chunk *c = h->dirty_head; c != NULL; prev = c, c = anr_links(c)->dirty_next) {
        if (++listed > w->listed_chunks || (c->head & (ANR_C_INUSE | ANR_C_DIRTY_LISTED)) !=
                                               ANR_C_DIRTY_LISTED ||
            anr_links(c)->dirty_prev != prev)
            FAULT("give-back list: entry %" PRIu64 " wrong", listed);
    }
    if (listed != w->listed_chunks || h->dirty_tail != prev)
        FAULT("give-back list holds %" PRIu64 " chunks, %" PRIu64 " are flagged", listed,
              w->listed_chunks);
    return 0;
}

static int check_classes(struct anr_heap *h, char *buf, size_t len)
{
    for (unsigned c = 0; c < h->nclasses; c++) {
        const struct anr_class *k = &h->classes[c];
        uint32_t prev = ANR_NONE;
        uint64_t n = 0;
        for (uint32_t s = k->partial; s != ANR_NONE; prev = s, s = h->slabs[s].next) {
            if (++n > h->npages || s >= h->npages || h->page_state[s] != ANR_PG_SLAB ||
                h->slabs[s].head != s || h->slabs[s].cls != c || !h->slabs[s].on_partial ||
                h->slabs[s].prev != prev)
                FAULT("class %u (%" PRIu32 " B): partial list entry %" PRIu64 " wrong", c, k->size,
                      n);
        }
        if (k->spare != ANR_NONE &&
            (k->spare >= h->npages || h->page_state[k->spare] != ANR_PG_SLAB ||
             h->slabs[k->spare].cls != c))
            FAULT("class %u: spare slab wrong", c);
    }
    return 0;
}

/* The thread caches: every slot's limits are the heap's; this thread's
 * cache holds exactly `count` blocks per bin, each a live slice of the bin's
 * class carrying the cache's key, none twice (a cycle would pass the
 * limit). Other threads' caches change without the lock and are not walked;
 * their blocks are covered by the core's counts like any allocated block. */
static int check_caches(struct anr_heap *h, char *buf, size_t len)
{
    for (unsigned i = 0; i < h->tc_threads; i++) {
        const struct anr_tcache *tc = anr_tc_slot(h, i);
        if (tc->owner == NULL)
            continue;
        for (unsigned c = 0; c < h->tc_classes; c++)
            if (tc->bins[c].limit != h->tc_limit[c])
                FAULT("thread cache %u: class %u limit %" PRIu32 ", heap says %" PRIu32, i, c,
                      tc->bins[c].limit, h->tc_limit[c]);
    }
    const struct anr_tcache *tc = anr_tc_mine(h);
    if (tc == NULL)
        return 0;
    for (unsigned c = 0; c < h->tc_classes; c++) {
        const struct anr_tc_bin *b = &tc->bins[c];
        uint32_t n = 0;
        for (void *const *blk = b->head; blk != NULL; blk = blk[0]) {
            if (++n > b->limit)
                FAULT("this thread's cache, class %u: more than the limit of %" PRIu32
                      " blocks (or a cycle)", c, b->limit);
            if (!anr_tc_block_ok(h, tc, c, blk))
                FAULT("this thread's cache, class %u: block %" PRIu32 " at %p is not a cached "
                      "live slice of the class", c, n, (const void *)blk);
        }
        if (n != b->count)
            FAULT("this thread's cache, class %u: %" PRIu32 " blocks, count says %" PRIu32, c, n,
                  b->count);
    }
    return 0;
}

int anr_heap_verify(anr_heap *h, char *buf, size_t len)
{
    struct walk w = {0};
    if (len > 0)
        buf[0] = '\0';
    anr_lock(h);
    int rc = walk_chunks(h, &w, buf, len);
    if (rc == 0)
        rc = check_bins(h, &w, buf, len);
    if (rc == 0)
        rc = check_classes(h, buf, len);
    if (rc == 0)
        rc = check_caches(h, buf, len);
    if (rc == 0) {
        uint64_t count[4] = {0};
        for (size_t p = 0; p < h->npages; p++)
            count[h->page_state[p] & 3u]++;
        for (unsigned s = 0; s < 4; s++) {
            if (count[s] != h->count[s]) {
                rc = fault(buf, len, "page state %u: %" PRIu64 " pages, counted %" PRIu64, s,
                           count[s], h->count[s]);
                break;
            }
        }
    }
    if (rc == 0 && w.slab_pages != h->count[ANR_PG_SLAB])
        rc = fault(buf, len, "slab pages %" PRIu64 " outside slabs' %" PRIu64,
                   h->count[ANR_PG_SLAB], w.slab_pages);
    if (rc == 0 && (w.in_use != h->st.in_use_bytes || w.live != h->st.live_blocks))
        rc = fault(buf, len, "in use %" PRIu64 " B in %" PRIu64 " blocks, counters say %" PRIu64
                   " B in %" PRIu64, w.in_use, w.live, h->st.in_use_bytes, h->st.live_blocks);
    if (rc == 0 && (anr_resident_pages(h) > h->budget_pages || h->budget_pages > h->hard_limit_pages))
        rc = fault(buf, len, "resident %" PRIu64 " pages, budget %" PRIu64 ", hard limit %" PRIu64,
                   anr_resident_pages(h), h->budget_pages, h->hard_limit_pages);
    if (rc == 0 && h->dbg)
        rc = anr_dbg_verify_locked(h, buf, len);
    anr_unlock(h);
    return rc;
}
