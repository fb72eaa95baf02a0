/* Unit tests for proc_vmstat.c against captured and crafted files. */
#include "common/proc_read.h"
#include "common/proc_vmstat.h"
#include "mbtest.h"

#include <errno.h>

#define FIXTURES "../../tests/fixtures/proc/"
#define BIT(f) (UINT64_C(1) << (f))

static char file_buf[16384];

static size_t load(const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), FIXTURES "%s", name);
    size_t len = 0;
    if (!MBT_EQ_INT(0, mb_proc_read(path, file_buf, sizeof(file_buf), &len)))
        fprintf(stderr, "    reading %s\n", path);
    return len;
}

static void test_captured_x86_64(void)
{
    size_t len = load("vmstat_x86_64_6.18");
    struct mb_vmstat s;
    size_t line = 99;
    MBT_REQUIRE(mb_vmstat_parse(file_buf, len, &s, &line) == 0);
    MBT_EQ_U64(0, line);
    const uint64_t *v = s.value;
    MBT_EQ_U64(1160220, v[MB_VMSTAT_NR_FREE_PAGES]);
    MBT_EQ_U64(0, v[MB_VMSTAT_NR_FREE_CMA]);
    MBT_EQ_U64(65398, v[MB_VMSTAT_NR_FILE_PAGES]);
    MBT_EQ_U64(2862, v[MB_VMSTAT_NR_ANON_PAGES]);
    MBT_EQ_U64(2751, v[MB_VMSTAT_NR_MLOCK]);
    MBT_EQ_U64(42, v[MB_VMSTAT_NR_DIRTY]);
    MBT_EQ_U64(0, v[MB_VMSTAT_NR_WRITEBACK]);
    MBT_EQ_U64(2231, v[MB_VMSTAT_NR_SHMEM]);
    MBT_EQ_U64(17942, v[MB_VMSTAT_NR_SLAB_RECLAIMABLE]);
    MBT_EQ_U64(5630, v[MB_VMSTAT_NR_SLAB_UNRECLAIMABLE]);
    MBT_EQ_U64(1948089, v[MB_VMSTAT_PGPGIN]);
    MBT_EQ_U64(879360, v[MB_VMSTAT_PGPGOUT]);
    MBT_EQ_U64(0, v[MB_VMSTAT_PSWPIN]);
    MBT_EQ_U64(0, v[MB_VMSTAT_PSWPOUT]);
    MBT_EQ_U64(2530489, v[MB_VMSTAT_PGFAULT]);
    MBT_EQ_U64(1479, v[MB_VMSTAT_PGMAJFAULT]);
    MBT_EQ_U64(0, v[MB_VMSTAT_PGSCAN_KSWAPD]);
    MBT_EQ_U64(0, v[MB_VMSTAT_PGSCAN_DIRECT]);
    MBT_EQ_U64(0, v[MB_VMSTAT_PGSTEAL_KSWAPD]);
    MBT_EQ_U64(0, v[MB_VMSTAT_PGSTEAL_DIRECT]);
    MBT_EQ_U64(0, v[MB_VMSTAT_WORKINGSET_REFAULT_ANON]);
    MBT_EQ_U64(203669, v[MB_VMSTAT_WORKINGSET_REFAULT_FILE]);
    MBT_EQ_U64(0, v[MB_VMSTAT_ALLOCSTALL]);
    MBT_EQ_U64(0, v[MB_VMSTAT_OOM_KILL]);
    MBT_EQ_U64(0, v[MB_VMSTAT_COMPACT_STALL]);
    MBT_EQ_U64(0, v[MB_VMSTAT_COMPACT_FAIL]);
    MBT_EQ_U64(0, v[MB_VMSTAT_COMPACT_SUCCESS]);
    MBT_EQ_U64(1, v[MB_VMSTAT_DROP_PAGECACHE]);
    MBT_EQ_U64(2, v[MB_VMSTAT_DROP_SLAB]);
    /* Only the pre-5.9 single refault counter is missing. */
    MBT_EQ_U64((BIT(MB_VMSTAT_FIELD_COUNT) - 1) & ~BIT(MB_VMSTAT_WORKINGSET_REFAULT), s.present);
    MBT_EQ_U64(12345, mb_vmstat_get(&s, MB_VMSTAT_WORKINGSET_REFAULT, 12345));
    MBT_EQ_U64(203669, mb_vmstat_get(&s, MB_VMSTAT_WORKINGSET_REFAULT_FILE, 12345));
}

