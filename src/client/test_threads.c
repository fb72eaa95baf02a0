/* test_threads.c: several threads on one client: cancel from another
 * thread, replies matched by cookie while a RESERVE waits, and many
 * threads requesting and returning at once. */
#include "client/fake_server.h"
#include "membroker/client.h"
#include "mbtest.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

static int client_for(struct mb_client *c, struct fake_script *sc)
{
    struct mb_client_options o;
    mb_client_options_init(&o);
    o.socket_path = sc->fs.path;
    o.timeout_ms = 5000;
    return mb_client_init(c, &o);
}

struct call {
    pthread_t thread;
    struct mb_client *c;
    uint64_t pages;
    int rc;
    struct mb_client_info info;
};

static void *reserve_thread(void *arg)
{
    struct call *k = arg;
    k->rc = mb_client_reserve(k->c, k->pages, 0);
    return NULL;
}

static void *return_thread(void *arg)
{
    struct call *k = arg;
    k->rc = mb_client_return(k->c, k->pages);
    return NULL;
}

static void *query_thread(void *arg)
{
    struct call *k = arg;
    k->rc = mb_client_get_info(k->c, &k->info);
    return NULL;
}

/* RESERVE waits until cancelled. */
static void cancel_server(struct fake_script *sc, const struct mb_msg *m)
{
    static uint32_t pending;
    if (m->type == MB_MSG_RESERVE)
        pending = m->cookie;
    if (m->type == MB_MSG_CANCEL) {
        if (m->u.cancel.target_cookie == pending) {
            fake_error(sc->conn, pending, MB_ERR_CANCELLED, 0);
            fake_ok(sc->conn, m->cookie, 0);
        } else {
            fake_error(sc->conn, m->cookie, MB_ERR_NO_SUCH_REQUEST, 0);
        }
    }
}

static void test_cancel_from_another_thread(void)
{
    struct fake_script sc = {0};
    MBT_REQUIRE(fake_script_start(&sc, cancel_server, 100) == 0);
    struct mb_client c;
    MBT_REQUIRE(client_for(&c, &sc) == 0);
    MBT_EQ_INT(-ENOENT, mb_client_cancel(&c)); /* nothing pending yet */
    struct call k = {.c = &c, .pages = 50};
    MBT_REQUIRE(pthread_create(&k.thread, NULL, reserve_thread, &k) == 0);
    MBT_TRUE(fake_script_wait(&sc, MB_MSG_RESERVE, 1, 5000));
    uint64_t got;
    MBT_EQ_INT(-EBUSY, mb_client_request(&c, 1, &got)); /* one pending at a time */
    MBT_EQ_INT(0, mb_client_cancel(&c));
    pthread_join(k.thread, NULL);
    MBT_EQ_INT(MB_CLIENT_ERR(MB_ERR_CANCELLED), k.rc);
    MBT_EQ_U64(0, mb_client_balance(&c));
    mb_client_destroy(&c);
    fake_script_finish(&sc);
    struct mb_msg reserve, cancel;
    MBT_EQ_INT(1, fake_script_count(&sc, MB_MSG_RESERVE, &reserve));
    MBT_EQ_INT(1, fake_script_count(&sc, MB_MSG_CANCEL, &cancel));
    MBT_EQ_U64(reserve.cookie, cancel.u.cancel.target_cookie);
    MBT_EQ_INT(0, fake_script_count(&sc, MB_MSG_REQUEST, NULL));
}

/* Holds the RESERVE until a RETURN and a QUERY arrived, then answers the
 * three in the opposite order: QUERY, RETURN, RESERVE. */
struct held {
    uint32_t reserve, ret, query;
    uint64_t reserve_pages;
};

static void interleave_server(struct fake_script *sc, const struct mb_msg *m)
{
    struct held *h = sc->ctx;
    switch (m->type) {
    case MB_MSG_REQUEST:
        sc->balance += m->u.amount.pages;
        sc->pool -= m->u.amount.pages;
        fake_grant(sc->conn, m->cookie, m->u.amount.pages, sc->balance);
        return;
    case MB_MSG_RESERVE:
        h->reserve = m->cookie;
        h->reserve_pages = m->u.reserve.pages;
        return;
    case MB_MSG_RETURN:
        h->ret = m->cookie;
        sc->balance -= m->u.amount.pages;
        sc->pool += m->u.amount.pages;
        break;
    case MB_MSG_QUERY:
        h->query = m->cookie;
        break;
    default:
        return;
    }
    if (h->ret != 0 && h->query != 0 && h->reserve != 0) {
        fake_query_reply(sc->conn, h->query, sc->balance, sc->pool, sc->total);
        fake_ok(sc->conn, h->ret, sc->balance);
        sc->balance += h->reserve_pages;
        sc->pool -= h->reserve_pages;
        fake_grant(sc->conn, h->reserve, h->reserve_pages, sc->balance);
    }
}

