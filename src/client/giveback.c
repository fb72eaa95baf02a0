/* giveback.c: GIVEBACK queries of bidirectional clients.
 *
 * Whoever reads the socket queues the queries (fixed-size queue) and raises
 * notify_fd, so the application's poll loop wakes even when the query was
 * read by a thread waiting in a REQUEST. mb_client_dispatch runs the
 * callback for each, without the lock, and sends the answer; the helper
 * thread is a loop that does exactly that for applications without one.
 */
#include "client/client_internal.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

static void notify(struct client_state *s)
{
    uint64_t one = 1;
    ssize_t n = write(s->notify_fd, &one, sizeof one);
    (void)n; /* a full counter is still readable, which is all we need */
}

static void notify_drain(struct client_state *s)
{
    uint64_t v;
    while (read(s->notify_fd, &v, sizeof v) > 0)
        ;
}

static void send_answer(struct client_state *s, uint32_t cookie, uint64_t pages)
{
    struct mb_msg a;
    memset(&a, 0, sizeof a);
    a.type = MB_MSG_GIVEBACK_ANSWER;
    a.cookie = cookie;
    a.u.amount.pages = pages;
    (void)mb_cl_conn_send(s, &a); /* a lost connection drops the query anyway */
}

void mb_cl_giveback_enqueue(struct client_state *s, const struct mb_msg *msg)
{
    if (s->giveback == NULL || s->queue_count == MB_CLIENT_GIVEBACK_QUEUE) {
        /* Nobody to ask, or too many at once: an immediate refusal beats a
         * missed deadline. */
        send_answer(s, msg->cookie, 0);
        return;
    }
    uint32_t slot = (s->queue_head + s->queue_count) % MB_CLIENT_GIVEBACK_QUEUE;
    struct queued_giveback *q = &s->queue[slot];
    q->cookie = msg->cookie;
    q->urgency = msg->u.giveback.urgency;
    q->deadline_ms = msg->u.giveback.deadline_ms;
    q->pages = msg->u.giveback.pages;
    q->received_ns = mb_cl_client_now_ns();
    q->generation = s->generation;
    s->queue_count++;
    notify(s);
}

void mb_cl_giveback_reset(struct client_state *s)
{
    s->queue_head = 0;
    s->queue_count = 0;
}

int mb_client_dispatch(struct mb_client *c)
{
    struct client_state *s = client_valid(c);
    if (s == NULL)
        return -EINVAL;
    mb_cl_client_lock(s);
    if (s->dispatching) {
        int rc = pthread_equal(s->dispatch_thread, pthread_self()) ? -EDEADLK : 0;
        mb_cl_client_unlock(s);
        return rc; /* another thread is dispatching: it will do the work */
    }
    s->dispatching = true;
    s->dispatch_thread = pthread_self();
    notify_drain(s);
    mb_cl_conn_timer_drain(s);
    (void)mb_cl_conn_try(s);
    mb_cl_reader_drain(s);
    if (s->connected && s->reader_busy && s->queue_count == 0) {
        /* Another thread waiting for a reply holds the socket; what makes
         * the fd readable is its to read. Give it a moment to read it
         * rather than have the caller's loop spin on a readable fd. */
        struct pollfd p = {.fd = s->sock, .events = POLLIN};
        if (poll(&p, 1, 0) == 1)
            mb_cl_cond_wait_until(&s->reader_cond, &s->lock,
                                  mb_cl_client_now_ns() + 10u * 1000000u);
    }

    int answered = 0;
    while (s->queue_count > 0) {
        struct queued_giveback q = s->queue[s->queue_head];
        s->queue_head = (s->queue_head + 1) % MB_CLIENT_GIVEBACK_QUEUE;
        s->queue_count--;
        uint64_t elapsed_ms = (mb_cl_client_now_ns() - q.received_ns) / 1000000u;
        struct mb_client_giveback view = {
            .urgency = q.urgency,
            .pages = q.pages,
            .deadline_ms = elapsed_ms >= q.deadline_ms ? 0 : q.deadline_ms - (uint32_t)elapsed_ms,
            .balance = s->balance,
        };
        mb_client_giveback_fn fn = s->giveback;
        void *arg = s->giveback_arg;
        mb_cl_client_unlock(s);
        uint64_t given = fn(c, arg, &view);
        pthread_mutex_lock(&s->lock);
        if (s->connected && q.generation == s->generation) {
            if (given > s->balance)
                given = s->balance;
            s->balance -= given;
            send_answer(s, q.cookie, given);
        }
        /* else: the query died with its connection; the memory freed is
         * simply unused quota now, still counted in the balance. */
        answered++;
    }
    int rc = s->connected ? answered : -ENOTCONN;
    s->dispatching = false;
    mb_cl_client_unlock(s);
    return rc;
}

int mb_client_get_fd(struct mb_client *c)
{
    struct client_state *s = client_valid(c);
    if (s == NULL)
        return -EINVAL;
    mb_cl_client_lock(s);
    (void)mb_cl_conn_try(s);
    int fd = s->poll_fd;
    mb_cl_client_unlock(s);
    return fd;
}

static void *helper_main(void *arg)
{
    struct mb_client *c = arg;
    struct client_state *s = client_state_of(c);
    for (;;) {
        pthread_mutex_lock(&s->lock);
        bool stop = s->helper_stop;
        int fd = s->poll_fd;
        pthread_mutex_unlock(&s->lock);
        if (stop)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        /* The timeout only bounds how stale a missed wake-up can get. */
        (void)poll(&p, 1, 1000);
        if (mb_client_dispatch(c) == 0 && (p.revents & POLLIN)) {
            /* Readable but nothing for us: another thread holds the reader
             * role and is about to read it. Let it. */
            struct timespec ts = {.tv_sec = 0, .tv_nsec = 1000000};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

int mb_client_helper_start(struct mb_client *c)
{
    struct client_state *s = client_valid(c);
    if (s == NULL)
        return -EINVAL;
    mb_cl_client_lock(s);
    if (s->giveback == NULL) {
        mb_cl_client_unlock(s);
        return -EINVAL;
    }
    if (s->helper_running) {
        mb_cl_client_unlock(s);
        return -EALREADY;
    }
    s->helper_stop = false;
    int rc = pthread_create(&s->helper, NULL, helper_main, c);
    if (rc == 0)
        s->helper_running = true;
    mb_cl_client_unlock(s);
    return -rc;
}

int mb_client_helper_stop(struct mb_client *c)
{
    struct client_state *s = client_valid(c);
    if (s == NULL)
        return -EINVAL;
    mb_cl_client_lock(s);
    if (!s->helper_running) {
        mb_cl_client_unlock(s);
        return -ESRCH;
    }
    s->helper_stop = true;
    s->helper_running = false;
    pthread_t t = s->helper;
    notify(s);
    mb_cl_client_unlock(s);
    pthread_join(t, NULL);
    return 0;
}
