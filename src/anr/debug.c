/* debug.c: debug mode. Every block carries a header (allocation number,
 * generation, size, call stack) and optional guards, the live blocks form
 * a list in allocation order, and every operation can be written to the
 * flight recorder. heap_internal.h draws the block layout; docs/anr.md
 * ("Debugging") describes the behaviour.
 *
 * All of it lives in the heap's reservation: headers and guards inside the
 * blocks the core hands out, the flight recorder ring and the report's site
 * table in the metadata laid out at creation. Debug calls take the heap's
 * lock (a debug free may wait for it, unlike a plain free).
 */
#include "anr/heap_internal.h"
#include "anr/vg.h"

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

bool anr_dbg_wanted(const struct anr_options *o)
{
    return o->guard_words > 0 || o->fill_with_trash || o->stack_depth > 0 ||
           o->flight_recorder_entries > 0 || o->client_debug_bytes > 0;
}

int anr_dbg_check(const struct anr_options *o)
{
    if (o->guard_words > ANR_DBG_MAX_GUARD || o->stack_depth > ANR_DBG_MAX_STACK ||
        o->flight_recorder_entries > ANR_DBG_MAX_FLIGHT ||
        o->client_debug_bytes > ANR_DBG_MAX_CLIENT)
        return -EINVAL;
    return 0;
}

static size_t fr_bytes(const struct anr_options *o)
{
    return anr_round_up((size_t)o->flight_recorder_entries * sizeof(struct anr_flight_entry), 64);
}

size_t anr_dbg_meta_bytes(const struct anr_options *o)
{
    return fr_bytes(o) + ANR_DBG_SITES * sizeof(struct anr_dbg_site);
}

void anr_dbg_init(struct anr_heap *h, const struct anr_options *o, char *meta)
{
    struct anr_debug *d = &h->d;
    h->dbg = 1;
    h->slow = 1;
    /* Guards are whole words, rounded up to 8 bytes so the headers of
     * 32-bit builds keep their 64-bit fields aligned. */
    d->guard_bytes = anr_round_up((size_t)o->guard_words * sizeof(uintptr_t), 8);
    d->stack_depth = o->stack_depth;
    size_t base = offsetof(struct anr_dbg_hdr, stack) + (size_t)o->stack_depth * sizeof(uintptr_t);
    d->hdr_bytes = anr_round_up(base, 8);
    if (o->client_debug_bytes > 0) {
        /* The client's area follows the stack, 16-byte aligned: header and
         * guard together are a multiple of 16, so the header (which ends
         * where the front guard starts, 16-aligned user memory minus the
         * guard) is 16-aligned too. */
        d->client_off = anr_round_up(base, 16);
        d->client_bytes = o->client_debug_bytes;
        d->hdr_bytes = anr_round_up(d->client_off + d->client_bytes + d->guard_bytes, 16) -
                       d->guard_bytes;
    }
    d->trash = o->fill_with_trash;
    d->report = o->report;
    d->report_user = o->report_user;
    d->report_fd = o->report_fd;
    d->fr = (struct anr_flight_entry *)(void *)meta;
    d->fr_size = o->flight_recorder_entries;
    d->sites = (struct anr_dbg_site *)(void *)(meta + fr_bytes(o));
}

/* ---- the flight recorder ------------------------------------------------ */

static void fr_add(struct anr_heap *h, enum anr_op op, const void *ptr, const void *old,
                   uint64_t size)
{
    struct anr_debug *d = &h->d;
    if (d->fr_size == 0)
        return;
    struct anr_flight_entry *e = &d->fr[d->fr_next % d->fr_size];
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    e->seq = ++d->fr_next;
    e->time_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    e->ptr = (uintptr_t)ptr;
    e->old_ptr = (uintptr_t)old;
    e->size = size;
    e->tid = (uint32_t)syscall(SYS_gettid);
    e->op = (uint32_t)op;
}

