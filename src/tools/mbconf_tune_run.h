/* mbconf_tune_run.h: `mbconf tune`, the live loop.
 *
 * Measures where a device (or one memory cgroup, which stands for a smaller
 * device) starts to suffer: the load (mbconf_tune_load.h) holds candidate
 * after candidate, each for one window, while PSI and major faults are
 * sampled; the first window that shows pressure (mbconf_tune_judge) ends
 * the run, and the last quiet candidate less the margin is the recommended
 * TOTAL. Bounded in time (timeout) and memory (max plus the working set);
 * SIGINT or SIGTERM stop it cleanly, without writing anything.
 */
#ifndef MB_TOOLS_MBCONF_TUNE_RUN_H
#define MB_TOOLS_MBCONF_TUNE_RUN_H

#include "common/config_value.h"
#include "tools/mbconf_tune.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct mbconf_tune_options {
    /* A memory cgroup directory (v1 memory controller or v2) the load runs
     * in; its limit is the capacity. NULL: the whole device, capacity
     * MemTotal. */
    const char *cgroup;
    /* Where the working-set file is made: must be a disk filesystem (a
     * tmpfs file is not page cache the kernel can evict). */
    const char *workdir;
    /* An mbserver config to rewrite (its TOTAL line); NULL: print only. */
    const char *config;
    /* Sizes; percentages are of the capacity. */
    struct mb_size start, step, max, working_set;
    uint32_t margin_percent;
    unsigned window_ms;  /* one measuring window per candidate */
    unsigned timeout_s;  /* the whole run */
    struct mbconf_tune_limits limits;
};

/* The documented defaults: start 50%, step 5%, max 100%, working set 12.5%,
 * margin 10%, window 2 s, timeout 300 s, /var/tmp, limits as in
 * mbconf_tune.h. */
void mbconf_tune_options_init(struct mbconf_tune_options *opts);

/* Runs the loop, printing a line per candidate and the result to `out`,
 * errors to stderr. Returns the process exit status: 0 a recommendation was
 * made (and written), 1 none could be made or something failed, 130 when
 * stopped by a signal. */
int mbconf_tune_run(const struct mbconf_tune_options *opts, FILE *out);

#endif
