/* server.c: see server.h. The loop's whole life: accept, read, feed the
 * engine, send its outbox, close what it says, arm the timer it asks for. */
#include "broker/server.h"

#include "broker/listener.h"
#include "broker/sd_daemon.h"
#include "common/clock.h"
#include "common/log.h"
#include "proto/codec.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

/* epoll tags: the kind in the high 32 bits, a connection slot in the low. */
enum event_kind { EV_LISTEN = 1, EV_SIGNAL = 2, EV_TIMER = 3, EV_CONN = 4 };
#define TAG(kind, index) (((uint64_t)(kind) << 32) | (uint64_t)(index))

/* Accepts per wakeup: a connection flood cannot starve the clients. */
#define ACCEPTS_PER_WAKEUP 64
/* After accept fails for lack of fds, the listener rests this long. */
#define ACCEPT_BACKOFF_NS (100u * 1000u * 1000u)

struct queued_message {
    uint16_t len;
    uint8_t bytes[MB_PROTO_MAX_SMALL];
};

struct connection {
    int fd;              /* -1: slot unused by the loop */
    bool closing;        /* on the close list already */
    bool want_out;       /* EPOLLOUT registered */
    uint32_t queue_head; /* ring of send_queue_depth messages */
    uint32_t queue_len;
};

struct mb_server {
    struct mb_server_options opts;
    struct mb_broker *broker;
    int epoll_fd, listen_fd, signal_fd, timer_fd;
    bool made_socket;      /* we bound it, so we unlink it */
    bool listen_paused;    /* resting after EMFILE */
    uint64_t listen_resume_at;
    uint64_t armed_deadline; /* what timer_fd is set to (UINT64_MAX: disarmed) */
    uint64_t refusal_logged_at; /* a flood of refusals is logged once per interval */
    uint64_t refusals_unlogged;
    uint32_t max_conns;
    struct connection *conns;        /* [max_conns] */
    struct queued_message *queues;   /* [max_conns * send_queue_depth] */
    mb_conn_t *to_close;             /* [max_conns] */
    uint32_t to_close_count;
    uint8_t packet[MB_PROTO_MAX_MESSAGE + 1]; /* +1 detects an oversize packet */
    uint8_t outbuf[MB_PROTO_MAX_MESSAGE];
    uint8_t logged_pressure; /* the level last logged */
    bool stop;
};

void mb_server_options_defaults(struct mb_server_options *opts, uint64_t total_pages,
                                uint32_t page_size)
{
    memset(opts, 0, sizeof *opts);
    mb_broker_config_defaults(&opts->broker, total_pages, page_size);
    opts->socket_path = "/run/membroker/socket";
    opts->socket_mode = 0660;
    opts->socket_group = (gid_t)-1;
    opts->listen_fd = -1;
    opts->send_queue_depth = 8;
    opts->packets_per_wakeup = 16;
}

int mb_server_block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -errno;
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        return -errno;
    return 0;
}

