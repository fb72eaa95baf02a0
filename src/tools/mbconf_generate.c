/* mbconf_generate.c: see mbconf_generate.h. */
#include "tools/mbconf_generate.h"

#include "common/numparse.h"
#include "common/units.h"

#include <errno.h>
#include <inttypes.h>

#define DEFAULT_SOCKET "/run/membroker/socket"

static const char *const option_names[MBCONF_RESERVES] = {
    "--reserve-kernel", "--reserve-cache", "--reserve-stacks", "--reserve-dma"};

int mbconf_plan_compute(const struct mb_meminfo *mem, const struct mbconf_overrides *overrides,
                        uint64_t page_size, struct mbconf_plan *plan, char *why, size_t why_size)
{
    *plan = (struct mbconf_plan){0};
    plan->memtotal = mb_meminfo_get(mem, MB_MEMINFO_MEM_TOTAL, 0);
    if (plan->memtotal == 0) {
        snprintf(why, why_size, "meminfo has no MemTotal");
        return -EINVAL;
    }
    /* Every figure is below MemTotal, so none of these sums can overflow. */
    plan->kernel_stack = mb_meminfo_get(mem, MB_MEMINFO_KERNEL_STACK, 0);
    plan->page_tables = mb_meminfo_get(mem, MB_MEMINFO_PAGE_TABLES, 0);
    plan->sunreclaim = mb_meminfo_get(mem, MB_MEMINFO_SUNRECLAIM, 0);
    uint64_t unevictable = mb_meminfo_get(mem, MB_MEMINFO_UNEVICTABLE, 0);
    uint64_t mlocked = mb_meminfo_get(mem, MB_MEMINFO_MLOCKED, 0);
    plan->unevictable = unevictable > mlocked ? unevictable : mlocked;
    plan->hugetlb = mb_meminfo_get(mem, MB_MEMINFO_HUGETLB, 0);
    plan->kernel_measured = plan->kernel_stack + plan->page_tables + plan->sunreclaim +
                            plan->unevictable + plan->hugetlb;
    plan->reserve[MBCONF_KERNEL] =
        plan->kernel_measured + plan->kernel_measured / 100 * MBCONF_KERNEL_GROWTH_PERCENT +
        plan->kernel_measured % 100 * MBCONF_KERNEL_GROWTH_PERCENT / 100;
    plan->reserve[MBCONF_CACHE] = plan->memtotal / 10000 * MBCONF_DEFAULT_CACHE_HUNDREDTHS +
                                  plan->memtotal % 10000 * MBCONF_DEFAULT_CACHE_HUNDREDTHS / 10000;
    plan->reserve[MBCONF_STACKS] = MBCONF_DEFAULT_STACKS;
    plan->have_cma = mb_meminfo_has(mem, MB_MEMINFO_CMA_TOTAL);
    plan->reserve[MBCONF_DMA] = mb_meminfo_get(mem, MB_MEMINFO_CMA_TOTAL, 0);

    for (int i = 0; i < MBCONF_RESERVES; i++) {
        if (overrides == NULL || !overrides->set[i])
            continue;
        if (mb_size_resolve(&overrides->size[i], page_size, plan->memtotal, &plan->reserve[i]) <
            0) {
            snprintf(why, why_size, "%s: does not resolve on this machine", option_names[i]);
            return -EINVAL;
        }
        plan->overridden[i] = true;
    }
    uint64_t reserved = 0;
    for (int i = 0; i < MBCONF_RESERVES; i++)
        if (mb_add_u64(reserved, plan->reserve[i], &reserved) < 0)
            reserved = UINT64_MAX;
    if (reserved >= plan->memtotal || plan->memtotal - reserved < MBCONF_TOTAL_GRANULE) {
        char r[MB_SIZE_STRING_MAX], m[MB_SIZE_STRING_MAX];
        mb_format_size(reserved, r, sizeof r);
        mb_format_size(plan->memtotal, m, sizeof m);
        snprintf(why, why_size, "the reserves (%s) leave nothing of MemTotal (%s)", r, m);
        return -EINVAL;
    }
    uint64_t left = plan->memtotal - reserved;
    plan->total = left - left % MBCONF_TOTAL_GRANULE;
    return 0;
}

