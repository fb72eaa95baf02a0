/* codec.c: see codec.h. Layouts are in docs/protocol.md; each encoder and
 * decoder below follows the table there field by field. */
#include "proto/codec.h"

#include <errno.h>
#include <string.h>

/* ---- byte order: explicit little-endian, independent of the host ---- */

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (uint16_t)(p[1] << 8));
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

static bool amount_ok(uint64_t v)
{
    return v <= MB_PAGES_MAX;
}

/* Length of a C-string name, or -1 when it does not fit MB_NAME_MAX. */
static int name_len(const char *s)
{
    size_t n = strnlen(s, MB_NAME_BUF);
    return n > MB_NAME_MAX ? -1 : (int)n;
}

/* ---- names of constants ---- */

bool mb_proto_is_client_type(uint8_t type)
{
    return type >= MB_MSG_HELLO && type <= MB_MSG_PRESSURE;
}

static bool is_server_type(uint8_t type)
{
    return type >= MB_MSG_WELCOME && type <= MB_MSG_GIVEBACK;
}

const char *mb_proto_type_name(uint8_t type)
{
    switch (type) {
    case MB_MSG_HELLO: return "HELLO";
    case MB_MSG_REQUEST: return "REQUEST";
    case MB_MSG_RESERVE: return "RESERVE";
    case MB_MSG_CANCEL: return "CANCEL";
    case MB_MSG_RETURN: return "RETURN";
    case MB_MSG_QUERY: return "QUERY";
    case MB_MSG_STATUS: return "STATUS";
    case MB_MSG_GIVEBACK_ANSWER: return "GIVEBACK_ANSWER";
    case MB_MSG_RECLAIM: return "RECLAIM";
    case MB_MSG_PRESSURE: return "PRESSURE";
    case MB_MSG_WELCOME: return "WELCOME";
    case MB_MSG_ERROR: return "ERROR";
    case MB_MSG_GRANT: return "GRANT";
    case MB_MSG_OK: return "OK";
    case MB_MSG_QUERY_REPLY: return "QUERY_REPLY";
    case MB_MSG_STATUS_REPLY: return "STATUS_REPLY";
    case MB_MSG_GIVEBACK: return "GIVEBACK";
    default: return "?";
    }
}

const char *mb_proto_pressure_name(uint8_t level)
{
    switch (level) {
    case MB_PRESSURE_NONE: return "none";
    case MB_PRESSURE_MODERATE: return "moderate";
    case MB_PRESSURE_CRITICAL: return "critical";
    default: return "?";
    }
}

const char *mb_proto_error_name(uint32_t code)
{
    static const char *const names[MB_ERR_COUNT] = {
        [MB_ERR_PROTOCOL] = "PROTOCOL",
        [MB_ERR_INVALID] = "INVALID",
        [MB_ERR_NOT_REGISTERED] = "NOT_REGISTERED",
        [MB_ERR_ALREADY_REGISTERED] = "ALREADY_REGISTERED",
        [MB_ERR_BUSY] = "BUSY",
        [MB_ERR_NOMEM] = "NOMEM",
        [MB_ERR_CANCELLED] = "CANCELLED",
        [MB_ERR_NO_SUCH_REQUEST] = "NO_SUCH_REQUEST",
        [MB_ERR_OVER_BALANCE] = "OVER_BALANCE",
        [MB_ERR_CLASS_LIMIT] = "CLASS_LIMIT",
        [MB_ERR_TOO_MANY_CLIENTS] = "TOO_MANY_CLIENTS",
        [MB_ERR_NOT_PERMITTED] = "NOT_PERMITTED",
        [MB_ERR_WRONG_KIND] = "WRONG_KIND",
        [MB_ERR_UNEXPECTED] = "UNEXPECTED",
        [MB_ERR_TIMED_OUT] = "TIMED_OUT",
        [MB_ERR_MISSED_DEADLINES] = "MISSED_DEADLINES",
    };
    if (code == 0 || code >= MB_ERR_COUNT)
        return "?";
    return names[code];
}

