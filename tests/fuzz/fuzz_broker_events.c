/* libFuzzer target for the broker's state machine (src/broker/).
 *
 * The input is a script: each byte picks an event (connect, disconnect,
 * time passing, a message of any type with small or absurd amounts, an
 * answer to the last query a client was sent, or raw bytes as a packet) and
 * the following bytes its arguments. The driver behaves like the event loop:
 * it encodes every output, and disconnects every connection the engine asks
 * to close. After every event it checks:
 * - the books (mb_broker_check: conservation, class sums, lists);
 * - every output encodes, and goes to a connected client;
 * - the next deadline is in the future (nothing due was left undone);
 * - no query goes to a simple client or to one waiting on its own request;
 * - a pending request never ends without a GRANT or ERROR carrying its cookie.
 * Any violation aborts, which libFuzzer reports with the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_CONNS 6u

struct script {
    const uint8_t *p;
    size_t left;
};

static uint8_t next_byte(struct script *s)
{
    if (s->left == 0)
        return 0;
    s->left--;
    return *s->p++;
}

static uint64_t next_amount(struct script *s)
{
    uint8_t b = next_byte(s);
    switch (b >> 6) {
    case 0: return b & 0x3f;
    case 1: return (uint64_t)(b & 0x3f) * 7;
    case 2: return MB_PAGES_MAX - (b & 0x3f); /* huge but valid */
    default: return UINT64_MAX - (b & 0x3f); /* invalid */
    }
}

struct driver {
    struct mb_broker *b;
    uint64_t now;
    bool open[MAX_CONNS];
    uint32_t last_query[MAX_CONNS];
    uint32_t last_request_cookie[MAX_CONNS]; /* of the last REQUEST/RESERVE/RECLAIM */
    bool waiting[MAX_CONNS];                  /* the engine holds a request of it */
    uint32_t waiting_cookie[MAX_CONNS];
};

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_broker_events: %s\n", what);
    abort();
}

/* Did this event complete conn's request `cookie` (a GRANT, or one of the
 * errors that end a pending request)? Other errors may carry the same
 * cookie (the fuzzer reuses cookies) and do not count. */
static bool completed(const struct mb_broker *b, mb_conn_t c, uint32_t cookie)
{
    for (size_t i = 0; i < mb_broker_output_count(b); i++) {
        const struct mb_broker_output *o = mb_broker_output_at(b, i);
        if (o->conn != c || o->msg.cookie != cookie)
            continue;
        if (o->msg.type == MB_MSG_GRANT)
            return true;
        if (o->msg.type == MB_MSG_ERROR &&
            (o->msg.u.error.code == MB_ERR_NOMEM || o->msg.u.error.code == MB_ERR_CANCELLED ||
             o->msg.u.error.code == MB_ERR_TIMED_OUT))
            return true;
    }
    return false;
}

/* A request the engine stopped holding must have been answered in the same
 * event: no request is ever dropped silently (unless its client left). */
static void check_replies(struct driver *d)
{
    for (mb_conn_t c = 0; c < MAX_CONNS; c++) {
        struct mb_status_client st;
        if (!d->open[c] || mb_broker_client_status(d->b, c, &st) != 0) {
            d->waiting[c] = false;
            continue;
        }
        if (d->waiting[c] && completed(d->b, c, d->waiting_cookie[c]))
            d->waiting[c] = false;
        if (d->waiting[c] && st.pending_kind == MB_PENDING_NONE)
            fail("a pending request ended without a reply");
        if (!d->waiting[c] && st.pending_kind != MB_PENDING_NONE) {
            d->waiting[c] = true;
            d->waiting_cookie[c] = d->last_request_cookie[c];
        }
    }
}

