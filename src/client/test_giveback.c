/* test_giveback.c: GIVEBACK queries answered through the application's
 * poll loop (mb_client_get_fd + mb_client_dispatch) and through the helper
 * thread; the answer carries the callback's pages and the balance drops. */
#include "client/fake_server.h"
#include "membroker/client.h"
#include "mbtest.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

struct seen {
    pthread_mutex_t lock;
    int calls;
    struct mb_client_giveback last;
    uint64_t give;
};

static uint64_t on_giveback(struct mb_client *c, void *arg, const struct mb_client_giveback *q)
{
    (void)c;
    struct seen *s = arg;
    pthread_mutex_lock(&s->lock);
    s->calls++;
    s->last = *q;
    uint64_t give = s->give;
    pthread_mutex_unlock(&s->lock);
    return give;
}

static int bidi_client(struct mb_client *c, struct fake_script *sc, struct seen *seen)
{
    struct mb_client_options o;
    mb_client_options_init(&o);
    o.socket_path = sc->fs.path;
    o.kind = MB_KIND_BIDIRECTIONAL;
    o.giveback = on_giveback;
    o.giveback_arg = seen;
    return mb_client_init(c, &o);
}

static void granting_server(struct fake_script *sc, const struct mb_msg *m)
{
    if (m->type == MB_MSG_REQUEST) {
        sc->balance += m->u.amount.pages;
        fake_grant(sc->conn, m->cookie, m->u.amount.pages, sc->balance);
    } else if (m->type == MB_MSG_GIVEBACK_ANSWER) {
        sc->balance -= m->u.amount.pages;
    }
}

static bool wait_readable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

static void test_dispatch_from_poll_loop(void)
{
    struct seen seen = {.lock = PTHREAD_MUTEX_INITIALIZER, .give = 3};
    struct fake_script sc = {0};
    MBT_REQUIRE(fake_script_start(&sc, granting_server, 100) == 0);
    struct mb_client c;
    MBT_REQUIRE(bidi_client(&c, &sc, &seen) == 0);
    uint64_t got;
    MBT_EQ_INT(0, mb_client_request(&c, 10, &got));
    int fd = mb_client_get_fd(&c);
    MBT_REQUIRE(fd >= 0);
    MBT_EQ_INT(0, mb_client_dispatch(&c)); /* nothing to do */

    MBT_EQ_INT(0, fake_giveback(sc.conn, 77, MB_URGENCY_NORMAL, 4, 200));
    MBT_TRUE(wait_readable(fd, 5000));
    MBT_EQ_INT(1, mb_client_dispatch(&c));
    MBT_EQ_INT(1, seen.calls);
    MBT_EQ_U64(MB_URGENCY_NORMAL, seen.last.urgency);
    MBT_EQ_U64(4, seen.last.pages);
    MBT_TRUE(seen.last.deadline_ms <= 200);
    MBT_EQ_U64(10, seen.last.balance);
    MBT_EQ_U64(7, mb_client_balance(&c));
    MBT_TRUE(fake_script_wait(&sc, MB_MSG_GIVEBACK_ANSWER, 1, 5000));

    /* More than held is clamped to the balance. */
    seen.give = 1000;
    MBT_EQ_INT(0, fake_giveback(sc.conn, 78, MB_URGENCY_URGENT, 50, 200));
    MBT_TRUE(wait_readable(fd, 5000));
    MBT_EQ_INT(1, mb_client_dispatch(&c));
    MBT_EQ_U64(MB_URGENCY_URGENT, seen.last.urgency);
    MBT_EQ_U64(0, mb_client_balance(&c));
    MBT_TRUE(fake_script_wait(&sc, MB_MSG_GIVEBACK_ANSWER, 2, 5000));
    MBT_EQ_INT(fd, mb_client_get_fd(&c)); /* the number does not change */
    mb_client_destroy(&c);
    fake_script_finish(&sc);

    MBT_EQ_INT(MB_KIND_BIDIRECTIONAL, sc.hello.u.hello.kind);
    struct mb_msg answers[2];
    int n = 0;
    for (int i = 0; i < sc.nlog; i++)
        if (sc.log[i].type == MB_MSG_GIVEBACK_ANSWER && n < 2)
            answers[n++] = sc.log[i];
    MBT_REQUIRE(n == 2);
    MBT_EQ_U64(77, answers[0].cookie);
    MBT_EQ_U64(3, answers[0].u.amount.pages);
    MBT_EQ_U64(78, answers[1].cookie);
    MBT_EQ_U64(7, answers[1].u.amount.pages);
    MBT_EQ_U64(0, sc.balance);
}

/* Asks for a give-back before granting, and grants only after the answer:
 * the query is read by the thread waiting for the GRANT. */
static void asking_server(struct fake_script *sc, const struct mb_msg *m)
{
    static uint32_t request;
    if (m->type == MB_MSG_REQUEST && sc->balance == 0) {
        sc->balance = m->u.amount.pages;
        fake_grant(sc->conn, m->cookie, m->u.amount.pages, sc->balance);
    } else if (m->type == MB_MSG_REQUEST) {
        request = m->cookie;
        fake_giveback(sc->conn, 90, MB_URGENCY_NORMAL, 2, 500);
    } else if (m->type == MB_MSG_GIVEBACK_ANSWER) {
        sc->balance -= m->u.amount.pages;
        sc->balance += 5;
        fake_grant(sc->conn, request, 5, sc->balance);
    }
}

