/* request_queue.c: pending requests and where pages go when they come back.
 *
 * Pages that reach the pool (a RETURN, a give-back answer, a dead client,
 * a failed RESERVE) first pay the debt, then fill pending requests in FIFO
 * order, then stay in the pool. A request is complete when it has gathered
 * all it wanted; REQUESTs are also completed by their timeout or by the
 * planner (giveback.c) when nobody is left to ask; RESERVE and RECLAIM fail
 * there instead, and their gathered pages return to the pool.
 */
#include "broker/broker_internal.h"

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

uint64_t pool_available(const struct mb_broker *b)
{
    /* Under pressure part of the pool is a reserve that grants must not dip
     * into (the reserve is for the kernel, not for the next client). */
    if (b->pressure == MB_PRESSURE_NONE)
        return b->pool;
    uint64_t hold = min_u64(b->pool, b->cfg.pressure_reserve_pages);
    return b->pool - hold;
}

void pages_arrive(struct mb_broker *b, uint64_t pages)
{
    b->pool += pages;
    b->replan = true;
}

void withdraw_pages(struct mb_broker *b, uint64_t pages)
{
    uint64_t from_pool = min_u64(b->pool, pages);
    b->pool -= from_pool;
    if (b->debt == 0 && pages > from_pool)
        b->debt_seq = b->query_seq; /* a new collection round starts now */
    b->debt += pages - from_pool;
    b->replan = true;
}

static uint64_t deadline_key(const struct client *c)
{
    return c->deadline_ns;
}

void pending_start(struct mb_broker *b, uint32_t idx, uint8_t kind, uint32_t cookie,
                   uint64_t pages, uint64_t deadline_ns)
{
    struct client *c = &b->clients[idx];
    c->pending_kind = kind;
    c->pending_urgency = kind == MB_PENDING_REQUEST ? MB_URGENCY_NORMAL : MB_URGENCY_URGENT;
    c->pending_cookie = cookie;
    c->wanted = pages;
    c->gathered = 0;
    c->started_ns = b->now;
    c->deadline_ns = deadline_ns;
    c->start_seq = b->query_seq;
    /* RECLAIM pages leave the system, they are no class's. */
    c->class_charge = kind == MB_PENDING_RECLAIM ? 0 : pages;
    b->classes[c->class_index].pending += c->class_charge;
    list_push_back(b, LIST_FIFO, idx);
    if (deadline_ns != UINT64_MAX)
        list_insert_sorted(b, LIST_TIMED, idx, deadline_ns, deadline_key);
    b->replan = true;
}

/* Unlinks the pending request and releases its class room; the caller
 * decides where its gathered pages go. */
static void pending_unlink(struct mb_broker *b, uint32_t idx)
{
    struct client *c = &b->clients[idx];
    list_remove(b, LIST_FIFO, idx);
    if (list_linked(b, LIST_TIMED, idx))
        list_remove(b, LIST_TIMED, idx);
    b->classes[c->class_index].pending -= c->class_charge;
    b->gathered -= c->gathered;
    c->pending_kind = MB_PENDING_NONE;
    c->class_charge = 0;
    c->deadline_ns = UINT64_MAX;
    b->replan = true;
}

void pending_finish(struct mb_broker *b, uint32_t idx, bool success, uint32_t error_code)
{
    struct client *c = &b->clients[idx];
    uint8_t kind = c->pending_kind;
    uint64_t got = c->gathered, wanted = c->wanted;
    uint32_t cookie = c->pending_cookie;
    pending_unlink(b, idx);
    c->gathered = 0;
    c->wanted = 0;
    if (!success) {
        /* All or nothing: what was gathered goes back for the others. */
        pages_arrive(b, got);
        b->counters.reserves_failed++;
        out_error(b, idx, cookie, error_code, 0);
        return;
    }
    if (kind == MB_PENDING_RECLAIM) {
        /* The source's capacity leaves the books: it is repaid. */
        b->total -= got;
        b->lent -= got;
        c->lent -= got;
        out_grant(b, idx, cookie, got);
        return;
    }
    if (got < wanted)
        b->counters.requests_timed_out++;
    c->balance += got;
    class_hold(b, c, got);
    out_grant(b, idx, cookie, got);
}

void pending_drop(struct mb_broker *b, uint32_t idx)
{
    uint64_t got = b->clients[idx].gathered;
    pending_unlink(b, idx);
    b->clients[idx].gathered = 0;
    b->clients[idx].wanted = 0;
    pages_arrive(b, got);
}

void settle(struct mb_broker *b)
{
    uint64_t pay = min_u64(b->pool, b->debt);
    b->pool -= pay;
    b->debt -= pay;
    if (b->debt == 0)
        b->debt_retry_ns = UINT64_MAX;
    uint32_t idx = b->lists[LIST_FIFO].head;
    while (idx != IDX_NONE) {
        uint64_t avail = pool_available(b);
        if (avail == 0)
            break;
        struct client *c = &b->clients[idx];
        uint32_t next = c->links[LIST_FIFO].next;
        uint64_t take = min_u64(c->wanted - c->gathered, avail);
        c->gathered += take;
        b->gathered += take;
        b->pool -= take;
        if (c->gathered == c->wanted)
            pending_finish(b, idx, true, 0);
        idx = next;
    }
}

void pending_expire(struct mb_broker *b)
{
    uint32_t idx;
    while ((idx = b->lists[LIST_TIMED].head) != IDX_NONE &&
           b->clients[idx].deadline_ns <= b->now) {
        /* A REQUEST gets what was gathered; a RESERVE or RECLAIM with its
         * own deadline fails. */
        if (b->clients[idx].pending_kind == MB_PENDING_REQUEST)
            pending_finish(b, idx, true, 0);
        else
            pending_finish(b, idx, false, MB_ERR_TIMED_OUT);
    }
    settle(b);
}

uint64_t pending_next_deadline(const struct mb_broker *b)
{
    uint32_t idx = b->lists[LIST_TIMED].head;
    return idx == IDX_NONE ? UINT64_MAX : b->clients[idx].deadline_ns;
}