static void test_lookup(void)
{
    size_t len = load("vmstat_x86_64_6.18");
    uint64_t value = 0;
    MBT_EQ_INT(0, mb_vmstat_lookup(file_buf, len, "nr_free_pages", &value));
    MBT_EQ_U64(1160220, value);
    MBT_EQ_INT(0, mb_vmstat_lookup(file_buf, len, "nr_free_pages_blocks", &value));
    MBT_EQ_U64(1142272, value);
    MBT_EQ_INT(0, mb_vmstat_lookup(file_buf, len, "pgalloc_normal", &value));
    MBT_EQ_U64(2390674, value);
    MBT_EQ_INT(0, mb_vmstat_lookup(file_buf, len, "direct_map_level2_splits", &value));
    MBT_EQ_U64(3, value);
    MBT_EQ_INT(0, mb_vmstat_lookup(file_buf, len, "nr_unstable", &value)); /* the last line */
    MBT_EQ_U64(0, value);
    value = 9;
    MBT_EQ_INT(-ENOENT, mb_vmstat_lookup(file_buf, len, "nr_free", &value)); /* prefixes do not match */
    MBT_EQ_INT(-ENOENT, mb_vmstat_lookup(file_buf, len, "allocstall", &value));
    MBT_EQ_INT(-ENOENT, mb_vmstat_lookup(file_buf, len, "", &value));
    MBT_EQ_U64(9, value);
    len = load("vmstat_garbage");
    MBT_EQ_INT(0, mb_vmstat_lookup(file_buf, len, "oom_kill", &value));
    MBT_EQ_U64(0, value);
    MBT_EQ_INT(-EINVAL, mb_vmstat_lookup(file_buf, len, "pgmajfault", &value));
    len = load("vmstat_overflow");
    MBT_EQ_INT(0, mb_vmstat_lookup(file_buf, len, "allocstall_dma32", &value));
    MBT_EQ_U64(UINT64_MAX, value);
}

static void test_old_kernel(void)
{
    size_t len = load("vmstat_old_4.4");
    struct mb_vmstat s;
    MBT_REQUIRE(mb_vmstat_parse(file_buf, len, &s, NULL) == 0);
    MBT_EQ_U64(48210, s.value[MB_VMSTAT_NR_FREE_PAGES]);
    MBT_EQ_U64(9120, s.value[MB_VMSTAT_WORKINGSET_REFAULT]);
    MBT_EQ_U64(7, s.value[MB_VMSTAT_ALLOCSTALL]);
    MBT_EQ_U64(3110942, s.value[MB_VMSTAT_PGFAULT]);
    MBT_EQ_U64(2210, s.value[MB_VMSTAT_PGMAJFAULT]);
    MBT_EQ_U64(3, s.value[MB_VMSTAT_COMPACT_STALL]);
    MBT_EQ_U64(1, s.value[MB_VMSTAT_COMPACT_FAIL]);
    MBT_EQ_U64(2, s.value[MB_VMSTAT_COMPACT_SUCCESS]);
    /* Per-zone pgscan/pgsteal lines and pgscan_direct_throttle are not the
     * 4.8+ node counters, and there is no oom_kill or CMA. */
    uint64_t absent = BIT(MB_VMSTAT_NR_FREE_CMA) | BIT(MB_VMSTAT_PGSCAN_KSWAPD) |
                      BIT(MB_VMSTAT_PGSCAN_DIRECT) | BIT(MB_VMSTAT_PGSTEAL_KSWAPD) |
                      BIT(MB_VMSTAT_PGSTEAL_DIRECT) | BIT(MB_VMSTAT_WORKINGSET_REFAULT_ANON) |
                      BIT(MB_VMSTAT_WORKINGSET_REFAULT_FILE) | BIT(MB_VMSTAT_OOM_KILL);
    MBT_EQ_U64((BIT(MB_VMSTAT_FIELD_COUNT) - 1) & ~absent, s.present);
    uint64_t value = 0;
    MBT_EQ_INT(0, mb_vmstat_lookup(file_buf, len, "pgscan_kswapd_normal", &value));
    MBT_EQ_U64(7044, value);
}

static void test_allocstall_sum(void)
{
    static const char text[] = "allocstall_dma 1\nallocstall_dma32 20\nallocstall_normal 300\n"
                               "allocstall_movable 4000\nallocstall_device 50000\n"
                               "allocstalls 7\nallocstall_ 7\nxallocstall 7\n";
    struct mb_vmstat s;
    MBT_REQUIRE(mb_vmstat_parse(text, sizeof(text) - 1, &s, NULL) == 0);
    MBT_EQ_U64(54321, s.value[MB_VMSTAT_ALLOCSTALL]);
    MBT_EQ_U64(BIT(MB_VMSTAT_ALLOCSTALL), s.present);
    MBT_EQ_STR("allocstall", mb_vmstat_field_name(MB_VMSTAT_ALLOCSTALL));

    size_t line = 0;
    size_t len = load("vmstat_overflow");
    MBT_EQ_INT(-ERANGE, mb_vmstat_parse(file_buf, len, &s, &line));
    MBT_EQ_U64(3, line);
    MBT_EQ_U64(0, s.present);
}

