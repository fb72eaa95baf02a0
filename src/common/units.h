/* units.h: page size, pages <-> bytes, and human-readable sizes.
 *
 * Heap-free, stdio-free and locale-free so gmalloc can use it before malloc
 * exists. The page size is always read at run time (4 KiB, 16 KiB and 64 KiB
 * pages all exist on ARM); conversions take it as a parameter so they can be
 * tested for every size.
 *
 * Human-readable sizes use binary units (B, KiB, MiB, GiB, TiB, PiB, EiB):
 *   - below 1024 bytes: the exact count, "0 B", "512 B", "1023 B";
 *   - otherwise the largest unit U with bytes >= U; an exact multiple of U is
 *     written as an integer ("64 MiB", "1 GiB"), anything else with one
 *     decimal rounded to nearest ("1.5 KiB", "1.0 GiB" for 1 GiB + 1
 *     byte): the ".0" says "not exact";
 *   - when rounding reaches 1024.0 of a unit the next unit is used
 *     ("1.0 GiB" for 1 GiB - 1 byte), except in EiB ("16.0 EiB" for
 *     UINT64_MAX).
 */
#ifndef MB_COMMON_UNITS_H
#define MB_COMMON_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* Buffer size that holds any formatted size with its NUL ("1023.9 MiB"). */
#define MB_SIZE_STRING_MAX 16

/* The system's page size from sysconf(_SC_PAGESIZE), read once per process
 * and cached (it cannot change). Falls back to 4096 only if sysconf fails,
 * which Linux never does. Does not block. */
size_t mb_page_size(void);

/* pages * page_size into *bytes. Returns 0, -EINVAL when page_size is 0, or
 * -ERANGE when the product does not fit in 64 bits. */
int mb_pages_to_bytes(uint64_t pages, uint64_t page_size, uint64_t *bytes);

/* Whole pages in `bytes` (rounded down) into *pages. Returns 0, or -EINVAL
 * when page_size is 0. */
int mb_bytes_to_pages_floor(uint64_t bytes, uint64_t page_size, uint64_t *pages);

/* Pages needed to hold `bytes` (rounded up) into *pages. Returns 0, or
 * -EINVAL when page_size is 0. Cannot overflow. */
int mb_bytes_to_pages_ceil(uint64_t bytes, uint64_t page_size, uint64_t *pages);

/* Writes `bytes` by the rules above into buf (NUL-terminated). Returns the
 * length without the NUL, or -ENOSPC when buf is too small (then buf holds
 * "" if size > 0); a buffer of MB_SIZE_STRING_MAX always suffices. */
int mb_format_size(uint64_t bytes, char *buf, size_t size);

/* Formats pages * page_size like mb_format_size. Returns its length, -ENOSPC,
 * -EINVAL (page_size 0) or -ERANGE (the byte count overflows 64 bits). */
int mb_format_pages(uint64_t pages, uint64_t page_size, char *buf, size_t size);

#endif
