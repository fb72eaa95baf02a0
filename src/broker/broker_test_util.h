/* broker_test_util.h: a tiny driver for the engine in unit tests.
 *
 * Messages go in through the wire path (encoded, then mb_broker_receive) so
 * the tests also prove the codec and the engine agree. After every event the
 * helpers verify the books (mb_broker_check), so every scenario step asserts
 * the conservation invariant. Time is a variable the test advances. */
#ifndef MB_BROKER_TEST_UTIL_H
#define MB_BROKER_TEST_UTIL_H

#include "broker/broker.h"
#include "common/clock.h"
#include "mbtest.h"

#define MS(x) ((uint64_t)(x) * MB_NSEC_PER_MSEC)

static uint64_t t_now;

static inline void t_check(struct mb_broker *b, const char *file, int line)
{
    const char *why = "";
    int rc = mb_broker_check(b, &why);
    if (rc != 0)
        fprintf(stderr, "%s:%d: invariant: %s\n", file, line, why);
    mbt_record_(rc == 0, file, line, "mb_broker_check(b) == 0");
}
#define T_CHECK(b) t_check((b), __FILE__, __LINE__)

static inline struct mb_broker *t_create(const struct mb_broker_config *cfg)
{
    struct mb_broker *b = NULL;
    t_now = MS(1000);
    if (mb_broker_create(cfg, t_now, &b) != 0)
        return NULL;
    return b;
}

static inline struct mb_broker *t_create_default(uint64_t total)
{
    struct mb_broker_config cfg;
    mb_broker_config_defaults(&cfg, total, 4096);
    return t_create(&cfg);
}

static inline mb_conn_t t_connect_as(struct mb_broker *b, uint32_t pid, uint32_t uid, uint32_t gid,
                              const char *exe, bool privileged)
{
    struct mb_broker_peer p = {.pid = pid, .uid = uid, .gid = gid, .privileged = privileged};
    snprintf(p.exe, sizeof(p.exe), "%s", exe);
    mb_conn_t c = MB_CONN_NONE;
    if (mb_broker_connect(b, &p, t_now, &c) != 0)
        return MB_CONN_NONE;
    return c;
}

/* Sends msg over the wire path. */
static inline void t_send(struct mb_broker *b, mb_conn_t c, const struct mb_msg *msg)
{
    uint8_t buf[MB_PROTO_MAX_MESSAGE];
    int n = mb_proto_encode(msg, buf, sizeof(buf));
    MBT_CHECK(n > 0);
    if (n > 0)
        MBT_EQ_INT(0, mb_broker_receive(b, c, buf, (size_t)n, t_now));
}

static inline void t_amount(struct mb_broker *b, mb_conn_t c, uint8_t type, uint32_t cookie,
                     uint64_t pages)
{
    struct mb_msg m = {.type = type, .cookie = cookie};
    if (type == MB_MSG_RESERVE || type == MB_MSG_RECLAIM)
        m.u.reserve.pages = pages;
    else
        m.u.amount.pages = pages;
    t_send(b, c, &m);
}

static inline void t_reserve(struct mb_broker *b, mb_conn_t c, uint32_t cookie, uint64_t pages,
                      uint32_t deadline_ms)
{
    struct mb_msg m = {.type = MB_MSG_RESERVE, .cookie = cookie};
    m.u.reserve.pages = pages;
    m.u.reserve.deadline_ms = deadline_ms;
    t_send(b, c, &m);
}

/* The output to conn of `type` with `cookie`, or NULL. */
static inline const struct mb_msg *t_out(const struct mb_broker *b, mb_conn_t c, uint8_t type,
                                  uint32_t cookie)
{
    for (size_t i = 0; i < mb_broker_output_count(b); i++) {
        const struct mb_broker_output *o = mb_broker_output_at(b, i);
        if (o->conn == c && o->msg.type == type && o->msg.cookie == cookie)
            return &o->msg;
    }
    return NULL;
}

