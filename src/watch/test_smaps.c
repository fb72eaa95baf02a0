/* test_smaps.c: smaps_rollup sums against captured files, the sort, and the
 * /proc scan against a fixture root (tests/fixtures/watch/root) and live. */
#include "watch/smaps.h"

#include "common/proc_read.h"
#include "mbtest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *fixtures(void)
{
    const char *dir = getenv("MB_FIXTURES");
    return dir != NULL ? dir : "../../tests/fixtures/watch";
}

static char file_buf[65536];

static size_t read_fixture(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fixtures(), name);
    size_t len = 0;
    int rc = mb_proc_read(path, file_buf, sizeof file_buf, &len);
    if (!MBT_EQ_INT(0, rc))
        fprintf(stderr, "    reading %s\n", path);
    return len;
}

static void test_parse_rollup(void)
{
    size_t len = read_fixture("smaps_rollup-tail.txt");
    struct mb_smaps_sums s;
    MBT_EQ_INT(0, mb_smaps_parse(file_buf, len, &s));
    MBT_EQ_U64(17892u * 1024, s.rss);
    MBT_EQ_U64(16337u * 1024, s.pss);
    MBT_EQ_U64(16288u * 1024, s.anonymous);
    MBT_EQ_U64(16288u * 1024, s.private_dirty);
    MBT_EQ_U64(0, s.swap);
    MBT_EQ_U64(0x1f, s.present);
    MBT_EQ_U64(17892u * 1024, mb_smaps_size(&s));
}

static void test_full_smaps_matches_rollup(void)
{
    struct mb_smaps_sums rollup, full;
    size_t len = read_fixture("smaps_rollup-sleep.txt");
    MBT_REQUIRE(mb_smaps_parse(file_buf, len, &rollup) == 0);
    len = read_fixture("smaps-sleep.txt");
    MBT_REQUIRE(mb_smaps_parse(file_buf, len, &full) == 0);
    MBT_EQ_U64(1800u * 1024, rollup.rss);
    MBT_EQ_U64(rollup.rss, full.rss);
    MBT_EQ_U64(rollup.anonymous, full.anonymous);
    MBT_EQ_U64(rollup.private_dirty, full.private_dirty);
    MBT_EQ_U64(rollup.swap, full.swap);
    /* Pss is summed from rounded per-mapping figures: it differs a little. */
    MBT_TRUE(full.pss <= rollup.pss);
}

static void test_parse_errors(void)
{
    struct mb_smaps_sums s;
    MBT_EQ_INT(-ENODATA, mb_smaps_parse("", 0, &s));
    const char *no_rss = "Pss: 4 kB\n";
    MBT_EQ_INT(-ENODATA, mb_smaps_parse(no_rss, strlen(no_rss), &s));
    const char *bad_unit = "Rss: 4 MB\n";
    MBT_EQ_INT(-EINVAL, mb_smaps_parse(bad_unit, strlen(bad_unit), &s));
    const char *no_number = "Rss: kB\n";
    MBT_EQ_INT(-EINVAL, mb_smaps_parse(no_number, strlen(no_number), &s));
    const char *huge = "Rss: 99999999999999999999 kB\n";
    MBT_EQ_INT(-ERANGE, mb_smaps_parse(huge, strlen(huge), &s));
    const char *overflow = "Rss: 18014398509481984 kB\n"; /* 2^54 kB = 2^64 bytes */
    MBT_EQ_INT(-ERANGE, mb_smaps_parse(overflow, strlen(overflow), &s));
    /* Unknown keys with odd values are ignored; no final newline is fine. */
    const char *ok = "VmFlags: rd wr mr\nTHPeligible:    0\nRss: 8 kB";
    MBT_EQ_INT(0, mb_smaps_parse(ok, strlen(ok), &s));
    MBT_EQ_U64(8192, s.rss);
    MBT_EQ_U64(MB_SMAPS_HAS_RSS, s.present);
}

