/* mountinfo.c: finding a mount in /proc/self/mountinfo (see mountinfo.h). */
#include "trackfs/mountinfo.h"

#include "common/proc_read.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The n-th space-separated field of line[0..len) (from 0), or NULL. */
static const char *field(const char *line, size_t len, unsigned n, size_t *flen)
{
    size_t at = 0;
    for (unsigned i = 0;; i++) {
        while (at < len && line[at] == ' ')
            at++;
        size_t start = at;
        while (at < len && line[at] != ' ')
            at++;
        if (start == at)
            return NULL;
        if (i == n) {
            *flen = at - start;
            return line + start;
        }
    }
}

/* True when the escaped field f[0..flen) reads as s. */
static bool unescaped_equals(const char *f, size_t flen, const char *s)
{
    size_t i = 0;
    for (; i < flen; s++) {
        char c = f[i];
        if (c == '\\' && i + 3 < flen &&
            f[i + 1] >= '0' && f[i + 1] <= '3' && f[i + 2] >= '0' && f[i + 2] <= '7' &&
            f[i + 3] >= '0' && f[i + 3] <= '7') {
            c = (char)((f[i + 1] - '0') * 64 + (f[i + 2] - '0') * 8 + (f[i + 3] - '0'));
            i += 4;
        } else {
            i++;
        }
        if (*s != c)
            return false;
    }
    return *s == '\0';
}

bool tfs_mountinfo_has(const char *buf, size_t len, const char *path, const char *fstype)
{
    struct mb_lines lines;
    mb_lines_init(&lines, buf, len);
    const char *line;
    size_t line_len;
    while (mb_lines_next(&lines, &line, &line_len)) {
        size_t mlen;
        const char *mnt = field(line, line_len, 4, &mlen);
        if (mnt == NULL || !unescaped_equals(mnt, mlen, path))
            continue;
        /* The filesystem type follows the " - " separator. */
        for (size_t i = 0; i + 3 <= line_len; i++) {
            if (memcmp(line + i, " - ", 3) != 0)
                continue;
            size_t tlen;
            const char *type = field(line + i + 3, line_len - i - 3, 0, &tlen);
            if (type != NULL && tlen == strlen(fstype) && memcmp(type, fstype, tlen) == 0)
                return true;
            break;
        }
    }
    return false;
}

/* path made absolute without resolving its last component. */
static int absolute(const char *path, char *out, size_t size)
{
    char copy[PATH_MAX];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof copy)
        return -ENAMETOOLONG;
    memcpy(copy, path, len + 1);
    while (len > 1 && copy[len - 1] == '/')
        copy[--len] = '\0';
    char *slash = strrchr(copy, '/');
    const char *base = slash != NULL ? slash + 1 : copy;
    const char *parent = slash == NULL ? "." : slash == copy ? "/" : copy;
    if (slash != NULL && slash != copy)
        *slash = '\0';
    char dir[PATH_MAX];
    if (realpath(parent, dir) == NULL)
        return -errno;
    if (strcmp(base, "") == 0 || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
        if (realpath(path, out) == NULL) /* rare forms: resolve whole */
            return -errno;
        return 0;
    }
    int n = strcmp(dir, "/") == 0 ? snprintf(out, size, "/%s", base)
                                  : snprintf(out, size, "%s/%s", dir, base);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int tfs_mounted_at(const char *path, const char *fstype)
{
    char abs[PATH_MAX];
    int rc = absolute(path, abs, sizeof abs);
    if (rc < 0)
        return rc;
    size_t size = 64 * 1024;
    for (;;) {
        char *buf = malloc(size);
        if (buf == NULL)
            return -ENOMEM;
        size_t len;
        rc = mb_proc_read("/proc/self/mountinfo", buf, size, &len);
        if (rc == 0)
            rc = tfs_mountinfo_has(buf, len, abs, fstype) ? 1 : 0;
        free(buf);
        if (rc != -EFBIG || size >= 64u * 1024 * 1024)
            return rc;
        size *= 4;
    }
}
