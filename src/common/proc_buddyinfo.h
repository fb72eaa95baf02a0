/* proc_buddyinfo.h: /proc/buddyinfo, parsed from a buffer.
 *
 * One line per zone: "Node N, zone NAME c0 c1 ... cK", where ci is the
 * number of free blocks of order i (2^i pages each). The number of orders
 * depends on the kernel (MAX_ORDER: 11 on most, fewer on arm64 with 64 KiB
 * pages, more on some configs), so each zone records how many it had.
 * Nothing here allocates or blocks.
 */
#ifndef MB_COMMON_PROC_BUDDYINFO_H
#define MB_COMMON_PROC_BUDDYINFO_H

#include <stddef.h>
#include <stdint.h>

/* Zones the parser keeps (nodes times zone types); more is -E2BIG. */
#define MB_BUDDYINFO_MAX_ZONES 64
/* Orders a line may have (same bound as tools/fragmentation.h); more is -E2BIG. */
#define MB_BUDDYINFO_MAX_ORDERS 32
/* Room for a zone name and its NUL; a longer name is -ENAMETOOLONG. */
#define MB_BUDDYINFO_ZONE_NAME_SIZE 32

struct mb_buddyinfo_zone {
    uint32_t node;
    char name[MB_BUDDYINFO_ZONE_NAME_SIZE]; /* NUL-terminated: "DMA32", "Normal", ... */
    size_t orders;                          /* counts on the line, 1..MB_BUDDYINFO_MAX_ORDERS */
    uint64_t free_blocks[MB_BUDDYINFO_MAX_ORDERS]; /* [i] for order i; 0 past `orders` */
};

struct mb_buddyinfo {
    size_t zones;
    struct mb_buddyinfo_zone zone[MB_BUDDYINFO_MAX_ZONES]; /* in file order */
};

/* Parses buf[0..len) into *out (cleared first). Blank lines are skipped; a
 * last line without '\n' is parsed like the others. Returns 0 (also for an
 * empty buffer: zones = 0); or, with the 1-based line number in *error_line
 * (0 on success; error_line may be NULL):
 *   -EINVAL       a malformed line (not "Node N, zone NAME" with at least
 *                 one count, or a count that is not an unsigned number)
 *   -ERANGE       a count or node number too large (u64, resp. u32)
 *   -ENAMETOOLONG a zone name of MB_BUDDYINFO_ZONE_NAME_SIZE bytes or more
 *   -E2BIG        more than MB_BUDDYINFO_MAX_ZONES zones or
 *                 MB_BUDDYINFO_MAX_ORDERS orders
 * On error *out is left with zones = 0. */
int mb_buddyinfo_parse(const char *buf, size_t len, struct mb_buddyinfo *out, size_t *error_line);

/* Free pages of a zone: sum of free_blocks[i] * 2^i. Returns 0, or -ERANGE
 * when the sum does not fit in 64 bits (only crafted input can do that). */
int mb_buddyinfo_zone_free_pages(const struct mb_buddyinfo_zone *zone, uint64_t *pages);

#endif
