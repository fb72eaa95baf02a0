/* Engine scenarios: REQUESTs that wait, give-back queries, their deadlines,
 * and clients dying in the middle. Exact balances and the invariant after
 * every step. */
#include "broker/broker_test_util.h"

/* Two holders (60 and 40 of 100) and a requester; query timeout 1 s so the
 * REQUEST's own 500 ms timeout is what ends the wait. */
static void test_partial_request_after_timeout(void)
{
    struct mb_broker_config cfg;
    mb_broker_config_defaults(&cfg, 100, 4096);
    cfg.query_timeout_ns = MS(1000);
    struct mb_broker *b = t_create(&cfg);
    MBT_REQUIRE(b != NULL);
    mb_conn_t h1 = t_client(b, MB_KIND_BIDIRECTIONAL, "h1", 0, 0);
    mb_conn_t h2 = t_client(b, MB_KIND_BIDIRECTIONAL, "h2", 0, 0);
    mb_conn_t a = t_client(b, MB_KIND_SIMPLE, "a", 0, 0);
    t_take(b, h1, 60);
    t_take(b, h2, 40);
    T_CHECK(b);

    t_amount(b, a, MB_MSG_REQUEST, 5, 70);
    /* One client cannot cover 70: both are asked at once, largest first. */
    const struct mb_msg *q1 = t_query(b, h1), *q2 = t_query(b, h2);
    MBT_REQUIRE(q1 != NULL && q2 != NULL);
    MBT_EQ_U64(60, q1->u.giveback.pages);
    MBT_EQ_U64(10, q2->u.giveback.pages);
    MBT_EQ_INT(MB_URGENCY_NORMAL, q1->u.giveback.urgency);
    MBT_EQ_U64(1000, q1->u.giveback.deadline_ms);
    uint32_t c1 = q1->cookie, c2 = q2->cookie;
    MBT_CHECK(c1 != c2);
    MBT_EQ_U64(t_now + MS(500), mb_broker_next_deadline(b));
    T_CHECK(b);

    t_now += MS(10);
    t_answer(b, h1, c1, 60);
    MBT_EQ_U64(0, mb_broker_output_count(b)); /* 60 gathered, 10 still asked */
    MBT_EQ_U64(0, t_balance(b, h1));
    MBT_EQ_U64(60, t_summary(b).gathered);
    T_CHECK(b);

    t_advance(b, MS(489));
    MBT_EQ_U64(0, mb_broker_output_count(b));
    t_advance(b, MS(1));
    T_GRANT(b, a, 5, 60, 60);
    MBT_EQ_U64(1, t_summary(b).requests_timed_out);
    MBT_EQ_U64(0, t_summary(b).gathered);
    T_CHECK(b);

    /* h2's query expires later; its late answer is still a return. */
    MBT_EQ_U64(MS(1000) + MS(1000), mb_broker_next_deadline(b));
    t_advance(b, MS(500));
    struct mb_status_client st;
    MBT_EQ_INT(0, mb_broker_client_status(b, h2, &st));
    MBT_EQ_U64(1, st.missed_deadlines);
    MBT_EQ_U64(0, st.queries_outstanding);
    t_answer(b, h2, c2, 10);
    MBT_EQ_U64(30, t_balance(b, h2));
    MBT_EQ_U64(10, t_summary(b).pool);
    MBT_EQ_U64(1, t_summary(b).answers_late);
    /* Only once: the same late cookie again is bogus. */
    t_answer(b, h2, c2, 10);
    MBT_EQ_U64(30, t_balance(b, h2));
    MBT_EQ_U64(1, t_summary(b).answers_bogus);
    T_CHECK(b);
    mb_broker_destroy(b);
}

