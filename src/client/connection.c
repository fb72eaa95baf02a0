/* connection.c: the socket's life: connect and handshake, loss, backoff,
 * sending, and the descriptors an application polls.
 *
 * The socket is non-blocking; every wait is a poll() with a deadline, so no
 * call can block longer than it says. A lost connection is noticed by the
 * reader (end of file) or by a send that fails; the next call, or the
 * dispatcher woken by the reconnect timer, connects again and re-declares
 * the balance in HELLO.
 */
#include "client/client_internal.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

uint64_t mb_cl_client_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t mb_cl_client_deadline_after(uint32_t timeout_ms)
{
    if (timeout_ms == MB_CLIENT_WAIT_FOREVER)
        return UINT64_MAX;
    return mb_cl_client_now_ns() + (uint64_t)timeout_ms * 1000000u;
}

int mb_cl_conn_wait_fd(int fd, short events, uint64_t deadline_ns)
{
    for (;;) {
        int ms = -1;
        if (deadline_ns != UINT64_MAX) {
            uint64_t now = mb_cl_client_now_ns();
            if (now >= deadline_ns)
                ms = 0;
            else {
                uint64_t left = (deadline_ns - now + 999999u) / 1000000u;
                ms = left > INT32_MAX ? INT32_MAX : (int)left;
            }
        }
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, ms);
        if (n > 0)
            return 0;
        if (n == 0)
            return -ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
    }
}

/* ---- the descriptors an application polls ---- */

int mb_cl_conn_open_fds(struct client_state *s)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        return -errno;
    int ev = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ev < 0) {
        int err = -errno;
        close(ep);
        return err;
    }
    int tm = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (tm < 0) {
        int err = -errno;
        close(ep);
        close(ev);
        return err;
    }
    s->poll_fd = ep;
    s->notify_fd = ev;
    s->timer_fd = tm;
    return 0;
}

void mb_cl_conn_watch_fds(struct client_state *s)
{
    struct epoll_event e = {.events = EPOLLIN};
    e.data.fd = s->notify_fd;
    epoll_ctl(s->poll_fd, EPOLL_CTL_ADD, s->notify_fd, &e);
    e.data.fd = s->timer_fd;
    epoll_ctl(s->poll_fd, EPOLL_CTL_ADD, s->timer_fd, &e);
}

void mb_cl_conn_close_fds(struct client_state *s)
{
    int *fds[] = {&s->sock, &s->poll_fd, &s->notify_fd, &s->timer_fd};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
    s->connected = false;
}

/* Arms the reconnect timer for `at_ns` (0: disarm). */
static void timer_set(struct client_state *s, uint64_t at_ns)
{
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    if (at_ns != 0) {
        its.it_value.tv_sec = (time_t)(at_ns / 1000000000u);
        its.it_value.tv_nsec = (long)(at_ns % 1000000000u);
    }
    timerfd_settime(s->timer_fd, at_ns != 0 ? TFD_TIMER_ABSTIME : 0, &its, NULL);
}

void mb_cl_conn_timer_drain(struct client_state *s)
{
    uint64_t expirations;
    while (read(s->timer_fd, &expirations, sizeof expirations) > 0)
        ;
}

/* ---- connecting ---- */

/* The server refuses a connection (ALLOW_UIDS/ALLOW_GIDS, MAX_CLIENTS) by
 * sending ERROR with cookie 0 and closing at once, often before it read our
 * HELLO. The kernel then reports the close first (ECONNRESET from recv, or
 * EPIPE from send), but the ERROR is still queued behind that report.
 * Returns the server's reason from the queue, or -ECONNRESET when it holds
 * none. Never blocks. */
static int refusal_reason(int fd, uint32_t hello_cookie)
{
    /* The reset may be reported more than once before what was queued;
     * a few reads reach it. */
    for (int i = 0; i < 8; i++) {
        uint8_t in[MB_PROTO_MAX_MESSAGE];
        ssize_t n = recv(fd, in, sizeof in, MSG_DONTWAIT);
        if (n < 0 && (errno == ECONNRESET || errno == EINTR))
            continue;
        if (n <= 0)
            return -ECONNRESET;
        struct mb_msg m;
        if (mb_proto_decode(in, (size_t)n, &m) == 0 && m.type == MB_MSG_ERROR &&
            (m.cookie == 0 || m.cookie == hello_cookie))
            return mb_cl_error_from_reply(&m);
    }
    return -ECONNRESET;
}

