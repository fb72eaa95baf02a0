/* Engine scenarios: class rules, class limits, give-back priorities and the
 * pressure reserve. Exact books after every step. */
#include "broker/broker_test_util.h"

#include <errno.h>

enum { CLASS_DEFAULT, CLASS_BATCH, CLASS_RT };

static void class_config(struct mb_broker_config *cfg, uint64_t total)
{
    mb_broker_config_defaults(cfg, total, 4096);
    cfg->class_count = 3;
    cfg->classes[CLASS_DEFAULT] = (struct mb_class_config){.name = "default", .priority = 5};
    cfg->classes[CLASS_BATCH] = (struct mb_class_config){.name = "batch", .limit = 30};
    cfg->classes[CLASS_RT] = (struct mb_class_config){.name = "rt", .priority = 10};
    cfg->rule_count = 4;
    cfg->rules[0] = (struct mb_class_rule){.match_uid = true, .uid = 2000,
                                           .class_index = CLASS_BATCH};
    cfg->rules[1] = (struct mb_class_rule){.exe = "rtproc", .class_index = CLASS_RT};
    cfg->rules[2] = (struct mb_class_rule){.match_gid = true, .gid = 50,
                                           .client_name = "logger",
                                           .class_index = CLASS_BATCH};
    cfg->rules[3] = (struct mb_class_rule){.requested_class = "batch",
                                           .class_index = CLASS_BATCH};
}

static mb_conn_t hello_as(struct mb_broker *b, uint32_t uid, uint32_t gid, const char *exe,
                          uint8_t kind, const char *name, const char *requested)
{
    mb_conn_t c = t_connect_as(b, 77, uid, gid, exe, false);
    struct mb_msg m = {.type = MB_MSG_HELLO, .cookie = 1};
    m.u.hello.kind = kind;
    snprintf(m.u.hello.name, sizeof(m.u.hello.name), "%s", name);
    snprintf(m.u.hello.class_name, sizeof(m.u.hello.class_name), "%s", requested);
    t_send(b, c, &m);
    return c;
}

static const char *class_of(const struct mb_broker *b, mb_conn_t c)
{
    const struct mb_msg *w = t_out(b, c, MB_MSG_WELCOME, 1);
    return w == NULL ? "(none)" : w->u.welcome.class_name;
}

static void test_rules(void)
{
    struct mb_broker_config cfg;
    class_config(&cfg, 100);
    MBT_EQ_INT(0, mb_broker_config_check(&cfg));
    struct mb_broker *b = t_create(&cfg);
    MBT_REQUIRE(b != NULL);
    mb_conn_t c = hello_as(b, 2000, 1, "rtproc", MB_KIND_SIMPLE, "x", "");
    MBT_EQ_STR("batch", class_of(b, c)); /* first match wins */
    c = hello_as(b, 1, 1, "rtproc", MB_KIND_SIMPLE, "x", "");
    MBT_EQ_STR("rt", class_of(b, c));
    c = hello_as(b, 1, 50, "sh", MB_KIND_SIMPLE, "logger", "");
    MBT_EQ_STR("batch", class_of(b, c));
    c = hello_as(b, 1, 51, "sh", MB_KIND_SIMPLE, "logger", ""); /* gid must match too */
    MBT_EQ_STR("default", class_of(b, c));
    c = hello_as(b, 1, 1, "sh", MB_KIND_SIMPLE, "y", "batch");
    MBT_EQ_STR("batch", class_of(b, c));
    c = hello_as(b, 1, 1, "sh", MB_KIND_SIMPLE, "y", "rt"); /* asking is not enough */
    MBT_EQ_STR("default", class_of(b, c));
    struct mb_status_class k;
    MBT_EQ_INT(0, mb_broker_class_status(b, CLASS_BATCH, &k));
    MBT_EQ_U64(3, k.members);
    MBT_EQ_U64(30, k.limit);
    MBT_EQ_INT(-ENOENT, mb_broker_class_status(b, 3, &k));
    T_CHECK(b);
    mb_broker_destroy(b);
}

