/* calls.c: the requests a client makes: REQUEST, RESERVE, CANCEL, RETURN,
 * QUERY and STATUS, each a message, a wait and the reply's meaning. */
#include "client/client_internal.h"

#include <errno.h>
#include <string.h>

/* Every entry point: a valid client, locked (fork handled). */
static struct client_state *enter(struct mb_client *c)
{
    struct client_state *s = client_valid(c);
    if (s == NULL)
        return NULL;
    mb_cl_client_lock(s);
    return s;
}

static void msg_init(struct mb_msg *m, uint8_t type)
{
    memset(m, 0, sizeof *m);
    m->type = type;
}

/* Sends m and waits for its reply (the caller holds the client's lock).
 * Returns 0 when the reply is of type `want`, the server's refusal for an
 * ERROR, -EPROTO for any other reply, or the transport's error. */
static int call(struct client_state *s, struct mb_msg *m, struct mb_msg *r, uint8_t *page,
                uint32_t timeout_ms, bool pending, uint8_t want)
{
    int rc = mb_cl_transact(s, m, r, page, mb_cl_client_deadline_after(timeout_ms), pending);
    if (rc < 0)
        return rc;
    if (r->type == MB_MSG_ERROR)
        return mb_cl_error_from_reply(r);
    return r->type == want ? 0 : -EPROTO;
}

int mb_client_request_timeout(struct mb_client *c, uint64_t pages, uint64_t *granted,
                              uint32_t timeout_ms)
{
    if (granted != NULL)
        *granted = 0;
    if (pages > MB_PAGES_MAX)
        return -EINVAL;
    struct client_state *s = enter(c);
    if (s == NULL)
        return -EINVAL;
    struct mb_msg m, r;
    msg_init(&m, MB_MSG_REQUEST);
    m.u.amount.pages = pages;
    int rc = call(s, &m, &r, NULL, timeout_ms, true, MB_MSG_GRANT);
    mb_cl_client_unlock(s);
    if (rc < 0)
        return rc;
    if (granted != NULL)
        *granted = r.u.grant.pages;
    return 0;
}

int mb_client_request(struct mb_client *c, uint64_t pages, uint64_t *granted)
{
    struct client_state *s = client_valid(c);
    if (s == NULL)
        return -EINVAL;
    return mb_client_request_timeout(c, pages, granted, s->default_timeout_ms);
}

int mb_client_reserve_timeout(struct mb_client *c, uint64_t pages, uint32_t deadline_ms,
                              uint32_t timeout_ms)
{
    if (pages > MB_PAGES_MAX)
        return -EINVAL;
    struct client_state *s = enter(c);
    if (s == NULL)
        return -EINVAL;
    struct mb_msg m, r;
    msg_init(&m, MB_MSG_RESERVE);
    m.u.reserve.pages = pages;
    m.u.reserve.deadline_ms = deadline_ms;
    int rc = call(s, &m, &r, NULL, timeout_ms, true, MB_MSG_GRANT);
    mb_cl_client_unlock(s);
    if (rc < 0)
        return rc;
    return r.u.grant.pages == pages ? 0 : -EPROTO; /* all or nothing */
}

int mb_client_reserve(struct mb_client *c, uint64_t pages, uint32_t deadline_ms)
{
    return mb_client_reserve_timeout(c, pages, deadline_ms, MB_CLIENT_WAIT_FOREVER);
}

int mb_client_cancel_timeout(struct mb_client *c, uint32_t timeout_ms)
{
    struct client_state *s = enter(c);
    if (s == NULL)
        return -EINVAL;
    if (!s->pending) {
        mb_cl_client_unlock(s);
        return -ENOENT;
    }
    struct mb_msg m, r;
    msg_init(&m, MB_MSG_CANCEL);
    m.u.cancel.target_cookie = s->pending_cookie;
    int rc = call(s, &m, &r, NULL, timeout_ms, false, MB_MSG_OK);
    mb_cl_client_unlock(s);
    return rc;
}

int mb_client_cancel(struct mb_client *c)
{
    struct client_state *s = client_valid(c);
    if (s == NULL)
        return -EINVAL;
    return mb_client_cancel_timeout(c, s->default_timeout_ms);
}

int mb_client_return_timeout(struct mb_client *c, uint64_t pages, uint32_t timeout_ms)
{
    if (pages > MB_PAGES_MAX)
        return -EINVAL;
    struct client_state *s = enter(c);
    if (s == NULL)
        return -EINVAL;
    if (pages > s->balance) {
        mb_cl_client_unlock(s);
        return MB_CLIENT_ERR(MB_ERR_OVER_BALANCE);
    }
    struct mb_msg m, r;
    msg_init(&m, MB_MSG_RETURN);
    m.u.amount.pages = pages;
    int rc = mb_cl_transact(s, &m, &r, NULL, mb_cl_client_deadline_after(timeout_ms), false);
    mb_cl_client_unlock(s);
    if (rc < 0)
        return rc;
    if (r.type == MB_MSG_ERROR)
        return mb_cl_error_from_reply(&r);
    /* type 0: the connection dropped after sending, which counts as done. */
    return r.type == MB_MSG_OK || r.type == 0 ? 0 : -EPROTO;
}

int mb_client_return(struct mb_client *c, uint64_t pages)
{
    struct client_state *s = client_valid(c);
    if (s == NULL)
        return -EINVAL;
    return mb_client_return_timeout(c, pages, s->default_timeout_ms);
}