const char *mb_proto_decode_error_name(int err)
{
    static const char *const names[MB_DECODE_ERROR_COUNT] = {
        "OK", "SHORT", "VERSION", "OVERSIZE", "TRUNCATED", "TRAILING", "RESERVED",
        "UNKNOWN_TYPE", "LENGTH", "AMOUNT", "BAD_VALUE", "STRING_NUL", "STRING_TOO_LONG",
    };
    if (err > 0 || err <= -(int)MB_DECODE_ERROR_COUNT)
        return "?";
    return names[-err];
}

/* ---- header ---- */

static void put_header(uint8_t *p, uint8_t type, uint16_t flags, uint32_t cookie,
                       uint32_t payload_len)
{
    p[0] = (uint8_t)MB_PROTO_VERSION;
    p[1] = type;
    put_u16(p + 2, flags);
    put_u32(p + 4, cookie);
    put_u32(p + 8, payload_len);
    put_u32(p + 12, 0);
}

int mb_proto_peek_header(const uint8_t *buf, size_t len, struct mb_msg_header *hdr)
{
    if (len < MB_PROTO_HEADER_SIZE)
        return MB_DECODE_SHORT;
    hdr->version = buf[0];
    hdr->type = buf[1];
    hdr->flags = get_u16(buf + 2);
    hdr->cookie = get_u32(buf + 4);
    hdr->payload_len = get_u32(buf + 8);
    if (hdr->version != MB_PROTO_VERSION)
        return MB_DECODE_VERSION;
    return MB_DECODE_OK;
}

/* ---- names on the wire ----
 * In messages: a length byte (in the fixed part) then that many bytes.
 * In status records: a 32-byte field, NUL-padded, at least one NUL. */

static int check_wire_name(const uint8_t *p, size_t n)
{
    if (n > MB_NAME_MAX)
        return MB_DECODE_STRING_TOO_LONG;
    if (memchr(p, 0, n) != NULL)
        return MB_DECODE_STRING_NUL;
    return MB_DECODE_OK;
}

static void copy_wire_name(char *dst, const uint8_t *p, size_t n)
{
    memcpy(dst, p, n);
    dst[n] = '\0';
}

static void put_fixed_name(uint8_t *p, const char *s, size_t n)
{
    memset(p, 0, MB_NAME_BUF);
    memcpy(p, s, n);
}

static int get_fixed_name(const uint8_t *p, char *dst)
{
    const uint8_t *nul = memchr(p, 0, MB_NAME_BUF);
    if (nul == NULL)
        return MB_DECODE_STRING_TOO_LONG;
    size_t n = (size_t)(nul - p);
    /* Bytes after the terminator must be zero, or the field hides a
     * second string behind a NUL. */
    if (!all_zero(nul, MB_NAME_BUF - n))
        return MB_DECODE_STRING_NUL;
    if (dst != NULL)
        copy_wire_name(dst, p, n);
    return MB_DECODE_OK;
}

/* ---- encoding ---- */

/* Payload length of msg, or -EINVAL. */
static int payload_size(const struct mb_msg *msg)
{
    switch (msg->type) {
    case MB_MSG_HELLO: {
        int n1 = name_len(msg->u.hello.name), n2 = name_len(msg->u.hello.class_name);
        if (n1 < 0 || n2 < 0)
            return -EINVAL;
        return (int)MB_HELLO_FIXED_SIZE + n1 + n2;
    }
    case MB_MSG_WELCOME: {
        int n = name_len(msg->u.welcome.class_name);
        return n < 0 ? -EINVAL : (int)MB_WELCOME_FIXED_SIZE + n;
    }
    case MB_MSG_QUERY: return 0;
    case MB_MSG_REQUEST:
    case MB_MSG_RETURN:
    case MB_MSG_GIVEBACK_ANSWER:
    case MB_MSG_CANCEL:
    case MB_MSG_STATUS:
    case MB_MSG_OK:
    case MB_MSG_PRESSURE: return 8;
    case MB_MSG_RESERVE:
    case MB_MSG_RECLAIM:
    case MB_MSG_ERROR:
    case MB_MSG_GRANT:
    case MB_MSG_GIVEBACK: return 16;
    case MB_MSG_QUERY_REPLY: return 32;
    default: return -EINVAL; /* STATUS_REPLY has its own encoders */
    }
}

