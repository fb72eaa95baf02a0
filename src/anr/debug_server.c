/* debug_server.c: the optional debug socket. An application that wants it
 * calls anr_debug_server_start: a thread listens on a Unix stream socket
 * and answers every connection with anr_heap_debug_serve (statistics, the
 * flight recorder, the leak report), then closes it. The heap itself never
 * starts threads or opens sockets; this file does, on request, and is
 * outside the real-time guarantee (docs/anr.md "The debug socket").
 */
#include "anr/anr_malloc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

/* A client that stops reading gives up its connection after this long. */
#define SEND_TIMEOUT_S 5

struct anr_debug_server {
    anr_heap *heap;
    int listen_fd;
    int wake[2]; /* stop writes a byte to wake[1] */
    pthread_t thread;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static void serve_one(struct anr_debug_server *s, int fd)
{
    struct timeval tv = {.tv_sec = SEND_TIMEOUT_S, .tv_usec = 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    (void)anr_heap_debug_serve(s->heap, fd);
    close(fd);
}

static void *server_main(void *arg)
{
    struct anr_debug_server *s = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = s->listen_fd, .events = POLLIN},
                              {.fd = s->wake[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents != 0)
            break;
        if (p[0].revents & POLLIN) {
            int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0)
                serve_one(s, fd);
        }
    }
    return NULL;
}

static int listen_at(const char *path, int *out)
{
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n == 0)
        return -EINVAL;
    if (n >= sizeof a.sun_path)
        return -ENAMETOOLONG;
    memcpy(a.sun_path, path, n + 1u);
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        (void)unlink(path); /* a stale socket of an earlier run */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (const struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 8) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    *out = fd;
    return 0;
}

int anr_debug_server_start(anr_heap *heap, const char *unix_path, struct anr_debug_server **out)
{
    if (heap == NULL || unix_path == NULL || out == NULL)
        return -EINVAL;
    struct anr_debug_server *s = calloc(1, sizeof *s);
    if (s == NULL)
        return -ENOMEM;
    s->heap = heap;
    int rc = listen_at(unix_path, &s->listen_fd);
    if (rc != 0) {
        free(s);
        return rc;
    }
    memcpy(s->path, unix_path, strlen(unix_path) + 1u);
    if (pipe2(s->wake, O_CLOEXEC) != 0) {
        rc = -errno;
        goto fail_listen;
    }
    /* The thread runs with every signal blocked: a client that hangs up
     * mid-report must not raise SIGPIPE in the application. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = -pthread_create(&s->thread, NULL, server_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        goto fail_pipe;
    *out = s;
    return 0;

fail_pipe:
    close(s->wake[0]);
    close(s->wake[1]);
fail_listen:
    close(s->listen_fd);
    (void)unlink(s->path);
    free(s);
    return rc;
}

void anr_debug_server_stop(struct anr_debug_server *s)
{
    if (s == NULL)
        return;
    char b = 1;
    while (write(s->wake[1], &b, 1) < 0 && errno == EINTR)
        ;
    pthread_join(s->thread, NULL);
    close(s->wake[0]);
    close(s->wake[1]);
    close(s->listen_fd);
    (void)unlink(s->path);
    free(s);
}
