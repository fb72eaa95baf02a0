/* evidence.c: see evidence.h.
 *
 * Everything on the collection path writes through preallocated buffers
 * with open/write/fsync/renameat and formats with snprintf (which does not
 * allocate for the integer and string conversions used here). Directory
 * listings use getdents64 rather than opendir (which mallocs). Error text
 * comes from strerrordesc_np, which returns constant strings. */
#include "watch/evidence.h"

#include "common/clock.h"
#include "common/fd_write.h"
#include "common/log.h"
#include "tools/mbfrag_root.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NAME_PREFIX "evidence-"
#define TMP_PREFIX ".tmp-"
#define TRIGGER_TEXT_MAX 200u

static const char *const file_names[MB_EVIDENCE_FILE_COUNT + 1] = {
    "meminfo", "vmstat", "buddyinfo", "processes", "maps", "broker", "kmsg", "trigger",
};

const char *mb_evidence_file_name(enum mb_evidence_file file)
{
    if ((unsigned)file > MB_EVIDENCE_FILE_COUNT)
        return "?";
    return file_names[file];
}

static const char *describe_errno(int err)
{
    const char *s = strerrordesc_np(err < 0 ? -err : err);
    return s != NULL ? s : "unknown error";
}

/* Writes to every page so the buffer is resident before memory runs out. */
static void touch(void *p, size_t size)
{
    volatile char *c = p;
    for (size_t i = 0; i < size; i += 4096)
        c[i] = 0;
    if (size > 0)
        c[size - 1] = 0;
}

static int copy_option(char *dst, size_t size, const char *src)
{
    size_t n = src != NULL ? strlen(src) : 0;
    if (n >= size)
        return -ENAMETOOLONG;
    if (n > 0)
        memcpy(dst, src, n);
    dst[n] = '\0';
    return 0;
}

int mb_evidence_init(struct mb_evidence *ev, const struct mb_evidence_options *options)
{
    memset(ev, 0, sizeof *ev);
    mb_kmsg_reader_init(&ev->kmsg);
    if (options->dump_dir == NULL || options->dump_dir[0] == '\0')
        return -EINVAL;
    int rc = copy_option(ev->root, sizeof ev->root, options->root);
    if (rc == 0)
        rc = copy_option(ev->dump_dir, sizeof ev->dump_dir, options->dump_dir);
    if (rc < 0)
        return rc;
    ev->keep = options->keep != 0 ? options->keep : 8;
    ev->sync = !options->no_sync;
    ev->broker_timeout_ms = options->broker_timeout_ms != 0 ? options->broker_timeout_ms : 500;
    ev->file_buf_size = options->file_max != 0 ? options->file_max : 1024 * 1024;
    if (ev->file_buf_size < 64 * 1024)
        ev->file_buf_size = 64 * 1024;
    ev->text_buf_size = 64 * 1024;
    ev->dent_buf_size = 16 * 1024;
    ev->file_buf = malloc(ev->file_buf_size);
    ev->text_buf = malloc(ev->text_buf_size);
    ev->dent_buf = malloc(ev->dent_buf_size);
    if (ev->file_buf == NULL || ev->text_buf == NULL || ev->dent_buf == NULL) {
        mb_evidence_deinit(ev);
        return -ENOMEM;
    }
    if (mb_smaps_scan_init(&ev->scan, options->max_processes) < 0 ||
        mb_kmsg_oom_log_init(&ev->kmsg_log, options->kmsg_lines) < 0) {
        mb_evidence_deinit(ev);
        return -ENOMEM;
    }
    touch(ev->file_buf, ev->file_buf_size);
    touch(ev->text_buf, ev->text_buf_size);
    touch(ev->dent_buf, ev->dent_buf_size);
    touch(ev->scan.procs, ev->scan.capacity * sizeof ev->scan.procs[0]);
    touch(ev->scan.file_buf, ev->scan.file_buf_size);
    touch(ev->scan.dent_buf, ev->scan.dent_buf_size);
    touch(ev->kmsg_log.lines, ev->kmsg_log.capacity * sizeof ev->kmsg_log.lines[0]);

    if (mkdir(ev->dump_dir, 0700) < 0 && errno != EEXIST) {
        rc = -errno;
        mb_evidence_deinit(ev);
        return rc;
    }
    if (options->broker_socket != NULL && options->broker_socket[0] != '\0') {
        struct mb_client_options copts;
        mb_client_options_init(&copts);
        copts.socket_path = options->broker_socket;
        copts.name = "mbwatch-evidence";
        copts.timeout_ms = ev->broker_timeout_ms;
        rc = mb_client_init(&ev->broker, &copts);
        if (rc < 0) {
            mb_evidence_deinit(ev);
            return rc;
        }
        ev->broker_configured = true;
    }
    ev->initialised = true;
    return 0;
}