static bool msg_values_ok(const struct mb_msg *m)
{
    switch (m->type) {
    case MB_MSG_HELLO:
        return m->u.hello.kind < MB_KIND_COUNT && amount_ok(m->u.hello.capacity) &&
               amount_ok(m->u.hello.held);
    case MB_MSG_WELCOME:
        return amount_ok(m->u.welcome.total) && amount_ok(m->u.welcome.balance);
    case MB_MSG_ERROR: return amount_ok(m->u.error.balance);
    case MB_MSG_REQUEST:
    case MB_MSG_RETURN:
    case MB_MSG_GIVEBACK_ANSWER: return amount_ok(m->u.amount.pages);
    case MB_MSG_RESERVE:
    case MB_MSG_RECLAIM: return amount_ok(m->u.reserve.pages);
    case MB_MSG_STATUS: return m->u.status.section < MB_STATUS_SECTION_COUNT;
    case MB_MSG_GRANT: return amount_ok(m->u.grant.pages) && amount_ok(m->u.grant.balance);
    case MB_MSG_OK: return amount_ok(m->u.ok.balance);
    case MB_MSG_QUERY_REPLY:
        return amount_ok(m->u.query_reply.balance) && amount_ok(m->u.query_reply.lent) &&
               amount_ok(m->u.query_reply.pool) && amount_ok(m->u.query_reply.total);
    case MB_MSG_GIVEBACK:
        return m->u.giveback.urgency < MB_URGENCY_COUNT && amount_ok(m->u.giveback.pages);
    case MB_MSG_PRESSURE: return m->u.pressure.level < MB_PRESSURE_COUNT;
    default: return true;
    }
}

int mb_proto_encode(const struct mb_msg *msg, uint8_t *buf, size_t cap)
{
    int plen = payload_size(msg);
    if (plen < 0 || msg->flags != 0 || !msg_values_ok(msg))
        return -EINVAL;
    size_t total = MB_PROTO_HEADER_SIZE + (size_t)plen;
    if (cap < total)
        return -ENOBUFS;
    memset(buf, 0, total);
    put_header(buf, msg->type, 0, msg->cookie, (uint32_t)plen);
    uint8_t *p = buf + MB_PROTO_HEADER_SIZE;
    switch (msg->type) {
    case MB_MSG_HELLO: {
        const struct mb_msg_hello *h = &msg->u.hello;
        size_t n1 = strlen(h->name), n2 = strlen(h->class_name);
        p[0] = h->kind;
        p[1] = (uint8_t)n1;
        p[2] = (uint8_t)n2;
        put_u64(p + 8, h->capacity);
        put_u64(p + 16, h->held);
        memcpy(p + MB_HELLO_FIXED_SIZE, h->name, n1);
        memcpy(p + MB_HELLO_FIXED_SIZE + n1, h->class_name, n2);
        break;
    }
    case MB_MSG_WELCOME: {
        const struct mb_msg_welcome *w = &msg->u.welcome;
        size_t n = strlen(w->class_name);
        put_u32(p, w->client_id);
        put_u32(p + 4, w->page_size);
        put_u64(p + 8, w->total);
        put_u64(p + 16, w->balance);
        p[24] = (uint8_t)n;
        memcpy(p + MB_WELCOME_FIXED_SIZE, w->class_name, n);
        break;
    }
    case MB_MSG_ERROR:
        put_u32(p, msg->u.error.code);
        put_u32(p + 4, msg->u.error.detail);
        put_u64(p + 8, msg->u.error.balance);
        break;
    case MB_MSG_REQUEST:
    case MB_MSG_RETURN:
    case MB_MSG_GIVEBACK_ANSWER: put_u64(p, msg->u.amount.pages); break;
    case MB_MSG_RESERVE:
    case MB_MSG_RECLAIM:
        put_u64(p, msg->u.reserve.pages);
        put_u32(p + 8, msg->u.reserve.deadline_ms);
        break;
    case MB_MSG_CANCEL: put_u32(p, msg->u.cancel.target_cookie); break;
    case MB_MSG_STATUS:
        p[0] = msg->u.status.section;
        put_u32(p + 4, msg->u.status.offset);
        break;
    case MB_MSG_GRANT:
        put_u64(p, msg->u.grant.pages);
        put_u64(p + 8, msg->u.grant.balance);
        break;
    case MB_MSG_OK: put_u64(p, msg->u.ok.balance); break;
    case MB_MSG_QUERY_REPLY:
        put_u64(p, msg->u.query_reply.balance);
        put_u64(p + 8, msg->u.query_reply.lent);
        put_u64(p + 16, msg->u.query_reply.pool);
        put_u64(p + 24, msg->u.query_reply.total);
        break;
    case MB_MSG_GIVEBACK:
        p[0] = msg->u.giveback.urgency;
        put_u32(p + 4, msg->u.giveback.deadline_ms);
        put_u64(p + 8, msg->u.giveback.pages);
        break;
    case MB_MSG_PRESSURE: p[0] = msg->u.pressure.level; break;
    default: break; /* QUERY: no payload */
    }
    return (int)total;
}

