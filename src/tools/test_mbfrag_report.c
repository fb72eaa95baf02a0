/* Unit tests for mbfrag_report.c against fixture trees (tests/fixtures/root-*):
 * the seed's example, several nodes with empty zones, exact printed lines. */
#include "tools/mbfrag_report.h"
#include "mbtest.h"

#include <errno.h>

#define FIXTURES "../../tests/fixtures/"

static struct mbfrag_snapshot snap;
static char text[64 * 1024];

/* Runs a printer into `text`. */
#define CAPTURE(call)                                            \
    do {                                                         \
        FILE *out_ = fmemopen(text, sizeof text, "w");           \
        MBT_REQUIRE(out_ != NULL);                               \
        FILE *out = out_;                                        \
        call;                                                    \
        fclose(out_);                                            \
    } while (0)

static bool has_line(const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return true;
    return false;
}

#define MBT_HAS_LINE(line) mbt_record_(has_line(line), __FILE__, __LINE__, "line \"" line "\"")

/* The ELC 2015 talk's zone: 0%, 37%, 65%, 92%, then 100%; average 81.4%. */
static void test_seed_table(void)
{
    char why[128] = "";
    MBT_REQUIRE(mbfrag_snapshot_read(FIXTURES "root-seed", NULL, &snap, why, sizeof why) == 0);
    MBT_EQ_U64(1, snap.buddy.zones);
    MBT_TRUE(snap.have_mem);
    CAPTURE(mbfrag_print_table(out, &snap, 4096));
    MBT_HAS_LINE("Node 0, zone Normal");
    MBT_HAS_LINE("order block pages free blocks  free pages unusable  fragidx  level");
    MBT_HAS_LINE("    0           1         972         972    0.000   -1.000     0%");
    MBT_HAS_LINE("    1           2         352         704    0.379   -1.000    37%");
    MBT_HAS_LINE("    2           4         171         684    0.654   -1.000    65%");
    MBT_HAS_LINE("    3           8          25         200    0.921   -1.000    92%");
    MBT_HAS_LINE("    4          16           0           0    1.000    0.895   100%");
    MBT_HAS_LINE("   10        1024           0           0    1.000    0.998   100%");
    MBT_HAS_LINE("total                    1520        2560");
    MBT_HAS_LINE("average level 81.4%");
    MBT_HAS_LINE("free in zone: 2560 pages (10 MiB)");
    MBT_HAS_LINE("free memory: MemFree 10240 kB (10 MiB), MemAvailable 90112 kB (88 MiB)");
}

static void test_seed_json(void)
{
    char why[128] = "";
    MBT_REQUIRE(mbfrag_snapshot_read(FIXTURES "root-seed", NULL, &snap, why, sizeof why) == 0);
    CAPTURE(mbfrag_print_json(out, &snap, 4096));
    MBT_TRUE(strncmp(text, "{\"page_size\":4096,\"zones\":[{\"node\":0,\"zone\":\"Normal\","
                           "\"free_pages\":2560,\"free_blocks\":1520,"
                           "\"average_unusable_index\":0.814,\"orders\":[{\"order\":0,", 142) == 0);
    MBT_TRUE(strstr(text, "{\"order\":1,\"block_pages\":2,\"free_blocks\":352,\"free_pages\":704,"
                          "\"unusable_index\":0.379,\"fragmentation_index\":-1.000,"
                          "\"level_percent\":37}") != NULL);
    MBT_TRUE(strstr(text, "{\"order\":4,\"block_pages\":16,\"free_blocks\":0,\"free_pages\":0,"
                          "\"unusable_index\":1.000,\"fragmentation_index\":0.895,"
                          "\"level_percent\":100}") != NULL);
    MBT_TRUE(strstr(text, "\"meminfo_bytes\":{\"MemTotal\":490733568,\"MemFree\":10485760,"
                          "\"MemAvailable\":92274688,\"Cached\":75497472,\"Slab\":20971520}}\n") != NULL);
}

/* Four nodes; an all-zero zone (Node 3 Normal) is 100% unusable with a
 * fragmentation index of 0, as the kernel prints it. */
