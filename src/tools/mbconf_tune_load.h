/* mbconf_tune_load.h: the load process of `mbconf tune`.
 *
 * A child process that plays the broker's clients: it holds a given amount
 * of touched anonymous memory and, between commands, keeps reading every
 * page of a working-set file (the page cache a device needs). It runs with
 * oom_score_adj 1000, so when the candidate does not fit it is the OOM
 * killer's first choice, and it can be placed in a memory cgroup before it
 * allocates anything.
 */
#ifndef MB_TOOLS_MBCONF_TUNE_LOAD_H
#define MB_TOOLS_MBCONF_TUNE_LOAD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct mbconf_tune_load {
    pid_t pid;      /* 0: not running */
    int command_fd; /* parent -> child: uint64_t bytes to hold */
    int reply_fd;   /* child -> parent: one byte per command done */
    bool killed;    /* set by the parent when it saw the child die */
    int wait_status;
};

/* Creates the working-set file (ws_bytes of data, its page cache dropped so
 * the load's reads fault it in, and charge it, afresh) in `dir`, forks the
 * load and, when `procs_file` is not NULL, writes the child's pid into it
 * (a cgroup's cgroup.procs or tasks) before the child allocates. The load
 * can hold at most max_bytes. Returns 0, or a negative errno with a reason
 * in why. The file is unlinked before this returns. */
int mbconf_tune_load_start(struct mbconf_tune_load *load, const char *dir, uint64_t ws_bytes,
                           uint64_t max_bytes, const char *procs_file, char *why,
                           size_t why_size);

/* Asks the load to hold `bytes` (it only grows) and waits up to timeout_ms
 * until every page is touched. Returns 0; -ECHILD when the load died (then
 * load->killed is set and load->wait_status holds its status); -ETIMEDOUT. */
int mbconf_tune_load_hold(struct mbconf_tune_load *load, uint64_t bytes, unsigned timeout_ms);

/* True when the load is still alive (reaps it and sets killed otherwise). */
bool mbconf_tune_load_alive(struct mbconf_tune_load *load);

/* Kills and reaps the load, closes the pipes. Safe on a stopped or zeroed
 * load. */
void mbconf_tune_load_stop(struct mbconf_tune_load *load);

#endif
