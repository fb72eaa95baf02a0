/* messages.c: what each client message does to the books.
 *
 * Every request gets exactly one reply carrying its cookie (GRANT, OK,
 * QUERY_REPLY, STATUS_REPLY, or ERROR); a pending REQUEST/RESERVE/RECLAIM
 * gets it when it completes. GIVEBACK_ANSWER gets none. Bad input is
 * answered with an ERROR and changes nothing.
 */
#include "broker/broker_internal.h"

#include "common/clock.h"

#include <string.h>

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static bool names_ok(const struct mb_msg_hello *h)
{
    return strnlen(h->name, MB_NAME_BUF) <= MB_NAME_MAX &&
           strnlen(h->class_name, MB_NAME_BUF) <= MB_NAME_MAX;
}

static void on_hello(struct mb_broker *b, uint32_t idx, const struct mb_msg *msg)
{
    struct client *c = &b->clients[idx];
    const struct mb_msg_hello *h = &msg->u.hello;
    if (h->kind >= MB_KIND_COUNT || h->capacity > MB_PAGES_MAX || h->held > MB_PAGES_MAX ||
        (h->kind != MB_KIND_SOURCE && h->capacity != 0) || !names_ok(h)) {
        out_error(b, idx, msg->cookie, MB_ERR_INVALID, 0);
        return;
    }
    /* Keep every book below 2^63: total grows by the capacity, and what
     * clients hold (total + debt) by the re-declared balance. */
    uint64_t room = MB_PAGES_MAX - b->total - b->debt; /* total + debt <= 2^63-1 always */
    if (h->capacity > room || h->held > room - h->capacity) {
        out_error(b, idx, msg->cookie, MB_ERR_INVALID, 0);
        return;
    }
    size_t n = strlen(h->name);
    memcpy(c->name, h->name, n + 1);
    c->kind = h->kind;
    c->class_index = class_select(&b->cfg, c, h->class_name);
    c->state = SLOT_ACTIVE;
    c->id = b->next_client_id++;
    b->classes[c->class_index].members++;
    if (h->held > 0) {
        /* A balance granted by the previous server: believed (the client
         * has the memory), taken from the pool, and debt when it cannot be. */
        c->balance = h->held;
        class_hold(b, c, h->held);
        withdraw_pages(b, h->held);
    }
    if (h->capacity > 0) {
        c->lent = h->capacity;
        b->lent += h->capacity;
        b->total += h->capacity;
        pages_arrive(b, h->capacity);
    }
    struct mb_msg w = {.type = MB_MSG_WELCOME, .cookie = msg->cookie};
    w.u.welcome.client_id = c->id;
    w.u.welcome.page_size = b->cfg.page_size;
    w.u.welcome.total = b->total;
    w.u.welcome.balance = c->balance;
    memcpy(w.u.welcome.class_name, b->cfg.classes[c->class_index].name, MB_NAME_BUF);
    out_push(b, idx, &w);
}

/* Can `pages` be granted from the pool right now, ahead of nobody? */
static bool can_grant_now(const struct mb_broker *b, uint64_t pages)
{
    return b->lists[LIST_FIFO].count == 0 && b->debt == 0 && pool_available(b) >= pages;
}

static void grant_now(struct mb_broker *b, uint32_t idx, uint32_t cookie, uint64_t pages)
{
    struct client *c = &b->clients[idx];
    b->pool -= pages;
    c->balance += pages;
    class_hold(b, c, pages);
    b->counters.grants_immediate++;
    out_grant(b, idx, cookie, pages);
}

/* REQUEST, RESERVE and RECLAIM: checks shared by the three. Returns false
 * when it already replied. */
static bool request_admissible(struct mb_broker *b, uint32_t idx, const struct mb_msg *msg,
                               uint64_t pages)
{
    struct client *c = &b->clients[idx];
    if (c->pending_kind != MB_PENDING_NONE) {
        out_error(b, idx, msg->cookie, MB_ERR_BUSY, 0);
        return false;
    }
    if (pages > MB_PAGES_MAX) {
        out_error(b, idx, msg->cookie, MB_ERR_INVALID, 0);
        return false;
    }
    b->counters.requests++;
    if (pages == 0) {
        /* Nothing to do and no state to keep. */
        out_grant(b, idx, msg->cookie, 0);
        return false;
    }
    return true;
}

