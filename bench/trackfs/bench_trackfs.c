/* bench_trackfs: trackfs measured against native tmpfs, side by side in one
 * run on the same machine (root, /dev/fuse).
 *
 *   bench_trackfs --trackfs PATH [--size-mib N] [--files N] [--rounds N]
 *                 [--threads N] [--options OPTS] [--transport dev|uring|both]
 *
 * Mounts a tmpfs for the native runs and, for each transport, a tmpfs as a
 * trackfs's backing directory and trackfs over it (standalone quota, four
 * times the data written, plus OPTS): "dev" takes requests by /dev/fuse
 * (uring=off), "uring" over FUSE's io_uring (the fuse module's enable_uring
 * is switched on for the run and back after; trackfs's log must show the
 * ring in use). Both by default, the ring only where the kernel has it.
 * Each workload runs on every mount, the first one rotating from round to
 * round, and it prints the median of the rounds and the ratios
 * trackfs/tmpfs (higher is better; 1.0 is native speed):
 *   seq write   SIZE MiB in 1 MiB write(2)s to one new file, close included
 *               (opened write-only: trackfs then bypasses the page cache)
 *   seq read    that file back in 1 MiB read(2)s after a fresh open
 *   seq write rw  as seq write, the file opened read-write (page cache)
 *   create      FILES times: open(O_CREAT|O_EXCL), write 4 KiB, close
 *   stat        stat(2) of each of those files
 *   stat absent FILES times stat(2) of one of 16 names that do not exist
 *   unlink      unlink(2) of each
 *   N threads   N threads each writing SIZE/N MiB to a file of its own
 * Everything it mounts is unmounted on exit, on SIGINT and on SIGTERM. */
#include "common/clock.h"
#include "common/proc_read.h"
#include "trackfs/mountinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (UINT64_C(1) << 20)
#define MAX_ROUNDS 15

enum { T_DEV, T_URING, T_COUNT };
static const char *const transport_names[T_COUNT] = {"dev", "uring"};
static const char *const uring_param = "/sys/module/fuse/parameters/enable_uring";

static char top[64], native_dir[96];
static char backing_dir[T_COUNT][96], mount_dir[T_COUNT][96], log_path[T_COUNT][96];
static volatile pid_t trackfs_pid[T_COUNT] = {-1, -1};
static volatile sig_atomic_t mounted_native, mounted_backing[T_COUNT], mounted_fuse[T_COUNT];
static char uring_was = '\0'; /* enable_uring's value before the run ('\0': untouched) */

static void write_uring_param(char value)
{
    int fd = open(uring_param, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        char text[2] = {value, '\n'};
        ssize_t ignored = write(fd, text, sizeof text);
        (void)ignored;
        close(fd);
    }
}

/* Unmounts and removes everything set_up made; safe to call twice. */
static void cleanup(void)
{
    for (int t = 0; t < T_COUNT; t++) {
        if (mounted_fuse[t] && umount2(mount_dir[t], 0) < 0)
            umount2(mount_dir[t], MNT_DETACH);
        mounted_fuse[t] = 0;
        if (trackfs_pid[t] > 0) {
            int status;
            if (waitpid(trackfs_pid[t], &status, WNOHANG) == 0) {
                kill(trackfs_pid[t], SIGTERM);
                waitpid(trackfs_pid[t], &status, 0);
            }
            trackfs_pid[t] = -1;
        }
        if (mounted_backing[t])
            umount2(backing_dir[t], MNT_DETACH);
        mounted_backing[t] = 0;
    }
    if (mounted_native)
        umount2(native_dir, MNT_DETACH);
    mounted_native = 0;
    if (uring_was != '\0')
        write_uring_param(uring_was);
    uring_was = '\0';
    if (top[0] != '\0') {
        rmdir(native_dir);
        for (int t = 0; t < T_COUNT; t++) {
            unlink(log_path[t]);
            rmdir(backing_dir[t]);
            rmdir(mount_dir[t]);
        }
        rmdir(top);
    }
}

