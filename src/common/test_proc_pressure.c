/* Unit tests for proc_pressure.c against captured and crafted files. */
#include "common/proc_pressure.h"
#include "common/proc_read.h"
#include "mbtest.h"

#include <errno.h>

#define FIXTURES "../../tests/fixtures/proc/"

static char file_buf[4096];

static size_t load(const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), FIXTURES "%s", name);
    size_t len = 0;
    if (!MBT_EQ_INT(0, mb_proc_read(path, file_buf, sizeof(file_buf), &len)))
        fprintf(stderr, "    reading %s\n", path);
    return len;
}

static void expect_line(const struct mb_pressure_line *line, uint32_t avg10, uint32_t avg60,
                        uint32_t avg300, uint64_t total_us)
{
    MBT_EQ_U64(avg10, line->avg10);
    MBT_EQ_U64(avg60, line->avg60);
    MBT_EQ_U64(avg300, line->avg300);
    MBT_EQ_U64(total_us, line->total_us);
}

static void test_captured(void)
{
    struct mb_pressure p;
    size_t line = 99;
    size_t len = load("pressure_cpu_6.18");
    MBT_REQUIRE(mb_pressure_parse(file_buf, len, &p, &line) == 0);
    MBT_EQ_U64(0, line);
    MBT_CHECK(p.has_some);
    MBT_CHECK(p.has_full);
    expect_line(&p.some, 0, 0, 11, 4698155);
    expect_line(&p.full, 0, 0, 0, 0);

    len = load("pressure_io_6.18");
    MBT_REQUIRE(mb_pressure_parse(file_buf, len, &p, NULL) == 0);
    expect_line(&p.some, 81, 30, 20, 3982658);
    expect_line(&p.full, 81, 30, 19, 3817475);

    len = load("pressure_memory_6.18");
    MBT_REQUIRE(mb_pressure_parse(file_buf, len, &p, NULL) == 0);
    MBT_CHECK(p.has_some && p.has_full);
    expect_line(&p.some, 0, 0, 0, 0);
    expect_line(&p.full, 0, 0, 0, 0);
}

static void test_without_full_line(void)
{
    struct mb_pressure p;
    size_t len = load("pressure_cpu_old_5.4");
    MBT_REQUIRE(mb_pressure_parse(file_buf, len, &p, NULL) == 0);
    MBT_CHECK(p.has_some);
    MBT_FALSE(p.has_full);
    expect_line(&p.some, 0, 0, 0, 71234);
    expect_line(&p.full, 0, 0, 0, 0);
}

static void test_hundredths(void)
{
    struct mb_pressure p;
    static const char text[] = "some avg10=100.00 avg60=12.05 avg300=0.01 total=1\n"
                               "full avg10=99.99 avg60=0.10 avg300=7.00 total=18446744073709551615\n";
    MBT_REQUIRE(mb_pressure_parse(text, sizeof(text) - 1, &p, NULL) == 0);
    expect_line(&p.some, 10000, 1205, 1, 1);
    expect_line(&p.full, 9999, 10, 700, UINT64_MAX);
    /* The largest average that fits in 32 bits of hundredths, and one more. */
    static const char max[] = "some avg10=42949672.95 avg60=0.00 avg300=0.00 total=0\n";
    MBT_REQUIRE(mb_pressure_parse(max, sizeof(max) - 1, &p, NULL) == 0);
    MBT_EQ_U64(UINT32_MAX, p.some.avg10);
    size_t line = 0;
    static const char over[] = "some avg10=0.00 avg60=42949672.96 avg300=0.00 total=0\n";
    MBT_EQ_INT(-ERANGE, mb_pressure_parse(over, sizeof(over) - 1, &p, &line));
    MBT_EQ_U64(1, line);
}

