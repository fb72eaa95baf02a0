/* test_watch_config.c: mbwatch's keys, defaults, environment overrides and
 * the checks the table cannot express. */
#include "mbtest.h"
#include "watch/watch_config.h"

#include <errno.h>
#include <string.h>

static struct mbw_config cfg, scratch;

static int parse(const char *text, struct mb_config_error *err)
{
    mbw_config_defaults(&cfg);
    return mb_config_parse_buffer(&mbw_config_schema, "test", text, strlen(text), &cfg, &scratch,
                                  err);
}

static void test_schema_and_defaults(void)
{
    struct mb_config_error err;
    MBT_EQ_INT(0, mb_config_schema_check(&mbw_config_schema, &err));
    mbw_config_defaults(&cfg);
    char why[128];
    MBT_EQ_INT(0, mbw_config_validate(&cfg, why, sizeof why));
    MBT_TRUE(cfg.psi);
    MBT_EQ_U64(100, cfg.psi_moderate_stall_ms);
    MBT_EQ_U64(300, cfg.psi_critical_stall_ms);
    MBT_EQ_U64(2000, cfg.psi_window_ms);
    MBT_EQ_STR("medium", cfg.v1_moderate_level);
    MBT_EQ_STR("critical", cfg.v1_critical_level);
    MBT_EQ_U64(5000, cfg.moderate_hold_ms);
    MBT_EQ_U64(2000, cfg.critical_hold_ms);
    MBT_EQ_U64(1000, cfg.resend_interval_ms);
    MBT_EQ_U64(200, cfg.broker_timeout_ms);
    MBT_EQ_U64(10, cfg.realtime_priority);
    MBT_EQ_U64(0, cfg.cgroup_count);
    MBT_EQ_STR("/var/lib/mbwatch", cfg.dump_dir);
    MBT_FALSE(cfg.oom_hold);
    MBT_EQ_STR("kill", cfg.oom_policy);
    MBT_EQ_U64(16u << 20, cfg.oom_raise.amount);
    MBT_EQ_U64(0, cfg.lamb_size.amount);
    MBT_TRUE(cfg.evidence);
    MBT_FALSE(cfg.evidence_psi);
    MBT_EQ_U64(60000, cfg.evidence_interval_ms);
}

static void test_file(void)
{
    struct mb_config_error err;
    MBT_EQ_INT(0, parse("CGROUP /sys/fs/cgroup/memory/app\n"
                        "CGROUP /sys/fs/cgroup/unified/app\n"
                        "PSI no\n"
                        "PSI_MODERATE_STALL 150ms\n"
                        "PSI_WINDOW 4s\n"
                        "V1_MODERATE_LEVEL low\n"
                        "V1_CRITICAL_LEVEL off\n"
                        "USAGE_MODERATE 75%\n"
                        "USAGE_CRITICAL 60M\n"
                        "MODERATE_HOLD 3s\n"
                        "REALTIME_PRIORITY 0\n"
                        "SOCKET /tmp/mb.sock\n",
                        &err));
    MBT_EQ_U64(2, cfg.cgroup_count);
    MBT_EQ_STR("/sys/fs/cgroup/unified/app", cfg.cgroups[1]);
    MBT_FALSE(cfg.psi);
    MBT_EQ_U64(150, cfg.psi_moderate_stall_ms);
    MBT_EQ_U64(4000, cfg.psi_window_ms);
    MBT_EQ_U64(3000, cfg.moderate_hold_ms);
    MBT_EQ_U64(0, cfg.realtime_priority);
    MBT_EQ_INT(MBW_V1_LOW, mbw_config_v1_level(cfg.v1_moderate_level));
    MBT_EQ_INT(-1, mbw_config_v1_level(cfg.v1_critical_level));
    MBT_TRUE(cfg.present[MBW_USAGE_MODERATE]);
    MBT_FALSE(cfg.present[MBW_USAGE_HYSTERESIS]);
    uint64_t bytes;
    MBT_EQ_INT(0, mbw_config_usage_bytes(&cfg.usage_moderate, 4096, 64u << 20, &bytes));
    MBT_EQ_U64(48u << 20, bytes);
    MBT_EQ_INT(0, mbw_config_usage_bytes(&cfg.usage_critical, 4096, 64u << 20, &bytes));
    MBT_EQ_U64(60u << 20, bytes);
    /* Default hysteresis: 5% of the limit. */
    MBT_EQ_INT(0, mbw_config_usage_bytes(&cfg.usage_hysteresis, 4096, 100000, &bytes));
    MBT_EQ_U64(5000, bytes);
    /* A share of an unlimited group means nothing. */
    MBT_EQ_INT(-EINVAL, mbw_config_usage_bytes(&cfg.usage_moderate, 4096,
                                               UINT64_C(9223372036854771712), &bytes));
    char why[128];
    MBT_EQ_INT(0, mbw_config_validate(&cfg, why, sizeof why));

    /* The table's own limits. */
    MBT_EQ_INT(-ERANGE, parse("PSI_WINDOW 20s\n", &err));
    MBT_EQ_INT(-ERANGE, parse("REALTIME_PRIORITY 100\n", &err));
    MBT_EQ_INT(-EINVAL, parse("NO_SUCH_KEY 1\n", &err));
    MBT_EQ_INT(-EINVAL, parse("CGROUP a\nCGROUP b\nCGROUP c\nCGROUP d\nCGROUP e\n", &err));
}

