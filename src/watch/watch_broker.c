/* watch_broker.c: see watch_broker.h. */
#include "watch/watch_broker.h"

#include <errno.h>
#include <string.h>

int mbw_broker_init(struct mbw_broker *b, const char *socket_path, uint32_t timeout_ms)
{
    memset(b, 0, sizeof *b);
    struct mb_client_options o;
    mb_client_options_init(&o);
    if (socket_path != NULL && socket_path[0] != '\0')
        o.socket_path = socket_path;
    o.name = "mbwatch";
    o.timeout_ms = timeout_ms;
    int rc = mb_client_init(&b->client, &o);
    if (rc < 0)
        return rc;
    b->initialised = true;
    b->timeout_ms = timeout_ms;
    b->up = mb_client_connect_timeout(&b->client, timeout_ms) == 0;
    rc = mb_client_get_fd(&b->client);
    b->fd = rc < 0 ? -1 : rc;
    return 0;
}

int mbw_broker_fd(struct mbw_broker *b)
{
    return b->initialised ? b->fd : -1;
}

int mbw_broker_dispatch(struct mbw_broker *b)
{
    int rc = mb_client_dispatch(&b->client);
    if (rc == -ENOTCONN) {
        b->up = false;
        return rc;
    }
    if (rc >= 0 && !b->up) {
        b->up = true;
        b->reconnects++;
        return 1;
    }
    return 0;
}

int mbw_broker_send(struct mbw_broker *b, uint8_t level)
{
    int rc = mb_client_pressure_timeout(&b->client, level, b->timeout_ms);
    if (rc == 0) {
        b->sent++;
        b->up = true;
    } else if (rc == MB_CLIENT_ERR(MB_ERR_NOT_PERMITTED)) {
        b->refused++;
    } else {
        b->failed++;
        b->up = false;
    }
    return rc;
}

void mbw_broker_destroy(struct mbw_broker *b)
{
    if (b->initialised)
        mb_client_destroy(&b->client);
    memset(b, 0, sizeof *b);
}