static void test_early_completion_when_all_answered(void)
{
    struct mb_broker *b = t_create_default(100);
    MBT_REQUIRE(b != NULL);
    mb_conn_t h = t_client(b, MB_KIND_BIDIRECTIONAL, "h", 0, 0);
    mb_conn_t a = t_client(b, MB_KIND_SIMPLE, "a", 0, 0);
    t_take(b, h, 90);
    t_amount(b, a, MB_MSG_REQUEST, 5, 30);
    const struct mb_msg *q = t_query(b, h);
    MBT_REQUIRE(q != NULL);
    MBT_EQ_U64(20, q->u.giveback.pages); /* the pool's 10 are gathered first */
    MBT_EQ_U64(10, t_summary(b).gathered);
    t_now += MS(3);
    t_answer(b, h, q->cookie, 5);
    /* Everyone asked has answered, nobody is left: done now, not at 500 ms. */
    T_GRANT(b, a, 5, 15, 15);
    MBT_EQ_U64(85, t_balance(b, h));
    MBT_EQ_U64(0, t_summary(b).pool);
    MBT_EQ_U64(UINT64_MAX, mb_broker_next_deadline(b));
    T_CHECK(b);
    mb_broker_destroy(b);
}

static void test_request_does_not_wait_on_busy_client(void)
{
    struct mb_broker *b = t_create_default(100);
    MBT_REQUIRE(b != NULL);
    mb_conn_t h1 = t_client(b, MB_KIND_BIDIRECTIONAL, "h1", 0, 0);
    mb_conn_t h2 = t_client(b, MB_KIND_BIDIRECTIONAL, "h2", 0, 0);
    mb_conn_t a = t_client(b, MB_KIND_SIMPLE, "a", 0, 0);
    t_take(b, h1, 90);
    t_take(b, h2, 10);
    /* h1 waits on its own RESERVE, which asks h2. */
    t_reserve(b, h1, 7, 5, 0);
    const struct mb_msg *q = t_query(b, h2);
    MBT_REQUIRE(q != NULL);
    uint32_t qc = q->cookie;
    MBT_CHECK(t_query(b, h1) == NULL);

    /* a's REQUEST must not ask h1, the biggest holder, while h1 waits. */
    t_amount(b, a, MB_MSG_REQUEST, 8, 20);
    MBT_CHECK(t_query(b, h1) == NULL);
    MBT_CHECK(t_query(b, h2) == NULL); /* h2 is busy with h1's query */
    T_CHECK(b);

    t_answer(b, h2, qc, 5);
    T_GRANT(b, h1, 7, 5, 95);
    /* h1 is free again: now it is asked for a's shortage. */
    q = t_query(b, h1);
    MBT_REQUIRE(q != NULL);
    MBT_EQ_U64(20, q->u.giveback.pages);
    t_answer(b, h1, q->cookie, 20);
    T_GRANT(b, a, 8, 20, 20);
    MBT_EQ_U64(75, t_balance(b, h1));
    MBT_EQ_U64(5, t_balance(b, h2));
    T_CHECK(b);

    /* When the only holder is itself waiting, a REQUEST does not wait at
     * all: it gets what there is at once. */
    mb_broker_destroy(b);
    b = t_create_default(10);
    MBT_REQUIRE(b != NULL);
    h1 = t_client(b, MB_KIND_BIDIRECTIONAL, "h1", 0, 0);
    h2 = t_client(b, MB_KIND_BIDIRECTIONAL, "h2", 0, 0);
    a = t_client(b, MB_KIND_SIMPLE, "a", 0, 0);
    t_take(b, h1, 8);
    t_take(b, h2, 2);
    t_reserve(b, h2, 3, 4, 0); /* asks h1 */
    q = t_query(b, h1);
    MBT_REQUIRE(q != NULL);
    t_answer(b, h1, q->cookie, 4); /* h2 is granted */
    T_GRANT(b, h2, 3, 4, 6);
    t_reserve(b, h1, 4, 3, 0);     /* h1 now waits, asks h2 */
    q = t_query(b, h2);
    MBT_REQUIRE(q != NULL);
    t_answer(b, h2, q->cookie, 0); /* refused: h1's reserve fails */
    T_ERROR(b, h1, 4, MB_ERR_NOMEM);
    t_reserve(b, h2, 5, 3, 0);     /* h2 waits, asks h1 */
    MBT_REQUIRE(t_query(b, h1) != NULL);
    t_amount(b, a, MB_MSG_REQUEST, 6, 1);
    /* h2 waits on its own RESERVE: a never asks it. (a waits for h1, which
     * is busy answering h2's query.) */
    MBT_CHECK(t_query(b, h2) == NULL);
    T_CHECK(b);
    mb_broker_destroy(b);
}

