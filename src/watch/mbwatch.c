/* mbwatch: the kernel's memory pressure to mbserver, and OOM evidence.
 *
 * Opens every pressure source the config asks for and the kernel offers
 * (watch_sources.c), turns their events into one level with hysteresis
 * (pressure_level.c) and sends it to the broker as PRESSURE (watch_broker.c),
 * reconnecting when the broker restarts. OOM events (a memory cgroup's
 * oom_control or memory.events, an OOM kill in /dev/kmsg, optionally
 * critical PSI) trigger an evidence dump (evidence.h).
 *
 * Everything is set up before the loop: sources, broker client, evidence
 * buffers and the kmsg reader live in one static struct, the process is
 * mlocked and runs at real-time priority where allowed. The loop itself
 * allocates nothing. See docs/man/mbwatch.8.
 */
#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "membroker/client.h"
#include "membroker/protocol.h"
#include "watch/cgroup_events.h"
#include "watch/evidence.h"
#include "watch/kmsg.h"
#include "watch/lamb.h"
#include "watch/pressure_level.h"
#include "watch/pressure_source.h"
#include "watch/pressure_source_detect.h"
#include "watch/watch_broker.h"
#include "watch/watch_config.h"
#include "watch/watch_sources.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_OK = 0, EXIT_FAILURE_RUN = 1, EXIT_USAGE = 2 };

/* Poll slots: fixed ones, the held groups, then the sources. */
enum { SLOT_SIGNAL, SLOT_BROKER, SLOT_KMSG, SLOT_LAMB, SLOT_HELD };
#define SLOT_SOURCES (SLOT_HELD + MBW_MAX_CGROUPS)

/* How long after a lamb could not be started the next attempt is made. */
#define LAMB_RETRY_MS 5000u

/* How long a failed send waits before the next attempt when the broker's
 * descriptor says nothing (it also wakes the loop on each reconnect). */
#define BROKER_RETRY_MS 1000u

struct mbwatch {
    struct mbw_config cfg;
    char socket[108];
    struct mbw_kernel_features kernel;
    struct mbw_sources sources;
    struct mbw_level level;
    struct mbw_broker broker;
    struct mb_evidence evidence;
    bool evidence_ready;
    struct mb_kmsg_reader kmsg;
    bool kmsg_open;
    int signal_fd;
    /* OOM_HOLD: v1 groups whose OOMs wait for us (cgroup_events.h). */
    struct mb_cgroup_oom held[MBW_MAX_CGROUPS];
    size_t held_count;
    enum mb_oom_policy oom_policy;
    uint64_t oom_raise_bytes;
    /* LAMB_SIZE: the sacrificial lamb (lamb.h). */
    struct mb_lamb lamb;
    bool lamb_on;
    uint64_t lamb_retry_ns;
    struct pollfd pfds[SLOT_SOURCES + MBW_MAX_SOURCES];
    uint8_t logged_level;
    bool broker_warned;
    bool refused_logged;
    uint64_t broker_retry_ns;
    uint64_t last_evidence_ns;
    bool evidence_taken;
    /* An evidence dump asked for by this iteration, taken after the level
     * went out (the broker hears first, the dump may take a while). */
    bool evidence_due;
    char evidence_kind[32];
    char evidence_detail[160];
    char evidence_cgroup[MBW_PATH_MAX];
    int64_t evidence_pid;
    bool evidence_forced; /* manual (SIGUSR1): not rate-limited */
};

static struct mbwatch watch;

static void usage(FILE *to)
{
    fprintf(to,
            "usage: mbwatch [--config FILE] [--socket PATH] [--cgroup DIR]... [--log-level LEVEL]\n"
            "       mbwatch --check [options]   show what the kernel offers and what would be watched\n"
            "       mbwatch --once [options]    collect one evidence dump and exit\n"
            "\n"
            "  --config FILE      config file (default " MBW_DEFAULT_CONFIG " if present)\n"
            "  --socket PATH      mbserver's socket (default: MEMBROKER_SOCKET, else "
            MB_CLIENT_DEFAULT_SOCKET ")\n"
            "  --cgroup DIR       watch this memory cgroup (repeatable; replaces CGROUP)\n"
            "  --dump-dir DIR     where evidence dumps go (replaces DUMP_DIR)\n"
            "  --log-level LEVEL  err, warning, notice, info (default) or debug\n"
            "  --once             one evidence dump now (trigger \"manual\"); prints its path\n"
            "  --check            print the kernel's pressure interfaces and the sources, exit\n"
            "Environment: MBWATCH_<KEY> overrides a config key (docs/config.md).\n"
            "Signals: TERM/INT stop (level NONE is sent first), USR1 takes an evidence dump.\n");
}

