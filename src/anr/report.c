/* report.c: the reports of debug mode, written without stdio, malloc or
 * mmap: a fixed buffer on the stack flushed with write(2). The dump runs in
 * out-of-memory paths and signal handlers, so it never waits for the heap's
 * lock. docs/anr.md ("Reports") shows the formats.
 */
#include "anr/heap_internal.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* ---- the writer ------------------------------------------------------------ */

void anr_wr_init(struct anr_wr *w, int fd)
{
    w->fd = fd;
    w->err = 0;
    w->n = 0;
}

void anr_wr_flush(struct anr_wr *w)
{
    size_t off = 0;
    while (w->fd >= 0 && off < w->n && w->err == 0) {
        ssize_t k = write(w->fd, w->buf + off, w->n - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            w->err = k < 0 ? -errno : -EIO;
        else
            off += (size_t)k;
    }
    if (w->fd >= 0)
        w->n = 0;
}

static void wr_ch(struct anr_wr *w, char c)
{
    if (w->n == sizeof w->buf) {
        if (w->fd < 0)
            return; /* a line longer than the buffer is cut */
        anr_wr_flush(w);
    }
    w->buf[w->n++] = c;
}

void anr_wr_str(struct anr_wr *w, const char *s)
{
    while (*s != '\0')
        wr_ch(w, *s++);
}

static void wr_u64_pad(struct anr_wr *w, uint64_t v, unsigned width)
{
    char tmp[24];
    unsigned n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0);
    while (n < width && n < sizeof tmp)
        tmp[n++] = '0';
    while (n > 0)
        wr_ch(w, tmp[--n]);
}

void anr_wr_u64(struct anr_wr *w, uint64_t v)
{
    wr_u64_pad(w, v, 0);
}

void anr_wr_hex(struct anr_wr *w, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[16];
    unsigned n = 0;
    do {
        tmp[n++] = digits[v & 15u];
        v >>= 4;
    } while (v != 0);
    wr_ch(w, '0');
    wr_ch(w, 'x');
    while (n > 0)
        wr_ch(w, tmp[--n]);
}

static void wr_field(struct anr_wr *w, const char *name, uint64_t v)
{
    wr_ch(w, ' ');
    anr_wr_str(w, name);
    wr_ch(w, ' ');
    anr_wr_u64(w, v);
}

void anr_wr_stack(struct anr_wr *w, const struct anr_dbg_hdr *hd)
{
    if (hd->depth == 0)
        return;
    anr_wr_str(w, " allocated at");
    for (unsigned i = 0; i < hd->depth && i < ANR_DBG_MAX_STACK; i++) {
        wr_ch(w, ' ');
        anr_wr_hex(w, hd->stack[i]);
    }
}

void anr_dbg_send(struct anr_heap *h, struct anr_wr *w)
{
    if (w->n > sizeof w->buf - 2u)
        w->n = sizeof w->buf - 2u; /* cut: room for the newline and the NUL */
    w->buf[w->n++] = '\n';
    if (h->d.report != NULL) {
        w->buf[w->n] = '\0';
        h->d.report(h, w->buf, h->d.report_user);
    } else if (h->d.report_fd >= 0) {
        w->fd = h->d.report_fd;
        anr_wr_flush(w);
    }
}

/* ---- generations and the walk ---------------------------------------------- */

int64_t anr_heap_mark(anr_heap *h)
{
    if (h == NULL || !h->dbg)
        return -EOPNOTSUPP;
    anr_lock(h);
    int64_t g = (int64_t)++h->d.gen;
    anr_unlock(h);
    return g;
}

static void info_of(const struct anr_heap *h, const struct anr_dbg_hdr *hd,
                    struct anr_block_info *b)
{
    b->ptr = anr_dbg_user(h, hd);
    b->size = (size_t)hd->size;
    b->seq = hd->seq;
    b->generation = hd->gen;
    b->depth = hd->depth;
    b->stack = hd->stack;
}