static void test_limits(void)
{
    struct mb_broker_config cfg;
    class_config(&cfg, 100);
    struct mb_broker *b = t_create(&cfg);
    MBT_REQUIRE(b != NULL);
    mb_conn_t b1 = hello_as(b, 2000, 1, "w", MB_KIND_BIDIRECTIONAL, "b1", "");
    mb_conn_t b2 = hello_as(b, 2000, 1, "w", MB_KIND_SIMPLE, "b2", "");
    mb_conn_t d = hello_as(b, 1, 1, "w", MB_KIND_SIMPLE, "d", "");
    t_amount(b, b1, MB_MSG_REQUEST, 2, 20);
    T_GRANT(b, b1, 2, 20, 20);
    /* The class has 10 left: a REQUEST is capped, a RESERVE refused. */
    t_reserve(b, b2, 3, 11, 0);
    T_ERROR(b, b2, 3, MB_ERR_CLASS_LIMIT);
    t_amount(b, b2, MB_MSG_REQUEST, 4, 20);
    T_GRANT(b, b2, 4, 10, 10);
    t_amount(b, b2, MB_MSG_REQUEST, 5, 1);
    T_ERROR(b, b2, 5, MB_ERR_CLASS_LIMIT);
    /* Other classes draw on the same pool, unaffected by batch's limit. */
    t_amount(b, d, MB_MSG_REQUEST, 6, 70);
    T_GRANT(b, d, 6, 70, 70);
    MBT_EQ_U64(0, t_summary(b).pool);
    struct mb_status_class k;
    MBT_EQ_INT(0, mb_broker_class_status(b, CLASS_BATCH, &k));
    MBT_EQ_U64(30, k.held);
    T_CHECK(b);

    /* A pending request holds its class room: b1 returns 5, then waits for
     * 5 more; b2 finds no room meanwhile. */
    t_amount(b, b1, MB_MSG_RETURN, 7, 5);
    t_amount(b, d, MB_MSG_RETURN, 8, 5);
    MBT_EQ_U64(10, t_summary(b).pool);
    t_reserve(b, b1, 9, 5, 0);
    T_GRANT(b, b1, 9, 5, 20);
    t_amount(b, b1, MB_MSG_RETURN, 10, 5);
    MBT_EQ_U64(10, t_summary(b).pool);
    mb_conn_t d2 = hello_as(b, 1, 1, "w", MB_KIND_BIDIRECTIONAL, "d2", "");
    t_amount(b, d2, MB_MSG_REQUEST, 11, 10);
    T_GRANT(b, d2, 11, 10, 10);
    t_amount(b, b1, MB_MSG_REQUEST, 12, 5); /* pool empty: waits, asks d2 */
    MBT_CHECK(t_query(b, d2) != NULL);
    t_amount(b, b2, MB_MSG_REQUEST, 13, 1);
    T_ERROR(b, b2, 13, MB_ERR_CLASS_LIMIT);
    T_CHECK(b);
    mb_broker_destroy(b);
}

static void test_priorities(void)
{
    struct mb_broker_config cfg;
    class_config(&cfg, 100);
    struct mb_broker *b = t_create(&cfg);
    MBT_REQUIRE(b != NULL);
    mb_conn_t dd = hello_as(b, 1, 1, "w", MB_KIND_BIDIRECTIONAL, "dd", "");
    mb_conn_t bt = hello_as(b, 2000, 1, "w", MB_KIND_BIDIRECTIONAL, "bt", "");
    mb_conn_t rt = hello_as(b, 1, 1, "rtproc", MB_KIND_BIDIRECTIONAL, "rt", "");
    mb_conn_t a = hello_as(b, 1, 1, "w", MB_KIND_SIMPLE, "a", "");
    t_take(b, dd, 40);
    t_take(b, bt, 20);
    t_take(b, rt, 40);
    t_amount(b, a, MB_MSG_REQUEST, 1, 50);
    /* Lowest priority first (batch, 0), then default (5); rt (10) is
     * spared because the others cover the shortage. */
    const struct mb_msg *q = t_query(b, bt);
    MBT_REQUIRE(q != NULL);
    MBT_EQ_U64(20, q->u.giveback.pages);
    q = t_query(b, dd);
    MBT_REQUIRE(q != NULL);
    MBT_EQ_U64(30, q->u.giveback.pages);
    MBT_CHECK(t_query(b, rt) == NULL);
    MBT_EQ_U64(bt, mb_broker_output_at(b, 0)->conn);
    T_CHECK(b);
    mb_broker_destroy(b);
}

