/* status.c: the engine's books as STATUS reports them.
 *
 * Client pages are read with a cursor (a slot index) rather than a count of
 * records, so clients coming and going between two pages never make a
 * reader see one twice. Building a page is O(max_clients); status is never
 * on the path of a grant. */
#include "broker/broker_internal.h"

#include "common/clock.h"

#include <errno.h>
#include <string.h>

uint8_t mb_broker_pressure(const struct mb_broker *b)
{
    return b->pressure;
}

void mb_broker_summary(const struct mb_broker *b, struct mb_status_summary *out)
{
    *out = b->counters;
    out->total = b->total;
    out->configured_total = b->cfg.total_pages;
    out->pool = b->pool;
    out->gathered = b->gathered;
    out->lent = b->lent;
    out->debt = b->debt;
    out->clients = b->connected;
    out->max_clients = b->max_clients;
    out->class_count = (uint8_t)b->cfg.class_count;
    out->pressure = b->pressure;
    out->section = 0;
    out->count = 0;
    out->offset = 0;
}

static void client_record(const struct mb_broker *b, const struct client *c,
                          struct mb_status_client *r)
{
    memset(r, 0, sizeof(*r));
    r->id = c->id;
    r->pid = c->pid;
    r->uid = c->uid;
    r->gid = c->gid;
    r->kind = c->kind;
    r->class_index = c->class_index;
    r->pending_kind = c->pending_kind;
    r->queries_outstanding = c->query_state == QUERY_OUTSTANDING ? 1 : 0;
    r->missed_deadlines = c->missed_deadlines;
    r->bogus_answers = c->bogus_answers;
    r->balance = c->balance;
    r->lent = c->lent;
    if (c->pending_kind != MB_PENDING_NONE) {
        r->pending_pages = c->wanted;
        r->pending_gathered = c->gathered;
        r->pending_age_ms = mb_ns_to_ms_floor(b->now - c->started_ns);
    }
    memcpy(r->name, c->name, sizeof(r->name));
}

int mb_broker_client_status(const struct mb_broker *b, mb_conn_t conn,
                            struct mb_status_client *out)
{
    if (conn >= b->max_clients || b->clients[conn].state != SLOT_ACTIVE)
        return -ENOENT;
    client_record(b, &b->clients[conn], out);
    return 0;
}

size_t mb_broker_client_page(const struct mb_broker *b, uint32_t cursor,
                             struct mb_status_client *out, size_t max, uint32_t *next,
                             bool *more)
{
    size_t n = 0;
    uint32_t i = cursor;
    for (; i < b->max_clients && n < max; i++)
        if (b->clients[i].state == SLOT_ACTIVE)
            client_record(b, &b->clients[i], &out[n++]);
    *next = i;
    *more = false;
    for (uint32_t j = i; j < b->max_clients; j++) {
        if (b->clients[j].state == SLOT_ACTIVE) {
            *more = true;
            break;
        }
    }
    return n;
}

int mb_broker_class_status(const struct mb_broker *b, size_t i, struct mb_status_class *out)
{
    if (i >= b->cfg.class_count)
        return -ENOENT;
    memset(out, 0, sizeof(*out));
    memcpy(out->name, b->cfg.classes[i].name, sizeof(out->name));
    out->limit = b->cfg.classes[i].limit;
    out->priority = b->cfg.classes[i].priority;
    out->held = b->classes[i].held;
    out->members = b->classes[i].members;
    return 0;
}

int status_encode(const struct mb_broker *b, const struct mb_msg *req, uint8_t *buf, size_t cap)
{
    struct mb_status_summary s;
    mb_broker_summary(b, &s);
    uint32_t cursor = req->u.status_reply.summary.offset;
    if (req->u.status_reply.summary.section == MB_STATUS_CLASSES) {
        struct mb_status_class recs[MB_STATUS_CLASSES_PER_PAGE];
        size_t n = 0;
        for (size_t i = cursor; i < b->cfg.class_count && n < MB_STATUS_CLASSES_PER_PAGE; i++)
            (void)mb_broker_class_status(b, i, &recs[n++]);
        return mb_proto_encode_status_classes(buf, cap, req->cookie, false, &s,
                                              (uint32_t)(cursor + n), recs, n);
    }
    struct mb_status_client recs[MB_STATUS_CLIENTS_PER_PAGE];
    uint32_t next = 0;
    bool more = false;
    size_t n = mb_broker_client_page(b, cursor, recs, MB_STATUS_CLIENTS_PER_PAGE, &next, &more);
    return mb_proto_encode_status_clients(buf, cap, req->cookie, more, &s, next, recs, n);
}
