/* mb_cl_transact.c: matching replies to the threads that wait for them.
 *
 * Each call takes a waiter slot, sends its message with a fresh cookie and
 * waits. Whoever waits while nobody reads becomes the reader: it polls the
 * socket without the lock, routes every packet it gets (a reply to the slot
 * with its cookie, a GIVEBACK to the queue) and, once its own reply is in,
 * hands the role over by waking the others. So one thread blocked in a
 * RESERVE does not stop another thread's RETURN or QUERY: the RESERVE's
 * thread reads their replies for them.
 */
#include "client/client_internal.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

uint32_t mb_cl_cookie_next(struct client_state *s)
{
    /* 0 is what the server uses for messages that answer nothing. */
    s->next_cookie++;
    if (s->next_cookie == 0)
        s->next_cookie = 1;
    return s->next_cookie;
}

int mb_cl_error_from_reply(const struct mb_msg *reply)
{
    uint32_t code = reply->u.error.code;
    if (code == 0 || code >= MB_ERR_COUNT)
        return -EPROTO;
    return MB_CLIENT_ERR(code);
}

void mb_cl_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *lock, uint64_t deadline_ns)
{
    if (deadline_ns == UINT64_MAX) {
        pthread_cond_wait(cond, lock);
        return;
    }
    struct timespec ts = {.tv_sec = (time_t)(deadline_ns / 1000000000u),
                          .tv_nsec = (long)(deadline_ns % 1000000000u)};
    pthread_cond_timedwait(cond, lock, &ts);
}

void mb_cl_waiters_wake_all(struct client_state *s)
{
    for (size_t i = 0; i < MB_CLIENT_WAITERS; i++)
        if (s->waiters[i].in_use)
            pthread_cond_signal(&s->waiters[i].cond);
}

void mb_cl_waiters_fail_all(struct client_state *s, int err)
{
    for (size_t i = 0; i < MB_CLIENT_WAITERS; i++) {
        struct waiter *w = &s->waiters[i];
        if (w->in_use && !w->done) {
            w->done = true;
            w->result = err;
            pthread_cond_signal(&w->cond);
        }
    }
}

static struct waiter *waiter_find(struct client_state *s, uint32_t cookie)
{
    for (size_t i = 0; i < MB_CLIENT_WAITERS; i++) {
        struct waiter *w = &s->waiters[i];
        if (w->in_use && !w->done && w->cookie == cookie)
            return w;
    }
    return NULL;
}

static int waiter_get(struct client_state *s, uint64_t deadline_ns, struct waiter **out)
{
    for (;;) {
        for (size_t i = 0; i < MB_CLIENT_WAITERS; i++) {
            struct waiter *w = &s->waiters[i];
            if (!w->in_use) {
                w->in_use = true;
                w->done = false;
                w->result = 0;
                w->cookie = 0;
                w->status_buf = NULL;
                w->status_len = 0;
                *out = w;
                return 0;
            }
        }
        if (mb_cl_client_now_ns() >= deadline_ns)
            return -EAGAIN;
        mb_cl_cond_wait_until(&s->slot_free, &s->lock, deadline_ns);
    }
}

static void waiter_release(struct client_state *s, struct waiter *w)
{
    w->in_use = false;
    w->done = false;
    pthread_cond_signal(&s->slot_free);
}

