/* Unit tests for proc_buddyinfo.c against captured and crafted files. */
#include "common/proc_buddyinfo.h"
#include "common/proc_read.h"
#include "common/proc_vmstat.h"
#include "mbtest.h"

#include <errno.h>

#define FIXTURES "../../tests/fixtures/proc/"

static char file_buf[16384];
static struct mb_buddyinfo info; /* 19 KiB: kept off the stack */

static size_t load(const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), FIXTURES "%s", name);
    size_t len = 0;
    if (!MBT_EQ_INT(0, mb_proc_read(path, file_buf, sizeof(file_buf), &len)))
        fprintf(stderr, "    reading %s\n", path);
    return len;
}

/* Checks one zone against its expected node, name and counts. */
static void expect_zone(const struct mb_buddyinfo_zone *zone, uint32_t node, const char *name,
                        size_t orders, const uint64_t *counts, uint64_t free_pages)
{
    MBT_EQ_U64(node, zone->node);
    MBT_EQ_STR(name, zone->name);
    MBT_EQ_U64(orders, zone->orders);
    for (size_t i = 0; i < orders; i++)
        MBT_EQ_U64(counts[i], zone->free_blocks[i]);
    for (size_t i = orders; i < MB_BUDDYINFO_MAX_ORDERS; i++)
        MBT_EQ_U64(0, zone->free_blocks[i]);
    uint64_t pages = 0;
    MBT_EQ_INT(0, mb_buddyinfo_zone_free_pages(zone, &pages));
    MBT_EQ_U64(free_pages, pages);
}

static void test_captured_x86_64(void)
{
    size_t len = load("buddyinfo_x86_64_6.18");
    size_t line = 99;
    MBT_REQUIRE(mb_buddyinfo_parse(file_buf, len, &info, &line) == 0);
    MBT_EQ_U64(0, line);
    MBT_REQUIRE(info.zones == 3);
    expect_zone(&info.zone[0], 0, "DMA", 11, (const uint64_t[]){0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 3}, 3840);
    expect_zone(&info.zone[1], 0, "DMA32", 11,
                (const uint64_t[]){2, 3, 0, 2, 3, 2, 1, 4, 4, 2, 752}, 772808);
    expect_zone(&info.zone[2], 0, "Normal", 11,
                (const uint64_t[]){658, 451, 355, 290, 142, 48, 21, 9, 17, 40, 339}, 383572);

    /* Captured at the same moment as vmstat: the zones' free pages add up
     * to its nr_free_pages. */
    len = load("vmstat_x86_64_6.18");
    struct mb_vmstat stat;
    MBT_REQUIRE(mb_vmstat_parse(file_buf, len, &stat, NULL) == 0);
    MBT_EQ_U64(3840 + 772808 + 383572, stat.value[MB_VMSTAT_NR_FREE_PAGES]);
}