static void on_request(struct mb_broker *b, uint32_t idx, const struct mb_msg *msg)
{
    uint64_t pages = msg->u.amount.pages;
    if (!request_admissible(b, idx, msg, pages))
        return;
    uint64_t room = class_room(b, &b->clients[idx]);
    if (room == 0) {
        out_error(b, idx, msg->cookie, MB_ERR_CLASS_LIMIT, 0);
        return;
    }
    /* A REQUEST may be granted less than asked: the class room caps it. */
    pages = min_u64(pages, room);
    if (can_grant_now(b, pages)) {
        grant_now(b, idx, msg->cookie, pages);
        return;
    }
    uint64_t deadline = b->now + b->cfg.request_timeout_ns;
    pending_start(b, idx, MB_PENDING_REQUEST, msg->cookie, pages,
                  deadline < b->now ? UINT64_MAX - 1 : deadline);
}

static uint64_t client_deadline(const struct mb_broker *b, uint32_t ms)
{
    if (ms == 0)
        return UINT64_MAX;
    uint64_t at = b->now + mb_ms_to_ns(ms);
    return at < b->now ? UINT64_MAX - 1 : at;
}

static void on_reserve(struct mb_broker *b, uint32_t idx, const struct mb_msg *msg)
{
    uint64_t pages = msg->u.reserve.pages;
    if (!request_admissible(b, idx, msg, pages))
        return;
    if (class_room(b, &b->clients[idx]) < pages) {
        out_error(b, idx, msg->cookie, MB_ERR_CLASS_LIMIT, 0);
        return;
    }
    if (can_grant_now(b, pages)) {
        grant_now(b, idx, msg->cookie, pages);
        return;
    }
    pending_start(b, idx, MB_PENDING_RESERVE, msg->cookie, pages,
                  client_deadline(b, msg->u.reserve.deadline_ms));
}

static void on_reclaim(struct mb_broker *b, uint32_t idx, const struct mb_msg *msg)
{
    struct client *c = &b->clients[idx];
    uint64_t pages = msg->u.reserve.pages;
    if (c->kind != MB_KIND_SOURCE) {
        out_error(b, idx, msg->cookie, MB_ERR_WRONG_KIND, 0);
        return;
    }
    if (pages <= MB_PAGES_MAX && pages > c->lent) {
        out_error(b, idx, msg->cookie, MB_ERR_OVER_BALANCE, 0);
        return;
    }
    if (!request_admissible(b, idx, msg, pages))
        return;
    /* Repayment ignores the pressure reserve: the pages were the source's. */
    if (b->lists[LIST_FIFO].count == 0 && b->pool >= pages) {
        b->pool -= pages;
        b->total -= pages;
        b->lent -= pages;
        c->lent -= pages;
        b->counters.grants_immediate++;
        out_grant(b, idx, msg->cookie, pages);
        return;
    }
    pending_start(b, idx, MB_PENDING_RECLAIM, msg->cookie, pages,
                  client_deadline(b, msg->u.reserve.deadline_ms));
}

static void on_cancel(struct mb_broker *b, uint32_t idx, const struct mb_msg *msg)
{
    struct client *c = &b->clients[idx];
    uint32_t target = msg->u.cancel.target_cookie;
    if (c->pending_kind == MB_PENDING_NONE || c->pending_cookie != target) {
        out_error(b, idx, msg->cookie, MB_ERR_NO_SUCH_REQUEST, 0);
        return;
    }
    pending_drop(b, idx);
    out_error(b, idx, target, MB_ERR_CANCELLED, 0);
    out_ok(b, idx, msg->cookie);
}

