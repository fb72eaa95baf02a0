/* test_compat.c: the original API (membroker/compat.h) against a scripted
 * server: same results as the original library, negative amounts refused
 * without being sent, a failed first registration retried, handles. */
#include "client/fake_server.h"
#include "membroker/client.h"
#include "membroker/compat.h"
#include "mbtest.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

static void compat_server(struct fake_script *sc, const struct mb_msg *m)
{
    switch (m->type) {
    case MB_MSG_REQUEST:
        sc->balance += m->u.amount.pages;
        sc->pool -= m->u.amount.pages;
        fake_grant(sc->conn, m->cookie, m->u.amount.pages, sc->balance);
        break;
    case MB_MSG_RESERVE:
        if (m->u.reserve.pages > sc->pool) {
            fake_error(sc->conn, m->cookie, MB_ERR_NOMEM, sc->balance);
            break;
        }
        sc->balance += m->u.reserve.pages;
        sc->pool -= m->u.reserve.pages;
        fake_grant(sc->conn, m->cookie, m->u.reserve.pages, sc->balance);
        break;
    case MB_MSG_RETURN:
        sc->balance -= m->u.amount.pages;
        sc->pool += m->u.amount.pages;
        fake_ok(sc->conn, m->cookie, sc->balance);
        break;
    case MB_MSG_GIVEBACK_ANSWER:
        sc->balance -= m->u.amount.pages;
        sc->pool += m->u.amount.pages;
        break;
    case MB_MSG_QUERY:
        fake_query_reply(sc->conn, m->cookie, sc->balance, sc->pool, sc->total);
        break;
    case MB_MSG_STATUS: {
        struct mb_status_summary sum = {.total = sc->total, .pool = sc->pool, .clients = 1};
        uint8_t buf[MB_PROTO_MAX_MESSAGE];
        int len = mb_proto_encode_status_classes(buf, sizeof buf, m->cookie, false, &sum,
                                                 0, NULL, 0);
        if (len > 0)
            (void)send(sc->conn, buf, (size_t)len, MSG_NOSIGNAL);
        break;
    }
    default:
        break;
    }
}

static void test_global_client(void)
{
    struct fake_script sc = {0};
    MBT_REQUIRE(fake_script_start(&sc, compat_server, 40) == 0);
    setenv(MB_CLIENT_SOCKET_ENV, sc.fs.path, 1);
    MBT_EQ_INT(MB_BAD_ID, mb_request_pages(1)); /* not registered */

    /* No server yet at the path: MB_IO, and the next call tries again. */
    char away[128];
    snprintf(away, sizeof away, "%s.away", sc.fs.path);
    MBT_REQUIRE(rename(sc.fs.path, away) == 0);
    MBT_EQ_INT(MB_IO, mb_register(0));
    MBT_REQUIRE(rename(away, sc.fs.path) == 0);
    MBT_EQ_INT(0, mb_register(0)); /* same parameters: fine */
    MBT_EQ_INT(MB_BAD_CLIENT_TYPE, mb_register(1));

    MBT_EQ_INT(10, mb_request_pages(10));
    MBT_EQ_INT(MB_BAD_PARAM, mb_request_pages(-1));
    MBT_EQ_INT(MB_BAD_PARAM, mb_reserve_pages(-5));
    MBT_EQ_INT(MB_BAD_PARAM, mb_return_pages(-2));
    MBT_EQ_INT(5, mb_reserve_pages(5));
    MBT_EQ_INT(0, mb_reserve_pages(100)); /* the original's "0 pages" */
    MBT_EQ_INT(15, mb_query());
    MBT_EQ_INT(25, mb_query_server());
    MBT_EQ_INT(40, mb_query_total());
    MBT_EQ_INT(0, mb_status());
    MBT_EQ_INT(0, mb_return_pages(100)); /* at most what is held */
    MBT_EQ_INT(0, mb_query());
    MBT_EQ_INT(0, mb_terminate());
    MBT_EQ_INT(MB_BAD_ID, mb_terminate());
    MBT_EQ_INT(MB_BAD_ID, mb_query());
    MBT_TRUE(fake_script_wait_eof(&sc, 5000));
    fake_script_finish(&sc);
    unsetenv(MB_CLIENT_SOCKET_ENV);

    MBT_EQ_INT(MB_KIND_SIMPLE, sc.hello.u.hello.kind);
    struct mb_msg last;
    MBT_EQ_INT(1, fake_script_count(&sc, MB_MSG_REQUEST, &last)); /* -1 never sent */
    MBT_EQ_INT(2, fake_script_count(&sc, MB_MSG_RESERVE, NULL));
    MBT_EQ_INT(1, fake_script_count(&sc, MB_MSG_RETURN, &last));
    MBT_EQ_U64(15, last.u.amount.pages);
    MBT_EQ_U64(0, sc.balance);
}