/* ---- evidence ------------------------------------------------------------ */

static int evidence_init(struct mbwatch *w)
{
    struct mb_evidence_options o = {
        .dump_dir = w->cfg.dump_dir,
        .keep = (unsigned)w->cfg.dump_keep,
        .broker_socket = w->socket,
        .broker_timeout_ms = (uint32_t)w->cfg.broker_timeout_ms,
    };
    int rc = mb_evidence_init(&w->evidence, &o);
    if (rc < 0)
        return rc;
    w->evidence_ready = true;
    return 0;
}

static void evidence_request(struct mbwatch *w, const char *kind, const char *detail,
                             const char *cgroup, int64_t pid, bool forced)
{
    if (!w->evidence_ready || w->evidence_due)
        return;
    w->evidence_due = true;
    w->evidence_forced = forced;
    snprintf(w->evidence_kind, sizeof w->evidence_kind, "%s", kind);
    snprintf(w->evidence_detail, sizeof w->evidence_detail, "%s", detail);
    snprintf(w->evidence_cgroup, sizeof w->evidence_cgroup, "%s", cgroup ? cgroup : "");
    w->evidence_pid = pid;
}

static void evidence_run(struct mbwatch *w, uint64_t now)
{
    if (!w->evidence_due)
        return;
    w->evidence_due = false;
    uint64_t interval = mb_ms_to_ns(w->cfg.evidence_interval_ms);
    if (!w->evidence_forced && w->evidence_taken && now - w->last_evidence_ns < interval) {
        mb_log(MB_LOG_INFO, "%s: no evidence dump (the last one is younger than %" PRIu64 " s)",
               w->evidence_kind, w->cfg.evidence_interval_ms / 1000u);
        return;
    }
    struct mb_evidence_trigger t = {
        .kind = w->evidence_kind,
        .detail = w->evidence_detail,
        .cgroup = w->evidence_cgroup[0] ? w->evidence_cgroup : NULL,
        .pid = w->evidence_pid,
    };
    int rc = mb_evidence_collect(&w->evidence, &t);
    w->evidence_taken = true;
    w->last_evidence_ns = mb_clock_monotonic_ns();
    if (rc < 0)
        mb_log(MB_LOG_ERR, "%s: evidence dump failed: %s", w->evidence_kind, strerror(-rc));
    else
        mb_log(MB_LOG_NOTICE, "%s: evidence in %s", w->evidence_kind, w->evidence.last_dump);
}

/* ---- the level and the broker --------------------------------------------- */

static void send_level(struct mbwatch *w, uint64_t now)
{
    uint8_t level;
    if (!mbw_level_should_send(&w->level, now, &level))
        return;
    if (!w->broker.up && now < w->broker_retry_ns)
        return;
    bool change = !w->level.sent_valid || level != w->level.sent_level;
    bool was_up = w->broker.up;
    int rc = mbw_broker_send(&w->broker, level);
    if (rc == 0) {
        if (!was_up) /* the send itself reconnected */
            mb_log(MB_LOG_NOTICE, "connected to the broker");
        mbw_level_sent(&w->level, level, now);
        mb_log(change ? MB_LOG_NOTICE : MB_LOG_DEBUG, "broker told: pressure %s%s",
               mbw_level_name(level), change ? "" : " (again: a new give-back round)");
        w->broker_warned = false;
        return;
    }
    if (rc == MB_CLIENT_ERR(MB_ERR_NOT_PERMITTED)) {
        /* Retrying the same level cannot help; the next change tries again. */
        mbw_level_sent(&w->level, level, now);
        if (!w->refused_logged)
            mb_log(MB_LOG_ERR,
                   "the broker refuses PRESSURE from uid %u: run mbwatch as root or add the uid "
                   "to mbserver's PRIVILEGED_UIDS",
                   (unsigned)getuid());
        w->refused_logged = true;
        return;
    }
    mbw_level_forget_sent(&w->level);
    w->broker_retry_ns = now + mb_ms_to_ns(BROKER_RETRY_MS);
    if (!w->broker_warned)
        mb_log(MB_LOG_WARNING, "cannot tell the broker (pressure %s): %s; retrying",
               mbw_level_name(level), mb_client_strerror(rc));
    w->broker_warned = true;
}

