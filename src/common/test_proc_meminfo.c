/* Unit tests for proc_meminfo.c against captured and crafted files, and for
 * proc_read.c (reading whole files, truncation, line splitting). */
#include "common/proc_meminfo.h"
#include "common/proc_read.h"
#include "mbtest.h"

#include <errno.h>

#define FIXTURES "../../tests/fixtures/proc/"
#define KIB(n) ((uint64_t)(n) * 1024)

static char file_buf[16384];

/* Reads a fixture whole; the length, or 0 after a failed check. */
static size_t load(const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), FIXTURES "%s", name);
    size_t len = 0;
    int rc = mb_proc_read(path, file_buf, sizeof(file_buf), &len);
    if (!MBT_EQ_INT(0, rc))
        fprintf(stderr, "    reading %s\n", path);
    return len;
}

static void test_proc_read_whole_file(void)
{
    size_t len = 99;
    MBT_EQ_INT(0, mb_proc_read(FIXTURES "pressure_cpu_6.18", file_buf, sizeof(file_buf), &len));
    MBT_EQ_U64(100, len);
    MBT_EQ_MEM("some avg10=0.00 avg60=0.00 avg300=0.11 total=4698155\n", file_buf, 53);
    /* Exactly the file's size: still complete. */
    MBT_EQ_INT(0, mb_proc_read(FIXTURES "pressure_cpu_6.18", file_buf, 100, &len));
    MBT_EQ_U64(100, len);
}

static void test_proc_read_truncation(void)
{
    size_t len = 0;
    MBT_EQ_INT(-EFBIG, mb_proc_read(FIXTURES "pressure_cpu_6.18", file_buf, 99, &len));
    MBT_EQ_U64(99, len);
    MBT_EQ_INT(-EFBIG, mb_proc_read(FIXTURES "pressure_cpu_6.18", file_buf, 10, &len));
    MBT_EQ_U64(10, len);
    MBT_EQ_MEM("some avg10", file_buf, 10);
    MBT_EQ_INT(-EINVAL, mb_proc_read(FIXTURES "pressure_cpu_6.18", file_buf, 0, &len));
    MBT_EQ_U64(0, len);
}

static void test_proc_read_errors(void)
{
    size_t len = 7;
    MBT_EQ_INT(-ENOENT, mb_proc_read(FIXTURES "no_such_file", file_buf, sizeof(file_buf), &len));
    MBT_EQ_U64(0, len);
    len = 7;
    MBT_EQ_INT(-EISDIR, mb_proc_read(FIXTURES, file_buf, sizeof(file_buf), &len));
    MBT_EQ_U64(0, len);
}

static void test_proc_read_live(void)
{
    /* The live file parses; its values are the machine's, so only invariants. */
    size_t len = 0;
    MBT_REQUIRE(mb_proc_read("/proc/meminfo", file_buf, sizeof(file_buf), &len) == 0);
    struct mb_meminfo info;
    MBT_EQ_INT(0, mb_meminfo_parse(file_buf, len, &info, NULL));
    MBT_CHECK(mb_meminfo_has(&info, MB_MEMINFO_MEM_TOTAL));
    MBT_CHECK(info.value[MB_MEMINFO_MEM_FREE] <= info.value[MB_MEMINFO_MEM_TOTAL]);
    MBT_EQ_U64(0, info.value[MB_MEMINFO_MEM_TOTAL] % 1024);
}

static void test_lines(void)
{
    static const char text[] = "a b\n\nlast";
    struct mb_lines lines;
    mb_lines_init(&lines, text, sizeof(text) - 1);
    const char *line = NULL;
    size_t len = 0;
    MBT_REQUIRE(mb_lines_next(&lines, &line, &len));
    MBT_EQ_U64(3, len);
    MBT_EQ_MEM("a b", line, 3);
    MBT_EQ_U64(1, lines.number);
    MBT_REQUIRE(mb_lines_next(&lines, &line, &len));
    MBT_EQ_U64(0, len);
    MBT_REQUIRE(mb_lines_next(&lines, &line, &len));
    MBT_EQ_U64(4, len);
    MBT_EQ_MEM("last", line, 4);
    MBT_EQ_U64(3, lines.number);
    MBT_FALSE(mb_lines_next(&lines, &line, &len));
    /* A final '\n' does not make an empty extra line. */
    mb_lines_init(&lines, "x\n", 2);
    MBT_CHECK(mb_lines_next(&lines, &line, &len));
    MBT_FALSE(mb_lines_next(&lines, &line, &len));
    mb_lines_init(&lines, "", 0);
    MBT_FALSE(mb_lines_next(&lines, &line, &len));

    MBT_EQ_U64(2, mb_span_blanks(" \tx", 3));
    MBT_EQ_U64(3, mb_span_word("abc def", 7));
    MBT_EQ_U64(2, mb_span_word("ab", 2));
    MBT_CHECK(mb_is_blank(" \t ", 3));
    MBT_FALSE(mb_is_blank(" x", 2));
}

