/* lamb.h: the sacrificial lamb.
 *
 * A lamb is a child process with oom_score_adj 1000 that holds `bytes` of
 * touched anonymous memory and does nothing else. When memory runs out the
 * kernel kills it first (its badness is the highest possible), the memory
 * it frees gives the system room, and the watcher uses that room to
 * collect evidence while everything else still works; then it starts a new
 * lamb once there is room for one again.
 *
 * The lamb is started with fork(2), then either runs the lamb body in the
 * child directly (exec_path NULL: only async-signal-safe calls, so a
 * threaded parent is fine) or execs a program in lamb mode (exec_path set,
 * e.g. the mbwatch binary itself: argv is
 *     <exec_path> --mb-lamb <bytes> <ready fd>
 * and that program calls mb_lamb_main_from_args early in main()). Either
 * way the child moves itself into `memory_cgroup` (when set), raises its
 * oom_score_adj, touches its memory, then writes one byte to the ready
 * pipe; mb_lamb_start waits for it, so a started lamb holds its memory.
 * The child dies with its parent (PR_SET_PDEATHSIG SIGKILL).
 *
 * The parent watches it with a pidfd (pollable, POLLIN on exit) where the
 * kernel has pidfd_open (5.3+), else on SIGCHLD; either way mb_lamb_reap
 * collects the exit without blocking.
 */
#ifndef MB_WATCH_LAMB_H
#define MB_WATCH_LAMB_H

#include "watch/evidence.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MB_LAMB_ARG "--mb-lamb"

struct mb_lamb_options {
    uint64_t bytes;             /* memory held; required (>= one page) */
    int oom_score_adj;          /* 0: 1000 (the most a process can have) */
    const char *exec_path;      /* NULL: no exec (see above) */
    const char *memory_cgroup;  /* full cgroup directory to put the lamb in, or NULL */
    const char *root;           /* prefix of /proc and the cgroup path; NULL: live */
    uint32_t ready_timeout_ms;  /* 0: 10000 */
};

struct mb_lamb {
    struct mb_lamb_options options; /* strings are the caller's: keep them alive */
    pid_t pid;          /* the live lamb, or 0 */
    int pidfd;          /* pollable exit notification, or -1 (use SIGCHLD) */
    uint64_t generation;/* lambs started so far */
    uint64_t deaths;    /* lambs reaped so far */
};

/* How a lamb ended. */
struct mb_lamb_exit {
    pid_t pid;
    uint64_t generation;
    bool signaled;      /* killed by a signal (else exited) */
    int signal;         /* the signal (SIGKILL for the OOM killer) */
    int status;         /* exit status when !signaled */
};

/* Copies the options (not the strings) and clears the state. Returns 0 or
 * -EINVAL (bytes below a page, oom_score_adj out of -1000..1000). */
int mb_lamb_init(struct mb_lamb *lamb, const struct mb_lamb_options *options);

/* Starts a lamb (when none is live) and waits until it holds its memory.
 * Returns 0, -EALREADY (one is live), -ETIMEDOUT (not ready in time: it is
 * killed and reaped), -ECHILD (it died before it was ready, e.g. killed
 * straight away for lack of memory, or could not join the cgroup), or the
 * negative errno of pipe/fork. Blocks up to ready_timeout_ms. */
int mb_lamb_start(struct mb_lamb *lamb);

/* The descriptor to poll for the lamb's exit, or -1 (no pidfd, or no
 * lamb): then wait for SIGCHLD and call mb_lamb_reap. */
int mb_lamb_fd(const struct mb_lamb *lamb);

/* Collects a finished lamb without blocking. Returns 1 with *out filled
 * when it ended, 0 while it lives (or when there is none), or a negative
 * errno of waitid(2). */
int mb_lamb_reap(struct mb_lamb *lamb, struct mb_lamb_exit *out);

/* Kills the live lamb (SIGKILL) and reaps it. Safe without one. Blocks
 * until it is reaped. */