static void on_broker(struct mbwatch *w)
{
    bool was_up = w->broker.up;
    int rc = mbw_broker_dispatch(&w->broker);
    if (rc == 1) {
        mb_log(MB_LOG_NOTICE, "connected to the broker");
        w->broker_warned = false;
        mbw_level_forget_sent(&w->level); /* a restarted broker starts at NONE */
    } else if (rc == -ENOTCONN && was_up) {
        mb_log(MB_LOG_WARNING, "the broker went away; reconnecting");
        mbw_level_forget_sent(&w->level);
    }
}

static void log_level_change(struct mbwatch *w, const char *why)
{
    if (w->level.level == w->logged_level)
        return;
    mb_log(MB_LOG_INFO, "pressure %s -> %s%s%s", mbw_level_name(w->logged_level),
           mbw_level_name(w->level.level), why[0] ? ": " : "", why);
    w->logged_level = w->level.level;
}

/* ---- sources --------------------------------------------------------------- */

static void on_source(struct mbwatch *w, size_t i, short revents, uint64_t now)
{
    struct mbw_source *s = &w->sources.src[i];
    struct mbw_pressure_event ev;
    uint64_t spurious = s->type == MBW_SOURCE_PSI ? s->u.psi.spurious : 0;
    int rc = mbw_source_handle(s, revents, now, &ev);
    char desc[MBW_PATH_MAX + 96];
    if (rc == 0 && s->type == MBW_SOURCE_PSI && s->u.psi.spurious != spurious)
        mb_log(MB_LOG_DEBUG, "%s: an event without its stall in the total: dropped (spurious)",
               mbw_source_describe(s, desc, sizeof desc));
    if (rc < 0) {
        mb_log(MB_LOG_WARNING, "%s: %s; no longer watched", mbw_source_describe(s, desc, sizeof desc),
               strerror(-rc));
        mbw_source_close(s);
        /* Its last state (usage) must not hold the level up for good: it
         * falls to none like usage going down, held as usual. */
        struct mbw_pressure_event gone = {
            .level = MB_PRESSURE_NONE, .kind = MBW_EVENT_STATE, .time_ns = now, .count = 1};
        uint8_t before = w->level.level;
        mbw_level_event(&w->level, i, &gone);
        if (w->level.level != before)
            log_level_change(w, "a source closed");
        return;
    }
    if (rc == 0)
        return;
    uint8_t before = w->level.level;
    mbw_level_event(&w->level, i, &ev);
    if (mb_log_enabled(MB_LOG_DEBUG))
        mb_log(MB_LOG_DEBUG, "%s: %s event x%" PRIu64 " (value %" PRIu64 ")",
               mbw_source_describe(s, desc, sizeof desc), mbw_level_name(ev.level), ev.count,
               ev.value);
    if (w->level.level != before)
        log_level_change(w, mbw_source_describe(s, desc, sizeof desc));
    /* A lamb in the group takes the OOM: its death gets the evidence. */
    bool lamb_here = w->lamb_on && strcmp(w->cfg.lamb_cgroup, s->path) == 0;
    if (ev.kind == MBW_EVENT_OOM && w->cfg.evidence && !lamb_here) {
        char detail[64];
        snprintf(detail, sizeof detail, "oom_kill counter %" PRIu64, ev.value);
        evidence_request(w, "cgroup-oom", detail, s->path, 0, false);
    } else if (s->type == MBW_SOURCE_PSI && ev.level == MB_PRESSURE_CRITICAL &&
               before < MB_PRESSURE_CRITICAL && w->cfg.evidence && w->cfg.evidence_psi) {
        evidence_request(w, "psi-critical", mbw_source_describe(s, desc, sizeof desc), NULL, 0,
                         false);
    }
}

