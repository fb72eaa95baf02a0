/* slab.c: small sizes in slabs of one page or a few.
 *
 * A slab is a chunk (flag ANR_C_SLAB) whose payload starts on a page
 * boundary and is cut into equal slices of its class. Its bookkeeping lives
 * outside it, in the descriptor array (struct anr_slab per page) and the
 * bitmap array (one bit per slice, set = allocated), so a slab whose slices
 * are all free can go back to the chunk space, and its pages to the kernel,
 * whole. Each class keeps a list of partly used slabs and one spare empty
 * slab (the hysteresis that stops a malloc/free pair at a slab's edge from
 * creating and destroying a slab every time).
 *
 * Cost: a slice allocation scans at most capacity/64 bitmap words from a
 * hint (4 on 4 KiB pages for 16-byte slices); a free is O(1).
 */
#include "anr/heap_internal.h"

#include <errno.h>
#include <string.h>

int anr_classes_init(struct anr_heap *h, const uint32_t *sizes, size_t n)
{
    uint32_t defaults[ANR_MAX_CLASSES];
    if (sizes == NULL) {
        /* 16..128 in steps of 16, then 8 classes per doubling: a request
         * above 128 bytes wastes less than 1/8 of its slice. */
        n = 0;
        for (uint32_t s = 16; s <= 128; s += 16)
            defaults[n++] = s;
        for (uint32_t base = 128; base < 3072; base *= 2)
            for (uint32_t i = 1; i <= 8 && base + i * (base / 8) <= 3072; i++)
                defaults[n++] = base + i * (base / 8);
        sizes = defaults;
    }
    if (n == 0 || n > ANR_MAX_CLASSES)
        return -EINVAL;
    size_t max_slices = h->bits_words * 64u;
    for (size_t i = 0; i < n; i++) {
        uint32_t size = sizes[i];
        if (size < ANR_GRANULE || size > ANR_SLAB_MAX_SIZE || size % ANR_GRANULE != 0 ||
            (i > 0 && size <= sizes[i - 1]))
            return -EINVAL;
        /* Fewest pages whose leftover is at most 1/8 of the slab; failing
         * that, the least wasteful of 1..8 pages. */
        unsigned best_pages = 0;
        size_t best_cap = 0;
        uint64_t best_waste_num = 1, best_waste_den = 0; /* waste fraction */
        for (unsigned k = 1; k <= ANR_SLAB_MAX_PAGES; k++) {
            size_t bytes = k * h->page_size;
            size_t cap = (bytes - ANR_HDR) / size;
            if (cap > max_slices)
                cap = max_slices;
            if (cap > UINT16_MAX)
                cap = UINT16_MAX;
            if (cap == 0)
                continue;
            uint64_t waste = bytes - cap * size;
            if (best_pages == 0 || waste * best_waste_den < best_waste_num * bytes) {
                best_pages = k;
                best_cap = cap;
                best_waste_num = waste;
                best_waste_den = bytes;
            }
            if (waste * 8u <= bytes)
                break;
        }
        if (best_pages == 0)
            return -EINVAL;
        h->classes[i].size = size;
        h->classes[i].capacity = (uint16_t)best_cap;
        h->classes[i].pages = (uint8_t)best_pages;
        h->classes[i].partial = ANR_NONE;
        h->classes[i].spare = ANR_NONE;
    }
    h->nclasses = (unsigned)n;
    h->tc_classes = (unsigned)n;
    h->max_class_size = sizes[n - 1];
    unsigned c = 0;
    for (size_t idx = 0; idx <= h->max_class_size / ANR_GRANULE; idx++) {
        while (h->classes[c].size < idx * ANR_GRANULE)
            c++;
        h->class_of[idx] = (uint8_t)c;
    }
    return 0;
}

int anr_class_for(const struct anr_heap *h, size_t size)
{
    if (size > h->max_class_size)
        return -1;
    return h->class_of[(size + ANR_GRANULE - 1u) / ANR_GRANULE];
}

static void partial_push(struct anr_heap *h, struct anr_class *k, uint32_t head)
{
    struct anr_slab *s = &h->slabs[head];
    s->prev = ANR_NONE;
    s->next = k->partial;
    if (k->partial != ANR_NONE)
        h->slabs[k->partial].prev = head;
    k->partial = head;
    s->on_partial = 1;
}

static void partial_remove(struct anr_heap *h, struct anr_class *k, uint32_t head)
{
    struct anr_slab *s = &h->slabs[head];
    if (s->next != ANR_NONE)
        h->slabs[s->next].prev = s->prev;
    if (s->prev != ANR_NONE)
        h->slabs[s->prev].next = s->next;
    else
        k->partial = s->next;
    s->on_partial = 0;
}