static void expect_invalid(const char *text, const char *message)
{
    struct mb_config_error err;
    MBT_EQ_INT(0, parse(text, &err));
    char why[160];
    MBT_EQ_INT(-EINVAL, mbw_config_validate(&cfg, why, sizeof why));
    MBT_EQ_STR(message, why);
}

static void test_validate(void)
{
    expect_invalid("V1_MODERATE_LEVEL high\n",
                   "V1_MODERATE_LEVEL must be low, medium, critical or off");
    expect_invalid("V1_CRITICAL_LEVEL Critical\n",
                   "V1_CRITICAL_LEVEL must be low, medium, critical or off");
    expect_invalid("LOG_LEVEL loud\n", "LOG_LEVEL must be err, warning, notice, info or debug");
    expect_invalid("PSI_CRITICAL_STALL 3s\n",
                   "PSI_MODERATE_STALL and PSI_CRITICAL_STALL must not exceed PSI_WINDOW");
    expect_invalid("CGROUP /g\nUSAGE_MODERATE 80%\nUSAGE_CRITICAL 70%\n",
                   "USAGE_MODERATE must be below USAGE_CRITICAL");
    expect_invalid("USAGE_CRITICAL 70%\n", "USAGE_CRITICAL needs a CGROUP");
    expect_invalid("CGROUP memory/app\n", "CGROUP must be an absolute directory path");
    expect_invalid("OOM_POLICY wait\n", "OOM_POLICY must be raise-limit or kill");
    expect_invalid("OOM_HOLD yes\nOOM_POLICY raise-limit\nOOM_RAISE 0\n",
                   "OOM_RAISE must not be 0 with OOM_POLICY raise-limit");
    expect_invalid("LAMB_CGROUP lambs\n", "LAMB_CGROUP must be an absolute directory path");
    expect_invalid("LAMB_FREEZE frozen\n", "LAMB_FREEZE must be an absolute directory path");
    struct mb_config_error err;
    char why[160];
    MBT_EQ_INT(0, parse("OOM_HOLD yes\nOOM_POLICY raise-limit\nOOM_RAISE 32M\nLAMB_SIZE 8M\n"
                        "LAMB_CGROUP /sys/fs/cgroup/memory/app\n",
                        &err));
    MBT_EQ_INT(0, mbw_config_validate(&cfg, why, sizeof why));
    MBT_TRUE(cfg.oom_hold);
    MBT_EQ_U64(32u << 20, cfg.oom_raise.amount);
    MBT_EQ_U64(8u << 20, cfg.lamb_size.amount);
}

static void test_environment(void)
{
    char e1[] = "MBWATCH_PSI_WINDOW=6s", e2[] = "MBWATCH_CGROUP=/sys/fs/cgroup/memory/x";
    char e3[] = "MBWATCH_SOCKET=/run/x", e4[] = "MEMBROKER_SOCKET=/ignored";
    char *env[] = {e1, e2, e3, e4, NULL};
    struct mb_config_error err;
    MBT_EQ_INT(0, parse("CGROUP /a\nCGROUP /b\n", &err));
    MBT_EQ_INT(0, mb_config_apply_env(&mbw_config_schema, env, &cfg, &scratch, &err));
    MBT_EQ_U64(6000, cfg.psi_window_ms);
    MBT_EQ_U64(1, cfg.cgroup_count); /* the variable replaces the list */
    MBT_EQ_STR("/sys/fs/cgroup/memory/x", cfg.cgroups[0]);
    MBT_EQ_STR("/run/x", cfg.socket);
    char b1[] = "MBWATCH_MLOCK=perhaps";
    char *bad[] = {b1, NULL};
    MBT_EQ_INT(-EINVAL, mb_config_apply_env(&mbw_config_schema, bad, &cfg, &scratch, &err));
    MBT_EQ_STR("MBWATCH_MLOCK", err.key);
}

static void test_log_levels(void)
{
    MBT_EQ_INT(3, mbw_config_log_level("err"));
    MBT_EQ_INT(7, mbw_config_log_level("debug"));
    MBT_EQ_INT(-EINVAL, mbw_config_log_level("verbose"));
}

int main(void)
{
    MBT_RUN(test_schema_and_defaults);
    MBT_RUN(test_file);
    MBT_RUN(test_validate);
    MBT_RUN(test_environment);
    MBT_RUN(test_log_levels);
    return mbt_finish();
}