static void test_captured_x86_64(void)
{
    size_t len = load("meminfo_x86_64_6.18");
    struct mb_meminfo m;
    size_t line = 99;
    MBT_REQUIRE(mb_meminfo_parse(file_buf, len, &m, &line) == 0);
    MBT_EQ_U64(0, line);
    const uint64_t *v = m.value;
    MBT_EQ_U64(KIB(24683656), v[MB_MEMINFO_MEM_TOTAL]);
    MBT_EQ_U64(KIB(24252064), v[MB_MEMINFO_MEM_FREE]);
    MBT_EQ_U64(KIB(24331896), v[MB_MEMINFO_MEM_AVAILABLE]);
    MBT_EQ_U64(KIB(700), v[MB_MEMINFO_BUFFERS]);
    MBT_EQ_U64(KIB(260892), v[MB_MEMINFO_CACHED]);
    MBT_EQ_U64(0, v[MB_MEMINFO_SWAP_CACHED]);
    MBT_EQ_U64(KIB(29216), v[MB_MEMINFO_ACTIVE]);
    MBT_EQ_U64(KIB(231628), v[MB_MEMINFO_INACTIVE]);
    MBT_EQ_U64(KIB(1520), v[MB_MEMINFO_ACTIVE_ANON]);
    MBT_EQ_U64(KIB(6672), v[MB_MEMINFO_INACTIVE_ANON]);
    MBT_EQ_U64(KIB(27696), v[MB_MEMINFO_ACTIVE_FILE]);
    MBT_EQ_U64(KIB(224956), v[MB_MEMINFO_INACTIVE_FILE]);
    MBT_EQ_U64(KIB(11980), v[MB_MEMINFO_UNEVICTABLE]);
    MBT_EQ_U64(KIB(11004), v[MB_MEMINFO_MLOCKED]);
    MBT_EQ_U64(0, v[MB_MEMINFO_SWAP_TOTAL]);
    MBT_EQ_U64(0, v[MB_MEMINFO_SWAP_FREE]);
    MBT_EQ_U64(KIB(168), v[MB_MEMINFO_DIRTY]);
    MBT_EQ_U64(0, v[MB_MEMINFO_WRITEBACK]);
    MBT_EQ_U64(KIB(11348), v[MB_MEMINFO_ANON_PAGES]);
    MBT_EQ_U64(KIB(10920), v[MB_MEMINFO_MAPPED]);
    MBT_EQ_U64(KIB(8924), v[MB_MEMINFO_SHMEM]);
    MBT_EQ_U64(KIB(71768), v[MB_MEMINFO_KRECLAIMABLE]);
    MBT_EQ_U64(KIB(94288), v[MB_MEMINFO_SLAB]);
    MBT_EQ_U64(KIB(71768), v[MB_MEMINFO_SRECLAIMABLE]);
    MBT_EQ_U64(KIB(22520), v[MB_MEMINFO_SUNRECLAIM]);
    MBT_EQ_U64(KIB(1452), v[MB_MEMINFO_KERNEL_STACK]);
    MBT_EQ_U64(KIB(1628), v[MB_MEMINFO_PAGE_TABLES]);
    MBT_EQ_U64(KIB(12341828), v[MB_MEMINFO_COMMIT_LIMIT]);
    MBT_EQ_U64(KIB(62860), v[MB_MEMINFO_COMMITTED_AS]);
    MBT_EQ_U64(0, v[MB_MEMINFO_ANON_HUGE_PAGES]);
    MBT_EQ_U64(0, v[MB_MEMINFO_HUGEPAGES_TOTAL]);
    MBT_EQ_U64(0, v[MB_MEMINFO_HUGEPAGES_FREE]);
    MBT_EQ_U64(KIB(2048), v[MB_MEMINFO_HUGEPAGESIZE]);
    MBT_EQ_U64(0, v[MB_MEMINFO_HUGETLB]);
    /* Slab = SReclaimable + SUnreclaim, as the kernel computes it. */
    MBT_EQ_U64(v[MB_MEMINFO_SLAB], v[MB_MEMINFO_SRECLAIMABLE] + v[MB_MEMINFO_SUNRECLAIM]);
    /* Everything but the HIGHMEM and CMA lines is there. */
    uint64_t absent = (UINT64_C(1) << MB_MEMINFO_HIGH_TOTAL) | (UINT64_C(1) << MB_MEMINFO_HIGH_FREE) |
                      (UINT64_C(1) << MB_MEMINFO_LOW_TOTAL) | (UINT64_C(1) << MB_MEMINFO_LOW_FREE) |
                      (UINT64_C(1) << MB_MEMINFO_CMA_TOTAL) | (UINT64_C(1) << MB_MEMINFO_CMA_FREE);
    MBT_EQ_U64(((UINT64_C(1) << MB_MEMINFO_FIELD_COUNT) - 1) & ~absent, m.present);
    MBT_FALSE(mb_meminfo_has(&m, MB_MEMINFO_CMA_TOTAL));
    MBT_EQ_U64(0, v[MB_MEMINFO_CMA_TOTAL]);
    MBT_EQ_U64(77, mb_meminfo_get(&m, MB_MEMINFO_CMA_TOTAL, 77));
    MBT_EQ_U64(KIB(700), mb_meminfo_get(&m, MB_MEMINFO_BUFFERS, 77));
}