/* SIGINT and SIGTERM are blocked everywhere and taken here, outside any
 * signal handler: unmount, then exit as interrupted. */
static void *signal_main(void *arg)
{
    const sigset_t *set = arg;
    int sig;
    if (sigwait(set, &sig) == 0) {
        cleanup();
        _exit(128 + sig);
    }
    return NULL;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_trackfs: %s: %s\n", what, strerror(errno));
    cleanup();
    exit(1);
}

struct config {
    const char *trackfs;
    const char *options;
    uint64_t size_mib;
    unsigned files, rounds, threads;
    bool use[T_COUNT]; /* the transports measured */
};

/* Switches FUSE over io_uring on for the run; false when the kernel has none. */
static bool enable_uring(void)
{
    char text[4];
    size_t len = 0;
    int rc = mb_proc_read(uring_param, text, sizeof text, &len);
    if ((rc < 0 && rc != -EFBIG) || len == 0)
        return false;
    uring_was = text[0];
    write_uring_param('Y');
    return true;
}

static void mount_trackfs(const struct config *c, int t, const char *size_opt)
{
    if (mount("tmpfs", backing_dir[t], "tmpfs", 0, size_opt) < 0)
        die("mount tmpfs");
    mounted_backing[t] = 1;
    char opts[512];
    snprintf(opts, sizeof opts, "quota=%" PRIu64 "M,uring=%s%s%s", 4 * c->size_mib + 64,
             t == T_URING ? "auto" : "off", c->options[0] != '\0' ? "," : "", c->options);
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        pthread_sigmask(SIG_SETMASK, &none, NULL); /* trackfs handles SIGTERM */
        int null = open("/dev/null", O_WRONLY);
        int log = open(log_path[t], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (null >= 0)
            dup2(null, STDOUT_FILENO);
        if (log >= 0)
            dup2(log, STDERR_FILENO);
        execl(c->trackfs, c->trackfs, "-f", "-o", opts, backing_dir[t], mount_dir[t],
              (char *)NULL);
        _exit(127);
    }
    trackfs_pid[t] = pid;
    for (int i = 0; i < 200; i++) {
        if (tfs_mounted_at(mount_dir[t], "fuse.trackfs") == 1) {
            mounted_fuse[t] = 1;
            return;
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            trackfs_pid[t] = -1;
            errno = ECHILD;
            die("trackfs exited before mounting");
        }
        usleep(25000);
    }
    errno = ETIMEDOUT;
    die("trackfs did not mount");
}

static void set_up(const struct config *c)
{
    snprintf(top, sizeof top, "/tmp/bench-trackfs.XXXXXX");
    if (mkdtemp(top) == NULL) {
        top[0] = '\0';
        die("mkdtemp");
    }
    snprintf(native_dir, sizeof native_dir, "%s/native", top);
    if (mkdir(native_dir, 0755) < 0)
        die("mkdir");
    for (int t = 0; t < T_COUNT; t++) {
        snprintf(backing_dir[t], sizeof backing_dir[t], "%s/backing-%s", top, transport_names[t]);
        snprintf(mount_dir[t], sizeof mount_dir[t], "%s/trackfs-%s", top, transport_names[t]);
        snprintf(log_path[t], sizeof log_path[t], "%s/trackfs-%s.log", top, transport_names[t]);
        if (c->use[t] && (mkdir(backing_dir[t], 0755) < 0 || mkdir(mount_dir[t], 0755) < 0))
            die("mkdir");
    }
    char size_opt[64];
    snprintf(size_opt, sizeof size_opt, "size=%" PRIu64 "m", 2 * c->size_mib + 64);
    if (mount("tmpfs", native_dir, "tmpfs", 0, size_opt) < 0)
        die("mount tmpfs (root needed)");
    mounted_native = 1;
    for (int t = 0; t < T_COUNT; t++)
        if (c->use[t])
            mount_trackfs(c, t, size_opt);
}