static void on_kmsg(struct mbwatch *w, uint64_t now)
{
    struct mb_kmsg_record rec;
    for (;;) {
        int rc = mb_kmsg_read(&w->kmsg, &rec);
        if (rc == -EINVAL)
            continue;
        if (rc <= 0)
            break;
        if (mb_kmsg_classify(rec.text, rec.text_len) != MB_KMSG_OOM_KILLED)
            continue;
        /* The whole system ran out: as critical as it gets. A memory
         * cgroup's kill is that group's affair (a watched group reports
         * its own OOMs); it still gets evidence. */
        static const char memcg[] = "Memory cgroup out of memory";
        bool group_kill = rec.text_len >= sizeof memcg - 1 &&
                          memcmp(rec.text, memcg, sizeof memcg - 1) == 0;
        if (!group_kill) {
            struct mbw_pressure_event ev = {.level = MB_PRESSURE_CRITICAL,
                                            .kind = MBW_EVENT_OOM, .time_ns = now, .count = 1};
            uint8_t before = w->level.level;
            mbw_level_event(&w->level, MBW_LEVEL_MAX_SOURCES, &ev);
            if (w->level.level != before)
                log_level_change(w, "an OOM kill in the kernel log");
        }
        struct mb_kmsg_kill kill;
        int64_t pid = 0;
        if (mb_kmsg_parse_kill(rec.text, rec.text_len, &kill) == 0)
            pid = (int64_t)kill.pid;
        mb_log(MB_LOG_WARNING, "kernel: %.*s", (int)(rec.text_len > 200 ? 200 : rec.text_len),
               rec.text);
        bool lamb = w->lamb_on && pid != 0 && pid == (int64_t)w->lamb.pid;
        if (w->cfg.evidence && w->cfg.evidence_kmsg && !lamb) /* the lamb's death has its own */
            evidence_request(w, "kernel-oom-kill",
                             group_kill ? "memory cgroup OOM kill in /dev/kmsg"
                                        : "system OOM kill in /dev/kmsg",
                             NULL, pid, false);
    }
}

/* ---- OOM responses: held groups and the lamb ------------------------------- */

/* A held v1 group hit its limit: its tasks wait. Tell the broker (critical:
 * urgent give-back), take the evidence while nothing has died, then let the
 * group go by the configured policy. */
static void on_held_group(struct mbwatch *w, struct mb_cgroup_oom *g, uint64_t now)
{
    long n = mb_cgroup_oom_consume(g);
    if (n <= 0)
        return;
    struct mbw_pressure_event ev = {.level = MB_PRESSURE_CRITICAL, .kind = MBW_EVENT_OOM,
                                    .time_ns = now, .count = (uint64_t)n};
    uint8_t before = w->level.level;
    mbw_level_event(&w->level, MBW_LEVEL_MAX_SOURCES, &ev);
    if (w->level.level != before)
        log_level_change(w, "a held cgroup OOM");
    mb_log(MB_LOG_WARNING, "cgroup %s: out of memory, held", g->group);
    send_level(w, now);
    if (w->cfg.evidence) {
        evidence_request(w, "cgroup-oom", "held (oom_kill_disable=1)", g->group, 0, true);
        evidence_run(w, now);
    }
    struct mb_oom_resolution res;
    int rc = mb_cgroup_oom_resolve(g, w->oom_policy, w->oom_raise_bytes, &res);
    if (rc < 0)
        mb_log(MB_LOG_ERR, "cgroup %s: cannot resolve by %s: %s", g->group,
               mb_oom_policy_name(w->oom_policy), strerror(-rc));
    else if (res.policy == MB_OOM_POLICY_RAISE_LIMIT)
        mb_log(MB_LOG_NOTICE, "cgroup %s: limit raised from %" PRIu64 " to %" PRIu64 " bytes",
               g->group, res.old_limit, res.new_limit);
    else
        mb_log(MB_LOG_NOTICE, "cgroup %s: released to the OOM killer", g->group);
}

/* Free memory, beyond the lamb's own size, needed before a lamb starts: a
 * lamb started into a group that is still full is only killed at once. */
#define LAMB_ROOM_MARGIN ((uint64_t)16 << 20)

static void lamb_start(struct mbwatch *w, uint64_t now)
{
    int room = mb_lamb_room(&w->lamb, LAMB_ROOM_MARGIN);
    if (room == 0) {
        mb_log(MB_LOG_INFO, "no room for a lamb of %" PRIu64 " bytes yet; retrying in %u s",
               w->lamb.options.bytes, LAMB_RETRY_MS / 1000u);
        w->lamb_retry_ns = now + mb_ms_to_ns(LAMB_RETRY_MS);
        return;
    }
    int rc = mb_lamb_start(&w->lamb);
    if (rc == 0 || rc == -EALREADY) {
        mb_log(MB_LOG_INFO, "lamb %ld holds %" PRIu64 " bytes", (long)w->lamb.pid,
               w->lamb.options.bytes);
        w->lamb_retry_ns = 0;
        return;
    }
    mb_log(MB_LOG_WARNING, "cannot start a lamb: %s; retrying in %u s", strerror(-rc),
           LAMB_RETRY_MS / 1000u);
    w->lamb_retry_ns = now + mb_ms_to_ns(LAMB_RETRY_MS);
}

