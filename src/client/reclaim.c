/* reclaim.c: RECLAIM, a source client taking back capacity it lent.
 *
 * The GRANT that answers a RECLAIM repays capacity: it shrinks what the
 * source lends (and so the capacity its HELLO lends after a reconnect),
 * never its balance. transact.c tells that GRANT from the others by the
 * cookie kept in reclaim_cookie, also when it arrives after its caller gave
 * up waiting. */
#include "client/client_internal.h"

#include <errno.h>
#include <string.h>

int mb_client_reclaim_timeout(struct mb_client *c, uint64_t pages, uint32_t deadline_ms,
                              uint32_t timeout_ms)
{
    if (pages > MB_PAGES_MAX)
        return -EINVAL;
    struct client_state *s = client_valid(c);
    if (s == NULL)
        return -EINVAL;
    mb_cl_client_lock(s);
    int rc;
    if (s->kind != MB_KIND_SOURCE) {
        rc = MB_CLIENT_ERR(MB_ERR_WRONG_KIND);
    } else if (pages > s->capacity) {
        rc = MB_CLIENT_ERR(MB_ERR_OVER_BALANCE);
    } else {
        struct mb_msg m, r;
        memset(&m, 0, sizeof m);
        m.type = MB_MSG_RECLAIM;
        m.u.reserve.pages = pages;
        m.u.reserve.deadline_ms = deadline_ms;
        rc = mb_cl_transact(s, &m, &r, NULL, mb_cl_client_deadline_after(timeout_ms), true);
        if (rc == 0 && r.type == MB_MSG_ERROR)
            rc = mb_cl_error_from_reply(&r);
        else if (rc == 0 && (r.type != MB_MSG_GRANT || r.u.grant.pages != pages))
            rc = -EPROTO; /* all or nothing */
    }
    mb_cl_client_unlock(s);
    return rc;
}

int mb_client_reclaim(struct mb_client *c, uint64_t pages, uint32_t deadline_ms)
{
    return mb_client_reclaim_timeout(c, pages, deadline_ms, MB_CLIENT_WAIT_FOREVER);
}

uint64_t mb_client_lent(struct mb_client *c)
{
    struct client_state *s = client_valid(c);
    if (s == NULL)
        return 0;
    mb_cl_client_lock(s);
    uint64_t lent = s->capacity;
    mb_cl_client_unlock(s);
    return lent;
}