static int epoll_add(int epfd, int fd, uint32_t events, uint64_t tag)
{
    struct epoll_event ev = {.events = events, .data.u64 = tag};
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int epoll_mod(int epfd, int fd, uint32_t events, uint64_t tag)
{
    struct epoll_event ev = {.events = events, .data.u64 = tag};
    return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

static bool id_listed(const uint32_t *ids, size_t count, uint32_t id)
{
    for (size_t i = 0; i < count; i++)
        if (ids[i] == id)
            return true;
    return false;
}

static bool peer_allowed(const struct mb_server_options *o, const struct mb_peer_cred *cred)
{
    if (cred->uid == 0 || (o->allow_uid_count == 0 && o->allow_gid_count == 0))
        return true;
    return id_listed(o->allow_uids, o->allow_uid_count, (uint32_t)cred->uid) ||
           id_listed(o->allow_gids, o->allow_gid_count, (uint32_t)cred->gid);
}

static bool peer_privileged(const struct mb_server_options *o, const struct mb_peer_cred *cred)
{
    return cred->uid == 0 ||
           id_listed(o->privileged_uids, o->privileged_uid_count, (uint32_t)cred->uid);
}

/* ---- sending ---------------------------------------------------------- */

static void schedule_close(struct mb_server *s, mb_conn_t conn)
{
    struct connection *c = &s->conns[conn];
    if (c->fd < 0 || c->closing)
        return;
    c->closing = true;
    s->to_close[s->to_close_count++] = conn;
}

static struct queued_message *queue_slot(struct mb_server *s, mb_conn_t conn, uint32_t i)
{
    uint32_t depth = s->opts.send_queue_depth;
    return &s->queues[(size_t)conn * depth + (s->conns[conn].queue_head + i) % depth];
}

static void set_want_out(struct mb_server *s, mb_conn_t conn, bool want)
{
    struct connection *c = &s->conns[conn];
    if (c->want_out == want)
        return;
    uint32_t events = EPOLLIN | EPOLLRDHUP | (want ? (uint32_t)EPOLLOUT : 0u);
    if (epoll_mod(s->epoll_fd, c->fd, events, TAG(EV_CONN, conn)) == 0)
        c->want_out = want;
}

/* Sends one packet to conn, or queues it when the socket is full. A client
 * whose queue overflows has stopped reading: it is disconnected. */
static void conn_send(struct mb_server *s, mb_conn_t conn, const uint8_t *buf, size_t len)
{
    struct connection *c = &s->conns[conn];
    if (c->fd < 0 || c->closing)
        return;
    if (c->queue_len == 0) {
        ssize_t sent = send(c->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (sent >= 0)
            return;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) {
            schedule_close(s, conn); /* peer gone: EPIPE, ECONNRESET */
            return;
        }
    }
    if (c->queue_len >= s->opts.send_queue_depth || len > MB_PROTO_MAX_SMALL) {
        mb_log(MB_LOG_WARNING, "client slot %u stopped reading its socket: disconnecting it",
               (unsigned)conn);
        schedule_close(s, conn);
        return;
    }
    struct queued_message *q = queue_slot(s, conn, c->queue_len);
    q->len = (uint16_t)len;
    memcpy(q->bytes, buf, len);
    c->queue_len++;
    set_want_out(s, conn, true);
}

static void conn_flush(struct mb_server *s, mb_conn_t conn)
{
    struct connection *c = &s->conns[conn];
    while (c->queue_len > 0) {
        struct queued_message *q = queue_slot(s, conn, 0);
        ssize_t sent = send(c->fd, q->bytes, q->len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS)
                schedule_close(s, conn);
            return;
        }
        c->queue_head = (c->queue_head + 1) % s->opts.send_queue_depth;
        c->queue_len--;
    }
    set_want_out(s, conn, false);
}

/* Sends the engine's outbox and takes its close list. */
static void drain_engine(struct mb_server *s)
{
    size_t n = mb_broker_output_count(s->broker);
    for (size_t i = 0; i < n; i++) {
        const struct mb_broker_output *out = mb_broker_output_at(s->broker, i);
        int len = mb_broker_output_encode(s->broker, i, s->outbuf, sizeof s->outbuf);
        if (len < 0) {
            mb_log(MB_LOG_ERR, "cannot encode a message for slot %u: error %d", (unsigned)out->conn,
                   len);
            continue;
        }
        conn_send(s, out->conn, s->outbuf, (size_t)len);
    }
    size_t closes = mb_broker_close_count(s->broker);
    for (size_t i = 0; i < closes; i++)
        schedule_close(s, mb_broker_close_at(s->broker, i));
}

/* Closes what must be closed. Closing returns quota, which may complete
 * other requests: each disconnect is an engine event whose outbox is sent. */
static void process_closes(struct mb_server *s, uint64_t now)
{
    while (s->to_close_count > 0) {
        mb_conn_t conn = s->to_close[--s->to_close_count];
        struct connection *c = &s->conns[conn];
        if (c->queue_len > 0)
            conn_flush(s, conn); /* last words (an ERROR) if the socket takes them */
        epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        *c = (struct connection){.fd = -1};
        mb_broker_disconnect(s->broker, conn, now);
        drain_engine(s);
    }
}

/* After every engine event (and only then: the outbox stays filled until
 * the next event, so draining twice would send twice). */
/* The broker's reaction to a new pressure level goes to the log once per
 * change, so an operator sees it beside the clients' give-backs. */
static void log_pressure_change(struct mb_server *s)
{
    uint8_t level = mb_broker_pressure(s->broker);
    if (level == s->logged_pressure)
        return;
    struct mb_status_summary sum;
    mb_broker_summary(s->broker, &sum);
    const char *reaction =
        level == MB_PRESSURE_CRITICAL
            ? "keeping PRESSURE_RESERVE of the pool free, asking bidirectional clients urgently"
        : level == MB_PRESSURE_MODERATE
            ? "keeping PRESSURE_RESERVE of the pool free, asking bidirectional clients at "
              "normal urgency"
            : "reserve released";
    mb_log(level == MB_PRESSURE_NONE ? MB_LOG_NOTICE : MB_LOG_WARNING,
           "kernel memory pressure %s (was %s): %s; pool %llu of %llu pages",
           mb_proto_pressure_name(level), mb_proto_pressure_name(s->logged_pressure), reaction,
           (unsigned long long)sum.pool, (unsigned long long)sum.total);
    s->logged_pressure = level;
}

static void after_event(struct mb_server *s, uint64_t now)
{
    drain_engine(s);
    process_closes(s, now);
    log_pressure_change(s);
}

/* ---- events ----------------------------------------------------------- */

static void refuse(int fd, uint32_t code)
{
    uint8_t buf[MB_PROTO_MAX_SMALL];
    int len;
    if (code == MB_ERR_TOO_MANY_CLIENTS) {
        len = mb_broker_encode_refusal(buf, sizeof buf);
    } else {
        struct mb_msg msg = {.type = MB_MSG_ERROR, .u.error = {.code = code}};
        len = mb_proto_encode(&msg, buf, sizeof buf);
    }
    if (len > 0)
        (void)send(fd, buf, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL);
    close(fd);
}

#define REFUSAL_LOG_INTERVAL_NS (10ull * 1000u * 1000u * 1000u)

static void log_refusal(struct mb_server *s, pid_t pid, uint64_t now)
{
    if (s->refusal_logged_at != 0 && now - s->refusal_logged_at < REFUSAL_LOG_INTERVAL_NS) {
        s->refusals_unlogged++;
        return;
    }
    mb_log(MB_LOG_WARNING,
           "refused pid %ld: all %u client slots are in use (MAX_CLIENTS); %llu more refused "
           "since the last report",
           (long)pid, (unsigned)s->max_conns, (unsigned long long)s->refusals_unlogged);
    s->refusal_logged_at = now;
    s->refusals_unlogged = 0;
}

static void handle_accept(struct mb_server *s, uint64_t now)
{
    for (int i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
        struct mb_peer_cred cred;
        int fd = mb_listener_accept(s->listen_fd, &cred);
        if (fd == -EAGAIN || fd == -EINTR || fd == -ECONNABORTED)
            return;
        if (fd < 0) {
            if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
                /* Out of fds: rest the listener instead of spinning on it. */
                mb_log(MB_LOG_WARNING, "cannot accept: %s; pausing new connections",
                       strerror(-fd));
                epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, s->listen_fd, NULL);
                s->listen_paused = true;
                s->listen_resume_at = now + ACCEPT_BACKOFF_NS;
            } else {
                mb_log(MB_LOG_ERR, "accept: %s", strerror(-fd));
            }
            return;
        }
        if (!peer_allowed(&s->opts, &cred)) {
            mb_log(MB_LOG_NOTICE, "refused pid %ld uid %lu gid %lu: not in ALLOW_UIDS/ALLOW_GIDS",
                   (long)cred.pid, (unsigned long)cred.uid, (unsigned long)cred.gid);
            refuse(fd, MB_ERR_NOT_PERMITTED);
            continue;
        }
        struct mb_broker_peer peer = {
            .pid = (uint32_t)cred.pid,
            .uid = (uint32_t)cred.uid,
            .gid = (uint32_t)cred.gid,
            .privileged = peer_privileged(&s->opts, &cred),
        };
        (void)mb_peer_comm(cred.pid, NULL, peer.exe, sizeof peer.exe);
        mb_conn_t conn;
        int rc = mb_broker_connect(s->broker, &peer, now, &conn);
        if (rc < 0 || conn >= s->max_conns) {
            log_refusal(s, cred.pid, now);
            refuse(fd, MB_ERR_TOO_MANY_CLIENTS);
            continue;
        }
        s->conns[conn] = (struct connection){.fd = fd};
        if (epoll_add(s->epoll_fd, fd, EPOLLIN | EPOLLRDHUP, TAG(EV_CONN, conn)) < 0) {
            mb_log(MB_LOG_ERR, "epoll_ctl for a new client: %m");
            schedule_close(s, conn);
        }
        after_event(s, now); /* the connect event's outbox (normally empty) */
    }
}

