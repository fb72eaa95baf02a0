/* kmsg.c: see kmsg.h. */
#include "watch/kmsg.h"

#include "common/numparse.h"
#include "tools/mbfrag_root.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- parsing ---- */

/* Parses a decimal field ending at `stop` or at the end; advances *pos past
 * the field (not past the separator). */
static int parse_field_u64(const char *buf, size_t len, size_t *pos, uint64_t *out)
{
    int n = mb_parse_u64_prefix(buf + *pos, len - *pos, out);
    if (n <= 0)
        return -EINVAL;
    *pos += (size_t)n;
    return 0;
}

int mb_kmsg_parse_record(const char *buf, size_t len, struct mb_kmsg_record *rec)
{
    memset(rec, 0, sizeof *rec);
    rec->text = "";
    rec->dict = "";
    const char *semi = memchr(buf, ';', len);
    if (semi == NULL)
        return -EINVAL;
    size_t head_len = (size_t)(semi - buf);
    /* A newline inside the header means this is not a record header. */
    if (memchr(buf, '\n', head_len) != NULL)
        return -EINVAL;
    size_t pos = 0;
    uint64_t prio = 0;
    if (parse_field_u64(buf, head_len, &pos, &prio) < 0 || prio > 0x7fffffffu)
        return -EINVAL;
    if (pos >= head_len || buf[pos++] != ',')
        return -EINVAL;
    if (parse_field_u64(buf, head_len, &pos, &rec->seq) < 0)
        return -EINVAL;
    if (pos >= head_len || buf[pos++] != ',')
        return -EINVAL;
    if (parse_field_u64(buf, head_len, &pos, &rec->ts_us) < 0)
        return -EINVAL;
    if (pos >= head_len || buf[pos++] != ',')
        return -EINVAL;
    if (pos >= head_len || buf[pos] == ',')
        return -EINVAL;
    rec->flags = buf[pos++];
    /* Newer kernels may append fields (",caller=T123"); they are ignored. */
    if (pos < head_len && buf[pos] != ',')
        return -EINVAL;
    rec->level = (uint8_t)(prio & 7u);
    rec->facility = (uint32_t)(prio >> 3);

    const char *text = semi + 1;
    size_t rest = len - head_len - 1;
    const char *nl = memchr(text, '\n', rest);
    if (nl == NULL) {
        rec->text = text;
        rec->text_len = rest;
        return 0;
    }
    rec->text = text;
    rec->text_len = (size_t)(nl - text);
    rec->dict = nl + 1;
    rec->dict_len = rest - rec->text_len - 1;
    return 0;
}

/* True when s[0..len) contains `needle`. */
static bool contains(const char *s, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0 || n > len)
        return n == 0;
    return memmem(s, len, needle, n) != NULL;
}