/* Opens the socket and exchanges HELLO/WELCOME by deadline_ns. Returns 0
 * (s->sock set, books updated) or a negative error: a refusal is the
 * server's reason (MB_CLIENT_ERR(code)), not the transport's. */
static int connect_once(struct client_state *s, uint64_t deadline_ns)
{
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, s->socket_path, sizeof addr.sun_path);

    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (const struct sockaddr *)&addr, sizeof addr) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }

    struct mb_msg hello;
    memset(&hello, 0, sizeof hello);
    hello.type = MB_MSG_HELLO;
    hello.cookie = mb_cl_cookie_next(s);
    hello.u.hello.kind = s->kind;
    memcpy(hello.u.hello.name, s->name, sizeof hello.u.hello.name);
    memcpy(hello.u.hello.class_name, s->class_name, sizeof hello.u.hello.class_name);
    hello.u.hello.capacity = s->capacity;
    hello.u.hello.held = s->balance;
    uint8_t out[MB_PROTO_MAX_SMALL];
    int len = mb_proto_encode(&hello, out, sizeof out);
    if (len < 0) {
        close(fd);
        return len;
    }
    if (send(fd, out, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT) != len) {
        int err = errno == EPIPE || errno == ECONNRESET ? refusal_reason(fd, hello.cookie)
                                                         : -errno;
        close(fd);
        return err;
    }

    int rc;
    for (;;) {
        rc = mb_cl_conn_wait_fd(fd, POLLIN, deadline_ns);
        if (rc < 0)
            break;
        uint8_t in[MB_PROTO_MAX_MESSAGE];
        ssize_t n = recv(fd, in, sizeof in, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0) {
            rc = n == 0 || errno == ECONNRESET ? refusal_reason(fd, hello.cookie) : -ECONNRESET;
            break;
        }
        struct mb_msg reply;
        if (mb_proto_decode(in, (size_t)n, &reply) < 0) {
            rc = -EPROTO;
            break;
        }
        /* An ERROR with cookie 0 is a refusal of the connection itself. */
        if (reply.type == MB_MSG_ERROR && (reply.cookie == 0 || reply.cookie == hello.cookie)) {
            rc = mb_cl_error_from_reply(&reply);
            break;
        }
        if (reply.cookie != hello.cookie) {
            rc = -EPROTO;
            break;
        }
        if (reply.type != MB_MSG_WELCOME || reply.u.welcome.page_size == 0) {
            rc = -EPROTO;
            break;
        }
        s->client_id = reply.u.welcome.client_id;
        s->page_size = reply.u.welcome.page_size;
        s->total = reply.u.welcome.total;
        s->balance = reply.u.welcome.balance;
        s->sock = fd;
        return 0;
    }
    close(fd);
    return rc;
}

/* Sleeps until `at_ns` with the lock released. */
static void sleep_unlocked(struct client_state *s, uint64_t at_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(at_ns / 1000000000u),
                          .tv_nsec = (long)(at_ns % 1000000000u)};
    mb_cl_client_unlock(s);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
    pthread_mutex_lock(&s->lock);
}

/* One connect attempt whose handshake ends by deadline_ns; on failure the
 * next attempt is scheduled one backoff step later. */