void mb_evidence_deinit(struct mb_evidence *ev)
{
    if (ev->broker_configured)
        mb_client_destroy(&ev->broker);
    mb_smaps_scan_deinit(&ev->scan);
    mb_kmsg_oom_log_deinit(&ev->kmsg_log);
    free(ev->file_buf);
    free(ev->text_buf);
    free(ev->dent_buf);
    memset(ev, 0, sizeof *ev);
    ev->kmsg.fd = -1;
}

/* ---- buffered output to one file ---- */

struct out {
    int fd;
    char *buf;
    size_t size, used;
    int err; /* first error, negative errno */
};

static void out_flush(struct out *o)
{
    if (o->err == 0 && o->used > 0)
        o->err = mb_write_all(o->fd, o->buf, o->used);
    o->used = 0;
}

static void out_bytes(struct out *o, const char *p, size_t len)
{
    if (o->used + len > o->size)
        out_flush(o);
    if (len > o->size) {
        if (o->err == 0)
            o->err = mb_write_all(o->fd, p, len);
        return;
    }
    memcpy(o->buf + o->used, p, len);
    o->used += len;
}

static void out_printf(struct out *o, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(struct out *o, const char *format, ...)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        va_list args;
        va_start(args, format);
        int n = vsnprintf(o->buf + o->used, o->size - o->used, format, args);
        va_end(args);
        if (n < 0) {
            if (o->err == 0)
                o->err = -EINVAL;
            return;
        }
        if ((size_t)n < o->size - o->used) {
            o->used += (size_t)n;
            return;
        }
        /* Did not fit: flush and format again (lines are far below the
         * buffer's size, so the second attempt fits). */
        out_flush(o);
    }
    if (o->err == 0)
        o->err = -EOVERFLOW;
}

/* Copies s into dst[size], cut, with newlines and tabs made spaces. */
static void clean_text(char *dst, size_t size, const char *s)
{
    size_t n = 0;
    if (s != NULL)
        for (; s[n] != '\0' && n + 1 < size; n++)
            dst[n] = (s[n] == '\n' || s[n] == '\r' || s[n] == '\t') ? ' ' : s[n];
    dst[n] = '\0';
}

/* ---- one dump ---- */

struct dump {
    struct mb_evidence *ev;
    int dir_fd; /* the temporary directory */
};

