/* test_pressure_source.c: the sources against the running kernel (PSI
 * triggers; as root, a fresh cgroup v1 memory group with usage thresholds,
 * an OOM and the group's removal) and the v2 memory.events source against
 * a fixture file (this machine's v2 mount has no memory controller).
 * Parts the machine lacks are skipped with a message. */
#include "mbtest.h"
#include "membroker/protocol.h"
#include "watch/pressure_source.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (UINT64_C(1) << 20)
#define V1_ROOT "/sys/fs/cgroup/memory"

static bool skipped_any;

static void skip(const char *what)
{
    printf("SKIP %s\n", what);
    skipped_any = true;
}

/* Polls s for up to timeout_ms and handles what comes; returns the first
 * event (1), 0 on timeout, or the handle error. */
static int wait_event(struct mbw_source *s, int timeout_ms, struct mbw_pressure_event *ev)
{
    for (int waited = 0; waited < timeout_ms; waited += 50) {
        struct pollfd p = {.fd = s->fd, .events = s->poll_events};
        int n = poll(&p, 1, 50);
        if (n == 1) {
            int rc = mbw_source_handle(s, p.revents, 1, ev);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

static void test_psi_live(void)
{
    if (access("/proc/pressure/memory", R_OK) != 0) {
        skip("psi: no /proc/pressure/memory");
        return;
    }
    struct mbw_source s;
    int rc = mbw_source_open_psi(&s, "/proc/pressure/memory", false, 100000, 2000000,
                                 MB_PRESSURE_MODERATE);
    MBT_EQ_INT(0, rc);
    if (rc < 0)
        return;
    MBT_TRUE(s.fd >= 0);
    MBT_EQ_INT(POLLPRI, s.poll_events);
    char desc[256];
    MBT_EQ_STR("psi some 100000us/2000000us on /proc/pressure/memory",
               mbw_source_describe(&s, desc, sizeof desc));
    /* No wakeup: nothing. A wakeup without stall behind it (what a
     * spurious first event looks like): dropped and counted. */
    struct mbw_pressure_event ev;
    MBT_EQ_INT(0, mbw_source_handle(&s, 0, 1, &ev));
    uint64_t total_before = s.u.psi.last_total_us;
    rc = mbw_source_handle(&s, POLLPRI, 1, &ev);
    if (s.u.psi.last_total_us - total_before < 100000) {
        MBT_EQ_INT(0, rc);
        MBT_EQ_U64(1, s.u.psi.spurious);
        MBT_TRUE(s.u.psi.armed);
    }
    /* The other fd went away: the source says so. */
    MBT_EQ_INT(-ENODEV, mbw_source_handle(&s, POLLERR, 1, &ev));
    mbw_source_close(&s);
    MBT_EQ_INT(-1, s.fd);
    mbw_source_close(&s); /* twice is fine */
    /* Stall above the window: refused before the kernel sees it. */
    MBT_EQ_INT(-EINVAL, mbw_source_open_psi(&s, "/proc/pressure/memory", true, 3000000, 2000000,
                                            MB_PRESSURE_CRITICAL));
    MBT_EQ_INT(-1, s.fd);
    MBT_EQ_INT(-ENOENT, mbw_source_open_psi(&s, "/proc/pressure/nothing", true, 100000, 2000000,
                                            MB_PRESSURE_CRITICAL));
}

static char group[128];

static int write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, text, strlen(text));
    int rc = n < 0 ? -errno : 0;
    close(fd);
    return rc;
}

/* A child in the group that holds `mib` MiB per command byte read from
 * its pipe (0 ends it). */
struct hog {
    pid_t pid;
    int cmd;
    int ack;
};

static int hog_start(struct hog *h)
{
    int cmd[2], ack[2];
    if (pipe(cmd) < 0 || pipe(ack) < 0)
        return -errno;
    h->pid = fork();
    if (h->pid < 0)
        return -errno;
    if (h->pid == 0) {
        close(cmd[1]);
        close(ack[0]);
        char me[16];
        snprintf(me, sizeof me, "%d", (int)getpid());
        if (write_file(group, "cgroup.procs", me) < 0)
            _exit(2);
        void *held = NULL;
        size_t held_len = 0;
        unsigned char want;
        while (read(cmd[0], &want, 1) == 1) {
            if (held != NULL)
                munmap(held, held_len);
            held = NULL;
            held_len = (size_t)want * MIB;
            if (held_len > 0) {
                held = mmap(NULL, held_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                            -1, 0);
                if (held == MAP_FAILED)
                    _exit(3);
                memset(held, 1, held_len);
            }
            if (write(ack[1], "k", 1) != 1)
                _exit(4);
        }
        _exit(0);
    }
    close(cmd[0]);
    close(ack[1]);
    h->cmd = cmd[1];
    h->ack = ack[0];
    return 0;
}

static bool hog_hold(struct hog *h, unsigned char mib)
{
    char c;
    return write(h->cmd, &mib, 1) == 1 && read(h->ack, &c, 1) == 1;
}

static void hog_stop(struct hog *h)
{
    close(h->cmd);
    close(h->ack);
    int status;
    waitpid(h->pid, &status, 0);
}

static bool make_group(const char *limit)
{
    snprintf(group, sizeof group, V1_ROOT "/mbw-test-%d", (int)getpid());
    if (mkdir(group, 0755) < 0 && errno != EEXIST)
        return false;
    return write_file(group, "memory.limit_in_bytes", limit) == 0;
}

static void test_v1_usage(void)
{
    if (geteuid() != 0 || access(V1_ROOT "/cgroup.event_control", F_OK) != 0) {
        skip("cgroup v1 usage: needs root and the v1 memory controller");
        return;
    }
    MBT_REQUIRE(make_group("64M"));
    struct mbw_source s;
    MBT_EQ_INT(-EINVAL, mbw_source_open_v1_usage(&s, group, 16 * MIB, 8 * MIB, MIB));
    MBT_EQ_INT(-EINVAL, mbw_source_open_v1_usage(&s, group, 0, 0, MIB));
    MBT_EQ_INT(0, mbw_source_open_v1_usage(&s, group, 8 * MIB, 16 * MIB, 2 * MIB));
    struct mbw_pressure_event ev;
    /* The first handle says where usage stands: nothing in the group. */
    MBT_EQ_INT(1, wait_event(&s, 1000, &ev));
    MBT_EQ_INT(MBW_EVENT_STATE, ev.kind);
    MBT_EQ_INT(MB_PRESSURE_NONE, ev.level);
    MBT_TRUE(ev.value < 8 * MIB);

    struct hog h;
    MBT_REQUIRE(hog_start(&h) == 0);
    MBT_REQUIRE(hog_hold(&h, 12));
    MBT_EQ_INT(1, wait_event(&s, 5000, &ev));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, ev.level);
    MBT_TRUE(ev.value >= 8 * MIB);
    MBT_REQUIRE(hog_hold(&h, 20));
    int rc;
    do /* one wakeup per crossing; wait for the one that says critical */
        rc = wait_event(&s, 5000, &ev);
    while (rc == 1 && ev.level != MB_PRESSURE_CRITICAL);
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, ev.level);
    MBT_TRUE(ev.value >= 16 * MIB);
    MBT_REQUIRE(hog_hold(&h, 0));
    do
        rc = wait_event(&s, 5000, &ev);
    while (rc == 1 && ev.level != MB_PRESSURE_NONE);
    MBT_EQ_INT(MB_PRESSURE_NONE, ev.level);
    hog_stop(&h);

    /* The group goes away: the kernel's last signal is the source's end. */
    MBT_EQ_INT(0, rmdir(group));
    MBT_EQ_INT(-ENODEV, wait_event(&s, 5000, &ev));
    mbw_source_close(&s);
}

