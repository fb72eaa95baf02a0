/* config_value.h: the value syntax of membroker config files.
 *
 * Parses one value (a number, size, duration, boolean, list or string) from
 * text that need not be NUL-terminated, and resolves sizes to bytes or pages
 * once the page size and MemTotal are known. docs/config.md, "File format",
 * is the user-facing description of every rule here.
 *
 * Heap-free, stdio-free and locale-free: gmalloc parses its config with
 * these before malloc exists. Nothing here blocks or keeps state.
 *
 * Every parse function returns 0 on success, -EINVAL for malformed text or
 * -ERANGE for a number that overflows or is out of range. On failure the
 * reason is appended to `why` (when not NULL) as a short English phrase
 * without the value itself, e.g. "unknown size suffix 'Q' (use K, M, G, T
 * or p)", and *out is left unchanged (lists: items may be partly written,
 * *count is unchanged).
 */
#ifndef MB_COMMON_CONFIG_VALUE_H
#define MB_COMMON_CONFIG_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/strbuf.h"

/* What the amount of a size counts. */
enum mb_size_unit {
    MB_SIZE_BYTES = 0,   /* amount is bytes (suffixes already applied) */
    MB_SIZE_PAGES = 1,   /* amount is pages of the run-time page size */
    MB_SIZE_PERCENT = 2, /* amount is hundredths of a percent of MemTotal (1250 = 12.5%) */
};

/* A size as written, kept until the page size and MemTotal are known. */
struct mb_size {
    enum mb_size_unit unit;
    bool all_except; /* "all-except X": MemTotal minus X */
    uint64_t amount;
};

/* Which size forms a key accepts (bytes and pages always are). */
#define MB_SIZE_ALLOW_PERCENT 0x1u    /* "12.5%" */
#define MB_SIZE_ALLOW_ALL_EXCEPT 0x2u /* "all-except 64M" (not in lists) */

/* The unit of a duration written without a suffix. */
enum mb_duration_unit {
    MB_DURATION_MS = 0,
    MB_DURATION_S = 1,
    MB_DURATION_MIN = 2,
    MB_DURATION_H = 3,
};

/* Decimal digits only: no sign, no spaces, no 0x, no grouping. */
int mb_value_parse_u64(const char *s, size_t len, uint64_t *out, struct mb_strbuf *why);

/* A size: digits with an optional suffix K k KiB M MiB G GiB T TiB (powers
 * of 1024), p (pages), % (with up to two decimals, at most 100; needs
 * MB_SIZE_ALLOW_PERCENT); or "all-except " followed by such a size (needs
 * MB_SIZE_ALLOW_ALL_EXCEPT). `allow` is a mask of MB_SIZE_ALLOW_*. */
int mb_value_parse_size(const char *s, size_t len, unsigned allow, struct mb_size *out,
                        struct mb_strbuf *why);

/* A duration: digits with an optional suffix ms, s, m (minutes) or h;
 * without a suffix the number counts default_unit. Stored in milliseconds. */
int mb_value_parse_duration(const char *s, size_t len, enum mb_duration_unit default_unit,
                            uint64_t *out_ms, struct mb_strbuf *why);

/* 1/0, yes/no, true/false, on/off in any ASCII letter case. */
int mb_value_parse_bool(const char *s, size_t len, bool *out, struct mb_strbuf *why);

/* A list of u64 or sizes: items separated by spaces, tabs and/or one comma
 * ("16 32", "16,32", "16, 32"). An empty item (",16", "16,,32", "16,") is
 * an error; more than max_items items is -EINVAL ("more than N items").
 * Items go to items[0..], the number of them to *count. Size lists never
 * accept all-except. */
int mb_value_parse_u64_list(const char *s, size_t len, uint64_t *items, size_t max_items,
                            size_t *count, struct mb_strbuf *why);
int mb_value_parse_size_list(const char *s, size_t len, unsigned allow, struct mb_size *items,
                             size_t max_items, size_t *count, struct mb_strbuf *why);

/* Copies s[0..len) and a NUL into dst[0..cap). -EINVAL ("longer than N
 * bytes") when it does not fit; dst is then unchanged. */
int mb_value_copy_string(const char *s, size_t len, char *dst, size_t cap, struct mb_strbuf *why);

/* Finds the value in the text that follows a key (or the text of an
 * environment variable): leading spaces and tabs are skipped; a value that
 * starts with '"' runs to the next '"' (nothing but spaces, tabs and a
 * comment may follow it; *quoted is set); otherwise it runs to the end or
 * to the first '#' that follows a space or tab, with trailing spaces and
 * tabs removed. *value points into s. Returns 0 (the value may be empty)
 * or -EINVAL for a missing closing quote or text after it. */
int mb_value_split(const char *s, size_t len, const char **value, size_t *value_len, bool *quoted,
                   struct mb_strbuf *why);

/* Converts a size to bytes. Percent rounds down (floor(MemTotal * h /
 * 10000)). Returns 0, -ERANGE when the result overflows uint64_t, or
 * -EINVAL when page_size is 0 for a page count, a percent is over 100, or
 * an all-except amount is larger than memtotal_bytes. Never blocks. */
int mb_size_resolve(const struct mb_size *size, uint64_t page_size, uint64_t memtotal_bytes,
                    uint64_t *bytes);

/* Converts a size to pages: a page count is kept as is; any other size is
 * resolved to bytes and rounded UP to whole pages (4097 bytes are 2 pages of
 * 4096), so a budget written in bytes is never cut short. Same errors as
 * mb_size_resolve, and -EINVAL when page_size is 0. */
int mb_size_resolve_pages(const struct mb_size *size, uint64_t page_size, uint64_t memtotal_bytes,
                          uint64_t *pages);

#endif
