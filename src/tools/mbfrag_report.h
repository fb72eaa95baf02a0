/* mbfrag_report.h: one snapshot of the buddy allocator and of meminfo, and
 * the ways mbfrag prints it (table, JSON, CSV).
 *
 * A snapshot is parsed from buffers, so it is tested against captured
 * files; mbfrag_snapshot_read is the only part that reads the machine. The
 * printers are pure functions of a snapshot and the page size.
 */
#ifndef MB_TOOLS_MBFRAG_REPORT_H
#define MB_TOOLS_MBFRAG_REPORT_H

#include "common/proc_buddyinfo.h"
#include "common/proc_meminfo.h"
#include "tools/fragmentation.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct mbfrag_snapshot {
    struct mb_buddyinfo buddy;                      /* zones as the file lists them */
    struct mb_frag_zone frag[MB_BUDDYINFO_MAX_ZONES]; /* [i] computed from buddy.zone[i] */
    struct mb_meminfo mem;
    bool have_mem; /* false when meminfo could not be read (the table still prints) */
};

/* Builds a snapshot from buddyinfo text and, when meminfo is not NULL,
 * meminfo text. Returns 0, or a negative errno with a one-line reason in
 * why[0..why_size) ("buddyinfo line 3: malformed", "meminfo line 2: ...").
 * Does not block. */
int mbfrag_snapshot_parse(const char *buddyinfo, size_t buddyinfo_len, const char *meminfo,
                          size_t meminfo_len, struct mbfrag_snapshot *out, char *why,
                          size_t why_size);

/* Reads buddyinfo_path (NULL: root + /proc/buddyinfo) and root +
 * /proc/meminfo (a missing meminfo leaves have_mem false) into *out.
 * Returns 0, or a negative errno with the reason in why. Blocks only on
 * those reads. Not reentrant: it reads through static buffers (a snapshot
 * of 64 zones is too big for a small thread stack). */
int mbfrag_snapshot_read(const char *root, const char *buddyinfo_path, struct mbfrag_snapshot *out,
                         char *why, size_t why_size);

/* The talk's percentage of an index: 379 thousandths -> 37 (rounded down). */
int32_t mbfrag_level_percent(int32_t unusable_thousandths);

/* Per zone: the table of orders, the total, the average level, the zone's
 * free memory; then MemFree and MemAvailable. */
void mbfrag_print_table(FILE *out, const struct mbfrag_snapshot *snap, uint64_t page_size);

/* The same figures as one JSON object (indices as the kernel prints them). */
void mbfrag_print_json(FILE *out, const struct mbfrag_snapshot *snap, uint64_t page_size);

/* CSV for `mbfrag watch`: the header names the columns of the zones of
 * `snap`; a row is one sample (time in seconds since 1970 with ms). A row
 * prints the zones of its own snapshot in order, so zones must not change
 * between samples (they do not while the machine runs). */
void mbfrag_print_csv_header(FILE *out, const struct mbfrag_snapshot *snap);
void mbfrag_print_csv_row(FILE *out, const struct mbfrag_snapshot *snap, uint64_t realtime_ns);

#endif
