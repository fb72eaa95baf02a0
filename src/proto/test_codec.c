/* Unit tests for codec.c: exact bytes, round trips, every decode error. */
#include "proto/codec.h"
#include "mbtest.h"

#include <errno.h>

static uint8_t buf[MB_PROTO_MAX_MESSAGE + 64];

/* Encodes m, decodes it back into *out; returns the encoded length. */
static int round_trip(const struct mb_msg *m, struct mb_msg *out)
{
    memset(out, 0, sizeof(*out));
    int n = mb_proto_encode(m, buf, sizeof(buf));
    if (n < 0)
        return n;
    int err = mb_proto_decode(buf, (size_t)n, out);
    return err == 0 ? n : err;
}

static struct mb_msg msg_of(uint8_t type, uint32_t cookie)
{
    struct mb_msg m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.cookie = cookie;
    return m;
}

static void test_exact_bytes(void)
{
    struct mb_msg m = msg_of(MB_MSG_REQUEST, 0x04030201u);
    m.u.amount.pages = UINT64_C(0x0102030405060708);
    static const uint8_t want[] = {
        1, MB_MSG_REQUEST, 0, 0, 1, 2, 3, 4, 8, 0, 0, 0, 0, 0, 0, 0,
        8, 7, 6, 5, 4, 3, 2, 1,
    };
    MBT_EQ_INT(sizeof(want), mb_proto_encode(&m, buf, sizeof(buf)));
    MBT_EQ_MEM(want, buf, sizeof(want));

    struct mb_msg g = msg_of(MB_MSG_GIVEBACK, 9);
    g.u.giveback.urgency = MB_URGENCY_URGENT;
    g.u.giveback.deadline_ms = 200;
    g.u.giveback.pages = 5;
    static const uint8_t want_g[] = {
        1, MB_MSG_GIVEBACK, 0, 0, 9, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0,
        1, 0, 0, 0, 200, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0,
    };
    MBT_EQ_INT(sizeof(want_g), mb_proto_encode(&g, buf, sizeof(buf)));
    MBT_EQ_MEM(want_g, buf, sizeof(want_g));
}

static void test_round_trip_hello_welcome(void)
{
    struct mb_msg m = msg_of(MB_MSG_HELLO, 1), d;
    m.u.hello.kind = MB_KIND_SOURCE;
    strcpy(m.u.hello.name, "printer-engine");
    strcpy(m.u.hello.class_name, "realtime");
    m.u.hello.capacity = 1234;
    m.u.hello.held = MB_PAGES_MAX;
    MBT_EQ_INT(16 + 24 + 14 + 8, round_trip(&m, &d));
    MBT_EQ_INT(MB_MSG_HELLO, d.type);
    MBT_EQ_U64(1, d.cookie);
    MBT_EQ_INT(MB_KIND_SOURCE, d.u.hello.kind);
    MBT_EQ_STR("printer-engine", d.u.hello.name);
    MBT_EQ_STR("realtime", d.u.hello.class_name);
    MBT_EQ_U64(1234, d.u.hello.capacity);
    MBT_EQ_U64(MB_PAGES_MAX, d.u.hello.held);

    /* Empty names and the longest name. */
    memset(m.u.hello.name, 'x', MB_NAME_MAX);
    m.u.hello.name[MB_NAME_MAX] = '\0';
    m.u.hello.class_name[0] = '\0';
    MBT_EQ_INT(16 + 24 + 31, round_trip(&m, &d));
    MBT_EQ_U64(31, strlen(d.u.hello.name));
    MBT_EQ_STR("", d.u.hello.class_name);

    struct mb_msg w = msg_of(MB_MSG_WELCOME, 1);
    w.u.welcome.client_id = 77;
    w.u.welcome.page_size = 4096;
    w.u.welcome.total = 1u << 20;
    w.u.welcome.balance = 12;
    strcpy(w.u.welcome.class_name, "default");
    MBT_EQ_INT(16 + 32 + 7, round_trip(&w, &d));
    MBT_EQ_U64(77, d.u.welcome.client_id);
    MBT_EQ_U64(4096, d.u.welcome.page_size);
    MBT_EQ_U64(1u << 20, d.u.welcome.total);
    MBT_EQ_U64(12, d.u.welcome.balance);
    MBT_EQ_STR("default", d.u.welcome.class_name);
}