static void on_lamb(struct mbwatch *w, uint64_t now)
{
    struct mb_lamb_response resp = {
        .evidence = w->evidence_ready && w->cfg.evidence ? &w->evidence : NULL,
        .freeze_group = w->cfg.lamb_freeze[0] ? w->cfg.lamb_freeze : NULL,
        .restart = false, /* lamb_start below, once there is room */
    };
    struct mb_lamb_outcome out;
    int rc = mb_lamb_handle_death(&w->lamb, &resp, &out);
    if (rc <= 0) {
        if (rc < 0)
            mb_log(MB_LOG_ERR, "lamb: %s", strerror(-rc));
        return;
    }
    if (out.oom_killed) {
        /* The kernel ran out and took the lamb: the system is at its edge. */
        struct mbw_pressure_event ev = {.level = MB_PRESSURE_CRITICAL, .kind = MBW_EVENT_OOM,
                                        .time_ns = now, .count = 1};
        uint8_t before = w->level.level;
        mbw_level_event(&w->level, MBW_LEVEL_MAX_SOURCES, &ev);
        if (w->level.level != before)
            log_level_change(w, "the lamb was killed");
    }
    mb_log(MB_LOG_WARNING, "lamb %ld %s%s%s", (long)out.exit.pid,
           out.oom_killed ? "killed (SIGKILL)" : "ended",
           out.evidence_rc == 0 ? "; evidence in " : "",
           out.evidence_rc == 0 ? w->evidence.last_dump : "");
    if (out.evidence_rc == 0) {
        w->evidence_taken = true;
        w->last_evidence_ns = mb_clock_monotonic_ns();
    }
    lamb_start(w, now);
}

/* ---- the loop ------------------------------------------------------------- */

static int poll_timeout_ms(struct mbwatch *w, uint64_t now)
{
    uint64_t deadline = mbw_level_next_deadline(&w->level, now);
    if (!w->level.sent_valid && !w->broker.up && w->broker_retry_ns < deadline)
        deadline = w->broker_retry_ns;
    if (w->lamb_retry_ns != 0 && w->lamb_retry_ns < deadline)
        deadline = w->lamb_retry_ns;
    if (deadline == UINT64_MAX)
        return 60000;
    if (deadline <= now)
        return 0;
    uint64_t ms = mb_ns_to_ms_ceil(deadline - now);
    return ms > 60000 ? 60000 : (int)ms;
}

static int run(struct mbwatch *w)
{
    bool stop = false;
    while (!stop) {
        uint64_t now = mb_clock_monotonic_ns();
        uint8_t before = w->level.level;
        mbw_level_update(&w->level, now);
        if (w->level.level != before)
            log_level_change(w, "quiet");
        send_level(w, now);
        evidence_run(w, now);
        if (w->lamb_on && w->lamb_retry_ns != 0 && now >= w->lamb_retry_ns)
            lamb_start(w, now);

        struct pollfd *p = w->pfds;
        p[SLOT_SIGNAL] = (struct pollfd){.fd = w->signal_fd, .events = POLLIN};
        p[SLOT_BROKER] = (struct pollfd){.fd = mbw_broker_fd(&w->broker), .events = POLLIN};
        p[SLOT_KMSG] = (struct pollfd){.fd = w->kmsg_open ? w->kmsg.fd : -1, .events = POLLIN};
        p[SLOT_LAMB] = (struct pollfd){.fd = w->lamb_on ? mb_lamb_fd(&w->lamb) : -1,
                                       .events = POLLIN};
        for (size_t i = 0; i < MBW_MAX_CGROUPS; i++)
            p[SLOT_HELD + i] = (struct pollfd){
                .fd = i < w->held_count ? mb_cgroup_oom_fd(&w->held[i]) : -1, .events = POLLIN};
        for (size_t i = 0; i < w->sources.count; i++)
            p[SLOT_SOURCES + i] = (struct pollfd){.fd = w->sources.src[i].fd,
                                                  .events = w->sources.src[i].poll_events};
        int n = poll(p, SLOT_SOURCES + w->sources.count, poll_timeout_ms(w, now));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            mb_log(MB_LOG_ERR, "poll: %m");
            return -errno;
        }
        now = mb_clock_monotonic_ns();
        /* Sources first: the broker hears about pressure before anything slow. */
        for (size_t i = 0; i < w->sources.count; i++)
            if (p[SLOT_SOURCES + i].revents != 0 && w->sources.src[i].fd >= 0)
                on_source(w, i, p[SLOT_SOURCES + i].revents, now);
        for (size_t i = 0; i < w->held_count; i++)
            if (p[SLOT_HELD + i].revents & POLLIN)
                on_held_group(w, &w->held[i], now);
        if (p[SLOT_KMSG].revents & POLLIN)
            on_kmsg(w, now);
        if (p[SLOT_LAMB].revents & (POLLIN | POLLHUP))
            on_lamb(w, now);
        if (p[SLOT_BROKER].revents & POLLIN)
            on_broker(w);
        if (p[SLOT_SIGNAL].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(w->signal_fd, &si, sizeof si) == (ssize_t)sizeof si) {
                if (si.ssi_signo == SIGCHLD && w->lamb_on) {
                    on_lamb(w, now); /* no pidfd: the lamb's exit comes this way */
                } else if (si.ssi_signo == SIGUSR1) {
                    mb_log(MB_LOG_NOTICE, "SIGUSR1: evidence dump");
                    evidence_request(w, "manual", "SIGUSR1", NULL, 0, true);
                } else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
                    stop = true;
                }
            }
        }
    }
    /* Leaving: a watcher that is gone cannot say when pressure ends. */
    if (w->level.sent_valid && w->level.sent_level != MB_PRESSURE_NONE && w->broker.up &&
        mbw_broker_send(&w->broker, MB_PRESSURE_NONE) == 0)
        mb_log(MB_LOG_NOTICE, "broker told: pressure none (stopping)");
    return 0;
}

