/* trackfs: a quota-aware tmpfs over FUSE. See docs/man/trackfs.8.
 *
 *   trackfs [-f] [-d] [-o OPTIONS] BACKING_DIR MOUNTPOINT
 *
 * Set-up order: options, the quota source (broker or fixed), what the
 * backing directory already stores (reserved before serving, or no mount),
 * then the FUSE session with the multi-threaded loop. SIGUSR1 logs the
 * books. */
#include "trackfs/fs.h"

#include "common/log.h"
#include "common/units.h"
#include "trackfs/fuse_ring.h"
#include "trackfs/mountinfo.h"
#include "trackfs/options.h"
#include "trackfs/usage.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void usage(FILE *to)
{
    fprintf(to,
        "usage: trackfs [-f] [-d] [-o OPTIONS] BACKING_DIR MOUNTPOINT\n"
        "\n"
        "  -f            stay in the foreground\n"
        "  -d            FUSE debug output (implies -f)\n"
        "  -o OPTIONS    comma-separated; trackfs's own:\n"
        "      quota=SIZE        standalone: a fixed quota (no broker)\n"
        "      broker=SOCKET     the broker's socket (default $MEMBROKER_SOCKET, else "
        MB_CLIENT_DEFAULT_SOCKET ")\n"
        "      chunk=SIZE        quota taken from the broker at a time (1M)\n"
        "      stall_ms=N        longest wait for the broker before ENOSPC (250)\n"
        "      urgency=request|reserve   how the broker is asked (request)\n"
        "      inode_cost=SIZE   bytes charged per file, directory or link (1K)\n"
        "      uring=auto|off    requests over FUSE's io_uring when the kernel offers it\n"
        "                        (fuse module parameter enable_uring) (auto)\n"
        "    any other option goes to FUSE (allow_other, fsname=..., ...)\n"
        "SIZE: bytes with K, M, G or T (64M), or pages with p.\n");
}

struct stats_thread {
    pthread_t thread;
    struct tfs_fs *fs;
    volatile sig_atomic_t stop;
};

static void log_books(struct tfs_fs *fs)
{
    struct tfs_quota_stats qs;
    tfs_quota_get_stats(&fs->quota, &qs);
    char source[64];
    if (fs->broker != NULL)
        snprintf(source, sizeof source, "broker balance %" PRIu64 " pages",
                 mb_client_balance(&fs->broker->client));
    else
        snprintf(source, sizeof source, "standalone limit");
    mb_log(MB_LOG_NOTICE,
           "books: held %" PRIu64 " pages (%s), used %" PRIu64 " pages (data %" PRIu64
           ", inodes %" PRIu64 ", xattr bytes %" PRIu64 "), refusals %" PRIu64
           ", acquired %" PRIu64 ", released %" PRIu64 ", stalls %" PRIu64 " (%" PRIu64
           " ms), page size %" PRIu64,
           qs.held, source, qs.used, qs.data_pages, qs.inodes, qs.xattr_bytes, qs.refusals,
           qs.acquired, qs.released, qs.stalls, qs.stall_ns / 1000000u, fs->page_size);
}

/* Waits for SIGUSR1 (blocked in every thread) and logs the books. */
static void *stats_main(void *arg)
{
    struct stats_thread *st = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    for (;;) {
        int sig;
        if (sigwait(&set, &sig) != 0 || st->stop)
            break;
        log_books(st->fs);
    }
    return NULL;
}

struct cmdline {
    bool foreground, debug;
    struct tfs_options options;
    const char *backing, *mountpoint;
};

static int parse_cmdline(int argc, char **argv, struct cmdline *cl)
{
    memset(cl, 0, sizeof *cl);
    tfs_options_init(&cl->options);
    uint64_t page = mb_page_size();
    int c;
    while ((c = getopt(argc, argv, "+fdo:h")) != -1) {
        switch (c) {
        case 'f': cl->foreground = true; break;
        case 'd': cl->debug = cl->foreground = true; break;
        case 'o': {
            char why_text[160];
            struct mb_strbuf why;
            mb_strbuf_init(&why, why_text, sizeof why_text);
            if (tfs_options_parse(&cl->options, optarg, page, &why) < 0) {
                fprintf(stderr, "trackfs: -o %s: %s\n", optarg, why_text);
                return 2;
            }
            break;
        }
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return 2;
        }
    }
    if (argc - optind != 2) {
        usage(stderr);
        return 2;
    }
    cl->backing = argv[optind];
    cl->mountpoint = argv[optind + 1];
    return 0;
}

