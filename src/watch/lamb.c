/* lamb.c: see lamb.h. */
#include "watch/lamb.h"

#include "common/numparse.h"
#include "common/proc_meminfo.h"
#include "tools/mbfrag_root.h"
#include "watch/cgroup_events.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"

int mb_lamb_init(struct mb_lamb *lamb, const struct mb_lamb_options *options)
{
    memset(lamb, 0, sizeof *lamb);
    lamb->pidfd = -1;
    long page = sysconf(_SC_PAGESIZE);
    if (options->bytes < (uint64_t)(page > 0 ? page : 4096) || options->bytes > SIZE_MAX)
        return -EINVAL;
    if (options->oom_score_adj < -1000 || options->oom_score_adj > 1000)
        return -EINVAL;
    lamb->options = *options;
    if (lamb->options.oom_score_adj == 0)
        lamb->options.oom_score_adj = 1000;
    if (lamb->options.ready_timeout_ms == 0)
        lamb->options.ready_timeout_ms = 10000;
    return 0;
}

/* ---- the child side: async-signal-safe only ---- */

/* Appends s to buf[*len..size) (NUL kept); false when it does not fit. */
static bool append(char *buf, size_t size, size_t *len, const char *s)
{
    size_t n = strlen(s);
    if (*len + n + 1 > size)
        return false;
    memcpy(buf + *len, s, n + 1);
    *len += n;
    return true;
}

/* Decimal text of v (with a '-' when negative) into buf[24]. */
static const char *format_int(char buf[24], int64_t v)
{
    char *p = buf + 23;
    *p = '\0';
    bool negative = v < 0;
    uint64_t u = negative ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    if (negative)
        *--p = '-';
    return p;
}

static bool write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    size_t len = strlen(text);
    ssize_t n;
    do {
        n = write(fd, text, len);
    } while (n < 0 && errno == EINTR);
    close(fd);
    return n == (ssize_t)len;
}

/* root + a + b into buf; false when too long. */
static bool join(char *buf, size_t size, const char *root, const char *a, const char *b)
{
    size_t len = 0;
    buf[0] = '\0';
    return append(buf, size, &len, root != NULL ? root : "") && append(buf, size, &len, a) &&
           append(buf, size, &len, b);
}

/* Moves the calling process into the group and sets its oom_score_adj.
 * Returns 0 or the body's exit status. */
static int lamb_setup(int oom_score_adj, const char *root, const char *memory_cgroup)
{
    char path[512], num[24];
    if (memory_cgroup != NULL && memory_cgroup[0] != '\0') {
        if (!join(path, sizeof path, root, memory_cgroup, "/cgroup.procs") ||
            !write_text(path, format_int(num, (int64_t)getpid())))
            return 2;
    }
    if (oom_score_adj != 0) {
        if (!join(path, sizeof path, root, "/proc/self/oom_score_adj", "") ||
            !write_text(path, format_int(num, oom_score_adj)))
            return 3;
    }
    return 0;
}

int mb_lamb_body(uint64_t bytes, int oom_score_adj, const char *root, const char *memory_cgroup,
                 int ready_fd)
{
    int rc = lamb_setup(oom_score_adj, root, memory_cgroup);
    if (rc != 0)
        return rc;
    if (bytes == 0 || bytes > SIZE_MAX)
        return 4;
    size_t size = (size_t)bytes;
    char *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return 4;
    long page = sysconf(_SC_PAGESIZE);
    size_t step = page > 0 ? (size_t)page : 4096;
    /* A written byte per page: each page is really allocated (a read would
     * map the shared zero page). */
    for (size_t i = 0; i < size; i += step)
        mem[i] = 1;
    if (ready_fd >= 0) {
        char one = 1;
        ssize_t n;
        do {
            n = write(ready_fd, &one, 1);
        } while (n < 0 && errno == EINTR);
        close(ready_fd);
    }
    for (;;)
        pause();
}

void mb_lamb_main_from_args(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], MB_LAMB_ARG) != 0)
        return;
    uint64_t bytes = 0, fd = 0, adj_abs = 0;
    int adj = 0;
    if (argc < 4 || mb_parse_u64_exact(argv[2], strlen(argv[2]), &bytes) < 0 ||
        mb_parse_u64_exact(argv[3], strlen(argv[3]), &fd) < 0 || fd > INT32_MAX)
        _exit(64);
    if (argc >= 5) {
        const char *a = argv[4];
        bool negative = a[0] == '-';
        if (mb_parse_u64_exact(a + negative, strlen(a + negative), &adj_abs) < 0 || adj_abs > 1000)
            _exit(64);
        adj = negative ? -(int)adj_abs : (int)adj_abs;
    }
    _exit(mb_lamb_body(bytes, adj, NULL, argc >= 6 ? argv[5] : NULL, (int)fd));
}