/* The GIVEBACK sent to conn in the last event, or NULL. */
static inline const struct mb_msg *t_query(const struct mb_broker *b, mb_conn_t c)
{
    for (size_t i = 0; i < mb_broker_output_count(b); i++) {
        const struct mb_broker_output *o = mb_broker_output_at(b, i);
        if (o->conn == c && o->msg.type == MB_MSG_GIVEBACK)
            return &o->msg;
    }
    return NULL;
}

static inline size_t t_out_count_to(const struct mb_broker *b, mb_conn_t c)
{
    size_t n = 0;
    for (size_t i = 0; i < mb_broker_output_count(b); i++)
        if (mb_broker_output_at(b, i)->conn == c)
            n++;
    return n;
}

/* Expects a GRANT of `pages` with `cookie`, leaving `balance`. */
static inline bool t_expect_grant(const struct mb_broker *b, mb_conn_t c, uint32_t cookie,
                           uint64_t pages, uint64_t balance, const char *file, int line)
{
    const struct mb_msg *m = t_out(b, c, MB_MSG_GRANT, cookie);
    if (!mbt_record_(m != NULL, file, line, "a GRANT was sent"))
        return false;
    bool ok = mbt_eq_u64_(pages, m->u.grant.pages, file, line, "granted pages");
    ok &= mbt_eq_u64_(balance, m->u.grant.balance, file, line, "balance in GRANT");
    return ok;
}
#define T_GRANT(b, c, cookie, pages, balance) \
    t_expect_grant((b), (c), (cookie), (pages), (balance), __FILE__, __LINE__)

static inline bool t_expect_error(const struct mb_broker *b, mb_conn_t c, uint32_t cookie,
                           uint32_t code, const char *file, int line)
{
    const struct mb_msg *m = t_out(b, c, MB_MSG_ERROR, cookie);
    if (!mbt_record_(m != NULL, file, line, "an ERROR was sent"))
        return false;
    return mbt_eq_u64_(code, m->u.error.code, file, line, "error code");
}
#define T_ERROR(b, c, cookie, code) t_expect_error((b), (c), (cookie), (code), __FILE__, __LINE__)

/* Connects and registers a client; returns its conn. */
static inline mb_conn_t t_client(struct mb_broker *b, uint8_t kind, const char *name, uint64_t capacity,
                          uint64_t held)
{
    mb_conn_t c = t_connect_as(b, 100, 1000, 1000, "app", false);
    struct mb_msg m = {.type = MB_MSG_HELLO, .cookie = 1};
    m.u.hello.kind = kind;
    snprintf(m.u.hello.name, sizeof(m.u.hello.name), "%s", name);
    m.u.hello.capacity = capacity;
    m.u.hello.held = held;
    t_send(b, c, &m);
    MBT_CHECK(t_out(b, c, MB_MSG_WELCOME, 1) != NULL);
    return c;
}

static inline uint64_t t_balance(const struct mb_broker *b, mb_conn_t c)
{
    struct mb_status_client r;
    if (mb_broker_client_status(b, c, &r) != 0)
        return UINT64_MAX;
    return r.balance;
}

static inline struct mb_status_summary t_summary(const struct mb_broker *b)
{
    struct mb_status_summary s;
    mb_broker_summary(b, &s);
    return s;
}

/* Gets a bidirectional client to hold `pages` via a REQUEST from the pool. */
static inline void t_take(struct mb_broker *b, mb_conn_t c, uint64_t pages)
{
    t_amount(b, c, MB_MSG_REQUEST, 900, pages);
    MBT_CHECK(t_out(b, c, MB_MSG_GRANT, 900) != NULL);
}

static inline void t_answer(struct mb_broker *b, mb_conn_t c, uint32_t query_cookie, uint64_t pages)
{
    struct mb_msg m = {.type = MB_MSG_GIVEBACK_ANSWER, .cookie = query_cookie};
    m.u.amount.pages = pages;
    t_send(b, c, &m);
}

static inline void t_advance(struct mb_broker *b, uint64_t ns)
{
    t_now += ns;
    mb_broker_timer(b, t_now);
}

#endif