/* ---- status pages ---- */

static bool summary_ok(const struct mb_status_summary *s)
{
    return amount_ok(s->total) && amount_ok(s->configured_total) && amount_ok(s->pool) &&
           amount_ok(s->gathered) && amount_ok(s->lent) && amount_ok(s->debt) &&
           s->pressure < MB_PRESSURE_COUNT;
}

static void put_summary(uint8_t *p, const struct mb_status_summary *s, uint8_t section,
                        uint8_t count, uint32_t offset)
{
    const uint64_t v[14] = {
        s->total, s->configured_total, s->pool, s->gathered, s->lent, s->debt, s->requests,
        s->grants_immediate, s->requests_timed_out, s->reserves_failed, s->queries_sent,
        s->answers_late, s->answers_bogus, s->deadlines_missed,
    };
    for (size_t i = 0; i < 14; i++)
        put_u64(p + 8 * i, v[i]);
    put_u32(p + 112, s->clients);
    put_u32(p + 116, s->max_clients);
    p[120] = s->class_count;
    p[121] = s->pressure;
    p[122] = section;
    p[123] = count;
    put_u32(p + 124, offset);
}

static void get_summary(const uint8_t *p, struct mb_status_summary *s)
{
    uint64_t *const v[14] = {
        &s->total, &s->configured_total, &s->pool, &s->gathered, &s->lent, &s->debt,
        &s->requests, &s->grants_immediate, &s->requests_timed_out, &s->reserves_failed,
        &s->queries_sent, &s->answers_late, &s->answers_bogus, &s->deadlines_missed,
    };
    for (size_t i = 0; i < 14; i++)
        *v[i] = get_u64(p + 8 * i);
    s->clients = get_u32(p + 112);
    s->max_clients = get_u32(p + 116);
    s->class_count = p[120];
    s->pressure = p[121];
    s->section = p[122];
    s->count = p[123];
    s->offset = get_u32(p + 124);
}

/* Starts a status page: checks sizes, writes header and summary. Returns
 * the packet length or a negative errno. */
static int begin_status(uint8_t *buf, size_t cap, uint32_t cookie, bool more,
                        const struct mb_status_summary *summary, uint8_t section,
                        uint32_t offset, size_t count, size_t per_page, size_t record_size)
{
    if (count > per_page || !summary_ok(summary))
        return -EINVAL;
    size_t plen = MB_STATUS_SUMMARY_SIZE + count * record_size;
    size_t total = MB_PROTO_HEADER_SIZE + plen;
    if (cap < total)
        return -ENOBUFS;
    memset(buf, 0, total);
    put_header(buf, MB_MSG_STATUS_REPLY, more ? (uint16_t)MB_FLAG_MORE : 0, cookie,
               (uint32_t)plen);
    put_summary(buf + MB_PROTO_HEADER_SIZE, summary, section, (uint8_t)count, offset);
    return (int)total;
}

