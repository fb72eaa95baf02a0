/* proc_meminfo.c: see proc_meminfo.h. */
#include "common/proc_meminfo.h"

#include "common/numparse.h"
#include "common/proc_read.h"

#include <errno.h>
#include <string.h>

static const char *const field_names[MB_MEMINFO_FIELD_COUNT] = {
    [MB_MEMINFO_MEM_TOTAL] = "MemTotal",
    [MB_MEMINFO_MEM_FREE] = "MemFree",
    [MB_MEMINFO_MEM_AVAILABLE] = "MemAvailable",
    [MB_MEMINFO_BUFFERS] = "Buffers",
    [MB_MEMINFO_CACHED] = "Cached",
    [MB_MEMINFO_SWAP_CACHED] = "SwapCached",
    [MB_MEMINFO_ACTIVE] = "Active",
    [MB_MEMINFO_INACTIVE] = "Inactive",
    [MB_MEMINFO_ACTIVE_ANON] = "Active(anon)",
    [MB_MEMINFO_INACTIVE_ANON] = "Inactive(anon)",
    [MB_MEMINFO_ACTIVE_FILE] = "Active(file)",
    [MB_MEMINFO_INACTIVE_FILE] = "Inactive(file)",
    [MB_MEMINFO_UNEVICTABLE] = "Unevictable",
    [MB_MEMINFO_MLOCKED] = "Mlocked",
    [MB_MEMINFO_HIGH_TOTAL] = "HighTotal",
    [MB_MEMINFO_HIGH_FREE] = "HighFree",
    [MB_MEMINFO_LOW_TOTAL] = "LowTotal",
    [MB_MEMINFO_LOW_FREE] = "LowFree",
    [MB_MEMINFO_SWAP_TOTAL] = "SwapTotal",
    [MB_MEMINFO_SWAP_FREE] = "SwapFree",
    [MB_MEMINFO_DIRTY] = "Dirty",
    [MB_MEMINFO_WRITEBACK] = "Writeback",
    [MB_MEMINFO_ANON_PAGES] = "AnonPages",
    [MB_MEMINFO_MAPPED] = "Mapped",
    [MB_MEMINFO_SHMEM] = "Shmem",
    [MB_MEMINFO_KRECLAIMABLE] = "KReclaimable",
    [MB_MEMINFO_SLAB] = "Slab",
    [MB_MEMINFO_SRECLAIMABLE] = "SReclaimable",
    [MB_MEMINFO_SUNRECLAIM] = "SUnreclaim",
    [MB_MEMINFO_KERNEL_STACK] = "KernelStack",
    [MB_MEMINFO_PAGE_TABLES] = "PageTables",
    [MB_MEMINFO_COMMIT_LIMIT] = "CommitLimit",
    [MB_MEMINFO_COMMITTED_AS] = "Committed_AS",
    [MB_MEMINFO_ANON_HUGE_PAGES] = "AnonHugePages",
    [MB_MEMINFO_HUGEPAGES_TOTAL] = "HugePages_Total",
    [MB_MEMINFO_HUGEPAGES_FREE] = "HugePages_Free",
    [MB_MEMINFO_HUGEPAGESIZE] = "Hugepagesize",
    [MB_MEMINFO_HUGETLB] = "Hugetlb",
    [MB_MEMINFO_CMA_TOTAL] = "CmaTotal",
    [MB_MEMINFO_CMA_FREE] = "CmaFree",
};

_Static_assert(MB_MEMINFO_FIELD_COUNT <= 64, "presence bits must fit in uint64_t");

/* Splits "Key:  123 kB" into its key and its value (in bytes when in kB).
 * Returns 0, -EINVAL or -ERANGE. */
static int parse_line(const char *line, size_t len, const char **key, size_t *key_len,
                      uint64_t *value)
{
    const char *colon = memchr(line, ':', len);
    if (colon == NULL || colon == line)
        return -EINVAL;
    size_t klen = (size_t)(colon - line);
    if (mb_span_word(line, klen) != klen)
        return -EINVAL; /* a blank inside the key */
    size_t pos = klen + 1;
    pos += mb_span_blanks(line + pos, len - pos);
    uint64_t number = 0;
    int used = mb_parse_u64_prefix(line + pos, len - pos, &number);
    if (used < 0)
        return used;
    if (used == 0)
        return -EINVAL;
    pos += (size_t)used;
    size_t blanks = mb_span_blanks(line + pos, len - pos);
    pos += blanks;
    if (blanks > 0 && len - pos >= 2 && line[pos] == 'k' && line[pos + 1] == 'B') {
        if (mb_mul_u64(number, 1024, &number) != 0)
            return -ERANGE;
        pos += 2;
        pos += mb_span_blanks(line + pos, len - pos);
    }
    if (pos != len)
        return -EINVAL;
    *key = line;
    *key_len = klen;
    *value = number;
    return 0;
}

static int record_line(void *ctx, const char *line, size_t len)
{
    struct mb_meminfo *out = ctx;
    const char *key = NULL;
    size_t key_len = 0;
    uint64_t value = 0;
    int rc = parse_line(line, len, &key, &key_len, &value);
    if (rc != 0)
        return rc;
    int f = mb_name_index(field_names, MB_MEMINFO_FIELD_COUNT, key, key_len);
    if (f >= 0)
        mb_field_store(&out->present, out->value, (size_t)f, value);
    return 0;
}

int mb_meminfo_parse(const char *buf, size_t len, struct mb_meminfo *out, size_t *error_line)
{
    memset(out, 0, sizeof(*out));
    int rc = mb_each_line(buf, len, record_line, out, error_line);
    if (rc != 0)
        memset(out, 0, sizeof(*out));
    return rc;
}

bool mb_meminfo_has(const struct mb_meminfo *info, enum mb_meminfo_field field)
{
    return mb_field_has(info->present, MB_MEMINFO_FIELD_COUNT, (unsigned)field);
}

uint64_t mb_meminfo_get(const struct mb_meminfo *info, enum mb_meminfo_field field, uint64_t fallback)
{
    return mb_field_get(info->present, info->value, MB_MEMINFO_FIELD_COUNT, (unsigned)field, fallback);
}

const char *mb_meminfo_field_name(enum mb_meminfo_field field)
{
    return mb_field_name(field_names, MB_MEMINFO_FIELD_COUNT, (unsigned)field);
}

int mb_meminfo_lookup(const char *buf, size_t len, const char *key, uint64_t *value)
{
    size_t want = strlen(key);
    struct mb_lines lines;
    mb_lines_init(&lines, buf, len);
    const char *line;
    size_t line_len;
    while (mb_lines_next(&lines, &line, &line_len)) {
        if (line_len <= want || line[want] != ':' || memcmp(line, key, want) != 0)
            continue;
        const char *found_key = NULL;
        size_t found_len = 0;
        uint64_t number = 0;
        int rc = parse_line(line, line_len, &found_key, &found_len, &number);
        if (rc != 0)
            return rc;
        *value = number;
        return 0;
    }
    return -ENOENT;
}