int64_t anr_heap_walk_live(anr_heap *h, uint64_t since, anr_block_fn fn, void *user)
{
    if (h == NULL || !h->dbg)
        return -EOPNOTSUPP;
    anr_lock(h);
    int64_t n = 0;
    for (const struct anr_dbg_hdr *hd = h->d.live_head; hd != NULL; hd = hd->next) {
        if (hd->magic != ANR_DBG_LIVE || hd->gen < since)
            continue;
        struct anr_block_info b;
        info_of(h, hd, &b);
        fn(&b, user);
        n++;
    }
    anr_unlock(h);
    return n;
}

/* ---- grouping by site (lock held) ------------------------------------------ */

static uint32_t site_hash(const struct anr_dbg_hdr *hd)
{
    uint64_t x = 0x9e3779b97f4a7c15ull ^ hd->depth;
    for (unsigned i = 0; i < hd->depth; i++) {
        x ^= (uint64_t)hd->stack[i];
        x *= 0xff51afd7ed558ccdull;
        x ^= x >> 33;
    }
    return (uint32_t)x;
}

static bool same_site(const struct anr_dbg_hdr *a, const struct anr_dbg_hdr *b)
{
    return a->depth == b->depth && memcmp(a->stack, b->stack, a->depth * sizeof a->stack[0]) == 0;
}

static bool site_before(const struct anr_dbg_site *a, const struct anr_dbg_site *b)
{
    if (a->bytes != b->bytes)
        return a->bytes > b->bytes;
    if (a->count != b->count)
        return a->count > b->count;
    return a->first->seq < b->first->seq;
}

static bool chosen(const struct anr_dbg_hdr *hd, enum anr_grp how, uint64_t arg)
{
    if (hd->magic != ANR_DBG_LIVE)
        return false;
    if (how == ANR_GRP_SINCE)
        return hd->gen >= arg;
    return !(hd->flags & ANR_DBG_F_MARKED) && hd->seq <= arg;
}

/* The table's last slot collects the sites that do not fit. */
unsigned anr_dbg_group_sites(struct anr_heap *h, enum anr_grp how, uint64_t arg,
                             uint64_t *blocks, uint64_t *bytes)
{
    struct anr_dbg_site *t = h->d.sites;
    const unsigned slots = ANR_DBG_SITES - 1u;
    memset(t, 0, ANR_DBG_SITES * sizeof *t);
    *blocks = *bytes = 0;
    uint64_t n = 0;
    for (struct anr_dbg_hdr *hd = h->d.live_head; hd != NULL && n < h->d.live_count;
         hd = hd->next, n++) {
        if (!chosen(hd, how, arg))
            continue;
        uint32_t hash = site_hash(hd);
        struct anr_dbg_site *s = &t[slots]; /* "other sites" */
        for (unsigned i = 0; i < slots; i++) {
            struct anr_dbg_site *c = &t[(hash + i) % slots];
            if (!c->used || (c->hash == hash && same_site(c->first, hd))) {
                s = c;
                break;
            }
        }
        if (!s->used) {
            s->used = 1;
            s->hash = hash;
            s->first = hd;
        } else {
            s->last->site_next = hd;
        }
        s->last = hd;
        hd->site_next = NULL;
        s->count++;
        s->bytes += hd->size;
        (*blocks)++;
        *bytes += hd->size;
    }
    unsigned m = 0;
    for (unsigned i = 0; i < ANR_DBG_SITES; i++)
        if (t[i].used)
            t[m++] = t[i];
    for (unsigned i = 1; i < m; i++) { /* insertion sort: reports are rare */
        struct anr_dbg_site x = t[i];
        unsigned j = i;
        for (; j > 0 && site_before(&x, &t[j - 1]); j--)
            t[j] = t[j - 1];
        t[j] = x;
    }
    return m;
}