void mb_cl_route_packet(struct client_state *s, const uint8_t *pkt, size_t len)
{
    struct mb_msg m;
    if (mb_proto_decode(pkt, len, &m) < 0) {
        /* Undecodable: fail its waiter, if the header names one. */
        struct mb_msg_header hdr;
        if (mb_proto_peek_header(pkt, len, &hdr) == 0) {
            struct waiter *w = waiter_find(s, hdr.cookie);
            if (w != NULL) {
                w->done = true;
                w->result = -EPROTO;
                pthread_cond_signal(&w->cond);
            }
        }
        return;
    }
    if (m.type == MB_MSG_GIVEBACK) {
        mb_cl_giveback_enqueue(s, &m);
        return;
    }
    bool repayment = s->reclaim_cookie != 0 && m.cookie == s->reclaim_cookie &&
                     (m.type == MB_MSG_GRANT || m.type == MB_MSG_ERROR);
    if (repayment) {
        s->reclaim_cookie = 0;
        if (m.type == MB_MSG_GRANT) {
            /* Lent capacity came back: it leaves what we lend, not into
             * the balance. */
            uint64_t n = m.u.grant.pages < s->capacity ? m.u.grant.pages : s->capacity;
            s->capacity -= n;
            s->lent = s->lent > n ? s->lent - n : 0;
        }
    } else if (m.type == MB_MSG_GRANT) {
        /* Counted even when its caller gave up waiting: the server holds
         * these pages as ours. */
        s->balance += m.u.grant.pages;
    }
    if (s->pending && m.cookie == s->pending_cookie &&
        (m.type == MB_MSG_GRANT || m.type == MB_MSG_ERROR))
        s->pending = false;
    if (m.cookie == 0)
        return; /* unsolicited (a notice before a disconnect) */
    struct waiter *w = waiter_find(s, m.cookie);
    if (w == NULL)
        return; /* its caller timed out */
    if (w->sent_type == MB_MSG_RETURN && m.type == MB_MSG_ERROR)
        s->balance += w->sent_pages; /* refused: the pages are still ours */
    w->reply = m;
    if (m.type == MB_MSG_STATUS_REPLY && w->status_buf != NULL) {
        memcpy(w->status_buf, pkt, len);
        w->status_len = len;
    }
    w->done = true;
    pthread_cond_signal(&w->cond);
}

/* Reads every packet there is now (lock held, reader role held). Returns 0,
 * or -ECONNRESET after handling a lost connection. */
static int read_available(struct client_state *s)
{
    for (;;) {
        uint8_t pkt[MB_PROTO_MAX_MESSAGE];
        ssize_t n = recv(s->sock, pkt, sizeof pkt, MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 0;
            mb_cl_conn_lost(s);
            return -ECONNRESET;
        }
        if (n == 0) {
            mb_cl_conn_lost(s);
            return -ECONNRESET;
        }
        /* MSG_TRUNC reports the real length; an oversize packet is cut and
         * its decode fails on the length. */
        mb_cl_route_packet(s, pkt, (size_t)n > sizeof pkt ? sizeof pkt : (size_t)n);
    }
}

int mb_cl_reader_drain(struct client_state *s)
{
    if (!s->connected || s->reader_busy)
        return 0;
    s->reader_busy = true;
    int rc = read_available(s);
    s->reader_busy = false;
    return rc;
}

/* Waits for the socket (lock released meanwhile) and reads what came.
 * Reader role held. Returns 0, -ETIMEDOUT or -ECONNRESET. */
static int read_blocking(struct client_state *s, uint64_t deadline_ns)
{
    int fd = s->sock;
    mb_cl_client_unlock(s);
    int rc = mb_cl_conn_wait_fd(fd, POLLIN, deadline_ns);
    pthread_mutex_lock(&s->lock);
    if (rc < 0)
        return rc == -ETIMEDOUT ? rc : -ECONNRESET;
    return read_available(s);
}

static int wait_reply(struct client_state *s, struct waiter *w, uint64_t deadline_ns)
{
    for (;;) {
        if (w->done)
            return w->result;
        if (!s->connected)
            return -ECONNRESET;
        if (!s->reader_busy) {
            s->reader_busy = true;
            int rc = read_blocking(s, deadline_ns);
            s->reader_busy = false;
            mb_cl_waiters_wake_all(s); /* someone else may need to read now */
            pthread_cond_broadcast(&s->reader_cond);
            if (rc == -ETIMEDOUT && !w->done)
                return rc;
            continue;
        }
        if (mb_cl_client_now_ns() >= deadline_ns)
            return -ETIMEDOUT;
        mb_cl_cond_wait_until(&w->cond, &s->lock, deadline_ns);
    }
}