static void test_round_trip_small(void)
{
    struct mb_msg m, d;
    static const uint8_t amount_types[] = {MB_MSG_REQUEST, MB_MSG_RETURN, MB_MSG_GIVEBACK_ANSWER};
    for (size_t i = 0; i < sizeof(amount_types); i++) {
        m = msg_of(amount_types[i], 0xffffffffu);
        m.u.amount.pages = MB_PAGES_MAX;
        MBT_EQ_INT(24, round_trip(&m, &d));
        MBT_EQ_INT(amount_types[i], d.type);
        MBT_EQ_U64(0xffffffffu, d.cookie);
        MBT_EQ_U64(MB_PAGES_MAX, d.u.amount.pages);
    }
    static const uint8_t reserve_types[] = {MB_MSG_RESERVE, MB_MSG_RECLAIM};
    for (size_t i = 0; i < sizeof(reserve_types); i++) {
        m = msg_of(reserve_types[i], 3);
        m.u.reserve.pages = 100;
        m.u.reserve.deadline_ms = 0xfffffffeu;
        MBT_EQ_INT(32, round_trip(&m, &d));
        MBT_EQ_U64(100, d.u.reserve.pages);
        MBT_EQ_U64(0xfffffffeu, d.u.reserve.deadline_ms);
    }
    m = msg_of(MB_MSG_CANCEL, 4);
    m.u.cancel.target_cookie = 3;
    MBT_EQ_INT(24, round_trip(&m, &d));
    MBT_EQ_U64(3, d.u.cancel.target_cookie);

    m = msg_of(MB_MSG_QUERY, 5);
    MBT_EQ_INT(16, round_trip(&m, &d));
    MBT_EQ_INT(MB_MSG_QUERY, d.type);

    m = msg_of(MB_MSG_STATUS, 6);
    m.u.status.section = MB_STATUS_CLASSES;
    m.u.status.offset = 40;
    MBT_EQ_INT(24, round_trip(&m, &d));
    MBT_EQ_INT(MB_STATUS_CLASSES, d.u.status.section);
    MBT_EQ_U64(40, d.u.status.offset);

    m = msg_of(MB_MSG_PRESSURE, 7);
    m.u.pressure.level = MB_PRESSURE_CRITICAL;
    MBT_EQ_INT(24, round_trip(&m, &d));
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, d.u.pressure.level);

    m = msg_of(MB_MSG_ERROR, 8);
    m.u.error.code = MB_ERR_PROTOCOL;
    m.u.error.detail = 7;
    m.u.error.balance = 9;
    MBT_EQ_INT(32, round_trip(&m, &d));
    MBT_EQ_U64(MB_ERR_PROTOCOL, d.u.error.code);
    MBT_EQ_U64(7, d.u.error.detail);
    MBT_EQ_U64(9, d.u.error.balance);

    m = msg_of(MB_MSG_GRANT, 9);
    m.u.grant.pages = 0;
    m.u.grant.balance = 55;
    MBT_EQ_INT(32, round_trip(&m, &d));
    MBT_EQ_U64(0, d.u.grant.pages);
    MBT_EQ_U64(55, d.u.grant.balance);

    m = msg_of(MB_MSG_OK, 10);
    m.u.ok.balance = 66;
    MBT_EQ_INT(24, round_trip(&m, &d));
    MBT_EQ_U64(66, d.u.ok.balance);

    m = msg_of(MB_MSG_QUERY_REPLY, 11);
    m.u.query_reply.balance = 1;
    m.u.query_reply.lent = 2;
    m.u.query_reply.pool = 3;
    m.u.query_reply.total = 4;
    MBT_EQ_INT(48, round_trip(&m, &d));
    MBT_EQ_U64(1, d.u.query_reply.balance);
    MBT_EQ_U64(2, d.u.query_reply.lent);
    MBT_EQ_U64(3, d.u.query_reply.pool);
    MBT_EQ_U64(4, d.u.query_reply.total);

    m = msg_of(MB_MSG_GIVEBACK, 12);
    m.u.giveback.urgency = MB_URGENCY_NORMAL;
    m.u.giveback.deadline_ms = 200;
    m.u.giveback.pages = 17;
    MBT_EQ_INT(32, round_trip(&m, &d));
    MBT_EQ_INT(MB_URGENCY_NORMAL, d.u.giveback.urgency);
    MBT_EQ_U64(200, d.u.giveback.deadline_ms);
    MBT_EQ_U64(17, d.u.giveback.pages);
}