static void test_lookup_any_key(void)
{
    size_t len = load("meminfo_x86_64_6.18");
    uint64_t value = 0;
    MBT_EQ_INT(0, mb_meminfo_lookup(file_buf, len, "DirectMap1G", &value));
    MBT_EQ_U64(KIB(25165824), value);
    MBT_EQ_INT(0, mb_meminfo_lookup(file_buf, len, "VmallocTotal", &value));
    MBT_EQ_U64(KIB(34359738367), value);
    MBT_EQ_INT(0, mb_meminfo_lookup(file_buf, len, "HugePages_Rsvd", &value));
    MBT_EQ_U64(0, value);
    MBT_EQ_INT(0, mb_meminfo_lookup(file_buf, len, "MemTotal", &value));
    MBT_EQ_U64(KIB(24683656), value);
    /* Exact names only: "Active" must not match "Active(anon)" nor "Mem" "MemTotal". */
    MBT_EQ_INT(0, mb_meminfo_lookup(file_buf, len, "Active", &value));
    MBT_EQ_U64(KIB(29216), value);
    value = 5;
    MBT_EQ_INT(-ENOENT, mb_meminfo_lookup(file_buf, len, "Mem", &value));
    MBT_EQ_INT(-ENOENT, mb_meminfo_lookup(file_buf, len, "CmaTotal", &value));
    MBT_EQ_INT(-ENOENT, mb_meminfo_lookup(file_buf, len, "", &value));
    MBT_EQ_U64(5, value);
    /* Only the wanted line is checked: garbage elsewhere does not matter. */
    len = load("meminfo_garbage");
    MBT_EQ_INT(0, mb_meminfo_lookup(file_buf, len, "MemAvailable", &value));
    MBT_EQ_U64(KIB(148932), value);
    len = load("meminfo_overflow");
    MBT_EQ_INT(-ERANGE, mb_meminfo_lookup(file_buf, len, "MemFree", &value));
    MBT_EQ_INT(0, mb_meminfo_lookup(file_buf, len, "MemTotal", &value));
    MBT_EQ_U64(KIB(249364), value);
    len = load("meminfo_cut_line");
    MBT_EQ_INT(-EINVAL, mb_meminfo_lookup(file_buf, len, "Buffers", &value));
}