size_t anr_heap_flight_recorder(anr_heap *h, struct anr_flight_entry *out, size_t max)
{
    if (h == NULL || !h->dbg)
        return 0;
    anr_lock(h);
    const struct anr_debug *d = &h->d;
    uint64_t have = d->fr_next < d->fr_size ? d->fr_next : d->fr_size;
    size_t n = have < max ? (size_t)have : max;
    for (size_t i = 0; i < n; i++)
        out[i] = d->fr[(d->fr_next - n + i) % d->fr_size];
    anr_unlock(h);
    return n;
}

/* ---- headers, guards and the live list ---------------------------------- */

static struct anr_dbg_hdr *hdr_of_user(const struct anr_heap *h, const char *user)
{
    return (struct anr_dbg_hdr *)(void *)(user - h->d.guard_bytes - h->d.hdr_bytes);
}

static void write_guards(const struct anr_heap *h, char *user, size_t size)
{
    size_t g = h->d.guard_bytes;
    if (g == 0)
        return;
    memset(user - g, (int)ANR_GUARD_BYTE, g);
    memset(user + size, (int)ANR_GUARD_BYTE, g);
}

static bool all_guard(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ANR_GUARD_BYTE)
            return false;
    return true;
}

unsigned anr_dbg_guard_damage(const struct anr_heap *h, const struct anr_dbg_hdr *hd)
{
    size_t g = h->d.guard_bytes;
    if (g == 0)
        return 0;
    const unsigned char *user = (const unsigned char *)anr_dbg_user(h, hd);
    return (all_guard(user - g, g) ? 0u : 1u) | (all_guard(user + hd->size, g) ? 0u : 2u);
}

static void live_link(struct anr_debug *d, struct anr_dbg_hdr *hd)
{
    hd->next = NULL;
    hd->prev = d->live_tail;
    if (d->live_tail != NULL)
        d->live_tail->next = hd;
    else
        d->live_head = hd;
    d->live_tail = hd;
    d->live_count++;
}

static void live_unlink(struct anr_debug *d, struct anr_dbg_hdr *hd)
{
    if (hd->prev != NULL)
        hd->prev->next = hd->next;
    else
        d->live_head = hd->next;
    if (hd->next != NULL)
        hd->next->prev = hd->prev;
    else
        d->live_tail = hd->prev;
    d->live_count--;
}

static bool in_arena(const struct anr_heap *h, const void *p)
{
    uintptr_t u = (uintptr_t)p, a = (uintptr_t)h->arena;
    return u >= a && u - a < h->arena_bytes;
}

/* What a pointer passed to free or realloc is (lock held). */
enum which { W_LIVE, W_QUARANTINED, W_FREED, W_NOT_OURS };

static enum which classify(const struct anr_heap *h, const char *user, struct anr_dbg_hdr **out)
{
    const struct anr_debug *d = &h->d;
    *out = NULL;
    if (!in_arena(h, user) || (uintptr_t)user % ANR_GRANULE != 0 ||
        (size_t)(user - h->arena) < d->guard_bytes + d->hdr_bytes + ANR_HDR)
        return W_NOT_OURS;
    struct anr_dbg_hdr *hd = hdr_of_user(h, user);
    uint32_t magic = hd->magic;
    if (magic != ANR_DBG_LIVE && magic != ANR_DBG_QUAR && magic != ANR_DBG_FREED)
        return W_NOT_OURS;
    size_t off = hd->offset;
    if (off < d->guard_bytes + d->hdr_bytes || (size_t)(user - h->arena) < off + ANR_HDR)
        return W_NOT_OURS;
    *out = hd;
    if (magic == ANR_DBG_FREED)
        return W_FREED;
    /* A live block: its inner block is live and large enough, and it is on
     * the list. */
    size_t usable = anr_core_usable_locked(h, user - off);
    if (usable < off || hd->size > usable - off || d->guard_bytes > usable - off - hd->size)
        return W_NOT_OURS;
    bool listed = hd->prev != NULL ? in_arena(h, hd->prev) && hd->prev->next == hd
                                   : d->live_head == hd;
    if (!listed)
        return W_NOT_OURS;
    return magic == ANR_DBG_LIVE ? W_LIVE : W_QUARANTINED;
}

/* ---- reports -------------------------------------------------------------- */

