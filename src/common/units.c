/* units.c: see units.h. No stdio and no heap: gmalloc uses this before malloc exists. */
#include "common/units.h"

#include "common/numparse.h"

#include <errno.h>
#include <stdbool.h>
#include <unistd.h>

size_t mb_page_size(void)
{
    /* A benign race: every thread computes the same value. */
    static size_t cached;
    size_t size = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (size == 0) {
        long value = sysconf(_SC_PAGESIZE);
        size = value > 0 ? (size_t)value : 4096;
        __atomic_store_n(&cached, size, __ATOMIC_RELAXED);
    }
    return size;
}

int mb_pages_to_bytes(uint64_t pages, uint64_t page_size, uint64_t *bytes)
{
    if (page_size == 0)
        return -EINVAL;
    return mb_mul_u64(pages, page_size, bytes);
}

int mb_bytes_to_pages_floor(uint64_t bytes, uint64_t page_size, uint64_t *pages)
{
    if (page_size == 0)
        return -EINVAL;
    *pages = bytes / page_size;
    return 0;
}

int mb_bytes_to_pages_ceil(uint64_t bytes, uint64_t page_size, uint64_t *pages)
{
    if (page_size == 0)
        return -EINVAL;
    /* Not (bytes + page_size - 1) / page_size: that overflows near UINT64_MAX. */
    *pages = bytes / page_size + (bytes % page_size != 0 ? 1 : 0);
    return 0;
}

/* Appends the decimal digits of value at buf[*pos]; the caller checked the room. */
static void put_decimal(char *buf, size_t *pos, uint64_t value)
{
    char digits[20];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    while (n > 0)
        buf[(*pos)++] = digits[--n];
}

static void put_text(char *buf, size_t *pos, const char *text)
{
    while (*text != '\0')
        buf[(*pos)++] = *text++;
}

int mb_format_size(uint64_t bytes, char *buf, size_t size)
{
    static const char *const unit_names[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    const size_t last_unit = sizeof(unit_names) / sizeof(unit_names[0]) - 1;

    size_t unit = 0;
    while (unit < last_unit && bytes >> (10 * (unit + 1)) != 0)
        unit++;
    uint64_t divisor = UINT64_C(1) << (10 * unit);
    uint64_t whole = bytes / divisor;
    uint64_t rest = bytes % divisor;
    uint64_t tenths = 0;
    bool exact = rest == 0;
    if (!exact) {
        /* rest < divisor <= 2^60, so rest * 10 + divisor / 2 < 2^64. */
        tenths = (rest * 10 + divisor / 2) / divisor;
        if (tenths == 10) {
            whole++;
            tenths = 0;
        }
        if (whole == 1024 && unit < last_unit) {
            unit++;
            whole = 1;
        }
    }

    char text[MB_SIZE_STRING_MAX];
    size_t pos = 0;
    put_decimal(text, &pos, whole);
    if (!exact) {
        text[pos++] = '.';
        text[pos++] = (char)('0' + tenths);
    }
    text[pos++] = ' ';
    put_text(text, &pos, unit_names[unit]);

    if (pos >= size) {
        if (size > 0)
            buf[0] = '\0';
        return -ENOSPC;
    }
    for (size_t i = 0; i < pos; i++)
        buf[i] = text[i];
    buf[pos] = '\0';
    return (int)pos;
}

int mb_format_pages(uint64_t pages, uint64_t page_size, char *buf, size_t size)
{
    uint64_t bytes = 0;
    int rc = mb_pages_to_bytes(pages, page_size, &bytes);
    if (rc != 0) {
        if (size > 0)
            buf[0] = '\0';
        return rc;
    }
    return mb_format_size(bytes, buf, size);
}