static void on_return(struct mb_broker *b, uint32_t idx, const struct mb_msg *msg)
{
    struct client *c = &b->clients[idx];
    uint64_t pages = msg->u.amount.pages;
    if (pages > MB_PAGES_MAX) {
        out_error(b, idx, msg->cookie, MB_ERR_INVALID, 0);
        return;
    }
    if (pages > c->balance) {
        out_error(b, idx, msg->cookie, MB_ERR_OVER_BALANCE, 0);
        return;
    }
    c->balance -= pages;
    class_release(b, c, pages);
    out_ok(b, idx, msg->cookie);
    pages_arrive(b, pages);
}

static void on_query(struct mb_broker *b, uint32_t idx, const struct mb_msg *msg)
{
    const struct client *c = &b->clients[idx];
    struct mb_msg r = {.type = MB_MSG_QUERY_REPLY, .cookie = msg->cookie};
    r.u.query_reply.balance = c->balance;
    r.u.query_reply.lent = c->lent;
    r.u.query_reply.pool = b->pool;
    r.u.query_reply.total = b->total;
    out_push(b, idx, &r);
}

static void on_status(struct mb_broker *b, uint32_t idx, const struct mb_msg *msg)
{
    if (msg->u.status.section >= MB_STATUS_SECTION_COUNT) {
        out_error(b, idx, msg->cookie, MB_ERR_INVALID, 0);
        return;
    }
    /* The page itself is built when the loop encodes it (status.c). */
    struct mb_msg r = {.type = MB_MSG_STATUS_REPLY, .cookie = msg->cookie};
    r.u.status_reply.summary.section = msg->u.status.section;
    r.u.status_reply.summary.offset = msg->u.status.offset;
    out_push(b, idx, &r);
}

static void on_pressure(struct mb_broker *b, uint32_t idx, const struct mb_msg *msg)
{
    if (!b->clients[idx].privileged) {
        out_error(b, idx, msg->cookie, MB_ERR_NOT_PERMITTED, 0);
        return;
    }
    if (msg->u.pressure.level >= MB_PRESSURE_COUNT) {
        out_error(b, idx, msg->cookie, MB_ERR_INVALID, 0);
        return;
    }
    b->pressure = msg->u.pressure.level;
    b->pressure_seq = b->query_seq; /* every PRESSURE starts a new round */
    b->replan = true;
    out_ok(b, idx, msg->cookie);
}

void handle_message(struct mb_broker *b, uint32_t idx, const struct mb_msg *msg)
{
    struct client *c = &b->clients[idx];
    if (c->state == SLOT_CLOSING)
        return; /* the engine dropped it; nothing it says counts */
    if (!mb_proto_is_client_type(msg->type)) {
        out_error(b, idx, msg->cookie, MB_ERR_UNEXPECTED, 0);
        return;
    }
    if (c->state == SLOT_CONNECTED && msg->type != MB_MSG_HELLO) {
        out_error(b, idx, msg->cookie, MB_ERR_NOT_REGISTERED, 0);
        return;
    }
    switch (msg->type) {
    case MB_MSG_HELLO:
        if (c->state == SLOT_ACTIVE)
            out_error(b, idx, msg->cookie, MB_ERR_ALREADY_REGISTERED, 0);
        else
            on_hello(b, idx, msg);
        break;
    case MB_MSG_REQUEST: on_request(b, idx, msg); break;
    case MB_MSG_RESERVE: on_reserve(b, idx, msg); break;
    case MB_MSG_RECLAIM: on_reclaim(b, idx, msg); break;
    case MB_MSG_CANCEL: on_cancel(b, idx, msg); break;
    case MB_MSG_RETURN: on_return(b, idx, msg); break;
    case MB_MSG_QUERY: on_query(b, idx, msg); break;
    case MB_MSG_STATUS: on_status(b, idx, msg); break;
    case MB_MSG_GIVEBACK_ANSWER: giveback_answer(b, idx, msg->cookie, msg->u.amount.pages); break;
    case MB_MSG_PRESSURE: on_pressure(b, idx, msg); break;
    default: break;
    }
}