static void test_cookie_matching_across_threads(void)
{
    struct held h = {0};
    struct fake_script sc = {.ctx = &h};
    MBT_REQUIRE(fake_script_start(&sc, interleave_server, 100) == 0);
    struct mb_client c;
    MBT_REQUIRE(client_for(&c, &sc) == 0);
    uint64_t got;
    MBT_EQ_INT(0, mb_client_request(&c, 20, &got));
    MBT_EQ_U64(20, got);

    struct call r = {.c = &c, .pages = 30}, ret = {.c = &c, .pages = 5}, q = {.c = &c};
    MBT_REQUIRE(pthread_create(&r.thread, NULL, reserve_thread, &r) == 0);
    MBT_TRUE(fake_script_wait(&sc, MB_MSG_RESERVE, 1, 5000));
    MBT_REQUIRE(pthread_create(&ret.thread, NULL, return_thread, &ret) == 0);
    MBT_REQUIRE(pthread_create(&q.thread, NULL, query_thread, &q) == 0);
    pthread_join(q.thread, NULL);
    pthread_join(ret.thread, NULL);
    pthread_join(r.thread, NULL);
    MBT_EQ_INT(0, r.rc);
    MBT_EQ_INT(0, ret.rc);
    MBT_EQ_INT(0, q.rc);
    MBT_EQ_U64(15, q.info.balance); /* after the RETURN, before the RESERVE */
    MBT_EQ_U64(85, q.info.pool);
    MBT_EQ_U64(100, q.info.total);
    MBT_EQ_U64(45, mb_client_balance(&c));
    mb_client_destroy(&c);
    fake_script_finish(&sc);
    MBT_EQ_U64(45, sc.balance);
    MBT_EQ_U64(55, sc.pool);
    MBT_TRUE(h.reserve != h.ret && h.ret != h.query && h.reserve != h.query);
}

static void counting_server(struct fake_script *sc, const struct mb_msg *m)
{
    if (m->type == MB_MSG_REQUEST) {
        uint64_t n = m->u.amount.pages < sc->pool ? m->u.amount.pages : sc->pool;
        sc->pool -= n;
        sc->balance += n;
        fake_grant(sc->conn, m->cookie, n, sc->balance);
    } else if (m->type == MB_MSG_RETURN) {
        sc->pool += m->u.amount.pages;
        sc->balance -= m->u.amount.pages;
        fake_ok(sc->conn, m->cookie, sc->balance);
    } else if (m->type == MB_MSG_QUERY) {
        fake_query_reply(sc->conn, m->cookie, sc->balance, sc->pool, sc->total);
    }
}

#define WORKERS 6
#define ROUNDS 40

static void *worker(void *arg)
{
    struct call *k = arg;
    k->rc = 0;
    for (int i = 0; i < ROUNDS && k->rc == 0; i++) {
        uint64_t got = 0;
        int rc = mb_client_request(k->c, 0, &got); /* REQUEST 0 never busies */
        (void)rc;
        struct mb_client_info info;
        k->rc = mb_client_get_info(k->c, &info);
        if (k->rc == 0 && info.total != 1000)
            k->rc = -1;
    }
    return NULL;
}

static void test_many_threads(void)
{
    struct fake_script sc = {0};
    MBT_REQUIRE(fake_script_start(&sc, counting_server, 1000) == 0);
    struct mb_client c;
    MBT_REQUIRE(client_for(&c, &sc) == 0);
    struct call k[WORKERS];
    memset(k, 0, sizeof k);
    for (int i = 0; i < WORKERS; i++) {
        k[i].c = &c;
        MBT_REQUIRE(pthread_create(&k[i].thread, NULL, worker, &k[i]) == 0);
    }
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(k[i].thread, NULL);
        MBT_EQ_INT(0, k[i].rc);
    }
    MBT_EQ_U64(0, mb_client_balance(&c));
    mb_client_destroy(&c);
    fake_script_finish(&sc);
    MBT_EQ_INT(WORKERS * ROUNDS, fake_script_count(&sc, MB_MSG_QUERY, NULL));
}

int main(void)
{
    MBT_RUN(test_cancel_from_another_thread);
    MBT_RUN(test_cookie_matching_across_threads);
    MBT_RUN(test_many_threads);
    return mbt_finish();
}