/* ---- set-up ---------------------------------------------------------------- */

static void lock_and_prioritise(const struct mbw_config *cfg)
{
    if (cfg->mlock && mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
        mb_log(MB_LOG_WARNING, "mlockall: %m; continuing unlocked");
    if (cfg->realtime_priority > 0) {
        struct sched_param sp = {.sched_priority = (int)cfg->realtime_priority};
        /* Children (the lamb) start at normal priority. */
        if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp) < 0)
            mb_log(MB_LOG_WARNING, "real-time priority %" PRIu64 ": %m; continuing at normal priority",
                   cfg->realtime_priority);
    }
}

static int signals_open(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void resolve_socket(struct mbwatch *w)
{
    const char *env = secure_getenv(MB_CLIENT_SOCKET_ENV);
    const char *s = w->cfg.socket[0] ? w->cfg.socket : env && env[0] ? env : MB_CLIENT_DEFAULT_SOCKET;
    snprintf(w->socket, sizeof w->socket, "%s", s);
}

static void print_check(const struct mbwatch *w)
{
    const struct mbw_kernel_features *k = &w->kernel;
    printf("psi: %s\n", k->psi ? "yes (/proc/pressure/memory)" : "no");
    printf("cgroup v1 memory: %s\n", k->v1_memory ? k->v1_root : "no");
    printf("cgroup v2: %s%s\n", k->v2 ? k->v2_root : "no",
           k->v2 ? (k->v2_memory ? " (memory controller)" : " (no memory controller)") : "");
    printf("broker socket: %s\n", w->socket);
    for (size_t i = 0; i < w->sources.count; i++) {
        char desc[MBW_PATH_MAX + 96];
        printf("source: %s\n", mbw_source_describe(&w->sources.src[i], desc, sizeof desc));
    }
    printf("sources: %zu opened, %zu failed\n", w->sources.count, w->sources.failed);
}

struct cli {
    const char *config;
    const char *socket;
    const char *dump_dir;
    const char *log_level;
    const char *cgroups[MBW_MAX_CGROUPS];
    size_t cgroup_count;
    bool once, check;
};

static int parse_cli(int argc, char **argv, struct cli *cli)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},   {"socket", required_argument, NULL, 's'},
        {"cgroup", required_argument, NULL, 'g'},   {"dump-dir", required_argument, NULL, 'd'},
        {"log-level", required_argument, NULL, 'l'}, {"once", no_argument, NULL, 'o'},
        {"check", no_argument, NULL, 'k'},          {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "c:s:g:d:l:hV", options, NULL)) != -1) {
        switch (opt) {
        case 'c': cli->config = optarg; break;
        case 's': cli->socket = optarg; break;
        case 'd': cli->dump_dir = optarg; break;
        case 'l': cli->log_level = optarg; break;
        case 'o': cli->once = true; break;
        case 'k': cli->check = true; break;
        case 'g':
            if (cli->cgroup_count == MBW_MAX_CGROUPS) {
                fprintf(stderr, "mbwatch: at most %u --cgroup\n", MBW_MAX_CGROUPS);
                return -EINVAL;
            }
            cli->cgroups[cli->cgroup_count++] = optarg;
            break;
        case 'h': usage(stdout); exit(EXIT_OK);
        case 'V': printf("mbwatch %s\n", MB_VERSION); exit(EXIT_OK);
        default: usage(stderr); return -EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mbwatch: unexpected argument \"%s\"\n", argv[optind]);
        return -EINVAL;
    }
    return 0;
}