static void after_event(struct driver *d)
{
    const char *why = NULL;
    if (mb_broker_check(d->b, &why) != 0)
        fail(why);
    static uint8_t buf[MB_PROTO_MAX_MESSAGE];
    for (size_t i = 0; i < mb_broker_output_count(d->b); i++) {
        const struct mb_broker_output *o = mb_broker_output_at(d->b, i);
        if (o->conn >= MAX_CONNS || !d->open[o->conn])
            fail("output to a connection that is not open");
        if (mb_broker_output_encode(d->b, i, buf, sizeof(buf)) <= 0)
            fail("an output does not encode");
        if (o->msg.type == MB_MSG_GIVEBACK) {
            /* Never a simple client, never one waiting on its own request. */
            struct mb_status_client st;
            if (mb_broker_client_status(d->b, o->conn, &st) != 0 ||
                st.kind == MB_KIND_SIMPLE || st.pending_kind != MB_PENDING_NONE)
                fail("a query went to a client that must not be asked");
            d->last_query[o->conn] = o->msg.cookie;
        }
    }
    if (mb_broker_next_deadline(d->b) <= d->now)
        fail("a deadline is due but was not handled");
    check_replies(d);
    /* Like the event loop: close what the engine dropped; each close is an
     * event of its own, whose output is drained the same way. */
    size_t n = mb_broker_close_count(d->b);
    mb_conn_t closing[MAX_CONNS];
    if (n > MAX_CONNS)
        fail("close list longer than the table");
    for (size_t i = 0; i < n; i++)
        closing[i] = mb_broker_close_at(d->b, i);
    for (size_t i = 0; i < n; i++) {
        if (closing[i] >= MAX_CONNS || !d->open[closing[i]])
            fail("engine asked to close a connection that is not open");
        if (mb_broker_disconnect(d->b, closing[i], d->now) != 0)
            fail("engine asked to close an unknown connection");
        d->open[closing[i]] = false;
        after_event(d);
    }
}

static const uint8_t msg_types[] = {
    MB_MSG_HELLO, MB_MSG_REQUEST, MB_MSG_RESERVE, MB_MSG_CANCEL, MB_MSG_RETURN,
    MB_MSG_QUERY, MB_MSG_STATUS, MB_MSG_GIVEBACK_ANSWER, MB_MSG_RECLAIM, MB_MSG_PRESSURE,
    MB_MSG_GRANT, MB_MSG_REQUEST, MB_MSG_RETURN, MB_MSG_GIVEBACK_ANSWER,
};