static int given_pages;
static int on_share(int pages, int is_urgent, void *arg)
{
    (void)arg;
    given_pages = is_urgent ? pages : pages / 2;
    return given_pages;
}

static void test_handles(void)
{
    setenv(MB_CLIENT_SOCKET_ENV, "/nonexistent/membroker/socket", 1);
    MBT_NULL(mb_client_register(1, 0)); /* no server: no handle, as before */
    struct fake_script sc = {0};
    MBT_REQUIRE(fake_script_start(&sc, compat_server, 100) == 0);
    setenv(MB_CLIENT_SOCKET_ENV, sc.fs.path, 1);
    MbClientHandle h = mb_client_register(42, 1);
    MBT_REQUIRE(h != NULL);
    MBT_EQ_PTR(h, mb_client_register(42, 1));
    MBT_NULL(mb_client_register(42, 0)); /* same id, other parameters */
    MBT_EQ_INT(42, mb_client_id(h));
    MBT_EQ_INT(1, mb_client_is_bidi(h));
    int fd = mb_client_fd(h);
    MBT_TRUE(fd > 0);
    MBT_EQ_INT(-1, mb_client_fd(NULL));
    MBT_EQ_INT(MB_BAD_ID, mb_client_request_pages(NULL, 1));

    MBT_EQ_INT(8, mb_client_request_pages(h, 8));
    MBT_EQ_INT(0, mb_client_set_giveback_callback(h, on_share, NULL));
    MBT_EQ_INT(0, fake_giveback(sc.conn, 31, MB_URGENCY_NORMAL, 6, 200));
    struct pollfd p = {.fd = fd, .events = POLLIN};
    MBT_EQ_INT(1, poll(&p, 1, 5000));
    MBT_EQ_INT(1, mb_client_dispatch_handle(h));
    MBT_EQ_INT(3, given_pages);
    MBT_EQ_INT(5, mb_client_query(h));
    MBT_EQ_INT(0, mb_client_return_pages(h, 5));
    MBT_EQ_INT(0, mb_client_status(h));
    MBT_EQ_INT(0, mb_client_terminate(h));
    MBT_EQ_INT(MB_BAD_ID, mb_client_terminate(h));
    MBT_EQ_INT(MB_BAD_ID, mb_client_query(h));
    MBT_TRUE(fake_script_wait_eof(&sc, 5000));
    fake_script_finish(&sc);
    unsetenv(MB_CLIENT_SOCKET_ENV);
    MBT_EQ_INT(MB_KIND_BIDIRECTIONAL, sc.hello.u.hello.kind);
    struct mb_msg answer;
    MBT_EQ_INT(1, fake_script_count(&sc, MB_MSG_GIVEBACK_ANSWER, &answer));
    MBT_EQ_U64(31, answer.cookie);
    MBT_EQ_U64(3, answer.u.amount.pages);
}

static void test_source_registration(void)
{
    struct fake_script sc = {0};
    MBT_REQUIRE(fake_script_start(&sc, compat_server, 100) == 0);
    setenv(MB_CLIENT_SOCKET_ENV, sc.fs.path, 1);
    MbClientHandle h = mb_client_register_source(5, 64);
    MBT_REQUIRE(h != NULL);
    MBT_NULL(mb_client_register_source(6, -1));
    MBT_EQ_INT(1, mb_client_is_bidi(h));
    MBT_EQ_INT(0, mb_client_terminate(h));
    MBT_TRUE(fake_script_wait_eof(&sc, 5000));
    fake_script_finish(&sc);
    unsetenv(MB_CLIENT_SOCKET_ENV);
    MBT_EQ_INT(MB_KIND_SOURCE, sc.hello.u.hello.kind);
    MBT_EQ_U64(64, sc.hello.u.hello.capacity);
}

int main(void)
{
    MBT_RUN(test_global_client);
    MBT_RUN(test_handles);
    MBT_RUN(test_source_registration);
    return mbt_finish();
}