int mb_proto_encode_status_clients(uint8_t *buf, size_t cap, uint32_t cookie, bool more,
                                   const struct mb_status_summary *summary, uint32_t offset,
                                   const struct mb_status_client *records, size_t count)
{
    if (count > MB_STATUS_CLIENTS_PER_PAGE)
        return -EINVAL; /* before reading records the caller may not have */
    for (size_t i = 0; i < count; i++) {
        const struct mb_status_client *r = &records[i];
        if (name_len(r->name) < 0 || r->kind >= MB_KIND_COUNT ||
            r->pending_kind >= MB_PENDING_KIND_COUNT || !amount_ok(r->balance) ||
            !amount_ok(r->lent) || !amount_ok(r->pending_pages) ||
            !amount_ok(r->pending_gathered))
            return -EINVAL;
    }
    int total = begin_status(buf, cap, cookie, more, summary, MB_STATUS_CLIENTS, offset, count,
                             MB_STATUS_CLIENTS_PER_PAGE, MB_STATUS_CLIENT_RECORD_SIZE);
    if (total < 0)
        return total;
    uint8_t *p = buf + MB_PROTO_HEADER_SIZE + MB_STATUS_SUMMARY_SIZE;
    for (size_t i = 0; i < count; i++, p += MB_STATUS_CLIENT_RECORD_SIZE) {
        const struct mb_status_client *r = &records[i];
        put_u32(p, r->id);
        put_u32(p + 4, r->pid);
        put_u32(p + 8, r->uid);
        put_u32(p + 12, r->gid);
        p[16] = r->kind;
        p[17] = r->class_index;
        p[18] = r->pending_kind;
        put_u32(p + 20, r->queries_outstanding);
        put_u32(p + 24, r->missed_deadlines);
        put_u32(p + 28, r->bogus_answers);
        put_u64(p + 32, r->balance);
        put_u64(p + 40, r->lent);
        put_u64(p + 48, r->pending_pages);
        put_u64(p + 56, r->pending_gathered);
        put_u64(p + 64, r->pending_age_ms);
        put_fixed_name(p + 72, r->name, strlen(r->name));
    }
    return total;
}

int mb_proto_encode_status_classes(uint8_t *buf, size_t cap, uint32_t cookie, bool more,
                                   const struct mb_status_summary *summary, uint32_t offset,
                                   const struct mb_status_class *records, size_t count)
{
    if (count > MB_STATUS_CLASSES_PER_PAGE)
        return -EINVAL;
    for (size_t i = 0; i < count; i++)
        if (name_len(records[i].name) < 0 || !amount_ok(records[i].limit) ||
            !amount_ok(records[i].held))
            return -EINVAL;
    int total = begin_status(buf, cap, cookie, more, summary, MB_STATUS_CLASSES, offset, count,
                             MB_STATUS_CLASSES_PER_PAGE, MB_STATUS_CLASS_RECORD_SIZE);
    if (total < 0)
        return total;
    uint8_t *p = buf + MB_PROTO_HEADER_SIZE + MB_STATUS_SUMMARY_SIZE;
    for (size_t i = 0; i < count; i++, p += MB_STATUS_CLASS_RECORD_SIZE) {
        const struct mb_status_class *r = &records[i];
        put_fixed_name(p, r->name, strlen(r->name));
        put_u64(p + 32, r->limit);
        put_u64(p + 40, r->held);
        put_u32(p + 48, r->priority);
        put_u32(p + 52, r->members);
    }
    return total;
}

static int decode_client_record(const uint8_t *p, struct mb_status_client *r)
{
    r->id = get_u32(p);
    r->pid = get_u32(p + 4);
    r->uid = get_u32(p + 8);
    r->gid = get_u32(p + 12);
    r->kind = p[16];
    r->class_index = p[17];
    r->pending_kind = p[18];
    r->queries_outstanding = get_u32(p + 20);
    r->missed_deadlines = get_u32(p + 24);
    r->bogus_answers = get_u32(p + 28);
    r->balance = get_u64(p + 32);
    r->lent = get_u64(p + 40);
    r->pending_pages = get_u64(p + 48);
    r->pending_gathered = get_u64(p + 56);
    r->pending_age_ms = get_u64(p + 64);
    if (p[19] != 0)
        return MB_DECODE_RESERVED;
    if (r->kind >= MB_KIND_COUNT || r->pending_kind >= MB_PENDING_KIND_COUNT)
        return MB_DECODE_BAD_VALUE;
    if (!amount_ok(r->balance) || !amount_ok(r->lent) || !amount_ok(r->pending_pages) ||
        !amount_ok(r->pending_gathered))
        return MB_DECODE_AMOUNT;
    return get_fixed_name(p + 72, r->name);
}

