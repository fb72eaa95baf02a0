/* invariant.c: recomputes every book from the client records and compares.
 *
 * The engine keeps running sums (pool, gathered, lent, class totals, pages
 * asked) so events stay O(1); this file is the independent witness that the
 * sums are right and quota is conserved. O(clients). */
#include "broker/broker_internal.h"

#include <errno.h>

#define FAIL(msg)          \
    do {                   \
        if (why != NULL)   \
            *why = (msg);  \
        return -EFAULT;    \
    } while (0)

static int check_list(const struct mb_broker *b, enum list_id l, uint32_t expected_count)
{
    uint32_t n = 0, prev = IDX_NONE;
    for (uint32_t i = b->lists[l].head; i != IDX_NONE; i = b->clients[i].links[l].next) {
        if (i >= b->max_clients || b->clients[i].links[l].prev != prev || n > b->max_clients)
            return -1;
        prev = i;
        n++;
    }
    if (prev != b->lists[l].tail || n != b->lists[l].count || n != expected_count)
        return -1;
    return 0;
}

int mb_broker_check(const struct mb_broker *b, const char **why)
{
    uint64_t balances = 0, gathered = 0, lent = 0, asked = 0;
    uint64_t held[MB_MAX_CLASSES] = {0}, pending[MB_MAX_CLASSES] = {0};
    uint32_t members[MB_MAX_CLASSES] = {0};
    uint32_t n_pending = 0, n_timed = 0, n_queries = 0, n_free = 0;
    for (uint32_t i = 0; i < b->max_clients; i++) {
        const struct client *c = &b->clients[i];
        if (c->state == SLOT_FREE) {
            n_free++;
            continue;
        }
        if (c->state != SLOT_ACTIVE) {
            if (c->balance != 0 || c->lent != 0 || c->pending_kind != MB_PENDING_NONE ||
                c->query_state != QUERY_NONE)
                FAIL("a client that is not registered holds something");
            continue;
        }
        if (c->class_index >= b->cfg.class_count)
            FAIL("class index out of range");
        if (c->balance > MB_PAGES_MAX || c->lent > MB_PAGES_MAX)
            FAIL("an amount is 2^63 or more");
        balances += c->balance;
        lent += c->lent;
        held[c->class_index] += c->balance;
        members[c->class_index]++;
        if (c->lent > 0 && c->kind != MB_KIND_SOURCE)
            FAIL("a client that is not a source has lent capacity");
        if (c->pending_kind != MB_PENDING_NONE) {
            if (c->wanted == 0 || c->gathered >= c->wanted)
                FAIL("a pending request is empty or already complete");
            if (c->pending_kind == MB_PENDING_RECLAIM && c->wanted > c->lent)
                FAIL("a reclaim asks more than was lent");
            gathered += c->gathered;
            pending[c->class_index] += c->class_charge;
            n_pending++;
            if (c->deadline_ns != UINT64_MAX)
                n_timed++;
        }
        if (c->query_state == QUERY_OUTSTANDING) {
            if (c->kind == MB_KIND_SIMPLE)
                FAIL("a simple client was queried");
            asked += c->query_pages;
            n_queries++;
        }
    }
    if (balances > MB_PAGES_MAX || b->pool > MB_PAGES_MAX || b->total > MB_PAGES_MAX)
        FAIL("a book is 2^63 or more");
    if (b->pool + balances + gathered != b->total + b->debt)
        FAIL("pool + balances + gathered != total + debt");
    if (b->total != b->cfg.total_pages + b->lent)
        FAIL("total != configured total + lent");
    if (gathered != b->gathered)
        FAIL("gathered sum drifted");
    if (lent != b->lent)
        FAIL("lent sum drifted");
    if (asked != b->asked_pages)
        FAIL("asked pages sum drifted");
    if (b->pool > 0 && b->debt > 0)
        FAIL("pool and debt both non-zero");
    for (uint32_t k = 0; k < MB_MAX_CLASSES; k++) {
        if (held[k] != b->classes[k].held || pending[k] != b->classes[k].pending ||
            members[k] != b->classes[k].members)
            FAIL("class books drifted");
    }
    if (b->connected != b->max_clients - n_free)
        FAIL("connected count drifted");
    if (check_list(b, LIST_FIFO, n_pending) != 0)
        FAIL("pending FIFO is broken");
    if (check_list(b, LIST_TIMED, n_timed) != 0)
        FAIL("timed list is broken");
    if (check_list(b, LIST_QUERIES, n_queries) != 0)
        FAIL("query list is broken");
    if (check_list(b, LIST_FREE, n_free) != 0)
        FAIL("free list is broken");
    /* Deadlines come in order, or the timer would fire late. */
    for (uint32_t i = b->lists[LIST_TIMED].head; i != IDX_NONE;
         i = b->clients[i].links[LIST_TIMED].next) {
        uint32_t nx = b->clients[i].links[LIST_TIMED].next;
        if (nx != IDX_NONE && b->clients[nx].deadline_ns < b->clients[i].deadline_ns)
            FAIL("timed list out of order");
    }
    for (uint32_t i = b->lists[LIST_QUERIES].head; i != IDX_NONE;
         i = b->clients[i].links[LIST_QUERIES].next) {
        uint32_t nx = b->clients[i].links[LIST_QUERIES].next;
        if (nx != IDX_NONE && b->clients[nx].query_deadline_ns < b->clients[i].query_deadline_ns)
            FAIL("query list out of order");
    }
    return 0;
}