static int open_dump_file(struct dump *d, const char *name, struct out *o)
{
    o->buf = d->ev->text_buf;
    o->size = d->ev->text_buf_size;
    o->used = 0;
    o->err = 0;
    o->fd = openat(d->dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    return o->fd < 0 ? -errno : 0;
}

/* Flushes, fsyncs and closes. Returns the first error. */
static int close_dump_file(struct dump *d, struct out *o)
{
    out_flush(o);
    if (o->err == 0 && d->ev->sync && fsync(o->fd) < 0)
        o->err = -errno;
    if (close(o->fd) < 0 && o->err == 0 && errno != EINTR)
        o->err = -errno;
    o->fd = -1;
    return o->err;
}

static void set_state(struct mb_evidence *ev, enum mb_evidence_file f, int rc, bool truncated)
{
    ev->last_error[f] = rc;
    if (rc == -ENOENT)
        ev->last_state[f] = MB_EVIDENCE_FILE_MISSING;
    else if (rc < 0)
        ev->last_state[f] = MB_EVIDENCE_FILE_ERROR;
    else
        ev->last_state[f] = truncated ? MB_EVIDENCE_FILE_TRUNCATED : MB_EVIDENCE_FILE_OK;
}

/* Copies root + path into the dump as `f`. A write error is fatal for the
 * dump (returned); a read error only leaves the file out. */
static int copy_proc_file(struct dump *d, enum mb_evidence_file f, const char *path)
{
    struct mb_evidence *ev = d->ev;
    size_t len = 0;
    int rc = mbfrag_root_read(ev->root, path, ev->file_buf, ev->file_buf_size, &len);
    bool truncated = rc == -EFBIG;
    if (rc < 0 && !truncated) {
        set_state(ev, f, rc, false);
        return 0;
    }
    if (truncated) /* keep whole lines only */
        while (len > 0 && ev->file_buf[len - 1] != '\n')
            len--;
    struct out o;
    rc = open_dump_file(d, file_names[f], &o);
    if (rc < 0)
        return rc;
    out_bytes(&o, ev->file_buf, len);
    rc = close_dump_file(d, &o);
    set_state(ev, f, rc, truncated);
    return rc;
}

static int write_processes(struct dump *d)
{
    struct mb_evidence *ev = d->ev;
    struct mb_smaps_scan *scan = &ev->scan;
    int rc = mb_smaps_scan_run(scan, ev->root);
    ev->last_largest_pid = scan->count > 0 ? scan->procs[0].pid : 0;
    if (rc < 0) {
        set_state(ev, MB_EVIDENCE_PROCESSES, rc, false);
        return 0;
    }
    struct out o;
    rc = open_dump_file(d, file_names[MB_EVIDENCE_PROCESSES], &o);
    if (rc < 0)
        return rc;
    out_printf(&o,
               "# per-process sums of /proc/<pid>/smaps_rollup, largest first by size = rss + swap\n"
               "# processes=%zu listed=%zu unreadable=%zu left_out=%zu\n"
               "# pid size_kb rss_kb pss_kb anon_kb private_dirty_kb swap_kb comm\n",
               scan->seen, scan->count, scan->unreadable, scan->left_out);
    for (size_t i = 0; i < scan->count; i++) {
        const struct mb_smaps_proc *p = &scan->procs[i];
        out_printf(&o, "%" PRIu32 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
                       " %" PRIu64 " %s\n",
                   p->pid, mb_smaps_size(&p->sums) / 1024, p->sums.rss / 1024, p->sums.pss / 1024,
                   p->sums.anonymous / 1024, p->sums.private_dirty / 1024, p->sums.swap / 1024,
                   p->comm);
    }
    rc = close_dump_file(d, &o);
    set_state(ev, MB_EVIDENCE_PROCESSES, rc, scan->left_out > 0);
    return rc;
}

/* Processes tried for the maps file: the largest may exit between the scan
 * and the read (on a busy machine it often does); the next one is taken. */
#define MAPS_CANDIDATES 8u

static int write_maps(struct dump *d)
{
    struct mb_evidence *ev = d->ev;
    ev->last_maps_pid = 0;
    int rc = -ESRCH;
    size_t len = 0;
    for (size_t i = 0; i < ev->scan.count && i < MAPS_CANDIDATES; i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%" PRIu32 "/maps", ev->scan.procs[i].pid);
        rc = mbfrag_root_read(ev->root, path, ev->file_buf, ev->file_buf_size, &len);
        if ((rc == 0 || rc == -EFBIG) && len > 0) {
            ev->last_maps_pid = ev->scan.procs[i].pid;
            break;
        }
        if (rc == 0)
            rc = -ESRCH; /* empty: a zombie */
    }
    bool truncated = rc == -EFBIG;
    if (ev->last_maps_pid == 0) {
        set_state(ev, MB_EVIDENCE_MAPS, rc, false);
        return 0;
    }
    if (truncated)
        while (len > 0 && ev->file_buf[len - 1] != '\n')
            len--;
    struct out o;
    rc = open_dump_file(d, file_names[MB_EVIDENCE_MAPS], &o);
    if (rc < 0)
        return rc;
    out_bytes(&o, ev->file_buf, len);
    rc = close_dump_file(d, &o);
    set_state(ev, MB_EVIDENCE_MAPS, rc, truncated);
    return rc;
}

static void write_broker_summary(struct out *o, const struct mb_client_status_summary *s)
{
    out_printf(o,
               "summary total=%" PRIu64 " configured_total=%" PRIu64 " pool=%" PRIu64
               " gathered=%" PRIu64 " lent=%" PRIu64 " debt=%" PRIu64 " clients=%" PRIu32
               " max_clients=%" PRIu32 " classes=%u pressure=%u requests=%" PRIu64
               " grants_immediate=%" PRIu64 " requests_timed_out=%" PRIu64
               " reserves_failed=%" PRIu64 " queries_sent=%" PRIu64 " answers_late=%" PRIu64
               " deadlines_missed=%" PRIu64 "\n",
               s->total, s->configured_total, s->pool, s->gathered, s->lent, s->debt, s->clients,
               s->max_clients, (unsigned)s->class_count, (unsigned)s->pressure, s->requests,
               s->grants_immediate, s->requests_timed_out, s->reserves_failed, s->queries_sent,
               s->answers_late, s->deadlines_missed);
}

static int write_broker(struct dump *d)
{
    struct mb_evidence *ev = d->ev;
    struct out o;
    int rc = open_dump_file(d, file_names[MB_EVIDENCE_BROKER], &o);
    if (rc < 0)
        return rc;
    int status = 0;
    if (!ev->broker_configured) {
        out_printf(&o, "# no broker: not configured\n");
    } else {
        status = mb_client_connect_timeout(&ev->broker, ev->broker_timeout_ms);
        uint32_t page_size = mb_client_page_size(&ev->broker);
        bool summary_done = false;
        for (uint8_t section = 0; status == 0 && section < MB_STATUS_SECTION_COUNT; section++) {
            uint32_t cursor = 0;
            do {
                status = mb_client_status_page_timeout(&ev->broker, section, cursor, &ev->page,
                                                       ev->broker_timeout_ms);
                if (status < 0)
                    break;
                if (!summary_done) {
                    out_printf(&o, "# membroker status; figures in pages of %" PRIu32 " bytes\n",
                               page_size);
                    write_broker_summary(&o, &ev->page.summary);
                    summary_done = true;
                }
                for (uint32_t i = 0; i < ev->page.count; i++) {
                    if (section == MB_STATUS_CLIENTS) {
                        const struct mb_client_status_client *c = &ev->page.records.clients[i];
                        out_printf(&o,
                                   "client id=%" PRIu32 " pid=%" PRIu32 " uid=%" PRIu32
                                   " kind=%u class=%u balance=%" PRIu64 " lent=%" PRIu64
                                   " pending=%u pending_pages=%" PRIu64
                                   " queries_outstanding=%" PRIu32 " missed_deadlines=%" PRIu32
                                   " name=%s\n",
                                   c->id, c->pid, c->uid, (unsigned)c->kind,
                                   (unsigned)c->class_index, c->balance, c->lent,
                                   (unsigned)c->pending_kind, c->pending_pages,
                                   c->queries_outstanding, c->missed_deadlines, c->name);
                    } else {
                        const struct mb_client_status_class *c = &ev->page.records.classes[i];
                        out_printf(&o,
                                   "class name=%s limit=%" PRIu64 " held=%" PRIu64
                                   " priority=%" PRIu32 " members=%" PRIu32 "\n",
                                   c->name, c->limit, c->held, c->priority, c->members);
                    }
                }
                cursor = ev->page.offset;
            } while (ev->page.more);
        }
        if (status < 0) {
            /* Whatever was formatted stays; say why it stops there. */
            out_printf(&o, "# no broker: %s\n", mb_client_strerror(status));
        }
    }
    rc = close_dump_file(d, &o);
    set_state(ev, MB_EVIDENCE_BROKER, rc, false);
    if (rc == 0 && status < 0)
        ev->last_error[MB_EVIDENCE_BROKER] = status;
    return rc;
}

static int write_kmsg(struct dump *d)
{
    struct mb_evidence *ev = d->ev;
    mb_kmsg_oom_log_clear(&ev->kmsg_log);
    int rc = mb_kmsg_open(&ev->kmsg, ev->root, true);
    long records = 0;
    if (rc == 0) {
        records = mb_kmsg_drain(&ev->kmsg, &ev->kmsg_log);
        if (records < 0)
            rc = (int)records;
    }
    uint64_t lost = ev->kmsg.lost;
    mb_kmsg_close(&ev->kmsg);
    if (rc < 0) {
        set_state(ev, MB_EVIDENCE_KMSG, rc, false);
        return 0;
    }
    struct out o;
    rc = open_dump_file(d, file_names[MB_EVIDENCE_KMSG], &o);
    if (rc < 0)
        return rc;
    const struct mb_kmsg_oom_log *log = &ev->kmsg_log;
    out_printf(&o,
               "# OOM lines of /dev/kmsg: records_read=%ld lines=%zu reports=%" PRIu64
               " kills=%" PRIu64 " dropped=%" PRIu64 " lost=%" PRIu64 "\n",
               records, log->count, log->reports, log->kills, log->dropped, lost);
    for (size_t i = 0; i < log->count; i++) {
        const struct mb_kmsg_line *line = mb_kmsg_oom_log_line(log, i);
        out_printf(&o, "%" PRIu32 ",%" PRIu64 ",%" PRIu64 ",-;%.*s\n",
                   line->facility * 8u + line->level, line->seq, line->ts_us, (int)line->len,
                   line->text);
    }
    rc = close_dump_file(d, &o);
    set_state(ev, MB_EVIDENCE_KMSG, rc, log->dropped > 0);
    return rc;
}

static const char *state_name(enum mb_evidence_file_state s)
{
    switch (s) {
    case MB_EVIDENCE_FILE_OK: return "ok";
    case MB_EVIDENCE_FILE_MISSING: return "missing";
    case MB_EVIDENCE_FILE_TRUNCATED: return "truncated";
    case MB_EVIDENCE_FILE_ERROR: return "error";
    }
    return "?";
}

static int write_trigger(struct dump *d, const struct mb_evidence_trigger *t, uint64_t realtime_ns,
                         uint64_t monotonic_ns)
{
    struct mb_evidence *ev = d->ev;
    struct out o;
    int rc = open_dump_file(d, file_names[MB_EVIDENCE_FILE_COUNT], &o);
    if (rc < 0)
        return rc;
    char text[TRIGGER_TEXT_MAX + 1], stamp[32];
    clean_text(text, sizeof text, t->kind != NULL ? t->kind : "manual");
    out_printf(&o, "kind=%s\n", text);
    clean_text(text, sizeof text, t->detail);
    out_printf(&o, "detail=%s\n", text);
    clean_text(text, sizeof text, t->cgroup);
    out_printf(&o, "cgroup=%s\n", text);
    out_printf(&o, "pid=%" PRId64 "\n", t->pid);
    clean_text(text, sizeof text, t->frozen);
    out_printf(&o, "frozen=%s\n", text);
    mb_log_format_timestamp(realtime_ns, stamp, sizeof stamp);
    out_printf(&o, "time=%s\nrealtime_ns=%" PRIu64 "\nmonotonic_ns=%" PRIu64 "\n", stamp,
               realtime_ns, monotonic_ns);
    out_printf(&o, "collector_pid=%ld\nsequence=%" PRIu64 "\n", (long)getpid(), ev->sequence);
    const char *largest = "";
    if (ev->scan.count > 0)
        largest = ev->scan.procs[0].comm;
    out_printf(&o, "largest_pid=%" PRIu32 "\nlargest_comm=%s\nmaps_pid=%" PRIu32 "\n",
               ev->last_largest_pid, largest, ev->last_maps_pid);
    for (unsigned f = 0; f < MB_EVIDENCE_FILE_COUNT; f++) {
        enum mb_evidence_file_state s = ev->last_state[f];
        if (s == MB_EVIDENCE_FILE_OK && ev->last_error[f] == 0)
            out_printf(&o, "file.%s=ok\n", file_names[f]);
        else if (s == MB_EVIDENCE_FILE_OK || s == MB_EVIDENCE_FILE_TRUNCATED)
            out_printf(&o, "file.%s=%s%s%s\n", file_names[f], state_name(s),
                       ev->last_error[f] != 0 ? ": " : "",
                       ev->last_error[f] != 0 ? (f == MB_EVIDENCE_BROKER
                                                     ? mb_client_strerror(ev->last_error[f])
                                                     : describe_errno(ev->last_error[f]))
                                              : "");
        else
            out_printf(&o, "file.%s=%s: %s\n", file_names[f], state_name(s),
                       describe_errno(ev->last_error[f]));
    }
    return close_dump_file(d, &o);
}

/* ---- directories ---- */

/* Calls fn(name, arg) for each entry of dir_fd (not "." or ".."). Stops
 * when fn returns non-zero and returns that; else 0 or -errno. */
static int for_each_entry(int dir_fd, char *buf, size_t size,
                          int (*fn)(const char *name, unsigned char type, void *arg), void *arg)
{
    if (lseek(dir_fd, 0, SEEK_SET) < 0)
        return -errno;
    for (;;) {
        ssize_t n = getdents64(dir_fd, buf, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return 0;
        for (size_t off = 0; off < (size_t)n;) {
            const struct dirent64 *e = (const struct dirent64 *)(void *)(buf + off);
            off += e->d_reclen;
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            int rc = fn(e->d_name, e->d_type, arg);
            if (rc != 0)
                return rc;
        }
    }
}

struct remove_ctx {
    int dir_fd;
    int err;
};

static int unlink_entry(const char *name, unsigned char type, void *arg)
{
    struct remove_ctx *c = arg;
    (void)type;
    if (unlinkat(c->dir_fd, name, 0) < 0 && errno != ENOENT && c->err == 0)
        c->err = -errno;
    return 0;
}

/* Removes parent/name and the files in it (dumps hold no subdirectories). */
static int remove_dump_dir(struct mb_evidence *ev, int parent_fd, const char *name)
{
    int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    struct remove_ctx c = {fd, 0};
    int rc = for_each_entry(fd, ev->dent_buf, ev->dent_buf_size, unlink_entry, &c);
    close(fd);
    if (rc == 0)
        rc = c.err;
    if (rc == 0 && unlinkat(parent_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        rc = -errno;
    return rc;
}

struct list_ctx {
    long count;
    char oldest[MB_EVIDENCE_NAME_MAX];
    char newest[MB_EVIDENCE_NAME_MAX];
    char stale_tmp[MB_EVIDENCE_NAME_MAX]; /* one leftover ".tmp-" directory, if any */
};

/* Copies a name already checked to be shorter than MB_EVIDENCE_NAME_MAX. */
static void copy_name(char dst[MB_EVIDENCE_NAME_MAX], const char *name)
{
    memcpy(dst, name, strlen(name) + 1);
}

static bool is_dump_name(const char *name)
{
    return strncmp(name, NAME_PREFIX, sizeof NAME_PREFIX - 1) == 0 &&
           strlen(name) < MB_EVIDENCE_NAME_MAX;
}

static int list_entry(const char *name, unsigned char type, void *arg)
{
    struct list_ctx *c = arg;
    if (type != DT_DIR && type != DT_UNKNOWN)
        return 0;
    if (strncmp(name, TMP_PREFIX NAME_PREFIX, sizeof TMP_PREFIX NAME_PREFIX - 1) == 0 &&
        strlen(name) < MB_EVIDENCE_NAME_MAX) {
        copy_name(c->stale_tmp, name);
        return 0;
    }
    if (!is_dump_name(name))
        return 0;
    if (c->count == 0 || strcmp(name, c->oldest) < 0)
        copy_name(c->oldest, name);
    if (c->count == 0 || strcmp(name, c->newest) > 0)
        copy_name(c->newest, name);
    c->count++;
    return 0;
}

static int open_dump_root(const struct mb_evidence *ev)
{
    int fd = open(ev->dump_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

long mb_evidence_list(struct mb_evidence *ev, char *oldest, char *newest, size_t name_size)
{
    int fd = open_dump_root(ev);
    if (fd < 0)
        return fd;
    struct list_ctx c;
    memset(&c, 0, sizeof c);
    int rc = for_each_entry(fd, ev->dent_buf, ev->dent_buf_size, list_entry, &c);
    close(fd);
    if (rc < 0)
        return rc;
    if (oldest != NULL && name_size > 0)
        snprintf(oldest, name_size, "%s", c.oldest);
    if (newest != NULL && name_size > 0)
        snprintf(newest, name_size, "%s", c.newest);
    return c.count;
}

/* Removes leftover temporary dumps, then the oldest dumps beyond keep. */
static int rotate(struct mb_evidence *ev, int root_fd, bool only_tmp)
{
    for (unsigned guard = 0; guard < 10000; guard++) {
        struct list_ctx c;
        memset(&c, 0, sizeof c);
        int rc = for_each_entry(root_fd, ev->dent_buf, ev->dent_buf_size, list_entry, &c);
        if (rc < 0)
            return rc;
        if (c.stale_tmp[0] != '\0') {
            rc = remove_dump_dir(ev, root_fd, c.stale_tmp);
            if (rc < 0)
                return rc;
            continue;
        }
        if (only_tmp || c.count <= (long)ev->keep)
            return 0;
        rc = remove_dump_dir(ev, root_fd, c.oldest);
        if (rc < 0)
            return rc;
        ev->last_removed++;
    }
    return -ELOOP;
}

/* "evidence-YYYYMMDDTHHMMSS.mmmZ-NNNN" */
static void dump_name(char *buf, size_t size, uint64_t realtime_ns, uint64_t sequence)
{
    time_t secs = (time_t)(realtime_ns / 1000000000u);
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    gmtime_r(&secs, &tm);
    snprintf(buf, size, NAME_PREFIX "%04d%02d%02dT%02d%02d%02d.%03uZ-%04" PRIu64,
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (unsigned)(realtime_ns / 1000000u % 1000u), sequence % 10000u);
}

int mb_evidence_collect(struct mb_evidence *ev, const struct mb_evidence_trigger *trigger)
{
    if (!ev->initialised)
        return -EINVAL;
    static const struct mb_evidence_trigger manual = {0};
    if (trigger == NULL)
        trigger = &manual;
    uint64_t realtime_ns = mb_clock_realtime_ns();
    uint64_t monotonic_ns = mb_clock_monotonic_ns();
    ev->last_dump[0] = '\0';
    ev->last_removed = 0;
    ev->last_largest_pid = 0;
    memset(ev->last_state, 0, sizeof ev->last_state);
    memset(ev->last_error, 0, sizeof ev->last_error);
    ev->sequence++;

    int root_fd = open_dump_root(ev);
    if (root_fd < 0)
        return root_fd;
    int rc = rotate(ev, root_fd, true);
    char name[MB_EVIDENCE_NAME_MAX], tmp[MB_EVIDENCE_NAME_MAX + 8];
    dump_name(name, sizeof name, realtime_ns, ev->sequence);
    snprintf(tmp, sizeof tmp, TMP_PREFIX "%s", name);
    if (rc == 0 && mkdirat(root_fd, tmp, 0700) < 0)
        rc = -errno;
    if (rc < 0) {
        close(root_fd);
        return rc;
    }
    struct dump d = {ev, openat(root_fd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (d.dir_fd < 0) {
        rc = -errno;
        (void)unlinkat(root_fd, tmp, AT_REMOVEDIR);
        close(root_fd);
        return rc;
    }

    /* The cheap kernel figures first: they change fastest. */
    rc = copy_proc_file(&d, MB_EVIDENCE_MEMINFO, "/proc/meminfo");
    if (rc == 0)
        rc = copy_proc_file(&d, MB_EVIDENCE_VMSTAT, "/proc/vmstat");
    if (rc == 0)
        rc = copy_proc_file(&d, MB_EVIDENCE_BUDDYINFO, "/proc/buddyinfo");
    if (rc == 0)
        rc = write_processes(&d);
    if (rc == 0)
        rc = write_maps(&d);
    if (rc == 0)
        rc = write_kmsg(&d);
    if (rc == 0)
        rc = write_broker(&d);
    if (rc == 0)
        rc = write_trigger(&d, trigger, realtime_ns, monotonic_ns);
    if (rc == 0 && ev->sync && fsync(d.dir_fd) < 0)
        rc = -errno;
    close(d.dir_fd);

    /* A name taken already (a clock step back) gets the next sequence. */
    for (int attempt = 0; rc == 0; attempt++) {
        if (renameat(root_fd, tmp, root_fd, name) == 0)
            break;
        if ((errno != EEXIST && errno != ENOTEMPTY) || attempt >= 100) {
            rc = -errno;
            break;
        }
        ev->sequence++;
        dump_name(name, sizeof name, realtime_ns, ev->sequence);
    }
    if (rc < 0) {
        (void)remove_dump_dir(ev, root_fd, tmp);
        close(root_fd);
        return rc;
    }
    if (ev->sync)
        (void)fsync(root_fd);
    snprintf(ev->last_dump, sizeof ev->last_dump, "%s/%s", ev->dump_dir, name);
    rc = rotate(ev, root_fd, false);
    close(root_fd);
    if (rc < 0)
        mb_log(MB_LOG_WARNING, "evidence: rotating %s: %s", ev->dump_dir, describe_errno(rc));
    return 0;
}
