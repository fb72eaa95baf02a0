/* proc_read.c: see proc_read.h. */
#include "common/proc_read.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* read(2) that resumes after a signal. Returns bytes read, 0 at the end, or -errno. */
static long read_retrying(int fd, char *buf, size_t size)
{
    for (;;) {
        ssize_t n = read(fd, buf, size);
        if (n >= 0)
            return (long)n;
        if (errno != EINTR)
            return -(long)errno;
    }
}

int mb_proc_read(const char *path, char *buf, size_t size, size_t *len)
{
    *len = 0;
    if (size == 0)
        return -EINVAL;
    int fd;
    do {
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return -errno;

    size_t used = 0;
    int rc = 0;
    while (used < size) {
        long n = read_retrying(fd, buf + used, size - used);
        if (n < 0) {
            rc = (int)n;
            break;
        }
        if (n == 0)
            break;
        used += (size_t)n;
    }
    if (rc == 0 && used == size) {
        /* The buffer is full: the file is complete only if nothing follows. */
        char probe;
        long n = read_retrying(fd, &probe, 1);
        if (n < 0)
            rc = (int)n;
        else if (n > 0)
            rc = -EFBIG;
    }
    close(fd);
    if (rc != 0 && rc != -EFBIG)
        used = 0;
    *len = used;
    return rc;
}

void mb_lines_init(struct mb_lines *lines, const char *buf, size_t len)
{
    lines->buf = buf;
    lines->len = len;
    lines->pos = 0;
    lines->number = 0;
}

bool mb_lines_next(struct mb_lines *lines, const char **line, size_t *line_len)
{
    if (lines->pos >= lines->len)
        return false;
    const char *start = lines->buf + lines->pos;
    size_t left = lines->len - lines->pos;
    size_t n = 0;
    while (n < left && start[n] != '\n')
        n++;
    *line = start;
    *line_len = n;
    lines->pos += n < left ? n + 1 : n;
    lines->number++;
    return true;
}

size_t mb_span_blanks(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i;
}

size_t mb_span_word(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && s[i] != ' ' && s[i] != '\t')
        i++;
    return i;
}

bool mb_is_blank(const char *s, size_t len)
{
    return mb_span_blanks(s, len) == len;
}

int mb_each_line(const char *buf, size_t len, mb_line_fn fn, void *ctx, size_t *error_line)
{
    if (error_line != NULL)
        *error_line = 0;
    struct mb_lines lines;
    mb_lines_init(&lines, buf, len);
    const char *line;
    size_t line_len;
    while (mb_lines_next(&lines, &line, &line_len)) {
        if (mb_is_blank(line, line_len))
            continue;
        int rc = fn(ctx, line, line_len);
        if (rc != 0) {
            if (error_line != NULL)
                *error_line = lines.number;
            return rc;
        }
    }
    return 0;
}

int mb_name_index(const char *const *names, size_t count, const char *s, size_t len)
{
    for (size_t i = 0; i < count; i++)
        if (names[i] != NULL && strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
            return (int)i;
    return -1;
}

void mb_field_store(uint64_t *present, uint64_t *value, size_t f, uint64_t v)
{
    uint64_t bit = UINT64_C(1) << f;
    if ((*present & bit) == 0) {
        *present |= bit;
        value[f] = v;
    }
}

bool mb_field_has(uint64_t present, size_t count, unsigned f)
{
    return f < count && (present & (UINT64_C(1) << f)) != 0;
}

uint64_t mb_field_get(uint64_t present, const uint64_t *value, size_t count, unsigned f,
                      uint64_t fallback)
{
    return mb_field_has(present, count, f) ? value[f] : fallback;
}

const char *mb_field_name(const char *const *names, size_t count, unsigned f)
{
    return f < count ? names[f] : NULL;
}