/* ---- the parent side ---- */

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
    long fd = syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0) {
        (void)fcntl((int)fd, F_SETFD, FD_CLOEXEC);
        return (int)fd;
    }
#else
    (void)pid;
#endif
    return -1;
}

static void wait_child(pid_t pid)
{
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
}

static void forget_lamb(struct mb_lamb *lamb)
{
    if (lamb->pidfd >= 0)
        close(lamb->pidfd);
    lamb->pidfd = -1;
    lamb->pid = 0;
}

int mb_lamb_start(struct mb_lamb *lamb)
{
    if (lamb->pid != 0)
        return -EALREADY;
    const struct mb_lamb_options *o = &lamb->options;
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) < 0)
        return -errno;
    /* Formatted before the fork: the child must not call snprintf. */
    char bytes_arg[24], fd_arg[24];
    snprintf(bytes_arg, sizeof bytes_arg, "%" PRIu64, o->bytes);
    snprintf(fd_arg, sizeof fd_arg, "%d", ready[1]);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(ready[0]);
        close(ready[1]);
        return -err;
    }
    if (pid == 0) {
        close(ready[0]);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        if (o->exec_path == NULL)
            _exit(mb_lamb_body(o->bytes, o->oom_score_adj, o->root, o->memory_cgroup, ready[1]));
        int rc = lamb_setup(o->oom_score_adj, o->root, o->memory_cgroup);
        if (rc != 0)
            _exit(rc);
        (void)fcntl(ready[1], F_SETFD, 0); /* the ready fd survives exec */
        char *const argv[] = {(char *)o->exec_path, (char *)MB_LAMB_ARG, bytes_arg, fd_arg, NULL};
        execv(o->exec_path, argv);
        _exit(127);
    }
    close(ready[1]);
    lamb->pid = pid;
    lamb->pidfd = open_pidfd(pid);
    lamb->generation++;

    uint64_t deadline = mb_deadline_from_now_ms(o->ready_timeout_ms);
    int rc = -ETIMEDOUT;
    for (;;) {
        struct pollfd p = {ready[0], POLLIN, 0};
        int timeout = mb_deadline_poll_timeout(mb_clock_monotonic_ns(), deadline);
        int n = poll(&p, 1, timeout);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        char byte;
        ssize_t got = read(ready[0], &byte, 1);
        if (got < 0 && errno == EINTR)
            continue;
        rc = got == 1 ? 0 : -ECHILD;
        break;
    }
    close(ready[0]);
    if (rc < 0) {
        kill(pid, SIGKILL);
        wait_child(pid);
        lamb->deaths++;
        forget_lamb(lamb);
    }
    return rc;
}

int mb_lamb_fd(const struct mb_lamb *lamb)
{
    return lamb->pid != 0 ? lamb->pidfd : -1;
}

int mb_lamb_reap(struct mb_lamb *lamb, struct mb_lamb_exit *out)
{
    memset(out, 0, sizeof *out);
    if (lamb->pid == 0)
        return 0;
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int rc;
    do {
        rc = waitid(P_PID, (id_t)lamb->pid, &info, WEXITED | WNOHANG);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0)
        return -errno;
    if (info.si_pid == 0)
        return 0;
    out->pid = lamb->pid;
    out->generation = lamb->generation;
    out->signaled = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
    if (out->signaled)
        out->signal = info.si_status;
    else
        out->status = info.si_status;
    lamb->deaths++;
    forget_lamb(lamb);
    return 1;
}

void mb_lamb_stop(struct mb_lamb *lamb)
{
    if (lamb->pid == 0)
        return;
    kill(lamb->pid, SIGKILL);
    wait_child(lamb->pid);
    lamb->deaths++;
    forget_lamb(lamb);
}

void mb_lamb_deinit(struct mb_lamb *lamb)
{
    mb_lamb_stop(lamb);
    forget_lamb(lamb);
}