static struct mb_status_summary sample_summary(void)
{
    struct mb_status_summary s;
    memset(&s, 0, sizeof(s));
    s.total = 1000;
    s.configured_total = 900;
    s.pool = 300;
    s.gathered = 20;
    s.lent = 100;
    s.debt = 0;
    s.requests = 11;
    s.queries_sent = 4;
    s.deadlines_missed = 2;
    s.clients = 3;
    s.max_clients = 4096;
    s.class_count = 2;
    s.pressure = MB_PRESSURE_MODERATE;
    return s;
}

static void test_status_pages(void)
{
    struct mb_status_summary s = sample_summary();
    struct mb_status_client recs[MB_STATUS_CLIENTS_PER_PAGE];
    memset(recs, 0, sizeof(recs));
    for (size_t i = 0; i < MB_STATUS_CLIENTS_PER_PAGE; i++) {
        recs[i].id = (uint32_t)(i + 1);
        recs[i].pid = 1000 + (uint32_t)i;
        recs[i].kind = MB_KIND_BIDIRECTIONAL;
        recs[i].pending_kind = MB_PENDING_RESERVE;
        recs[i].balance = i * 10;
        recs[i].pending_age_ms = 5;
        snprintf(recs[i].name, sizeof(recs[i].name), "client-%zu", i);
    }
    int n = mb_proto_encode_status_clients(buf, sizeof(buf), 42, true, &s, 64, recs,
                                           MB_STATUS_CLIENTS_PER_PAGE);
    MBT_EQ_INT(16 + 128 + 32 * 104, n);
    MBT_CHECK(n <= (int)MB_PROTO_MAX_MESSAGE);
    struct mb_msg d;
    MBT_REQUIRE(mb_proto_decode(buf, (size_t)n, &d) == 0);
    MBT_EQ_INT(MB_MSG_STATUS_REPLY, d.type);
    MBT_EQ_U64(MB_FLAG_MORE, d.flags);
    MBT_EQ_U64(42, d.cookie);
    MBT_EQ_U64(1000, d.u.status_reply.summary.total);
    MBT_EQ_U64(100, d.u.status_reply.summary.lent);
    MBT_EQ_U64(32, d.u.status_reply.summary.count);
    MBT_EQ_U64(64, d.u.status_reply.summary.offset);
    MBT_EQ_INT(MB_PRESSURE_MODERATE, d.u.status_reply.summary.pressure);
    struct mb_status_client c;
    MBT_EQ_INT(0, mb_proto_status_client_at(buf, (size_t)n, 31, &c));
    MBT_EQ_U64(32, c.id);
    MBT_EQ_U64(1031, c.pid);
    MBT_EQ_U64(310, c.balance);
    MBT_EQ_INT(MB_PENDING_RESERVE, c.pending_kind);
    MBT_EQ_STR("client-31", c.name);
    MBT_EQ_INT(-EINVAL, mb_proto_status_client_at(buf, (size_t)n, 32, &c));
    struct mb_status_class k;
    MBT_EQ_INT(-EINVAL, mb_proto_status_class_at(buf, (size_t)n, 0, &k));
    /* Too many records for a page. */
    MBT_EQ_INT(-EINVAL, mb_proto_encode_status_clients(buf, sizeof(buf), 1, false, &s, 0, recs,
                                                       MB_STATUS_CLIENTS_PER_PAGE + 1));
    MBT_EQ_INT(-ENOBUFS, mb_proto_encode_status_clients(buf, 100, 1, false, &s, 0, recs, 1));

    struct mb_status_class cls[2] = {
        {.name = "default", .limit = 0, .held = 10, .priority = 1, .members = 2},
        {.name = "batch", .limit = 50, .held = 40, .priority = 0, .members = 1},
    };
    n = mb_proto_encode_status_classes(buf, sizeof(buf), 43, false, &s, 0, cls, 2);
    MBT_EQ_INT(16 + 128 + 2 * 56, n);
    MBT_REQUIRE(mb_proto_decode(buf, (size_t)n, &d) == 0);
    MBT_EQ_U64(0, d.flags);
    MBT_EQ_INT(MB_STATUS_CLASSES, d.u.status_reply.summary.section);
    MBT_EQ_INT(0, mb_proto_status_class_at(buf, (size_t)n, 1, &k));
    MBT_EQ_STR("batch", k.name);
    MBT_EQ_U64(50, k.limit);
    MBT_EQ_U64(40, k.held);
    MBT_EQ_U64(1, k.members);
    MBT_EQ_INT(-EINVAL, mb_proto_status_client_at(buf, (size_t)n, 0, &c));

    /* A name field with a second string hidden after its NUL. */
    size_t name_at = 16 + 128 + 56; /* second record's name */
    buf[name_at + 10] = 'z';
    MBT_EQ_INT(MB_DECODE_STRING_NUL, mb_proto_decode(buf, (size_t)n, &d));
    memset(buf + name_at, 'a', 32);
    MBT_EQ_INT(MB_DECODE_STRING_TOO_LONG, mb_proto_decode(buf, (size_t)n, &d));
}

