/* strbuf.h: a bounded, heap-free string builder for messages.
 *
 * Builds text in storage the caller owns (usually a stack array or a field
 * of an error struct), so code that runs before malloc exists (gmalloc) or
 * must not allocate (signal paths, the allocator) can still produce
 * readable messages. No function here calls malloc, stdio or locale code.
 *
 * The buffer is always NUL-terminated (when its capacity is at least 1).
 * Text that does not fit is cut off at the capacity and the builder
 * remembers it was truncated; appending more after that is harmless.
 * None of these functions block.
 *
 *     char text[64];
 *     struct mb_strbuf sb;
 *     mb_strbuf_init(&sb, text, sizeof(text));
 *     mb_strbuf_append(&sb, "pages: ");
 *     mb_strbuf_append_u64(&sb, pages);
 */
#ifndef MB_COMMON_STRBUF_H
#define MB_COMMON_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mb_strbuf {
    char *buf;      /* caller storage, capacity bytes */
    size_t cap;     /* capacity including the terminating NUL */
    size_t len;     /* bytes written, excluding the NUL; always < cap when cap > 0 */
    bool truncated; /* something did not fit */
};

/* Starts an empty string in buf[0..cap). cap may be 0 (buf may then be
 * NULL): every append only records truncation. */
void mb_strbuf_init(struct mb_strbuf *sb, char *buf, size_t cap);

/* Appends the NUL-terminated string s (NULL appends "(null)"). */
void mb_strbuf_append(struct mb_strbuf *sb, const char *s);

/* Appends exactly n bytes of s (which need not be NUL-terminated). */
void mb_strbuf_append_n(struct mb_strbuf *sb, const char *s, size_t n);

void mb_strbuf_append_char(struct mb_strbuf *sb, char c);

/* Decimal, no padding, no locale grouping: 0, 42, 18446744073709551615. */
void mb_strbuf_append_u64(struct mb_strbuf *sb, uint64_t value);

/* Decimal with a leading '-' for negatives; INT64_MIN is handled. */
void mb_strbuf_append_i64(struct mb_strbuf *sb, int64_t value);

/* Appends n bytes of s for display inside quotes: printable ASCII as is,
 * '"' and '\\' escaped with a backslash, every other byte as \xNN. At most
 * max_bytes input bytes are shown; when s is longer, "..." follows. */
void mb_strbuf_append_printable(struct mb_strbuf *sb, const char *s, size_t n, size_t max_bytes);

/* Appends a short English text for a positive errno value (ENOENT gives
 * "No such file or directory"). Codes outside the project's small table
 * give "errno N". Unlike strerror this never allocates and is reentrant. */
void mb_strbuf_append_errno(struct mb_strbuf *sb, int errnum);

/* The text built so far (always NUL-terminated; "" when cap is 0). */
const char *mb_strbuf_str(const struct mb_strbuf *sb);

/* True when some appended text did not fit. */
bool mb_strbuf_truncated(const struct mb_strbuf *sb);

#endif
