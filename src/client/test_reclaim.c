/* test_reclaim.c: RECLAIM, a source client taking back lent capacity,
 * against a scripted server: the repaid pages leave what the source lends
 * (and what its HELLO lends after a reconnect), never its balance; local
 * refusals send nothing; a timeout cancels; a GRANT crossing the cancel
 * still counts; a lost connection repays nothing. */
#include "client/fake_server.h"
#include "membroker/client.h"
#include "mbtest.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#define CAPACITY 100u

/* What the scripted server does with a RECLAIM. */
enum reclaim_mode {
    REPAY,          /* from its pool when it can, else NOMEM */
    SIT,            /* never answers; a CANCEL is answered CANCELLED + OK */
    SIT_THEN_GRANT, /* never answers; the GRANT crosses the CANCEL */
    HANG_UP,        /* closes the connection */
};

struct books {
    enum reclaim_mode mode;
    uint64_t lent; /* what the server counts as lent by the source */
    uint32_t pending;
    uint64_t pending_pages;
};

static void source_server(struct fake_script *sc, const struct mb_msg *m)
{
    struct books *b = sc->ctx;
    switch (m->type) {
    case MB_MSG_REQUEST: {
        uint64_t n = m->u.amount.pages < sc->pool ? m->u.amount.pages : sc->pool;
        sc->pool -= n;
        sc->balance += n;
        fake_grant(sc->conn, m->cookie, n, sc->balance);
        break;
    }
    case MB_MSG_RECLAIM: {
        uint64_t n = m->u.reserve.pages;
        if (b->mode == HANG_UP) {
            shutdown(sc->conn, SHUT_RDWR);
        } else if (b->mode != REPAY) {
            b->pending = m->cookie;
            b->pending_pages = n;
        } else if (n > b->lent) {
            fake_error(sc->conn, m->cookie, MB_ERR_OVER_BALANCE, sc->balance);
        } else if (n > sc->pool) {
            fake_error(sc->conn, m->cookie, MB_ERR_NOMEM, sc->balance);
        } else {
            sc->pool -= n;
            b->lent -= n;
            fake_grant(sc->conn, m->cookie, n, sc->balance);
        }
        break;
    }
    case MB_MSG_CANCEL:
        if (b->mode == SIT_THEN_GRANT) {
            b->lent -= b->pending_pages;
            fake_grant(sc->conn, b->pending, b->pending_pages, sc->balance);
            fake_error(sc->conn, m->cookie, MB_ERR_NO_SUCH_REQUEST, sc->balance);
        } else {
            fake_error(sc->conn, b->pending, MB_ERR_CANCELLED, sc->balance);
            fake_ok(sc->conn, m->cookie, sc->balance);
        }
        break;
    case MB_MSG_QUERY: {
        struct mb_msg r = {.type = MB_MSG_QUERY_REPLY, .cookie = m->cookie};
        r.u.query_reply.balance = sc->balance;
        r.u.query_reply.lent = b->lent;
        r.u.query_reply.pool = sc->pool;
        r.u.query_reply.total = sc->total;
        fake_send(sc->conn, &r);
        break;
    }
    default:
        break;
    }
}

static uint64_t refuse_all(struct mb_client *c, void *arg, const struct mb_client_giveback *q)
{
    (void)c;
    (void)arg;
    (void)q;
    return 0;
}

static int source_for(struct mb_client *c, struct fake_script *sc)
{
    struct mb_client_options o;
    mb_client_options_init(&o);
    o.socket_path = sc->fs.path;
    o.kind = MB_KIND_SOURCE;
    o.capacity = CAPACITY;
    o.name = "lender";
    o.timeout_ms = 2000;
    o.giveback = refuse_all;
    return mb_client_init(c, &o);
}

static void test_reclaim_repays_capacity(void)
{
    struct books b = {.mode = REPAY, .lent = CAPACITY};
    struct fake_script sc = {.ctx = &b};
    /* The source's capacity is in the fake server's pool, as in mbserver. */
    MBT_REQUIRE(fake_script_start(&sc, source_server, 1000 + CAPACITY) == 0);
    struct mb_client c;
    MBT_REQUIRE(source_for(&c, &sc) == 0);
    MBT_EQ_U64(CAPACITY, mb_client_lent(&c));
    uint64_t got = 0;
    MBT_EQ_INT(0, mb_client_request(&c, 10, &got));
    MBT_EQ_U64(10, got);

    MBT_EQ_INT(0, mb_client_reclaim_timeout(&c, 30, 250, 2000));
    MBT_EQ_U64(70, mb_client_lent(&c));
    MBT_EQ_U64(10, mb_client_balance(&c)); /* a repayment is not a grant */
    struct mb_msg last;
    MBT_EQ_INT(1, fake_script_count(&sc, MB_MSG_RECLAIM, &last));
    MBT_EQ_U64(30, last.u.reserve.pages);
    MBT_EQ_U64(250, last.u.reserve.deadline_ms);
    struct mb_client_info info;
    MBT_EQ_INT(0, mb_client_get_info(&c, &info));
    MBT_EQ_U64(70, info.lent);
    MBT_EQ_U64(10, info.balance);

    /* More than still lent: refused here, nothing sent. */
    MBT_EQ_INT(MB_CLIENT_ERR(MB_ERR_OVER_BALANCE), mb_client_reclaim(&c, 71, 0));
    MBT_EQ_INT(-EINVAL, mb_client_reclaim(&c, MB_PAGES_MAX + 1, 0));
    MBT_EQ_INT(1, fake_script_count(&sc, MB_MSG_RECLAIM, NULL));
    /* Zero is a valid no-op. */
    MBT_EQ_INT(0, mb_client_reclaim(&c, 0, 0));
    MBT_EQ_U64(70, mb_client_lent(&c));
    /* The server cannot find the pages: nothing repaid. */
    sc.pool = 20;
    MBT_EQ_INT(MB_CLIENT_ERR(MB_ERR_NOMEM), mb_client_reclaim(&c, 50, 0));
    MBT_EQ_U64(70, mb_client_lent(&c));
    MBT_EQ_U64(10, mb_client_balance(&c));

    /* A restarted server hears of 70 lent pages and 10 held. */
    sc.pool = 1000;
    b.lent = 0;
    MBT_REQUIRE(fake_script_restart(&sc) == 0);
    b.lent = 70;
    MBT_EQ_INT(0, mb_client_get_info(&c, &info)); /* reconnects first */
    MBT_EQ_U64(MB_KIND_SOURCE, sc.hello.u.hello.kind);
    MBT_EQ_U64(70, sc.hello.u.hello.capacity);
    MBT_EQ_U64(10, sc.hello.u.hello.held);
    MBT_EQ_INT(0, mb_client_reclaim(&c, 70, 0));
    MBT_EQ_U64(0, mb_client_lent(&c));
    MBT_EQ_U64(0, b.lent);
    MBT_EQ_U64(10, mb_client_balance(&c));
    mb_client_destroy(&c);
    fake_script_finish(&sc);
}