static void handle_readable(struct mb_server *s, mb_conn_t conn, uint32_t events, uint64_t now)
{
    struct connection *c = &s->conns[conn];
    for (uint32_t i = 0; i < s->opts.packets_per_wakeup && c->fd >= 0 && !c->closing; i++) {
        ssize_t got = recv(c->fd, s->packet, sizeof s->packet, MSG_DONTWAIT);
        if (got < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                break;
            schedule_close(s, conn);
            break;
        }
        if (got == 0 && (events & (EPOLLRDHUP | EPOLLHUP))) {
            schedule_close(s, conn); /* orderly hang-up */
            break;
        }
        /* An empty packet, or one past the maximum (got == sizeof packet), is
         * the engine's to refuse with a precise error. */
        mb_broker_receive(s->broker, conn, s->packet, (size_t)got, now);
        after_event(s, now);
    }
    if (c->fd >= 0 && !c->closing && (events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLIN))
        schedule_close(s, conn);
    process_closes(s, now);
}

static void handle_signal(struct mb_server *s)
{
    struct signalfd_siginfo info;
    while (read(s->signal_fd, &info, sizeof info) == (ssize_t)sizeof info) {
        if (info.ssi_signo == SIGHUP) {
            mb_log(MB_LOG_NOTICE, "SIGHUP: reloading the config is not supported; restart "
                                  "mbserver to apply a new one (clients re-register)");
            continue;
        }
        mb_log(MB_LOG_NOTICE, "signal %u: shutting down", (unsigned)info.ssi_signo);
        s->stop = true;
    }
}