static void test_numa_empty_zones(void)
{
    char why[128] = "";
    MBT_REQUIRE(mbfrag_snapshot_read(FIXTURES "root-numa", NULL, &snap, why, sizeof why) == 0);
    MBT_EQ_U64(9, snap.buddy.zones);
    MBT_EQ_STR("Movable", snap.buddy.zone[8].name);
    MBT_EQ_U64(3, snap.buddy.zone[8].node);
    CAPTURE(mbfrag_print_table(out, &snap, 4096));
    MBT_HAS_LINE("Node 3, zone Normal");
    MBT_HAS_LINE("    5          32           0           0    1.000    0.000   100%");
    MBT_HAS_LINE("free in zone: 0 pages (0 B)");
    MBT_HAS_LINE("average level 100.0%");
    /* Node 3 Movable: 4096 + 2*2048 + ... = 11 * 4096 pages, halving counts per order. */
    MBT_HAS_LINE("total                    8188       45056");
    MBT_HAS_LINE("free in zone: 45056 pages (176 MiB)");
    /* Node 0 DMA: 1 1 0 1 2 1 1 0 1 1 3 */
    MBT_EQ_U64(1 + 2 + 8 + 32 + 32 + 64 + 256 + 512 + 3 * 1024, snap.frag[0].free_pages);
}

static void test_csv(void)
{
    char why[128] = "";
    MBT_REQUIRE(mbfrag_snapshot_read(FIXTURES "root-seed", NULL, &snap, why, sizeof why) == 0);
    CAPTURE(mbfrag_print_csv_header(out, &snap); mbfrag_print_csv_row(out, &snap, 1763793600123456789u));
    MBT_EQ_STR("timestamp,node0_Normal_free_pages,node0_Normal_avg_unusable,MemFree_kB,MemAvailable_kB\n"
               "1763793600.123,2560,0.814,10240,90112\n",
               text);
}

static void test_buddyinfo_override_and_errors(void)
{
    char why[128] = "";
    /* --buddyinfo FILE: zones from the file, meminfo from the root. */
    MBT_REQUIRE(mbfrag_snapshot_read(FIXTURES "root-seed", FIXTURES "proc/buddyinfo_armhf_256m",
                                     &snap, why, sizeof why) == 0);
    MBT_EQ_U64(3, snap.buddy.zones);
    MBT_EQ_STR("HighMem", snap.buddy.zone[2].name);
    MBT_TRUE(snap.have_mem);
    MBT_EQ_INT(-ENOENT, mbfrag_snapshot_read(FIXTURES "root-none", NULL, &snap, why, sizeof why));
    MBT_EQ_STR("buddyinfo: No such file or directory", why);
    MBT_EQ_INT(-EINVAL, mbfrag_snapshot_read(FIXTURES "root-seed", FIXTURES "proc/buddyinfo_garbage",
                                             &snap, why, sizeof why));
    MBT_TRUE(strncmp(why, "buddyinfo line ", 15) == 0);
    const char empty[] = "\n";
    MBT_EQ_INT(-ENODATA, mbfrag_snapshot_parse(empty, 1, NULL, 0, &snap, why, sizeof why));
    MBT_EQ_STR("buddyinfo lists no zone", why);
    /* No meminfo: the table still prints and says so. */
    const char one[] = "Node 0, zone Normal 1 0\n";
    MBT_REQUIRE(mbfrag_snapshot_parse(one, sizeof one - 1, NULL, 0, &snap, why, sizeof why) == 0);
    MBT_FALSE(snap.have_mem);
    CAPTURE(mbfrag_print_table(out, &snap, 65536));
    /* One free page asked for as order 1: 1 - (1 + 1/2) / 1, negative as in mm/vmstat.c. */
    MBT_HAS_LINE("    1           2           0           0    1.000   -0.500   100%");
    MBT_HAS_LINE("average level 50.0%");
    MBT_HAS_LINE("free in zone: 1 pages (64 KiB)");
    MBT_HAS_LINE("free memory: unknown (cannot read meminfo)");
}

int main(void)
{
    MBT_RUN(test_seed_table);
    MBT_RUN(test_seed_json);
    MBT_RUN(test_numa_empty_zones);
    MBT_RUN(test_csv);
    MBT_RUN(test_buddyinfo_override_and_errors);
    return mbt_finish();
}
