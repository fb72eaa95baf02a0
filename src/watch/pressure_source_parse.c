/* pressure_source_parse.c: see pressure_source_parse.h. */
#include "watch/pressure_source_parse.h"

#include "common/numparse.h"
#include "common/proc_read.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static bool word_is(const char *s, size_t len, const char *word)
{
    size_t n = strlen(word);
    return len == n && memcmp(s, word, n) == 0;
}

/* Trailing blanks and newlines: what may follow the last field of a file. */
static size_t trim_end(const char *s, size_t len)
{
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    return len;
}

int mbw_parse_cgroup_value(const char *buf, size_t len, uint64_t *out)
{
    /* At most one newline, at the end. */
    size_t end = trim_end(buf, len);
    if (memchr(buf, '\n', end) != NULL)
        return -EINVAL;
    size_t start = mb_span_blanks(buf, end);
    if (word_is(buf + start, end - start, "max")) {
        *out = MBW_CGROUP_UNLIMITED;
        return 0;
    }
    return mb_parse_u64_exact(buf + start, end - start, out);
}

bool mbw_controllers_include(const char *buf, size_t len, const char *controller)
{
    size_t pos = 0;
    while (pos < len) {
        while (pos < len && (buf[pos] == ' ' || buf[pos] == '\t' || buf[pos] == '\n'))
            pos++;
        size_t start = pos;
        while (pos < len && buf[pos] != ' ' && buf[pos] != '\t' && buf[pos] != '\n')
            pos++;
        if (pos > start && word_is(buf + start, pos - start, controller))
            return true;
    }
    return false;
}

int mbw_psi_trigger_format(char *buf, size_t size, bool full, uint64_t stall_us,
                           uint64_t window_us)
{
    if (stall_us == 0 || stall_us > window_us)
        return -EINVAL;
    int n = snprintf(buf, size, "%s %" PRIu64 " %" PRIu64, full ? "full" : "some", stall_us,
                     window_us);
    if (n < 0 || (size_t)n + 1 > size)
        return -ENOSPC;
    return n + 1;
}