static void arm_timer(struct mb_server *s)
{
    uint64_t deadline = mb_broker_next_deadline(s->broker);
    if (s->listen_paused && s->listen_resume_at < deadline)
        deadline = s->listen_resume_at;
    if (deadline == s->armed_deadline)
        return;
    struct itimerspec spec = {0};
    if (deadline != UINT64_MAX) {
        spec.it_value = mb_ns_to_timespec(deadline == 0 ? 1 : deadline);
    }
    if (timerfd_settime(s->timer_fd, TFD_TIMER_ABSTIME, &spec, NULL) == 0)
        s->armed_deadline = deadline;
}

static void handle_timer(struct mb_server *s, uint64_t now)
{
    uint64_t expirations;
    (void)!read(s->timer_fd, &expirations, sizeof expirations);
    s->armed_deadline = UINT64_MAX; /* one-shot: it fired */
    if (s->listen_paused && now >= s->listen_resume_at) {
        if (epoll_add(s->epoll_fd, s->listen_fd, EPOLLIN, TAG(EV_LISTEN, 0)) == 0)
            s->listen_paused = false;
        else
            s->listen_resume_at = now + ACCEPT_BACKOFF_NS;
    }
    mb_broker_timer(s->broker, now);
    after_event(s, now);
}

/* ---- life ------------------------------------------------------------- */

