/* fragmentation.c: see fragmentation.h. The arithmetic follows mm/vmstat.c
 * (fill_contig_page_info, __fragmentation_index, unusable_free_index). */
#include "tools/fragmentation.h"

#include "common/numparse.h"

#include <errno.h>

static int32_t unusable_index(uint64_t free_pages, uint64_t suitable, unsigned order)
{
    if (free_pages == 0)
        return 1000;
    /* suitable << order never exceeds free_pages: each suitable block is made
     * of free pages. The product by 1000 fits: free_pages < 2^54 is checked. */
    return (int32_t)(((free_pages - (suitable << order)) * 1000u) / free_pages);
}

static int32_t fragmentation_index(uint64_t free_pages, uint64_t blocks, uint64_t suitable,
                                   unsigned order)
{
    if (blocks == 0)
        return 0;
    if (suitable > 0)
        return -1000;
    uint64_t requested = (uint64_t)1 << order;
    return (int32_t)(1000 - (1000 + (free_pages * 1000u) / requested) / blocks);
}

int mb_frag_compute(const uint64_t *counts, size_t orders, struct mb_frag_zone *out)
{
    if (orders == 0 || orders > MB_FRAG_MAX_ORDERS)
        return -EINVAL;
    *out = (struct mb_frag_zone){.orders = orders};
    for (size_t i = 0; i < orders; i++) {
        uint64_t pages;
        if (mb_mul_u64(counts[i], (uint64_t)1 << i, &pages) < 0 ||
            mb_add_u64(out->free_pages, pages, &out->free_pages) < 0 ||
            mb_add_u64(out->free_blocks, counts[i], &out->free_blocks) < 0)
            return -ERANGE;
        out->order[i].free_blocks = counts[i];
        out->order[i].free_pages = pages;
    }
    /* Keep free_pages * 1000 within 64 bits (2^54 pages is 64 EiB of 4 KiB pages). */
    if (out->free_pages >= ((uint64_t)1 << 54))
        return -ERANGE;

    int64_t sum = 0;
    for (size_t j = 0; j < orders; j++) {
        uint64_t suitable = 0;
        for (size_t i = j; i < orders; i++)
            suitable += counts[i] << (i - j); /* bounded by free_pages: no overflow */
        struct mb_frag_order *o = &out->order[j];
        o->suitable_blocks = suitable;
        o->unusable_thousandths = unusable_index(out->free_pages, suitable, (unsigned)j);
        o->fragmentation_thousandths =
            fragmentation_index(out->free_pages, out->free_blocks, suitable, (unsigned)j);
        sum += o->unusable_thousandths;
    }
    out->average_unusable_thousandths = (int32_t)(sum / (int64_t)orders);
    return 0;
}

size_t mb_frag_format_index(int32_t thousandths, char *buf, size_t len)
{
    char tmp[8];
    size_t n = 0;
    uint32_t magnitude = thousandths < 0 ? (uint32_t)(-(int64_t)thousandths) : (uint32_t)thousandths;
    if (magnitude > 9999)
        magnitude = 9999; /* indices are within [-1000, 1000]; keep the buffer bounded */
    if (thousandths < 0)
        tmp[n++] = '-';
    tmp[n++] = (char)('0' + magnitude / 1000);
    tmp[n++] = '.';
    tmp[n++] = (char)('0' + magnitude / 100 % 10);
    tmp[n++] = (char)('0' + magnitude / 10 % 10);
    tmp[n++] = (char)('0' + magnitude % 10);
    if (len == 0)
        return 0;
    size_t copy = n < len - 1 ? n : len - 1;
    for (size_t i = 0; i < copy; i++)
        buf[i] = tmp[i];
    buf[copy] = '\0';
    return copy;
}
