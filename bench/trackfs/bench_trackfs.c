/* bench_trackfs: trackfs measured against native tmpfs, side by side in one
 * run on the same machine (root, /dev/fuse).
 *
 *   bench_trackfs --trackfs PATH [--size-mib N] [--files N] [--rounds N]
 *                 [--threads N] [--options OPTS]
 *
 * Mounts a tmpfs for the native runs, a second tmpfs as trackfs's backing
 * directory and trackfs over it (standalone quota, four times the data
 * written, plus OPTS), then runs each workload on both, alternating which
 * goes first from round to round, and prints the median of the rounds and
 * the ratio trackfs/tmpfs (higher is better; 1.0 is native speed):
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
#include "trackfs/mountinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (UINT64_C(1) << 20)
#define MAX_ROUNDS 15

static char top[64], native_dir[96], backing_dir[96], mount_dir[96];
static volatile pid_t trackfs_pid = -1;
static volatile sig_atomic_t mounted_native, mounted_backing, mounted_fuse;

/* Unmounts and removes everything set_up made; safe to call twice. */
static void cleanup(void)
{
    if (mounted_fuse && umount2(mount_dir, 0) < 0)
        umount2(mount_dir, MNT_DETACH);
    mounted_fuse = 0;
    if (trackfs_pid > 0) {
        int status;
        if (waitpid(trackfs_pid, &status, WNOHANG) == 0) {
            kill(trackfs_pid, SIGTERM);
            waitpid(trackfs_pid, &status, 0);
        }
        trackfs_pid = -1;
    }
    if (mounted_native)
        umount2(native_dir, MNT_DETACH);
    if (mounted_backing)
        umount2(backing_dir, MNT_DETACH);
    mounted_native = mounted_backing = 0;
    if (top[0] != '\0') {
        rmdir(native_dir);
        rmdir(backing_dir);
        rmdir(mount_dir);
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
};

static void set_up(const struct config *c)
{
    snprintf(top, sizeof top, "/tmp/bench-trackfs.XXXXXX");
    if (mkdtemp(top) == NULL) {
        top[0] = '\0';
        die("mkdtemp");
    }
    snprintf(native_dir, sizeof native_dir, "%s/native", top);
    snprintf(backing_dir, sizeof backing_dir, "%s/backing", top);
    snprintf(mount_dir, sizeof mount_dir, "%s/trackfs", top);
    if (mkdir(native_dir, 0755) < 0 || mkdir(backing_dir, 0755) < 0 || mkdir(mount_dir, 0755) < 0)
        die("mkdir");
    char size_opt[64];
    snprintf(size_opt, sizeof size_opt, "size=%" PRIu64 "m", 2 * c->size_mib + 64);
    if (mount("tmpfs", native_dir, "tmpfs", 0, size_opt) < 0)
        die("mount tmpfs (root needed)");
    mounted_native = 1;
    if (mount("tmpfs", backing_dir, "tmpfs", 0, size_opt) < 0)
        die("mount tmpfs");
    mounted_backing = 1;
    char opts[512];
    snprintf(opts, sizeof opts, "quota=%" PRIu64 "M%s%s", 4 * c->size_mib + 64,
             c->options[0] != '\0' ? "," : "", c->options);
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        pthread_sigmask(SIG_SETMASK, &none, NULL); /* trackfs handles SIGTERM */
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
        }
        execl(c->trackfs, c->trackfs, "-f", "-o", opts, backing_dir, mount_dir, (char *)NULL);
        _exit(127);
    }
    trackfs_pid = pid;
    for (int i = 0; i < 200; i++) {
        if (tfs_mounted_at(mount_dir, "fuse.trackfs") == 1) {
            mounted_fuse = 1;
            return;
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            trackfs_pid = -1;
            errno = ECHILD;
            die("trackfs exited before mounting");
        }
        usleep(25000);
    }
    errno = ETIMEDOUT;
    die("trackfs did not mount");
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
    struct config c = {.options = "", .size_mib = 512, .files = 2000, .rounds = 3, .threads = 4};
    static const struct option longopts[] = {
        {"trackfs", required_argument, NULL, 't'}, {"size-mib", required_argument, NULL, 's'},
        {"files", required_argument, NULL, 'f'},   {"rounds", required_argument, NULL, 'r'},
        {"threads", required_argument, NULL, 'n'}, {"options", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
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
        default:
            fprintf(stderr, "usage: bench_trackfs --trackfs PATH [--size-mib N] [--files N] "
                            "[--rounds N] [--threads N] [--options OPTS]\n");
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
    set_up(&c);

    double native[W_COUNT][MAX_ROUNDS], fuse[W_COUNT][MAX_ROUNDS];
    for (unsigned r = 0; r < c.rounds; r++) {
        double a[W_COUNT], b[W_COUNT];
        if (r % 2 == 0) {
            run_all(native_dir, &c, a);
            run_all(mount_dir, &c, b);
        } else {
            run_all(mount_dir, &c, b);
            run_all(native_dir, &c, a);
        }
        for (unsigned w = 0; w < W_COUNT; w++) {
            native[w][r] = a[w];
            fuse[w][r] = b[w];
        }
    }
    printf("trackfs vs tmpfs: %" PRIu64 " MiB sequential, %u files, %u threads, median of %u "
           "rounds\n\n",
           c.size_mib, c.files, c.threads, c.rounds);
    printf("| workload | unit | tmpfs | trackfs | trackfs/tmpfs |\n|---|---|---|---|---|\n");
    for (unsigned w = 0; w < W_COUNT; w++) {
        double n = median(native[w], c.rounds), f = median(fuse[w], c.rounds);
        char name[48];
        if (w == W_THREADS)
            snprintf(name, sizeof name, "%u threads write 1 MiB", c.threads);
        else
            snprintf(name, sizeof name, "%s", names[w]);
        printf("| %s | %s | %.0f | %.0f | %.2f |\n", name, units[w], n, f, f / n);
    }
    cleanup();
    free(block);
    return 0;
}
