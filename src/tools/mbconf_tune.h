/* mbconf_tune.h: the decisions of `mbconf tune`, kept pure so they can be
 * tested with exact figures.
 *
 * The seed's tuning loop: give clients more and more of the device until it
 * starts to suffer, then back off. `mbconf tune` plays the clients: a load
 * process holds `candidate` bytes of anonymous memory (clients holding their
 * whole quota) while it keeps reading a working set of file pages (the page
 * cache the device needs: program text, libraries, data). As long as both
 * fit, the window is quiet. When they stop fitting the kernel evicts the
 * working set and the load stalls on major faults and in reclaim (PSI), or
 * the OOM killer ends it. The recommended TOTAL is the last quiet candidate
 * less a safety margin.
 *
 * Nothing here touches the system; src/tools/mbconf_tune_run.c does.
 */
#ifndef MB_TOOLS_MBCONF_TUNE_H
#define MB_TOOLS_MBCONF_TUNE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What counts as pressure during one window. */
struct mbconf_tune_limits {
    /* Stall time ("some" line of PSI) per thousand of the window. Default 50
     * (the load's memory stalls took 5% of its time). 0 disables. */
    uint32_t psi_some_permille;
    /* Major faults per second. Default 50. 0 disables. */
    uint32_t majfaults_per_second;
};

#define MBCONF_TUNE_DEFAULT_PSI_PERMILLE 50u
#define MBCONF_TUNE_DEFAULT_MAJFAULT_RATE 50u

/* What one window measured. Counters are deltas over the window. */
struct mbconf_tune_sample {
    uint64_t candidate;  /* bytes of anonymous memory the load held */
    uint64_t window_us;  /* length of the window */
    bool have_psi;       /* psi_* below were measured */
    uint64_t psi_some_us;
    uint64_t psi_full_us;
    bool have_majfaults;
    uint64_t majfaults;
    bool load_killed;    /* the load died (the OOM killer) during the step */
};

/* Reasons a window counts as pressure (a bit mask; 0 means quiet). */
enum mbconf_tune_reason {
    MBCONF_TUNE_PSI = 1u << 0,
    MBCONF_TUNE_MAJFAULTS = 1u << 1,
    MBCONF_TUNE_KILLED = 1u << 2,
};

/* The reasons the sample shows pressure under the limits; 0 when quiet.
 * A window of length 0 counts only a killed load. */
unsigned mbconf_tune_judge(const struct mbconf_tune_limits *limits,
                           const struct mbconf_tune_sample *sample);

/* The candidates, in bytes. Every candidate and the recommendation are
 * multiples of `granule`. */
struct mbconf_tune_plan {
    uint64_t start;          /* first candidate */
    uint64_t step;           /* added per step */
    uint64_t max;            /* no candidate above this */
    uint32_t margin_percent; /* taken off the last quiet candidate */
    uint64_t granule;        /* MBCONF_TOTAL_GRANULE: 64 KiB */
};

/* Checks the plan: start, step and granule non-zero, start <= max,
 * margin below 100. Returns 0, or -EINVAL with a reason in why. */
int mbconf_tune_plan_check(const struct mbconf_tune_plan *plan, char *why, size_t why_size);

/* The first candidate: start rounded down to the granule (at least one
 * granule). */
uint64_t mbconf_tune_first(const struct mbconf_tune_plan *plan);

/* The candidate after `current`, or 0 when it would pass max (or overflow). */
uint64_t mbconf_tune_next(const struct mbconf_tune_plan *plan, uint64_t current);

/* The recommended TOTAL from the last quiet candidate: that less the
 * margin, rounded down to the granule. Returns 0, or -ENODATA when no
 * candidate was quiet (last_quiet 0) or the margin leaves nothing. */
int mbconf_tune_recommend(const struct mbconf_tune_plan *plan, uint64_t last_quiet,
                          uint64_t *total);

/* Rewrites an mbserver config held in in[0..in_len): the first line whose
 * first word is TOTAL becomes "TOTAL <total/1024>K", preceded by `comment`
 * ('\n'-separated lines, each written as "# mbconf tune: <line>"; may be
 * NULL). Comment lines that start with "# mbconf tune" directly above the
 * old TOTAL line (an earlier run's) are dropped. Without a TOTAL line, the comment and the line are
 * appended. Everything else is kept byte for byte. Writes out[0..cap) and
 * *out_len (no NUL). Returns 0, or -EFBIG when cap is too small. */
int mbconf_tune_rewrite_total(const char *in, size_t in_len, uint64_t total, const char *comment,
                              char *out, size_t cap, size_t *out_len);

#endif
