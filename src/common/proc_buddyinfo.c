/* proc_buddyinfo.c: see proc_buddyinfo.h. */
#include "common/proc_buddyinfo.h"

#include "common/numparse.h"
#include "common/proc_read.h"

#include <errno.h>
#include <string.h>

_Static_assert(MB_BUDDYINFO_MAX_ORDERS <= 63, "2^order must fit in uint64_t");

/* Consumes the literal `word` at line[*pos]. */
static bool take_literal(const char *line, size_t len, size_t *pos, const char *word)
{
    size_t wlen = strlen(word);
    if (len - *pos < wlen || memcmp(line + *pos, word, wlen) != 0)
        return false;
    *pos += wlen;
    return true;
}

/* Consumes at least one blank. */
static bool take_blanks(const char *line, size_t len, size_t *pos)
{
    size_t n = mb_span_blanks(line + *pos, len - *pos);
    *pos += n;
    return n > 0;
}

static int parse_zone_line(const char *line, size_t len, struct mb_buddyinfo_zone *zone)
{
    size_t pos = mb_span_blanks(line, len);
    if (!take_literal(line, len, &pos, "Node") || !take_blanks(line, len, &pos))
        return -EINVAL;
    uint64_t node = 0;
    int used = mb_parse_u64_prefix(line + pos, len - pos, &node);
    if (used < 0)
        return used;
    if (used == 0)
        return -EINVAL;
    if (node > UINT32_MAX)
        return -ERANGE;
    pos += (size_t)used;
    if (!take_literal(line, len, &pos, ",") || !take_blanks(line, len, &pos) ||
        !take_literal(line, len, &pos, "zone") || !take_blanks(line, len, &pos))
        return -EINVAL;

    size_t name_len = mb_span_word(line + pos, len - pos);
    if (name_len == 0)
        return -EINVAL;
    if (name_len >= sizeof(zone->name))
        return -ENAMETOOLONG;
    memcpy(zone->name, line + pos, name_len);
    zone->name[name_len] = '\0';
    pos += name_len;

    size_t orders = 0;
    for (;;) {
        bool had_blank = take_blanks(line, len, &pos);
        if (pos == len)
            break;
        if (!had_blank)
            return -EINVAL; /* e.g. "12x" */
        if (orders == MB_BUDDYINFO_MAX_ORDERS)
            return -E2BIG;
        uint64_t count = 0;
        used = mb_parse_u64_prefix(line + pos, len - pos, &count);
        if (used < 0)
            return used;
        if (used == 0)
            return -EINVAL;
        zone->free_blocks[orders++] = count;
        pos += (size_t)used;
    }
    if (orders == 0)
        return -EINVAL;
    zone->node = (uint32_t)node;
    zone->orders = orders;
    return 0;
}

static int record_zone(void *ctx, const char *line, size_t len)
{
    struct mb_buddyinfo *out = ctx;
    if (out->zones == MB_BUDDYINFO_MAX_ZONES)
        return -E2BIG;
    int rc = parse_zone_line(line, len, &out->zone[out->zones]);
    if (rc == 0)
        out->zones++;
    return rc;
}

int mb_buddyinfo_parse(const char *buf, size_t len, struct mb_buddyinfo *out, size_t *error_line)
{
    memset(out, 0, sizeof(*out));
    int rc = mb_each_line(buf, len, record_zone, out, error_line);
    if (rc != 0)
        memset(out, 0, sizeof(*out));
    return rc;
}

int mb_buddyinfo_zone_free_pages(const struct mb_buddyinfo_zone *zone, uint64_t *pages)
{
    uint64_t total = 0;
    for (size_t i = 0; i < zone->orders && i < MB_BUDDYINFO_MAX_ORDERS; i++) {
        uint64_t block_pages = 0;
        if (mb_mul_u64(zone->free_blocks[i], UINT64_C(1) << i, &block_pages) != 0 ||
            mb_add_u64(total, block_pages, &total) != 0)
            return -ERANGE;
    }
    *pages = total;
    return 0;
}
