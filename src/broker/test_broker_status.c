/* Engine scenarios: the STATUS snapshot, paged, through the wire codec. */
#include "broker/broker_test_util.h"

static uint8_t page[MB_PROTO_MAX_MESSAGE];

/* Sends STATUS and encodes its reply into `page`; returns its length. */
static int status_page(struct mb_broker *b, mb_conn_t c, uint8_t section, uint32_t cursor,
                       struct mb_msg *decoded)
{
    struct mb_msg m = {.type = MB_MSG_STATUS, .cookie = 77};
    m.u.status.section = section;
    m.u.status.offset = cursor;
    t_send(b, c, &m);
    if (mb_broker_output_count(b) != 1)
        return -1;
    int n = mb_broker_output_encode(b, 0, page, sizeof(page));
    if (n <= 0 || mb_proto_decode(page, (size_t)n, decoded) != 0)
        return -1;
    return n;
}

static void test_paged_clients(void)
{
    struct mb_broker *b = t_create_default(1000);
    MBT_REQUIRE(b != NULL);
    mb_conn_t conns[40];
    for (size_t i = 0; i < 40; i++) {
        char name[16];
        snprintf(name, sizeof(name), "c%zu", i);
        conns[i] = t_client(b, i == 0 ? MB_KIND_BIDIRECTIONAL : MB_KIND_SIMPLE, name, 0, 0);
        t_take(b, conns[i], i + 1);
    }
    /* conns[1] waits on a REQUEST that asks conns[0]. */
    t_amount(b, conns[0], MB_MSG_REQUEST, 3, 180); /* the pool after 1+2+...+40 */
    T_GRANT(b, conns[0], 3, 180, 181);
    t_amount(b, conns[1], MB_MSG_REQUEST, 4, 50);
    MBT_REQUIRE(t_query(b, conns[0]) != NULL);
    t_now += MS(123);

    struct mb_msg d;
    int n = status_page(b, conns[5], MB_STATUS_CLIENTS, 0, &d);
    MBT_REQUIRE(n > 0);
    const struct mb_status_summary *s = &d.u.status_reply.summary;
    MBT_EQ_U64(77, d.cookie);
    MBT_EQ_U64(MB_FLAG_MORE, d.flags);
    MBT_EQ_U64(32, s->count);
    MBT_EQ_U64(1000, s->total);
    MBT_EQ_U64(0, s->pool);
    MBT_EQ_U64(40, s->clients);
    MBT_EQ_U64(64, s->max_clients);
    MBT_EQ_U64(1, s->queries_sent);
    MBT_EQ_U64(42, s->requests);
    struct mb_status_client r;
    MBT_EQ_INT(0, mb_proto_status_client_at(page, (size_t)n, 0, &r));
    MBT_EQ_U64(1, r.id);
    MBT_EQ_U64(181, r.balance);
    MBT_EQ_U64(1, r.queries_outstanding);
    MBT_EQ_INT(MB_KIND_BIDIRECTIONAL, r.kind);
    MBT_EQ_STR("c0", r.name);
    MBT_EQ_INT(0, mb_proto_status_client_at(page, (size_t)n, 1, &r));
    MBT_EQ_INT(MB_PENDING_REQUEST, r.pending_kind);
    MBT_EQ_U64(50, r.pending_pages);
    MBT_EQ_U64(0, r.pending_gathered);
    MBT_EQ_U64(2, r.balance);
    MBT_EQ_U64(100, r.pid);
    MBT_EQ_U64(1000, r.uid);

    uint32_t cursor = s->offset;
    n = status_page(b, conns[5], MB_STATUS_CLIENTS, cursor, &d);
    MBT_REQUIRE(n > 0);
    MBT_EQ_U64(0, d.flags);
    MBT_EQ_U64(8, d.u.status_reply.summary.count);
    MBT_EQ_INT(0, mb_proto_status_client_at(page, (size_t)n, 7, &r));
    MBT_EQ_STR("c39", r.name);
    MBT_EQ_U64(40, r.balance);

    /* A client leaving between pages is not seen twice nor shifts others. */
    MBT_EQ_INT(0, mb_broker_disconnect(b, conns[2], t_now));
    n = status_page(b, conns[5], MB_STATUS_CLIENTS, cursor, &d);
    MBT_REQUIRE(n > 0);
    MBT_EQ_U64(8, d.u.status_reply.summary.count);

    /* The pending request's age, from the injected clock. */
    MBT_EQ_INT(0, mb_broker_client_status(b, conns[1], &r));
    MBT_EQ_U64(123, r.pending_age_ms);
    T_CHECK(b);
    mb_broker_destroy(b);
}

static void test_classes_section(void)
{
    struct mb_broker_config cfg;
    mb_broker_config_defaults(&cfg, 100, 4096);
    cfg.class_count = 2;
    cfg.classes[1] = (struct mb_class_config){.name = "cache", .limit = 40, .priority = 3};
    cfg.rule_count = 1;
    cfg.rules[0] = (struct mb_class_rule){.client_name = "squid", .class_index = 1};
    struct mb_broker *b = t_create(&cfg);
    MBT_REQUIRE(b != NULL);
    mb_conn_t c = t_client(b, MB_KIND_BIDIRECTIONAL, "squid", 0, 0);
    t_take(b, c, 25);
    struct mb_msg d;
    int n = status_page(b, c, MB_STATUS_CLASSES, 0, &d);
    MBT_REQUIRE(n > 0);
    MBT_EQ_U64(2, d.u.status_reply.summary.count);
    MBT_EQ_U64(2, d.u.status_reply.summary.class_count);
    struct mb_status_class k;
    MBT_EQ_INT(0, mb_proto_status_class_at(page, (size_t)n, 1, &k));
    MBT_EQ_STR("cache", k.name);
    MBT_EQ_U64(40, k.limit);
    MBT_EQ_U64(25, k.held);
    MBT_EQ_U64(3, k.priority);
    MBT_EQ_U64(1, k.members);
    MBT_EQ_INT(0, mb_proto_status_class_at(page, (size_t)n, 0, &k));
    MBT_EQ_STR("default", k.name);
    MBT_EQ_U64(0, k.members);
    /* A bad section is refused. */
    struct mb_msg m = {.type = MB_MSG_STATUS, .cookie = 5};
    m.u.status.section = 9;
    MBT_EQ_INT(0, mb_broker_message(b, c, &m, t_now));
    T_ERROR(b, c, 5, MB_ERR_INVALID);
    T_CHECK(b);
    mb_broker_destroy(b);
}

int main(void)
{
    MBT_RUN(test_paged_clients);
    MBT_RUN(test_classes_section);
    return mbt_finish();
}