struct call {
    struct mb_client *c;
    int rc;
    uint64_t got;
};

static void *request_thread(void *arg)
{
    struct call *k = arg;
    k->rc = mb_client_request(k->c, 5, &k->got);
    return NULL;
}

static void test_query_read_by_waiting_thread(void)
{
    struct seen seen = {.lock = PTHREAD_MUTEX_INITIALIZER, .give = 2};
    struct fake_script sc = {0};
    MBT_REQUIRE(fake_script_start(&sc, asking_server, 100) == 0);
    struct mb_client c;
    MBT_REQUIRE(bidi_client(&c, &sc, &seen) == 0);
    uint64_t got;
    MBT_EQ_INT(0, mb_client_request(&c, 10, &got));
    int fd = mb_client_get_fd(&c);
    struct call k = {.c = &c};
    pthread_t t;
    MBT_REQUIRE(pthread_create(&t, NULL, request_thread, &k) == 0);
    int answered = 0;
    /* While the waiting thread has not read the query yet, the fd can poll
     * readable with nothing to dispatch: loop on time, not on wake-ups. */
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        if (wait_readable(fd, 5))
            answered += mb_client_dispatch(&c);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (answered == 0 && now.tv_sec - start.tv_sec < 5);
    pthread_join(t, NULL);
    MBT_EQ_INT(1, answered);
    MBT_EQ_INT(0, k.rc);
    MBT_EQ_U64(5, k.got);
    MBT_EQ_U64(13, mb_client_balance(&c));
    mb_client_destroy(&c);
    fake_script_finish(&sc);
    MBT_EQ_U64(13, sc.balance);
}

static void test_helper_thread(void)
{
    struct seen seen = {.lock = PTHREAD_MUTEX_INITIALIZER, .give = 6};
    struct fake_script sc = {0};
    MBT_REQUIRE(fake_script_start(&sc, granting_server, 100) == 0);
    struct mb_client c;
    MBT_REQUIRE(bidi_client(&c, &sc, &seen) == 0);
    uint64_t got;
    MBT_EQ_INT(0, mb_client_request(&c, 20, &got));
    MBT_EQ_INT(-ESRCH, mb_client_helper_stop(&c));
    MBT_EQ_INT(0, mb_client_helper_start(&c));
    MBT_EQ_INT(-EALREADY, mb_client_helper_start(&c));
    MBT_EQ_INT(0, fake_giveback(sc.conn, 5, MB_URGENCY_URGENT, 6, 200));
    MBT_TRUE(fake_script_wait(&sc, MB_MSG_GIVEBACK_ANSWER, 1, 5000));
    MBT_EQ_INT(0, mb_client_helper_stop(&c));
    MBT_EQ_INT(1, seen.calls);
    MBT_EQ_U64(MB_URGENCY_URGENT, seen.last.urgency);
    MBT_EQ_U64(6, seen.last.pages);
    MBT_EQ_U64(14, mb_client_balance(&c));
    mb_client_destroy(&c);
    fake_script_finish(&sc);
    struct mb_msg answer;
    MBT_EQ_INT(1, fake_script_count(&sc, MB_MSG_GIVEBACK_ANSWER, &answer));
    MBT_EQ_U64(5, answer.cookie);
    MBT_EQ_U64(6, answer.u.amount.pages);
    MBT_EQ_U64(14, sc.balance);
}

/* A simple client has no callback: a query is refused at once. */
static void test_simple_client_refuses(void)
{
    struct fake_script sc = {0};
    MBT_REQUIRE(fake_script_start(&sc, granting_server, 100) == 0);
    struct mb_client c;
    struct mb_client_options o;
    mb_client_options_init(&o);
    o.socket_path = sc.fs.path;
    MBT_REQUIRE(mb_client_init(&c, &o) == 0);
    uint64_t got;
    MBT_EQ_INT(0, mb_client_request(&c, 4, &got));
    MBT_EQ_INT(-EINVAL, mb_client_helper_start(&c));
    MBT_EQ_INT(0, fake_giveback(sc.conn, 9, MB_URGENCY_NORMAL, 4, 200));
    /* Any call reads it (here the next request). */
    MBT_EQ_INT(0, mb_client_request(&c, 1, &got));
    MBT_TRUE(fake_script_wait(&sc, MB_MSG_GIVEBACK_ANSWER, 1, 5000));
    MBT_EQ_U64(5, mb_client_balance(&c));
    mb_client_destroy(&c);
    fake_script_finish(&sc);
    struct mb_msg answer;
    MBT_EQ_INT(1, fake_script_count(&sc, MB_MSG_GIVEBACK_ANSWER, &answer));
    MBT_EQ_U64(9, answer.cookie);
    MBT_EQ_U64(0, answer.u.amount.pages);
}

int main(void)
{
    MBT_RUN(test_dispatch_from_poll_loop);
    MBT_RUN(test_query_read_by_waiting_thread);
    MBT_RUN(test_helper_thread);
    MBT_RUN(test_simple_client_refuses);
    return mbt_finish();
}
