/* proc_vmstat.c: see proc_vmstat.h. */
#include "common/proc_vmstat.h"

#include "common/numparse.h"
#include "common/proc_read.h"

#include <errno.h>
#include <string.h>

static const char *const field_names[MB_VMSTAT_FIELD_COUNT] = {
    [MB_VMSTAT_NR_FREE_PAGES] = "nr_free_pages",
    [MB_VMSTAT_NR_FREE_CMA] = "nr_free_cma",
    [MB_VMSTAT_NR_FILE_PAGES] = "nr_file_pages",
    [MB_VMSTAT_NR_ANON_PAGES] = "nr_anon_pages",
    [MB_VMSTAT_NR_MLOCK] = "nr_mlock",
    [MB_VMSTAT_NR_DIRTY] = "nr_dirty",
    [MB_VMSTAT_NR_WRITEBACK] = "nr_writeback",
    [MB_VMSTAT_NR_SHMEM] = "nr_shmem",
    [MB_VMSTAT_NR_SLAB_RECLAIMABLE] = "nr_slab_reclaimable",
    [MB_VMSTAT_NR_SLAB_UNRECLAIMABLE] = "nr_slab_unreclaimable",
    [MB_VMSTAT_PGPGIN] = "pgpgin",
    [MB_VMSTAT_PGPGOUT] = "pgpgout",
    [MB_VMSTAT_PSWPIN] = "pswpin",
    [MB_VMSTAT_PSWPOUT] = "pswpout",
    [MB_VMSTAT_PGFAULT] = "pgfault",
    [MB_VMSTAT_PGMAJFAULT] = "pgmajfault",
    [MB_VMSTAT_PGSCAN_KSWAPD] = "pgscan_kswapd",
    [MB_VMSTAT_PGSCAN_DIRECT] = "pgscan_direct",
    [MB_VMSTAT_PGSTEAL_KSWAPD] = "pgsteal_kswapd",
    [MB_VMSTAT_PGSTEAL_DIRECT] = "pgsteal_direct",
    [MB_VMSTAT_WORKINGSET_REFAULT] = "workingset_refault",
    [MB_VMSTAT_WORKINGSET_REFAULT_ANON] = "workingset_refault_anon",
    [MB_VMSTAT_WORKINGSET_REFAULT_FILE] = "workingset_refault_file",
    [MB_VMSTAT_ALLOCSTALL] = "allocstall",
    [MB_VMSTAT_OOM_KILL] = "oom_kill",
    [MB_VMSTAT_COMPACT_STALL] = "compact_stall",
    [MB_VMSTAT_COMPACT_FAIL] = "compact_fail",
    [MB_VMSTAT_COMPACT_SUCCESS] = "compact_success",
    [MB_VMSTAT_DROP_PAGECACHE] = "drop_pagecache",
    [MB_VMSTAT_DROP_SLAB] = "drop_slab",
};

_Static_assert(MB_VMSTAT_FIELD_COUNT <= 64, "presence bits must fit in uint64_t");

/* Splits "name value" into its two parts. Returns 0, -EINVAL or -ERANGE. */
static int parse_line(const char *line, size_t len, size_t *name_len, uint64_t *value)
{
    size_t nlen = mb_span_word(line, len);
    if (nlen == 0)
        return -EINVAL;
    size_t blanks = mb_span_blanks(line + nlen, len - nlen);
    if (blanks == 0)
        return -EINVAL;
    size_t pos = nlen + blanks;
    uint64_t number = 0;
    int used = mb_parse_u64_prefix(line + pos, len - pos, &number);
    if (used < 0)
        return used;
    if (used == 0)
        return -EINVAL;
    pos += (size_t)used;
    pos += mb_span_blanks(line + pos, len - pos);
    if (pos != len)
        return -EINVAL;
    *name_len = nlen;
    *value = number;
    return 0;
}

/* "allocstall" (before 4.8) or "allocstall_<zone>" (4.8+). */
static bool is_allocstall(const char *name, size_t name_len)
{
    static const char prefix[] = "allocstall";
    size_t plen = sizeof(prefix) - 1;
    if (name_len < plen || memcmp(name, prefix, plen) != 0)
        return false;
    return name_len == plen || (name[plen] == '_' && name_len > plen + 1);
}

static int record_line(void *ctx, const char *line, size_t len)
{
    struct mb_vmstat *out = ctx;
    size_t name_len = 0;
    uint64_t value = 0;
    int rc = parse_line(line, len, &name_len, &value);
    if (rc != 0)
        return rc;
    if (is_allocstall(line, name_len)) {
        uint64_t sum = 0;
        if (mb_add_u64(out->value[MB_VMSTAT_ALLOCSTALL], value, &sum) != 0)
            return -ERANGE;
        out->value[MB_VMSTAT_ALLOCSTALL] = sum;
        out->present |= UINT64_C(1) << MB_VMSTAT_ALLOCSTALL;
        return 0;
    }
    int f = mb_name_index(field_names, MB_VMSTAT_FIELD_COUNT, line, name_len);
    if (f >= 0 && f != MB_VMSTAT_ALLOCSTALL)
        mb_field_store(&out->present, out->value, (size_t)f, value);
    return 0;
}

int mb_vmstat_parse(const char *buf, size_t len, struct mb_vmstat *out, size_t *error_line)
{
    memset(out, 0, sizeof(*out));
    int rc = mb_each_line(buf, len, record_line, out, error_line);
    if (rc != 0)
        memset(out, 0, sizeof(*out));
    return rc;
}

bool mb_vmstat_has(const struct mb_vmstat *stat, enum mb_vmstat_field field)
{
    return mb_field_has(stat->present, MB_VMSTAT_FIELD_COUNT, (unsigned)field);
}

uint64_t mb_vmstat_get(const struct mb_vmstat *stat, enum mb_vmstat_field field, uint64_t fallback)
{
    return mb_field_get(stat->present, stat->value, MB_VMSTAT_FIELD_COUNT, (unsigned)field, fallback);
}

const char *mb_vmstat_field_name(enum mb_vmstat_field field)
{
    return mb_field_name(field_names, MB_VMSTAT_FIELD_COUNT, (unsigned)field);
}

int mb_vmstat_lookup(const char *buf, size_t len, const char *name, uint64_t *value)
{
    size_t want = strlen(name);
    if (want == 0)
        return -ENOENT;
    struct mb_lines lines;
    mb_lines_init(&lines, buf, len);
    const char *line;
    size_t line_len;
    while (mb_lines_next(&lines, &line, &line_len)) {
        if (mb_span_word(line, line_len) != want || memcmp(line, name, want) != 0)
            continue;
        size_t name_len = 0;
        uint64_t number = 0;
        int rc = parse_line(line, line_len, &name_len, &number);
        if (rc != 0)
            return rc;
        *value = number;
        return 0;
    }
    return -ENOENT;
}
