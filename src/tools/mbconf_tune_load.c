/* mbconf_tune_load.c: the load process of `mbconf tune` (see the header). */
#include "tools/mbconf_tune_load.h"

#include "common/fd_write.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Fills the working-set file with non-zero data (a sparse file would be
 * read from the zero page, not from page cache) and drops its cache. */
static int make_working_set(const char *dir, uint64_t bytes, int *fd_out, char *why,
                            size_t why_size)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/mbconf-tune.XXXXXX", dir) >= (int)sizeof path) {
        snprintf(why, why_size, "working-set directory name too long");
        return -ENAMETOOLONG;
    }
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        snprintf(why, why_size, "cannot create a working-set file in %s: %s", dir, strerror(err));
        return -err;
    }
    unlink(path);
    static char block[64 * 1024];
    memset(block, 0x5a, sizeof block);
    int rc = 0;
    for (uint64_t done = 0; done < bytes && rc == 0;) {
        size_t len = bytes - done < sizeof block ? (size_t)(bytes - done) : sizeof block;
        rc = mb_write_all(fd, block, len);
        done += len;
    }
    if (rc == 0 && fdatasync(fd) != 0)
        rc = -errno;
    if (rc < 0) {
        snprintf(why, why_size, "cannot write the working-set file in %s: %s", dir, strerror(-rc));
        close(fd);
        return rc;
    }
    /* The load's first reads fault the pages in again, from inside its
     * cgroup, so they are charged there. */
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    *fd_out = fd;
    return 0;
}

/* ---- the child ---------------------------------------------------------- */

static volatile unsigned char sink;

static void touch_working_set(const unsigned char *ws, uint64_t bytes, size_t page)
{
    unsigned char sum = 0;
    for (uint64_t off = 0; off < bytes; off += page)
        sum = (unsigned char)(sum + ws[off]);
    sink = sum;
}

