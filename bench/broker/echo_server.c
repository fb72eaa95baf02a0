/* echo_server.c: the physical limit the broker is measured against.
 *
 * A bare AF_UNIX SOCK_SEQPACKET echo server built the way mbserver is
 * (epoll, non-blocking sockets, one process): whatever a broker adds on top
 * of this round trip is the broker's own cost.
 */
#include "echo_server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int listen_on(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
    unlink(path);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 4096) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

static void serve(int lfd)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    struct epoll_event events[64];
    char buf[512];
    for (;;) {
        int n = epoll_wait(ep, events, 64, -1);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
                continue;
            }
            for (;;) {
                ssize_t got = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
                if (got > 0) {
                    if (send(fd, buf, (size_t)got, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN)
                        break;
                    continue;
                }
                if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                    close(fd);
                }
                break;
            }
        }
    }
}

pid_t bench_echo_server_start(const char *path)
{
    int lfd = listen_on(path);
    if (lfd < 0) {
        fprintf(stderr, "echo server: cannot listen on %s: %s\n", path, strerror(-lfd));
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGPIPE, SIG_IGN);
        serve(lfd);
        _exit(0);
    }
    close(lfd);
    return pid;
}