static void test_v1_level_and_oom(void)
{
    if (geteuid() != 0 || access(V1_ROOT "/cgroup.event_control", F_OK) != 0) {
        skip("cgroup v1 oom: needs root and the v1 memory controller");
        return;
    }
    MBT_REQUIRE(make_group("16M"));
    struct mbw_source lvl, oom;
    MBT_EQ_INT(-EINVAL, mbw_source_open_v1_level(&lvl, group, 3, MB_PRESSURE_MODERATE));
    MBT_EQ_INT(0, mbw_source_open_v1_level(&lvl, group, MBW_V1_MEDIUM, MB_PRESSURE_MODERATE));
    MBT_EQ_INT(0, mbw_source_open_v1_oom(&oom, group));
    char desc[256], want[256];
    snprintf(want, sizeof want, "cgroup v1 pressure_level medium on %s", group);
    MBT_EQ_STR(want, mbw_source_describe(&lvl, desc, sizeof desc));
    struct mbw_pressure_event ev;
    MBT_EQ_INT(0, mbw_source_handle(&oom, POLLIN, 1, &ev)); /* nothing signalled yet */
    /* 32 MiB in a 16 MiB group without swap: the OOM killer runs. */
    struct hog h;
    MBT_REQUIRE(hog_start(&h) == 0);
    unsigned char mib = 32;
    MBT_TRUE(write(h.cmd, &mib, 1) == 1);
    MBT_EQ_INT(1, wait_event(&oom, 10000, &ev));
    MBT_EQ_INT(MBW_EVENT_OOM, ev.kind);
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, ev.level);
    MBT_TRUE(ev.count >= 1);
    int status;
    MBT_EQ_INT(h.pid, waitpid(h.pid, &status, 0));
    MBT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    MBT_TRUE(ev.value >= 1 || wait_event(&oom, 1000, &ev) >= 0); /* counter read after the kill */
    close(h.cmd);
    close(h.ack);
    mbw_source_close(&lvl);
    mbw_source_close(&oom);
    MBT_EQ_INT(0, rmdir(group));
}

