/* smaps.c: see smaps.h. */
#include "watch/smaps.h"

#include "common/numparse.h"
#include "common/proc_read.h"
#include "tools/mbfrag_root.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int mb_smaps_parse(const char *buf, size_t len, struct mb_smaps_sums *out)
{
    static const struct {
        const char *key;
        unsigned bit;
        size_t offset;
    } fields[] = {
        {"Rss", MB_SMAPS_HAS_RSS, offsetof(struct mb_smaps_sums, rss)},
        {"Pss", MB_SMAPS_HAS_PSS, offsetof(struct mb_smaps_sums, pss)},
        {"Anonymous", MB_SMAPS_HAS_ANONYMOUS, offsetof(struct mb_smaps_sums, anonymous)},
        {"Private_Dirty", MB_SMAPS_HAS_PRIVATE_DIRTY, offsetof(struct mb_smaps_sums, private_dirty)},
        {"Swap", MB_SMAPS_HAS_SWAP, offsetof(struct mb_smaps_sums, swap)},
    };
    memset(out, 0, sizeof *out);
    struct mb_lines lines;
    mb_lines_init(&lines, buf, len);
    const char *line;
    size_t line_len;
    while (mb_lines_next(&lines, &line, &line_len)) {
        size_t key_len = 0;
        while (key_len < line_len && line[key_len] != ':' && line[key_len] != ' ')
            key_len++;
        if (key_len == line_len || line[key_len] != ':')
            continue; /* a mapping header, VmFlags or a blank line */
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
            if (strlen(fields[i].key) != key_len || memcmp(line, fields[i].key, key_len) != 0)
                continue;
            size_t pos = key_len + 1;
            pos += mb_span_blanks(line + pos, line_len - pos);
            uint64_t kb = 0;
            int n = mb_parse_u64_prefix(line + pos, line_len - pos, &kb);
            if (n < 0)
                return n;
            if (n == 0)
                return -EINVAL;
            pos += (size_t)n;
            pos += mb_span_blanks(line + pos, line_len - pos);
            if (!(line_len - pos == 2 && memcmp(line + pos, "kB", 2) == 0))
                return -EINVAL;
            uint64_t bytes = 0, sum = 0;
            if (mb_mul_u64(kb, 1024, &bytes) < 0)
                return -ERANGE;
            uint64_t *slot = (uint64_t *)(void *)((char *)out + fields[i].offset);
            if (mb_add_u64(*slot, bytes, &sum) < 0)
                return -ERANGE;
            *slot = sum;
            out->present |= fields[i].bit;
            break;
        }
    }
    return (out->present & MB_SMAPS_HAS_RSS) ? 0 : -ENODATA;
}

uint64_t mb_smaps_size(const struct mb_smaps_sums *sums)
{
    return sums->rss + sums->swap;
}

/* True when a sorts before b (larger first, then lower pid). */
static bool before(const struct mb_smaps_proc *a, const struct mb_smaps_proc *b)
{
    uint64_t sa = mb_smaps_size(&a->sums), sb = mb_smaps_size(&b->sums);
    if (sa != sb)
        return sa > sb;
    return a->pid < b->pid;
}

static void swap_procs(struct mb_smaps_proc *a, struct mb_smaps_proc *b)
{
    struct mb_smaps_proc t = *a;
    *a = *b;
    *b = t;
}

/* Min-heap by `before` order: the root is the entry that sorts last. */
static void sift_down(struct mb_smaps_proc *h, size_t count, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, last = i;
        if (l < count && before(&h[last], &h[l]))
            last = l;
        if (r < count && before(&h[last], &h[r]))
            last = r;
        if (last == i)
            return;
        swap_procs(&h[i], &h[last]);
        i = last;
    }
}

static void sift_up(struct mb_smaps_proc *h, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(&h[parent], &h[i]))
            return;
        swap_procs(&h[parent], &h[i]);
        i = parent;
    }
}

void mb_smaps_sort(struct mb_smaps_proc *procs, size_t count)
{
    for (size_t i = count / 2; i-- > 0;)
        sift_down(procs, count, i);
    /* Each pass moves the entry that sorts last to the end of the unsorted
     * part, leaving procs largest first. */
    for (size_t n = count; n > 1; n--) {
        swap_procs(&procs[0], &procs[n - 1]);
        sift_down(procs, n - 1, 0);
    }
}

