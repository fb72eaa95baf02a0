/* bytes.c: byte amounts for callers that think in bytes (allocators, the
 * filesystem). Rounding is always up, so the same byte count requested and
 * returned is the same number of pages. */
#include "client/client_internal.h"
#include "common/numparse.h"

#include <errno.h>

/* pages_for_bytes, connecting within timeout_ms if the page size is not
 * known yet. */
static int pages_within(struct mb_client *c, uint64_t bytes, uint64_t *pages,
                        uint32_t timeout_ms)
{
    struct client_state *s = client_valid(c);
    if (s == NULL || pages == NULL)
        return -EINVAL;
    *pages = 0;
    mb_cl_client_lock(s);
    int rc = 0;
    if (s->page_size == 0) /* never connected: the server says the size */
        rc = mb_cl_conn_ensure(s, mb_cl_client_deadline_after(timeout_ms));
    uint32_t page = s->page_size;
    mb_cl_client_unlock(s);
    if (rc < 0)
        return rc;
    uint64_t n = bytes / page + (bytes % page != 0);
    if (n > MB_PAGES_MAX)
        return -EINVAL;
    *pages = n;
    return 0;
}

static uint32_t default_timeout(struct mb_client *c)
{
    struct client_state *s = client_valid(c);
    return s != NULL ? s->default_timeout_ms : 0;
}

int mb_client_pages_for_bytes(struct mb_client *c, uint64_t bytes, uint64_t *pages)
{
    return pages_within(c, bytes, pages, default_timeout(c));
}

int mb_client_request_bytes_timeout(struct mb_client *c, uint64_t bytes,
                                    uint64_t *granted_bytes, uint32_t timeout_ms)
{
    if (granted_bytes != NULL)
        *granted_bytes = 0;
    uint64_t pages, granted;
    int rc = pages_within(c, bytes, &pages, timeout_ms);
    if (rc < 0)
        return rc;
    rc = mb_client_request_timeout(c, pages, &granted, timeout_ms);
    if (rc == 0 && granted_bytes != NULL) {
        uint64_t b;
        /* granted <= pages, and pages * size is at most bytes + a page. */
        if (mb_mul_u64(granted, mb_client_page_size(c), &b) != 0)
            b = UINT64_MAX;
        *granted_bytes = b;
    }
    return rc;
}

int mb_client_request_bytes(struct mb_client *c, uint64_t bytes, uint64_t *granted_bytes)
{
    return mb_client_request_bytes_timeout(c, bytes, granted_bytes, default_timeout(c));
}

int mb_client_reserve_bytes_timeout(struct mb_client *c, uint64_t bytes, uint32_t deadline_ms,
                                    uint32_t timeout_ms)
{
    uint64_t pages;
    int rc = pages_within(c, bytes, &pages, timeout_ms);
    return rc < 0 ? rc : mb_client_reserve_timeout(c, pages, deadline_ms, timeout_ms);
}

int mb_client_reserve_bytes(struct mb_client *c, uint64_t bytes, uint32_t deadline_ms)
{
    return mb_client_reserve_bytes_timeout(c, bytes, deadline_ms, MB_CLIENT_WAIT_FOREVER);
}

int mb_client_return_bytes_timeout(struct mb_client *c, uint64_t bytes, uint32_t timeout_ms)
{
    uint64_t pages;
    int rc = pages_within(c, bytes, &pages, timeout_ms);
    return rc < 0 ? rc : mb_client_return_timeout(c, pages, timeout_ms);
}

int mb_client_return_bytes(struct mb_client *c, uint64_t bytes)
{
    return mb_client_return_bytes_timeout(c, bytes, default_timeout(c));
}