static bool starts_with(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

enum mb_kmsg_oom mb_kmsg_classify(const char *text, size_t len)
{
    if (contains(text, len, " invoked oom-killer:"))
        return MB_KMSG_OOM_INVOKED;
    if (starts_with(text, len, "oom-kill:"))
        return MB_KMSG_OOM_CONSTRAINT;
    if (contains(text, len, "Killed process ") || contains(text, len, ": Kill process "))
        return MB_KMSG_OOM_KILLED;
    if (starts_with(text, len, "oom_reaper:"))
        return MB_KMSG_OOM_REAPED;
    if (contains(text, len, "Out of memory") || contains(text, len, "out of memory"))
        return MB_KMSG_OOM_OUT_OF_MEMORY;
    return MB_KMSG_OOM_NONE;
}

const char *mb_kmsg_oom_name(enum mb_kmsg_oom kind)
{
    switch (kind) {
    case MB_KMSG_OOM_NONE: return "none";
    case MB_KMSG_OOM_INVOKED: return "invoked";
    case MB_KMSG_OOM_CONSTRAINT: return "constraint";
    case MB_KMSG_OOM_KILLED: return "killed";
    case MB_KMSG_OOM_OUT_OF_MEMORY: return "out-of-memory";
    case MB_KMSG_OOM_REAPED: return "reaped";
    case MB_KMSG_OOM_REPORT: return "report";
    }
    return "?";
}

/* Copies s[0..len) into dst[size] cut and NUL-terminated. */
static void copy_cut(char *dst, size_t size, const char *s, size_t len)
{
    if (size == 0)
        return;
    if (len >= size)
        len = size - 1;
    memcpy(dst, s, len);
    dst[len] = '\0';
}

/* "key:<digits>kB" figures of a kill line. */
static void parse_kill_figure(struct mb_kmsg_kill *out, const char *word, size_t len)
{
    static const struct {
        const char *key;
        unsigned bit;
        size_t offset;
    } figures[] = {
        {"total-vm:", MB_KMSG_KILL_HAS_TOTAL_VM, offsetof(struct mb_kmsg_kill, total_vm_kb)},
        {"anon-rss:", MB_KMSG_KILL_HAS_ANON_RSS, offsetof(struct mb_kmsg_kill, anon_rss_kb)},
        {"file-rss:", MB_KMSG_KILL_HAS_FILE_RSS, offsetof(struct mb_kmsg_kill, file_rss_kb)},
        {"shmem-rss:", MB_KMSG_KILL_HAS_SHMEM_RSS, offsetof(struct mb_kmsg_kill, shmem_rss_kb)},
        {"UID:", MB_KMSG_KILL_HAS_UID, offsetof(struct mb_kmsg_kill, uid)},
        {"pgtables:", MB_KMSG_KILL_HAS_PGTABLES, offsetof(struct mb_kmsg_kill, pgtables_kb)},
    };
    while (len > 0 && word[len - 1] == ',')
        len--;
    for (size_t i = 0; i < sizeof figures / sizeof figures[0]; i++) {
        size_t klen = strlen(figures[i].key);
        if (len <= klen || memcmp(word, figures[i].key, klen) != 0)
            continue;
        uint64_t v = 0;
        int n = mb_parse_u64_prefix(word + klen, len - klen, &v);
        if (n <= 0)
            return;
        const char *unit = word + klen + (size_t)n;
        size_t unit_len = len - klen - (size_t)n;
        if (!(unit_len == 0 || (unit_len == 2 && memcmp(unit, "kB", 2) == 0)))
            return;
        memcpy((char *)out + figures[i].offset, &v, sizeof v);
        out->present |= figures[i].bit;
        return;
    }
    static const char adj[] = "oom_score_adj:";
    size_t alen = sizeof adj - 1;
    if (len > alen && memcmp(word, adj, alen) == 0) {
        bool negative = word[alen] == '-';
        size_t start = alen + (negative ? 1u : 0u);
        uint64_t v = 0;
        if (mb_parse_u64_exact(word + start, len - start, &v) == 0 && v <= 1000) {
            out->oom_score_adj = negative ? -(int64_t)v : (int64_t)v;
            out->present |= MB_KMSG_KILL_HAS_OOM_SCORE_ADJ;
        }
    }
}

int mb_kmsg_parse_kill(const char *text, size_t len, struct mb_kmsg_kill *out)
{
    memset(out, 0, sizeof *out);
    static const char killed[] = "Killed process ";
    static const char kill_old[] = "Kill process ";
    const char *p = memmem(text, len, killed, sizeof killed - 1);
    size_t skip = sizeof killed - 1;
    if (p == NULL) {
        p = memmem(text, len, kill_old, sizeof kill_old - 1);
        skip = sizeof kill_old - 1;
    }
    if (p == NULL)
        return -ENOENT;
    out->memcg = contains(text, (size_t)(p - text), "Memory cgroup");
    size_t pos = (size_t)(p - text) + skip;
    int n = mb_parse_u64_prefix(text + pos, len - pos, &out->pid);
    if (n <= 0)
        return -EINVAL;
    pos += (size_t)n;
    if (pos + 1 >= len || text[pos] != ' ' || text[pos + 1] != '(')
        return -EINVAL;
    pos += 2;
    /* The comm may itself contain ')' or spaces: it ends at the last ")"
     * followed by a space or the end of the line. */
    size_t end = 0;
    for (size_t i = pos; i < len; i++)
        if (text[i] == ')' && (i + 1 == len || text[i + 1] == ' ' || text[i + 1] == ','))
            end = i;
    if (end == 0)
        return -EINVAL;
    copy_cut(out->comm, sizeof out->comm, text + pos, end - pos);
    pos = end + 1;
    while (pos < len) {
        while (pos < len && (text[pos] == ' ' || text[pos] == ','))
            pos++;
        size_t w = pos;
        while (w < len && text[w] != ' ')
            w++;
        if (w > pos)
            parse_kill_figure(out, text + pos, w - pos);
        pos = w;
    }
    return 0;
}

int mb_kmsg_parse_constraint(const char *text, size_t len, struct mb_kmsg_constraint *out)
{
    memset(out, 0, sizeof *out);
    static const char prefix[] = "oom-kill:";
    if (!starts_with(text, len, prefix))
        return -ENOENT;
    size_t pos = sizeof prefix - 1;
    while (pos < len) {
        size_t end = pos;
        while (end < len && text[end] != ',')
            end++;
        const char *eq = memchr(text + pos, '=', end - pos);
        if (eq != NULL) {
            const char *key = text + pos;
            size_t klen = (size_t)(eq - key);
            const char *val = eq + 1;
            size_t vlen = (size_t)(text + end - val);
#define KEY_IS(k) (klen == sizeof(k) - 1 && memcmp(key, k, klen) == 0)
            if (KEY_IS("constraint"))
                copy_cut(out->constraint, sizeof out->constraint, val, vlen);
            else if (KEY_IS("oom_memcg"))
                copy_cut(out->oom_memcg, sizeof out->oom_memcg, val, vlen);
            else if (KEY_IS("task_memcg"))
                copy_cut(out->task_memcg, sizeof out->task_memcg, val, vlen);
            else if (KEY_IS("task"))
                copy_cut(out->task, sizeof out->task, val, vlen);
            else if (KEY_IS("pid")) {
                if (mb_parse_u64_exact(val, vlen, &out->pid) < 0)
                    return -EINVAL;
            } else if (KEY_IS("uid")) {
                if (mb_parse_u64_exact(val, vlen, &out->uid) < 0)
                    return -EINVAL;
            }
#undef KEY_IS
        }
        pos = end + 1;
    }
    return 0;
}

/* ---- the OOM log ---- */

int mb_kmsg_oom_log_init(struct mb_kmsg_oom_log *log, size_t capacity)
{
    memset(log, 0, sizeof *log);
    if (capacity == 0)
        capacity = 512;
    log->lines = calloc(capacity, sizeof log->lines[0]);
    if (log->lines == NULL)
        return -ENOMEM;
    log->capacity = capacity;
    return 0;
}

void mb_kmsg_oom_log_deinit(struct mb_kmsg_oom_log *log)
{
    free(log->lines);
    memset(log, 0, sizeof *log);
}

void mb_kmsg_oom_log_clear(struct mb_kmsg_oom_log *log)
{
    struct mb_kmsg_line *lines = log->lines;
    size_t capacity = log->capacity;
    memset(log, 0, sizeof *log);
    log->lines = lines;
    log->capacity = capacity;
}

static void keep_line(struct mb_kmsg_oom_log *log, const struct mb_kmsg_record *rec,
                      enum mb_kmsg_oom kind)
{
    if (log->capacity == 0)
        return;
    struct mb_kmsg_line *line = &log->lines[log->next];
    line->seq = rec->seq;
    line->ts_us = rec->ts_us;
    line->facility = rec->facility;
    line->level = rec->level;
    line->kind = (uint8_t)kind;
    size_t n = rec->text_len < MB_KMSG_LINE_MAX ? rec->text_len : MB_KMSG_LINE_MAX;
    memcpy(line->text, rec->text, n);
    line->len = (uint16_t)n;
    log->next = (log->next + 1) % log->capacity;
    if (log->count < log->capacity)
        log->count++;
    else
        log->dropped++;
}

enum mb_kmsg_oom mb_kmsg_oom_log_feed(struct mb_kmsg_oom_log *log, const struct mb_kmsg_record *rec)
{
    enum mb_kmsg_oom kind = mb_kmsg_classify(rec->text, rec->text_len);
    if (kind == MB_KMSG_OOM_INVOKED) {
        log->in_report = true;
        log->report_lines = 0;
        log->reports++;
    }
    if (kind == MB_KMSG_OOM_NONE) {
        if (!log->in_report)
            return MB_KMSG_OOM_NONE;
        kind = MB_KMSG_OOM_REPORT;
    }
    keep_line(log, rec, kind);
    if (log->in_report && ++log->report_lines >= MB_KMSG_REPORT_MAX_LINES)
        log->in_report = false;
    if (kind == MB_KMSG_OOM_KILLED) {
        struct mb_kmsg_kill kill;
        if (mb_kmsg_parse_kill(rec->text, rec->text_len, &kill) == 0) {
            log->last_kill = kill;
            log->kills++;
        }
        log->in_report = false;
    }
    return kind;
}

const struct mb_kmsg_line *mb_kmsg_oom_log_line(const struct mb_kmsg_oom_log *log, size_t i)
{
    if (i >= log->count)
        return NULL;
    size_t oldest = (log->next + log->capacity - log->count) % log->capacity;
    return &log->lines[(oldest + i) % log->capacity];
}

bool mb_kmsg_oom_log_has_kill(const struct mb_kmsg_oom_log *log, uint64_t pid)
{
    for (size_t i = 0; i < log->count; i++) {
        const struct mb_kmsg_line *line = mb_kmsg_oom_log_line(log, i);
        if (line->kind != MB_KMSG_OOM_KILLED)
            continue;
        struct mb_kmsg_kill kill;
        if (mb_kmsg_parse_kill(line->text, line->len, &kill) == 0 && kill.pid == pid)
            return true;
    }
    return false;
}

/* ---- the reader ---- */

void mb_kmsg_reader_init(struct mb_kmsg_reader *r)
{
    r->fd = -1;
    r->regular = false;
    r->eof = false;
    r->lost = 0;
    r->start = 0;
    r->have = 0;
}

int mb_kmsg_open(struct mb_kmsg_reader *r, const char *root, bool from_start)
{
    mb_kmsg_reader_init(r);
    char path[MBFRAG_PATH_MAX];
    int rc = mbfrag_root_path(root, "/dev/kmsg", path, sizeof path);
    if (rc < 0)
        return rc;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    r->regular = S_ISREG(st.st_mode);
    if (!from_start && lseek(fd, 0, SEEK_END) < 0 && !r->regular) {
        rc = -errno;
        close(fd);
        return rc;
    }
    if (!from_start && r->regular)
        r->eof = true;
    r->fd = fd;
    return 0;
}

void mb_kmsg_close(struct mb_kmsg_reader *r)
{
    if (r->fd >= 0)
        close(r->fd);
    mb_kmsg_reader_init(r);
}

/* Regular file: moves unread bytes to the front and reads more. Returns
 * bytes added (0 at the end) or -errno. */
static long fill_regular(struct mb_kmsg_reader *r)
{
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->have - r->start);
        r->have -= r->start;
        r->start = 0;
    }
    if (r->eof || r->have == sizeof r->buf)
        return 0;
    for (;;) {
        ssize_t n = read(r->fd, r->buf + r->have, sizeof r->buf - r->have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -(long)errno;
        if (n == 0)
            r->eof = true;
        r->have += (size_t)n;
        return (long)n;
    }
}

