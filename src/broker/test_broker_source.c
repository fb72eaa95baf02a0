/* Engine scenarios: source clients (lending, repayment, death), server
 * restart (re-declared balances) and debt. Exact books after every step. */
#include "broker/broker_test_util.h"

static void test_source_lends_and_is_repaid(void)
{
    struct mb_broker *b = t_create_default(100);
    MBT_REQUIRE(b != NULL);
    mb_conn_t s = t_client(b, MB_KIND_SOURCE, "src", 50, 0);
    MBT_EQ_U64(150, t_out(b, s, MB_MSG_WELCOME, 1)->u.welcome.total);
    MBT_EQ_U64(150, t_summary(b).total);
    MBT_EQ_U64(150, t_summary(b).pool);
    MBT_EQ_U64(50, t_summary(b).lent);
    T_CHECK(b);

    mb_conn_t h = t_client(b, MB_KIND_BIDIRECTIONAL, "h", 0, 0);
    t_take(b, h, 130);
    MBT_EQ_U64(20, t_summary(b).pool);

    /* Asking back more than lent. */
    t_amount(b, s, MB_MSG_RECLAIM, 2, 51);
    T_ERROR(b, s, 2, MB_ERR_OVER_BALANCE);
    /* From the pool at once. */
    t_amount(b, s, MB_MSG_RECLAIM, 3, 15);
    T_GRANT(b, s, 3, 15, 0);
    MBT_EQ_U64(135, t_summary(b).total);
    MBT_EQ_U64(35, t_summary(b).lent);
    MBT_EQ_U64(5, t_summary(b).pool);
    T_CHECK(b);

    /* The rest by urgent give-back. */
    t_amount(b, s, MB_MSG_RECLAIM, 4, 35);
    MBT_EQ_U64(5, t_summary(b).gathered);
    const struct mb_msg *q = t_query(b, h);
    MBT_REQUIRE(q != NULL);
    MBT_EQ_INT(MB_URGENCY_URGENT, q->u.giveback.urgency);
    MBT_EQ_U64(30, q->u.giveback.pages);
    T_CHECK(b);
    t_answer(b, h, q->cookie, 30);
    T_GRANT(b, s, 4, 35, 0);
    MBT_EQ_U64(100, t_summary(b).total);
    MBT_EQ_U64(0, t_summary(b).lent);
    MBT_EQ_U64(0, t_summary(b).pool);
    MBT_EQ_U64(100, t_balance(b, h));
    struct mb_msg qm = {.type = MB_MSG_QUERY, .cookie = 5};
    t_send(b, s, &qm);
    MBT_EQ_U64(0, t_out(b, s, MB_MSG_QUERY_REPLY, 5)->u.query_reply.lent);
    T_CHECK(b);
    mb_broker_destroy(b);
}

static void test_source_death_makes_debt(void)
{
    struct mb_broker *b = t_create_default(100);
    MBT_REQUIRE(b != NULL);
    mb_conn_t s = t_client(b, MB_KIND_SOURCE, "src", 50, 0);
    mb_conn_t h = t_client(b, MB_KIND_BIDIRECTIONAL, "h", 0, 0);
    mb_conn_t a = t_client(b, MB_KIND_SIMPLE, "a", 0, 0);
    t_take(b, s, 5);
    t_take(b, h, 140);
    MBT_EQ_U64(5, t_summary(b).pool);

    /* The source dies: its 5 come back, its 50 leave; 40 are owed. */
    MBT_EQ_INT(0, mb_broker_disconnect(b, s, t_now));
    MBT_EQ_U64(100, t_summary(b).total);
    MBT_EQ_U64(0, t_summary(b).lent);
    MBT_EQ_U64(0, t_summary(b).pool);
    MBT_EQ_U64(40, t_summary(b).debt);
    const struct mb_msg *q = t_query(b, h);
    MBT_REQUIRE(q != NULL);
    MBT_EQ_INT(MB_URGENCY_URGENT, q->u.giveback.urgency);
    MBT_EQ_U64(40, q->u.giveback.pages);
    uint32_t qc = q->cookie;
    T_CHECK(b);

    /* No grants while in debt. */
    t_amount(b, a, MB_MSG_REQUEST, 1, 5);
    MBT_EQ_U64(0, t_out_count_to(b, a));
    t_amount(b, h, MB_MSG_RETURN, 2, 10);
    MBT_EQ_U64(30, t_summary(b).debt);
    MBT_EQ_U64(0, t_out_count_to(b, a));
    T_CHECK(b);

    t_answer(b, h, qc, 35);
    MBT_EQ_U64(0, t_summary(b).debt);
    T_GRANT(b, a, 1, 5, 5);
    MBT_EQ_U64(95, t_balance(b, h));
    MBT_EQ_U64(0, t_summary(b).pool);
    T_CHECK(b);
    mb_broker_destroy(b);
}