/* " 12345 kB (12.1 MiB)" right-aligned for the comment table. */
static void print_amount(FILE *out, uint64_t bytes)
{
    char human[MB_SIZE_STRING_MAX];
    mb_format_size(bytes, human, sizeof human);
    fprintf(out, "%10" PRIu64 " kB %-12s", bytes / 1024, human);
}

void mbconf_write_config(FILE *out, const struct mbconf_plan *plan, const char *socket)
{
    fputs("# mbserver configuration written by `mbconf generate` from /proc/meminfo.\n"
          "# Keys: docs/config.md, section \"mbserver\". Check: mbserver --check-config FILE\n"
          "#\n"
          "# TOTAL is the quota mbserver hands out: MemTotal minus what no client can be\n"
          "# granted. Regenerate after changing the kernel or the reserves.\n#\n",
          out);
    fputs("#   MemTotal        ", out);
    print_amount(out, plan->memtotal);
    fputs("installed RAM as the kernel counts it\n", out);

    fputs("#   - kernel        ", out);
    print_amount(out, plan->reserve[MBCONF_KERNEL]);
    if (plan->overridden[MBCONF_KERNEL])
        fputs("given with --reserve-kernel\n", out);
    else
        fprintf(out, "measured, plus %u%% for growth (--reserve-kernel)\n",
                MBCONF_KERNEL_GROWTH_PERCENT);
    fprintf(out,
            "#       measured: KernelStack %" PRIu64 " + PageTables %" PRIu64 " + SUnreclaim %" PRIu64
            " + Unevictable/Mlocked %" PRIu64 " + Hugetlb %" PRIu64 " = %" PRIu64 " kB\n",
            plan->kernel_stack / 1024, plan->page_tables / 1024, plan->sunreclaim / 1024,
            plan->unevictable / 1024, plan->hugetlb / 1024, plan->kernel_measured / 1024);

    fputs("#   - page cache    ", out);
    print_amount(out, plan->reserve[MBCONF_CACHE]);
    fputs(plan->overridden[MBCONF_CACHE]
              ? "given with --reserve-cache\n"
              : "working set of program text and files: 12.5% of MemTotal (--reserve-cache)\n",
          out);

    fputs("#   - stacks        ", out);
    print_amount(out, plan->reserve[MBCONF_STACKS]);
    fputs(plan->overridden[MBCONF_STACKS]
              ? "given with --reserve-stacks\n"
              : "thread stacks outside any quota: 64 threads of 128 KiB (--reserve-stacks)\n",
          out);

    fputs("#   - DMA/CMA       ", out);
    print_amount(out, plan->reserve[MBCONF_DMA]);
    if (plan->overridden[MBCONF_DMA])
        fputs("given with --reserve-dma\n", out);
    else if (plan->have_cma)
        fputs("CmaTotal, kept for device DMA buffers (--reserve-dma)\n", out);
    else
        fputs("no CMA area in meminfo (--reserve-dma)\n", out);

    fputs("#   = TOTAL         ", out);
    print_amount(out, plan->total);
    fputs("rounded down to 64 KiB: whole pages of 4, 16 or 64 KiB\n#\n", out);
    fprintf(out, "TOTAL               %" PRIu64 "K\n", plan->total / 1024);
    fputs("\n# Where clients connect (they read MEMBROKER_SOCKET, else the default).\n", out);
    fprintf(out, "SOCKET              \"%s\"\n", socket != NULL ? socket : DEFAULT_SOCKET);
    fputs("SOCKET_MODE         0660\n"
          "\n# Defaults, written out so they can be tuned here.\n"
          "MAX_CLIENTS         1024      # connections served at once\n"
          "REQUEST_TIMEOUT     500ms     # a REQUEST waits this long for give-backs\n"
          "QUERY_TIMEOUT       200ms     # deadline of one give-back query\n"
          "MISSED_DEADLINE_LIMIT 0       # 0: never disconnect a slow client\n"
          "# PRESSURE_RESERVE  (a tenth of TOTAL) pool kept free under kernel memory pressure\n"
          "SEND_QUEUE_DEPTH    8\n"
          "LOG_LEVEL           info\n",
          out);
}