int mb_smaps_scan_init(struct mb_smaps_scan *scan, size_t capacity)
{
    memset(scan, 0, sizeof *scan);
    if (capacity == 0)
        capacity = 1024;
    scan->capacity = capacity;
    scan->file_buf_size = 8192;
    scan->dent_buf_size = 32768;
    scan->procs = calloc(capacity, sizeof scan->procs[0]);
    scan->file_buf = malloc(scan->file_buf_size);
    scan->dent_buf = malloc(scan->dent_buf_size);
    if (scan->procs == NULL || scan->file_buf == NULL || scan->dent_buf == NULL) {
        mb_smaps_scan_deinit(scan);
        return -ENOMEM;
    }
    return 0;
}

void mb_smaps_scan_deinit(struct mb_smaps_scan *scan)
{
    free(scan->procs);
    free(scan->file_buf);
    free(scan->dent_buf);
    memset(scan, 0, sizeof *scan);
}

/* Reads one process's figures into *proc. Returns 0 or a negative errno. */
static int read_process(struct mb_smaps_scan *scan, const char *root, uint32_t pid,
                        struct mb_smaps_proc *proc)
{
    char rel[64];
    size_t len = 0;
    memset(proc, 0, sizeof *proc);
    proc->pid = pid;
    snprintf(rel, sizeof rel, "/proc/%u/smaps_rollup", (unsigned)pid);
    int rc = mbfrag_root_read(root, rel, scan->file_buf, scan->file_buf_size, &len);
    if (rc < 0 && rc != -EFBIG)
        return rc;
    rc = mb_smaps_parse(scan->file_buf, len, &proc->sums);
    if (rc < 0)
        return rc;
    snprintf(rel, sizeof rel, "/proc/%u/comm", (unsigned)pid);
    if (mbfrag_root_read(root, rel, scan->file_buf, scan->file_buf_size, &len) < 0 && len == 0)
        return 0; /* the figures count even if the name is gone */
    while (len > 0 && scan->file_buf[len - 1] == '\n')
        len--;
    if (len > MB_SMAPS_COMM_MAX)
        len = MB_SMAPS_COMM_MAX;
    memcpy(proc->comm, scan->file_buf, len);
    proc->comm[len] = '\0';
    return 0;
}

/* The pid named by a /proc entry, or 0 when the name is not a number. */
static uint32_t entry_pid(const char *name)
{
    uint64_t v = 0;
    if (mb_parse_u64_exact(name, strlen(name), &v) < 0 || v == 0 || v > UINT32_MAX)
        return 0;
    return (uint32_t)v;
}

int mb_smaps_scan_run(struct mb_smaps_scan *scan, const char *root)
{
    scan->count = scan->seen = scan->unreadable = scan->left_out = 0;
    char path[MBFRAG_PATH_MAX];
    int rc = mbfrag_root_path(root, "/proc", path, sizeof path);
    if (rc < 0)
        return rc;
    int dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return -errno;
    for (;;) {
        ssize_t n = getdents64(dir, scan->dent_buf, scan->dent_buf_size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            break;
        }
        if (n == 0)
            break;
        for (size_t off = 0; off < (size_t)n;) {
            const struct dirent64 *d = (const struct dirent64 *)(void *)(scan->dent_buf + off);
            off += d->d_reclen;
            uint32_t pid = entry_pid(d->d_name);
            if (pid == 0)
                continue;
            scan->seen++;
            struct mb_smaps_proc proc;
            if (read_process(scan, root, pid, &proc) < 0) {
                scan->unreadable++;
                continue;
            }
            if (scan->count < scan->capacity) {
                scan->procs[scan->count] = proc;
                sift_up(scan->procs, scan->count);
                scan->count++;
            } else if (before(&proc, &scan->procs[0])) {
                scan->procs[0] = proc;
                sift_down(scan->procs, scan->count, 0);
                scan->left_out++;
            } else {
                scan->left_out++;
            }
        }
    }
    close(dir);
    mb_smaps_sort(scan->procs, scan->count);
    return rc;
}