static void test_armhf_256m(void)
{
    size_t len = load("meminfo_armhf_256m");
    struct mb_meminfo m;
    MBT_REQUIRE(mb_meminfo_parse(file_buf, len, &m, NULL) == 0);
    MBT_EQ_U64(KIB(249364), mb_meminfo_get(&m, MB_MEMINFO_MEM_TOTAL, 0));
    MBT_EQ_U64(KIB(61208), mb_meminfo_get(&m, MB_MEMINFO_MEM_FREE, 0));
    MBT_EQ_U64(KIB(148932), mb_meminfo_get(&m, MB_MEMINFO_MEM_AVAILABLE, 0));
    MBT_EQ_U64(KIB(65536), mb_meminfo_get(&m, MB_MEMINFO_HIGH_TOTAL, 0));
    MBT_EQ_U64(KIB(20480), mb_meminfo_get(&m, MB_MEMINFO_HIGH_FREE, 0));
    MBT_EQ_U64(KIB(183828), mb_meminfo_get(&m, MB_MEMINFO_LOW_TOTAL, 0));
    MBT_EQ_U64(KIB(40728), mb_meminfo_get(&m, MB_MEMINFO_LOW_FREE, 0));
    MBT_EQ_U64(KIB(16384), mb_meminfo_get(&m, MB_MEMINFO_CMA_TOTAL, 0));
    MBT_EQ_U64(KIB(4096), mb_meminfo_get(&m, MB_MEMINFO_CMA_FREE, 0));
    MBT_EQ_U64(KIB(12288), mb_meminfo_get(&m, MB_MEMINFO_MLOCKED, 0));
    MBT_EQ_U64(KIB(301744), mb_meminfo_get(&m, MB_MEMINFO_COMMITTED_AS, 0));
    /* High + low memory is all memory. */
    MBT_EQ_U64(m.value[MB_MEMINFO_MEM_TOTAL],
               m.value[MB_MEMINFO_HIGH_TOTAL] + m.value[MB_MEMINFO_LOW_TOTAL]);
    MBT_EQ_U64(m.value[MB_MEMINFO_MEM_FREE],
               m.value[MB_MEMINFO_HIGH_FREE] + m.value[MB_MEMINFO_LOW_FREE]);
    /* No hugetlb on this kernel. */
    MBT_FALSE(mb_meminfo_has(&m, MB_MEMINFO_HUGEPAGESIZE));
    MBT_FALSE(mb_meminfo_has(&m, MB_MEMINFO_ANON_HUGE_PAGES));
}

static void test_old_kernel_without_memavailable(void)
{
    size_t len = load("meminfo_old_3.10");
    struct mb_meminfo m;
    MBT_REQUIRE(mb_meminfo_parse(file_buf, len, &m, NULL) == 0);
    MBT_FALSE(mb_meminfo_has(&m, MB_MEMINFO_MEM_AVAILABLE));
    MBT_FALSE(mb_meminfo_has(&m, MB_MEMINFO_KRECLAIMABLE));
    MBT_EQ_U64(0, m.value[MB_MEMINFO_MEM_AVAILABLE]);
    MBT_EQ_U64(KIB(510488), m.value[MB_MEMINFO_MEM_TOTAL]);
    MBT_EQ_U64(KIB(38220), m.value[MB_MEMINFO_MEM_FREE]);
    MBT_EQ_U64(KIB(1024), m.value[MB_MEMINFO_SWAP_CACHED]);
    MBT_EQ_U64(KIB(524284), m.value[MB_MEMINFO_SWAP_TOTAL]);
    MBT_EQ_U64(KIB(519676), m.value[MB_MEMINFO_SWAP_FREE]);
    MBT_EQ_U64(KIB(47104), m.value[MB_MEMINFO_ANON_HUGE_PAGES]);
    MBT_CHECK(mb_meminfo_has(&m, MB_MEMINFO_HUGEPAGES_TOTAL));
    MBT_EQ_U64(0, m.value[MB_MEMINFO_HUGEPAGES_TOTAL]);
    MBT_EQ_U64(KIB(2048), m.value[MB_MEMINFO_HUGEPAGESIZE]);
    MBT_FALSE(mb_meminfo_has(&m, MB_MEMINFO_HUGETLB));
}