static void test_sort(void)
{
    struct mb_smaps_proc p[7];
    memset(p, 0, sizeof p);
    const uint64_t rss[7] = {5, 9, 1, 9, 0, 7, 3};
    const uint64_t swap[7] = {0, 0, 10, 0, 0, 1, 0};
    for (unsigned i = 0; i < 7; i++) {
        p[i].pid = 10 - i;
        p[i].sums.rss = rss[i];
        p[i].sums.swap = swap[i];
    }
    mb_smaps_sort(p, 7);
    /* sizes: pid10 5, pid9 9, pid8 11, pid7 9, pid6 0, pid5 8, pid4 3 */
    const uint32_t want[7] = {8, 7, 9, 5, 10, 4, 6};
    for (unsigned i = 0; i < 7; i++)
        MBT_EQ_U64(want[i], p[i].pid);
    mb_smaps_sort(p, 0);
    mb_smaps_sort(p, 1);
    MBT_EQ_U64(8, p[0].pid);
}

static void test_scan_fixture_root(void)
{
    char root[512];
    snprintf(root, sizeof root, "%s/root", fixtures());
    struct mb_smaps_scan scan;
    MBT_REQUIRE(mb_smaps_scan_init(&scan, 0) == 0);
    MBT_EQ_U64(1024, scan.capacity);
    MBT_EQ_INT(0, mb_smaps_scan_run(&scan, root));
    MBT_EQ_U64(4, scan.seen);       /* 2, 77, 312, 8848 ("self" is no pid) */
    MBT_EQ_U64(1, scan.unreadable); /* the kernel thread */
    MBT_EQ_U64(0, scan.left_out);
    MBT_REQUIRE(scan.count == 3);
    MBT_EQ_U64(77, scan.procs[0].pid);
    MBT_EQ_STR("swapper-user", scan.procs[0].comm);
    MBT_EQ_U64(20000u * 1024, scan.procs[0].sums.swap);
    MBT_EQ_U64(8848, scan.procs[1].pid);
    MBT_EQ_STR("tail", scan.procs[1].comm);
    MBT_EQ_U64(312, scan.procs[2].pid);
    MBT_EQ_STR("my sleep", scan.procs[2].comm);
    mb_smaps_scan_deinit(&scan);

    /* A table of 2 keeps the 2 largest. */
    MBT_REQUIRE(mb_smaps_scan_init(&scan, 2) == 0);
    MBT_EQ_INT(0, mb_smaps_scan_run(&scan, root));
    MBT_EQ_U64(2, scan.count);
    MBT_EQ_U64(1, scan.left_out);
    MBT_EQ_U64(77, scan.procs[0].pid);
    MBT_EQ_U64(8848, scan.procs[1].pid);
    MBT_EQ_INT(-ENOENT, mb_smaps_scan_run(&scan, "/nonexistent-root"));
    MBT_EQ_U64(0, scan.count);
    mb_smaps_scan_deinit(&scan);
    mb_smaps_scan_deinit(&scan);
}

static void test_scan_live(void)
{
    struct mb_smaps_scan scan;
    MBT_REQUIRE(mb_smaps_scan_init(&scan, 4096) == 0);
    MBT_EQ_INT(0, mb_smaps_scan_run(&scan, NULL));
    MBT_TRUE(scan.count > 0);
    MBT_EQ_U64(scan.seen, scan.count + scan.unreadable + scan.left_out);
    bool self_found = false;
    for (size_t i = 0; i < scan.count; i++) {
        if (i > 0)
            MBT_TRUE(mb_smaps_size(&scan.procs[i - 1].sums) >= mb_smaps_size(&scan.procs[i].sums));
        if (scan.procs[i].pid == (uint32_t)getpid()) {
            self_found = true;
            MBT_TRUE(scan.procs[i].sums.rss > 0);
            /* Our own comm (under qemu-user it is the emulator's). */
            char comm[32] = "";
            size_t len = 0;
            if (mb_proc_read("/proc/self/comm", comm, sizeof comm - 1, &len) == 0 && len > 0)
                comm[len - 1] = '\0';
            MBT_EQ_STR(comm, scan.procs[i].comm);
        }
    }
    MBT_TRUE(self_found);
    mb_smaps_scan_deinit(&scan);
}

int main(void)
{
    MBT_RUN(test_parse_rollup);
    MBT_RUN(test_full_smaps_matches_rollup);
    MBT_RUN(test_parse_errors);
    MBT_RUN(test_sort);
    MBT_RUN(test_scan_fixture_root);
    MBT_RUN(test_scan_live);
    return mbt_finish();
}
