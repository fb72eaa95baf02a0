/* report.c: gmalloc's text report, the out-of-memory path and the dump
 * signal.
 *
 * Everything here writes with write(2) from a stack buffer (mb_strbuf):
 * no stdio, no allocation, so it works when the heap is exhausted and, in
 * its lock-free form, inside a signal handler.
 */
#include "gmalloc/gm_internal.h"

#include "anr/heap_internal.h"
#include "common/strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void gm_write_all(int fd, const char *msg, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, msg, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        msg += n;
        len -= (size_t)n;
    }
}

static void append_hex(struct mb_strbuf *sb, uintptr_t v)
{
    char digits[2 + 2 * sizeof v + 1];
    size_t i = sizeof digits - 1u;
    digits[i] = '\0';
    do {
        digits[--i] = "0123456789abcdef"[v & 15u];
        v >>= 4;
    } while (v != 0 && i > 2);
    digits[--i] = 'x';
    digits[--i] = '0';
    mb_strbuf_append(sb, digits + i);
}

static void line(struct mb_strbuf *sb, const char *name, uint64_t v)
{
    mb_strbuf_append(sb, name);
    mb_strbuf_append_char(sb, ' ');
    mb_strbuf_append_u64(sb, v);
    mb_strbuf_append_char(sb, '\n');
}

/* The counters read without the lock: figures may be a moment apart, but
 * reading never blocks (the signal may have stopped the lock's holder). */
static void stats_lockfree(const struct anr_heap *h, struct anr_stats *s)
{
    memset(s, 0, sizeof *s);
    const volatile struct anr_heap *v = h;
    uint64_t pg = h->page_size;
    s->page_size = pg;
    s->map_bytes = h->arena_bytes;
    s->metadata_bytes = h->meta_bytes;
    s->budget_bytes = v->budget_pages * pg;
    s->hard_limit_bytes = v->hard_limit_pages * pg;
    s->in_use_bytes = v->st.in_use_bytes;
    s->live_blocks = v->st.live_blocks;
    s->resident_bytes = (v->count[ANR_PG_DIRTY] + v->count[ANR_PG_USED] + v->count[ANR_PG_SLAB]) * pg;
    s->reclaimable_bytes = v->count[ANR_PG_DIRTY] * pg;
    s->peak_in_use_bytes = v->st.peak_in_use;
    s->peak_resident_bytes = v->st.peak_resident * pg;
    s->mallocs = v->st.mallocs;
    s->callocs = v->st.callocs;
    s->reallocs = v->st.reallocs;
    s->memaligns = v->st.memaligns;
    s->frees = v->st.frees;
    s->failures = v->st.failures;
    s->deferred_frees = v->st.deferred_frees;
    s->invalid_frees = v->st.invalid_frees;
    s->madvise_calls = v->st.madvise_calls;
    s->pages_returned = v->st.pages_returned;
}