static _Noreturn void load_main(int command_fd, int reply_fd, int ws_fd, uint64_t ws_bytes,
                                uint64_t max_bytes)
{
    int adj = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (adj >= 0) {
        (void)mb_write_all(adj, "1000", 4);
        close(adj);
    }
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    /* Wait for the first command: the parent moves us into the cgroup
     * before we touch anything. */
    unsigned char *ws = NULL;
    if (ws_bytes > 0) {
        ws = mmap(NULL, (size_t)ws_bytes, PROT_READ, MAP_SHARED, ws_fd, 0);
        if (ws == MAP_FAILED)
            _exit(3);
    }
    unsigned char *anon = mmap(NULL, (size_t)max_bytes, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (anon == MAP_FAILED)
        _exit(4);
    uint64_t held = 0;
    struct pollfd pfd = {.fd = command_fd, .events = POLLIN};
    bool started = false;
    for (;;) {
        /* Until the first command, block; after it, read the working set
         * between commands, a pass every 10 ms at most: often enough that
         * evicted pages are faulted back within a window, without spinning
         * a CPU when the working set is small. */
        int ready = poll(&pfd, 1, started ? 10 : -1);
        if (ready > 0) {
            uint64_t want;
            ssize_t n = read(command_fd, &want, sizeof want);
            if (n == 0)
                _exit(0); /* the parent is gone */
            if (n != (ssize_t)sizeof want)
                _exit(5);
            if (want > max_bytes)
                want = max_bytes;
            for (; held < want; held += page)
                anon[held] = 1;
            started = true;
            unsigned char done = 1;
            if (mb_write_all(reply_fd, &done, 1) < 0)
                _exit(6);
        } else if (ready < 0 && errno != EINTR) {
            _exit(7);
        }
        if (started && ws != NULL)
            touch_working_set(ws, ws_bytes, page);
    }
}

/* ---- the parent --------------------------------------------------------- */

int mbconf_tune_load_start(struct mbconf_tune_load *load, const char *dir, uint64_t ws_bytes,
                           uint64_t max_bytes, const char *procs_file, char *why,
                           size_t why_size)
{
    *load = (struct mbconf_tune_load){.command_fd = -1, .reply_fd = -1};
    if (max_bytes > SIZE_MAX || ws_bytes > SIZE_MAX) {
        snprintf(why, why_size, "the load does not fit this process's address space");
        return -EOVERFLOW;
    }
    int ws_fd = -1;
    int rc = 0;
    if (ws_bytes > 0 && (rc = make_working_set(dir, ws_bytes, &ws_fd, why, why_size)) < 0)
        return rc;
    int command[2], reply[2];
    if (pipe2(command, O_CLOEXEC) != 0) {
        rc = -errno;
        snprintf(why, why_size, "pipe: %s", strerror(-rc));
        goto out;
    }
    if (pipe2(reply, O_CLOEXEC) != 0) {
        rc = -errno;
        snprintf(why, why_size, "pipe: %s", strerror(-rc));
        close(command[0]);
        close(command[1]);
        goto out;
    }
    pid_t pid = fork();
    if (pid < 0) {
        rc = -errno;
        snprintf(why, why_size, "fork: %s", strerror(-rc));
        close(command[0]);
        close(command[1]);
        close(reply[0]);
        close(reply[1]);
        goto out;
    }
    if (pid == 0) {
        close(command[1]);
        close(reply[0]);
        load_main(command[0], reply[1], ws_fd, ws_bytes, max_bytes);
    }
    close(command[0]);
    close(reply[1]);
    load->pid = pid;
    load->command_fd = command[1];
    load->reply_fd = reply[0];
    if (procs_file != NULL) {
        int fd = open(procs_file, O_WRONLY | O_CLOEXEC);
        char text[32];
        int len = snprintf(text, sizeof text, "%ld\n", (long)pid);
        rc = fd < 0 ? -errno : mb_write_all(fd, text, (size_t)len);
        if (fd >= 0)
            close(fd);
        if (rc < 0) {
            snprintf(why, why_size, "cannot move the load into %s: %s", procs_file, strerror(-rc));
            mbconf_tune_load_stop(load);
        }
    }
out:
    if (ws_fd >= 0)
        close(ws_fd);
    return rc;
}

bool mbconf_tune_load_alive(struct mbconf_tune_load *load)
{
    if (load->pid <= 0)
        return false;
    int status;
    pid_t got = waitpid(load->pid, &status, WNOHANG);
    if (got == load->pid) {
        load->killed = true;
        load->wait_status = status;
        load->pid = 0;
        return false;
    }
    return true;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int mbconf_tune_load_hold(struct mbconf_tune_load *load, uint64_t bytes, unsigned timeout_ms)
{
    if (!mbconf_tune_load_alive(load))
        return -ECHILD;
    if (mb_write_all(load->command_fd, &bytes, sizeof bytes) < 0) {
        (void)mbconf_tune_load_alive(load);
        return -ECHILD;
    }
    uint64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        struct pollfd pfd = {.fd = load->reply_fd, .events = POLLIN};
        uint64_t now = now_ms();
        if (now >= deadline)
            return -ETIMEDOUT;
        uint64_t wait = deadline - now;
        int ready = poll(&pfd, 1, wait > 200 ? 200 : (int)wait);
        if (ready > 0) {
            unsigned char done;
            ssize_t n = read(load->reply_fd, &done, 1);
            if (n == 1)
                return 0;
            /* EOF: the load died while touching its memory. */
            for (int i = 0; i < 50 && mbconf_tune_load_alive(load); i++)
                poll(NULL, 0, 20);
            return -ECHILD;
        }
        if (ready < 0 && errno != EINTR)
            return -errno;
        if (!mbconf_tune_load_alive(load))
            return -ECHILD;
    }
}

void mbconf_tune_load_stop(struct mbconf_tune_load *load)
{
    if (load->pid > 0) {
        kill(load->pid, SIGKILL);
        int status;
        while (waitpid(load->pid, &status, 0) < 0 && errno == EINTR) {
        }
        load->pid = 0;
    }
    if (load->command_fd >= 0)
        close(load->command_fd);
    if (load->reply_fd >= 0)
        close(load->reply_fd);
    load->command_fd = load->reply_fd = -1;
}
