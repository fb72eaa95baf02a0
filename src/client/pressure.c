/* pressure.c: PRESSURE, the kernel's memory pressure as a watcher (mbwatch)
 * tells it to the server. Only connections the server trusts may send it;
 * everyone else gets MB_ERR_NOT_PERMITTED. */
#include "client/client_internal.h"

#include <errno.h>
#include <string.h>

int mb_client_pressure_timeout(struct mb_client *c, uint8_t level, uint32_t timeout_ms)
{
    if (level >= MB_PRESSURE_COUNT)
        return -EINVAL;
    struct client_state *s = client_valid(c);
    if (s == NULL)
        return -EINVAL;
    mb_cl_client_lock(s);
    struct mb_msg m, r;
    memset(&m, 0, sizeof m);
    m.type = MB_MSG_PRESSURE;
    m.u.pressure.level = level;
    int rc = mb_cl_transact(s, &m, &r, NULL, mb_cl_client_deadline_after(timeout_ms), false);
    mb_cl_client_unlock(s);
    if (rc < 0)
        return rc;
    if (r.type == MB_MSG_ERROR)
        return mb_cl_error_from_reply(&r);
    return r.type == MB_MSG_OK ? 0 : -EPROTO;
}

int mb_client_pressure(struct mb_client *c, uint8_t level)
{
    struct client_state *s = client_valid(c);
    if (s == NULL)
        return -EINVAL;
    return mb_client_pressure_timeout(c, level, s->default_timeout_ms);
}