static uint32_t new_slab(struct anr_heap *h, unsigned cls, int *err, uint64_t *shortfall)
{
    struct anr_class *k = &h->classes[cls];
    struct anr_plan plan;
    size_t bytes = (size_t)k->pages * h->page_size;
    if (!anr_chunk_find(h, bytes, h->page_size, ANR_PLACE_SLAB, &plan)) {
        *err = -ENOMEM;
        return ANR_NONE;
    }
    uint64_t need = anr_plan_new_pages(h, &plan);
    if (anr_budget_admit(h, need, plan.x, plan.x + plan.n + ANR_FREE_BOOK, shortfall) != 0) {
        *err = -EAGAIN;
        return ANR_NONE;
    }
    struct anr_chunk *c = anr_chunk_take(h, &plan, ANR_C_SLAB);
    size_t head = anr_page_of(h, anr_chunk_addr(c) + ANR_HDR);
    anr_pm_set(h, head, head + k->pages, ANR_PG_SLAB);
    /* Every page knows its slab and class: a free finds its class with one
     * lookup (the thread cache's fast path). */
    for (size_t p = head; p < head + k->pages; p++) {
        h->slabs[p].head = (uint32_t)head;
        h->slabs[p].cls = (uint8_t)cls;
    }
    struct anr_slab *s = &h->slabs[head];
    s->used = 0;
    s->hint = 0;
    s->cls = (uint8_t)cls;
    s->pages = k->pages;
    s->on_partial = 0;
    uint64_t *bits = anr_slab_bitmap(h, head);
    size_t words = (k->capacity + 63u) / 64u;
    memset(bits, 0, words * sizeof *bits);
    if (k->capacity % 64u != 0)
        bits[words - 1] = ~0ull << (k->capacity % 64u); /* slices past the end */
    return (uint32_t)head;
}

void *anr_slab_alloc(struct anr_heap *h, unsigned cls, int *err, uint64_t *shortfall)
{
    struct anr_class *k = &h->classes[cls];
    uint32_t head = k->partial;
    if (head == ANR_NONE) {
        if (k->spare != ANR_NONE) {
            head = k->spare;
            k->spare = ANR_NONE;
        } else {
            head = new_slab(h, cls, err, shortfall);
            if (head == ANR_NONE)
                return NULL;
        }
        partial_push(h, k, head);
    }
    struct anr_slab *s = &h->slabs[head];
    uint64_t *bits = anr_slab_bitmap(h, head);
    size_t words = (k->capacity + 63u) / 64u;
    size_t w = s->hint;
    while (w < words && bits[w] == ~0ull)
        w++;
    /* A slab on the partial list has a free slice at or after the hint. */
    unsigned b = (unsigned)__builtin_ctzll(~bits[w]);
    bits[w] |= 1ull << b;
    s->hint = (uint16_t)w;
    s->used++;
    if (s->used == k->capacity)
        partial_remove(h, k, head);
    return anr_page_addr(h, head) + (w * 64u + b) * k->size;
}

/* The slab slice p belongs to, checked: NULL when p is not a live slice. */
static struct anr_slab *slice_of(const struct anr_heap *h, const char *p, size_t *index)
{
    size_t page = anr_page_of(h, p);
    if (h->page_state[page] != ANR_PG_SLAB)
        return NULL;
    uint32_t head = h->slabs[page].head;
    struct anr_slab *s = &h->slabs[head];
    const struct anr_class *k = &h->classes[s->cls];
    size_t off = (size_t)(p - anr_page_addr(h, head));
    if (off % k->size != 0 || off / k->size >= k->capacity)
        return NULL;
    size_t i = off / k->size;
    if (!(anr_slab_bitmap(h, head)[i / 64u] & (1ull << (i % 64u))))
        return NULL;
    *index = i;
    return s;
}

static void release_slab(struct anr_heap *h, uint32_t head)
{
    unsigned pages = h->slabs[head].pages;
    /* The pages stop being slab pages; freeing the chunk makes the ones
     * wholly inside the free space DIRTY. */
    anr_pm_set(h, head, head + pages, ANR_PG_USED);
    anr_chunk_release(h, anr_chunk_at(anr_page_addr(h, head) - ANR_HDR));
}

size_t anr_slab_free(struct anr_heap *h, char *p)
{
    size_t i;
    struct anr_slab *s = slice_of(h, p, &i);
    if (s == NULL)
        return 0;
    uint32_t head = (uint32_t)(s - h->slabs);
    struct anr_class *k = &h->classes[s->cls];
    anr_slab_bitmap(h, head)[i / 64u] &= ~(1ull << (i % 64u));
    if (i / 64u < s->hint)
        s->hint = (uint16_t)(i / 64u);
    s->used--;
    if (!s->on_partial)
        partial_push(h, k, head);
    if (s->used == 0) {
        partial_remove(h, k, head);
        if (k->spare == ANR_NONE)
            k->spare = head;
        else
            release_slab(h, head);
    }
    return k->size;
}

size_t anr_slab_usable(const struct anr_heap *h, const char *p)
{
    size_t i;
    const struct anr_slab *s = slice_of(h, p, &i);
    return s == NULL ? 0 : h->classes[s->cls].size;
}

unsigned anr_slab_release_spares(struct anr_heap *h)
{
    unsigned released = 0;
    for (unsigned c = 0; c < h->nclasses; c++) {
        if (h->classes[c].spare != ANR_NONE) {
            release_slab(h, h->classes[c].spare);
            h->classes[c].spare = ANR_NONE;
            released++;
        }
    }
    return released;
}