int mb_client_get_info_timeout(struct mb_client *c, struct mb_client_info *out,
                               uint32_t timeout_ms)
{
    if (out == NULL)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    struct client_state *s = enter(c);
    if (s == NULL)
        return -EINVAL;
    struct mb_msg m, r;
    msg_init(&m, MB_MSG_QUERY);
    int rc = call(s, &m, &r, NULL, timeout_ms, false, MB_MSG_QUERY_REPLY);
    if (rc == 0) {
        out->client_id = s->client_id;
        out->page_size = s->page_size;
        out->balance = r.u.query_reply.balance;
        out->lent = r.u.query_reply.lent;
        out->pool = r.u.query_reply.pool;
        out->total = r.u.query_reply.total;
        s->lent = r.u.query_reply.lent;
    }
    mb_cl_client_unlock(s);
    return rc;
}

int mb_client_get_info(struct mb_client *c, struct mb_client_info *out)
{
    struct client_state *s = client_valid(c);
    if (s == NULL)
        return -EINVAL;
    return mb_client_get_info_timeout(c, out, s->default_timeout_ms);
}

static void copy_summary(struct mb_client_status_summary *d, const struct mb_status_summary *s)
{
    d->total = s->total;
    d->configured_total = s->configured_total;
    d->pool = s->pool;
    d->gathered = s->gathered;
    d->lent = s->lent;
    d->debt = s->debt;
    d->requests = s->requests;
    d->grants_immediate = s->grants_immediate;
    d->requests_timed_out = s->requests_timed_out;
    d->reserves_failed = s->reserves_failed;
    d->queries_sent = s->queries_sent;
    d->answers_late = s->answers_late;
    d->answers_bogus = s->answers_bogus;
    d->deadlines_missed = s->deadlines_missed;
    d->clients = s->clients;
    d->max_clients = s->max_clients;
    d->class_count = s->class_count;
    d->pressure = s->pressure;
}

static void copy_client(struct mb_client_status_client *d, const struct mb_status_client *s)
{
    d->id = s->id;
    d->pid = s->pid;
    d->uid = s->uid;
    d->gid = s->gid;
    d->kind = s->kind;
    d->class_index = s->class_index;
    d->pending_kind = s->pending_kind;
    d->queries_outstanding = s->queries_outstanding;
    d->missed_deadlines = s->missed_deadlines;
    d->bogus_answers = s->bogus_answers;
    d->balance = s->balance;
    d->lent = s->lent;
    d->pending_pages = s->pending_pages;
    d->pending_gathered = s->pending_gathered;
    d->pending_age_ms = s->pending_age_ms;
    memcpy(d->name, s->name, sizeof d->name);
}

static void copy_class(struct mb_client_status_class *d, const struct mb_status_class *s)
{
    memcpy(d->name, s->name, sizeof d->name);
    d->limit = s->limit;
    d->held = s->held;
    d->priority = s->priority;
    d->members = s->members;
}

/* Fills out from a decoded STATUS_REPLY page in buf. */
static int unpack_status(const uint8_t *buf, const struct mb_msg *r, uint8_t section,
                         struct mb_client_status_page *out)
{
    struct mb_msg_header hdr;
    if (mb_proto_peek_header(buf, MB_PROTO_MAX_MESSAGE, &hdr) < 0)
        return -EPROTO;
    size_t len = MB_PROTO_HEADER_SIZE + (size_t)hdr.payload_len;
    const struct mb_status_summary *sum = &r->u.status_reply.summary;
    if (sum->section != section || len > MB_PROTO_MAX_MESSAGE)
        return -EPROTO;
    copy_summary(&out->summary, sum);
    out->section = sum->section;
    out->offset = sum->offset; /* the cursor of the next page */
    out->count = sum->count;
    out->more = (r->flags & MB_FLAG_MORE) != 0;
    for (size_t i = 0; i < sum->count; i++) {
        if (section == MB_STATUS_CLIENTS) {
            struct mb_status_client rec;
            if (mb_proto_status_client_at(buf, len, i, &rec) < 0)
                return -EPROTO;
            copy_client(&out->records.clients[i], &rec);
        } else {
            struct mb_status_class rec;
            if (mb_proto_status_class_at(buf, len, i, &rec) < 0)
                return -EPROTO;
            copy_class(&out->records.classes[i], &rec);
        }
    }
    return 0;
}

int mb_client_status_page_timeout(struct mb_client *c, uint8_t section, uint32_t cursor,
                                  struct mb_client_status_page *out, uint32_t timeout_ms)
{
    if (out == NULL || section >= MB_STATUS_SECTION_COUNT)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    struct client_state *s = enter(c);
    if (s == NULL)
        return -EINVAL;
    struct mb_msg m, r;
    msg_init(&m, MB_MSG_STATUS);
    m.u.status.section = section;
    m.u.status.offset = cursor;
    uint8_t page[MB_PROTO_MAX_MESSAGE];
    int rc = call(s, &m, &r, page, timeout_ms, false, MB_MSG_STATUS_REPLY);
    mb_cl_client_unlock(s);
    if (rc < 0)
        return rc;
    return unpack_status(page, &r, section, out);
}

int mb_client_status_page(struct mb_client *c, uint8_t section, uint32_t cursor,
                          struct mb_client_status_page *out)
{
    struct client_state *s = client_valid(c);
    if (s == NULL)
        return -EINVAL;
    return mb_client_status_page_timeout(c, section, cursor, out, s->default_timeout_ms);
}
