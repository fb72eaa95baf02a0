/* bench_pressure: how long from the kernel's pressure event to the give-back
 * query arriving at a bidirectional client, through mbwatch and mbserver.
 *
 * Set-up (root, cgroup v1 memory): a fresh group with a 64 MiB limit; mbserver
 * (TOTAL 1000p, PRESSURE_RESERVE 100p); this program as a bidirectional client
 * holding the whole pool; mbwatch watching the group with a usage threshold
 * (USAGE_MODERATE 16M). Each iteration a child in the group touches 20 MiB:
 * crossing 16 MiB makes the kernel signal every listener of that threshold at
 * once, mbwatch's and this program's own. The figure is the time from this
 * program's own listener waking (a real-time thread blocked in read() on its
 * eventfd) to the give-back callback running. Then the child frees the
 * memory, the level goes back to none and the client takes its pages back.
 *
 * usage: bench_pressure --mbserver PATH --mbwatch PATH [--iterations N]
 *                       [--rt-priority P]
 * Exits 77 (skipped) without root or cgroup v1. Prints every sample, then
 * min, median, p90 and max in ms, against the 50 ms goal.
 */
#include "membroker/client.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define V1 "/sys/fs/cgroup/memory"
#define MIB (UINT64_C(1) << 20)
#define THRESHOLD (16 * MIB)
#define HOG_MIB 20
#define MAX_ITER 1000

static char dir[64], group[128], sock[128];
static pid_t server_pid, watch_pid, hog_pid;
static int hog_cmd = -1, hog_ack = -1;
static _Atomic uint64_t listener_ns, giveback_ns;
static atomic_int givebacks;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000u, .tv_nsec = (long)(ms % 1000u) * 1000000L};
    nanosleep(&ts, NULL);
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, text, strlen(text));
    int rc = n == (ssize_t)strlen(text) ? 0 : -EIO;
    close(fd);
    return rc;
}

static pid_t spawn(const char *const argv[], const char *log)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* The child in the group: "g" touches HOG_MIB MiB, "s" frees them. */
static int hog_start(void)
{
    int cmd[2], ack[2];
    if (pipe(cmd) < 0 || pipe(ack) < 0)
        return -errno;
    hog_pid = fork();
    if (hog_pid < 0)
        return -errno;
    if (hog_pid == 0) {
        char path[192], me[16];
        snprintf(path, sizeof path, "%s/cgroup.procs", group);
        snprintf(me, sizeof me, "%d", (int)getpid());
        if (write_file(path, me) < 0)
            _exit(2);
        size_t len = HOG_MIB * MIB;
        unsigned char *p = NULL;
        char c;
        while (read(cmd[0], &c, 1) == 1) {
            if (c == 'g') {
                p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED)
                    _exit(3);
                for (size_t i = 0; i < len; i += 4096)
                    p[i] = 1;
            } else if (p != NULL) {
                munmap(p, len);
                p = NULL;
            }
            if (write(ack[1], &c, 1) != 1)
                _exit(4);
        }
        _exit(0);
    }
    close(cmd[0]);
    close(ack[1]);
    hog_cmd = cmd[1];
    hog_ack = ack[0];
    return 0;
}

static bool hog_do(char c)
{
    char r;
    return write(hog_cmd, &c, 1) == 1 && read(hog_ack, &r, 1) == 1;
}

/* Our own listener on the group's threshold. */
static void *listener_main(void *arg)
{
    int efd = *(int *)arg;
    for (;;) {
        uint64_t v;
        if (read(efd, &v, sizeof v) != (ssize_t)sizeof v)
            return NULL;
        atomic_store(&listener_ns, now_ns());
    }
}

static int listener_open(pthread_t *thread, int rt)
{
    static int efd;
    efd = eventfd(0, EFD_CLOEXEC);
    char path[192];
    snprintf(path, sizeof path, "%s/cgroup.event_control", group);
    int ctl = open(path, O_WRONLY | O_CLOEXEC);
    snprintf(path, sizeof path, "%s/memory.usage_in_bytes", group);
    int usage = open(path, O_RDONLY | O_CLOEXEC);
    if (efd < 0 || ctl < 0 || usage < 0)
        return -errno;
    char line[64];
    int n = snprintf(line, sizeof line, "%d %d %" PRIu64, efd, usage, (uint64_t)THRESHOLD);
    int rc = write(ctl, line, (size_t)n) == n ? 0 : -errno;
    close(ctl);
    close(usage);
    if (rc < 0)
        return rc;
    rc = -pthread_create(thread, NULL, listener_main, &efd);
    if (rc == 0 && rt > 0) {
        struct sched_param sp = {.sched_priority = rt + 1};
        pthread_setschedparam(*thread, SCHED_FIFO, &sp);
    }
    return rc;
}

