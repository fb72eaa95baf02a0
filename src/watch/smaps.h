/* smaps.h: per-process memory sums from /proc/<pid>/smaps_rollup, and a
 * scan of every process sorted by size.
 *
 * The parser works on a buffer (tested against captured files). The scan
 * reads root + "/proc" with getdents64 into buffers allocated by init, so a
 * scan itself never allocates (no opendir, no qsort): it can run while the
 * system is out of memory. When there are more processes than the table
 * holds, the largest ones are kept (a bounded min-heap) and the rest are
 * counted.
 */
#ifndef MB_WATCH_SMAPS_H
#define MB_WATCH_SMAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sums of one process, in bytes. */
struct mb_smaps_sums {
    uint64_t rss;
    uint64_t pss;
    uint64_t anonymous;
    uint64_t private_dirty;
    uint64_t swap;
    unsigned present; /* MB_SMAPS_HAS_* bits */
};
#define MB_SMAPS_HAS_RSS 0x01u
#define MB_SMAPS_HAS_PSS 0x02u
#define MB_SMAPS_HAS_ANONYMOUS 0x04u
#define MB_SMAPS_HAS_PRIVATE_DIRTY 0x08u
#define MB_SMAPS_HAS_SWAP 0x10u

/* Parses smaps_rollup (or a whole smaps file: the fields of every mapping
 * are added up) from buf[0..len). The header line of each mapping (an
 * address range) is skipped; "Key: <n> kB" lines are read; other keys are
 * ignored. Returns 0; -EINVAL for a malformed "Key:" line of a field we
 * read (no number, unit other than kB), -ERANGE on overflow; -ENODATA when
 * the buffer holds no Rss line (an empty file: a kernel thread or a process
 * that just exited). Never allocates or blocks. */
int mb_smaps_parse(const char *buf, size_t len, struct mb_smaps_sums *out);

/* The size a scan sorts by: what killing the process would give back
 * (resident plus swapped out), as the kernel's OOM badness counts it. */
uint64_t mb_smaps_size(const struct mb_smaps_sums *sums);

/* Longest comm kept (the kernel's TASK_COMM_LEN is 16 with its NUL). */
#define MB_SMAPS_COMM_MAX 16u

struct mb_smaps_proc {
    uint32_t pid;
    char comm[MB_SMAPS_COMM_MAX + 1];
    struct mb_smaps_sums sums;
};

struct mb_smaps_scan {
    struct mb_smaps_proc *procs; /* capacity entries; sorted largest first after a scan */
    size_t capacity;
    size_t count;       /* entries filled by the last scan */
    size_t seen;        /* numeric /proc entries met by the last scan */
    size_t unreadable;  /* processes whose smaps_rollup could not be read or was empty */
    size_t left_out;    /* processes smaller than every kept one when the table was full */
    char *file_buf;     /* one smaps_rollup / comm at a time */
    size_t file_buf_size;
    char *dent_buf;     /* getdents64 buffer */
    size_t dent_buf_size;
};

/* Allocates the table (capacity 0: 1024 processes) and its buffers.
 * Returns 0 or -ENOMEM. */
int mb_smaps_scan_init(struct mb_smaps_scan *scan, size_t capacity);

/* Frees everything. Safe on a zeroed or already freed scan. */
void mb_smaps_scan_deinit(struct mb_smaps_scan *scan);

/* Reads root + "/proc/<pid>/smaps_rollup" and "/proc/<pid>/comm" of every
 * process (root NULL or "" for the live system) and leaves the largest
 * `capacity` sorted by mb_smaps_size, largest first (ties: lower pid
 * first). Processes that vanish or cannot be read meanwhile are counted in
 * `unreadable` (kernel threads have an empty smaps_rollup and count there
 * too). Returns 0, or the negative errno of opening root/proc. Never
 * allocates; blocks only on reading /proc (which a process stuck in the
 * kernel's mmap lock can delay). */
int mb_smaps_scan_run(struct mb_smaps_scan *scan, const char *root);

/* Sorts procs[0..count) largest first in place (heap sort: no allocation).
 * Exposed for tests. */
void mb_smaps_sort(struct mb_smaps_proc *procs, size_t count);

#endif
