/* Unit tests for mbconf_tune.c: the pressure verdict at its thresholds, the
 * candidates and the recommendation with exact figures, and the config
 * rewrite (replace, re-run, append, too small). */
#include "tools/mbconf_tune.h"
#include "mbtest.h"

#include <errno.h>
#include <string.h>

#define MIB(n) ((uint64_t)(n) << 20)
#define KIB(n) ((uint64_t)(n) << 10)

static const struct mbconf_tune_limits limits = {.psi_some_permille = 50,
                                                 .majfaults_per_second = 50};

static void test_judge_thresholds(void)
{
    /* A 2 s window: 5% is 100 ms of stall, 50/s is 100 faults. */
    struct mbconf_tune_sample s = {.candidate = MIB(64), .window_us = 2000000, .have_psi = true,
                                   .have_majfaults = true};
    MBT_EQ_U64(0, mbconf_tune_judge(&limits, &s));
    s.psi_some_us = 99999;
    s.majfaults = 99;
    MBT_EQ_U64(0, mbconf_tune_judge(&limits, &s));
    s.psi_some_us = 100000;
    MBT_EQ_U64(MBCONF_TUNE_PSI, mbconf_tune_judge(&limits, &s));
    s.majfaults = 100;
    MBT_EQ_U64(MBCONF_TUNE_PSI | MBCONF_TUNE_MAJFAULTS, mbconf_tune_judge(&limits, &s));
    s.psi_some_us = 0;
    s.load_killed = true;
    MBT_EQ_U64(MBCONF_TUNE_MAJFAULTS | MBCONF_TUNE_KILLED, mbconf_tune_judge(&limits, &s));
}

static void test_judge_missing_and_disabled(void)
{
    /* Figures not measured never count; a disabled limit never fires. */
    struct mbconf_tune_sample s = {.window_us = 1000000, .psi_some_us = 900000,
                                   .majfaults = 100000};
    MBT_EQ_U64(0, mbconf_tune_judge(&limits, &s));
    s.have_psi = s.have_majfaults = true;
    struct mbconf_tune_limits off = {0};
    MBT_EQ_U64(0, mbconf_tune_judge(&off, &s));
    /* A zero-length window counts only a killed load. */
    s.window_us = 0;
    MBT_EQ_U64(0, mbconf_tune_judge(&limits, &s));
    s.load_killed = true;
    MBT_EQ_U64(MBCONF_TUNE_KILLED, mbconf_tune_judge(&limits, &s));
    /* Counts too large to scale are pressure, not an overflow. */
    struct mbconf_tune_sample huge = {.window_us = 1000000, .have_psi = true,
                                      .psi_some_us = UINT64_MAX, .have_majfaults = true,
                                      .majfaults = UINT64_MAX};
    MBT_EQ_U64(MBCONF_TUNE_PSI | MBCONF_TUNE_MAJFAULTS, mbconf_tune_judge(&limits, &huge));
}

static void test_plan(void)
{
    struct mbconf_tune_plan plan = {.start = MIB(100) + 1000, .step = MIB(16) + 5, .max = MIB(140),
                                    .margin_percent = 10, .granule = KIB(64)};
    char why[128] = "";
    MBT_EQ_INT(0, mbconf_tune_plan_check(&plan, why, sizeof why));
    /* Candidates are whole granules: 100 MiB, 116 MiB, 132 MiB, then past max. */
    uint64_t c = mbconf_tune_first(&plan);
    MBT_EQ_U64(MIB(100), c);
    c = mbconf_tune_next(&plan, c);
    MBT_EQ_U64(MIB(116), c);
    c = mbconf_tune_next(&plan, c);
    MBT_EQ_U64(MIB(132), c);
    MBT_EQ_U64(0, mbconf_tune_next(&plan, c));
    MBT_EQ_U64(0, mbconf_tune_next(&plan, UINT64_MAX - KIB(64)));
    /* A start under one granule still gives one granule. */
    struct mbconf_tune_plan tiny = {.start = 1, .step = 1, .max = KIB(128), .granule = KIB(64)};
    MBT_EQ_U64(KIB(64), mbconf_tune_first(&tiny));
    MBT_EQ_U64(KIB(128), mbconf_tune_next(&tiny, KIB(64)));

    struct mbconf_tune_plan bad = plan;
    bad.start = MIB(200);
    MBT_EQ_INT(-EINVAL, mbconf_tune_plan_check(&bad, why, sizeof why));
    MBT_EQ_STR("the first candidate (--start) is above the last (--max)", why);
    bad = plan;
    bad.step = 0;
    MBT_EQ_INT(-EINVAL, mbconf_tune_plan_check(&bad, why, sizeof why));
    MBT_EQ_STR("the step (--step) is 0", why);
    bad = plan;
    bad.margin_percent = 100;
    MBT_EQ_INT(-EINVAL, mbconf_tune_plan_check(&bad, why, sizeof why));
    MBT_EQ_STR("the margin (--margin) must be under 100%", why);
}

