/* proc_pressure.c: see proc_pressure.h. */
#include "common/proc_pressure.h"

#include "common/numparse.h"
#include "common/proc_read.h"

#include <errno.h>
#include <string.h>

/* Consumes "<blanks>key=" at line[*pos]. */
static bool take_key(const char *line, size_t len, size_t *pos, const char *key)
{
    size_t blanks = mb_span_blanks(line + *pos, len - *pos);
    if (blanks == 0)
        return false;
    size_t at = *pos + blanks;
    size_t klen = strlen(key);
    if (len - at < klen + 1 || memcmp(line + at, key, klen) != 0 || line[at + klen] != '=')
        return false;
    *pos = at + klen + 1;
    return true;
}

/* Consumes "I.FF" and stores I * 100 + FF. */
static int take_hundredths(const char *line, size_t len, size_t *pos, uint32_t *out)
{
    uint64_t whole = 0;
    int used = mb_parse_u64_prefix(line + *pos, len - *pos, &whole);
    if (used < 0)
        return used;
    if (used == 0)
        return -EINVAL;
    size_t at = *pos + (size_t)used;
    if (len - at < 3 || line[at] != '.')
        return -EINVAL;
    uint64_t fraction = 0;
    int rc = mb_parse_u64_exact(line + at + 1, 2, &fraction);
    if (rc != 0)
        return rc;
    at += 3;
    if (at < len && line[at] >= '0' && line[at] <= '9')
        return -EINVAL; /* more than two decimals */
    if (whole > (UINT32_MAX - fraction) / 100)
        return -ERANGE;
    *out = (uint32_t)(whole * 100 + fraction);
    *pos = at;
    return 0;
}

static int parse_values(const char *line, size_t len, size_t pos, struct mb_pressure_line *out)
{
    static const char *const avg_keys[3] = {"avg10", "avg60", "avg300"};
    uint32_t *avgs[3] = {&out->avg10, &out->avg60, &out->avg300};
    for (size_t i = 0; i < 3; i++) {
        if (!take_key(line, len, &pos, avg_keys[i]))
            return -EINVAL;
        int rc = take_hundredths(line, len, &pos, avgs[i]);
        if (rc != 0)
            return rc;
    }
    if (!take_key(line, len, &pos, "total"))
        return -EINVAL;
    uint64_t total = 0;
    int used = mb_parse_u64_prefix(line + pos, len - pos, &total);
    if (used < 0)
        return used;
    if (used == 0)
        return -EINVAL;
    pos += (size_t)used;
    pos += mb_span_blanks(line + pos, len - pos);
    if (pos != len)
        return -EINVAL;
    out->total_us = total;
    return 0;
}

static int parse_line(const char *line, size_t len, struct mb_pressure *out)
{
    size_t word = mb_span_word(line, len);
    bool *seen;
    struct mb_pressure_line *dest;
    if (word == 4 && memcmp(line, "some", 4) == 0) {
        seen = &out->has_some;
        dest = &out->some;
    } else if (word == 4 && memcmp(line, "full", 4) == 0) {
        seen = &out->has_full;
        dest = &out->full;
    } else {
        return -EINVAL;
    }
    if (*seen)
        return -EINVAL;
    struct mb_pressure_line values = {0};
    int rc = parse_values(line, len, word, &values);
    if (rc != 0)
        return rc;
    *dest = values;
    *seen = true;
    return 0;
}

static int record_line(void *ctx, const char *line, size_t len)
{
    return parse_line(line, len, ctx);
}

int mb_pressure_parse(const char *buf, size_t len, struct mb_pressure *out, size_t *error_line)
{
    memset(out, 0, sizeof(*out));
    int rc = mb_each_line(buf, len, record_line, out, error_line);
    if (rc == 0 && !out->has_some)
        rc = -ENODATA;
    if (rc != 0)
        memset(out, 0, sizeof(*out));
    return rc;
}
