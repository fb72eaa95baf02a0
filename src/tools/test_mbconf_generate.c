/* Unit tests for mbconf_generate.c: exact TOTALs for the fixture machines
 * (a 256 MiB ARM device, this 24 GiB machine), overrides, refusals, and the
 * written file. */
#include "tools/mbconf_generate.h"
#include "tools/mbfrag_root.h"
#include "mbtest.h"

#include <errno.h>

#define FIXTURES "../../tests/fixtures/"
#define KIB(n) ((uint64_t)(n) * 1024u)

static struct mb_meminfo mem;
static char text[16 * 1024];

static bool load(const char *root)
{
    size_t len = 0;
    return mbfrag_root_read(root, "/proc/meminfo", text, sizeof text, &len) == 0 &&
           mb_meminfo_parse(text, len, &mem, NULL) == 0;
}

/* 249364 kB: kernel (1312 + 1704 + 9456 + 12288) * 1.25 = 30950 kB, cache
 * 12.5% = 31170.5 kB, stacks 8192 kB, CMA 16384 kB: 162667.5 kB left, 162624
 * kB in 64 KiB steps. */
static void test_arm256(void)
{
    MBT_REQUIRE(load(FIXTURES "root-arm256"));
    struct mbconf_plan plan;
    char why[128] = "";
    MBT_REQUIRE(mbconf_plan_compute(&mem, NULL, 4096, &plan, why, sizeof why) == 0);
    MBT_EQ_U64(KIB(249364), plan.memtotal);
    MBT_EQ_U64(KIB(24760), plan.kernel_measured);
    MBT_EQ_U64(KIB(30950), plan.reserve[MBCONF_KERNEL]);
    MBT_EQ_U64(KIB(249364) / 8, plan.reserve[MBCONF_CACHE]);
    MBT_EQ_U64(KIB(8192), plan.reserve[MBCONF_STACKS]);
    MBT_EQ_U64(KIB(16384), plan.reserve[MBCONF_DMA]);
    MBT_EQ_U64(KIB(162624), plan.total);
    MBT_EQ_U64(0, plan.total % MBCONF_TOTAL_GRANULE);
    /* Nothing lost: TOTAL plus reserves plus the rounding is MemTotal. */
    uint64_t sum = plan.total;
    for (int i = 0; i < MBCONF_RESERVES; i++)
        sum += plan.reserve[i];
    MBT_TRUE(sum <= plan.memtotal && plan.memtotal - sum < MBCONF_TOTAL_GRANULE);
}

/* This machine: 24683656 kB; kernel (1412 + 1940 + 22212 + 13180) * 1.25 =
 * 48430 kB; cache 3085457 kB; stacks 8192 kB; no CMA. */
static void test_x86(void)
{
    MBT_REQUIRE(load(FIXTURES "root-x86"));
    struct mbconf_plan plan;
    char why[128] = "";
    MBT_REQUIRE(mbconf_plan_compute(&mem, NULL, 4096, &plan, why, sizeof why) == 0);
    MBT_EQ_U64(KIB(48430), plan.reserve[MBCONF_KERNEL]);
    MBT_EQ_U64(KIB(3085457), plan.reserve[MBCONF_CACHE]);
    MBT_EQ_U64(0, plan.reserve[MBCONF_DMA]);
    MBT_FALSE(plan.have_cma);
    MBT_EQ_U64(KIB(21541568), plan.total);
}

