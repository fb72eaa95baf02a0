/* giveback.c: asking clients to give pages back, and hearing their answers.
 *
 * Needs are served in order: the debt, then the pressure reserve, then the
 * pending requests in FIFO order. Pages already asked for (outstanding
 * queries) are counted against needs in that same order, so several
 * pending requests share queries instead of asking one client twice for one
 * shortage. What is still missing is asked of candidates in policy order
 * (lowest class priority first, then largest holders), several at once when
 * one cannot cover it. A candidate is a bidirectional or source client that
 * holds pages and is not waiting on a request of its own; a client has at
 * most one outstanding query, and is asked again for a need only if it was
 * not asked (at that urgency) since the need began.
 *
 * A need for which nothing is expected, nobody is left to ask and nobody is
 * busy answering another query is exhausted: a REQUEST then completes with
 * what it gathered, a RESERVE or RECLAIM fails, and the debt starts a new
 * round after request_timeout.
 *
 * This is the slow path: O(clients log clients) to order candidates plus
 * O(needs x candidates) per planning pass, run only when something changed
 * and something waits. Immediate grants never come here.
 */
#include "broker/broker_internal.h"

#include "common/clock.h"

enum need_result {
    NEED_WAITING,
    NEED_EXHAUSTED,
};

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* ---- candidates in policy order ---- */

/* True when candidate a should be asked before b. */
static bool asked_before(const struct mb_broker *b, uint32_t ia, uint32_t ib)
{
    const struct client *a = &b->clients[ia], *c = &b->clients[ib];
    uint32_t pa = b->cfg.classes[a->class_index].priority;
    uint32_t pc = b->cfg.classes[c->class_index].priority;
    if (pa != pc)
        return pa < pc;
    if (a->balance != c->balance)
        return a->balance > c->balance;
    return a->id < c->id;
}

static void sift_down(const struct mb_broker *b, uint32_t *v, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        /* A max-heap on "asked later" so the sorted array ends ascending. */
        if (child + 1 < n && asked_before(b, v[child], v[child + 1]))
            child++;
        if (!asked_before(b, v[root], v[child]))
            return;
        uint32_t t = v[root];
        v[root] = v[child];
        v[child] = t;
        root = child;
    }
}

/* Heapsort: in place, no allocation, O(n log n) whatever the input. */
static void sort_candidates(const struct mb_broker *b, uint32_t *v, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_down(b, v, i, n);
    for (size_t end = n; end-- > 1;) {
        uint32_t t = v[0];
        v[0] = v[end];
        v[end] = t;
        sift_down(b, v, 0, end);
    }
}

static size_t build_candidates(struct mb_broker *b)
{
    size_t n = 0;
    for (uint32_t i = 0; i < b->max_clients; i++) {
        const struct client *c = &b->clients[i];
        if (c->state == SLOT_ACTIVE && c->kind != MB_KIND_SIMPLE &&
            c->pending_kind == MB_PENDING_NONE && c->balance > 0)
            b->candidates[n++] = i;
    }
    sort_candidates(b, b->candidates, n);
    return n;
}

/* ---- queries ---- */

static uint64_t query_key(const struct client *c)
{
    return c->query_deadline_ns;
}

static void send_query(struct mb_broker *b, uint32_t idx, uint8_t urgency, uint64_t pages)
{
    struct client *c = &b->clients[idx];
    b->query_seq++;
    c->query_state = QUERY_OUTSTANDING;
    c->query_urgency = urgency;
    c->query_cookie = (uint32_t)b->query_seq;
    c->query_pages = pages;
    c->last_asked_seq = b->query_seq;
    if (urgency == MB_URGENCY_URGENT)
        c->last_urgent_seq = b->query_seq;
    uint64_t deadline = b->now + b->cfg.query_timeout_ns;
    c->query_deadline_ns = deadline < b->now ? UINT64_MAX : deadline;
    list_insert_sorted(b, LIST_QUERIES, idx, c->query_deadline_ns, query_key);
    b->asked_pages += pages;
    b->counters.queries_sent++;

    struct mb_msg m = {.type = MB_MSG_GIVEBACK, .cookie = c->query_cookie};
    m.u.giveback.urgency = urgency;
    uint64_t ms = mb_ns_to_ms_ceil(b->cfg.query_timeout_ns);
    m.u.giveback.deadline_ms = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
    m.u.giveback.pages = pages;
    out_push(b, idx, &m);
}

/* The query of idx is over (answered, expired or its client gone). */
static void query_finish(struct mb_broker *b, uint32_t idx)
{
    struct client *c = &b->clients[idx];
    list_remove(b, LIST_QUERIES, idx);
    b->asked_pages -= c->query_pages;
    c->query_state = QUERY_NONE;
    c->query_pages = 0;
    b->replan = true;
}

/* Counts outstanding pages against `need`, then asks candidates not yet
 * asked since start_seq at `urgency` for what is still missing. */