static void test_encode_refuses_invalid(void)
{
    struct mb_msg m = msg_of(MB_MSG_REQUEST, 1);
    m.u.amount.pages = MB_PAGES_MAX + 1;
    MBT_EQ_INT(-EINVAL, mb_proto_encode(&m, buf, sizeof(buf)));
    m.u.amount.pages = 1;
    m.flags = MB_FLAG_MORE;
    MBT_EQ_INT(-EINVAL, mb_proto_encode(&m, buf, sizeof(buf)));
    m.flags = 0;
    MBT_EQ_INT(-ENOBUFS, mb_proto_encode(&m, buf, 23));
    MBT_EQ_INT(24, mb_proto_encode(&m, buf, 24));
    m = msg_of(MB_MSG_HELLO, 1);
    m.u.hello.kind = MB_KIND_COUNT;
    MBT_EQ_INT(-EINVAL, mb_proto_encode(&m, buf, sizeof(buf)));
    m.u.hello.kind = MB_KIND_SIMPLE;
    memset(m.u.hello.name, 'n', sizeof(m.u.hello.name)); /* no terminator within 32 */
    MBT_EQ_INT(-EINVAL, mb_proto_encode(&m, buf, sizeof(buf)));
    m = msg_of(MB_MSG_STATUS_REPLY, 1);
    MBT_EQ_INT(-EINVAL, mb_proto_encode(&m, buf, sizeof(buf)));
    m = msg_of(200, 1);
    MBT_EQ_INT(-EINVAL, mb_proto_encode(&m, buf, sizeof(buf)));
}

/* A valid RESERVE packet to corrupt. */
static size_t valid_reserve(void)
{
    struct mb_msg m = msg_of(MB_MSG_RESERVE, 5);
    m.u.reserve.pages = 10;
    return (size_t)mb_proto_encode(&m, buf, sizeof(buf));
}