static void test_v2_events_fixture(void)
{
    char dir[] = "/tmp/mbw-v2-XXXXXX";
    MBT_REQUIRE(mkdtemp(dir) != NULL);
    char path[64];
    snprintf(path, sizeof path, "%s/memory.events", dir);
    FILE *f = fopen(path, "w");
    MBT_REQUIRE(f != NULL);
    fputs("low 0\nhigh 5\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n", f);
    fclose(f);
    struct mbw_source s;
    MBT_EQ_INT(0, mbw_source_open_v2_events(&s, dir));
    MBT_EQ_INT(POLLPRI, s.poll_events);
    MBT_EQ_U64(5, s.u.v2.high);
    struct mbw_pressure_event ev;
    MBT_EQ_INT(0, mbw_source_handle(&s, POLLPRI, 7, &ev)); /* nothing grew */
    static const struct {
        const char *text;
        int rc;
        uint8_t kind, level;
        uint64_t count;
    } steps[] = {
        {"low 0\nhigh 8\nmax 0\noom 0\noom_kill 0\n", 1, MBW_EVENT_PULSE, MB_PRESSURE_MODERATE, 3},
        {"low 0\nhigh 9\nmax 2\noom 0\noom_kill 0\n", 1, MBW_EVENT_PULSE, MB_PRESSURE_CRITICAL, 2},
        {"low 0\nhigh 9\nmax 3\noom 1\noom_kill 1\n", 1, MBW_EVENT_OOM, MB_PRESSURE_CRITICAL, 2},
        {"low 1\nhigh 9\nmax 3\noom 1\noom_kill 1\n", 0, 0, 0, 0},
        {"low 1\nhigh 2\nmax 3\noom 1\noom_kill 1\n", 0, 0, 0, 0}, /* re-created: no growth */
        {"low 1\nhigh x\n", -EINVAL, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        f = fopen(path, "w");
        MBT_REQUIRE(f != NULL);
        fputs(steps[i].text, f);
        fclose(f);
        int rc = mbw_source_handle(&s, POLLPRI, 7, &ev);
        MBT_EQ_INT(steps[i].rc, rc);
        if (rc == 1) {
            MBT_EQ_INT(steps[i].kind, ev.kind);
            MBT_EQ_INT(steps[i].level, ev.level);
            MBT_EQ_U64(steps[i].count, ev.count);
            MBT_EQ_U64(7, ev.time_ns);
        }
    }
    mbw_source_close(&s);
    unlink(path);
    rmdir(dir);
    MBT_EQ_INT(-ENOENT, mbw_source_open_v2_events(&s, dir));
    MBT_EQ_INT(-1, s.fd);
}

static void test_usage_classify(void)
{
    const uint64_t m = 100, c = 200, h = 20;
    MBT_EQ_INT(MB_PRESSURE_NONE, mbw_usage_classify(MB_PRESSURE_NONE, 99, m, c, h));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_usage_classify(MB_PRESSURE_NONE, 100, m, c, h));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_usage_classify(MB_PRESSURE_MODERATE, 80, m, c, h));
    MBT_EQ_INT(MB_PRESSURE_NONE, mbw_usage_classify(MB_PRESSURE_MODERATE, 79, m, c, h));
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_usage_classify(MB_PRESSURE_NONE, 200, m, c, h));
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_usage_classify(MB_PRESSURE_CRITICAL, 180, m, c, h));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_usage_classify(MB_PRESSURE_CRITICAL, 179, m, c, h));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_usage_classify(MB_PRESSURE_CRITICAL, 80, m, c, h));
    MBT_EQ_INT(MB_PRESSURE_NONE, mbw_usage_classify(MB_PRESSURE_CRITICAL, 79, m, c, h));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_usage_classify(MB_PRESSURE_MODERATE, 199, m, c, h));
    /* Only one threshold set. */
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_usage_classify(MB_PRESSURE_NONE, 500, 0, c, h));
    MBT_EQ_INT(MB_PRESSURE_NONE, mbw_usage_classify(MB_PRESSURE_CRITICAL, 179, 0, c, h));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_usage_classify(MB_PRESSURE_NONE, 500, m, 0, h));
    /* Hysteresis larger than the threshold: the level holds down to 0. */
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_usage_classify(MB_PRESSURE_MODERATE, 0, m, 0, 150));
}

static void test_v1_names(void)
{
    MBT_EQ_STR("low", mbw_v1_level_name(MBW_V1_LOW));
    MBT_EQ_STR("critical", mbw_v1_level_name(MBW_V1_CRITICAL));
    MBT_EQ_STR("?", mbw_v1_level_name(3));
    MBT_EQ_INT(MBW_V1_MEDIUM, mbw_v1_level_parse("medium"));
    MBT_EQ_INT(-EINVAL, mbw_v1_level_parse("Medium"));
}

int main(void)
{
    MBT_RUN(test_usage_classify);
    MBT_RUN(test_v1_names);
    MBT_RUN(test_v2_events_fixture);
    MBT_RUN(test_psi_live);
    MBT_RUN(test_v1_usage);
    MBT_RUN(test_v1_level_and_oom);
    if (group[0] != '\0')
        rmdir(group); /* after a failure midway */
    return mbt_finish();
}