static enum need_result serve_need(struct mb_broker *b, size_t n_cand, uint8_t urgency,
                                   uint64_t start_seq, uint64_t need, uint64_t *expected)
{
    uint64_t covered = min_u64(*expected, need);
    *expected -= covered;
    need -= covered;
    if (need == 0)
        return NEED_WAITING;
    uint64_t asked = 0;
    bool busy = false;
    for (size_t k = 0; k < n_cand && asked < need; k++) {
        uint32_t idx = b->candidates[k];
        const struct client *c = &b->clients[idx];
        uint64_t seq = urgency == MB_URGENCY_URGENT ? c->last_urgent_seq : c->last_asked_seq;
        if (seq > start_seq)
            continue; /* already asked for this need (and answered or pending) */
        if (c->query_state == QUERY_OUTSTANDING) {
            busy = true; /* answering an earlier query; ask once it is done */
            continue;
        }
        uint64_t ask = min_u64(need - asked, c->balance);
        send_query(b, idx, urgency, ask);
        asked += ask;
    }
    if (covered == 0 && asked == 0 && !busy)
        return NEED_EXHAUSTED;
    return NEED_WAITING;
}

static uint64_t pressure_need(const struct mb_broker *b)
{
    if (b->pressure == MB_PRESSURE_NONE || b->pool >= b->cfg.pressure_reserve_pages)
        return 0;
    return b->cfg.pressure_reserve_pages - b->pool;
}

/* One planning pass. Returns true when a request failed and gave its
 * gathered pages back, so the pass must be redone after settling. */
static bool plan_once(struct mb_broker *b)
{
    uint64_t pneed = pressure_need(b);
    if (b->lists[LIST_FIFO].count == 0 && b->debt == 0 && pneed == 0)
        return false;
    size_t n_cand = build_candidates(b);
    uint64_t expected = b->asked_pages;

    if (b->debt > 0 &&
        serve_need(b, n_cand, MB_URGENCY_URGENT, b->debt_seq, b->debt, &expected) ==
            NEED_EXHAUSTED &&
        b->debt_retry_ns == UINT64_MAX) {
        uint64_t at = b->now + b->cfg.request_timeout_ns;
        b->debt_retry_ns = at < b->now ? UINT64_MAX - 1 : at;
    }
    if (pneed > 0) {
        uint8_t u = b->pressure == MB_PRESSURE_CRITICAL ? MB_URGENCY_URGENT : MB_URGENCY_NORMAL;
        (void)serve_need(b, n_cand, u, b->pressure_seq, pneed, &expected);
    }
    uint32_t idx = b->lists[LIST_FIFO].head;
    while (idx != IDX_NONE) {
        struct client *c = &b->clients[idx];
        uint32_t next = c->links[LIST_FIFO].next;
        if (serve_need(b, n_cand, c->pending_urgency, c->start_seq, c->wanted - c->gathered,
                       &expected) == NEED_EXHAUSTED) {
            if (c->pending_kind == MB_PENDING_REQUEST) {
                pending_finish(b, idx, true, 0);
            } else {
                bool gave_back = c->gathered > 0;
                pending_finish(b, idx, false, MB_ERR_NOMEM);
                if (gave_back)
                    return true;
            }
        }
        idx = next;
    }
    return false;
}

void giveback_plan(struct mb_broker *b)
{
    while (b->replan) {
        b->replan = false;
        settle(b);
        if (plan_once(b))
            b->replan = true;
    }
}

void giveback_answer(struct mb_broker *b, uint32_t idx, uint32_t cookie, uint64_t pages)
{
    struct client *c = &b->clients[idx];
    bool on_time = c->query_state == QUERY_OUTSTANDING && cookie == c->query_cookie;
    bool late = !on_time && c->late_valid && cookie == c->late_cookie;
    if (c->kind == MB_KIND_SIMPLE || (!on_time && !late)) {
        c->bogus_answers++;
        b->counters.answers_bogus++;
        return;
    }
    if (on_time) {
        query_finish(b, idx);
    } else {
        c->late_valid = false;
        b->counters.answers_late++;
    }
    if (pages > c->balance) {
        /* Claims to give what it does not hold: a refusal, counted. */
        c->bogus_answers++;
        b->counters.answers_bogus++;
        b->replan = true;
        return;
    }
    c->balance -= pages;
    class_release(b, c, pages);
    pages_arrive(b, pages);
}

void giveback_forget(struct mb_broker *b, uint32_t idx)
{
    if (b->clients[idx].query_state == QUERY_OUTSTANDING)
        query_finish(b, idx);
    b->clients[idx].late_valid = false;
}

void giveback_expire(struct mb_broker *b)
{
    uint32_t idx;
    while ((idx = b->lists[LIST_QUERIES].head) != IDX_NONE &&
           b->clients[idx].query_deadline_ns <= b->now) {
        struct client *c = &b->clients[idx];
        uint32_t cookie = c->query_cookie;
        query_finish(b, idx);
        /* A late answer still counts as a return. */
        c->late_cookie = cookie;
        c->late_valid = true;
        c->missed_deadlines++;
        b->counters.deadlines_missed++;
        if (b->cfg.missed_deadline_limit != 0 &&
            c->missed_deadlines >= b->cfg.missed_deadline_limit)
            client_drop(b, idx, MB_ERR_MISSED_DEADLINES);
    }
    if (b->debt > 0 && b->debt_retry_ns <= b->now) {
        b->debt_seq = b->query_seq;
        b->debt_retry_ns = UINT64_MAX;
        b->replan = true;
    }
}

uint64_t giveback_next_deadline(const struct mb_broker *b)
{
    uint32_t idx = b->lists[LIST_QUERIES].head;
    uint64_t q = idx == IDX_NONE ? UINT64_MAX : b->clients[idx].query_deadline_ns;
    uint64_t d = b->debt > 0 ? b->debt_retry_ns : UINT64_MAX;
    return min_u64(q, d);
}
