/* broker.c: the engine's life (create, destroy), its events and its outbox.
 *
 * Every event runs the same frame: empty the outbox, advance the clock and
 * expire what is due, apply the event, let the planner ask for pages if
 * something waits, and (in debug builds) verify the books. */
#include "broker/broker_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mb_broker_create(const struct mb_broker_config *cfg, uint64_t now, struct mb_broker **out)
{
    int err = mb_broker_config_check(cfg);
    if (err != 0)
        return err;
    struct mb_broker *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return -ENOMEM;
    b->cfg = *cfg;
    b->now = now;
    b->max_clients = cfg->max_clients;
    /* Per event a client gets at most: a reply, a completion, a query and a
     * drop notice (see docs/protocol.md); the slack covers the sender. */
    b->out_cap = 4 * (size_t)cfg->max_clients + 16;
    b->clients = calloc(cfg->max_clients, sizeof(*b->clients));
    b->candidates = calloc(cfg->max_clients, sizeof(*b->candidates));
    b->outbox = calloc(b->out_cap, sizeof(*b->outbox));
    b->closing = calloc(cfg->max_clients, sizeof(*b->closing));
    if (b->clients == NULL || b->candidates == NULL || b->outbox == NULL || b->closing == NULL) {
        mb_broker_destroy(b);
        return -ENOMEM;
    }
    table_init(b);
    b->total = cfg->total_pages;
    b->pool = cfg->total_pages;
    b->next_client_id = 1;
    b->debt_retry_ns = UINT64_MAX;
    *out = b;
    return 0;
}

void mb_broker_destroy(struct mb_broker *b)
{
    if (b == NULL)
        return;
    free(b->clients);
    free(b->candidates);
    free(b->outbox);
    free(b->closing);
    free(b);
}

/* ---- output ---- */

void out_push(struct mb_broker *b, uint32_t idx, const struct mb_msg *msg)
{
    /* out_cap bounds what one event can produce; overflowing it would be an
     * engine bug, which debug builds catch. */
    if (b->out_count >= b->out_cap) {
#ifndef NDEBUG
        abort();
#else
        return;
#endif
    }
    b->outbox[b->out_count].conn = idx;
    b->outbox[b->out_count].msg = *msg;
    b->out_count++;
}

void out_error(struct mb_broker *b, uint32_t idx, uint32_t cookie, uint32_t code,
               uint32_t detail)
{
    struct mb_msg m = {.type = MB_MSG_ERROR, .cookie = cookie};
    m.u.error.code = code;
    m.u.error.detail = detail;
    m.u.error.balance = b->clients[idx].balance;
    out_push(b, idx, &m);
}

void out_grant(struct mb_broker *b, uint32_t idx, uint32_t cookie, uint64_t pages)
{
    struct mb_msg m = {.type = MB_MSG_GRANT, .cookie = cookie};
    m.u.grant.pages = pages;
    m.u.grant.balance = b->clients[idx].balance;
    out_push(b, idx, &m);
}

void out_ok(struct mb_broker *b, uint32_t idx, uint32_t cookie)
{
    struct mb_msg m = {.type = MB_MSG_OK, .cookie = cookie};
    m.u.ok.balance = b->clients[idx].balance;
    out_push(b, idx, &m);
}

size_t mb_broker_output_count(const struct mb_broker *b)
{
    return b->out_count;
}

const struct mb_broker_output *mb_broker_output_at(const struct mb_broker *b, size_t i)
{
    return i < b->out_count ? &b->outbox[i] : NULL;
}

int mb_broker_output_encode(const struct mb_broker *b, size_t i, uint8_t *buf, size_t cap)
{
    if (i >= b->out_count)
        return -EINVAL;
    const struct mb_msg *m = &b->outbox[i].msg;
    if (m->type == MB_MSG_STATUS_REPLY)
        return status_encode(b, m, buf, cap);
    return mb_proto_encode(m, buf, cap);
}

size_t mb_broker_close_count(const struct mb_broker *b)
{
    return b->close_count;
}

mb_conn_t mb_broker_close_at(const struct mb_broker *b, size_t i)
{
    return i < b->close_count ? b->closing[i] : MB_CONN_NONE;
}

int mb_broker_encode_refusal(uint8_t *buf, size_t cap)
{
    struct mb_msg m = {.type = MB_MSG_ERROR, .cookie = 0};
    m.u.error.code = MB_ERR_TOO_MANY_CLIENTS;
    return mb_proto_encode(&m, buf, cap);
}