static void wr_site(struct anr_wr *w, unsigned i, const struct anr_dbg_site *s)
{
    anr_wr_str(w, "site ");
    anr_wr_u64(w, i + 1u);
    anr_wr_str(w, ": ");
    anr_wr_u64(w, s->count);
    anr_wr_str(w, " blocks, ");
    anr_wr_u64(w, s->bytes);
    anr_wr_str(w, " bytes");
    anr_wr_stack(w, s->first);
    wr_ch(w, '\n');
}

void anr_dbg_write_sites(struct anr_heap *h, struct anr_wr *w, unsigned m)
{
    for (unsigned i = 0; i < m; i++) {
        const struct anr_dbg_site *s = &h->d.sites[i];
        wr_site(w, i, s);
        for (const struct anr_dbg_hdr *hd = s->first; hd != NULL; hd = hd->site_next) {
            anr_wr_str(w, "  block ");
            anr_wr_hex(w, (uintptr_t)anr_dbg_user(h, hd));
            wr_field(w, "size", hd->size);
            anr_wr_str(w, " allocation #");
            anr_wr_u64(w, hd->seq);
            wr_ch(w, '\n');
        }
    }
}

int64_t anr_heap_report_leaks(anr_heap *h, int fd)
{
    if (h == NULL || !h->dbg)
        return -EOPNOTSUPP;
    struct anr_wr w;
    anr_wr_init(&w, fd);
    anr_lock(h);
    uint64_t since = h->d.gen, blocks, bytes;
    unsigned m = anr_dbg_group_sites(h, ANR_GRP_SINCE, since, &blocks, &bytes);
    anr_wr_str(&w, "anr: leak report for heap ");
    anr_wr_hex(&w, (uintptr_t)h);
    anr_wr_str(&w, ": ");
    anr_wr_u64(&w, blocks);
    anr_wr_str(&w, " blocks, ");
    anr_wr_u64(&w, bytes);
    anr_wr_str(&w, " bytes live since generation ");
    anr_wr_u64(&w, since);
    anr_wr_str(&w, ", ");
    anr_wr_u64(&w, m);
    anr_wr_str(&w, " sites\n");
    anr_dbg_write_sites(h, &w, m);
    anr_unlock(h);
    anr_wr_str(&w, "anr: end of leak report\n");
    anr_wr_flush(&w);
    return w.err != 0 ? w.err : (int64_t)blocks;
}

/* ---- the dump ------------------------------------------------------------------ */

static const char *op_name(uint32_t op)
{
    switch (op) {
    case ANR_OP_MALLOC: return "malloc";
    case ANR_OP_CALLOC: return "calloc";
    case ANR_OP_REALLOC: return "realloc";
    case ANR_OP_MEMALIGN: return "memalign";
    case ANR_OP_FREE: return "free";
    case ANR_OP_BAD_FREE: return "bad-free";
    case ANR_OP_GUARD: return "guard-fault";
    default: return "?";
    }
}

#define DUMP_SITES 16u

