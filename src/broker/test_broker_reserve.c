/* Engine scenarios: RESERVE (all or nothing, urgent give-back), CANCEL and
 * RESERVE deadlines. Exact balances and the invariant after every step. */
#include "broker/broker_test_util.h"

static size_t urgent_queries_to(const struct mb_broker *b, mb_conn_t c)
{
    size_t n = 0;
    for (size_t i = 0; i < mb_broker_output_count(b); i++) {
        const struct mb_broker_output *o = mb_broker_output_at(b, i);
        if (o->conn == c && o->msg.type == MB_MSG_GIVEBACK &&
            o->msg.u.giveback.urgency == MB_URGENCY_URGENT)
            n++;
    }
    return n;
}

static void test_reserve_success_via_giveback(void)
{
    struct mb_broker *b = t_create_default(100);
    MBT_REQUIRE(b != NULL);
    mb_conn_t h1 = t_client(b, MB_KIND_BIDIRECTIONAL, "h1", 0, 0);
    mb_conn_t h2 = t_client(b, MB_KIND_BIDIRECTIONAL, "h2", 0, 0);
    mb_conn_t a = t_client(b, MB_KIND_SIMPLE, "a", 0, 0);
    t_take(b, h1, 60);
    t_take(b, h2, 30);
    t_reserve(b, a, 1, 70, 0);
    MBT_EQ_U64(10, t_summary(b).gathered); /* the pool's 10 first */
    const struct mb_msg *q1 = t_query(b, h1);
    MBT_REQUIRE(q1 != NULL);
    MBT_EQ_INT(MB_URGENCY_URGENT, q1->u.giveback.urgency);
    MBT_EQ_U64(60, q1->u.giveback.pages);
    MBT_CHECK(t_query(b, h2) == NULL); /* h1 alone can cover it */
    uint32_t c1 = q1->cookie;
    MBT_EQ_U64(t_now + MS(200), mb_broker_next_deadline(b));
    T_CHECK(b);
    t_answer(b, h1, c1, 50);
    MBT_EQ_U64(0, t_out_count_to(b, a));
    MBT_EQ_U64(60, t_summary(b).gathered);
    const struct mb_msg *q2 = t_query(b, h2); /* then h2 for the rest */
    MBT_REQUIRE(q2 != NULL);
    MBT_EQ_INT(MB_URGENCY_URGENT, q2->u.giveback.urgency);
    MBT_EQ_U64(10, q2->u.giveback.pages);
    T_CHECK(b);
    t_answer(b, h2, q2->cookie, 10);
    T_GRANT(b, a, 1, 70, 70);
    MBT_EQ_U64(10, t_balance(b, h1));
    MBT_EQ_U64(20, t_balance(b, h2));
    MBT_EQ_U64(0, t_summary(b).pool);
    MBT_EQ_U64(0, t_summary(b).gathered);
    T_CHECK(b);
    mb_broker_destroy(b);
}

static void test_reserve_failure_asks_everyone_urgently(void)
{
    struct mb_broker *b = t_create_default(100);
    MBT_REQUIRE(b != NULL);
    mb_conn_t h1 = t_client(b, MB_KIND_BIDIRECTIONAL, "h1", 0, 0);
    mb_conn_t h2 = t_client(b, MB_KIND_BIDIRECTIONAL, "h2", 0, 0);
    mb_conn_t h3 = t_client(b, MB_KIND_BIDIRECTIONAL, "h3", 0, 0);
    mb_conn_t a = t_client(b, MB_KIND_SIMPLE, "a", 0, 0);
    mb_conn_t r = t_client(b, MB_KIND_SIMPLE, "r", 0, 0);
    t_take(b, h1, 50);
    t_take(b, h2, 30);
    t_take(b, h3, 20);

    /* First a REQUEST that h1 refuses at normal level... */
    t_amount(b, r, MB_MSG_REQUEST, 9, 10);
    const struct mb_msg *q = t_query(b, h1);
    MBT_REQUIRE(q != NULL);
    MBT_EQ_INT(MB_URGENCY_NORMAL, q->u.giveback.urgency);
    t_answer(b, h1, q->cookie, 0);
    q = t_query(b, h2); /* then h2 is asked, and refuses */
    MBT_REQUIRE(q != NULL);
    t_answer(b, h2, q->cookie, 0);
    q = t_query(b, h3);
    MBT_REQUIRE(q != NULL);
    t_answer(b, h3, q->cookie, 0);
    T_GRANT(b, r, 9, 0, 0);
    T_CHECK(b);

    /* ...does not count for a RESERVE: every holder is asked urgently. */
    t_reserve(b, a, 1, 90, 0);
    MBT_EQ_U64(1, urgent_queries_to(b, h1));
    MBT_EQ_U64(1, urgent_queries_to(b, h2));
    MBT_EQ_U64(1, urgent_queries_to(b, h3));
    uint32_t c1 = t_query(b, h1)->cookie, c2 = t_query(b, h2)->cookie,
             c3 = t_query(b, h3)->cookie;
    MBT_EQ_U64(50, t_query(b, h1)->u.giveback.pages);
    MBT_EQ_U64(30, t_query(b, h2)->u.giveback.pages);
    MBT_EQ_U64(10, t_query(b, h3)->u.giveback.pages);
    t_answer(b, h1, c1, 50);
    t_answer(b, h2, c2, 20);
    MBT_EQ_U64(70, t_summary(b).gathered);
    MBT_EQ_U64(0, t_out_count_to(b, a));
    T_CHECK(b);
    /* h3 refuses: h3 still holds 20 but was asked urgently for only 10;
     * since its answer it has been asked, so the RESERVE gives up. */
    t_answer(b, h3, c3, 0);
    T_ERROR(b, a, 1, MB_ERR_NOMEM);
    MBT_EQ_U64(0, t_balance(b, a));
    MBT_EQ_U64(0, t_summary(b).gathered);
    MBT_EQ_U64(70, t_summary(b).pool); /* every gathered page is back */
    MBT_EQ_U64(1, t_summary(b).reserves_failed);
    T_CHECK(b);
    mb_broker_destroy(b);
}