/* Background mode: the work goes on in a child and the parent exits with the
 * child's word: 0 once the mount is up, 1 when set-up failed (the child then
 * printed why). The fork comes before anything else, so the broker
 * connection and every thread belong to the process that serves (a client
 * connection does not cross fork). Returns the pipe to report on, or -1 in
 * the foreground. Never returns in the parent. */
static int go_background(bool foreground)
{
    if (foreground)
        return -1;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        perror("trackfs: pipe");
        exit(1);
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("trackfs: fork");
        exit(1);
    }
    if (pid > 0) {
        close(p[1]);
        unsigned char status = 1;
        ssize_t n;
        do
            n = read(p[0], &status, 1);
        while (n < 0 && errno == EINTR);
        _exit(n == 1 ? status : 1);
    }
    close(p[0]);
    setsid();
    return p[1];
}

/* Tells the waiting parent that the mount is up and lets go of the
 * terminal. stderr stays when it is not a terminal (a journal, a file):
 * the log goes there. */
static void report_ready(int ready_fd)
{
    if (ready_fd < 0)
        return;
    unsigned char ok = 0;
    if (write(ready_fd, &ok, 1) != 1)
        mb_log(MB_LOG_WARNING, "cannot tell the parent the mount is up: %m");
    close(ready_fd);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        if (isatty(STDERR_FILENO))
            dup2(null, STDERR_FILENO);
        close(null);
    }
    if (chdir("/") < 0)
        mb_log(MB_LOG_WARNING, "chdir /: %m");
}

/* Reserves quota for what the backing directory stores. Returns 0 or 1
 * (the message is printed). */
static int adopt_existing(struct tfs_fs *fs, const struct cmdline *cl)
{
    struct tfs_usage u;
    int rc = tfs_usage_measure(fs->root_fd, fs->page_size, &u);
    if (rc < 0) {
        fprintf(stderr, "trackfs: cannot measure %s: %s\n", cl->backing, strerror(-rc));
        return 1;
    }
    if (fs->broker != NULL)
        fs->broker->mounting = true;
    uint64_t over = tfs_quota_force(&fs->quota, u.data_pages, u.inodes);
    if (u.xattr_bytes > 0)
        over = tfs_quota_force_xattr(&fs->quota, u.xattr_bytes);
    if (fs->broker != NULL)
        fs->broker->mounting = false;
    if (over > 0) {
        struct tfs_quota_stats qs;
        tfs_quota_get_stats(&fs->quota, &qs);
        fprintf(stderr,
                "trackfs: %s already stores %" PRIu64 " pages (%" PRIu64 " data pages, %" PRIu64
                " inodes) but only %" PRIu64 " pages of quota could be had: not mounting\n",
                cl->backing, qs.used, u.data_pages, u.inodes, qs.held);
        return 1;
    }
    return 0;
}

/* Every inode the kernel remembers holds an O_PATH descriptor here until
 * its FORGET, so a tree of many files needs many descriptors: the soft
 * limit (1024 under systemd) is raised to the hard one. Returns the limit
 * now in force (0 when unknown). */
static uint64_t raise_fd_limit(void)
{
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
        return 0;
    if (lim.rlim_cur < lim.rlim_max) {
        struct rlimit raised = {.rlim_cur = lim.rlim_max, .rlim_max = lim.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            lim = raised;
    }
    return lim.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)lim.rlim_cur;
}

/* The FUSE arguments: ours first, then the user's. */
static int build_fuse_args(const struct cmdline *cl, struct fuse_args *args, const char *argv0)
{
    if (fuse_opt_add_arg(args, argv0) != 0 ||
        fuse_opt_add_arg(args, "-odefault_permissions,fsname=trackfs,subtype=trackfs") != 0)
        return -1;
    if (cl->options.fuse_opts[0] != '\0' &&
        (fuse_opt_add_arg(args, "-o") != 0 || fuse_opt_add_arg(args, cl->options.fuse_opts) != 0))
        return -1;
    if (cl->debug && fuse_opt_add_arg(args, "-d") != 0)
        return -1;
    return 0;
}

