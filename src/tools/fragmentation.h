/* fragmentation.h: external fragmentation of a zone, computed as the kernel does.
 *
 * From a zone's free block counts per order (one line of /proc/buddyinfo),
 * mm/vmstat.c defines, for a requested order j:
 *   free     = sum over i of n_i * 2^i                  (free pages)
 *   suitable = sum over i >= j of n_i * 2^(i-j)         (blocks of order j)
 *   blocks   = sum over i of n_i                        (free blocks)
 *   unusable_index(j)      = (free - suitable * 2^j) / free, 1 when free = 0
 *   fragmentation_index(j) = -1 when suitable > 0, 0 when blocks = 0,
 *                            else 1 - (1 + free / 2^j) / blocks
 * Both in thousandths with the kernel's integer divisions, so they match
 * /sys/kernel/debug/extfrag/{unusable_index,extfrag_index} exactly.
 */
#ifndef MB_TOOLS_FRAGMENTATION_H
#define MB_TOOLS_FRAGMENTATION_H

#include <stddef.h>
#include <stdint.h>

/* Orders a zone line can have; kernels use 11 (MAX_ORDER) by default, some more. */
#define MB_FRAG_MAX_ORDERS 32

struct mb_frag_order {
    uint64_t free_blocks;         /* n_j: free blocks of exactly this order */
    uint64_t free_pages;          /* n_j * 2^j */
    uint64_t suitable_blocks;     /* free blocks usable for an order-j request */
    int32_t unusable_thousandths; /* 0..1000 */
    int32_t fragmentation_thousandths; /* -1000, or 0..1000 */
};

struct mb_frag_zone {
    size_t orders;
    uint64_t free_pages;   /* over every order */
    uint64_t free_blocks;
    struct mb_frag_order order[MB_FRAG_MAX_ORDERS];
    /* The talk's overall level: the mean of the unusable indices over every
     * order, in thousandths (integer division). */
    int32_t average_unusable_thousandths;
};

/* Computes every order of one zone from counts[0..orders). Returns 0, or
 * -EINVAL when orders is 0 or above MB_FRAG_MAX_ORDERS, or -ERANGE when a page
 * count overflows 64 bits (impossible for real zones; fuzzed input only). */
int mb_frag_compute(const uint64_t *counts, size_t orders, struct mb_frag_zone *out);

/* Writes an index in thousandths the way the kernel's debugfs does ("0.379",
 * "1.000", "-1.000") into buf. Returns the length written (at most 7). */
size_t mb_frag_format_index(int32_t thousandths, char *buf, size_t len);

#endif
