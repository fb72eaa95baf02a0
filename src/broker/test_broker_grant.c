/* Engine scenarios: the grant/return path and bad input. Every step checks
 * exact balances and the conservation invariant. */
#include "broker/broker_test_util.h"

#include <errno.h>

static void test_pool_grant_and_return(void)
{
    struct mb_broker *b = t_create_default(100);
    MBT_REQUIRE(b != NULL);
    mb_conn_t a = t_client(b, MB_KIND_SIMPLE, "a", 0, 0);
    const struct mb_msg *w = t_out(b, a, MB_MSG_WELCOME, 1);
    MBT_REQUIRE(w != NULL);
    MBT_EQ_U64(1, w->u.welcome.client_id);
    MBT_EQ_U64(4096, w->u.welcome.page_size);
    MBT_EQ_U64(100, w->u.welcome.total);
    MBT_EQ_U64(0, w->u.welcome.balance);
    MBT_EQ_STR("default", w->u.welcome.class_name);
    T_CHECK(b);

    t_amount(b, a, MB_MSG_REQUEST, 7, 30);
    T_GRANT(b, a, 7, 30, 30);
    MBT_EQ_U64(1, mb_broker_output_count(b));
    MBT_EQ_U64(70, t_summary(b).pool);
    MBT_EQ_U64(1, t_summary(b).grants_immediate);
    T_CHECK(b);

    t_amount(b, a, MB_MSG_RETURN, 8, 10);
    const struct mb_msg *ok = t_out(b, a, MB_MSG_OK, 8);
    MBT_REQUIRE(ok != NULL);
    MBT_EQ_U64(20, ok->u.ok.balance);
    MBT_EQ_U64(80, t_summary(b).pool);
    T_CHECK(b);

    /* A RETURN of more than held changes nothing. */
    t_amount(b, a, MB_MSG_RETURN, 9, 21);
    T_ERROR(b, a, 9, MB_ERR_OVER_BALANCE);
    MBT_EQ_U64(20, t_balance(b, a));
    MBT_EQ_U64(80, t_summary(b).pool);
    T_CHECK(b);

    struct mb_msg q = {.type = MB_MSG_QUERY, .cookie = 10};
    t_send(b, a, &q);
    const struct mb_msg *r = t_out(b, a, MB_MSG_QUERY_REPLY, 10);
    MBT_REQUIRE(r != NULL);
    MBT_EQ_U64(20, r->u.query_reply.balance);
    MBT_EQ_U64(80, r->u.query_reply.pool);
    MBT_EQ_U64(100, r->u.query_reply.total);
    MBT_EQ_U64(0, r->u.query_reply.lent);

    /* A REQUEST larger than the pool with nobody to ask: granted what the
     * pool had, at once (nobody is left to ask). */
    mb_conn_t c = t_client(b, MB_KIND_SIMPLE, "c", 0, 0);
    t_amount(b, c, MB_MSG_REQUEST, 11, 90);
    T_GRANT(b, c, 11, 80, 80);
    MBT_EQ_U64(0, t_summary(b).pool);
    MBT_EQ_U64(1, t_summary(b).requests_timed_out);
    T_CHECK(b);

    /* Dying returns everything at once. */
    MBT_EQ_INT(0, mb_broker_disconnect(b, c, t_now));
    MBT_EQ_U64(80, t_summary(b).pool);
    MBT_EQ_INT(-ENOENT, mb_broker_disconnect(b, c, t_now));
    T_CHECK(b);
    mb_broker_destroy(b);
}

static void test_zero_pages(void)
{
    struct mb_broker *b = t_create_default(10);
    MBT_REQUIRE(b != NULL);
    mb_conn_t a = t_client(b, MB_KIND_BIDIRECTIONAL, "a", 0, 0);
    mb_conn_t h = t_client(b, MB_KIND_BIDIRECTIONAL, "holder", 0, 0);
    t_take(b, h, 10);
    t_amount(b, a, MB_MSG_REQUEST, 2, 0);
    T_GRANT(b, a, 2, 0, 0);
    t_reserve(b, a, 3, 0, 0);
    T_GRANT(b, a, 3, 0, 0);
    /* No phantom state: nothing pending, nobody asked, no deadline. */
    struct mb_status_client st;
    MBT_EQ_INT(0, mb_broker_client_status(b, a, &st));
    MBT_EQ_INT(MB_PENDING_NONE, st.pending_kind);
    MBT_CHECK(t_query(b, h) == NULL);
    MBT_EQ_U64(UINT64_MAX, mb_broker_next_deadline(b));
    t_amount(b, a, MB_MSG_RETURN, 4, 0);
    MBT_CHECK(t_out(b, a, MB_MSG_OK, 4) != NULL);
    T_CHECK(b);
    mb_broker_destroy(b);
}