static void test_reserve_waits_through_timeouts_then_fails(void)
{
    struct mb_broker *b = t_create_default(100);
    MBT_REQUIRE(b != NULL);
    mb_conn_t h = t_client(b, MB_KIND_BIDIRECTIONAL, "h", 0, 0);
    mb_conn_t a = t_client(b, MB_KIND_SIMPLE, "a", 0, 0);
    t_take(b, h, 100);
    t_reserve(b, a, 1, 10, 0);
    MBT_EQ_U64(1, urgent_queries_to(b, h));
    /* No deadline of its own: only the query's. */
    MBT_EQ_U64(t_now + MS(200), mb_broker_next_deadline(b));
    t_advance(b, MS(199));
    MBT_EQ_U64(0, mb_broker_output_count(b));
    t_advance(b, MS(1));
    T_ERROR(b, a, 1, MB_ERR_NOMEM);
    T_CHECK(b);
    mb_broker_destroy(b);
}

static void test_reserve_own_deadline(void)
{
    struct mb_broker_config cfg;
    mb_broker_config_defaults(&cfg, 100, 4096);
    cfg.query_timeout_ns = MS(10000);
    struct mb_broker *b = t_create(&cfg);
    MBT_REQUIRE(b != NULL);
    mb_conn_t h = t_client(b, MB_KIND_BIDIRECTIONAL, "h", 0, 0);
    mb_conn_t a = t_client(b, MB_KIND_SIMPLE, "a", 0, 0);
    t_take(b, h, 95);
    t_reserve(b, a, 1, 20, 50);
    MBT_EQ_U64(5, t_summary(b).gathered);
    MBT_EQ_U64(t_now + MS(50), mb_broker_next_deadline(b));
    t_advance(b, MS(50));
    T_ERROR(b, a, 1, MB_ERR_TIMED_OUT);
    MBT_EQ_U64(5, t_summary(b).pool);
    MBT_EQ_U64(0, t_summary(b).gathered);
    T_CHECK(b);
    mb_broker_destroy(b);
}

static void test_cancel(void)
{
    struct mb_broker *b = t_create_default(100);
    MBT_REQUIRE(b != NULL);
    mb_conn_t h = t_client(b, MB_KIND_BIDIRECTIONAL, "h", 0, 0);
    mb_conn_t a = t_client(b, MB_KIND_SIMPLE, "a", 0, 0);
    t_take(b, h, 90);
    t_reserve(b, a, 5, 50, 0);
    MBT_EQ_U64(10, t_summary(b).gathered);
    uint32_t qc = t_query(b, h)->cookie;
    struct mb_msg cn = {.type = MB_MSG_CANCEL, .cookie = 6};
    cn.u.cancel.target_cookie = 4; /* wrong cookie */
    t_send(b, a, &cn);
    T_ERROR(b, a, 6, MB_ERR_NO_SUCH_REQUEST);
    cn.u.cancel.target_cookie = 5;
    t_send(b, a, &cn);
    T_ERROR(b, a, 5, MB_ERR_CANCELLED);
    MBT_REQUIRE(t_out(b, a, MB_MSG_OK, 6) != NULL);
    MBT_EQ_U64(0, t_out(b, a, MB_MSG_OK, 6)->u.ok.balance);
    MBT_EQ_U64(2, mb_broker_output_count(b));
    MBT_EQ_U64(10, t_summary(b).pool);
    MBT_EQ_U64(0, t_summary(b).gathered);
    T_CHECK(b);
    /* h answers anyway: its pages are a return. */
    t_answer(b, h, qc, 40);
    MBT_EQ_U64(50, t_summary(b).pool);
    MBT_EQ_U64(50, t_balance(b, h));
    T_CHECK(b);
    /* Not busy any more. */
    t_reserve(b, a, 7, 50, 0);
    T_GRANT(b, a, 7, 50, 50);
    T_CHECK(b);
    mb_broker_destroy(b);
}

static void test_return_while_pending(void)
{
    struct mb_broker *b = t_create_default(100);
    MBT_REQUIRE(b != NULL);
    mb_conn_t h = t_client(b, MB_KIND_BIDIRECTIONAL, "h", 0, 0);
    mb_conn_t a = t_client(b, MB_KIND_BIDIRECTIONAL, "a", 0, 0);
    t_take(b, a, 30);
    t_take(b, h, 70);
    t_reserve(b, a, 1, 20, 0);
    MBT_REQUIRE(t_query(b, h) != NULL);
    MBT_CHECK(t_query(b, a) == NULL); /* never the requester itself */
    t_amount(b, a, MB_MSG_RETURN, 2, 10);
    MBT_EQ_U64(20, t_out(b, a, MB_MSG_OK, 2)->u.ok.balance);
    MBT_EQ_U64(10, t_summary(b).gathered); /* its own return is gathered */
    T_CHECK(b);
    mb_broker_destroy(b);
}

int main(void)
{
    MBT_RUN(test_reserve_success_via_giveback);
    MBT_RUN(test_reserve_failure_asks_everyone_urgently);
    MBT_RUN(test_reserve_waits_through_timeouts_then_fails);
    MBT_RUN(test_reserve_own_deadline);
    MBT_RUN(test_cancel);
    MBT_RUN(test_return_while_pending);
    return mbt_finish();
}
