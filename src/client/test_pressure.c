/* test_pressure.c: mb_client_pressure against a scripted server that trusts
 * the level it is sent or refuses it, and across a server restart. */
#include "client/fake_server.h"
#include "membroker/client.h"
#include "mbtest.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Accepts PRESSURE (remembering the level in sc->pool) unless ctx says no. */
static void pressure_server(struct fake_script *sc, const struct mb_msg *m)
{
    bool refuse = sc->ctx != NULL;
    if (m->type != MB_MSG_PRESSURE)
        return;
    if (refuse) {
        fake_error(sc->conn, m->cookie, MB_ERR_NOT_PERMITTED, sc->balance);
        return;
    }
    sc->pool = m->u.pressure.level;
    fake_ok(sc->conn, m->cookie, sc->balance);
}

static int watcher_for(struct mb_client *c, struct fake_script *sc)
{
    struct mb_client_options o;
    mb_client_options_init(&o);
    o.socket_path = sc->fs.path;
    o.name = "mbwatch";
    o.timeout_ms = 5000;
    return mb_client_init(c, &o);
}

static void test_levels_sent(void)
{
    struct fake_script sc;
    memset(&sc, 0, sizeof sc);
    MBT_REQUIRE(fake_script_start(&sc, pressure_server, 100) == 0);
    struct mb_client c;
    MBT_REQUIRE(watcher_for(&c, &sc) == 0);
    MBT_EQ_INT(0, mb_client_pressure(&c, MB_PRESSURE_MODERATE));
    MBT_EQ_U64(MB_PRESSURE_MODERATE, sc.pool);
    MBT_EQ_INT(0, mb_client_pressure_timeout(&c, MB_PRESSURE_CRITICAL, 2000));
    MBT_EQ_U64(MB_PRESSURE_CRITICAL, sc.pool);
    MBT_EQ_INT(0, mb_client_pressure(&c, MB_PRESSURE_NONE));
    MBT_EQ_U64(MB_PRESSURE_NONE, sc.pool);
    /* Out of range: refused locally, nothing sent. */
    MBT_EQ_INT(-EINVAL, mb_client_pressure(&c, MB_PRESSURE_COUNT));
    MBT_EQ_INT(-EINVAL, mb_client_pressure(NULL, MB_PRESSURE_NONE));
    struct mb_msg last;
    MBT_EQ_INT(3, fake_script_count(&sc, MB_MSG_PRESSURE, &last));
    MBT_EQ_INT(MB_PRESSURE_NONE, last.u.pressure.level);
    MBT_EQ_INT(MB_KIND_SIMPLE, sc.hello.u.hello.kind);
    MBT_EQ_U64(0, mb_client_balance(&c));
    mb_client_destroy(&c);
    fake_script_finish(&sc);
}

static void test_not_permitted(void)
{
    struct fake_script sc;
    memset(&sc, 0, sizeof sc);
    sc.ctx = &sc; /* refuse */
    MBT_REQUIRE(fake_script_start(&sc, pressure_server, 100) == 0);
    struct mb_client c;
    MBT_REQUIRE(watcher_for(&c, &sc) == 0);
    int rc = mb_client_pressure(&c, MB_PRESSURE_CRITICAL);
    MBT_EQ_INT(MB_CLIENT_ERR(MB_ERR_NOT_PERMITTED), rc);
    MBT_EQ_STR("server: not permitted", mb_client_strerror(rc));
    MBT_EQ_INT(1, fake_script_count(&sc, MB_MSG_PRESSURE, NULL));
    mb_client_destroy(&c);
    fake_script_finish(&sc);
}

static void test_after_restart(void)
{
    struct fake_script sc;
    memset(&sc, 0, sizeof sc);
    MBT_REQUIRE(fake_script_start(&sc, pressure_server, 100) == 0);
    struct mb_client c;
    MBT_REQUIRE(watcher_for(&c, &sc) == 0);
    MBT_EQ_INT(0, mb_client_pressure(&c, MB_PRESSURE_MODERATE));
    fake_script_hangup(&sc);
    MBT_TRUE(fake_script_wait_eof(&sc, 5000));
    fake_server_close_listener(&sc.fs);
    unlink(sc.fs.path);
    /* Nobody there: the error says so at once. */
    MBT_EQ_INT(-ENOENT, mb_client_pressure_timeout(&c, MB_PRESSURE_MODERATE, 0));
    sc.pool = 99;
    MBT_REQUIRE(fake_script_restart(&sc) == 0);
    /* Back: the next call reconnects (HELLO again) and the level arrives. */
    MBT_EQ_INT(0, mb_client_pressure_timeout(&c, MB_PRESSURE_CRITICAL, 5000));
    MBT_EQ_U64(MB_PRESSURE_CRITICAL, sc.pool);
    MBT_EQ_INT(MB_MSG_HELLO, sc.hello.type);
    mb_client_destroy(&c);
    fake_script_finish(&sc);
}

int main(void)
{
    MBT_RUN(test_levels_sent);
    MBT_RUN(test_not_permitted);
    MBT_RUN(test_after_restart);
    return mbt_finish();
}
