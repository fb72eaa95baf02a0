/* watch_sources.c: see watch_sources.h. */
#include "watch/watch_sources.h"

#include "common/log.h"
#include "membroker/protocol.h"
#include "watch/pressure_source_parse.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void note_open(struct mbw_sources *set, int rc, const char *what, const char *hint)
{
    if (rc == 0) {
        char desc[MBW_PATH_MAX + 96];
        mbw_source_describe(&set->src[set->count], desc, sizeof desc);
        mb_log(MB_LOG_INFO, "watching %s", desc);
        set->count++;
        return;
    }
    set->failed++;
    mb_log(MB_LOG_WARNING, "cannot watch %s: %s%s", what, strerror(-rc), hint);
}

static struct mbw_source *next_slot(struct mbw_sources *set)
{
    return set->count < MBW_MAX_SOURCES ? &set->src[set->count] : NULL;
}

static const char psi_window_hint[] =
    " (without CAP_SYS_RESOURCE the kernel takes only PSI windows in multiples of 2 s)";

static void open_psi_pair(struct mbw_sources *set, const struct mbw_config *cfg, const char *file)
{
    struct {
        uint64_t stall_ms;
        bool full;
        uint8_t level;
    } triggers[2] = {{cfg->psi_moderate_stall_ms, false, MB_PRESSURE_MODERATE},
                     {cfg->psi_critical_stall_ms, true, MB_PRESSURE_CRITICAL}};
    for (size_t i = 0; i < 2; i++) {
        struct mbw_source *s = next_slot(set);
        if (triggers[i].stall_ms == 0 || s == NULL)
            continue;
        int rc = mbw_source_open_psi(s, file, triggers[i].full, triggers[i].stall_ms * 1000u,
                                     cfg->psi_window_ms * 1000u, triggers[i].level);
        note_open(set, rc, file, rc == -EINVAL ? psi_window_hint : "");
    }
}

static int open_group(struct mbw_sources *set, const struct mbw_config *cfg, const char *dir)
{
    struct mbw_cgroup_features f;
    int rc = mbw_detect_cgroup(dir, &f);
    if (rc < 0) {
        mb_log(MB_LOG_ERR, "CGROUP %s: %s", dir,
               rc == -ENOTSUP ? "offers no memory pressure interface" : strerror(-rc));
        return rc;
    }
    char path[MBW_PATH_MAX + 32];
    if (cfg->cgroup_psi && f.psi) {
        snprintf(path, sizeof path, "%s/memory.pressure", dir);
        open_psi_pair(set, cfg, path);
    }
    int levels[2] = {mbw_config_v1_level(cfg->v1_moderate_level),
                     mbw_config_v1_level(cfg->v1_critical_level)};
    for (size_t i = 0; i < 2 && f.v1_pressure_level; i++) {
        struct mbw_source *s = next_slot(set);
        if (levels[i] < 0 || s == NULL)
            continue;
        rc = mbw_source_open_v1_level(s, dir, levels[i],
                                      i == 0 ? MB_PRESSURE_MODERATE : MB_PRESSURE_CRITICAL);
        note_open(set, rc, dir, " (memory.pressure_level)");
    }
    uint64_t moderate = 0, critical = 0, hysteresis = 0;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    bool usage_wanted = cfg->usage_moderate.amount != 0 || cfg->usage_critical.amount != 0;
    if (usage_wanted && f.v1_usage) {
        if (mbw_config_usage_bytes(&cfg->usage_moderate, page, f.limit, &moderate) < 0 ||
            mbw_config_usage_bytes(&cfg->usage_critical, page, f.limit, &critical) < 0 ||
            mbw_config_usage_bytes(&cfg->usage_hysteresis, page, f.limit, &hysteresis) < 0) {
            mb_log(MB_LOG_ERR, "CGROUP %s: usage thresholds in %% need a memory limit on the group",
                   dir);
            return -EINVAL;
        }
        struct mbw_source *s = next_slot(set);
        if (s != NULL) {
            rc = mbw_source_open_v1_usage(s, dir, moderate, critical, hysteresis);
            note_open(set, rc, dir, " (memory.usage_in_bytes thresholds)");
        }
    } else if (usage_wanted) {
        mb_log(MB_LOG_WARNING, "CGROUP %s: usage thresholds need cgroup v1; ignored", dir);
    }
    if (cfg->oom_events && !cfg->oom_hold && f.v1_oom) { /* held groups: mbwatch.c */
        struct mbw_source *s = next_slot(set);
        if (s != NULL) {
            rc = mbw_source_open_v1_oom(s, dir);
            note_open(set, rc, dir, " (memory.oom_control)");
        }
    }
    if (f.v2_events) {
        struct mbw_source *s = next_slot(set);
        if (s != NULL) {
            rc = mbw_source_open_v2_events(s, dir);
            note_open(set, rc, dir, " (memory.events)");
        }
    }
    return 0;
}

int mbw_sources_open(struct mbw_sources *set, const struct mbw_config *cfg,
                     const struct mbw_kernel_features *k)
{
    memset(set, 0, sizeof *set);
    if (cfg->psi && k->psi)
        open_psi_pair(set, cfg, "/proc/pressure/memory");
    else if (cfg->psi)
        mb_log(MB_LOG_NOTICE, "the kernel has no memory PSI (/proc/pressure/memory)");
    for (size_t i = 0; i < cfg->cgroup_count; i++) {
        int rc = open_group(set, cfg, cfg->cgroups[i]);
        if (rc < 0) {
            mbw_sources_close(set);
            return rc;
        }
    }
    return (int)set->count;
}

void mbw_sources_close(struct mbw_sources *set)
{
    for (size_t i = 0; i < set->count; i++)
        mbw_source_close(&set->src[i]);
    set->count = 0;
}