static void test_malformed(void)
{
    struct mb_pressure p;
    size_t line = 0;
    size_t len = load("pressure_bad_decimals");
    MBT_EQ_INT(-EINVAL, mb_pressure_parse(file_buf, len, &p, &line));
    MBT_EQ_U64(2, line);
    MBT_FALSE(p.has_some); /* cleared on error */
    static const char *const bad[] = {
        "some avg10=1.5 avg60=0.00 avg300=0.00 total=0\n",   /* one decimal */
        "some avg10=1.500 avg60=0.00 avg300=0.00 total=0\n", /* three decimals */
        "some avg10=1 avg60=0.00 avg300=0.00 total=0\n",     /* no decimals */
        "some avg10=.50 avg60=0.00 avg300=0.00 total=0\n",
        "some avg10=-1.00 avg60=0.00 avg300=0.00 total=0\n",
        "some avg60=0.00 avg10=0.00 avg300=0.00 total=0\n",  /* out of order */
        "some avg10=0.00 avg60=0.00 avg300=0.00\n",          /* no total */
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=\n",
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=5 x=1\n",
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=5x\n",
        "some avg10 =0.00 avg60=0.00 avg300=0.00 total=0\n",
        "someavg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
        "all avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
        "some\n",
        "garbage\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        line = 0;
        if (!MBT_EQ_INT(-EINVAL, mb_pressure_parse(bad[i], strlen(bad[i]), &p, &line)))
            fprintf(stderr, "    input: %s", bad[i]);
        MBT_EQ_U64(1, line);
    }
    static const char twice[] = "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
                                "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
    MBT_EQ_INT(-EINVAL, mb_pressure_parse(twice, sizeof(twice) - 1, &p, &line));
    MBT_EQ_U64(2, line);
}

static void test_missing_some(void)
{
    struct mb_pressure p;
    size_t line = 7;
    MBT_EQ_INT(-ENODATA, mb_pressure_parse("", 0, &p, &line));
    MBT_EQ_U64(0, line);
    static const char only_full[] = "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
    MBT_EQ_INT(-ENODATA, mb_pressure_parse(only_full, sizeof(only_full) - 1, &p, &line));
    MBT_FALSE(p.has_full);
    /* Order does not matter, blanks around do not either. */
    static const char reversed[] = "full avg10=0.00 avg60=0.00 avg300=0.00 total=3 \n\n"
                                   "some\tavg10=0.00  avg60=0.00 avg300=0.00 total=4";
    MBT_REQUIRE(mb_pressure_parse(reversed, sizeof(reversed) - 1, &p, NULL) == 0);
    MBT_EQ_U64(4, p.some.total_us);
    MBT_EQ_U64(3, p.full.total_us);
}

static void test_truncated_and_overflow(void)
{
    struct mb_pressure p;
    size_t line = 0;
    size_t len = load("pressure_no_trailing_newline");
    MBT_REQUIRE(mb_pressure_parse(file_buf, len, &p, &line) == 0);
    expect_line(&p.some, 148, 33, 20, 3978983);
    expect_line(&p.full, 148, 33, 20, 38139);
    len = load("pressure_cut_line");
    MBT_EQ_INT(-EINVAL, mb_pressure_parse(file_buf, len, &p, &line));
    MBT_EQ_U64(2, line);
    len = load("pressure_overflow");
    MBT_EQ_INT(-ERANGE, mb_pressure_parse(file_buf, len, &p, &line));
    MBT_EQ_U64(1, line);

    /* Every cut of a captured file: a cut inside "total=" digits reads a
     * smaller total, any other cut inside a line is -EINVAL. */
    len = load("pressure_io_6.18");
    char copy[256];
    MBT_REQUIRE(len <= sizeof(copy));
    memcpy(copy, file_buf, len);
    size_t ok = 0;
    for (size_t cut = 0; cut <= len; cut++) {
        int rc = mb_pressure_parse(copy, cut, &p, &line);
        if (rc == 0)
            ok++;
        else if (rc != -ENODATA)
            MBT_EQ_INT(-EINVAL, rc);
    }
    /* Valid: the cut after the first line's '\n' and the whole file, and
     * the cuts after 1..7 digits of each line's total (7 digits each). */
    MBT_EQ_U64(2 + 7 + 7, ok);
}

int main(void)
{
    MBT_RUN(test_captured);
    MBT_RUN(test_without_full_line);
    MBT_RUN(test_hundredths);
    MBT_RUN(test_malformed);
    MBT_RUN(test_missing_some);
    MBT_RUN(test_truncated_and_overflow);
    return mbt_finish();
}
