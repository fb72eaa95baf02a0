/* proc_vmstat.h: /proc/vmstat, parsed from a buffer.
 *
 * Every line is "name value" with an unsigned decimal value (event counts
 * since boot, or current page counts for the nr_* lines). Counters come and
 * go between kernels, so each has a presence bit; a missing one is normal
 * (oom_kill since 4.13, workingset_refault_anon/file since 5.9 where older
 * kernels have one workingset_refault, allocstall split per zone in 4.8).
 * Nothing here allocates or blocks.
 */
#ifndef MB_COMMON_PROC_VMSTAT_H
#define MB_COMMON_PROC_VMSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The counters the project reads; the enum value is the presence bit index.
 * All are matched by exact name except MB_VMSTAT_ALLOCSTALL. */
enum mb_vmstat_field {
    MB_VMSTAT_NR_FREE_PAGES,            /* nr_free_pages (pages) */
    MB_VMSTAT_NR_FREE_CMA,              /* nr_free_cma (pages) */
    MB_VMSTAT_NR_FILE_PAGES,            /* nr_file_pages (pages) */
    MB_VMSTAT_NR_ANON_PAGES,            /* nr_anon_pages (pages) */
    MB_VMSTAT_NR_MLOCK,                 /* nr_mlock (pages) */
    MB_VMSTAT_NR_DIRTY,                 /* nr_dirty (pages) */
    MB_VMSTAT_NR_WRITEBACK,             /* nr_writeback (pages) */
    MB_VMSTAT_NR_SHMEM,                 /* nr_shmem (pages) */
    MB_VMSTAT_NR_SLAB_RECLAIMABLE,      /* nr_slab_reclaimable (pages) */
    MB_VMSTAT_NR_SLAB_UNRECLAIMABLE,    /* nr_slab_unreclaimable (pages) */
    MB_VMSTAT_PGPGIN,                   /* pgpgin */
    MB_VMSTAT_PGPGOUT,                  /* pgpgout */
    MB_VMSTAT_PSWPIN,                   /* pswpin */
    MB_VMSTAT_PSWPOUT,                  /* pswpout */
    MB_VMSTAT_PGFAULT,                  /* pgfault */
    MB_VMSTAT_PGMAJFAULT,               /* pgmajfault */
    MB_VMSTAT_PGSCAN_KSWAPD,            /* pgscan_kswapd (4.8+) */
    MB_VMSTAT_PGSCAN_DIRECT,            /* pgscan_direct (4.8+) */
    MB_VMSTAT_PGSTEAL_KSWAPD,           /* pgsteal_kswapd (4.8+) */
    MB_VMSTAT_PGSTEAL_DIRECT,           /* pgsteal_direct (4.8+) */
    MB_VMSTAT_WORKINGSET_REFAULT,       /* workingset_refault (before 5.9) */
    MB_VMSTAT_WORKINGSET_REFAULT_ANON,  /* workingset_refault_anon (5.9+) */
    MB_VMSTAT_WORKINGSET_REFAULT_FILE,  /* workingset_refault_file (5.9+) */
    MB_VMSTAT_ALLOCSTALL,               /* "allocstall" plus every "allocstall_<zone>", summed */
    MB_VMSTAT_OOM_KILL,                 /* oom_kill (4.13+) */
    MB_VMSTAT_COMPACT_STALL,            /* compact_stall */
    MB_VMSTAT_COMPACT_FAIL,             /* compact_fail */
    MB_VMSTAT_COMPACT_SUCCESS,          /* compact_success */
    MB_VMSTAT_DROP_PAGECACHE,           /* drop_pagecache (writes of 1 or 3 to drop_caches) */
    MB_VMSTAT_DROP_SLAB,                /* drop_slab (writes of 2 or 3 to drop_caches) */
    MB_VMSTAT_FIELD_COUNT
};

struct mb_vmstat {
    uint64_t present;                      /* bit (1 << field) per counter seen */
    uint64_t value[MB_VMSTAT_FIELD_COUNT]; /* 0 when absent */
};

/* Parses buf[0..len) into *out (cleared first). Every line must be
 * "name<blanks>digits"; lines of other names are checked and skipped; when a
 * name appears twice the first value counts (allocstall lines all add up).
 * Blank lines are skipped; a last line without '\n' is parsed like the others.
 * Returns 0; or -EINVAL for a malformed line (a missing or signed value, a
 * third word) and -ERANGE for a value (or the allocstall sum) that does not
 * fit in 64 bits, with the 1-based line number in *error_line (0 on success;
 * error_line may be NULL). */
int mb_vmstat_parse(const char *buf, size_t len, struct mb_vmstat *out, size_t *error_line);

/* True when the parse saw `field`. */
bool mb_vmstat_has(const struct mb_vmstat *stat, enum mb_vmstat_field field);

/* The counter's value, or `fallback` when it was absent. */
uint64_t mb_vmstat_get(const struct mb_vmstat *stat, enum mb_vmstat_field field,
                       uint64_t fallback);

/* The /proc/vmstat name of a field ("pgfault"; "allocstall" for the sum), or
 * NULL for a bad field. */
const char *mb_vmstat_field_name(enum mb_vmstat_field field);

/* Finds the counter named exactly `name` in buf[0..len); the first match
 * counts and only its line is checked for form. Returns 0, -ENOENT when
 * absent, -EINVAL when its line is malformed, -ERANGE on overflow. */
int mb_vmstat_lookup(const char *buf, size_t len, const char *name, uint64_t *value);

#endif
