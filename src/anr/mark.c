/* mark.c: mark and sweep over a debug-mode heap. Subsystems register
 * markers; a collection clears every live block's mark bit, calls the
 * markers (which mark what they still reach with anr_heap_mark_block), then
 * sweeps: the live blocks left unmarked are reported, grouped by allocation
 * site, and freed unless the caller only wants the report. docs/anr.md
 * ("Mark and sweep") describes it.
 *
 * The mark bit lives in the debug header, so collections need debug mode.
 * Nothing here allocates or maps memory: the markers are a fixed table in
 * the heap, the report uses report.c's site table in the metadata. The
 * markers run without the heap's lock (they may allocate and free); blocks
 * allocated after the collection began are never swept.
 */
#include "anr/heap_internal.h"

#include <errno.h>
#include <string.h>

int anr_heap_register_marker(anr_heap *h, anr_marker_fn mark, void *user)
{
    if (h == NULL || mark == NULL)
        return -EINVAL;
    if (!h->dbg)
        return -EOPNOTSUPP;
    int rc = 0;
    anr_lock(h);
    struct anr_debug *d = &h->d;
    if (d->nmarkers == ANR_DBG_MAX_MARKERS) {
        rc = -ENOSPC;
    } else {
        d->markers[d->nmarkers].fn = mark;
        d->markers[d->nmarkers].user = user;
        d->nmarkers++;
    }
    anr_unlock(h);
    return rc;
}

int anr_heap_unregister_marker(anr_heap *h, anr_marker_fn mark, const void *user)
{
    if (h == NULL || mark == NULL)
        return -EINVAL;
    if (!h->dbg)
        return -EOPNOTSUPP;
    int rc = -ENOENT;
    anr_lock(h);
    struct anr_debug *d = &h->d;
    for (unsigned i = 0; i < d->nmarkers; i++) {
        if (d->markers[i].fn == mark && d->markers[i].user == user) {
            /* Keep the order of the others: markers run as registered. */
            memmove(&d->markers[i], &d->markers[i + 1],
                    (d->nmarkers - i - 1u) * sizeof d->markers[0]);
            d->nmarkers--;
            rc = 0;
            break;
        }
    }
    anr_unlock(h);
    return rc;
}

int anr_heap_mark_block(anr_heap *h, const void *ptr)
{
    if (h == NULL)
        return -EINVAL;
    if (!h->dbg)
        return -EOPNOTSUPP;
    int rc;
    anr_lock(h);
    struct anr_debug *d = &h->d;
    struct anr_dbg_hdr *hd = ptr != NULL ? anr_dbg_live_hdr(h, ptr) : NULL;
    if (!d->collecting) {
        rc = -EINVAL;
    } else if (hd == NULL) {
        d->collect_bad_marks++;
        rc = -ENOENT;
    } else if (hd->flags & ANR_DBG_F_MARKED) {
        rc = 0;
    } else {
        hd->flags |= ANR_DBG_F_MARKED;
        d->collect_marked++;
        rc = 1;
    }
    anr_unlock(h);
    return rc;
}

void anr_mark_fork_child(struct anr_heap *h)
{
    if (h->d.collecting && !pthread_equal(h->d.collector, pthread_self()))
        h->d.collecting = false;
}

static void clear_marks(struct anr_debug *d)
{
    for (struct anr_dbg_hdr *hd = d->live_head; hd != NULL; hd = hd->next)
        hd->flags &= (uint16_t)~ANR_DBG_F_MARKED;
}

static void write_head(struct anr_wr *w, const struct anr_heap *h, enum anr_sweep mode,
                       uint64_t blocks, uint64_t bytes, unsigned sites)
{
    anr_wr_str(w, "anr: collection of heap ");
    anr_wr_hex(w, (uintptr_t)h);
    anr_wr_str(w, ": ");
    anr_wr_u64(w, blocks);
    anr_wr_str(w, " blocks, ");
    anr_wr_u64(w, bytes);
    anr_wr_str(w, mode == ANR_SWEEP_FREE ? " bytes unreachable, freed, " :
                                           " bytes unreachable, kept, ");
    anr_wr_u64(w, sites);
    anr_wr_str(w, " sites\n");
}

int64_t anr_heap_collect(anr_heap *h, enum anr_sweep mode, int report_fd,
                         struct anr_collect_result *out)
{
    if (h == NULL || (mode != ANR_SWEEP_FREE && mode != ANR_SWEEP_REPORT))
        return -EINVAL;
    if (!h->dbg)
        return -EOPNOTSUPP;
    struct anr_debug *d = &h->d;
    struct anr_dbg_marker markers[ANR_DBG_MAX_MARKERS];
    anr_lock(h);
    if (d->collecting) {
        anr_unlock(h);
        return -EBUSY;
    }
    d->collecting = true;
    d->collector = pthread_self();
    d->collect_marked = d->collect_bad_marks = 0;
    clear_marks(d);
    uint64_t last_seq = d->seq; /* younger blocks are spared */
    unsigned nm = d->nmarkers;
    memcpy(markers, d->markers, nm * sizeof markers[0]);
    anr_unlock(h);

    for (unsigned i = 0; i < nm; i++)
        markers[i].fn(h, markers[i].user);

    struct anr_wr w;
    anr_wr_init(&w, report_fd);
    anr_lock(h);
    d->collecting = false;
    uint64_t blocks, bytes, live = 0, young = 0;
    unsigned m = anr_dbg_group_sites(h, ANR_GRP_UNMARKED, last_seq, &blocks, &bytes);
    if (report_fd >= 0) {
        write_head(&w, h, mode, blocks, bytes, m);
        anr_dbg_write_sites(h, &w, m);
    }
    uint64_t freed = 0;
    for (struct anr_dbg_hdr *hd = d->live_head, *next; hd != NULL; hd = next) {
        next = hd->next;
        if (hd->magic != ANR_DBG_LIVE)
            continue;
        live++;
        if (hd->seq > last_seq) {
            young++;
        } else if (!(hd->flags & ANR_DBG_F_MARKED) && mode == ANR_SWEEP_FREE) {
            /* A block with a damaged guard is reported and quarantined by
             * the free, not freed. */
            if (anr_dbg_guard_damage(h, hd) == 0 && !(hd->flags & ANR_DBG_F_REPORTED))
                freed++;
            anr_dbg_free_live_locked(h, hd);
        }
    }
    if (out != NULL) {
        memset(out, 0, sizeof *out);
        out->markers = nm;
        out->live_blocks = live;
        out->marked_blocks = d->collect_marked;
        out->bad_marks = d->collect_bad_marks;
        out->spared_blocks = young;
        out->unreachable_blocks = blocks;
        out->unreachable_bytes = bytes;
        out->freed_blocks = freed;
    }
    anr_unlock(h);
    if (report_fd >= 0) {
        anr_wr_str(&w, "anr: end of collection report\n");
        anr_wr_flush(&w);
        if (w.err != 0)
            return w.err;
    }
    return (int64_t)blocks;
}
