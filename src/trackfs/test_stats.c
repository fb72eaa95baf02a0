/* test_stats.c: the statistics text, exactly, in both modes, and cut off
 * safely in a small buffer. */
#include "trackfs/stats.h"

#include "mbtest.h"

#include <stdint.h>
#include <string.h>

static struct tfs_quota_stats sample(void)
{
    struct tfs_quota_stats qs = {
        .held = 32, .used = 21, .data_pages = 20, .inodes = 3, .xattr_bytes = 17,
        .refusals = 4, .acquired = 48, .released = 16, .stalls = 2,
        .stall_ns = UINT64_C(1999999999),
    };
    return qs;
}

static void test_broker_mode(void)
{
    struct tfs_quota_stats qs = sample();
    uint64_t balance = 32;
    char buf[TFS_STATS_MAX];
    const char *want = "mode broker\npage_size 4096\nquota_pages 32\nused_pages 21\n"
                       "data_pages 20\ninodes 3\nxattr_bytes 17\nfree_pages 11\n"
                       "broker_balance 32\nacquired_pages 48\nreleased_pages 16\nstalls 2\n"
                       "stall_ms 1999\nenospc 4\n";
    MBT_EQ_U64(strlen(want), tfs_stats_format(&qs, 4096, &balance, buf, sizeof buf));
    MBT_EQ_STR(want, buf);
}

static void test_standalone_over_quota(void)
{
    struct tfs_quota_stats qs = sample();
    qs.held = 20; /* adopted more than the quota: free is 0, not negative */
    char buf[TFS_STATS_MAX];
    tfs_stats_format(&qs, 65536, NULL, buf, sizeof buf);
    MBT_TRUE(strncmp(buf, "mode standalone\npage_size 65536\nquota_pages 20\n", 47) == 0);
    MBT_TRUE(strstr(buf, "\nfree_pages 0\n") != NULL);
    MBT_TRUE(strstr(buf, "broker_balance") == NULL);
}

static void test_largest_values_fit(void)
{
    struct tfs_quota_stats qs;
    memset(&qs, 0xff, sizeof qs);
    uint64_t balance = UINT64_MAX;
    char buf[TFS_STATS_MAX];
    size_t len = tfs_stats_format(&qs, UINT64_MAX, &balance, buf, sizeof buf);
    MBT_TRUE(len < TFS_STATS_MAX);
    MBT_EQ_U64(len, strlen(buf));
}

static void test_small_buffer_cut_off(void)
{
    struct tfs_quota_stats qs = sample();
    char full[TFS_STATS_MAX], small[8];
    size_t len = tfs_stats_format(&qs, 4096, NULL, full, sizeof full);
    MBT_EQ_U64(len, tfs_stats_format(&qs, 4096, NULL, small, sizeof small));
    MBT_EQ_STR("mode st", small);
    MBT_EQ_U64(len, tfs_stats_format(&qs, 4096, NULL, NULL, 0));
}

int main(void)
{
    MBT_RUN(test_broker_mode);
    MBT_RUN(test_standalone_over_quota);
    MBT_RUN(test_largest_values_fit);
    MBT_RUN(test_small_buffer_cut_off);
    return mbt_finish();
}