static void report_head(struct anr_heap *h, struct anr_wr *w)
{
    anr_wr_init(w, -1);
    anr_wr_str(w, "anr: heap ");
    anr_wr_hex(w, (uintptr_t)h);
    anr_wr_str(w, ": ");
}

static void report_block(struct anr_wr *w, const char *user, const struct anr_dbg_hdr *hd)
{
    anr_wr_str(w, "block ");
    anr_wr_hex(w, (uintptr_t)user);
    anr_wr_str(w, " (size ");
    anr_wr_u64(w, hd->size);
    anr_wr_str(w, ", allocation #");
    anr_wr_u64(w, hd->seq);
    anr_wr_str(w, ")");
    anr_wr_stack(w, hd);
}

/* Counts, records and reports damage to hd's guards once. Lock held. */
static void guard_fault(struct anr_heap *h, struct anr_dbg_hdr *hd, unsigned damage)
{
    if (hd->flags & ANR_DBG_F_REPORTED)
        return;
    hd->flags |= ANR_DBG_F_REPORTED;
    h->d.guard_faults++;
    char *user = anr_dbg_user(h, hd);
    fr_add(h, ANR_OP_GUARD, user, NULL, hd->size);
    struct anr_wr w;
    report_head(h, &w);
    anr_wr_str(&w, damage == 1 ? "guard damaged before " : damage == 2 ? "guard damaged after "
                                                                       : "guards damaged around ");
    report_block(&w, user, hd);
    anr_dbg_send(h, &w);
}

static void bad_free(struct anr_heap *h, const char *ptr, enum which what,
                     const struct anr_dbg_hdr *hd)
{
    h->st.invalid_frees++;
    fr_add(h, ANR_OP_BAD_FREE, ptr, NULL, 0);
    struct anr_wr w;
    report_head(h, &w);
    if (what == W_FREED || what == W_QUARANTINED) {
        anr_wr_str(&w, "double free of ");
        report_block(&w, ptr, hd);
    } else {
        anr_wr_str(&w, "free of ");
        anr_wr_hex(&w, (uintptr_t)ptr);
        anr_wr_str(&w, ", not a live block");
    }
    anr_dbg_send(h, &w);
}

/* ---- allocation and free -------------------------------------------------- */

static enum anr_op op_of(enum anr_kind kind)
{
    switch (kind) {
    case ANR_KIND_CALLOC: return ANR_OP_CALLOC;
    case ANR_KIND_REALLOC: return ANR_OP_REALLOC;
    case ANR_KIND_MEMALIGN: return ANR_OP_MEMALIGN;
    case ANR_KIND_MALLOC: break;
    }
    return ANR_OP_MALLOC;
}

/* The allocation; `old` is realloc's block (recorded with the new one). */
static void *dbg_alloc(struct anr_heap *h, size_t size, size_t align, enum anr_kind kind,
                       bool may_ask, const void *ra, const void *old)
{
    struct anr_debug *d = &h->d;
    size_t a = align < ANR_GRANULE ? ANR_GRANULE : align;
    size_t g = d->guard_bytes;
    size_t pre = anr_round_up(d->hdr_bytes + g, a);
    size_t inner_size;
    /* Too large for the arena: the core fails it with ENOMEM and counts it. */
    if (pre > UINT32_MAX || __builtin_add_overflow(size, pre + g, &inner_size))
        inner_size = SIZE_MAX;
    uintptr_t frames[ANR_DBG_MAX_STACK];
    unsigned depth = anr_stack_capture(frames, d->stack_depth, ra);
    if (h->vg)
        anr_vg_quiet_begin(); /* the core's own accesses (vg.h) */
    char *inner = anr_core_allocate(h, inner_size, a, kind, may_ask);
    if (h->vg)
        anr_vg_quiet_end();
    if (inner == NULL)
        return NULL;
    char *user = inner + pre;
    struct anr_dbg_hdr *hd = hdr_of_user(h, user);
    anr_lock(h);
    hd->magic = ANR_DBG_LIVE;
    hd->offset = (uint32_t)pre;
    hd->size = size;
    hd->seq = ++d->seq;
    hd->gen = d->gen;
    hd->site_next = NULL;
    hd->depth = (uint16_t)depth;
    hd->flags = 0;
    hd->op = (uint32_t)op_of(kind);
    if (depth > 0)
        memcpy(hd->stack, frames, depth * sizeof frames[0]);
    if (d->client_bytes > 0)
        memset((char *)hd + d->client_off, 0, d->client_bytes);
    live_link(d, hd);
    write_guards(h, user, size);
    if (d->trash && kind != ANR_KIND_CALLOC)
        memset(user, (int)ANR_TRASH_ALLOC, size);
    fr_add(h, op_of(kind), user, old, size);
    /* Under the lock: no other thread can hand this memory out meanwhile. */
    if (h->vg) {
        anr_vg_alloc(h, user, size);
        /* The client's area is the program's to use while the block lives. */
        if (d->client_bytes > 0)
            ANR_VG_DEFINED((char *)hd + d->client_off, d->client_bytes);
    }
    anr_unlock(h);
    return user;
}

