/* proc_read.h: reading a /proc file whole into a caller buffer, and the line
 * splitting every /proc parser shares.
 *
 * The parsers (proc_meminfo, proc_vmstat, proc_buddyinfo, proc_pressure) work
 * on a buffer (pointer + length, not NUL-terminated) so they are tested
 * against captured files; this is the only part that touches the live file.
 * Nothing here allocates.
 */
#ifndef MB_COMMON_PROC_READ_H
#define MB_COMMON_PROC_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Reads the file at `path` from its start into buf[0..size) with open(2) and
 * read(2), retrying reads interrupted by a signal. Sets *len to the number of
 * bytes stored (also on -EFBIG). /proc files report size 0 to stat(2), so the
 * end is found by reading until read(2) returns 0.
 * Returns 0 when the whole file fit, -EFBIG when it is longer than `size`
 * (buf holds the first `size` bytes: a bigger buffer is needed), -EINVAL when
 * size is 0, or the negative errno of open(2) or read(2) (then *len is 0).
 * May block on the file (a /proc file returns at once). */
int mb_proc_read(const char *path, char *buf, size_t size, size_t *len);

/* Line splitting for the parsers. A cursor over buf[0..len). */
struct mb_lines {
    const char *buf;
    size_t len;
    size_t pos;
    size_t number; /* 1-based number of the line last returned; 0 before the first */
};

/* Starts a cursor over buf[0..len). */
void mb_lines_init(struct mb_lines *lines, const char *buf, size_t len);

/* Returns the next line in *line (length in *line_len) without its '\n' (a last line
 * without '\n' counts as a line), or false at the end of the buffer. */
bool mb_lines_next(struct mb_lines *lines, const char **line, size_t *line_len);

/* Number of spaces and tabs at the start of s[0..len). */
size_t mb_span_blanks(const char *s, size_t len);

/* Number of characters before the first space, tab or the end of s[0..len). */
size_t mb_span_word(const char *s, size_t len);

/* True when s[0..len) is empty or only spaces and tabs. */
bool mb_is_blank(const char *s, size_t len);

/* Calls fn(ctx, line, line_len) for each line of buf[0..len) that is not
 * blank, in order, until fn returns non-zero. Returns 0 or that value; then
 * *error_line (when not NULL) gets the 1-based number of the line, else 0. */
typedef int (*mb_line_fn)(void *ctx, const char *line, size_t line_len);
int mb_each_line(const char *buf, size_t len, mb_line_fn fn, void *ctx, size_t *error_line);

/* The index of the name equal to s[0..len) in names[0..count), or -1. */
int mb_name_index(const char *const *names, size_t count, const char *s, size_t len);

/* Named counters read from a "key value" file (meminfo, vmstat): bit f of
 * *present says value[f] was seen; the first line naming a field wins. */
void mb_field_store(uint64_t *present, uint64_t *value, size_t f, uint64_t v);
/* Whether field f (of count) was seen; value[f] when it was, else fallback. */
bool mb_field_has(uint64_t present, size_t count, unsigned f);
uint64_t mb_field_get(uint64_t present, const uint64_t *value, size_t count, unsigned f,
                      uint64_t fallback);
/* names[f], or NULL when f is not below count. */
const char *mb_field_name(const char *const *names, size_t count, unsigned f);

#endif
