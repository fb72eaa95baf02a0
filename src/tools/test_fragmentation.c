/* Unit tests for fragmentation.c: the seed's example and kernel-checked cases. */
#include "tools/fragmentation.h"
#include "mbtest.h"

#include <errno.h>

/* The ELC 2015 talk's zone Normal: 0%, 37%, 65%, 92%, then 100% (average 81.4%). */
static void test_seed_example(void)
{
    const uint64_t counts[11] = {972, 352, 171, 25, 0, 0, 0, 0, 0, 0, 0};
    struct mb_frag_zone z;
    MBT_REQUIRE(mb_frag_compute(counts, 11, &z) == 0);
    MBT_EQ_U64(2560, z.free_pages);
    MBT_EQ_U64(1520, z.free_blocks);
    const int32_t unusable[11] = {0, 379, 654, 921, 1000, 1000, 1000, 1000, 1000, 1000, 1000};
    for (size_t j = 0; j < 11; j++) {
        MBT_EQ_I64(unusable[j], z.order[j].unusable_thousandths);
        MBT_EQ_I64(unusable[j] / 10, z.order[j].unusable_thousandths / 10); /* the talk's % */
    }
    MBT_EQ_U64(794, z.order[1].suitable_blocks);
    MBT_EQ_U64(221, z.order[2].suitable_blocks);
    MBT_EQ_U64(25, z.order[3].suitable_blocks);
    MBT_EQ_I64(814, z.average_unusable_thousandths);
    /* Orders 0-3 can be served: -1.000. Order 4: 1 - (1 + 2560/16) / 1520 = 0.895. */
    MBT_EQ_I64(-1000, z.order[3].fragmentation_thousandths);
    MBT_EQ_I64(1000 - (1000 + 2560 * 1000 / 16) / 1520, z.order[4].fragmentation_thousandths);
    MBT_EQ_I64(895, z.order[4].fragmentation_thousandths);
    MBT_EQ_I64(1000 - (1000 + 2560 * 1000 / 1024) / 1520, z.order[10].fragmentation_thousandths);
    MBT_EQ_I64(998, z.order[10].fragmentation_thousandths);
}

static void test_empty_zone(void)
{
    const uint64_t counts[11] = {0};
    struct mb_frag_zone z;
    MBT_REQUIRE(mb_frag_compute(counts, 11, &z) == 0);
    for (size_t j = 0; j < 11; j++) {
        MBT_EQ_I64(1000, z.order[j].unusable_thousandths);
        MBT_EQ_I64(0, z.order[j].fragmentation_thousandths);
    }
    MBT_EQ_I64(1000, z.average_unusable_thousandths);
}

static void test_all_high_order(void)
{
    /* Only order-10 blocks: nothing is unusable at any order. */
    uint64_t counts[11] = {0};
    counts[10] = 3;
    struct mb_frag_zone z;
    MBT_REQUIRE(mb_frag_compute(counts, 11, &z) == 0);
    for (size_t j = 0; j < 11; j++) {
        MBT_EQ_I64(0, z.order[j].unusable_thousandths);
        MBT_EQ_I64(-1000, z.order[j].fragmentation_thousandths);
        MBT_EQ_U64((uint64_t)3 << (10 - j), z.order[j].suitable_blocks);
    }
}

static void test_errors(void)
{
    uint64_t counts[40] = {0};
    struct mb_frag_zone z;
    MBT_EQ_INT(-EINVAL, mb_frag_compute(counts, 0, &z));
    MBT_EQ_INT(-EINVAL, mb_frag_compute(counts, MB_FRAG_MAX_ORDERS + 1, &z));
    counts[0] = UINT64_MAX;
    MBT_EQ_INT(-ERANGE, mb_frag_compute(counts, 2, &z));
    counts[0] = 0;
    counts[20] = (uint64_t)1 << 40; /* 2^60 pages: overflows the thousandths product */
    MBT_EQ_INT(-ERANGE, mb_frag_compute(counts, 21, &z));
}

static void test_format(void)
{
    char buf[16];
    MBT_EQ_U64(5, mb_frag_format_index(379, buf, sizeof buf));
    MBT_EQ_STR("0.379", buf);
    mb_frag_format_index(1000, buf, sizeof buf);
    MBT_EQ_STR("1.000", buf);
    MBT_EQ_U64(6, mb_frag_format_index(-1000, buf, sizeof buf));
    MBT_EQ_STR("-1.000", buf);
    mb_frag_format_index(5, buf, sizeof buf);
    MBT_EQ_STR("0.005", buf);
    MBT_EQ_U64(3, mb_frag_format_index(379, buf, 4));
    MBT_EQ_STR("0.3", buf);
}

int main(void)
{
    MBT_RUN(test_seed_example);
    MBT_RUN(test_empty_zone);
    MBT_RUN(test_all_high_order);
    MBT_RUN(test_errors);
    MBT_RUN(test_format);
    return mbt_finish();
}