static void test_counts_without_unit(void)
{
    static const char text[] = "HugePages_Total:     512\nHugePages_Free:      17\n"
                               "Hugepagesize:       2048 kB\n";
    struct mb_meminfo m;
    MBT_REQUIRE(mb_meminfo_parse(text, sizeof(text) - 1, &m, NULL) == 0);
    MBT_EQ_U64(512, m.value[MB_MEMINFO_HUGEPAGES_TOTAL]);
    MBT_EQ_U64(17, m.value[MB_MEMINFO_HUGEPAGES_FREE]);
    MBT_EQ_U64(2097152, m.value[MB_MEMINFO_HUGEPAGESIZE]);
    MBT_EQ_U64((UINT64_C(1) << MB_MEMINFO_HUGEPAGES_TOTAL) | (UINT64_C(1) << MB_MEMINFO_HUGEPAGES_FREE) |
                   (UINT64_C(1) << MB_MEMINFO_HUGEPAGESIZE),
               m.present);
}

static void test_first_duplicate_wins_and_blank_lines(void)
{
    static const char text[] = "MemTotal: 10 kB\n\n   \nMemTotal: 20 kB\nMemFree:\t3 kB  \n";
    struct mb_meminfo m;
    MBT_REQUIRE(mb_meminfo_parse(text, sizeof(text) - 1, &m, NULL) == 0);
    MBT_EQ_U64(10240, m.value[MB_MEMINFO_MEM_TOTAL]);
    MBT_EQ_U64(3072, m.value[MB_MEMINFO_MEM_FREE]);
    uint64_t value = 0;
    MBT_EQ_INT(0, mb_meminfo_lookup(text, sizeof(text) - 1, "MemTotal", &value));
    MBT_EQ_U64(10240, value);
}

static void test_truncated_files(void)
{
    struct mb_meminfo m;
    size_t line = 0;
    size_t len = load("meminfo_no_trailing_newline");
    MBT_EQ_INT(0, mb_meminfo_parse(file_buf, len, &m, &line));
    MBT_EQ_U64(KIB(8412), m.value[MB_MEMINFO_BUFFERS]);
    MBT_EQ_U64(0xf, m.present & 0xf); /* MemTotal, MemFree, MemAvailable, Buffers */
    MBT_EQ_U64(0xf, m.present);

    len = load("meminfo_cut_line");
    MBT_EQ_INT(-EINVAL, mb_meminfo_parse(file_buf, len, &m, &line));
    MBT_EQ_U64(4, line);
    MBT_EQ_U64(0, m.present); /* nothing half-parsed is left behind */

    /* The captured file cut at every length: never a crash, and the
     * outcome is 0 or -EINVAL with a line number inside the cut text. */
    len = load("meminfo_x86_64_6.18");
    char copy[4096];
    MBT_REQUIRE(len <= sizeof(copy));
    memcpy(copy, file_buf, len);
    size_t ok = 0, invalid = 0;
    for (size_t cut = 0; cut <= len; cut++) {
        int rc = mb_meminfo_parse(copy, cut, &m, &line);
        if (rc == 0) {
            ok++;
        } else {
            invalid++;
            MBT_EQ_INT(-EINVAL, rc);
            MBT_CHECK(line >= 1 && line <= 54);
        }
    }
    MBT_EQ_U64(len + 1, ok + invalid);
    /* Cut inside "MemTotal:       24683656 kB": at "Mem" it is malformed; in the
     * digits it reads a smaller value; at " k" (no 'B') it is malformed. */
    MBT_EQ_INT(-EINVAL, mb_meminfo_parse(copy, 3, &m, &line));
    MBT_EQ_U64(1, line);
    MBT_EQ_INT(0, mb_meminfo_parse(copy, 20, &m, &line));
    MBT_EQ_U64(2468, m.value[MB_MEMINFO_MEM_TOTAL]);
    MBT_EQ_INT(-EINVAL, mb_meminfo_parse(copy, 26, &m, &line));
    MBT_EQ_INT(0, mb_meminfo_parse(copy, 27, &m, &line));
    MBT_EQ_U64(KIB(24683656), m.value[MB_MEMINFO_MEM_TOTAL]);
}