static void test_overrides(void)
{
    MBT_REQUIRE(load(FIXTURES "root-arm256"));
    struct mbconf_overrides o = {0};
    o.set[MBCONF_KERNEL] = true;
    o.size[MBCONF_KERNEL] = (struct mb_size){.unit = MB_SIZE_BYTES, .amount = KIB(20480)};
    o.set[MBCONF_CACHE] = true;
    o.size[MBCONF_CACHE] = (struct mb_size){.unit = MB_SIZE_PERCENT, .amount = 1000}; /* 10% */
    o.set[MBCONF_STACKS] = true;
    o.size[MBCONF_STACKS] = (struct mb_size){.unit = MB_SIZE_PAGES, .amount = 256};
    o.set[MBCONF_DMA] = true;
    o.size[MBCONF_DMA] = (struct mb_size){.unit = MB_SIZE_BYTES, .amount = 0};
    struct mbconf_plan plan;
    char why[128] = "";
    MBT_REQUIRE(mbconf_plan_compute(&mem, &o, 16384, &plan, why, sizeof why) == 0);
    MBT_EQ_U64(KIB(20480), plan.reserve[MBCONF_KERNEL]);
    MBT_EQ_U64(KIB(249364) / 10, plan.reserve[MBCONF_CACHE]); /* floor(255348736 * 0.1) */
    MBT_EQ_U64(256u * 16384u, plan.reserve[MBCONF_STACKS]);
    MBT_EQ_U64(0, plan.reserve[MBCONF_DMA]);
    MBT_EQ_U64(KIB(24760), plan.kernel_measured); /* still shown in the comment */
    /* 249364 - 20480 - 24936.4 - 4096 = 199851.6 kB -> 199808 kB */
    MBT_EQ_U64(KIB(199808), plan.total);
    MBT_TRUE(plan.overridden[MBCONF_CACHE]);

    /* Reserves past MemTotal are refused, and so is a pages size without a page size. */
    o.size[MBCONF_KERNEL] = (struct mb_size){.unit = MB_SIZE_BYTES, .amount = KIB(249364)};
    MBT_EQ_INT(-EINVAL, mbconf_plan_compute(&mem, &o, 4096, &plan, why, sizeof why));
    MBT_TRUE(strstr(why, "the reserves (") == why);
    MBT_EQ_INT(-EINVAL, mbconf_plan_compute(&mem, &o, 0, &plan, why, sizeof why));
    MBT_EQ_STR("--reserve-stacks: does not resolve on this machine", why);
    struct mb_meminfo empty = {0};
    MBT_EQ_INT(-EINVAL, mbconf_plan_compute(&empty, NULL, 4096, &plan, why, sizeof why));
    MBT_EQ_STR("meminfo has no MemTotal", why);
}

static void test_written_file(void)
{
    MBT_REQUIRE(load(FIXTURES "root-arm256"));
    struct mbconf_plan plan;
    char why[128] = "";
    MBT_REQUIRE(mbconf_plan_compute(&mem, NULL, 4096, &plan, why, sizeof why) == 0);
    FILE *out = fmemopen(text, sizeof text, "w");
    MBT_REQUIRE(out != NULL);
    mbconf_write_config(out, &plan, "/run/mb/sock");
    fclose(out);
    MBT_TRUE(strstr(text, "\nTOTAL               162624K\n") != NULL);
    MBT_TRUE(strstr(text, "\nSOCKET              \"/run/mb/sock\"\n") != NULL);
    MBT_TRUE(strstr(text, "#   - kernel             30950 kB 30.2 MiB    measured, plus 25% for "
                          "growth (--reserve-kernel)\n") != NULL);
    MBT_TRUE(strstr(text, "#       measured: KernelStack 1312 + PageTables 1704 + SUnreclaim 9456"
                          " + Unevictable/Mlocked 12288 + Hugetlb 0 = 24760 kB\n") != NULL);
    MBT_TRUE(strstr(text, "#   - DMA/CMA            16384 kB 16 MiB      CmaTotal") != NULL);
    MBT_TRUE(strstr(text, "#   = TOTAL             162624 kB 158.8 MiB   rounded down") != NULL);
    MBT_TRUE(strstr(text, "\nREQUEST_TIMEOUT     500ms") != NULL);
    /* Every line is a comment, blank, or KEY value. */
    for (const char *line = text; *line != '\0';) {
        const char *end = strchr(line, '\n');
        MBT_REQUIRE(end != NULL);
        MBT_TRUE(line[0] == '#' || line == end || (line[0] >= 'A' && line[0] <= 'Z'));
        line = end + 1;
    }
}

int main(void)
{
    MBT_RUN(test_arm256);
    MBT_RUN(test_x86);
    MBT_RUN(test_overrides);
    MBT_RUN(test_written_file);
    return mbt_finish();
}