static int decode_class_record(const uint8_t *p, struct mb_status_class *r)
{
    r->limit = get_u64(p + 32);
    r->held = get_u64(p + 40);
    r->priority = get_u32(p + 48);
    r->members = get_u32(p + 52);
    if (!amount_ok(r->limit) || !amount_ok(r->held))
        return MB_DECODE_AMOUNT;
    return get_fixed_name(p, r->name);
}

static int decode_status_reply(const uint8_t *p, size_t plen, struct mb_status_summary *s)
{
    if (plen < MB_STATUS_SUMMARY_SIZE)
        return MB_DECODE_LENGTH;
    get_summary(p, s);
    if (s->section >= MB_STATUS_SECTION_COUNT || s->pressure >= MB_PRESSURE_COUNT)
        return MB_DECODE_BAD_VALUE;
    bool clients = s->section == MB_STATUS_CLIENTS;
    size_t rsize = clients ? MB_STATUS_CLIENT_RECORD_SIZE : MB_STATUS_CLASS_RECORD_SIZE;
    size_t per_page = clients ? MB_STATUS_CLIENTS_PER_PAGE : MB_STATUS_CLASSES_PER_PAGE;
    if (s->count > per_page || plen != MB_STATUS_SUMMARY_SIZE + s->count * rsize)
        return MB_DECODE_LENGTH;
    if (!summary_ok(s))
        return MB_DECODE_AMOUNT;
    const uint8_t *r = p + MB_STATUS_SUMMARY_SIZE;
    for (size_t i = 0; i < s->count; i++, r += rsize) {
        int err;
        if (clients) {
            struct mb_status_client c;
            err = decode_client_record(r, &c);
        } else {
            struct mb_status_class c;
            err = decode_class_record(r, &c);
        }
        if (err != MB_DECODE_OK)
            return err;
    }
    return MB_DECODE_OK;
}

/* ---- decoding ---- */

/* Expected payload length of a fixed-size type, or -1 for variable ones. */
static long fixed_payload_len(uint8_t type)
{
    switch (type) {
    case MB_MSG_HELLO:
    case MB_MSG_WELCOME:
    case MB_MSG_STATUS_REPLY: return -1;
    default: {
        struct mb_msg probe;
        memset(&probe, 0, sizeof(probe));
        probe.type = type;
        return payload_size(&probe);
    }
    }
}