/* Regular file: finds the end of the record at r->start (a line and the
 * lines after it starting with a space). Returns the record length
 * including its last '\n' (or to the end of the file), 0 at the end, or
 * -errno. */
static long next_regular_record(struct mb_kmsg_reader *r)
{
    size_t scan = 0; /* offset from start already known to be inside the record */
    for (;;) {
        const char *base = r->buf + r->start;
        size_t avail = r->have - r->start;
        const char *nl = scan < avail ? memchr(base + scan, '\n', avail - scan) : NULL;
        if (nl != NULL) {
            size_t end = (size_t)(nl - base) + 1;
            if (end < avail) {
                if (base[end] == ' ') {
                    scan = end;
                    continue;
                }
                return (long)end;
            }
            if (r->eof)
                return (long)end;
            scan = end - 1; /* re-check that newline once more data is in */
        } else if (r->eof || (r->start == 0 && r->have == sizeof r->buf)) {
            /* End of file, or a line longer than the buffer: take it as it is. */
            return (long)avail;
        } else {
            scan = avail;
        }
        long n = fill_regular(r);
        if (n < 0)
            return n;
        if (n == 0 && !r->eof && r->have == sizeof r->buf) {
            /* Buffer full of one record: take what we have. */
            return (long)(r->have - r->start);
        }
    }
}