/* Whether the trackfs of transport t logged that the ring served it. */
static bool ring_was_used(int t)
{
    char text[8192];
    size_t len = 0;
    int rc = mb_proc_read(log_path[t], text, sizeof text - 1, &len); /* the line comes early */
    if (rc < 0 && rc != -EFBIG)
        return false;
    text[len] = '\0';
    return strstr(text, "requests come over io_uring") != NULL;
}

/* ---- workloads: each returns its rate (MiB/s or operations/s) ---- */

static char *block; /* 1 MiB */

static void write_file(const char *path, uint64_t mib, int access)
{
    int fd = open(path, O_CREAT | O_TRUNC | access | O_CLOEXEC, 0644);
    if (fd < 0)
        die(path);
    for (uint64_t i = 0; i < mib; i++)
        if (write(fd, block, MIB) != (ssize_t)MIB)
            die("write");
    if (close(fd) < 0)
        die("close");
}

static double seq_write(const char *dir, const struct config *c)
{
    char path[128];
    snprintf(path, sizeof path, "%s/seq", dir);
    uint64_t t0 = mb_clock_monotonic_ns();
    write_file(path, c->size_mib, O_WRONLY);
    return (double)c->size_mib / ((double)(mb_clock_monotonic_ns() - t0) / 1e9);
}

static double seq_write_rw(const char *dir, const struct config *c)
{
    char path[128];
    snprintf(path, sizeof path, "%s/seq-rw", dir);
    uint64_t t0 = mb_clock_monotonic_ns();
    write_file(path, c->size_mib, O_RDWR);
    double rate = (double)c->size_mib / ((double)(mb_clock_monotonic_ns() - t0) / 1e9);
    unlink(path);
    return rate;
}

static double seq_read(const char *dir, const struct config *c)
{
    char path[128];
    snprintf(path, sizeof path, "%s/seq", dir);
    uint64_t t0 = mb_clock_monotonic_ns();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        die(path);
    uint64_t got = 0;
    ssize_t n;
    while ((n = read(fd, block, MIB)) > 0)
        got += (uint64_t)n;
    if (n < 0 || got != c->size_mib * MIB)
        die("read");
    close(fd);
    double rate = (double)c->size_mib / ((double)(mb_clock_monotonic_ns() - t0) / 1e9);
    unlink(path);
    return rate;
}

static double create_files(const char *dir, const struct config *c)
{
    char path[128];
    uint64_t t0 = mb_clock_monotonic_ns();
    for (unsigned i = 0; i < c->files; i++) {
        snprintf(path, sizeof path, "%s/f%06u", dir, i);
        int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, block, 4096) != 4096 || close(fd) < 0)
            die("create");
    }
    return c->files / ((double)(mb_clock_monotonic_ns() - t0) / 1e9);
}

static double stat_files(const char *dir, const struct config *c)
{
    char path[128];
    struct stat st;
    uint64_t t0 = mb_clock_monotonic_ns();
    for (unsigned i = 0; i < c->files; i++) {
        snprintf(path, sizeof path, "%s/f%06u", dir, i);
        if (stat(path, &st) < 0 || st.st_size != 4096)
            die("stat");
    }
    return c->files / ((double)(mb_clock_monotonic_ns() - t0) / 1e9);
}

static double stat_absent(const char *dir, const struct config *c)
{
    char path[128];
    struct stat st;
    uint64_t t0 = mb_clock_monotonic_ns();
    for (unsigned i = 0; i < c->files; i++) {
        snprintf(path, sizeof path, "%s/absent%02u", dir, i % 16);
        if (stat(path, &st) == 0 || errno != ENOENT)
            die("stat absent");
    }
    return c->files / ((double)(mb_clock_monotonic_ns() - t0) / 1e9);
}