static void test_first_duplicate_wins(void)
{
    static const char text[] = "pgfault 5\n\npgfault 6\n  \n";
    struct mb_vmstat s;
    MBT_REQUIRE(mb_vmstat_parse(text, sizeof(text) - 1, &s, NULL) == 0);
    MBT_EQ_U64(5, s.value[MB_VMSTAT_PGFAULT]);
    uint64_t value = 0;
    MBT_EQ_INT(0, mb_vmstat_lookup(text, sizeof(text) - 1, "pgfault", &value));
    MBT_EQ_U64(5, value);
}

static void test_truncated(void)
{
    struct mb_vmstat s;
    size_t line = 0;
    size_t len = load("vmstat_no_trailing_newline");
    MBT_REQUIRE(mb_vmstat_parse(file_buf, len, &s, &line) == 0);
    MBT_EQ_U64(2210, s.value[MB_VMSTAT_PGMAJFAULT]);
    MBT_EQ_U64(BIT(MB_VMSTAT_NR_FREE_PAGES) | BIT(MB_VMSTAT_PGFAULT) | BIT(MB_VMSTAT_PGMAJFAULT),
               s.present);
    /* Cut inside a name: "pgf" alone is malformed, on line 2. */
    MBT_EQ_INT(-EINVAL, mb_vmstat_parse(file_buf, 23, &s, &line));
    MBT_EQ_U64(2, line);
    /* Cut right after a name and its blank: still no value. */
    MBT_EQ_INT(-EINVAL, mb_vmstat_parse(file_buf, 28, &s, &line));
    MBT_EQ_U64(2, line);
    /* Every cut of the captured file is 0 or -EINVAL, never anything else. */
    len = load("vmstat_x86_64_6.18");
    char copy[8192];
    MBT_REQUIRE(len <= sizeof(copy));
    memcpy(copy, file_buf, len);
    size_t ok = 0;
    for (size_t cut = 0; cut <= len; cut++) {
        int rc = mb_vmstat_parse(copy, cut, &s, &line);
        if (rc == 0)
            ok++;
        else if (!MBT_EQ_INT(-EINVAL, rc))
            break;
    }
    /* Successes: the empty cut, each cut after a '\n' (192 lines), and each
     * cut after k of a value's d digits (reads a shorter number): 1 + 192 +
     * 378 digits in all the values of the file. */
    MBT_EQ_U64(571, ok);
}

static void test_garbage(void)
{
    struct mb_vmstat s;
    size_t line = 0;
    size_t len = load("vmstat_garbage");
    MBT_EQ_INT(-EINVAL, mb_vmstat_parse(file_buf, len, &s, &line));
    MBT_EQ_U64(3, line);
    static const char *const bad[] = {
        "pgfault\n", "pgfault \n", "pgfault 12 13\n", "pgfault +1\n", "pgfault 1x\n",
        " pgfault 1\n", "pgfault:1\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        line = 0;
        if (!MBT_EQ_INT(-EINVAL, mb_vmstat_parse(bad[i], strlen(bad[i]), &s, &line)))
            fprintf(stderr, "    input: %s", bad[i]);
        MBT_EQ_U64(1, line);
    }
    static const char huge[] = "pgfault 18446744073709551616\n";
    MBT_EQ_INT(-ERANGE, mb_vmstat_parse(huge, sizeof(huge) - 1, &s, &line));
    MBT_EQ_U64(1, line);
    static const char max[] = "pgfault\t18446744073709551615 \n";
    MBT_REQUIRE(mb_vmstat_parse(max, sizeof(max) - 1, &s, &line) == 0);
    MBT_EQ_U64(UINT64_MAX, s.value[MB_VMSTAT_PGFAULT]);
}

static void test_field_names(void)
{
    MBT_EQ_STR("pgfault", mb_vmstat_field_name(MB_VMSTAT_PGFAULT));
    MBT_EQ_STR("drop_slab", mb_vmstat_field_name(MB_VMSTAT_DROP_SLAB));
    MBT_NULL(mb_vmstat_field_name(MB_VMSTAT_FIELD_COUNT));
    MBT_FALSE(mb_vmstat_has(&(struct mb_vmstat){.present = UINT64_MAX}, MB_VMSTAT_FIELD_COUNT));
    for (int a = 0; a < MB_VMSTAT_FIELD_COUNT; a++) {
        MBT_NOT_NULL(mb_vmstat_field_name((enum mb_vmstat_field)a));
        for (int b = a + 1; b < MB_VMSTAT_FIELD_COUNT; b++)
            MBT_CHECK(strcmp(mb_vmstat_field_name((enum mb_vmstat_field)a),
                             mb_vmstat_field_name((enum mb_vmstat_field)b)) != 0);
    }
}

int main(void)
{
    MBT_RUN(test_captured_x86_64);
    MBT_RUN(test_lookup);
    MBT_RUN(test_old_kernel);
    MBT_RUN(test_allocstall_sum);
    MBT_RUN(test_first_duplicate_wins);
    MBT_RUN(test_truncated);
    MBT_RUN(test_garbage);
    MBT_RUN(test_field_names);
    return mbt_finish();
}