static void test_pressure_reserve(void)
{
    struct mb_broker_config cfg;
    mb_broker_config_defaults(&cfg, 100, 4096);
    cfg.pressure_reserve_pages = 20;
    struct mb_broker *b = t_create(&cfg);
    MBT_REQUIRE(b != NULL);
    mb_conn_t w = t_connect_as(b, 1, 0, 0, "mbwatch", true);
    struct mb_msg hello = {.type = MB_MSG_HELLO, .cookie = 1};
    t_send(b, w, &hello);
    mb_conn_t h = t_client(b, MB_KIND_BIDIRECTIONAL, "h", 0, 0);
    mb_conn_t a = t_client(b, MB_KIND_SIMPLE, "a", 0, 0);
    t_take(b, h, 90);

    struct mb_msg p = {.type = MB_MSG_PRESSURE, .cookie = 2};
    p.u.pressure.level = MB_PRESSURE_MODERATE;
    t_send(b, w, &p);
    MBT_REQUIRE(t_out(b, w, MB_MSG_OK, 2) != NULL);
    MBT_EQ_INT(MB_PRESSURE_MODERATE, t_summary(b).pressure);
    /* Moderate: bidirectional clients are asked, at normal level, for the
     * reserve the pool lacks. */
    const struct mb_msg *q = t_query(b, h);
    MBT_REQUIRE(q != NULL);
    MBT_EQ_INT(MB_URGENCY_NORMAL, q->u.giveback.urgency);
    MBT_EQ_U64(10, q->u.giveback.pages);
    uint32_t qc = q->cookie;
    T_CHECK(b);

    /* The pool's 10 are the reserve: a REQUEST does not get them. */
    t_amount(b, a, MB_MSG_REQUEST, 3, 5);
    MBT_EQ_U64(0, t_out_count_to(b, a));
    t_answer(b, h, qc, 15); /* reserve full (20), 5 beyond it go to a */
    T_GRANT(b, a, 3, 5, 5);
    MBT_EQ_U64(20, t_summary(b).pool);
    T_CHECK(b);

    /* A REQUEST that would dip into the reserve waits and asks. */
    struct mb_msg r = {.type = MB_MSG_REQUEST, .cookie = 5};
    r.u.amount.pages = 10;
    t_send(b, a, &r);
    MBT_EQ_U64(0, t_out_count_to(b, a));
    q = t_query(b, h);
    MBT_REQUIRE(q != NULL);
    MBT_EQ_U64(10, q->u.giveback.pages);
    t_answer(b, h, q->cookie, 10);
    T_GRANT(b, a, 5, 10, 15);
    MBT_EQ_U64(20, t_summary(b).pool);
    MBT_EQ_U64(65, t_balance(b, h));
    T_CHECK(b);

    /* Critical with the reserve already whole: nobody is asked. */
    p.u.pressure.level = MB_PRESSURE_CRITICAL;
    p.cookie = 6;
    t_send(b, w, &p);
    MBT_EQ_U64(1, mb_broker_output_count(b)); /* the OK */
    MBT_CHECK(t_query(b, h) == NULL);
    T_CHECK(b);

    /* Pressure gone: the reserve is free for grants again. */
    p.u.pressure.level = MB_PRESSURE_NONE;
    p.cookie = 10;
    t_send(b, w, &p);
    t_amount(b, a, MB_MSG_REQUEST, 11, 20);
    T_GRANT(b, a, 11, 20, 35);
    MBT_EQ_U64(0, t_summary(b).pool);
    T_CHECK(b);
    mb_broker_destroy(b);
}

static void test_pressure_critical_is_urgent(void)
{
    struct mb_broker_config cfg;
    mb_broker_config_defaults(&cfg, 100, 4096);
    cfg.pressure_reserve_pages = 30;
    struct mb_broker *b = t_create(&cfg);
    MBT_REQUIRE(b != NULL);
    mb_conn_t w = t_connect_as(b, 1, 0, 0, "mbwatch", true);
    struct mb_msg hello = {.type = MB_MSG_HELLO, .cookie = 1};
    t_send(b, w, &hello);
    mb_conn_t h = t_client(b, MB_KIND_BIDIRECTIONAL, "h", 0, 0);
    t_take(b, h, 100);
    struct mb_msg p = {.type = MB_MSG_PRESSURE, .cookie = 2};
    p.u.pressure.level = MB_PRESSURE_CRITICAL;
    t_send(b, w, &p);
    const struct mb_msg *q = t_query(b, h);
    MBT_REQUIRE(q != NULL);
    MBT_EQ_INT(MB_URGENCY_URGENT, q->u.giveback.urgency);
    MBT_EQ_U64(30, q->u.giveback.pages);
    t_answer(b, h, q->cookie, 30);
    MBT_EQ_U64(30, t_summary(b).pool);
    T_CHECK(b);
    mb_broker_destroy(b);
}

int main(void)
{
    MBT_RUN(test_rules);
    MBT_RUN(test_limits);
    MBT_RUN(test_priorities);
    MBT_RUN(test_pressure_reserve);
    MBT_RUN(test_pressure_critical_is_urgent);
    return mbt_finish();
}