int gm_report_write(int fd, const char *title, bool lockfree)
{
    anr_heap *h = atomic_load_explicit(&gm_heap, memory_order_acquire);
    if (h == NULL)
        return -ENODEV;
    struct anr_stats s;
    if (lockfree)
        stats_lockfree(h, &s);
    else
        anr_heap_get_stats(h, &s);
    char buf[3072];
    struct mb_strbuf sb;
    mb_strbuf_init(&sb, buf, sizeof buf);
    mb_strbuf_append(&sb, "gmalloc report: ");
    mb_strbuf_append(&sb, title);
    mb_strbuf_append(&sb, lockfree ? " (counters read without the lock)\n" : "\n");
    line(&sb, "pid", (uint64_t)getpid());
    mb_strbuf_append(&sb, "config ");
    mb_strbuf_append(&sb, gm_set.source[0] ? gm_set.source : "(none: built-in defaults)");
    mb_strbuf_append(&sb, atomic_load(&gm_count.config_rejected) ? " (rejected)\n" : "\n");
    line(&sb, "map_size", gm_set.map_size);
    line(&sb, "hard_limit", gm_set.hard_limit);
    line(&sb, "pool_size", gm_set.pool_size);
    line(&sb, "page_ceiling", gm_set.page_ceiling);
    line(&sb, "thread_cache", gm_set.thread_cache);
    line(&sb, "budget_bytes", s.budget_bytes);
    line(&sb, "resident_bytes", s.resident_bytes);
    line(&sb, "in_use_bytes", s.in_use_bytes);
    line(&sb, "live_blocks", s.live_blocks);
    line(&sb, "reclaimable_bytes", s.reclaimable_bytes);
    line(&sb, "thread_cached_bytes", s.thread_cached_bytes);
    line(&sb, "peak_in_use_bytes", s.peak_in_use_bytes);
    line(&sb, "peak_resident_bytes", s.peak_resident_bytes);
    line(&sb, "metadata_bytes", s.metadata_bytes);
    line(&sb, "mallocs", s.mallocs);
    line(&sb, "callocs", s.callocs);
    line(&sb, "reallocs", s.reallocs);
    line(&sb, "memaligns", s.memaligns);
    line(&sb, "frees", s.frees);
    line(&sb, "failures", s.failures);
    line(&sb, "deferred_frees", s.deferred_frees);
    line(&sb, "invalid_frees", s.invalid_frees);
    line(&sb, "madvise_calls", s.madvise_calls);
    line(&sb, "pages_returned", s.pages_returned);
    line(&sb, "foreign_frees", atomic_load(&gm_count.foreign_frees));
    line(&sb, "foreign_reallocs", atomic_load(&gm_count.foreign_reallocs));
    line(&sb, "oom_failures", atomic_load(&gm_count.oom_failures));
    uint64_t bb, bn;
    gm_boot_usage(&bb, &bn);
    line(&sb, "bootstrap_blocks", bb);
    line(&sb, "bootstrap_bytes", bn);
    mb_strbuf_append(&sb, "end of gmalloc report\n");
    int saved = errno;
    errno = 0;
    gm_write_all(fd, buf, sb.len);
    int rc = errno != 0 ? -errno : 0;
    errno = saved;
    return rc;
}

static int open_dump(void)
{
    if (gm_set.dump_file[0] == '\0')
        return 2;
    int fd = open(gm_set.dump_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    return fd >= 0 ? fd : 2;
}

static _Atomic(bool) oom_dumped;

void gm_oom(size_t size, const void *caller)
{
    atomic_fetch_add_explicit(&gm_count.oom_failures, 1, memory_order_relaxed);
    bool svc = gm_set.svc_err_on_oom;
    if (!svc && !(gm_set.dump_debug_on_oom && !atomic_exchange(&oom_dumped, true))) {
        errno = ENOMEM;
        return;
    }
    char title[160];
    struct mb_strbuf sb;
    mb_strbuf_init(&sb, title, sizeof title);
    mb_strbuf_append(&sb, "out of memory: request of ");
    mb_strbuf_append_u64(&sb, size);
    mb_strbuf_append(&sb, " bytes from ");
    append_hex(&sb, (uintptr_t)caller);
    int fd = open_dump();
    gm_report_write(fd, title, false);
    anr_heap *h = atomic_load_explicit(&gm_heap, memory_order_acquire);
    if (h != NULL)
        anr_heap_dump(h, fd); /* statistics, largest sites, flight recorder */
    if (fd != 2) {
        close(fd);
        char msg[400];
        struct mb_strbuf mb;
        mb_strbuf_init(&mb, msg, sizeof msg);
        mb_strbuf_append(&mb, "gmalloc: ");
        mb_strbuf_append(&mb, title);
        mb_strbuf_append(&mb, "; report written to ");
        mb_strbuf_append(&mb, gm_set.dump_file);
        mb_strbuf_append_char(&mb, '\n');
        gm_write_all(2, msg, mb.len);
    }
    if (svc) {
        static const char msg[] = "gmalloc: SVC_ERR_ON_OOM is set: aborting\n";
        gm_write_all(2, msg, sizeof msg - 1u);
        abort();
    }
    errno = ENOMEM;
}

static void on_dump_signal(int sig)
{
    (void)sig;
    int saved = errno;
    int fd = open_dump();
    gm_report_write(fd, "dump signal", true);
    anr_heap *h = atomic_load_explicit(&gm_heap, memory_order_acquire);
    if (h != NULL)
        anr_heap_dump(h, fd); /* never blocks on the heap's lock */
    if (fd != 2)
        close(fd);
    errno = saved;
}

void gm_report_install_signal(void)
{
    if (gm_set.dump_signal <= 0)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_dump_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(gm_set.dump_signal, &sa, NULL) != 0) {
        static const char msg[] = "gmalloc: DUMP_SIGNAL: cannot install the handler\n";
        gm_write_all(2, msg, sizeof msg - 1u);
    }
}
