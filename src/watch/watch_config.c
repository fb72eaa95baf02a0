/* watch_config.c: see watch_config.h. */
#include "watch/watch_config.h"

#include "common/log.h"
#include "watch/cgroup_events.h"
#include "watch/pressure_source_parse.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define T struct mbw_config
static const struct mb_config_key mbw_keys[] = {
    [MBW_SOCKET] = MB_CONFIG_KEY_STRING("SOCKET", T, socket),
    [MBW_CGROUP] = MB_CONFIG_KEY_STRING_LIST("CGROUP", T, cgroups, cgroup_count),
    [MBW_PSI] = MB_CONFIG_KEY_BOOL("PSI", T, psi),
    [MBW_CGROUP_PSI] = MB_CONFIG_KEY_BOOL("CGROUP_PSI", T, cgroup_psi),
    [MBW_PSI_MODERATE_STALL] = MB_CONFIG_KEY_DURATION_RANGE("PSI_MODERATE_STALL", T,
                                                            psi_moderate_stall_ms, MB_DURATION_MS,
                                                            0, 10000),
    [MBW_PSI_CRITICAL_STALL] = MB_CONFIG_KEY_DURATION_RANGE("PSI_CRITICAL_STALL", T,
                                                            psi_critical_stall_ms, MB_DURATION_MS,
                                                            0, 10000),
    [MBW_PSI_WINDOW] = MB_CONFIG_KEY_DURATION_RANGE("PSI_WINDOW", T, psi_window_ms,
                                                    MB_DURATION_MS, 500, 10000),
    [MBW_V1_MODERATE_LEVEL] = MB_CONFIG_KEY_STRING("V1_MODERATE_LEVEL", T, v1_moderate_level),
    [MBW_V1_CRITICAL_LEVEL] = MB_CONFIG_KEY_STRING("V1_CRITICAL_LEVEL", T, v1_critical_level),
    [MBW_USAGE_MODERATE] = MB_CONFIG_KEY_SIZE("USAGE_MODERATE", T, usage_moderate,
                                              MB_CONFIG_PERCENT),
    [MBW_USAGE_CRITICAL] = MB_CONFIG_KEY_SIZE("USAGE_CRITICAL", T, usage_critical,
                                              MB_CONFIG_PERCENT),
    [MBW_USAGE_HYSTERESIS] = MB_CONFIG_KEY_SIZE("USAGE_HYSTERESIS", T, usage_hysteresis,
                                                MB_CONFIG_PERCENT),
    [MBW_OOM_EVENTS] = MB_CONFIG_KEY_BOOL("OOM_EVENTS", T, oom_events),
    [MBW_MODERATE_HOLD] = MB_CONFIG_KEY_DURATION_RANGE("MODERATE_HOLD", T, moderate_hold_ms,
                                                       MB_DURATION_MS, 1, 3600000),
    [MBW_CRITICAL_HOLD] = MB_CONFIG_KEY_DURATION_RANGE("CRITICAL_HOLD", T, critical_hold_ms,
                                                       MB_DURATION_MS, 1, 3600000),
    [MBW_RESEND_INTERVAL] = MB_CONFIG_KEY_DURATION_RANGE("RESEND_INTERVAL", T, resend_interval_ms,
                                                         MB_DURATION_MS, 0, 3600000),
    [MBW_BROKER_TIMEOUT] = MB_CONFIG_KEY_DURATION_RANGE("BROKER_TIMEOUT", T, broker_timeout_ms,
                                                        MB_DURATION_MS, 1, 60000),
    [MBW_MLOCK] = MB_CONFIG_KEY_BOOL("MLOCK", T, mlock),
    [MBW_REALTIME_PRIORITY] = MB_CONFIG_KEY_U64_RANGE("REALTIME_PRIORITY", T, realtime_priority,
                                                      0, 99),
    [MBW_DUMP_DIR] = MB_CONFIG_KEY_STRING("DUMP_DIR", T, dump_dir),
    [MBW_DUMP_KEEP] = MB_CONFIG_KEY_U64_RANGE("DUMP_KEEP", T, dump_keep, 1, 1000),
    [MBW_EVIDENCE] = MB_CONFIG_KEY_BOOL("EVIDENCE", T, evidence),
    [MBW_EVIDENCE_KMSG] = MB_CONFIG_KEY_BOOL("EVIDENCE_KMSG", T, evidence_kmsg),
    [MBW_EVIDENCE_PSI] = MB_CONFIG_KEY_BOOL("EVIDENCE_PSI", T, evidence_psi),
    [MBW_EVIDENCE_INTERVAL] = MB_CONFIG_KEY_DURATION_RANGE("EVIDENCE_INTERVAL", T,
                                                           evidence_interval_ms, MB_DURATION_S, 0,
                                                           86400000),
    [MBW_OOM_HOLD] = MB_CONFIG_KEY_BOOL("OOM_HOLD", T, oom_hold),
    [MBW_OOM_POLICY] = MB_CONFIG_KEY_STRING("OOM_POLICY", T, oom_policy),
    [MBW_OOM_RAISE] = MB_CONFIG_KEY_SIZE("OOM_RAISE", T, oom_raise, 0),
    [MBW_LAMB_SIZE] = MB_CONFIG_KEY_SIZE("LAMB_SIZE", T, lamb_size, 0),
    [MBW_LAMB_CGROUP] = MB_CONFIG_KEY_STRING("LAMB_CGROUP", T, lamb_cgroup),
    [MBW_LAMB_FREEZE] = MB_CONFIG_KEY_STRING("LAMB_FREEZE", T, lamb_freeze),
    [MBW_LOG_LEVEL] = MB_CONFIG_KEY_STRING("LOG_LEVEL", T, log_level),
};
const struct mb_config_schema mbw_config_schema = MB_CONFIG_SCHEMA(mbw_keys, T, present, "MBWATCH_");
#undef T