void *anr_dbg_allocate(struct anr_heap *h, size_t size, size_t align, enum anr_kind kind,
                       bool may_ask, const void *ra)
{
    return dbg_alloc(h, size, align, kind, may_ask, ra, NULL);
}

/* Frees live block hd (lock held). A block with damaged guards is reported
 * and kept out of use: it stays allocated in the core, on the live list as
 * quarantined, so verify keeps showing the damage. */
static void free_live(struct anr_heap *h, struct anr_dbg_hdr *hd, bool record)
{
    char *user = anr_dbg_user(h, hd);
    unsigned damage = anr_dbg_guard_damage(h, hd);
    if (record)
        fr_add(h, ANR_OP_FREE, user, NULL, hd->size);
    if (h->vg) {
        anr_vg_free(h, user);
        if (h->d.client_bytes > 0)
            ANR_VG_NOACCESS((char *)hd + h->d.client_off, h->d.client_bytes);
    }
    if (damage != 0 || (hd->flags & ANR_DBG_F_REPORTED)) {
        guard_fault(h, hd, damage);
        hd->magic = ANR_DBG_QUAR;
        return;
    }
    if (h->d.trash)
        memset(user, (int)ANR_TRASH_FREE, (size_t)hd->size);
    live_unlink(&h->d, hd);
    hd->magic = ANR_DBG_FREED;
    anr_core_free_locked(h, user - hd->offset);
    anr_reclaim_auto(h);
}

void anr_dbg_free_live_locked(struct anr_heap *h, struct anr_dbg_hdr *hd)
{
    free_live(h, hd, true);
}

struct anr_dbg_hdr *anr_dbg_live_hdr(const struct anr_heap *h, const void *p)
{
    struct anr_dbg_hdr *hd;
    return classify(h, p, &hd) == W_LIVE ? hd : NULL;
}

void anr_dbg_free(struct anr_heap *h, void *ptr)
{
    anr_lock(h);
    struct anr_dbg_hdr *hd;
    enum which what = classify(h, ptr, &hd);
    if (what == W_LIVE)
        free_live(h, hd, true);
    else
        bad_free(h, ptr, what, hd);
    anr_unlock(h);
}

void *anr_dbg_realloc(struct anr_heap *h, void *ptr, size_t size, const void *ra)
{
    if (ptr == NULL)
        return dbg_alloc(h, size, ANR_GRANULE, ANR_KIND_REALLOC, true, ra, NULL);
    if (size == 0) {
        anr_dbg_free(h, ptr);
        return NULL;
    }
    anr_lock(h);
    struct anr_dbg_hdr *hd;
    enum which what = classify(h, ptr, &hd);
    if (what != W_LIVE) {
        bad_free(h, ptr, what, hd);
        h->st.failures++;
        anr_unlock(h);
        errno = EINVAL;
        return NULL;
    }
    unsigned damage = anr_dbg_guard_damage(h, hd);
    if (damage != 0)
        guard_fault(h, hd, damage);
    size_t old = (size_t)hd->size;
    anr_unlock(h);
    /* Always moves: a stale pointer to the old block then reads trash. */
    void *q = dbg_alloc(h, size, ANR_GRANULE, ANR_KIND_REALLOC, true, ra, ptr);
    if (q == NULL)
        return NULL;
    memcpy(q, ptr, old < size ? old : size);
    anr_lock(h);
    /* The old block, unless another thread freed it meanwhile; the client's
     * area moves with the data. */
    if (classify(h, ptr, &hd) == W_LIVE) {
        struct anr_dbg_hdr *nh = anr_dbg_live_hdr(h, q);
        if (h->d.client_bytes > 0 && nh != NULL)
            memcpy((char *)nh + h->d.client_off, (char *)hd + h->d.client_off,
                   h->d.client_bytes);
        free_live(h, hd, false);
    }
    anr_unlock(h);
    return q;
}