static int decode_payload(const uint8_t *p, size_t plen, struct mb_msg *m)
{
    long fixed = fixed_payload_len(m->type);
    if (fixed >= 0 && plen != (size_t)fixed)
        return MB_DECODE_LENGTH;
    switch (m->type) {
    case MB_MSG_HELLO: {
        struct mb_msg_hello *h = &m->u.hello;
        if (plen < MB_HELLO_FIXED_SIZE)
            return MB_DECODE_LENGTH;
        size_t n1 = p[1], n2 = p[2];
        if (n1 > MB_NAME_MAX || n2 > MB_NAME_MAX)
            return MB_DECODE_STRING_TOO_LONG;
        if (plen != MB_HELLO_FIXED_SIZE + n1 + n2)
            return MB_DECODE_LENGTH;
        if (!all_zero(p + 3, 5))
            return MB_DECODE_RESERVED;
        h->kind = p[0];
        if (h->kind >= MB_KIND_COUNT)
            return MB_DECODE_BAD_VALUE;
        h->capacity = get_u64(p + 8);
        h->held = get_u64(p + 16);
        if (!amount_ok(h->capacity) || !amount_ok(h->held))
            return MB_DECODE_AMOUNT;
        const uint8_t *s1 = p + MB_HELLO_FIXED_SIZE, *s2 = s1 + n1;
        int err = check_wire_name(s1, n1);
        if (err == MB_DECODE_OK)
            err = check_wire_name(s2, n2);
        if (err != MB_DECODE_OK)
            return err;
        copy_wire_name(h->name, s1, n1);
        copy_wire_name(h->class_name, s2, n2);
        return MB_DECODE_OK;
    }
    case MB_MSG_WELCOME: {
        struct mb_msg_welcome *w = &m->u.welcome;
        if (plen < MB_WELCOME_FIXED_SIZE)
            return MB_DECODE_LENGTH;
        size_t n = p[24];
        if (n > MB_NAME_MAX)
            return MB_DECODE_STRING_TOO_LONG;
        if (plen != MB_WELCOME_FIXED_SIZE + n)
            return MB_DECODE_LENGTH;
        if (!all_zero(p + 25, 7))
            return MB_DECODE_RESERVED;
        w->client_id = get_u32(p);
        w->page_size = get_u32(p + 4);
        w->total = get_u64(p + 8);
        w->balance = get_u64(p + 16);
        if (!amount_ok(w->total) || !amount_ok(w->balance))
            return MB_DECODE_AMOUNT;
        int err = check_wire_name(p + MB_WELCOME_FIXED_SIZE, n);
        if (err != MB_DECODE_OK)
            return err;
        copy_wire_name(w->class_name, p + MB_WELCOME_FIXED_SIZE, n);
        return MB_DECODE_OK;
    }
    case MB_MSG_ERROR:
        m->u.error.code = get_u32(p);
        m->u.error.detail = get_u32(p + 4);
        m->u.error.balance = get_u64(p + 8);
        if (m->u.error.code == 0 || m->u.error.code >= MB_ERR_COUNT)
            return MB_DECODE_BAD_VALUE;
        return amount_ok(m->u.error.balance) ? MB_DECODE_OK : MB_DECODE_AMOUNT;
    case MB_MSG_REQUEST:
    case MB_MSG_RETURN:
    case MB_MSG_GIVEBACK_ANSWER:
        m->u.amount.pages = get_u64(p);
        return amount_ok(m->u.amount.pages) ? MB_DECODE_OK : MB_DECODE_AMOUNT;
    case MB_MSG_RESERVE:
    case MB_MSG_RECLAIM:
        if (!all_zero(p + 12, 4))
            return MB_DECODE_RESERVED;
        m->u.reserve.pages = get_u64(p);
        m->u.reserve.deadline_ms = get_u32(p + 8);
        return amount_ok(m->u.reserve.pages) ? MB_DECODE_OK : MB_DECODE_AMOUNT;
    case MB_MSG_CANCEL:
        if (!all_zero(p + 4, 4))
            return MB_DECODE_RESERVED;
        m->u.cancel.target_cookie = get_u32(p);
        return MB_DECODE_OK;
    case MB_MSG_QUERY: return MB_DECODE_OK;
    case MB_MSG_STATUS:
        if (!all_zero(p + 1, 3))
            return MB_DECODE_RESERVED;
        m->u.status.section = p[0];
        m->u.status.offset = get_u32(p + 4);
        return m->u.status.section < MB_STATUS_SECTION_COUNT ? MB_DECODE_OK
                                                              : MB_DECODE_BAD_VALUE;
    case MB_MSG_PRESSURE:
        if (!all_zero(p + 1, 7))
            return MB_DECODE_RESERVED;
        m->u.pressure.level = p[0];
        return m->u.pressure.level < MB_PRESSURE_COUNT ? MB_DECODE_OK : MB_DECODE_BAD_VALUE;
    case MB_MSG_GRANT:
        m->u.grant.pages = get_u64(p);
        m->u.grant.balance = get_u64(p + 8);
        return amount_ok(m->u.grant.pages) && amount_ok(m->u.grant.balance) ? MB_DECODE_OK
                                                                            : MB_DECODE_AMOUNT;
    case MB_MSG_OK:
        m->u.ok.balance = get_u64(p);
        return amount_ok(m->u.ok.balance) ? MB_DECODE_OK : MB_DECODE_AMOUNT;
    case MB_MSG_QUERY_REPLY: {
        struct mb_msg_query_reply *q = &m->u.query_reply;
        q->balance = get_u64(p);
        q->lent = get_u64(p + 8);
        q->pool = get_u64(p + 16);
        q->total = get_u64(p + 24);
        return amount_ok(q->balance) && amount_ok(q->lent) && amount_ok(q->pool) &&
                       amount_ok(q->total)
                   ? MB_DECODE_OK
                   : MB_DECODE_AMOUNT;
    }
    case MB_MSG_GIVEBACK:
        if (!all_zero(p + 1, 3))
            return MB_DECODE_RESERVED;
        m->u.giveback.urgency = p[0];
        m->u.giveback.deadline_ms = get_u32(p + 4);
        m->u.giveback.pages = get_u64(p + 8);
        if (m->u.giveback.urgency >= MB_URGENCY_COUNT)
            return MB_DECODE_BAD_VALUE;
        return amount_ok(m->u.giveback.pages) ? MB_DECODE_OK : MB_DECODE_AMOUNT;
    case MB_MSG_STATUS_REPLY: return decode_status_reply(p, plen, &m->u.status_reply.summary);
    default: return MB_DECODE_UNKNOWN_TYPE;
    }
}