static void test_sequencing_errors(void)
{
    struct mb_broker *b = t_create_default(50);
    MBT_REQUIRE(b != NULL);
    mb_conn_t a = t_connect_as(b, 1, 2, 3, "x", false);
    t_amount(b, a, MB_MSG_REQUEST, 5, 1);
    T_ERROR(b, a, 5, MB_ERR_NOT_REGISTERED);
    MBT_EQ_U64(50, t_summary(b).pool);

    struct mb_msg hello = {.type = MB_MSG_HELLO, .cookie = 6};
    hello.u.hello.kind = MB_KIND_SIMPLE;
    hello.u.hello.capacity = 5; /* only sources lend */
    t_send(b, a, &hello);
    T_ERROR(b, a, 6, MB_ERR_INVALID);
    MBT_EQ_U64(50, t_summary(b).total);
    hello.u.hello.capacity = 0;
    t_send(b, a, &hello);
    MBT_CHECK(t_out(b, a, MB_MSG_WELCOME, 6) != NULL);
    t_send(b, a, &hello);
    T_ERROR(b, a, 6, MB_ERR_ALREADY_REGISTERED);

    /* A server-to-client type sent to the server. */
    struct mb_msg g = {.type = MB_MSG_GRANT, .cookie = 7};
    t_send(b, a, &g);
    T_ERROR(b, a, 7, MB_ERR_UNEXPECTED);

    /* PRESSURE from an unprivileged peer. */
    struct mb_msg p = {.type = MB_MSG_PRESSURE, .cookie = 8};
    p.u.pressure.level = MB_PRESSURE_CRITICAL;
    t_send(b, a, &p);
    T_ERROR(b, a, 8, MB_ERR_NOT_PERMITTED);
    MBT_EQ_INT(MB_PRESSURE_NONE, t_summary(b).pressure);

    /* RECLAIM from a client that is not a source. */
    t_amount(b, a, MB_MSG_RECLAIM, 9, 1);
    T_ERROR(b, a, 9, MB_ERR_WRONG_KIND);

    /* An answer from a simple client: ignored, counted, no reply. */
    t_answer(b, a, 1, 0);
    MBT_EQ_U64(0, mb_broker_output_count(b));
    MBT_EQ_U64(1, t_summary(b).answers_bogus);

    /* CANCEL of nothing. */
    struct mb_msg cn = {.type = MB_MSG_CANCEL, .cookie = 10};
    cn.u.cancel.target_cookie = 3;
    t_send(b, a, &cn);
    T_ERROR(b, a, 10, MB_ERR_NO_SUCH_REQUEST);
    T_CHECK(b);
    mb_broker_destroy(b);
}

static void test_malformed_packets(void)
{
    struct mb_broker *b = t_create_default(50);
    MBT_REQUIRE(b != NULL);
    mb_conn_t a = t_client(b, MB_KIND_SIMPLE, "a", 0, 0);
    uint8_t buf[64];
    struct mb_msg m = {.type = MB_MSG_REQUEST, .cookie = 44};
    m.u.amount.pages = 5;
    int n = mb_proto_encode(&m, buf, sizeof(buf));
    MBT_REQUIRE(n == 24);

    /* An amount of 2^63 or more: INVALID, with the decode error as detail. */
    buf[16 + 7] = 0x80;
    MBT_EQ_INT(0, mb_broker_receive(b, a, buf, 24, t_now));
    T_ERROR(b, a, 44, MB_ERR_INVALID);
    MBT_EQ_U64((uint32_t)-MB_DECODE_AMOUNT, t_out(b, a, MB_MSG_ERROR, 44)->u.error.detail);
    MBT_EQ_U64(0, t_balance(b, a));

    /* Half a message. */
    buf[16 + 7] = 0;
    MBT_EQ_INT(0, mb_broker_receive(b, a, buf, 20, t_now));
    T_ERROR(b, a, 44, MB_ERR_PROTOCOL);
    MBT_EQ_U64((uint32_t)-MB_DECODE_TRUNCATED, t_out(b, a, MB_MSG_ERROR, 44)->u.error.detail);

    /* Less than a header: no cookie to echo, so 0. */
    MBT_EQ_INT(0, mb_broker_receive(b, a, buf, 3, t_now));
    T_ERROR(b, a, 0, MB_ERR_PROTOCOL);
    MBT_EQ_U64(50, t_summary(b).pool);

    /* Structured messages with out-of-range amounts are refused too. */
    m.u.amount.pages = MB_PAGES_MAX + 1;
    MBT_EQ_INT(0, mb_broker_message(b, a, &m, t_now));
    T_ERROR(b, a, 44, MB_ERR_INVALID);
    m.type = MB_MSG_RETURN;
    MBT_EQ_INT(0, mb_broker_message(b, a, &m, t_now));
    T_ERROR(b, a, 44, MB_ERR_INVALID);
    MBT_EQ_INT(-ENOENT, mb_broker_message(b, 63, &m, t_now));
    MBT_EQ_INT(-ENOENT, mb_broker_receive(b, 1000, buf, 24, t_now));
    T_CHECK(b);
    mb_broker_destroy(b);
}