int anr_heap_dump(anr_heap *h, int fd)
{
    if (h == NULL)
        return -EINVAL;
    struct anr_wr w;
    anr_wr_init(&w, fd);
    bool locked = anr_trylock(h);
    struct anr_stats s;
    anr_stats_locked(h, &s);
    anr_wr_str(&w, "anr: dump of heap ");
    anr_wr_hex(&w, (uintptr_t)h);
    anr_wr_str(&w, locked ? "\n" : " (heap busy: figures read without its lock)\n");
    anr_wr_str(&w, "bytes:");
    wr_field(&w, "budget", s.budget_bytes);
    wr_field(&w, "hard_limit", s.hard_limit_bytes);
    wr_field(&w, "map", s.map_bytes);
    wr_field(&w, "metadata", s.metadata_bytes);
    wr_field(&w, "resident", s.resident_bytes);
    wr_field(&w, "reclaimable", s.reclaimable_bytes);
    wr_field(&w, "in_use", s.in_use_bytes);
    wr_field(&w, "peak_in_use", s.peak_in_use_bytes);
    wr_field(&w, "peak_resident", s.peak_resident_bytes);
    wr_field(&w, "thread_cached", s.thread_cached_bytes);
    anr_wr_str(&w, "\ncounts:");
    wr_field(&w, "live_blocks", s.live_blocks);
    wr_field(&w, "mallocs", s.mallocs);
    wr_field(&w, "callocs", s.callocs);
    wr_field(&w, "reallocs", s.reallocs);
    wr_field(&w, "memaligns", s.memaligns);
    wr_field(&w, "frees", s.frees);
    wr_field(&w, "failures", s.failures);
    wr_field(&w, "callback_calls", s.callback_calls);
    wr_field(&w, "invalid_frees", s.invalid_frees);
    wr_field(&w, "guard_faults", s.guard_faults);
    wr_field(&w, "madvise_calls", s.madvise_calls);
    wr_field(&w, "pages_returned", s.pages_returned);
    wr_ch(&w, '\n');
    if (!h->dbg) {
        anr_wr_str(&w, "debug mode off: no sites, no flight recorder\n");
    } else if (!locked) {
        anr_wr_str(&w, "sites: skipped (heap busy)\n");
    } else {
        uint64_t blocks, bytes;
        unsigned m = anr_dbg_group_sites(h, ANR_GRP_SINCE, 0, &blocks, &bytes);
        anr_wr_str(&w, "sites: ");
        anr_wr_u64(&w, m < DUMP_SITES ? m : DUMP_SITES);
        anr_wr_str(&w, " largest of ");
        anr_wr_u64(&w, m);
        anr_wr_str(&w, " (");
        anr_wr_u64(&w, blocks);
        anr_wr_str(&w, " blocks, ");
        anr_wr_u64(&w, bytes);
        anr_wr_str(&w, " bytes)\n");
        for (unsigned i = 0; i < m && i < DUMP_SITES; i++)
            wr_site(&w, i, &h->d.sites[i]);
    }
    const struct anr_debug *d = &h->d;
    if (h->dbg && d->fr_size > 0) {
        uint64_t total = d->fr_next;
        uint64_t have = total < d->fr_size ? total : d->fr_size;
        anr_wr_str(&w, "flight recorder: last ");
        anr_wr_u64(&w, have);
        anr_wr_str(&w, " of ");
        anr_wr_u64(&w, total);
        anr_wr_str(&w, " operations, oldest first\n");
        for (uint64_t i = total - have; i < total; i++) {
            const struct anr_flight_entry *e = &d->fr[i % d->fr_size];
            anr_wr_str(&w, "  #");
            anr_wr_u64(&w, e->seq);
            anr_wr_str(&w, " t ");
            anr_wr_u64(&w, e->time_ns / 1000000000u);
            wr_ch(&w, '.');
            wr_u64_pad(&w, e->time_ns % 1000000000u, 9);
            wr_field(&w, "tid", e->tid);
            wr_ch(&w, ' ');
            anr_wr_str(&w, op_name(e->op));
            wr_ch(&w, ' ');
            anr_wr_hex(&w, e->ptr);
            wr_field(&w, "size", e->size);
            if (e->old_ptr != 0) {
                anr_wr_str(&w, " from ");
                anr_wr_hex(&w, e->old_ptr);
            }
            wr_ch(&w, '\n');
        }
    }
    if (locked)
        anr_unlock(h);
    anr_wr_str(&w, "anr: end of dump\n");
    anr_wr_flush(&w);
    return w.err;
}

/* ---- one debug connection ------------------------------------------------------- */

int anr_heap_debug_serve(anr_heap *h, int fd)
{
    if (h == NULL || fd < 0)
        return -EINVAL;
    int rc = anr_heap_dump(h, fd);
    if (rc != 0)
        return rc;
    int64_t n = anr_heap_report_leaks(h, fd);
    if (n == -EOPNOTSUPP) {
        struct anr_wr w;
        anr_wr_init(&w, fd);
        anr_wr_str(&w, "anr: no leak report: debug mode off\n");
        anr_wr_flush(&w);
        return w.err;
    }
    return n < 0 ? (int)n : 0;
}
