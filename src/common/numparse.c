/* numparse.c: see numparse.h. */
#include "common/numparse.h"

#include <errno.h>

int mb_parse_u64_prefix(const char *s, size_t len, uint64_t *out)
{
    uint64_t value = 0;
    size_t i = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        uint64_t digit = (uint64_t)(s[i] - '0');
        if (value > (UINT64_MAX - digit) / 10)
            return -ERANGE;
        value = value * 10 + digit;
        i++;
    }
    if (i > 0)
        *out = value;
    /* i is bounded by len, and callers pass lines far below INT_MAX. */
    return i > (size_t)INT32_MAX ? -ERANGE : (int)i;
}

int mb_parse_u64_exact(const char *s, size_t len, uint64_t *out)
{
    if (len == 0)
        return -EINVAL;
    uint64_t value = 0;
    int used = mb_parse_u64_prefix(s, len, &value);
    if (used < 0)
        return used;
    if ((size_t)used != len)
        return -EINVAL;
    *out = value;
    return 0;
}

int mb_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    uint64_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return -ERANGE;
    *out = r;
    return 0;
}

int mb_add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    uint64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return -ERANGE;
    *out = r;
    return 0;
}