static void set_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void test_decode_errors(void)
{
    struct mb_msg d;
    size_t n = valid_reserve();
    MBT_EQ_INT(0, mb_proto_decode(buf, n, &d));

    MBT_EQ_INT(MB_DECODE_SHORT, mb_proto_decode(buf, 0, &d));
    MBT_EQ_INT(MB_DECODE_SHORT, mb_proto_decode(buf, 15, &d));
    MBT_EQ_INT(MB_DECODE_TRUNCATED, mb_proto_decode(buf, n - 1, &d));
    MBT_EQ_INT(MB_DECODE_TRUNCATED, mb_proto_decode(buf, 16, &d));
    MBT_EQ_INT(MB_DECODE_TRAILING, mb_proto_decode(buf, n + 1, &d));
    MBT_EQ_INT(MB_DECODE_OVERSIZE, mb_proto_decode(buf, MB_PROTO_MAX_MESSAGE + 1, &d));

    n = valid_reserve();
    buf[0] = 2;
    MBT_EQ_INT(MB_DECODE_VERSION, mb_proto_decode(buf, n, &d));
    buf[0] = 0;
    MBT_EQ_INT(MB_DECODE_VERSION, mb_proto_decode(buf, n, &d));

    n = valid_reserve();
    set_u32(buf + 8, MB_PROTO_MAX_MESSAGE);
    MBT_EQ_INT(MB_DECODE_OVERSIZE, mb_proto_decode(buf, n, &d));
    set_u32(buf + 8, 0xffffffffu);
    MBT_EQ_INT(MB_DECODE_OVERSIZE, mb_proto_decode(buf, n, &d));

    n = valid_reserve();
    buf[12] = 1; /* reserved header word */
    MBT_EQ_INT(MB_DECODE_RESERVED, mb_proto_decode(buf, n, &d));
    n = valid_reserve();
    buf[2] = MB_FLAG_MORE; /* MORE is only for STATUS_REPLY */
    MBT_EQ_INT(MB_DECODE_RESERVED, mb_proto_decode(buf, n, &d));
    n = valid_reserve();
    buf[3] = 0x80;
    MBT_EQ_INT(MB_DECODE_RESERVED, mb_proto_decode(buf, n, &d));
    n = valid_reserve();
    buf[16 + 12] = 1; /* RESERVE padding */
    MBT_EQ_INT(MB_DECODE_RESERVED, mb_proto_decode(buf, n, &d));

    static const uint8_t bad_types[] = {0, 11, 31, 39, 255};
    for (size_t i = 0; i < sizeof(bad_types); i++) {
        n = valid_reserve();
        buf[1] = bad_types[i];
        MBT_EQ_INT(MB_DECODE_UNKNOWN_TYPE, mb_proto_decode(buf, n, &d));
    }

    /* A RESERVE whose payload_len says 8 (a REQUEST's size). */
    (void)valid_reserve();
    set_u32(buf + 8, 8);
    MBT_EQ_INT(MB_DECODE_LENGTH, mb_proto_decode(buf, 24, &d));
    /* A QUERY with a payload. */
    n = valid_reserve();
    buf[1] = MB_MSG_QUERY;
    MBT_EQ_INT(MB_DECODE_LENGTH, mb_proto_decode(buf, n, &d));

    n = valid_reserve();
    buf[16 + 7] = 0x80; /* pages = 2^63 + 10 */
    MBT_EQ_INT(MB_DECODE_AMOUNT, mb_proto_decode(buf, n, &d));

    struct mb_msg m = msg_of(MB_MSG_GIVEBACK, 1);
    n = (size_t)mb_proto_encode(&m, buf, sizeof(buf));
    buf[16] = 2; /* urgency out of range */
    MBT_EQ_INT(MB_DECODE_BAD_VALUE, mb_proto_decode(buf, n, &d));
    m = msg_of(MB_MSG_PRESSURE, 1);
    n = (size_t)mb_proto_encode(&m, buf, sizeof(buf));
    buf[16] = 3;
    MBT_EQ_INT(MB_DECODE_BAD_VALUE, mb_proto_decode(buf, n, &d));
    m = msg_of(MB_MSG_ERROR, 1);
    m.u.error.code = MB_ERR_BUSY;
    n = (size_t)mb_proto_encode(&m, buf, sizeof(buf));
    buf[16] = 0; /* error code 0 */
    MBT_EQ_INT(MB_DECODE_BAD_VALUE, mb_proto_decode(buf, n, &d));

    m = msg_of(MB_MSG_HELLO, 1);
    strcpy(m.u.hello.name, "abc");
    strcpy(m.u.hello.class_name, "de");
    n = (size_t)mb_proto_encode(&m, buf, sizeof(buf));
    MBT_EQ_INT(0, mb_proto_decode(buf, n, &d));
    buf[16] = 3; /* kind */
    MBT_EQ_INT(MB_DECODE_BAD_VALUE, mb_proto_decode(buf, n, &d));
    buf[16] = 0;
    buf[16 + 24 + 1] = '\0'; /* NUL inside the name */
    MBT_EQ_INT(MB_DECODE_STRING_NUL, mb_proto_decode(buf, n, &d));
    buf[16 + 24 + 1] = 'b';
    buf[16 + 1] = 32; /* name length above MB_NAME_MAX */
    MBT_EQ_INT(MB_DECODE_STRING_TOO_LONG, mb_proto_decode(buf, n, &d));
    buf[16 + 1] = 4; /* lengths no longer add up to payload_len */
    MBT_EQ_INT(MB_DECODE_LENGTH, mb_proto_decode(buf, n, &d));
    buf[16 + 1] = 3;
    buf[16 + 3] = 1; /* HELLO padding */
    MBT_EQ_INT(MB_DECODE_RESERVED, mb_proto_decode(buf, n, &d));
    buf[16 + 3] = 0;
    buf[16 + 15] = 0x80; /* capacity >= 2^63 */
    MBT_EQ_INT(MB_DECODE_AMOUNT, mb_proto_decode(buf, n, &d));
}