static void test_busy(void)
{
    struct mb_broker *b = t_create_default(10);
    MBT_REQUIRE(b != NULL);
    mb_conn_t h = t_client(b, MB_KIND_BIDIRECTIONAL, "holder", 0, 0);
    t_take(b, h, 10);
    mb_conn_t a = t_client(b, MB_KIND_SIMPLE, "a", 0, 0);
    t_amount(b, a, MB_MSG_REQUEST, 1, 5);
    MBT_CHECK(t_query(b, h) != NULL);
    t_amount(b, a, MB_MSG_REQUEST, 2, 5);
    T_ERROR(b, a, 2, MB_ERR_BUSY);
    t_reserve(b, a, 3, 5, 0);
    T_ERROR(b, a, 3, MB_ERR_BUSY);
    /* The first one is still pending and answered in time. */
    struct mb_status_client st;
    MBT_EQ_INT(0, mb_broker_client_status(b, a, &st));
    MBT_EQ_INT(MB_PENDING_REQUEST, st.pending_kind);
    MBT_EQ_U64(5, st.pending_pages);
    T_CHECK(b);
    mb_broker_destroy(b);
}

static void test_too_many_clients(void)
{
    struct mb_broker_config cfg;
    mb_broker_config_defaults(&cfg, 10, 4096);
    cfg.max_clients = 2;
    struct mb_broker *b = t_create(&cfg);
    MBT_REQUIRE(b != NULL);
    mb_conn_t a = t_client(b, MB_KIND_SIMPLE, "a", 0, 0);
    mb_conn_t c = t_client(b, MB_KIND_SIMPLE, "c", 0, 0);
    MBT_CHECK(a != c);
    struct mb_broker_peer p = {.pid = 9};
    mb_conn_t x = 77;
    MBT_EQ_INT(-EMFILE, mb_broker_connect(b, &p, t_now, &x));
    MBT_EQ_U64(77, x);
    uint8_t buf[64];
    struct mb_msg m;
    int n = mb_broker_encode_refusal(buf, sizeof(buf));
    MBT_REQUIRE(n > 0);
    MBT_EQ_INT(0, mb_proto_decode(buf, (size_t)n, &m));
    MBT_EQ_U64(MB_ERR_TOO_MANY_CLIENTS, m.u.error.code);
    /* A slot freed is reusable. */
    MBT_EQ_INT(0, mb_broker_disconnect(b, a, t_now));
    MBT_EQ_INT(0, mb_broker_connect(b, &p, t_now, &x));
    MBT_EQ_U64(a, x);
    T_CHECK(b);
    mb_broker_destroy(b);
}

static void test_config_check(void)
{
    struct mb_broker_config cfg;
    mb_broker_config_defaults(&cfg, 10, 4096);
    MBT_EQ_INT(0, mb_broker_config_check(&cfg));
    cfg.max_clients = 0;
    MBT_EQ_INT(-EINVAL, mb_broker_config_check(&cfg));
    mb_broker_config_defaults(&cfg, 10, 4096);
    cfg.request_timeout_ns = MS(1) - 1;
    MBT_EQ_INT(-EINVAL, mb_broker_config_check(&cfg));
    mb_broker_config_defaults(&cfg, 10, 4096);
    cfg.query_timeout_ns = 0;
    MBT_EQ_INT(-EINVAL, mb_broker_config_check(&cfg));
    mb_broker_config_defaults(&cfg, MB_PAGES_MAX + 1, 4096);
    MBT_EQ_INT(-EINVAL, mb_broker_config_check(&cfg));
    mb_broker_config_defaults(&cfg, 10, 4096);
    cfg.rule_count = 1;
    cfg.rules[0].class_index = 1; /* no such class */
    MBT_EQ_INT(-EINVAL, mb_broker_config_check(&cfg));
    mb_broker_config_defaults(&cfg, 10, 4096);
    cfg.class_count = 2;
    memcpy(cfg.classes[1].name, "default", 8); /* repeated name */
    MBT_EQ_INT(-EINVAL, mb_broker_config_check(&cfg));
    struct mb_broker *b = NULL;
    MBT_EQ_INT(-EINVAL, mb_broker_create(&cfg, 0, &b));
    MBT_NULL(b);
    mb_broker_destroy(NULL);
}

int main(void)
{
    MBT_RUN(test_pool_grant_and_return);
    MBT_RUN(test_zero_pages);
    MBT_RUN(test_sequencing_errors);
    MBT_RUN(test_malformed_packets);
    MBT_RUN(test_busy);
    MBT_RUN(test_too_many_clients);
    MBT_RUN(test_config_check);
    return mbt_finish();
}