static int serve(struct tfs_fs *fs, const struct cmdline *cl, const char *argv0, int ready_fd)
{
    struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
    if (build_fuse_args(cl, &args, argv0) != 0) {
        fprintf(stderr, "trackfs: out of memory\n");
        return 1;
    }
    int status = 1;
    struct fuse_session *se = fuse_session_new(&args, &tfs_ops, sizeof tfs_ops, fs);
    if (se == NULL)
        goto out_args;
    if (fuse_set_signal_handlers(se) != 0)
        goto out_session;
    if (fuse_session_mount(se, cl->mountpoint) != 0)
        goto out_signals;
    mb_log(MB_LOG_NOTICE, "serving %s on %s (%s)", cl->backing, cl->mountpoint,
           fs->broker != NULL ? "broker" : "standalone quota");
    log_books(fs);
    struct tfs_ring *ring = tfs_ring_attach(se, cl->options.uring, fs->page_size);
    report_ready(ready_fd);
    struct fuse_loop_config *loop = fuse_loop_cfg_create();
    if (loop == NULL)
        goto out_unmount;
    fuse_loop_cfg_set_clone_fd(loop, 0);
    fuse_loop_cfg_set_max_threads(loop, 16);
    status = fuse_session_loop_mt(se, loop) == 0 ? 0 : 1;
    fuse_loop_cfg_destroy(loop);
out_unmount:
    fuse_session_unmount(se);
    tfs_ring_stop(ring);
out_signals:
    fuse_remove_signal_handlers(se);
out_session:
    fuse_session_destroy(se);
out_args:
    fuse_opt_free_args(&args);
    return status;
}

int main(int argc, char **argv)
{
    struct cmdline cl;
    int rc = parse_cmdline(argc, argv, &cl);
    if (rc != 0)
        return rc;
    /* A dead trackfs (killed) leaves its mount; do not stack on it. */
    if (tfs_mounted_at(cl.mountpoint, "fuse.trackfs") == 1) {
        fprintf(stderr,
                "trackfs: %s is already a trackfs mount (a dead one after a crash: unmount it "
                "with fusermount3 -u, or -uz when busy, then mount again)\n",
                cl.mountpoint);
        return 1;
    }
    int ready_fd = go_background(cl.foreground);
    mb_log_init_stderr("trackfs", cl.debug ? MB_LOG_DEBUG : MB_LOG_INFO);
    uint64_t fd_limit = raise_fd_limit();
    if (fd_limit > 0 && fd_limit < 4096)
        mb_log(MB_LOG_WARNING, "only %" PRIu64 " open files allowed: each file or directory "
               "in use holds one, so a larger tree fails with EMFILE (raise RLIMIT_NOFILE)",
               fd_limit);

    int root_fd = open(cl.backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) {
        fprintf(stderr, "trackfs: %s: %s\n", cl.backing, strerror(errno));
        return 1;
    }

    /* SIGUSR1 goes to the stats thread only: block it before any thread. */
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, NULL);

    static struct tfs_fs fs;
    static struct tfs_broker_link broker;
    fs.timeout_s = 1.0;
    struct tfs_quota_config qc = {
        .inode_cost = cl.options.inode_cost,
        .max_slack_chunks = 2,
    };
    struct tfs_quota_source source;
    const struct tfs_quota_source *src = NULL;
    if (cl.options.has_quota) {
        fs.page_size = mb_page_size();
        qc.limit_pages = cl.options.quota_bytes / fs.page_size;
    } else {
        rc = tfs_broker_link_init(&broker, cl.options.broker, cl.options.stall_ms,
                                  cl.options.urgency);
        if (rc < 0) {
            fprintf(stderr, "trackfs: cannot reach the broker (%s); use -o quota=SIZE to run "
                    "without one\n", mb_client_strerror(rc));
            close(root_fd);
            return 1;
        }
        fs.broker = &broker;
        fs.page_size = mb_client_page_size(&broker.client);
        tfs_broker_link_source(&broker, &source);
        src = &source;
    }
    qc.page_size = fs.page_size;
    qc.chunk_pages = (cl.options.chunk_bytes + fs.page_size - 1) / fs.page_size;

    int status = 1;
    if (tfs_quota_init(&fs.quota, &qc, src) < 0 || tfs_fs_init(&fs, root_fd) < 0) {
        fprintf(stderr, "trackfs: cannot set up\n");
        close(root_fd);
        goto out_broker;
    }
    if (fs.broker != NULL && tfs_broker_link_start(fs.broker, &fs.quota) < 0) {
        fprintf(stderr, "trackfs: cannot start the broker thread\n");
        goto out_fs;
    }
    if (adopt_existing(&fs, &cl) != 0)
        goto out_fs;

    struct stats_thread stats = {.fs = &fs};
    bool stats_running = pthread_create(&stats.thread, NULL, stats_main, &stats) == 0;
    status = serve(&fs, &cl, argv[0], ready_fd);
    if (stats_running) {
        stats.stop = 1;
        pthread_kill(stats.thread, SIGUSR1);
        pthread_join(stats.thread, NULL);
    }
    log_books(&fs);
out_fs:
    tfs_fs_destroy(&fs);
    tfs_quota_release_slack(&fs.quota);
out_broker:
    if (fs.broker != NULL)
        tfs_broker_link_destroy(fs.broker);
    tfs_quota_destroy(&fs.quota);
    return status;
}