int mb_kmsg_read(struct mb_kmsg_reader *r, struct mb_kmsg_record *rec)
{
    memset(rec, 0, sizeof *rec);
    rec->text = "";
    rec->dict = "";
    if (r->fd < 0)
        return -EBADF;
    while (r->regular) {
        long len = next_regular_record(r);
        if (len <= 0)
            return (int)len;
        const char *base = r->buf + r->start;
        r->start += (size_t)len;
        /* Blank lines in fixtures are skipped. */
        if (len == 1 && base[0] == '\n')
            continue;
        return mb_kmsg_parse_record(base, (size_t)len, rec) < 0 ? -EINVAL : 1;
    }
    for (;;) {
        ssize_t n = read(r->fd, r->buf, sizeof r->buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 0;
            if (errno == EPIPE) {
                /* The ring overwrote records we had not read; the next read
                 * continues with the oldest one still there. */
                r->lost++;
                continue;
            }
            /* EINVAL: the record does not fit the buffer; the kernel does
             * not move past it, so reading on would spin. */
            return errno == EINVAL ? -EMSGSIZE : -errno;
        }
        if (n == 0)
            return 0;
        return mb_kmsg_parse_record(r->buf, (size_t)n, rec) < 0 ? -EINVAL : 1;
    }
}

long mb_kmsg_drain(struct mb_kmsg_reader *r, struct mb_kmsg_oom_log *log)
{
    long count = 0;
    for (;;) {
        struct mb_kmsg_record rec;
        int rc = mb_kmsg_read(r, &rec);
        if (rc == 0)
            return count;
        if (rc == -EINVAL) {
            count++;
            continue;
        }
        if (rc < 0)
            return rc;
        count++;
        mb_kmsg_oom_log_feed(log, &rec);
    }
}