static void test_numa_four_nodes(void)
{
    size_t len = load("buddyinfo_numa4");
    MBT_REQUIRE(mb_buddyinfo_parse(file_buf, len, &info, NULL) == 0);
    MBT_REQUIRE(info.zones == 9);
    expect_zone(&info.zone[0], 0, "DMA", 11, (const uint64_t[]){1, 1, 0, 1, 2, 1, 1, 0, 1, 1, 3}, 3979);
    expect_zone(&info.zone[1], 0, "DMA32", 11,
                (const uint64_t[]){1204, 873, 510, 301, 160, 92, 40, 18, 9, 5, 611}, 648294);
    expect_zone(&info.zone[2], 0, "Normal", 11,
                (const uint64_t[]){20412, 11053, 4921, 1803, 602, 211, 80, 31, 12, 4, 1022}, 1153746);
    expect_zone(&info.zone[3], 1, "Normal", 11,
                (const uint64_t[]){18810, 9921, 4410, 1650, 540, 190, 71, 25, 10, 3, 988}, 1107764);
    /* Zones with nothing free at all. */
    expect_zone(&info.zone[4], 1, "Movable", 11, (const uint64_t[]){0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0);
    expect_zone(&info.zone[5], 2, "Normal", 11,
                (const uint64_t[]){17002, 8866, 3990, 1501, 499, 170, 64, 22, 8, 2, 950}, 1058910);
    expect_zone(&info.zone[6], 2, "Movable", 11,
                (const uint64_t[]){120, 64, 32, 16, 8, 4, 2, 1, 0, 0, 256}, 263160);
    expect_zone(&info.zone[7], 3, "Normal", 11, (const uint64_t[]){0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0);
    expect_zone(&info.zone[8], 3, "Movable", 11,
                (const uint64_t[]){4096, 2048, 1024, 512, 256, 128, 64, 32, 16, 8, 4}, 45056);
}

static void test_armhf_256m(void)
{
    size_t len = load("buddyinfo_armhf_256m");
    MBT_REQUIRE(mb_buddyinfo_parse(file_buf, len, &info, NULL) == 0);
    MBT_REQUIRE(info.zones == 3);
    expect_zone(&info.zone[0], 0, "DMA", 11, (const uint64_t[]){12, 9, 5, 3, 2, 1, 1, 0, 1, 0, 2}, 2506);
    expect_zone(&info.zone[1], 0, "Normal", 11,
                (const uint64_t[]){322, 189, 96, 42, 17, 7, 2, 2, 1, 2, 4}, 7676);
    expect_zone(&info.zone[2], 0, "HighMem", 11, (const uint64_t[]){64, 32, 16, 8, 4, 2, 2, 0, 2, 2, 3}, 5120);
    /* The crafted device is consistent with its meminfo: 15302 free 4 KiB
     * pages are MemFree 61208 kB, and HighMem's 5120 are HighFree 20480 kB. */
    MBT_EQ_U64(61208, (2506 + 7676 + 5120) * 4);
    MBT_EQ_U64(20480, 5120 * 4);
}

static void test_arm64_fourteen_orders(void)
{
    size_t len = load("buddyinfo_arm64_64k");
    MBT_REQUIRE(mb_buddyinfo_parse(file_buf, len, &info, NULL) == 0);
    MBT_REQUIRE(info.zones == 2);
    expect_zone(&info.zone[0], 0, "DMA32", 14,
                (const uint64_t[]){3, 2, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1}, 8347);
    expect_zone(&info.zone[1], 0, "Normal", 14,
                (const uint64_t[]){57, 33, 12, 6, 2, 1, 0, 0, 1, 0, 0, 0, 0, 4}, 33307);
}

static void test_order_limits(void)
{
    char text[512];
    size_t len = 0;
    /* One order, then exactly the maximum, then one more. */
    len = (size_t)snprintf(text, sizeof(text), "Node 0, zone Normal 5\n");
    MBT_REQUIRE(mb_buddyinfo_parse(text, len, &info, NULL) == 0);
    expect_zone(&info.zone[0], 0, "Normal", 1, (const uint64_t[]){5}, 5);

    len = (size_t)snprintf(text, sizeof(text), "Node 7, zone Normal");
    for (int i = 0; i < MB_BUDDYINFO_MAX_ORDERS; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len, " %d", i == 31 ? 1 : 0);
    MBT_REQUIRE(mb_buddyinfo_parse(text, len, &info, NULL) == 0);
    MBT_EQ_U64(7, info.zone[0].node);
    MBT_EQ_U64(MB_BUDDYINFO_MAX_ORDERS, info.zone[0].orders);
    MBT_EQ_U64(1, info.zone[0].free_blocks[31]);
    uint64_t pages = 0;
    MBT_EQ_INT(0, mb_buddyinfo_zone_free_pages(&info.zone[0], &pages));
    MBT_EQ_U64(UINT64_C(1) << 31, pages);

    len += (size_t)snprintf(text + len, sizeof(text) - len, " 0\n");
    size_t line = 0;
    MBT_EQ_INT(-E2BIG, mb_buddyinfo_parse(text, len, &info, &line));
    MBT_EQ_U64(1, line);
    MBT_EQ_U64(0, info.zones);
}

static void test_zone_limit(void)
{
    static char text[8192];
    size_t len = 0;
    for (int i = 0; i < MB_BUDDYINFO_MAX_ZONES; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len, "Node %d, zone Normal %d 1\n", i, i);
    MBT_REQUIRE(mb_buddyinfo_parse(text, len, &info, NULL) == 0);
    MBT_EQ_U64(MB_BUDDYINFO_MAX_ZONES, info.zones);
    MBT_EQ_U64(63, info.zone[63].node);
    MBT_EQ_U64(63, info.zone[63].free_blocks[0]);
    MBT_EQ_U64(1, info.zone[63].free_blocks[1]);
    len += (size_t)snprintf(text + len, sizeof(text) - len, "Node 64, zone Normal 0\n");
    size_t line = 0;
    MBT_EQ_INT(-E2BIG, mb_buddyinfo_parse(text, len, &info, &line));
    MBT_EQ_U64(65, line);
    MBT_EQ_U64(0, info.zones);
}

static void test_zone_names(void)
{
    size_t line = 0;
    /* 31 characters fit with the NUL; 32 do not. */
    static const char fits[] = "Node 0, zone ABCDEFGHIJKLMNOPQRSTUVWXYZ01234 1\n";
    MBT_REQUIRE(mb_buddyinfo_parse(fits, sizeof(fits) - 1, &info, NULL) == 0);
    MBT_EQ_STR("ABCDEFGHIJKLMNOPQRSTUVWXYZ01234", info.zone[0].name);
    static const char too_long[] = "Node 0, zone DMA\nNode 0, zone ABCDEFGHIJKLMNOPQRSTUVWXYZ012345 1\n";
    MBT_EQ_INT(-EINVAL, mb_buddyinfo_parse(too_long, sizeof(too_long) - 1, &info, &line));
    MBT_EQ_U64(1, line); /* the first line has no counts */
    static const char too_long2[] = "Node 0, zone ABCDEFGHIJKLMNOPQRSTUVWXYZ012345 1\n";
    MBT_EQ_INT(-ENAMETOOLONG, mb_buddyinfo_parse(too_long2, sizeof(too_long2) - 1, &info, &line));
    MBT_EQ_U64(1, line);
}

static void test_truncated(void)
{
    size_t line = 0;
    size_t len = load("buddyinfo_no_trailing_newline");
    MBT_REQUIRE(mb_buddyinfo_parse(file_buf, len, &info, &line) == 0);
    MBT_REQUIRE(info.zones == 2);
    expect_zone(&info.zone[1], 0, "DMA32", 11,
                (const uint64_t[]){2, 3, 0, 2, 3, 2, 1, 4, 4, 2, 752}, 772808);
    len = load("buddyinfo_cut_line");
    MBT_EQ_INT(-EINVAL, mb_buddyinfo_parse(file_buf, len, &info, &line));
    MBT_EQ_U64(3, line);
    MBT_EQ_U64(0, info.zones);

    /* Every cut of the captured file: 0 or -EINVAL with a line in 1..3. */
    len = load("buddyinfo_x86_64_6.18");
    char copy[512];
    MBT_REQUIRE(len <= sizeof(copy));
    memcpy(copy, file_buf, len);
    size_t ok = 0;
    for (size_t cut = 0; cut <= len; cut++) {
        int rc = mb_buddyinfo_parse(copy, cut, &info, &line);
        if (rc == 0) {
            ok++;
        } else {
            MBT_EQ_INT(-EINVAL, rc);
            MBT_CHECK(line >= 1 && line <= 3);
        }
    }
    /* A cut is valid when its last line is empty or reaches the first digit
     * of the first count. Each line is 99 characters plus '\n', with its first
     * count digit at index 27, 27 and 25: the empty cut, the 3 cuts after a
     * '\n', and 72 + 72 + 74 cuts inside the lines. */
    MBT_EQ_U64(1 + 3 + 72 + 72 + 74, ok);
}

static void test_garbage_and_overflow(void)
{
    size_t line = 0;
    size_t len = load("buddyinfo_garbage");
    MBT_EQ_INT(-EINVAL, mb_buddyinfo_parse(file_buf, len, &info, &line));
    MBT_EQ_U64(3, line);
    len = load("buddyinfo_overflow");
    MBT_EQ_INT(-ERANGE, mb_buddyinfo_parse(file_buf, len, &info, &line));
    MBT_EQ_U64(2, line);
    static const char *const bad[] = {
        "Node 0 zone DMA 1\n",   "Node 0, zone DMA\n",  "Node x, zone DMA 1\n",
        "node 0, zone DMA 1\n",  "Node 0, Zone DMA 1\n", "Node 0, zone DMA 1 -2\n",
        "Node0, zone DMA 1\n",   "Node 0,zone DMA 1\n", "Node 0, zone DMA 1,2\n",
        "Node 0, zone  \n",      "garbage\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        line = 0;
        if (!MBT_EQ_INT(-EINVAL, mb_buddyinfo_parse(bad[i], strlen(bad[i]), &info, &line)))
            fprintf(stderr, "    input: %s", bad[i]);
        MBT_EQ_U64(1, line);
    }
    static const char big_node[] = "Node 4294967296, zone DMA 1\n";
    MBT_EQ_INT(-ERANGE, mb_buddyinfo_parse(big_node, sizeof(big_node) - 1, &info, &line));
    static const char max_node[] = "Node 4294967295, zone DMA 1\n";
    MBT_REQUIRE(mb_buddyinfo_parse(max_node, sizeof(max_node) - 1, &info, &line) == 0);
    MBT_EQ_U64(UINT32_MAX, info.zone[0].node);
    /* A count that fits but whose page total does not. */
    static const char huge[] = "Node 0, zone DMA 0 9223372036854775808\n";
    MBT_REQUIRE(mb_buddyinfo_parse(huge, sizeof(huge) - 1, &info, &line) == 0);
    MBT_EQ_U64(UINT64_C(9223372036854775808), info.zone[0].free_blocks[1]);
    uint64_t pages = 77;
    MBT_EQ_INT(-ERANGE, mb_buddyinfo_zone_free_pages(&info.zone[0], &pages));
    MBT_EQ_U64(77, pages);
}

static void test_empty_and_blank(void)
{
    size_t line = 5;
    MBT_EQ_INT(0, mb_buddyinfo_parse("", 0, &info, &line));
    MBT_EQ_U64(0, info.zones);
    MBT_EQ_U64(0, line);
    static const char text[] = "\n  \nNode 1, zone DMA 4 \t 5\n\n";
    MBT_REQUIRE(mb_buddyinfo_parse(text, sizeof(text) - 1, &info, NULL) == 0);
    MBT_EQ_U64(1, info.zones);
    expect_zone(&info.zone[0], 1, "DMA", 2, (const uint64_t[]){4, 5}, 14);
}

int main(void)
{
    MBT_RUN(test_captured_x86_64);
    MBT_RUN(test_numa_four_nodes);
    MBT_RUN(test_armhf_256m);
    MBT_RUN(test_arm64_fourteen_orders);
    MBT_RUN(test_order_limits);
    MBT_RUN(test_zone_limit);
    MBT_RUN(test_zone_names);
    MBT_RUN(test_truncated);
    MBT_RUN(test_garbage_and_overflow);
    MBT_RUN(test_empty_and_blank);
    return mbt_finish();
}
