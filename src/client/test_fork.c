/* test_fork.c: a forked child never uses its parent's connection. Its first
 * call opens its own (the server sees a second HELLO, from the child's pid,
 * declaring 0 pages), while the parent's connection, and a RESERVE one of
 * the parent's threads is waiting in, carry on. */
#include "client/fake_server.h"
#include "membroker/client.h"
#include "mbtest.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

/* Grants REQUESTs; holds a RESERVE until `release` is set by the test. */
static atomic_int release;
static void parent_server(struct fake_script *sc, const struct mb_msg *m)
{
    static uint32_t reserve;
    if (m->type == MB_MSG_REQUEST) {
        sc->balance += m->u.amount.pages;
        fake_grant(sc->conn, m->cookie, m->u.amount.pages, sc->balance);
    } else if (m->type == MB_MSG_RESERVE) {
        reserve = m->cookie;
        while (!release)
            fake_sleep_ms(5);
        sc->balance += m->u.reserve.pages;
        fake_grant(sc->conn, reserve, m->u.reserve.pages, sc->balance);
    }
}

struct call {
    struct mb_client *c;
    int rc;
};

static void *reserve_thread(void *arg)
{
    struct call *k = arg;
    k->rc = mb_client_reserve(k->c, 30, 0);
    return NULL;
}

static int child_main(struct mb_client *c)
{
    int code = 0;
    if (mb_client_balance(c) != 0)
        code |= 1;
    uint64_t got = 0;
    if (mb_client_request(c, 5, &got) != 0)
        code |= 2;
    if (got != 5)
        code |= 4;
    if (mb_client_balance(c) != 5)
        code |= 8;
    mb_client_destroy(c);
    return code;
}

static void test_child_gets_its_own_connection(void)
{
    struct fake_script sc = {0};
    MBT_REQUIRE(fake_script_start(&sc, parent_server, 100) == 0);
    struct mb_client c;
    struct mb_client_options o;
    mb_client_options_init(&o);
    o.socket_path = sc.fs.path;
    MBT_REQUIRE(mb_client_init(&c, &o) == 0);
    uint64_t got;
    MBT_EQ_INT(0, mb_client_request(&c, 20, &got));

    /* A parent thread is inside a RESERVE (reading the socket) at fork. */
    struct call k = {.c = &c};
    pthread_t t;
    MBT_REQUIRE(pthread_create(&t, NULL, reserve_thread, &k) == 0);
    MBT_TRUE(fake_script_wait(&sc, MB_MSG_RESERVE, 1, 5000));

    pid_t child = fork();
    MBT_REQUIRE(child >= 0);
    if (child == 0)
        _exit(child_main(&c));

    /* Play the server for the child's connection here. */
    struct mb_msg hello, req;
    pid_t peer = 0;
    int conn = fake_handshake(&sc.fs, 5000, &hello, 8, 4096, 100, &peer);
    MBT_REQUIRE(conn >= 0);
    MBT_EQ_INT(child, peer);
    MBT_TRUE(peer != getpid());
    MBT_EQ_U64(0, hello.u.hello.held);
    MBT_EQ_INT(0, fake_recv(conn, &req, 5000));
    MBT_EQ_INT(MB_MSG_REQUEST, req.type);
    MBT_EQ_U64(5, req.u.amount.pages);
    MBT_EQ_INT(0, fake_grant(conn, req.cookie, 5, 5));
    int status = -1;
    MBT_EQ_INT(child, waitpid(child, &status, 0));
    MBT_TRUE(WIFEXITED(status));
    MBT_EQ_INT(0, WEXITSTATUS(status));
    close(conn);

    /* The parent's connection still works, and its RESERVE completes. */
    release = 1;
    pthread_join(t, NULL);
    MBT_EQ_INT(0, k.rc);
    MBT_EQ_INT(0, mb_client_request(&c, 1, &got));
    MBT_EQ_U64(51, mb_client_balance(&c));
    mb_client_destroy(&c);
    fake_script_finish(&sc);
    MBT_EQ_INT(2, fake_script_count(&sc, MB_MSG_REQUEST, NULL));
    MBT_EQ_INT(0, fake_script_count(&sc, MB_MSG_HELLO, NULL)); /* no second HELLO here */
    MBT_EQ_U64(51, sc.balance);
}

int main(void)
{
    MBT_RUN(test_child_gets_its_own_connection);
    return mbt_finish();
}