static void test_recommend(void)
{
    struct mbconf_tune_plan plan = {.margin_percent = 10, .granule = KIB(64)};
    uint64_t total = 7;
    /* 90% of 160 MiB is 144 MiB exactly. */
    MBT_EQ_INT(0, mbconf_tune_recommend(&plan, MIB(160), &total));
    MBT_EQ_U64(MIB(144), total);
    /* 90% of 100 MiB is 92160 KiB, a multiple of 64 KiB. */
    MBT_EQ_INT(0, mbconf_tune_recommend(&plan, MIB(100), &total));
    MBT_EQ_U64(KIB(92160), total);
    /* 90% of 1 MiB + 64 KiB = 1001.6 KiB: rounded down to 960 KiB. */
    MBT_EQ_INT(0, mbconf_tune_recommend(&plan, KIB(1088), &total));
    MBT_EQ_U64(KIB(960), total);
    /* No overflow near the top. */
    plan.margin_percent = 0;
    MBT_EQ_INT(0, mbconf_tune_recommend(&plan, UINT64_MAX - UINT64_MAX % KIB(64), &total));
    MBT_EQ_U64(UINT64_MAX - UINT64_MAX % KIB(64), total);
    plan.margin_percent = 10;
    total = 7;
    MBT_EQ_INT(-ENODATA, mbconf_tune_recommend(&plan, 0, &total));
    MBT_EQ_INT(-ENODATA, mbconf_tune_recommend(&plan, KIB(64), &total));
    MBT_EQ_U64(7, total);
}

static char out[4096];

static void rewrite(const char *in, const char *comment, const char *want)
{
    size_t len = 0;
    memset(out, 0, sizeof out);
    MBT_EQ_INT(0, mbconf_tune_rewrite_total(in, strlen(in), MIB(144), comment, out, sizeof out,
                                            &len));
    MBT_EQ_U64(strlen(want), len);
    MBT_EQ_STR(want, out);
}

static void test_rewrite(void)
{
    /* The TOTAL line is replaced in place; everything else is kept. */
    rewrite("# generated\nTOTAL               162624K\nSOCKET \"/run/x\"\n", "first\nsecond",
            "# generated\n# mbconf tune: first\n# mbconf tune: second\n"
            "TOTAL               147456K\nSOCKET \"/run/x\"\n");
    /* A second run drops the first run's comment. */
    rewrite("# generated\n# mbconf tune: old\nTOTAL 1K\nSOCKET \"/run/x\"\n", "new",
            "# generated\n# mbconf tune: new\nTOTAL               147456K\nSOCKET \"/run/x\"\n");
    /* A tune comment not followed by TOTAL stays; keys that merely start
     * with TOTAL are not TOTAL; indented and "=" forms are. */
    rewrite("# mbconf tune: stray\nTOTALS 5\n  TOTAL=3\n", NULL,
            "# mbconf tune: stray\nTOTALS 5\nTOTAL               147456K\n");
    /* No TOTAL: appended, after a newline the file lacked. */
    rewrite("SOCKET \"/run/x\"", "c", "SOCKET \"/run/x\"\n# mbconf tune: c\nTOTAL               147456K\n");
    rewrite("", NULL, "TOTAL               147456K\n");
    /* Only the first TOTAL line is replaced (the parser refuses repeats). */
    rewrite("TOTAL 1K\nTOTAL 2K\n", NULL, "TOTAL               147456K\nTOTAL 2K\n");

    char small[20];
    size_t len = 99;
    MBT_EQ_INT(-EFBIG, mbconf_tune_rewrite_total("TOTAL 1K\n", 9, MIB(144), NULL, small,
                                                 sizeof small, &len));
    MBT_EQ_U64(99, len);
}

int main(void)
{
    MBT_RUN(test_judge_thresholds);
    MBT_RUN(test_judge_missing_and_disabled);
    MBT_RUN(test_plan);
    MBT_RUN(test_recommend);
    MBT_RUN(test_rewrite);
    return mbt_finish();
}