int mb_lamb_room(const struct mb_lamb *lamb, uint64_t margin)
{
    const struct mb_lamb_options *o = &lamb->options;
    uint64_t need = o->bytes + margin, avail = 0;
    if (o->memory_cgroup != NULL && o->memory_cgroup[0] != '\0') {
        char path[512];
        uint64_t limit = 0, usage = 0;
        int n = snprintf(path, sizeof path, "%s/memory.limit_in_bytes", o->memory_cgroup);
        if (n < 0 || (size_t)n >= sizeof path)
            return -ENAMETOOLONG;
        int rc = mbfrag_root_read_u64(o->root, path, &limit);
        if (rc < 0)
            return rc;
        snprintf(path, sizeof path, "%s/memory.usage_in_bytes", o->memory_cgroup);
        rc = mbfrag_root_read_u64(o->root, path, &usage);
        if (rc < 0)
            return rc;
        avail = limit > usage ? limit - usage : 0;
    } else {
        char buf[4096];
        size_t len = 0;
        int rc = mbfrag_root_read(o->root, "/proc/meminfo", buf, sizeof buf, &len);
        if (rc < 0 && rc != -EFBIG)
            return rc;
        rc = mb_meminfo_lookup(buf, len, "MemAvailable", &avail);
        if (rc < 0)
            return rc;
    }
    return avail >= need ? 1 : 0;
}

/* Reads the kernel log until the lamb's kill shows or the time is up. */
static bool confirm_kill(const struct mb_lamb_response *response, pid_t pid)
{
    uint32_t wait_ms = response->kmsg_wait_ms != 0 ? response->kmsg_wait_ms : 1000;
    uint64_t deadline = mb_deadline_from_now_ms(wait_ms);
    for (;;) {
        (void)mb_kmsg_drain(response->kmsg_reader, response->kmsg_log);
        if (mb_kmsg_oom_log_has_kill(response->kmsg_log, (uint64_t)pid))
            return true;
        int timeout = mb_deadline_poll_timeout(mb_clock_monotonic_ns(), deadline);
        if (timeout == 0)
            return false;
        struct pollfd p = {response->kmsg_reader->fd, POLLIN, 0};
        if (p.fd < 0 || response->kmsg_reader->regular) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        } else {
            (void)poll(&p, 1, timeout < 50 ? timeout : 50);
        }
    }
}

int mb_lamb_handle_death(struct mb_lamb *lamb, const struct mb_lamb_response *response,
                         struct mb_lamb_outcome *outcome)
{
    memset(outcome, 0, sizeof *outcome);
    outcome->evidence_rc = outcome->freeze_rc = outcome->thaw_rc = outcome->restart_rc = 1;
    int rc = mb_lamb_reap(lamb, &outcome->exit);
    if (rc <= 0)
        return rc;
    outcome->oom_killed = outcome->exit.signaled && outcome->exit.signal == SIGKILL;
    if (outcome->oom_killed && response->kmsg_reader != NULL && response->kmsg_log != NULL)
        outcome->kmsg_confirmed = confirm_kill(response, outcome->exit.pid);
    bool freeze = response->freeze_group != NULL && response->freeze_group[0] != '\0';
    if (freeze)
        outcome->freeze_rc = mb_cgroup_freeze(response->root, response->freeze_group, true,
                                              response->freeze_timeout_ms != 0
                                                  ? response->freeze_timeout_ms
                                                  : 2000);
    if (response->evidence != NULL) {
        char detail[128];
        if (outcome->exit.signaled)
            snprintf(detail, sizeof detail, "lamb generation %" PRIu64 " killed by signal %d",
                     outcome->exit.generation, outcome->exit.signal);
        else
            snprintf(detail, sizeof detail, "lamb generation %" PRIu64 " exited with status %d",
                     outcome->exit.generation, outcome->exit.status);
        struct mb_evidence_trigger t = {
            .kind = outcome->oom_killed ? "lamb-killed" : "lamb-exited",
            .detail = detail,
            .cgroup = lamb->options.memory_cgroup,
            .pid = outcome->exit.pid,
            .frozen = freeze && outcome->freeze_rc == 0 ? response->freeze_group : NULL,
        };
        outcome->evidence_rc = mb_evidence_collect(response->evidence, &t);
    }
    /* Thaw even after a failed freeze: a FREEZING group must not stay so. */
    if (freeze)
        outcome->thaw_rc = mb_cgroup_freeze(response->root, response->freeze_group, false, 0);
    if (response->restart)
        outcome->restart_rc = mb_lamb_start(lamb);
    return 1;
}
