/* numparse.h: locale-free, heap-free number parsing shared by every parser.
 *
 * These never call strtol/strtoull (locale, errno, and leading whitespace and
 * sign handling we do not want) and never read past the given length, so
 * they work on unterminated buffers such as a file read with read(2).
 */
#ifndef MB_COMMON_NUMPARSE_H
#define MB_COMMON_NUMPARSE_H

#include <stddef.h>
#include <stdint.h>

/* Parses the longest run of decimal digits at the start of s[0..len).
 * Returns the number of characters consumed (0 when s does not start with a
 * digit), or -ERANGE when the value does not fit in uint64_t (then *out is
 * left unchanged). Never reads s[len] or beyond. */
int mb_parse_u64_prefix(const char *s, size_t len, uint64_t *out);

/* Parses exactly s[0..len) as a decimal uint64_t: no sign, no spaces, no
 * trailing characters. Returns 0, -EINVAL (empty or not all digits) or
 * -ERANGE (overflow). */
int mb_parse_u64_exact(const char *s, size_t len, uint64_t *out);

/* Overflow-checked arithmetic: return 0 and store the result, or -ERANGE. */
int mb_mul_u64(uint64_t a, uint64_t b, uint64_t *out);
int mb_add_u64(uint64_t a, uint64_t b, uint64_t *out);

#endif