static int copy_option(char *dst, size_t size, const char *value, const char *what)
{
    if (value == NULL)
        return -EINVAL;
    if (strlen(value) >= size) {
        fprintf(stderr, "mbwatch: %s: longer than %zu bytes\n", what, size - 1);
        return -ENAMETOOLONG;
    }
    snprintf(dst, size, "%s", value);
    return 0;
}

extern char **environ;

static int load_config(const struct cli *cli, struct mbw_config *cfg)
{
    static struct mbw_config scratch;
    mbw_config_defaults(cfg);
    const char *path = cli->config;
    if (path == NULL && access(MBW_DEFAULT_CONFIG, F_OK) == 0)
        path = MBW_DEFAULT_CONFIG;
    struct mb_config_error err;
    if (mb_config_load(&mbw_config_schema, path, environ, cfg, &scratch, &err) < 0) {
        char text[512];
        mb_config_error_format(&err, text, sizeof text);
        fprintf(stderr, "mbwatch: %s\n", text);
        return -EINVAL;
    }
    if ((cli->socket && copy_option(cfg->socket, sizeof cfg->socket, cli->socket, "--socket") < 0) ||
        (cli->dump_dir &&
         copy_option(cfg->dump_dir, sizeof cfg->dump_dir, cli->dump_dir, "--dump-dir") < 0) ||
        (cli->log_level &&
         copy_option(cfg->log_level, sizeof cfg->log_level, cli->log_level, "--log-level") < 0))
        return -EINVAL;
    if (cli->cgroup_count > 0) {
        cfg->cgroup_count = 0;
        for (size_t i = 0; i < cli->cgroup_count; i++)
            if (copy_option(cfg->cgroups[cfg->cgroup_count++], MBW_PATH_MAX, cli->cgroups[i],
                            "--cgroup") < 0)
                return -EINVAL;
    }
    char why[160];
    if (mbw_config_validate(cfg, why, sizeof why) < 0) {
        fprintf(stderr, "mbwatch: %s\n", why);
        return -EINVAL;
    }
    return 0;
}

/* OOM_HOLD groups and the lamb. Returns 0 or -1 (logged). */
static int oom_setup(struct mbwatch *w)
{
    const struct mbw_config *cfg = &w->cfg;
    (void)mb_oom_policy_parse(cfg->oom_policy, &w->oom_policy); /* validated */
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    if (mb_size_resolve(&cfg->oom_raise, page, 0, &w->oom_raise_bytes) < 0) {
        mb_log(MB_LOG_ERR, "OOM_RAISE: out of range");
        return -1;
    }
    for (size_t i = 0; cfg->oom_hold && i < cfg->cgroup_count; i++) {
        struct mbw_cgroup_features f;
        if (mbw_detect_cgroup(cfg->cgroups[i], &f) < 0 || !f.v1_oom)
            continue; /* v2 groups: the kernel has no hold */
        struct mb_cgroup_oom *g = &w->held[w->held_count];
        mb_cgroup_oom_init(g);
        int rc = mb_cgroup_oom_open(g, NULL, cfg->cgroups[i], true);
        if (rc < 0) {
            mb_log(MB_LOG_ERR, "OOM_HOLD %s: %s", cfg->cgroups[i], strerror(-rc));
            return -1;
        }
        w->held_count++;
        mb_log(MB_LOG_INFO, "holding OOMs of %s (then: %s)", cfg->cgroups[i],
               mb_oom_policy_name(w->oom_policy));
    }
    uint64_t lamb_bytes = 0;
    if (mb_size_resolve(&cfg->lamb_size, page, 0, &lamb_bytes) < 0) {
        mb_log(MB_LOG_ERR, "LAMB_SIZE: out of range");
        return -1;
    }
    if (lamb_bytes == 0)
        return 0;
    struct mb_lamb_options lo = {
        .bytes = lamb_bytes,
        .memory_cgroup = cfg->lamb_cgroup[0] ? cfg->lamb_cgroup : NULL,
    };
    int rc = mb_lamb_init(&w->lamb, &lo);
    if (rc < 0) {
        mb_log(MB_LOG_ERR, "LAMB_SIZE: %s", strerror(-rc));
        return -1;
    }
    w->lamb_on = true;
    lamb_start(w, mb_clock_monotonic_ns());
    return 0;
}