static void test_garbage_lines(void)
{
    struct mb_meminfo m;
    size_t line = 0;
    size_t len = load("meminfo_garbage");
    MBT_EQ_INT(-EINVAL, mb_meminfo_parse(file_buf, len, &m, &line));
    MBT_EQ_U64(3, line);
    static const char *const bad[] = {
        "MemTotal 12 kB\n",   /* no colon */
        ": 12 kB\n",          /* no key */
        "Mem Total: 12 kB\n", /* blank in the key */
        "MemTotal: kB\n",     /* no value */
        "MemTotal: -12 kB\n", /* signed */
        "MemTotal: 12 MB\n",  /* unknown unit */
        "MemTotal: 12kB\n",   /* unit glued to the number */
        "MemTotal: 12 kB x\n",
        "MemTotal: 0x12 kB\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        line = 0;
        if (!MBT_EQ_INT(-EINVAL, mb_meminfo_parse(bad[i], strlen(bad[i]), &m, &line)))
            fprintf(stderr, "    input: %s", bad[i]);
        MBT_EQ_U64(1, line);
    }
    /* NULL error_line is allowed. */
    MBT_EQ_INT(-EINVAL, mb_meminfo_parse(bad[0], strlen(bad[0]), &m, NULL));
}

static void test_huge_numbers(void)
{
    struct mb_meminfo m;
    size_t line = 0;
    /* 2^54 kB is 2^64 bytes: one past what fits. */
    size_t len = load("meminfo_overflow");
    MBT_EQ_INT(-ERANGE, mb_meminfo_parse(file_buf, len, &m, &line));
    MBT_EQ_U64(2, line);
    len = load("meminfo_overflow_digits");
    MBT_EQ_INT(-ERANGE, mb_meminfo_parse(file_buf, len, &m, &line));
    MBT_EQ_U64(3, line);
    /* The largest kB value that fits, and the largest plain count. */
    static const char fits[] = "MemTotal: 18014398509481983 kB\nHugePages_Total: 18446744073709551615\n";
    MBT_REQUIRE(mb_meminfo_parse(fits, sizeof(fits) - 1, &m, &line) == 0);
    MBT_EQ_U64(UINT64_MAX - 1023, m.value[MB_MEMINFO_MEM_TOTAL]);
    MBT_EQ_U64(UINT64_MAX, m.value[MB_MEMINFO_HUGEPAGES_TOTAL]);
}

static void test_field_names(void)
{
    MBT_EQ_STR("MemTotal", mb_meminfo_field_name(MB_MEMINFO_MEM_TOTAL));
    MBT_EQ_STR("Active(anon)", mb_meminfo_field_name(MB_MEMINFO_ACTIVE_ANON));
    MBT_EQ_STR("CmaFree", mb_meminfo_field_name(MB_MEMINFO_CMA_FREE));
    MBT_NULL(mb_meminfo_field_name(MB_MEMINFO_FIELD_COUNT));
    /* Every field has a distinct name. */
    for (int a = 0; a < MB_MEMINFO_FIELD_COUNT; a++) {
        MBT_NOT_NULL(mb_meminfo_field_name((enum mb_meminfo_field)a));
        for (int b = a + 1; b < MB_MEMINFO_FIELD_COUNT; b++)
            MBT_CHECK(strcmp(mb_meminfo_field_name((enum mb_meminfo_field)a),
                             mb_meminfo_field_name((enum mb_meminfo_field)b)) != 0);
    }
}

int main(void)
{
    MBT_RUN(test_proc_read_whole_file);
    MBT_RUN(test_proc_read_truncation);
    MBT_RUN(test_proc_read_errors);
    MBT_RUN(test_proc_read_live);
    MBT_RUN(test_lines);
    MBT_RUN(test_captured_x86_64);
    MBT_RUN(test_lookup_any_key);
    MBT_RUN(test_armhf_256m);
    MBT_RUN(test_old_kernel_without_memavailable);
    MBT_RUN(test_counts_without_unit);
    MBT_RUN(test_first_duplicate_wins_and_blank_lines);
    MBT_RUN(test_truncated_files);
    MBT_RUN(test_garbage_lines);
    MBT_RUN(test_huge_numbers);
    MBT_RUN(test_field_names);
    return mbt_finish();
}
