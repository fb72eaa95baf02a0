/* mbconf_generate.h: mbserver's TOTAL from installed RAM, and the config
 * file that explains it.
 *
 * TOTAL = MemTotal minus four reserves, each measured or defaulted and each
 * overridable with an option:
 *   kernel  KernelStack + PageTables + SUnreclaim + max(Unevictable, Mlocked)
 *           + Hugetlb, as measured now, plus 25% for growth (more processes,
 *           more page tables): memory no client can be granted;
 *   cache   12.5% of MemTotal: the page-cache working set (program text,
 *           libraries, data files) that must stay resident or the device
 *           thrashes;
 *   stacks  8 MiB: thread stacks and other memory that programs touch outside
 *           any quota-aware allocator (64 threads of 128 KiB);
 *   dma     CmaTotal: the CMA area kept for device DMA buffers.
 * TOTAL is rounded down to a multiple of 64 KiB so it is a whole number of
 * pages for 4, 16 and 64 KiB pages alike. Everything here is pure except
 * that `p` sizes use the run-time page size given by the caller.
 */
#ifndef MB_TOOLS_MBCONF_GENERATE_H
#define MB_TOOLS_MBCONF_GENERATE_H

#include "common/config_value.h"
#include "common/proc_meminfo.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define MBCONF_DEFAULT_CACHE_HUNDREDTHS 1250u          /* 12.5% of MemTotal */
#define MBCONF_DEFAULT_STACKS ((uint64_t)8 << 20)       /* 8 MiB */
#define MBCONF_KERNEL_GROWTH_PERCENT 25u
#define MBCONF_TOTAL_GRANULE ((uint64_t)64 << 10)       /* 64 KiB */

enum mbconf_reserve { MBCONF_KERNEL, MBCONF_CACHE, MBCONF_STACKS, MBCONF_DMA, MBCONF_RESERVES };

/* Sizes given on the command line (set[i] false: measured or default). */
struct mbconf_overrides {
    bool set[MBCONF_RESERVES];
    struct mb_size size[MBCONF_RESERVES];
};

struct mbconf_plan {
    uint64_t memtotal;                 /* bytes */
    uint64_t reserve[MBCONF_RESERVES]; /* bytes */
    bool overridden[MBCONF_RESERVES];
    /* What the kernel reserve was measured from (bytes), even when overridden. */
    uint64_t kernel_stack, page_tables, sunreclaim, unevictable, hugetlb, kernel_measured;
    bool have_cma;
    uint64_t total; /* bytes, a multiple of MBCONF_TOTAL_GRANULE */
};

/* Computes the plan from meminfo. Returns 0, or -EINVAL with a reason in
 * why[0..why_size): no MemTotal, an override that does not resolve (a page
 * size of 0 for `p`), or reserves that leave less than 64 KiB. */
int mbconf_plan_compute(const struct mb_meminfo *mem, const struct mbconf_overrides *overrides,
                        uint64_t page_size, struct mbconf_plan *plan, char *why, size_t why_size);

/* Writes the mbserver config: a comment per figure, then TOTAL, SOCKET and
 * the other keys at their documented defaults. `socket` NULL: the default. */
void mbconf_write_config(FILE *out, const struct mbconf_plan *plan, const char *socket);

#endif