static void test_reclaim_needs_a_source(void)
{
    struct books b = {.mode = REPAY};
    struct fake_script sc = {.ctx = &b};
    MBT_REQUIRE(fake_script_start(&sc, source_server, 100) == 0);
    struct mb_client c;
    struct mb_client_options o;
    mb_client_options_init(&o);
    o.socket_path = sc.fs.path;
    MBT_REQUIRE(mb_client_init(&c, &o) == 0);
    uint64_t got = 0;
    MBT_EQ_INT(0, mb_client_request(&c, 5, &got));
    MBT_EQ_INT(MB_CLIENT_ERR(MB_ERR_WRONG_KIND), mb_client_reclaim(&c, 1, 0));
    MBT_EQ_U64(0, mb_client_lent(&c));
    MBT_EQ_U64(5, mb_client_balance(&c));
    mb_client_destroy(&c);
    fake_script_finish(&sc);
    MBT_EQ_INT(0, fake_script_count(&sc, MB_MSG_RECLAIM, NULL));
    MBT_EQ_INT(-EINVAL, mb_client_reclaim(NULL, 1, 0));
    MBT_EQ_U64(0, mb_client_lent(NULL));
}

static void test_reclaim_timeout_cancels(void)
{
    struct books b = {.mode = SIT, .lent = CAPACITY};
    struct fake_script sc = {.ctx = &b};
    MBT_REQUIRE(fake_script_start(&sc, source_server, 1000 + CAPACITY) == 0);
    struct mb_client c;
    MBT_REQUIRE(source_for(&c, &sc) == 0);
    /* Cancelled in time: nothing repaid. */
    MBT_EQ_INT(-ETIMEDOUT, mb_client_reclaim_timeout(&c, 40, 0, 30));
    MBT_EQ_U64(CAPACITY, mb_client_lent(&c));
    MBT_EQ_INT(-ENOENT, mb_client_cancel(&c)); /* nothing pending any more */
    struct mb_msg reclaim, cancel;
    MBT_EQ_INT(1, fake_script_count(&sc, MB_MSG_RECLAIM, &reclaim));
    MBT_EQ_INT(1, fake_script_count(&sc, MB_MSG_CANCEL, &cancel));
    MBT_EQ_U64(reclaim.cookie, cancel.u.cancel.target_cookie);

    /* The repayment crossed the cancel: it counts, as a success. */
    b.mode = SIT_THEN_GRANT;
    MBT_EQ_INT(0, mb_client_reclaim_timeout(&c, 40, 0, 30));
    MBT_EQ_U64(60, mb_client_lent(&c));
    MBT_EQ_U64(60, b.lent);
    MBT_EQ_U64(0, mb_client_balance(&c));
    mb_client_destroy(&c);
    fake_script_finish(&sc);
}

static void test_reclaim_lost_connection_repays_nothing(void)
{
    struct books b = {.mode = HANG_UP, .lent = CAPACITY};
    struct fake_script sc = {.ctx = &b};
    MBT_REQUIRE(fake_script_start(&sc, source_server, 1000 + CAPACITY) == 0);
    struct mb_client c;
    MBT_REQUIRE(source_for(&c, &sc) == 0);
    MBT_EQ_INT(-ECONNRESET, mb_client_reclaim_timeout(&c, 25, 0, 2000));
    MBT_EQ_U64(CAPACITY, mb_client_lent(&c));
    MBT_TRUE(fake_script_wait_eof(&sc, 5000));
    b.mode = REPAY;
    MBT_REQUIRE(fake_script_restart(&sc) == 0);
    MBT_EQ_INT(0, mb_client_reclaim(&c, 25, 0)); /* reconnects, lends 100 again */
    MBT_EQ_U64(CAPACITY, sc.hello.u.hello.capacity);
    MBT_EQ_U64(75, mb_client_lent(&c));
    mb_client_destroy(&c);
    fake_script_finish(&sc);
}

int main(void)
{
    MBT_RUN(test_reclaim_repays_capacity);
    MBT_RUN(test_reclaim_needs_a_source);
    MBT_RUN(test_reclaim_timeout_cancels);
    MBT_RUN(test_reclaim_lost_connection_repays_nothing);
    return mbt_finish();
}