static double unlink_files(const char *dir, const struct config *c)
{
    char path[128];
    uint64_t t0 = mb_clock_monotonic_ns();
    for (unsigned i = 0; i < c->files; i++) {
        snprintf(path, sizeof path, "%s/f%06u", dir, i);
        if (unlink(path) < 0)
            die("unlink");
    }
    return c->files / ((double)(mb_clock_monotonic_ns() - t0) / 1e9);
}

struct writer {
    pthread_t thread;
    char path[128];
    uint64_t mib;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    write_file(w->path, w->mib, O_WRONLY);
    return NULL;
}

static double threads_write(const char *dir, const struct config *c)
{
    struct writer w[16];
    unsigned n = c->threads;
    uint64_t each = c->size_mib / n > 0 ? c->size_mib / n : 1;
    uint64_t t0 = mb_clock_monotonic_ns();
    for (unsigned i = 0; i < n; i++) {
        snprintf(w[i].path, sizeof w[i].path, "%s/t%u", dir, i);
        w[i].mib = each;
        if (pthread_create(&w[i].thread, NULL, writer_main, &w[i]) != 0)
            die("pthread_create");
    }
    for (unsigned i = 0; i < n; i++)
        pthread_join(w[i].thread, NULL);
    double rate = (double)(each * n) / ((double)(mb_clock_monotonic_ns() - t0) / 1e9);
    for (unsigned i = 0; i < n; i++)
        unlink(w[i].path);
    return rate;
}

/* ---- the table ---- */

enum {
    W_SEQ_WRITE, W_SEQ_READ, W_SEQ_WRITE_RW, W_CREATE, W_STAT, W_ABSENT, W_UNLINK, W_THREADS,
    W_COUNT
};
static const char *const names[W_COUNT] = {
    "seq write 1 MiB", "seq read 1 MiB", "seq write 1 MiB, O_RDWR", "create+4K+close",
    "stat",            "stat absent",    "unlink",                  "threads write"};
static const char *const units[W_COUNT] = {"MiB/s", "MiB/s", "MiB/s", "ops/s",
                                           "ops/s", "ops/s", "ops/s", "MiB/s"};

static void run_all(const char *dir, const struct config *c, double out[W_COUNT])
{
    out[W_SEQ_WRITE] = seq_write(dir, c);
    out[W_SEQ_READ] = seq_read(dir, c);
    out[W_SEQ_WRITE_RW] = seq_write_rw(dir, c);
    out[W_CREATE] = create_files(dir, c);
    out[W_STAT] = stat_files(dir, c);
    out[W_ABSENT] = stat_absent(dir, c);
    out[W_UNLINK] = unlink_files(dir, c);
    out[W_THREADS] = threads_write(dir, c);
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
    qsort(v, n, sizeof *v, compare_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static unsigned parse_unsigned(const char *text, const char *what, unsigned max)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0 || v > max) {
        fprintf(stderr, "bench_trackfs: %s: a number from 1 to %u\n", what, max);
        exit(2);
    }
    return (unsigned)v;
}