static int attempt(struct client_state *s, uint64_t deadline_ns)
{
    int rc = connect_once(s, deadline_ns);
    if (rc == 0) {
        s->connected = true;
        s->ever_connected = true;
        s->generation++;
        s->last_connect_error = 0;
        s->next_attempt_ns = 0;
        s->backoff_ms = MB_CLIENT_BACKOFF_MIN_MS;
        timer_set(s, 0);
        mb_cl_conn_timer_drain(s);
        struct epoll_event e = {.events = EPOLLIN};
        e.data.fd = s->sock;
        epoll_ctl(s->poll_fd, EPOLL_CTL_ADD, s->sock, &e);
        return 0;
    }
    s->last_connect_error = rc;
    s->next_attempt_ns = mb_cl_client_now_ns() + (uint64_t)s->backoff_ms * 1000000u;
    s->backoff_ms = s->backoff_ms * 2 > MB_CLIENT_BACKOFF_MAX_MS ? MB_CLIENT_BACKOFF_MAX_MS
                                                                : s->backoff_ms * 2;
    timer_set(s, s->next_attempt_ns);
    return rc;
}

int mb_cl_conn_try(struct client_state *s)
{
    if (s->connected)
        return 0;
    if (mb_cl_client_now_ns() < s->next_attempt_ns)
        return s->last_connect_error;
    return attempt(s, mb_cl_client_deadline_after(MB_CLIENT_CONNECT_TIMEOUT_MS));
}

int mb_cl_conn_ensure(struct client_state *s, uint64_t deadline_ns)
{
    while (!s->connected) {
        uint64_t now = mb_cl_client_now_ns();
        if (now < s->next_attempt_ns) {
            if (s->next_attempt_ns > deadline_ns)
                return s->last_connect_error;
            sleep_unlocked(s, s->next_attempt_ns);
            continue; /* another thread may have connected meanwhile */
        }
        /* An attempt, once started, gets its whole handshake time: cutting
         * it short would fail calls with short timeouts against a healthy
         * server. The call's timeout bounds the waits between attempts. */
        int rc = attempt(s, now + (uint64_t)MB_CLIENT_CONNECT_TIMEOUT_MS * 1000000u);
        if (rc == 0)
            return 0;
        /* The server answered no (it refused the connection or the HELLO):
         * asking again at once would get the same answer. */
        if (rc <= -(int)MB_CLIENT_ERR_BASE || mb_cl_client_now_ns() >= deadline_ns)
            return rc;
    }
    return 0;
}

void mb_cl_conn_lost(struct client_state *s)
{
    if (s->sock >= 0) {
        epoll_ctl(s->poll_fd, EPOLL_CTL_DEL, s->sock, NULL);
        close(s->sock);
    }
    s->sock = -1;
    s->connected = false;
    s->pending = false;
    s->reclaim_cookie = 0; /* the server forgets it: nothing was repaid */
    mb_cl_giveback_reset(s);
    mb_cl_waiters_fail_all(s, -ECONNRESET);
    /* The first attempt after a working connection is immediate; the timer
     * wakes a poll loop so that its dispatch reconnects. */
    s->next_attempt_ns = 0;
    s->backoff_ms = MB_CLIENT_BACKOFF_MIN_MS;
    s->last_connect_error = -ECONNRESET;
    timer_set(s, mb_cl_client_now_ns());
}

int mb_cl_conn_send(struct client_state *s, const struct mb_msg *msg)
{
    if (!s->connected)
        return -ECONNRESET;
    uint8_t out[MB_PROTO_MAX_SMALL];
    int len = mb_proto_encode(msg, out, sizeof out);
    if (len < 0)
        return len;
    uint64_t deadline = mb_cl_client_deadline_after(MB_CLIENT_CONNECT_TIMEOUT_MS);
    for (;;) {
        ssize_t n = send(s->sock, out, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n == len)
            return 0;
        int err = n < 0 ? errno : EPROTO;
        if (err == EINTR)
            continue;
        if (err == EAGAIN) {
            /* The server is not reading; a bounded wait, then give up. */
            int rc = mb_cl_conn_wait_fd(s->sock, POLLOUT, deadline);
            if (rc < 0)
                return rc;
            continue;
        }
        if (err == EPIPE || err == ECONNRESET || err == ENOTCONN) {
            /* A thread reading the socket will see the end of file and
             * clean up; closing under it could let the number be reused. */
            if (!s->reader_busy)
                mb_cl_conn_lost(s);
            return -ECONNRESET;
        }
        return -err;
    }
}