static int run_once(struct mbwatch *w)
{
    int rc = evidence_init(w);
    if (rc < 0) {
        fprintf(stderr, "mbwatch: evidence in %s: %s\n", w->cfg.dump_dir, strerror(-rc));
        return EXIT_FAILURE_RUN;
    }
    struct mb_evidence_trigger t = {.kind = "manual", .detail = "mbwatch --once"};
    rc = mb_evidence_collect(&w->evidence, &t);
    if (rc < 0) {
        fprintf(stderr, "mbwatch: evidence dump: %s\n", strerror(-rc));
        mb_evidence_deinit(&w->evidence);
        return EXIT_FAILURE_RUN;
    }
    printf("%s\n", w->evidence.last_dump);
    mb_evidence_deinit(&w->evidence);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    struct mbwatch *w = &watch;
    struct cli cli = {0};
    if (parse_cli(argc, argv, &cli) < 0)
        return EXIT_USAGE;
    if (load_config(&cli, &w->cfg) < 0)
        return EXIT_USAGE;
    mb_log_init_stderr("mbwatch", mbw_config_log_level(w->cfg.log_level));
    /* glibc loads the time zone (heap) at its first time conversion: now,
     * not in the first evidence dump. */
    tzset();
    resolve_socket(w);
    w->signal_fd = -1;
    mb_kmsg_reader_init(&w->kmsg);
    if (cli.once)
        return run_once(w);

    mbw_detect_kernel("/", &w->kernel);
    int rc = mbw_sources_open(&w->sources, &w->cfg, &w->kernel);
    if (cli.check) {
        if (rc >= 0)
            print_check(w);
        mbw_sources_close(&w->sources);
        return rc > 0 && w->sources.failed == 0 ? EXIT_OK : EXIT_FAILURE_RUN;
    }
    if (rc < 0)
        return EXIT_FAILURE_RUN;
    if (rc == 0)
        mb_log(MB_LOG_WARNING, "no pressure source opened: only OOM kills in the kernel log and "
                               "SIGUSR1 will do anything");

    struct mbw_level_config lc = {
        .moderate_hold_ns = mb_ms_to_ns(w->cfg.moderate_hold_ms),
        .critical_hold_ns = mb_ms_to_ns(w->cfg.critical_hold_ms),
        .resend_interval_ns = mb_ms_to_ns(w->cfg.resend_interval_ms),
    };
    mbw_level_init(&w->level, &lc);
    if (w->cfg.evidence) {
        rc = evidence_init(w);
        if (rc < 0)
            mb_log(MB_LOG_WARNING, "evidence dumps off: %s: %s", w->cfg.dump_dir, strerror(-rc));
    }
    if (oom_setup(w) < 0)
        return EXIT_FAILURE_RUN;
    /* System OOM kills are critical pressure, whether or not they get evidence. */
    rc = mb_kmsg_open(&w->kmsg, NULL, false);
    if (rc < 0)
        mb_log(MB_LOG_WARNING, "/dev/kmsg: %s; OOM kills are not watched", strerror(-rc));
    w->kmsg_open = rc == 0;
    w->signal_fd = signals_open();
    if (w->signal_fd < 0) {
        mb_log(MB_LOG_ERR, "signalfd: %m");
        return EXIT_FAILURE_RUN;
    }
    rc = mbw_broker_init(&w->broker, w->socket, (uint32_t)w->cfg.broker_timeout_ms);
    if (rc < 0) {
        mb_log(MB_LOG_ERR, "broker client: %s", mb_client_strerror(rc));
        return EXIT_FAILURE_RUN;
    }
    mb_log(MB_LOG_INFO, "%s the broker at %s", w->broker.up ? "connected to" : "waiting for",
           w->socket);
    lock_and_prioritise(&w->cfg);
    mb_log(MB_LOG_NOTICE, "watching %zu source%s", w->sources.count,
           w->sources.count == 1 ? "" : "s");

    rc = run(w);

    mbw_broker_destroy(&w->broker);
    mbw_sources_close(&w->sources);
    for (size_t i = 0; i < w->held_count; i++)
        mb_cgroup_oom_close(&w->held[i]); /* the OOM killer back as it was */
    if (w->lamb_on)
        mb_lamb_deinit(&w->lamb);
    if (w->kmsg_open)
        mb_kmsg_close(&w->kmsg);
    if (w->evidence_ready)
        mb_evidence_deinit(&w->evidence);
    close(w->signal_fd);
    mb_log(MB_LOG_INFO, "stopped");
    return rc < 0 ? EXIT_FAILURE_RUN : EXIT_OK;
}