int main(int argc, char **argv)
{
    struct config c = {.options = "", .size_mib = 512, .files = 2000, .rounds = 3, .threads = 4,
                       .use = {true, true}};
    static const struct option longopts[] = {
        {"trackfs", required_argument, NULL, 't'}, {"size-mib", required_argument, NULL, 's'},
        {"files", required_argument, NULL, 'f'},   {"rounds", required_argument, NULL, 'r'},
        {"threads", required_argument, NULL, 'n'}, {"options", required_argument, NULL, 'o'},
        {"transport", required_argument, NULL, 'x'}, {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 't': c.trackfs = optarg; break;
        case 's': c.size_mib = parse_unsigned(optarg, "--size-mib", 65536); break;
        case 'f': c.files = parse_unsigned(optarg, "--files", 1000000); break;
        case 'r': c.rounds = parse_unsigned(optarg, "--rounds", MAX_ROUNDS); break;
        case 'n': c.threads = parse_unsigned(optarg, "--threads", 16); break;
        case 'o': c.options = optarg; break;
        case 'x':
            c.use[T_DEV] = strcmp(optarg, "dev") == 0 || strcmp(optarg, "both") == 0;
            c.use[T_URING] = strcmp(optarg, "uring") == 0 || strcmp(optarg, "both") == 0;
            if (!c.use[T_DEV] && !c.use[T_URING]) {
                fprintf(stderr, "bench_trackfs: --transport: dev, uring or both\n");
                return 2;
            }
            break;
        default:
            fprintf(stderr, "usage: bench_trackfs --trackfs PATH [--size-mib N] [--files N] "
                            "[--rounds N] [--threads N] [--options OPTS] "
                            "[--transport dev|uring|both]\n");
            return 2;
        }
    }
    if (c.trackfs == NULL) {
        fprintf(stderr, "bench_trackfs: --trackfs PATH is required\n");
        return 2;
    }
    if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) < 0) {
        fprintf(stderr, "bench_trackfs: needs root and /dev/fuse: skipped\n");
        return 77;
    }
    block = malloc(MIB);
    if (block == NULL)
        die("malloc");
    memset(block, 'b', MIB);
    static sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    pthread_t signal_thread;
    if (pthread_create(&signal_thread, NULL, signal_main, &stop) != 0)
        die("pthread_create");
    if (c.use[T_URING] && !enable_uring()) {
        if (!c.use[T_DEV]) {
            fprintf(stderr, "bench_trackfs: this kernel has no FUSE over io_uring (%s): "
                            "skipped\n", uring_param);
            return 77;
        }
        printf("(no FUSE over io_uring in this kernel: %s is missing)\n", uring_param);
        c.use[T_URING] = false;
    }
    set_up(&c);

    /* targets[0] is tmpfs, then each trackfs measured */
    const char *dirs[1 + T_COUNT];
    int transport_of[1 + T_COUNT];
    unsigned targets = 0;
    dirs[targets] = native_dir;
    transport_of[targets++] = -1;
    for (int t = 0; t < T_COUNT; t++)
        if (c.use[t]) {
            dirs[targets] = mount_dir[t];
            transport_of[targets++] = t;
        }
    static double rates[1 + T_COUNT][W_COUNT][MAX_ROUNDS];
    for (unsigned r = 0; r < c.rounds; r++)
        for (unsigned k = 0; k < targets; k++) {
            unsigned at = (k + r) % targets;
            double got[W_COUNT];
            run_all(dirs[at], &c, got);
            for (unsigned w = 0; w < W_COUNT; w++)
                rates[at][w][r] = got[w];
        }
    if (c.use[T_URING] && !ring_was_used(T_URING)) {
        fprintf(stderr, "bench_trackfs: the io_uring trackfs did not log the ring in use\n");
        cleanup();
        return 1;
    }
    printf("trackfs vs tmpfs: %" PRIu64 " MiB sequential, %u files, %u threads, median of %u "
           "rounds\n\n",
           c.size_mib, c.files, c.threads, c.rounds);
    printf("| workload | unit | tmpfs |");
    for (unsigned k = 1; k < targets; k++)
        printf(" trackfs %s | ratio |", transport_names[transport_of[k]]);
    printf("\n|---|---|---|");
    for (unsigned k = 1; k < targets; k++)
        printf("---|---|");
    printf("\n");
    for (unsigned w = 0; w < W_COUNT; w++) {
        char name[48];
        if (w == W_THREADS)
            snprintf(name, sizeof name, "%u threads write 1 MiB", c.threads);
        else
            snprintf(name, sizeof name, "%s", names[w]);
        double native = median(rates[0][w], c.rounds);
        printf("| %s | %s | %.0f |", name, units[w], native);
        for (unsigned k = 1; k < targets; k++) {
            double f = median(rates[k][w], c.rounds);
            printf(" %.0f | %.2f |", f, f / native);
        }
        printf("\n");
    }
    cleanup();
    free(block);
    return 0;
}