static void test_restart_redeclaration_and_debt(void)
{
    struct mb_broker *b = t_create_default(100);
    MBT_REQUIRE(b != NULL);
    /* After a restart, clients reconnect declaring what they hold. */
    mb_conn_t x = t_client(b, MB_KIND_BIDIRECTIONAL, "x", 0, 60);
    MBT_EQ_U64(60, t_out(b, x, MB_MSG_WELCOME, 1)->u.welcome.balance);
    MBT_EQ_U64(40, t_summary(b).pool);
    T_CHECK(b);
    mb_conn_t y = t_client(b, MB_KIND_BIDIRECTIONAL, "y", 0, 70);
    MBT_EQ_U64(70, t_balance(b, y));
    MBT_EQ_U64(0, t_summary(b).pool);
    MBT_EQ_U64(30, t_summary(b).debt);
    /* Collection asks the largest holder first, urgently. */
    const struct mb_msg *q = t_query(b, y);
    MBT_REQUIRE(q != NULL);
    MBT_EQ_U64(30, q->u.giveback.pages);
    MBT_CHECK(t_query(b, x) == NULL);
    uint32_t qy = q->cookie;
    T_CHECK(b);

    mb_conn_t c = t_client(b, MB_KIND_SIMPLE, "c", 0, 0);
    t_amount(b, c, MB_MSG_REQUEST, 1, 5);
    MBT_EQ_U64(0, t_out_count_to(b, c)); /* no grant in debt */
    /* y is busy with the debt's query, so c's shortage goes to x. */
    q = t_query(b, x);
    MBT_REQUIRE(q != NULL);
    MBT_EQ_INT(MB_URGENCY_NORMAL, q->u.giveback.urgency);
    MBT_EQ_U64(5, q->u.giveback.pages);
    uint32_t qx = q->cookie;

    /* y refuses the debt. x's pending 5 count against the debt first
     * (returned pages pay the debt first), so y, idle and not yet asked for
     * c's shortage, is asked for it. */
    t_answer(b, y, qy, 0);
    q = t_query(b, y);
    MBT_REQUIRE(q != NULL);
    MBT_EQ_INT(MB_URGENCY_NORMAL, q->u.giveback.urgency);
    MBT_EQ_U64(5, q->u.giveback.pages);
    qy = q->cookie;
    MBT_EQ_U64(1, mb_broker_output_count(b));
    T_CHECK(b);

    /* x refuses c: x is asked urgently for the debt (less y's 5), and c,
     * with nothing coming its way and nobody left, gets 0 now. */
    t_answer(b, x, qx, 0);
    q = t_query(b, x);
    MBT_REQUIRE(q != NULL);
    MBT_EQ_INT(MB_URGENCY_URGENT, q->u.giveback.urgency);
    MBT_EQ_U64(25, q->u.giveback.pages);
    qx = q->cookie;
    T_GRANT(b, c, 1, 0, 0);
    T_CHECK(b);
    t_answer(b, y, qy, 0);
    MBT_EQ_U64(0, mb_broker_output_count(b));
    t_answer(b, x, qx, 0);
    /* Everyone refused: the debt waits for a new round. */
    MBT_EQ_U64(30, t_summary(b).debt);
    MBT_EQ_U64(t_now + MS(500), mb_broker_next_deadline(b));
    T_CHECK(b);

    t_advance(b, MS(500));
    q = t_query(b, y);
    MBT_REQUIRE(q != NULL);
    t_answer(b, y, q->cookie, 35);
    MBT_EQ_U64(0, t_summary(b).debt);
    MBT_EQ_U64(5, t_summary(b).pool);
    MBT_EQ_U64(35, t_balance(b, y));
    MBT_EQ_U64(UINT64_MAX, mb_broker_next_deadline(b));
    T_CHECK(b);

    /* A declaration that would push the books past 2^63 is refused. */
    mb_conn_t z = t_connect_as(b, 5, 5, 5, "z", false);
    struct mb_msg h = {.type = MB_MSG_HELLO, .cookie = 3};
    h.u.hello.kind = MB_KIND_SIMPLE;
    h.u.hello.held = MB_PAGES_MAX - 50;
    t_send(b, z, &h);
    T_ERROR(b, z, 3, MB_ERR_INVALID);
    MBT_EQ_U64(100, t_summary(b).total);
    T_CHECK(b);
    mb_broker_destroy(b);
}

int main(void)
{
    MBT_RUN(test_source_lends_and_is_repaid);
    MBT_RUN(test_source_death_makes_debt);
    MBT_RUN(test_restart_redeclaration_and_debt);
    return mbt_finish();
}
