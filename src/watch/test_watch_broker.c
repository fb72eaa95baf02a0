/* test_watch_broker.c: mbwatch's broker link against the client tests'
 * scripted server: waiting for a broker that is not there yet, the level
 * arriving, a refusal, and a restart noticed through the descriptor. */
#include "client/fake_server.h"
#include "mbtest.h"
#include "membroker/protocol.h"
#include "watch/watch_broker.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Accepts PRESSURE, remembering the level in sc->pool; refuses it when ctx is set. */
static void pressure_server(struct fake_script *sc, const struct mb_msg *m)
{
    if (m->type != MB_MSG_PRESSURE)
        return;
    if (sc->ctx != NULL) {
        fake_error(sc->conn, m->cookie, MB_ERR_NOT_PERMITTED, 0);
        return;
    }
    sc->pool = m->u.pressure.level;
    fake_ok(sc->conn, m->cookie, 0);
}

/* Polls the link's fd and dispatches until dispatch says `want` (1 up,
 * -ENOTCONN down) or timeout_ms passes. */
static bool dispatch_until(struct mbw_broker *b, int want, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        struct pollfd p = {.fd = mbw_broker_fd(b), .events = POLLIN};
        if (poll(&p, 1, 20) == 1 && mbw_broker_dispatch(b) == want)
            return true;
    }
    return false;
}

static void test_absent_then_present(void)
{
    /* Nobody at the path: not up, yet a descriptor to poll; sends fail. */
    char path[64];
    snprintf(path, sizeof path, "/tmp/mbw-no-broker-%d/socket", (int)getpid());
    struct mbw_broker b;
    MBT_EQ_INT(0, mbw_broker_init(&b, path, 200));
    MBT_FALSE(b.up);
    MBT_TRUE(mbw_broker_fd(&b) >= 0);
    MBT_EQ_INT(-ENOENT, mbw_broker_send(&b, MB_PRESSURE_MODERATE));
    MBT_EQ_U64(1, b.failed);
    MBT_EQ_U64(0, b.sent);
    mbw_broker_destroy(&b);

    struct fake_script live;
    memset(&live, 0, sizeof live);
    MBT_REQUIRE(fake_script_start(&live, pressure_server, 100) == 0);
    MBT_EQ_INT(0, mbw_broker_init(&b, live.fs.path, 2000));
    MBT_TRUE(b.up);
    MBT_EQ_INT(0, mbw_broker_send(&b, MB_PRESSURE_MODERATE));
    MBT_EQ_U64(MB_PRESSURE_MODERATE, live.pool);
    MBT_EQ_INT(0, mbw_broker_send(&b, MB_PRESSURE_CRITICAL));
    MBT_EQ_U64(MB_PRESSURE_CRITICAL, live.pool);
    MBT_EQ_U64(2, b.sent);
    MBT_EQ_INT(MB_KIND_SIMPLE, live.hello.u.hello.kind);
    MBT_EQ_STR("mbwatch", live.hello.u.hello.name);

    /* The broker restarts: down, then up again through the descriptor. */
    fake_script_hangup(&live);
    MBT_TRUE(fake_script_wait_eof(&live, 5000));
    MBT_TRUE(dispatch_until(&b, -ENOTCONN, 5000));
    MBT_FALSE(b.up);
    MBT_REQUIRE(fake_script_restart(&live) == 0);
    MBT_TRUE(dispatch_until(&b, 1, 5000));
    MBT_TRUE(b.up);
    MBT_EQ_U64(1, b.reconnects);
    MBT_EQ_INT(0, mbw_broker_send(&b, MB_PRESSURE_NONE));
    MBT_EQ_U64(MB_PRESSURE_NONE, live.pool);
    mbw_broker_destroy(&b);
    MBT_EQ_INT(-1, mbw_broker_fd(&b));
    fake_script_finish(&live);
}

static void test_refused(void)
{
    struct fake_script sc;
    memset(&sc, 0, sizeof sc);
    sc.ctx = &sc;
    MBT_REQUIRE(fake_script_start(&sc, pressure_server, 100) == 0);
    struct mbw_broker b;
    MBT_EQ_INT(0, mbw_broker_init(&b, sc.fs.path, 2000));
    MBT_EQ_INT(MB_CLIENT_ERR(MB_ERR_NOT_PERMITTED), mbw_broker_send(&b, MB_PRESSURE_CRITICAL));
    MBT_EQ_U64(1, b.refused);
    MBT_TRUE(b.up); /* refused, not disconnected */
    mbw_broker_destroy(&b);
    fake_script_finish(&sc);
}

int main(void)
{
    MBT_RUN(test_absent_then_present);
    MBT_RUN(test_refused);
    return mbt_finish();
}