static uint64_t on_giveback(struct mb_client *c, void *arg, const struct mb_client_giveback *q)
{
    (void)c;
    (void)arg;
    atomic_store(&giveback_ns, now_ns());
    atomic_fetch_add(&givebacks, 1);
    return q->pages;
}

static int pressure_of(struct mb_client *c, uint8_t *level, bool *watcher)
{
    static struct mb_client_status_page page;
    int rc = mb_client_status_page(c, MB_STATUS_CLIENTS, 0, &page);
    if (rc < 0)
        return rc;
    *level = page.summary.pressure;
    *watcher = false;
    for (uint32_t i = 0; i < page.count; i++)
        if (strcmp(page.records.clients[i].name, "mbwatch") == 0)
            *watcher = true;
    return 0;
}

static void cleanup(void)
{
    if (hog_pid > 0) {
        kill(hog_pid, SIGKILL);
        waitpid(hog_pid, NULL, 0);
    }
    if (watch_pid > 0) {
        kill(watch_pid, SIGTERM);
        waitpid(watch_pid, NULL, 0);
    }
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
    }
    for (int i = 0; i < 20 && group[0] && rmdir(group) < 0 && errno == EBUSY; i++)
        sleep_ms(100);
    if (dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_pressure: could not remove %s\n", dir);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *mbserver = NULL, *mbwatch = NULL;
    int iterations = 20, rt = 10;
    static const struct option options[] = {
        {"mbserver", required_argument, NULL, 's'}, {"mbwatch", required_argument, NULL, 'w'},
        {"iterations", required_argument, NULL, 'n'}, {"rt-priority", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 's': mbserver = optarg; break;
        case 'w': mbwatch = optarg; break;
        case 'n': iterations = (int)strtol(optarg, NULL, 10); break;
        case 'r': rt = (int)strtol(optarg, NULL, 10); break;
        default: return 2;
        }
    }
    if (mbserver == NULL || mbwatch == NULL || iterations < 1 || iterations > MAX_ITER ||
        rt < 0 || rt > 98) {
        fprintf(stderr, "usage: bench_pressure --mbserver PATH --mbwatch PATH [--iterations 1..%d]"
                        " [--rt-priority 0..98]\n", MAX_ITER);
        return 2;
    }
    if (geteuid() != 0 || access(V1 "/cgroup.event_control", F_OK) != 0) {
        printf("bench_pressure: skipped (needs root and the cgroup v1 memory controller)\n");
        return 77;
    }
    snprintf(dir, sizeof dir, "/tmp/mb-bench-pressure.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    atexit(cleanup);
    snprintf(group, sizeof group, V1 "/mb-bench-pressure-%d", (int)getpid());
    char path[256], text[512];
    if (mkdir(group, 0755) < 0) {
        perror(group);
        return 1;
    }
    snprintf(path, sizeof path, "%s/memory.limit_in_bytes", group);
    write_file(path, "64M");
    snprintf(sock, sizeof sock, "%s/socket", dir);
    snprintf(path, sizeof path, "%s/mbserver.conf", dir);
    write_file(path, "TOTAL 1000p\nPRESSURE_RESERVE 100p\nQUERY_TIMEOUT 1s\n");
    char log[256];
    snprintf(log, sizeof log, "%s/mbserver.log", dir);
    const char *sargv[] = {mbserver, "--foreground", "--config", path, "--socket", sock,
                           "--log-level", "warning", NULL};
    server_pid = spawn(sargv, log);
    for (int i = 0; i < 100 && access(sock, F_OK) != 0; i++)
        sleep_ms(50);

    static struct mb_client client;
    struct mb_client_options o;
    mb_client_options_init(&o);
    o.socket_path = sock;
    o.kind = MB_KIND_BIDIRECTIONAL;
    o.name = "bench-cache";
    o.giveback = on_giveback;
    uint64_t got = 0;
    int rc = mb_client_init(&client, &o);
    if (rc == 0)
        rc = mb_client_request(&client, 1000, &got);
    if (rc == 0)
        rc = mb_client_helper_start(&client);
    if (rc < 0 || got != 1000) {
        fprintf(stderr, "bench_pressure: client: %s (got %" PRIu64 ")\n", mb_client_strerror(rc), got);
        return 1;
    }

    snprintf(path, sizeof path, "%s/mbwatch.conf", dir);
    snprintf(text, sizeof text,
             "CGROUP %s\nSOCKET %s\nPSI no\nCGROUP_PSI no\nV1_MODERATE_LEVEL off\n"
             "V1_CRITICAL_LEVEL off\nOOM_EVENTS no\nUSAGE_MODERATE %" PRIu64 "\n"
             "USAGE_HYSTERESIS 4M\nMODERATE_HOLD 50ms\nCRITICAL_HOLD 50ms\nRESEND_INTERVAL 0\n"
             "EVIDENCE no\nREALTIME_PRIORITY %d\n",
             group, sock, (uint64_t)THRESHOLD, rt);
    write_file(path, text);
    snprintf(log, sizeof log, "%s/mbwatch.log", dir);
    const char *wargv[] = {mbwatch, "--config", path, NULL};
    watch_pid = spawn(wargv, log);
    uint8_t level = 0;
    bool watcher = false;
    for (int i = 0; i < 100 && !watcher; i++) {
        sleep_ms(50);
        pressure_of(&client, &level, &watcher);
    }
    if (!watcher) {
        fprintf(stderr, "bench_pressure: mbwatch did not connect (see %s)\n", log);
        return 1;
    }

    pthread_t listener;
    if (hog_start() < 0 || listener_open(&listener, rt) < 0) {
        fprintf(stderr, "bench_pressure: cannot start the hog or the listener: %s\n", strerror(errno));
        return 1;
    }
    if (rt > 0) {
        struct sched_param sp = {.sched_priority = rt};
        sched_setscheduler(0, SCHED_FIFO, &sp); /* the helper thread inherits nothing; fine */
    }
    static uint64_t samples[MAX_ITER];
    int n = 0, missed = 0;
    for (int it = 0; it < iterations; it++) {
        atomic_store(&listener_ns, 0);
        int before = atomic_load(&givebacks);
        if (!hog_do('g'))
            break;
        for (int i = 0; i < 400 && atomic_load(&givebacks) == before; i++)
            sleep_ms(5);
        uint64_t t0 = atomic_load(&listener_ns), t1 = atomic_load(&giveback_ns);
        if (atomic_load(&givebacks) == before || t0 == 0) {
            missed++;
        } else {
            samples[n] = t1 > t0 ? t1 - t0 : 0;
            printf("sample %d: %.3f ms\n", it + 1, (double)samples[n] / 1e6);
            n++;
        }
        hog_do('s');
        /* Back to none, then take the pages back for the next round. */
        for (int i = 0; i < 200; i++) {
            sleep_ms(10);
            if (pressure_of(&client, &level, &watcher) == 0 && level == MB_PRESSURE_NONE)
                break;
        }
        uint64_t want = 1000 - mb_client_balance(&client);
        if (want > 0 && (mb_client_request(&client, want, &got) < 0 || got != want))
            fprintf(stderr, "bench_pressure: could not take %" PRIu64 " pages back\n", want);
    }
    mb_client_helper_stop(&client);
    mb_client_destroy(&client);
    if (n == 0) {
        fprintf(stderr, "bench_pressure: no sample (%d missed)\n", missed);
        return 1;
    }
    qsort(samples, (size_t)n, sizeof samples[0], cmp_u64);
    size_t count = (size_t)n, median = count / 2, p90 = count * 9 / 10;
    if (p90 >= count)
        p90 = count - 1;
    double ms_min = (double)samples[0] / 1e6, ms_med = (double)samples[median] / 1e6;
    double ms_p90 = (double)samples[p90] / 1e6, ms_max = (double)samples[count - 1] / 1e6;
    printf("kernel event -> give-back at the client, %d samples (%d missed), rt priority %d:\n"
           "  min %.3f ms  median %.3f ms  p90 %.3f ms  max %.3f ms  (goal: < 50 ms: %s)\n",
           n, missed, rt, ms_min, ms_med, ms_p90, ms_max, ms_max < 50.0 ? "met" : "NOT met");
    return 0;
}
