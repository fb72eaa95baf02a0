/* watch_config.h: mbwatch's settings: one table of keys (docs/config.md,
 * "mbwatch"), read from /etc/membroker/mbwatch.conf and overridden by
 * MBWATCH_<KEY> environment variables. */
#ifndef MB_WATCH_WATCH_CONFIG_H
#define MB_WATCH_WATCH_CONFIG_H

#include "common/config.h"
#include "watch/pressure_source.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MBW_DEFAULT_CONFIG "/etc/membroker/mbwatch.conf"
#define MBW_MAX_CGROUPS 4u

enum mbw_config_key {
    MBW_SOCKET,
    MBW_CGROUP,
    MBW_PSI,
    MBW_CGROUP_PSI,
    MBW_PSI_MODERATE_STALL,
    MBW_PSI_CRITICAL_STALL,
    MBW_PSI_WINDOW,
    MBW_V1_MODERATE_LEVEL,
    MBW_V1_CRITICAL_LEVEL,
    MBW_USAGE_MODERATE,
    MBW_USAGE_CRITICAL,
    MBW_USAGE_HYSTERESIS,
    MBW_OOM_EVENTS,
    MBW_MODERATE_HOLD,
    MBW_CRITICAL_HOLD,
    MBW_RESEND_INTERVAL,
    MBW_BROKER_TIMEOUT,
    MBW_MLOCK,
    MBW_REALTIME_PRIORITY,
    MBW_DUMP_DIR,
    MBW_DUMP_KEEP,
    MBW_EVIDENCE,
    MBW_EVIDENCE_KMSG,
    MBW_EVIDENCE_PSI,
    MBW_EVIDENCE_INTERVAL,
    MBW_OOM_HOLD,
    MBW_OOM_POLICY,
    MBW_OOM_RAISE,
    MBW_LAMB_SIZE,
    MBW_LAMB_CGROUP,
    MBW_LAMB_FREEZE,
    MBW_LOG_LEVEL,
    MBW_KEY_COUNT
};

struct mbw_config {
    char socket[108];                        /* "": MEMBROKER_SOCKET or the default */
    char cgroups[MBW_MAX_CGROUPS][MBW_PATH_MAX]; /* group directories watched */
    size_t cgroup_count;
    bool psi;                                /* triggers on /proc/pressure/memory */
    bool cgroup_psi;                         /* triggers on each group's memory.pressure */
    uint64_t psi_moderate_stall_ms;          /* "some" stall per window; 0: off */
    uint64_t psi_critical_stall_ms;          /* "full" stall per window; 0: off */
    uint64_t psi_window_ms;
    char v1_moderate_level[16];              /* low, medium, critical or off */
    char v1_critical_level[16];
    struct mb_size usage_moderate;           /* bytes or % of the group's limit; 0: off */
    struct mb_size usage_critical;
    struct mb_size usage_hysteresis;
    bool oom_events;                         /* v1 oom_control, v2 oom counters */
    uint64_t moderate_hold_ms;
    uint64_t critical_hold_ms;
    uint64_t resend_interval_ms;             /* 0: send only changes */
    uint64_t broker_timeout_ms;
    bool mlock;
    uint64_t realtime_priority;              /* SCHED_FIFO priority; 0: normal scheduling */
    char dump_dir[MBW_PATH_MAX];             /* OOM evidence */
    uint64_t dump_keep;                      /* dumps kept in dump_dir */
    bool evidence;                           /* collect on OOM events */
    bool evidence_kmsg;                      /* ... also on OOM kills in /dev/kmsg */
    bool evidence_psi;                       /* ... also when PSI turns critical */
    uint64_t evidence_interval_ms;           /* at most one automatic dump per interval */
    bool oom_hold;                           /* v1: hold a group's OOM during evidence */
    char oom_policy[16];                     /* then: raise-limit or kill */
    struct mb_size oom_raise;                /* raise-limit step */
    struct mb_size lamb_size;                /* sacrificial lamb; 0: none */
    char lamb_cgroup[MBW_PATH_MAX];          /* memory cgroup the lamb joins ("": ours) */
    char lamb_freeze[MBW_PATH_MAX];          /* freezer group frozen while its death is examined */
    char log_level[16];
    bool present[MBW_KEY_COUNT];
};

extern const struct mb_config_schema mbw_config_schema;

/* The documented defaults. */
void mbw_config_defaults(struct mbw_config *cfg);

/* Checks what the parser cannot: level names, moderate below critical,
 * stalls within the window. Returns 0 or -EINVAL with a sentence in
 * why[0..why_len). */
int mbw_config_validate(const struct mbw_config *cfg, char *why, size_t why_len);

/* A v1 level key's value: enum mbw_v1_level, or -1 for "off". Valid after
 * mbw_config_validate. */
int mbw_config_v1_level(const char *value);

/* A log level name (err, warning, notice, info, debug) as enum
 * mb_log_level, or -EINVAL. */
int mbw_config_log_level(const char *name);

/* Resolves a usage key against the group's limit (for percentages).
 * Returns 0 or -EINVAL (a percentage of an unlimited group) / -ERANGE. */
int mbw_config_usage_bytes(const struct mb_size *size, uint64_t page_size, uint64_t limit_bytes,
                           uint64_t *bytes);

#endif
