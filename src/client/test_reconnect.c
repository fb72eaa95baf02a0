/* test_reconnect.c: the server goes away and comes back. The client
 * reconnects (after backoff) and its HELLO re-declares the balance it
 * holds, so the restarted server's books include it. */
#include "client/fake_server.h"
#include "membroker/client.h"
#include "mbtest.h"

#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

static void plain_server(struct fake_script *sc, const struct mb_msg *m)
{
    if (m->type == MB_MSG_REQUEST) {
        sc->balance += m->u.amount.pages;
        fake_grant(sc->conn, m->cookie, m->u.amount.pages, sc->balance);
    } else if (m->type == MB_MSG_RETURN) {
        sc->balance -= m->u.amount.pages;
        fake_ok(sc->conn, m->cookie, sc->balance);
    } else if (m->type == MB_MSG_QUERY) {
        fake_query_reply(sc->conn, m->cookie, sc->balance, 0, sc->total);
    }
}

static bool wait_handshake(struct fake_script *sc)
{
    for (int i = 0; i < 1000; i++) {
        if (sc->hello.type == MB_MSG_HELLO && sc->conn >= 0)
            return true;
        fake_sleep_ms(5);
    }
    return false;
}

static void test_restart_redeclares_balance(void)
{
    struct fake_script sc = {0};
    MBT_REQUIRE(fake_script_start(&sc, plain_server, 100) == 0);
    struct mb_client c;
    struct mb_client_options o;
    mb_client_options_init(&o);
    o.socket_path = sc.fs.path;
    o.name = "keeper";
    MBT_REQUIRE(mb_client_init(&c, &o) == 0);
    uint64_t got;
    MBT_EQ_INT(0, mb_client_request(&c, 12, &got));
    int fd = mb_client_get_fd(&c);

    /* The server dies: the connection ends and nobody listens. */
    fake_script_hangup(&sc);
    MBT_TRUE(fake_script_wait_eof(&sc, 5000));
    fake_server_close_listener(&sc.fs);
    unlink(sc.fs.path);
    struct mb_client_info info;
    MBT_EQ_INT(-ENOENT, mb_client_get_info_timeout(&c, &info, 0));
    MBT_EQ_U64(12, mb_client_balance(&c));

    /* It comes back: the next call reconnects and re-declares 12 pages. */
    sc.balance = 0;
    MBT_REQUIRE(fake_script_restart(&sc) == 0);
    MBT_EQ_INT(0, mb_client_get_info_timeout(&c, &info, 5000));
    MBT_EQ_U64(12, info.balance);
    MBT_EQ_U64(12, mb_client_balance(&c));
    MBT_EQ_INT(fd, mb_client_get_fd(&c));
    MBT_EQ_INT(0, mb_client_return(&c, 2));
    mb_client_destroy(&c);
    fake_script_finish(&sc);
    MBT_EQ_INT(MB_MSG_HELLO, sc.hello.type);
    MBT_EQ_U64(12, sc.hello.u.hello.held);
    MBT_EQ_STR("keeper", sc.hello.u.hello.name);
    MBT_EQ_U64(10, sc.balance);
}

/* Hangs up on a REQUEST instead of answering. */
static void dying_server(struct fake_script *sc, const struct mb_msg *m)
{
    if (m->type == MB_MSG_REQUEST && m->u.amount.pages == 99)
        shutdown(sc->conn, SHUT_RDWR);
    else
        plain_server(sc, m);
}

static void test_loss_during_a_call(void)
{
    struct fake_script sc = {0};
    MBT_REQUIRE(fake_script_start(&sc, dying_server, 100) == 0);
    struct mb_client c;
    struct mb_client_options o;
    mb_client_options_init(&o);
    o.socket_path = sc.fs.path;
    MBT_REQUIRE(mb_client_init(&c, &o) == 0);
    uint64_t got;
    MBT_EQ_INT(0, mb_client_request(&c, 7, &got));
    MBT_EQ_INT(-ECONNRESET, mb_client_request(&c, 99, &got));
    MBT_EQ_U64(0, got);
    MBT_EQ_U64(7, mb_client_balance(&c));
    MBT_TRUE(fake_script_wait_eof(&sc, 5000));
    sc.balance = 0;
    MBT_REQUIRE(fake_script_restart(&sc) == 0);
    MBT_EQ_INT(0, mb_client_request(&c, 1, &got)); /* reconnects at once */
    MBT_EQ_U64(8, mb_client_balance(&c));
    mb_client_destroy(&c);
    fake_script_finish(&sc);
    MBT_EQ_U64(7, sc.hello.u.hello.held);
    MBT_EQ_U64(8, sc.balance);
}

static uint64_t give_nothing(struct mb_client *c, void *arg, const struct mb_client_giveback *q)
{
    (void)c;
    (void)arg;
    (void)q;
    return 0;
}

/* A bidirectional client with the helper thread reconnects on its own,
 * without any call from the application. */
static void test_helper_reconnects(void)
{
    struct fake_script sc = {0};
    MBT_REQUIRE(fake_script_start(&sc, plain_server, 100) == 0);
    struct mb_client c;
    struct mb_client_options o;
    mb_client_options_init(&o);
    o.socket_path = sc.fs.path;
    o.kind = MB_KIND_BIDIRECTIONAL;
    o.giveback = give_nothing;
    MBT_REQUIRE(mb_client_init(&c, &o) == 0);
    uint64_t got;
    MBT_EQ_INT(0, mb_client_request(&c, 3, &got));
    MBT_EQ_INT(0, mb_client_helper_start(&c));
    fake_script_hangup(&sc);
    MBT_TRUE(fake_script_wait_eof(&sc, 5000));
    sc.hello.type = 0;
    sc.balance = 0;
    MBT_REQUIRE(fake_script_restart(&sc) == 0);
    MBT_TRUE(wait_handshake(&sc));
    MBT_EQ_U64(3, sc.hello.u.hello.held);
    MBT_EQ_INT(MB_KIND_BIDIRECTIONAL, sc.hello.u.hello.kind);
    MBT_EQ_INT(0, mb_client_helper_stop(&c));
    mb_client_destroy(&c);
    fake_script_finish(&sc);
}

int main(void)
{
    MBT_RUN(test_restart_redeclares_balance);
    MBT_RUN(test_loss_during_a_call);
    MBT_RUN(test_helper_reconnects);
    return mbt_finish();
}