void mbw_config_defaults(struct mbw_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->psi = true;
    cfg->cgroup_psi = true;
    cfg->psi_moderate_stall_ms = 100;
    cfg->psi_critical_stall_ms = 300;
    cfg->psi_window_ms = 2000;
    snprintf(cfg->v1_moderate_level, sizeof cfg->v1_moderate_level, "medium");
    snprintf(cfg->v1_critical_level, sizeof cfg->v1_critical_level, "critical");
    cfg->usage_hysteresis = (struct mb_size){.unit = MB_SIZE_PERCENT, .amount = 500};
    cfg->oom_events = true;
    cfg->moderate_hold_ms = 5000;
    cfg->critical_hold_ms = 2000;
    cfg->resend_interval_ms = 1000;
    cfg->broker_timeout_ms = 200;
    cfg->mlock = true;
    cfg->realtime_priority = 10;
    snprintf(cfg->dump_dir, sizeof cfg->dump_dir, "/var/lib/mbwatch");
    cfg->dump_keep = 8;
    cfg->evidence = true;
    cfg->evidence_kmsg = true;
    cfg->evidence_psi = false;
    cfg->evidence_interval_ms = 60000;
    snprintf(cfg->oom_policy, sizeof cfg->oom_policy, "kill");
    cfg->oom_raise = (struct mb_size){.unit = MB_SIZE_BYTES, .amount = 16u << 20};
    snprintf(cfg->log_level, sizeof cfg->log_level, "info");
}

int mbw_config_v1_level(const char *value)
{
    if (strcmp(value, "off") == 0)
        return -1;
    return mbw_v1_level_parse(value);
}

int mbw_config_log_level(const char *name)
{
    static const struct {
        const char *name;
        int level;
    } levels[] = {{"err", MB_LOG_ERR},       {"warning", MB_LOG_WARNING}, {"notice", MB_LOG_NOTICE},
                  {"info", MB_LOG_INFO},     {"debug", MB_LOG_DEBUG}};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (strcmp(name, levels[i].name) == 0)
            return levels[i].level;
    return -EINVAL;
}

static bool size_is_zero(const struct mb_size *s)
{
    return s->amount == 0 && !s->all_except;
}

int mbw_config_validate(const struct mbw_config *cfg, char *why, size_t why_len)
{
    const char *bad = NULL;
    if (mbw_config_v1_level(cfg->v1_moderate_level) == -EINVAL)
        bad = "V1_MODERATE_LEVEL must be low, medium, critical or off";
    else if (mbw_config_v1_level(cfg->v1_critical_level) == -EINVAL)
        bad = "V1_CRITICAL_LEVEL must be low, medium, critical or off";
    else if (mb_oom_policy_parse(cfg->oom_policy, &(enum mb_oom_policy){0}) < 0)
        bad = "OOM_POLICY must be raise-limit or kill";
    else if (cfg->oom_hold && cfg->oom_raise.amount == 0 &&
             strcmp(cfg->oom_policy, "raise-limit") == 0)
        bad = "OOM_RAISE must not be 0 with OOM_POLICY raise-limit";
    else if (cfg->lamb_cgroup[0] != '\0' && cfg->lamb_cgroup[0] != '/')
        bad = "LAMB_CGROUP must be an absolute directory path";
    else if (cfg->lamb_freeze[0] != '\0' && cfg->lamb_freeze[0] != '/')
        bad = "LAMB_FREEZE must be an absolute directory path";
    else if (mbw_config_log_level(cfg->log_level) < 0)
        bad = "LOG_LEVEL must be err, warning, notice, info or debug";
    else if (cfg->psi_moderate_stall_ms > cfg->psi_window_ms ||
             cfg->psi_critical_stall_ms > cfg->psi_window_ms)
        bad = "PSI_MODERATE_STALL and PSI_CRITICAL_STALL must not exceed PSI_WINDOW";
    else if (!size_is_zero(&cfg->usage_moderate) && !size_is_zero(&cfg->usage_critical) &&
             cfg->usage_moderate.unit == cfg->usage_critical.unit &&
             cfg->usage_moderate.amount >= cfg->usage_critical.amount)
        bad = "USAGE_MODERATE must be below USAGE_CRITICAL";
    else if (cfg->cgroup_count == 0 && !size_is_zero(&cfg->usage_moderate))
        bad = "USAGE_MODERATE needs a CGROUP";
    else if (cfg->cgroup_count == 0 && !size_is_zero(&cfg->usage_critical))
        bad = "USAGE_CRITICAL needs a CGROUP";
    for (size_t i = 0; bad == NULL && i < cfg->cgroup_count; i++)
        if (cfg->cgroups[i][0] != '/')
            bad = "CGROUP must be an absolute directory path";
    if (bad == NULL)
        return 0;
    snprintf(why, why_len, "%s", bad);
    return -EINVAL;
}

int mbw_config_usage_bytes(const struct mb_size *size, uint64_t page_size, uint64_t limit_bytes,
                           uint64_t *bytes)
{
    if (size->unit == MB_SIZE_PERCENT && limit_bytes >= (UINT64_C(1) << 62))
        return -EINVAL; /* a share of "no limit" means nothing */
    return mb_size_resolve(size, page_size, limit_bytes, bytes);
}