static void test_unsolicited_return_satisfies_queue(void)
{
    struct mb_broker *b = t_create_default(100);
    MBT_REQUIRE(b != NULL);
    mb_conn_t h = t_client(b, MB_KIND_BIDIRECTIONAL, "h", 0, 0);
    mb_conn_t a = t_client(b, MB_KIND_SIMPLE, "a", 0, 0);
    t_take(b, h, 100);
    t_amount(b, a, MB_MSG_REQUEST, 3, 10);
    const struct mb_msg *q = t_query(b, h);
    MBT_REQUIRE(q != NULL);
    uint32_t qc = q->cookie;
    t_amount(b, h, MB_MSG_RETURN, 4, 12);
    MBT_EQ_U64(88, t_out(b, h, MB_MSG_OK, 4)->u.ok.balance);
    T_GRANT(b, a, 3, 10, 10);
    MBT_EQ_U64(2, t_summary(b).pool);
    T_CHECK(b);
    /* The query stays open; answering it with 0 is a plain refusal. */
    t_answer(b, h, qc, 0);
    MBT_EQ_U64(0, t_summary(b).answers_bogus);
    MBT_EQ_U64(88, t_balance(b, h));
    T_CHECK(b);
    mb_broker_destroy(b);
}

static void test_queued_requests_in_order_with_merged_queries(void)
{
    struct mb_broker *b = t_create_default(100);
    MBT_REQUIRE(b != NULL);
    mb_conn_t h = t_client(b, MB_KIND_BIDIRECTIONAL, "h", 0, 0);
    mb_conn_t a = t_client(b, MB_KIND_SIMPLE, "a", 0, 0);
    mb_conn_t c = t_client(b, MB_KIND_SIMPLE, "c", 0, 0);
    mb_conn_t d = t_client(b, MB_KIND_SIMPLE, "d", 0, 0);
    t_take(b, h, 100);
    t_amount(b, a, MB_MSG_REQUEST, 1, 10);
    const struct mb_msg *q = t_query(b, h);
    MBT_REQUIRE(q != NULL);
    uint32_t qc = q->cookie;
    t_now += MS(1);
    t_amount(b, c, MB_MSG_REQUEST, 2, 20);
    MBT_EQ_U64(0, mb_broker_output_count(b)); /* h is not asked twice */
    t_now += MS(1);
    t_amount(b, d, MB_MSG_REQUEST, 3, 5);
    MBT_EQ_U64(0, mb_broker_output_count(b));
    MBT_EQ_U64(1, t_summary(b).queries_sent);
    T_CHECK(b);

    /* One answer covers all three, handed out in arrival order. */
    t_answer(b, h, qc, 40);
    MBT_EQ_U64(3, mb_broker_output_count(b));
    MBT_EQ_U64(a, mb_broker_output_at(b, 0)->conn);
    MBT_EQ_U64(c, mb_broker_output_at(b, 1)->conn);
    MBT_EQ_U64(d, mb_broker_output_at(b, 2)->conn);
    T_GRANT(b, a, 1, 10, 10);
    T_GRANT(b, c, 2, 20, 20);
    T_GRANT(b, d, 3, 5, 5);
    MBT_EQ_U64(5, t_summary(b).pool);
    MBT_EQ_U64(60, t_balance(b, h));
    T_CHECK(b);

    /* Without the large answer: the second request asks h again only
     * after h's first query is done. */
    t_amount(b, a, MB_MSG_REQUEST, 4, 10); /* 5 from pool, asks h for 5 */
    q = t_query(b, h);
    MBT_REQUIRE(q != NULL);
    MBT_EQ_U64(5, q->u.giveback.pages);
    qc = q->cookie;
    t_amount(b, c, MB_MSG_REQUEST, 5, 7);
    MBT_CHECK(t_query(b, h) == NULL);
    t_answer(b, h, qc, 5);
    T_GRANT(b, a, 4, 10, 20);
    q = t_query(b, h);
    MBT_REQUIRE(q != NULL);
    MBT_EQ_U64(7, q->u.giveback.pages);
    t_answer(b, h, q->cookie, 7);
    T_GRANT(b, c, 5, 7, 27);
    MBT_EQ_U64(48, t_balance(b, h));
    T_CHECK(b);
    mb_broker_destroy(b);
}