void mb_lamb_stop(struct mb_lamb *lamb);

/* Stops the lamb and closes the pidfd. */
void mb_lamb_deinit(struct mb_lamb *lamb);

/* Whether a new lamb fits now: with memory_cgroup set, when the group's
 * memory.limit_in_bytes minus memory.usage_in_bytes is at least `bytes`
 * plus `margin`; without, when MemAvailable is. Starting a lamb without
 * room only gets it killed at once (and logs another OOM). Returns 1
 * (room), 0 (no room), or a negative errno reading the files. Does not
 * block. */
int mb_lamb_room(const struct mb_lamb *lamb, uint64_t margin);

/* What to do when the lamb died. */
struct mb_lamb_response {
    struct mb_evidence *evidence; /* NULL: no evidence */
    /* Optional: a reader of /dev/kmsg opened before the lamb died and its
     * OOM log. A lamb killed by SIGKILL is looked for in "Killed process
     * <pid>" lines for up to kmsg_wait_ms (0: 1000) before the evidence is
     * taken (the kernel prints that line just after sending the signal),
     * so the dump's kmsg holds the kill. */
    struct mb_kmsg_reader *kmsg_reader;
    struct mb_kmsg_oom_log *kmsg_log;
    uint32_t kmsg_wait_ms;
    const char *freeze_group;     /* v1 freezer group directory frozen during collection, or NULL */
    const char *root;             /* prefix for the freezer path; NULL: live */
    uint32_t freeze_timeout_ms;   /* 0: 2000 */
    bool restart;                 /* start a new lamb afterwards */
};

/* What mb_lamb_handle_death did. */
struct mb_lamb_outcome {
    struct mb_lamb_exit exit;
    bool oom_killed;        /* died by SIGKILL (the OOM killer's signal) */
    bool kmsg_confirmed;    /* its "Killed process" line was seen (kmsg_reader given) */
    int evidence_rc;        /* mb_evidence_collect's result (1 when not asked) */
    int freeze_rc;          /* mb_cgroup_freeze's result (1 when not asked) */
    int thaw_rc;            /* thawing again (1 when not asked) */
    int restart_rc;         /* mb_lamb_start's result (1 when not asked) */
};

/* Call when the pidfd polls readable or on SIGCHLD: reaps the lamb; if it
 * ended, waits for its kill in the kernel log (when a reader is given),
 * freezes the group (when set), collects evidence with trigger
 * kind "lamb-killed" (or "lamb-exited" when it was not SIGKILL), thaws,
 * and starts a new lamb when `restart` (the new one may fail for lack of
 * room: outcome->restart_rc says so; call mb_lamb_start again later).
 * Returns 1 when the lamb had ended, 0 when it still lives, or a negative
 * errno from mb_lamb_reap. Blocks for the collection and the new lamb's
 * start. */
int mb_lamb_handle_death(struct mb_lamb *lamb, const struct mb_lamb_response *response,
                         struct mb_lamb_outcome *outcome);

/* The lamb body: joins memory_cgroup if given (root-prefixed path),
 * raises oom_score_adj, maps and touches `bytes`, writes one byte to
 * ready_fd (when >= 0), then sleeps until killed. Uses only
 * async-signal-safe calls. Returns only on failure, with the exit status
 * to use (2: cgroup, 3: oom_score_adj, 4: memory). */
int mb_lamb_body(uint64_t bytes, int oom_score_adj, const char *root, const char *memory_cgroup,
                 int ready_fd);

/* For programs that can be a lamb: when argv[1] is MB_LAMB_ARG, runs the
 * lamb ("--mb-lamb <bytes> <ready fd> [<oom_score_adj> [<cgroup>]]") and
 * never returns (exits with mb_lamb_body's status, or 64 for bad
 * arguments). Otherwise returns at once. Call it first thing in main(). */
void mb_lamb_main_from_args(int argc, char **argv);

#endif