static void send_message(struct driver *d, struct script *s, mb_conn_t c)
{
    struct mb_msg m;
    memset(&m, 0, sizeof(m));
    m.type = msg_types[next_byte(s) % sizeof(msg_types)];
    m.cookie = next_byte(s) % 8;
    switch (m.type) {
    case MB_MSG_HELLO: {
        uint8_t k = next_byte(s);
        m.u.hello.kind = (uint8_t)(k % 4); /* 3 is invalid */
        m.u.hello.capacity = (k & 0x10) ? next_amount(s) : 0;
        m.u.hello.held = (k & 0x20) ? next_amount(s) : 0;
        snprintf(m.u.hello.name, sizeof(m.u.hello.name), "n%u", (unsigned)(next_byte(s) % 3));
        snprintf(m.u.hello.class_name, sizeof(m.u.hello.class_name), "%s",
                 (k & 0x40) ? "small" : "");
        break;
    }
    case MB_MSG_RESERVE:
    case MB_MSG_RECLAIM:
        m.u.reserve.pages = next_amount(s);
        m.u.reserve.deadline_ms = next_byte(s) % 4 * 100;
        break;
    case MB_MSG_CANCEL: m.u.cancel.target_cookie = next_byte(s) % 8; break;
    case MB_MSG_STATUS:
        m.u.status.section = next_byte(s) % 3;
        m.u.status.offset = next_byte(s) % 8;
        break;
    case MB_MSG_GIVEBACK_ANSWER: {
        uint8_t how = next_byte(s);
        m.cookie = (how & 1) ? d->last_query[c] : how;
        m.u.amount.pages = next_amount(s);
        break;
    }
    case MB_MSG_PRESSURE: m.u.pressure.level = next_byte(s) % 4; break;
    default: m.u.amount.pages = next_amount(s); break;
    }
    if (m.type == MB_MSG_REQUEST || m.type == MB_MSG_RESERVE || m.type == MB_MSG_RECLAIM)
        d->last_request_cookie[c] = m.cookie;
    if (mb_broker_message(d->b, c, &m, d->now) != 0)
        fail("message to an open connection refused");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct script s = {data, size};
    struct mb_broker_config cfg;
    mb_broker_config_defaults(&cfg, 64 + next_byte(&s), 4096);
    cfg.max_clients = MAX_CONNS;
    cfg.request_timeout_ns = 500u * 1000000u;
    cfg.query_timeout_ns = 200u * 1000000u;
    cfg.missed_deadline_limit = next_byte(&s) % 4;
    cfg.pressure_reserve_pages = next_byte(&s) % 32;
    cfg.class_count = 2;
    memcpy(cfg.classes[1].name, "small", sizeof("small"));
    cfg.classes[1].limit = 20;
    cfg.classes[1].priority = 1;
    cfg.rule_count = 2;
    memcpy(cfg.rules[0].requested_class, "small", sizeof("small"));
    cfg.rules[0].class_index = 1;
    cfg.rules[1].match_uid = true;
    cfg.rules[1].uid = 7;
    cfg.rules[1].class_index = 1;

    struct driver d;
    memset(&d, 0, sizeof(d));
    d.now = 1000000000u;
    if (mb_broker_create(&cfg, d.now, &d.b) != 0)
        fail("create");

    while (s.left > 0) {
        uint8_t op = next_byte(&s);
        mb_conn_t c = (mb_conn_t)(next_byte(&s) % MAX_CONNS);
        bool evented = true;
        switch (op % 8) {
        case 0: {
            struct mb_broker_peer peer = {.pid = c, .uid = (op & 0x80) ? 7 : 1000, .gid = 1};
            peer.privileged = (op & 0x40) != 0;
            mb_conn_t got;
            if (mb_broker_connect(d.b, &peer, d.now, &got) == 0) {
                if (got >= MAX_CONNS || d.open[got])
                    fail("connect returned a slot in use");
                d.open[got] = true;
                d.last_query[got] = 0;
            }
            break;
        }
        case 1:
            if (d.open[c]) {
                if (mb_broker_disconnect(d.b, c, d.now) != 0)
                    fail("disconnect of an open connection refused");
                d.open[c] = false;
            } else {
                if (mb_broker_disconnect(d.b, c, d.now) == 0)
                    fail("disconnect of a closed connection accepted");
                evented = false;
            }
            break;
        case 2:
            d.now += (uint64_t)next_byte(&s) * 10000000u; /* up to 2.55 s */
            mb_broker_timer(d.b, d.now);
            break;
        case 3: {
            /* Raw bytes as a packet, from the rest of the script. */
            size_t n = next_byte(&s) % 48;
            if (n > s.left)
                n = s.left;
            if (d.open[c]) {
                struct mb_msg_header h;
                if (mb_proto_peek_header(s.p, n, &h) == 0 &&
                    (h.type == MB_MSG_REQUEST || h.type == MB_MSG_RESERVE ||
                     h.type == MB_MSG_RECLAIM))
                    d.last_request_cookie[c] = h.cookie;
                (void)mb_broker_receive(d.b, c, s.p, n, d.now);
            }
            else
                evented = false;
            s.p += n;
            s.left -= n;
            break;
        }
        default:
            if (d.open[c])
                send_message(&d, &s, c);
            else
                evented = false;
            break;
        }
        if (evented)
            after_event(&d);
    }
    mb_broker_destroy(d.b);
    return 0;
}