static void test_names(void)
{
    MBT_EQ_STR("RESERVE", mb_proto_type_name(MB_MSG_RESERVE));
    MBT_EQ_STR("?", mb_proto_type_name(0));
    MBT_EQ_STR("BUSY", mb_proto_error_name(MB_ERR_BUSY));
    MBT_EQ_STR("MISSED_DEADLINES", mb_proto_error_name(MB_ERR_MISSED_DEADLINES));
    MBT_EQ_STR("?", mb_proto_error_name(MB_ERR_COUNT));
    MBT_EQ_STR("none", mb_proto_pressure_name(MB_PRESSURE_NONE));
    MBT_EQ_STR("critical", mb_proto_pressure_name(MB_PRESSURE_CRITICAL));
    MBT_EQ_STR("?", mb_proto_pressure_name(MB_PRESSURE_COUNT));
    MBT_EQ_STR("STRING_TOO_LONG", mb_proto_decode_error_name(MB_DECODE_STRING_TOO_LONG));
    MBT_EQ_STR("?", mb_proto_decode_error_name(-13));
    MBT_EQ_STR("?", mb_proto_decode_error_name(1));
    for (uint32_t c = 1; c < MB_ERR_COUNT; c++)
        MBT_CHECK(strcmp(mb_proto_error_name(c), "?") != 0);
}

static void test_peek_header(void)
{
    struct mb_msg_header h;
    size_t n = valid_reserve();
    MBT_EQ_INT(0, mb_proto_peek_header(buf, n, &h));
    MBT_EQ_U64(5, h.cookie);
    MBT_EQ_U64(16, h.payload_len);
    MBT_EQ_INT(MB_DECODE_SHORT, mb_proto_peek_header(buf, 3, &h));
}

int main(void)
{
    MBT_RUN(test_exact_bytes);
    MBT_RUN(test_round_trip_hello_welcome);
    MBT_RUN(test_round_trip_small);
    MBT_RUN(test_status_pages);
    MBT_RUN(test_encode_refuses_invalid);
    MBT_RUN(test_decode_errors);
    MBT_RUN(test_names);
    MBT_RUN(test_peek_header);
    return mbt_finish();
}