/* After a timeout: cancel the pending request and wait a little for its
 * final reply, so a grant that crossed the CANCEL is reported. */
static int cancel_after_timeout(struct client_state *s, struct waiter *w)
{
    struct mb_msg cancel;
    memset(&cancel, 0, sizeof cancel);
    cancel.type = MB_MSG_CANCEL;
    cancel.cookie = mb_cl_cookie_next(s);
    cancel.u.cancel.target_cookie = w->cookie;
    if (mb_cl_conn_send(s, &cancel) < 0)
        return -ETIMEDOUT;
    int rc = wait_reply(s, w, mb_cl_client_deadline_after(MB_CLIENT_CANCEL_GRACE_MS));
    if (rc == -ETIMEDOUT) {
        /* The server said nothing; stop tracking it as ours. A late GRANT
         * is still added to the balance when it comes. */
        if (s->pending && s->pending_cookie == w->cookie)
            s->pending = false;
        return rc;
    }
    if (rc == 0 && w->reply.type == MB_MSG_ERROR && w->reply.u.error.code == MB_ERR_CANCELLED)
        return -ETIMEDOUT;
    return rc;
}

int mb_cl_transact(struct client_state *s, struct mb_msg *msg, struct mb_msg *reply,
             uint8_t *status_buf, uint64_t deadline_ns, bool cancel_on_timeout)
{
    bool exclusive = msg->type == MB_MSG_REQUEST || msg->type == MB_MSG_RESERVE ||
                     msg->type == MB_MSG_RECLAIM;
    uint64_t returned = msg->type == MB_MSG_RETURN ? msg->u.amount.pages : 0;
    for (int attempt = 0;; attempt++) {
        /* Notice a connection that died while idle before using it. */
        mb_cl_reader_drain(s);
        int rc = mb_cl_conn_ensure(s, deadline_ns);
        if (rc < 0)
            return rc;
        struct waiter *w;
        rc = waiter_get(s, deadline_ns, &w);
        if (rc < 0)
            return rc;
        if (!s->connected) { /* lost while waiting for a slot */
            waiter_release(s, w);
            continue;
        }
        if (exclusive && s->pending) {
            waiter_release(s, w);
            return -EBUSY;
        }
        if (returned > s->balance) {
            waiter_release(s, w);
            return MB_CLIENT_ERR(MB_ERR_OVER_BALANCE);
        }
        msg->cookie = mb_cl_cookie_next(s);
        w->cookie = msg->cookie;
        w->sent_type = msg->type;
        w->sent_pages = returned;
        w->status_buf = status_buf;
        if (exclusive) {
            s->pending = true;
            s->pending_cookie = msg->cookie;
        }
        if (msg->type == MB_MSG_RECLAIM)
            s->reclaim_cookie = msg->cookie;
        /* Counted out before the reply: a reconnect re-declares without
         * them, which is what the server has once it processed them. */
        s->balance -= returned;
        rc = mb_cl_conn_send(s, msg);
        if (rc < 0) {
            s->balance += returned;
            if (exclusive)
                s->pending = false;
            if (msg->type == MB_MSG_RECLAIM)
                s->reclaim_cookie = 0;
            waiter_release(s, w);
            if (rc == -ECONNRESET && attempt == 0 && !s->connected)
                continue; /* never delivered: send it on a new connection */
            return rc;
        }
        rc = wait_reply(s, w, deadline_ns);
        if (rc == -ETIMEDOUT && cancel_on_timeout && s->connected && s->pending &&
            s->pending_cookie == w->cookie)
            rc = cancel_after_timeout(s, w);
        if (rc == -ECONNRESET && returned > 0)
            rc = 0; /* the new connection's HELLO declares the balance without them */
        if (rc == 0 && w->done)
            *reply = w->reply;
        else if (rc == 0)
            memset(reply, 0, sizeof *reply);
        waiter_release(s, w);
        return rc;
    }
}