int mb_proto_decode(const uint8_t *buf, size_t len, struct mb_msg *msg)
{
    struct mb_msg_header hdr;
    int err = mb_proto_peek_header(buf, len, &hdr);
    if (err != MB_DECODE_OK)
        return err;
    if (len > MB_PROTO_MAX_MESSAGE || hdr.payload_len > MB_PROTO_MAX_MESSAGE - MB_PROTO_HEADER_SIZE)
        return MB_DECODE_OVERSIZE;
    size_t want = MB_PROTO_HEADER_SIZE + (size_t)hdr.payload_len;
    if (len < want)
        return MB_DECODE_TRUNCATED;
    if (len > want)
        return MB_DECODE_TRAILING;
    if (get_u32(buf + 12) != 0)
        return MB_DECODE_RESERVED;
    if (!mb_proto_is_client_type(hdr.type) && !is_server_type(hdr.type))
        return MB_DECODE_UNKNOWN_TYPE;
    uint16_t allowed = hdr.type == MB_MSG_STATUS_REPLY ? (uint16_t)MB_FLAGS_KNOWN : 0;
    if ((hdr.flags & (uint16_t)~allowed) != 0)
        return MB_DECODE_RESERVED;
    memset(msg, 0, sizeof(*msg));
    msg->type = hdr.type;
    msg->flags = hdr.flags;
    msg->cookie = hdr.cookie;
    return decode_payload(buf + MB_PROTO_HEADER_SIZE, hdr.payload_len, msg);
}

/* Locates record i of a decoded status page of `section`; NULL if none. */
static const uint8_t *status_record(const uint8_t *buf, size_t len, size_t i, uint8_t section,
                                    size_t rsize)
{
    if (len < MB_PROTO_HEADER_SIZE + MB_STATUS_SUMMARY_SIZE || buf[1] != MB_MSG_STATUS_REPLY)
        return NULL;
    const uint8_t *s = buf + MB_PROTO_HEADER_SIZE;
    size_t count = s[123];
    if (s[122] != section || i >= count)
        return NULL;
    size_t at = MB_PROTO_HEADER_SIZE + MB_STATUS_SUMMARY_SIZE + i * rsize;
    if (at + rsize > len)
        return NULL;
    return buf + at;
}

int mb_proto_status_client_at(const uint8_t *buf, size_t len, size_t i,
                              struct mb_status_client *out)
{
    const uint8_t *p = status_record(buf, len, i, MB_STATUS_CLIENTS, MB_STATUS_CLIENT_RECORD_SIZE);
    if (p == NULL || decode_client_record(p, out) != MB_DECODE_OK)
        return -EINVAL;
    return 0;
}

int mb_proto_status_class_at(const uint8_t *buf, size_t len, size_t i,
                             struct mb_status_class *out)
{
    const uint8_t *p = status_record(buf, len, i, MB_STATUS_CLASSES, MB_STATUS_CLASS_RECORD_SIZE);
    if (p == NULL || decode_class_record(p, out) != MB_DECODE_OK)
        return -EINVAL;
    return 0;
}