size_t anr_dbg_usable(struct anr_heap *h, const void *ptr)
{
    anr_lock(h);
    struct anr_dbg_hdr *hd;
    size_t n = classify(h, ptr, &hd) == W_LIVE ? (size_t)hd->size : 0;
    anr_unlock(h);
    return n;
}

void *anr_heap_debug_area(anr_heap *h, const void *ptr, size_t *len)
{
    void *area = NULL;
    if (h != NULL && h->dbg && h->d.client_bytes > 0 && ptr != NULL) {
        anr_lock(h);
        struct anr_dbg_hdr *hd = anr_dbg_live_hdr(h, ptr);
        if (hd != NULL)
            area = (char *)hd + h->d.client_off;
        anr_unlock(h);
    }
    if (len != NULL)
        *len = area != NULL ? h->d.client_bytes : 0;
    return area;
}

/* ---- verify ----------------------------------------------------------------- */

static int vfault(char *buf, size_t len, const char *what, const void *p, uint64_t n)
{
    struct anr_wr w;
    anr_wr_init(&w, -1);
    anr_wr_str(&w, what);
    anr_wr_hex(&w, (uintptr_t)p);
    anr_wr_str(&w, " (size ");
    anr_wr_u64(&w, n);
    anr_wr_str(&w, ")");
    if (len > 0) {
        size_t k = w.n < len - 1 ? w.n : len - 1;
        memcpy(buf, w.buf, k);
        buf[k] = '\0';
    }
    return -EFAULT;
}

int anr_dbg_verify_locked(struct anr_heap *h, char *buf, size_t len)
{
    struct anr_debug *d = &h->d;
    uint64_t n = 0, last_seq = 0;
    const struct anr_dbg_hdr *prev = NULL;
    for (struct anr_dbg_hdr *hd = d->live_head; hd != NULL; prev = hd, hd = hd->next) {
        if (!in_arena(h, hd) || (uintptr_t)hd % 8u != 0)
            return vfault(buf, len, "debug list: entry outside the arena at ", hd, n);
        char *user = anr_dbg_user(h, hd);
        if ((hd->magic != ANR_DBG_LIVE && hd->magic != ANR_DBG_QUAR) || hd->prev != prev ||
            hd->seq <= last_seq || ++n > d->live_count)
            return vfault(buf, len, "debug header damaged: block ", user, hd->size);
        size_t usable = anr_core_usable_locked(h, user - hd->offset);
        if (usable < hd->offset + d->guard_bytes || hd->size > usable - hd->offset - d->guard_bytes)
            return vfault(buf, len, "debug header does not fit its block: block ", user,
                          hd->size);
        unsigned damage = anr_dbg_guard_damage(h, hd);
        if (damage != 0 || hd->magic == ANR_DBG_QUAR) {
            guard_fault(h, hd, damage);
            return vfault(buf, len,
                          damage == 1   ? "guard damaged before block "
                          : damage == 2 ? "guard damaged after block "
                          : damage == 3 ? "guards damaged around block "
                                        : "freed with a damaged guard: block ",
                          user, hd->size);
        }
        last_seq = hd->seq;
    }
    if (prev != d->live_tail || n != d->live_count)
        return vfault(buf, len, "debug list: tail or count wrong at ", prev, n);
    return 0;
}