static void test_requester_dies_while_waiting(void)
{
    struct mb_broker *b = t_create_default(100);
    MBT_REQUIRE(b != NULL);
    mb_conn_t h = t_client(b, MB_KIND_BIDIRECTIONAL, "h", 0, 0);
    mb_conn_t a = t_client(b, MB_KIND_SIMPLE, "a", 0, 0);
    t_take(b, h, 95);
    t_amount(b, a, MB_MSG_REQUEST, 1, 30);
    MBT_EQ_U64(5, t_summary(b).gathered);
    const struct mb_msg *q = t_query(b, h);
    MBT_REQUIRE(q != NULL);
    uint32_t qc = q->cookie;
    t_amount(b, h, MB_MSG_RETURN, 2, 4);
    MBT_EQ_U64(9, t_summary(b).gathered);
    MBT_EQ_INT(0, mb_broker_disconnect(b, a, t_now));
    MBT_EQ_U64(0, mb_broker_output_count(b));
    MBT_EQ_U64(0, t_summary(b).gathered);
    MBT_EQ_U64(9, t_summary(b).pool);
    MBT_EQ_U64(t_now + MS(200), mb_broker_next_deadline(b)); /* h's query only */
    T_CHECK(b);
    t_answer(b, h, qc, 6);
    MBT_EQ_U64(15, t_summary(b).pool);
    MBT_EQ_U64(85, t_balance(b, h));
    T_CHECK(b);
    mb_broker_destroy(b);
}

static void test_queried_client_dies(void)
{
    struct mb_broker *b = t_create_default(100);
    MBT_REQUIRE(b != NULL);
    mb_conn_t h1 = t_client(b, MB_KIND_BIDIRECTIONAL, "h1", 0, 0);
    mb_conn_t h2 = t_client(b, MB_KIND_BIDIRECTIONAL, "h2", 0, 0);
    mb_conn_t a = t_client(b, MB_KIND_SIMPLE, "a", 0, 0);
    t_take(b, h1, 50);
    t_take(b, h2, 50);
    t_amount(b, a, MB_MSG_REQUEST, 1, 60);
    const struct mb_msg *q1 = t_query(b, h1), *q2 = t_query(b, h2);
    MBT_REQUIRE(q1 != NULL && q2 != NULL);
    MBT_EQ_U64(50, q1->u.giveback.pages); /* equal holders: older client first */
    MBT_EQ_U64(10, q2->u.giveback.pages);
    uint32_t c2 = q2->cookie;
    MBT_EQ_INT(0, mb_broker_disconnect(b, h1, t_now));
    MBT_EQ_U64(50, t_summary(b).gathered);
    MBT_EQ_U64(0, t_out_count_to(b, a)); /* still waiting on h2 */
    T_CHECK(b);
    t_answer(b, h2, c2, 10);
    T_GRANT(b, a, 1, 60, 60);
    MBT_EQ_U64(40, t_balance(b, h2));
    MBT_EQ_U64(0, t_summary(b).pool);
    T_CHECK(b);
    mb_broker_destroy(b);
}