/* ---- clients leaving ---- */

void client_release_quota(struct mb_broker *b, uint32_t idx)
{
    struct client *c = &b->clients[idx];
    if (c->state != SLOT_ACTIVE)
        return;
    if (c->pending_kind != MB_PENDING_NONE)
        pending_drop(b, idx);
    giveback_forget(b, idx);
    uint64_t held = c->balance;
    c->balance = 0;
    class_release(b, c, held);
    pages_arrive(b, held);
    if (c->lent > 0) {
        /* A source's capacity leaves with it; what the pool cannot cover
         * becomes debt, collected from the other clients. */
        uint64_t lent = c->lent;
        c->lent = 0;
        b->lent -= lent;
        b->total -= lent;
        withdraw_pages(b, lent);
    }
    b->classes[c->class_index].members--;
}

void client_drop(struct mb_broker *b, uint32_t idx, uint32_t error_code)
{
    struct client *c = &b->clients[idx];
    if (c->state == SLOT_CLOSING)
        return;
    out_error(b, idx, 0, error_code, 0);
    client_release_quota(b, idx);
    c->state = SLOT_CLOSING;
    b->closing[b->close_count++] = idx;
}

/* ---- the event frame ---- */

static void begin_event(struct mb_broker *b, uint64_t now)
{
    b->out_count = 0;
    b->close_count = 0;
    if (now > b->now)
        b->now = now; /* a clock that goes back is held, never followed */
    giveback_expire(b);
    pending_expire(b);
}

static void end_event(struct mb_broker *b)
{
    giveback_plan(b);
#ifndef NDEBUG
    const char *why = NULL;
    if (mb_broker_check(b, &why) != 0) {
        fprintf(stderr, "mb_broker: invariant broken: %s\n", why);
        abort();
    }
#endif
}

int mb_broker_connect(struct mb_broker *b, const struct mb_broker_peer *peer, uint64_t now,
                      mb_conn_t *conn)
{
    begin_event(b, now);
    uint32_t idx = table_alloc(b);
    if (idx == IDX_NONE) {
        end_event(b);
        return -EMFILE;
    }
    struct client *c = &b->clients[idx];
    c->state = SLOT_CONNECTED;
    c->pid = peer->pid;
    c->uid = peer->uid;
    c->gid = peer->gid;
    size_t n = strnlen(peer->exe, MB_EXE_NAME_MAX);
    memcpy(c->exe, peer->exe, n);
    c->exe[n] = '\0';
    c->privileged = peer->privileged;
    *conn = idx;
    end_event(b);
    return 0;
}

int mb_broker_message(struct mb_broker *b, mb_conn_t conn, const struct mb_msg *msg,
                      uint64_t now)
{
    if (table_get(b, conn) == NULL)
        return -ENOENT;
    begin_event(b, now);
    handle_message(b, conn, msg);
    end_event(b);
    return 0;
}

int mb_broker_receive(struct mb_broker *b, mb_conn_t conn, const uint8_t *pkt, size_t len,
                      uint64_t now)
{
    struct client *c = table_get(b, conn);
    if (c == NULL)
        return -ENOENT;
    struct mb_msg msg;
    int err = mb_proto_decode(pkt, len, &msg);
    if (err == 0)
        return mb_broker_message(b, conn, &msg, now);
    begin_event(b, now);
    if (c->state != SLOT_CLOSING) {
        struct mb_msg_header hdr;
        uint32_t cookie = mb_proto_peek_header(pkt, len, &hdr) == 0 ? hdr.cookie : 0;
        uint32_t code = err == MB_DECODE_AMOUNT ? MB_ERR_INVALID : MB_ERR_PROTOCOL;
        out_error(b, conn, cookie, code, (uint32_t)-err);
    }
    end_event(b);
    return 0;
}

int mb_broker_disconnect(struct mb_broker *b, mb_conn_t conn, uint64_t now)
{
    if (table_get(b, conn) == NULL)
        return -ENOENT;
    begin_event(b, now);
    client_release_quota(b, conn);
    table_release(b, conn);
    end_event(b);
    return 0;
}

void mb_broker_timer(struct mb_broker *b, uint64_t now)
{
    begin_event(b, now);
    end_event(b);
}

uint64_t mb_broker_next_deadline(const struct mb_broker *b)
{
    uint64_t p = pending_next_deadline(b), q = giveback_next_deadline(b);
    return p < q ? p : q;
}