int mb_server_create(const struct mb_server_options *opts, struct mb_server **out)
{
    *out = NULL;
    if (opts->send_queue_depth == 0 || opts->packets_per_wakeup == 0)
        return -EINVAL;
    struct mb_server *s = calloc(1, sizeof *s);
    if (s == NULL)
        return -ENOMEM;
    s->opts = *opts;
    s->epoll_fd = s->listen_fd = s->signal_fd = s->timer_fd = -1;
    s->armed_deadline = UINT64_MAX;
    s->max_conns = opts->broker.max_clients;
    int rc = -ENOMEM;
    s->conns = calloc(s->max_conns, sizeof *s->conns);
    s->queues = calloc((size_t)s->max_conns * opts->send_queue_depth, sizeof *s->queues);
    s->to_close = calloc(s->max_conns, sizeof *s->to_close);
    if (s->conns == NULL || s->queues == NULL || s->to_close == NULL)
        goto fail;
    for (uint32_t i = 0; i < s->max_conns; i++)
        s->conns[i].fd = -1;

    rc = mb_broker_create(&opts->broker, mb_clock_monotonic_ns(), &s->broker);
    if (rc < 0) {
        mb_log(MB_LOG_ERR, "invalid broker configuration (error %d)", rc);
        goto fail;
    }

    if (opts->listen_fd >= 0) {
        s->listen_fd = opts->listen_fd;
    } else {
        struct mb_listener_options lo = {.path = opts->socket_path,
                                         .mode = opts->socket_mode,
                                         .group = opts->socket_group,
                                         .backlog = 128};
        rc = mb_listener_open(&lo);
        if (rc < 0) {
            if (rc == -EADDRINUSE)
                mb_log(MB_LOG_ERR, "%s: another mbserver is already serving this socket",
                       opts->socket_path);
            else
                mb_log(MB_LOG_ERR, "cannot listen on %s: %s", opts->socket_path, strerror(-rc));
            goto fail;
        }
        s->listen_fd = rc;
        s->made_socket = true;
    }

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    s->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (s->signal_fd < 0 || s->timer_fd < 0 || s->epoll_fd < 0) {
        rc = -errno;
        mb_log(MB_LOG_ERR, "cannot create the event loop's fds: %m");
        goto fail;
    }
    if ((rc = epoll_add(s->epoll_fd, s->listen_fd, EPOLLIN, TAG(EV_LISTEN, 0))) < 0 ||
        (rc = epoll_add(s->epoll_fd, s->signal_fd, EPOLLIN, TAG(EV_SIGNAL, 0))) < 0 ||
        (rc = epoll_add(s->epoll_fd, s->timer_fd, EPOLLIN, TAG(EV_TIMER, 0))) < 0) {
        mb_log(MB_LOG_ERR, "epoll_ctl: %s", strerror(-rc));
        goto fail;
    }
    *out = s;
    return 0;

fail:
    mb_server_destroy(s);
    return rc;
}

int mb_server_run(struct mb_server *s)
{
    struct epoll_event events[64];
    (void)mb_sd_notify(s->opts.notify_socket, "READY=1\nSTATUS=serving");
    mb_log(MB_LOG_INFO, "serving %llu pages of %u bytes, at most %u clients",
           (unsigned long long)s->opts.broker.total_pages, (unsigned)s->opts.broker.page_size,
           (unsigned)s->max_conns);
    while (!s->stop) {
        arm_timer(s);
        int n = epoll_wait(s->epoll_fd, events, (int)(sizeof events / sizeof events[0]), -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            mb_log(MB_LOG_ERR, "epoll_wait: %m");
            return -errno;
        }
        uint64_t now = mb_clock_monotonic_ns();
        for (int i = 0; i < n; i++) {
            uint64_t tag = events[i].data.u64;
            uint32_t index = (uint32_t)(tag & 0xffffffffu);
            switch ((enum event_kind)(tag >> 32)) {
            case EV_LISTEN:
                handle_accept(s, now);
                break;
            case EV_SIGNAL:
                handle_signal(s);
                break;
            case EV_TIMER:
                handle_timer(s, now);
                break;
            case EV_CONN:
                if (index >= s->max_conns || s->conns[index].fd < 0)
                    break; /* closed earlier in this batch */
                if (events[i].events & EPOLLOUT)
                    conn_flush(s, index);
                if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                    handle_readable(s, index, events[i].events, now);
                else
                    process_closes(s, now);
                break;
            }
        }
    }
    (void)mb_sd_notify(s->opts.notify_socket, "STOPPING=1");
    return 0;
}

void mb_server_destroy(struct mb_server *s)
{
    if (s == NULL)
        return;
    if (s->conns != NULL) {
        for (uint32_t i = 0; i < s->max_conns; i++)
            if (s->conns[i].fd >= 0)
                close(s->conns[i].fd);
    }
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->made_socket)
        (void)mb_listener_unlink(s->opts.socket_path);
    if (s->signal_fd >= 0)
        close(s->signal_fd);
    if (s->timer_fd >= 0)
        close(s->timer_fd);
    if (s->epoll_fd >= 0)
        close(s->epoll_fd);
    mb_broker_destroy(s->broker);
    free(s->conns);
    free(s->queues);
    free(s->to_close);
    free(s);
}

const struct mb_broker *mb_server_broker(const struct mb_server *s)
{
    return s->broker;
}