static void test_missed_deadline_disconnect(void)
{
    struct mb_broker_config cfg;
    mb_broker_config_defaults(&cfg, 100, 4096);
    cfg.missed_deadline_limit = 2;
    struct mb_broker *b = t_create(&cfg);
    MBT_REQUIRE(b != NULL);
    mb_conn_t h = t_client(b, MB_KIND_BIDIRECTIONAL, "h", 0, 0);
    mb_conn_t a = t_client(b, MB_KIND_SIMPLE, "a", 0, 0);
    t_take(b, h, 100);

    t_amount(b, a, MB_MSG_REQUEST, 1, 10);
    MBT_REQUIRE(t_query(b, h) != NULL);
    MBT_EQ_U64(t_now + MS(200), mb_broker_next_deadline(b));
    t_advance(b, MS(200));
    /* h missed it; nobody else to ask: a gets 0 now. */
    T_GRANT(b, a, 1, 0, 0);
    MBT_EQ_U64(1, t_summary(b).deadlines_missed);
    MBT_EQ_U64(0, mb_broker_close_count(b));
    T_CHECK(b);

    t_amount(b, a, MB_MSG_REQUEST, 2, 10);
    MBT_REQUIRE(t_query(b, h) != NULL);
    t_advance(b, MS(200));
    /* Second miss reaches the limit: h is dropped, its 100 come back and
     * satisfy a at once. */
    MBT_EQ_U64(1, mb_broker_close_count(b));
    MBT_EQ_U64(h, mb_broker_close_at(b, 0));
    T_ERROR(b, h, 0, MB_ERR_MISSED_DEADLINES);
    T_GRANT(b, a, 2, 10, 10);
    MBT_EQ_U64(90, t_summary(b).pool);
    T_CHECK(b);

    /* The dropped client says something before the loop closes it: ignored. */
    t_amount(b, h, MB_MSG_RETURN, 3, 1);
    MBT_EQ_U64(0, mb_broker_output_count(b));
    MBT_EQ_INT(0, mb_broker_disconnect(b, h, t_now));
    MBT_EQ_U64(90, t_summary(b).pool);
    MBT_EQ_U64(1, t_summary(b).clients);
    T_CHECK(b);
    mb_broker_destroy(b);
}

static void test_bogus_answers(void)
{
    struct mb_broker *b = t_create_default(100);
    MBT_REQUIRE(b != NULL);
    mb_conn_t h = t_client(b, MB_KIND_BIDIRECTIONAL, "h", 0, 0);
    mb_conn_t a = t_client(b, MB_KIND_SIMPLE, "a", 0, 0);
    t_take(b, h, 100);
    t_answer(b, h, 12345, 10); /* nobody asked */
    MBT_EQ_U64(100, t_balance(b, h));
    MBT_EQ_U64(1, t_summary(b).answers_bogus);
    t_amount(b, a, MB_MSG_REQUEST, 1, 10);
    const struct mb_msg *q = t_query(b, h);
    MBT_REQUIRE(q != NULL);
    t_answer(b, h, q->cookie, 101); /* more than it holds: a refusal */
    MBT_EQ_U64(100, t_balance(b, h));
    MBT_EQ_U64(2, t_summary(b).answers_bogus);
    T_GRANT(b, a, 1, 0, 0);
    struct mb_status_client st;
    MBT_EQ_INT(0, mb_broker_client_status(b, h, &st));
    MBT_EQ_U64(2, st.bogus_answers);
    T_CHECK(b);
    mb_broker_destroy(b);
}

int main(void)
{
    MBT_RUN(test_partial_request_after_timeout);
    MBT_RUN(test_early_completion_when_all_answered);
    MBT_RUN(test_request_does_not_wait_on_busy_client);
    MBT_RUN(test_unsolicited_return_satisfies_queue);
    MBT_RUN(test_queued_requests_in_order_with_merged_queries);
    MBT_RUN(test_requester_dies_while_waiting);
    MBT_RUN(test_queried_client_dies);
    MBT_RUN(test_missed_deadline_disconnect);
    MBT_RUN(test_bogus_answers);
    return mbt_finish();
}
