/* proc_meminfo.h: /proc/meminfo, parsed from a buffer.
 *
 * Every line is "Key:<blanks>value" optionally followed by " kB". Values with
 * "kB" are stored in bytes (value * 1024); values without a unit
 * (HugePages_Total, HugePages_Free, ...) are stored as they are (counts).
 * Fields appear and disappear between kernels (MemAvailable only since 3.14,
 * HighTotal only on HIGHMEM kernels, CmaTotal only with CMA), so each field
 * has a presence bit and a missing field is normal, not an error.
 * Nothing here allocates or blocks.
 */
#ifndef MB_COMMON_PROC_MEMINFO_H
#define MB_COMMON_PROC_MEMINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The fields the project reads; the enum value is the presence bit index. */
enum mb_meminfo_field {
    MB_MEMINFO_MEM_TOTAL,       /* MemTotal */
    MB_MEMINFO_MEM_FREE,        /* MemFree */
    MB_MEMINFO_MEM_AVAILABLE,   /* MemAvailable (3.14+) */
    MB_MEMINFO_BUFFERS,         /* Buffers */
    MB_MEMINFO_CACHED,          /* Cached */
    MB_MEMINFO_SWAP_CACHED,     /* SwapCached */
    MB_MEMINFO_ACTIVE,          /* Active */
    MB_MEMINFO_INACTIVE,        /* Inactive */
    MB_MEMINFO_ACTIVE_ANON,     /* Active(anon) */
    MB_MEMINFO_INACTIVE_ANON,   /* Inactive(anon) */
    MB_MEMINFO_ACTIVE_FILE,     /* Active(file) */
    MB_MEMINFO_INACTIVE_FILE,   /* Inactive(file) */
    MB_MEMINFO_UNEVICTABLE,     /* Unevictable */
    MB_MEMINFO_MLOCKED,         /* Mlocked */
    MB_MEMINFO_HIGH_TOTAL,      /* HighTotal (32-bit HIGHMEM kernels) */
    MB_MEMINFO_HIGH_FREE,       /* HighFree */
    MB_MEMINFO_LOW_TOTAL,       /* LowTotal */
    MB_MEMINFO_LOW_FREE,        /* LowFree */
    MB_MEMINFO_SWAP_TOTAL,      /* SwapTotal */
    MB_MEMINFO_SWAP_FREE,       /* SwapFree */
    MB_MEMINFO_DIRTY,           /* Dirty */
    MB_MEMINFO_WRITEBACK,       /* Writeback */
    MB_MEMINFO_ANON_PAGES,      /* AnonPages */
    MB_MEMINFO_MAPPED,          /* Mapped */
    MB_MEMINFO_SHMEM,           /* Shmem */
    MB_MEMINFO_KRECLAIMABLE,    /* KReclaimable (4.20+) */
    MB_MEMINFO_SLAB,            /* Slab */
    MB_MEMINFO_SRECLAIMABLE,    /* SReclaimable */
    MB_MEMINFO_SUNRECLAIM,      /* SUnreclaim */
    MB_MEMINFO_KERNEL_STACK,    /* KernelStack */
    MB_MEMINFO_PAGE_TABLES,     /* PageTables */
    MB_MEMINFO_COMMIT_LIMIT,    /* CommitLimit */
    MB_MEMINFO_COMMITTED_AS,    /* Committed_AS */
    MB_MEMINFO_ANON_HUGE_PAGES, /* AnonHugePages */
    MB_MEMINFO_HUGEPAGES_TOTAL, /* HugePages_Total (a count of huge pages) */
    MB_MEMINFO_HUGEPAGES_FREE,  /* HugePages_Free (a count of huge pages) */
    MB_MEMINFO_HUGEPAGESIZE,    /* Hugepagesize */
    MB_MEMINFO_HUGETLB,         /* Hugetlb */
    MB_MEMINFO_CMA_TOTAL,       /* CmaTotal (CONFIG_CMA) */
    MB_MEMINFO_CMA_FREE,        /* CmaFree */
    MB_MEMINFO_FIELD_COUNT
};

struct mb_meminfo {
    uint64_t present;                       /* bit (1 << field) per field seen */
    uint64_t value[MB_MEMINFO_FIELD_COUNT]; /* bytes, or a count (see above); 0 when absent */
};

/* Parses buf[0..len) into *out (cleared first). Lines with keys not listed
 * above are checked for form and skipped; when a key appears twice the first
 * value counts. A last line without '\n' is parsed like the others (a line
 * cut inside its digits cannot be told from a short value: mb_proc_read
 * reports such truncation of a live read). Blank lines are skipped.
 * Returns 0; or -EINVAL for a malformed line (no ':', no value, characters
 * after the value other than " kB") and -ERANGE for a value that does not
 * fit in 64 bits (in kB or in bytes), with the 1-based line number in
 * *error_line (0 on success; error_line may be NULL). */
int mb_meminfo_parse(const char *buf, size_t len, struct mb_meminfo *out, size_t *error_line);

/* True when the parse saw `field`. */
bool mb_meminfo_has(const struct mb_meminfo *info, enum mb_meminfo_field field);

/* The field's value, or `fallback` when it was absent. */
uint64_t mb_meminfo_get(const struct mb_meminfo *info, enum mb_meminfo_field field,
                        uint64_t fallback);

/* The /proc/meminfo key of a field ("MemTotal"), or NULL for a bad field. */
const char *mb_meminfo_field_name(enum mb_meminfo_field field);

/* Finds any key by its exact name (without the ':'; e.g. "DirectMap2M") in
 * buf[0..len) and stores its value as mb_meminfo_parse would (bytes when in
 * kB). Only the matching line is checked for form; the first match counts.
 * Returns 0, -ENOENT when the key is absent, -EINVAL when its line is
 * malformed, or -ERANGE on overflow. */
int mb_meminfo_lookup(const char *buf, size_t len, const char *key, uint64_t *value);

#endif
