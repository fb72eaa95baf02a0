/* codec.h: membroker messages as C structs, and their wire encoding.
 *
 * One codec for both sides. Encoding writes into a caller's buffer and
 * refuses to produce anything a decoder would reject; decoding validates
 * every byte (see enum mb_decode_error in membroker/protocol.h) and never
 * reads past the given length. Neither allocates, blocks nor prints, so the
 * client library can use them from any thread and the fuzzer can hammer
 * them. Byte order is explicit little-endian, so hosts of either order and
 * of either word size produce and accept the same bytes.
 */
#ifndef MB_PROTO_CODEC_H
#define MB_PROTO_CODEC_H

#include "membroker/protocol.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Payload sizes of the fixed parts (see docs/protocol.md for the layouts). */
#define MB_HELLO_FIXED_SIZE 24u
#define MB_WELCOME_FIXED_SIZE 32u
#define MB_STATUS_SUMMARY_SIZE 128u
#define MB_STATUS_CLIENT_RECORD_SIZE 104u
#define MB_STATUS_CLASS_RECORD_SIZE 56u
/* Records per STATUS_REPLY page; a page always fits MB_PROTO_MAX_MESSAGE. */
#define MB_STATUS_CLIENTS_PER_PAGE 32u
#define MB_STATUS_CLASSES_PER_PAGE 16u

/* Names in structs are NUL-terminated C strings of at most MB_NAME_MAX bytes. */
#define MB_NAME_BUF (MB_NAME_MAX + 1u)

struct mb_msg_header {
    uint8_t version;
    uint8_t type;
    uint16_t flags;
    uint32_t cookie;
    uint32_t payload_len;
};

struct mb_msg_hello {
    uint8_t kind;          /* enum mb_client_kind */
    char name[MB_NAME_BUF];
    char class_name[MB_NAME_BUF]; /* requested class, "" for none */
    uint64_t capacity;     /* pages lent by a source client, else 0 */
    uint64_t held;         /* balance re-declared after a server restart */
};

struct mb_msg_welcome {
    uint32_t client_id;
    uint32_t page_size;
    uint64_t total;
    uint64_t balance; /* the balance the server accepted (the HELLO's held) */
    char class_name[MB_NAME_BUF];
};

struct mb_msg_error {
    uint32_t code;   /* enum mb_error_code */
    uint32_t detail; /* MB_ERR_PROTOCOL/INVALID: -(enum mb_decode_error); else 0 */
    uint64_t balance;
};

/* REQUEST, RETURN and GIVEBACK_ANSWER carry one amount. */
struct mb_msg_amount {
    uint64_t pages;
};

/* RESERVE and RECLAIM. */
struct mb_msg_reserve {
    uint64_t pages;
    uint32_t deadline_ms; /* 0: wait as long as it takes */
};

struct mb_msg_cancel {
    uint32_t target_cookie;
};

struct mb_msg_status {
    uint8_t section; /* enum mb_status_section */
    uint32_t offset; /* cursor: 0 first, then the reply's summary.offset */
};

struct mb_msg_grant {
    uint64_t pages;   /* granted, possibly 0 */
    uint64_t balance; /* after the grant */
};

struct mb_msg_ok {
    uint64_t balance;
};

struct mb_msg_query_reply {
    uint64_t balance;
    uint64_t lent; /* capacity this (source) client has lent */
    uint64_t pool;
    uint64_t total;
};

struct mb_msg_giveback {
    uint8_t urgency;      /* enum mb_urgency */
    uint32_t deadline_ms; /* answer within this many ms */
    uint64_t pages;       /* wanted */
};

struct mb_msg_pressure {
    uint8_t level; /* enum mb_pressure_level */
};

/* The server-wide part of every STATUS_REPLY. */
struct mb_status_summary {
    uint64_t total;            /* configured_total + lent */
    uint64_t configured_total;
    uint64_t pool;
    uint64_t gathered;         /* held for pending requests */
    uint64_t lent;
    uint64_t debt;
    uint64_t requests;         /* REQUEST/RESERVE/RECLAIM received */
    uint64_t grants_immediate; /* served from the pool at once */
    uint64_t requests_timed_out; /* REQUESTs granted less than asked at timeout */
    uint64_t reserves_failed;
    uint64_t queries_sent;
    uint64_t answers_late;
    uint64_t answers_bogus;
    uint64_t deadlines_missed;
    uint32_t clients;
    uint32_t max_clients;
    uint8_t class_count;
    uint8_t pressure;          /* enum mb_pressure_level */
    uint8_t section;           /* enum mb_status_section of the records */
    uint8_t count;             /* records in this page */
    uint32_t offset;           /* cursor of the next page (with MB_FLAG_MORE) */
};

struct mb_status_client {
    uint32_t id;
    uint32_t pid;
    uint32_t uid;
    uint32_t gid;
    uint8_t kind;
    uint8_t class_index;
    uint8_t pending_kind; /* enum mb_pending_kind */
    uint32_t queries_outstanding;
    uint32_t missed_deadlines;
    uint32_t bogus_answers;
    uint64_t balance;
    uint64_t lent;
    uint64_t pending_pages;
    uint64_t pending_gathered;
    uint64_t pending_age_ms;
    char name[MB_NAME_BUF];
};

struct mb_status_class {
    char name[MB_NAME_BUF];
    uint64_t limit; /* 0: unlimited */
    uint64_t held;
    uint32_t priority;
    uint32_t members;
};

struct mb_msg_status_reply {
    struct mb_status_summary summary; /* records: mb_proto_status_*_at() */
};

struct mb_msg {
    uint8_t type;   /* enum mb_msg_type */
    uint16_t flags; /* MB_FLAG_MORE on STATUS_REPLY only */
    uint32_t cookie;
    union {
        struct mb_msg_hello hello;
        struct mb_msg_welcome welcome;
        struct mb_msg_error error;
        struct mb_msg_amount amount;   /* REQUEST, RETURN, GIVEBACK_ANSWER */
        struct mb_msg_reserve reserve; /* RESERVE, RECLAIM */
        struct mb_msg_cancel cancel;
        struct mb_msg_status status;
        struct mb_msg_grant grant;
        struct mb_msg_ok ok;
        struct mb_msg_query_reply query_reply;
        struct mb_msg_giveback giveback;
        struct mb_msg_pressure pressure;
        struct mb_msg_status_reply status_reply;
    } u;
};

/* True for the types a client sends to the server. */
bool mb_proto_is_client_type(uint8_t type);

/* A short constant name ("REQUEST", "MB_ERR_BUSY"-less: "BUSY", "SHORT"), or
 * "?" for an unknown value. For logs and mbctl. */
const char *mb_proto_type_name(uint8_t type);
const char *mb_proto_error_name(uint32_t code);
const char *mb_proto_decode_error_name(int err);
/* "none", "moderate", "critical" for enum mb_pressure_level, "?" otherwise. */
const char *mb_proto_pressure_name(uint8_t level);

/* Reads only the header of buf[0..len): 0, MB_DECODE_SHORT or
 * MB_DECODE_VERSION. Lets a receiver echo the cookie of a packet it then
 * fails to decode. */
int mb_proto_peek_header(const uint8_t *buf, size_t len, struct mb_msg_header *hdr);

/* Encodes msg (any type but STATUS_REPLY) into buf[0..cap). Returns the
 * packet length, -ENOBUFS when cap is too small, or -EINVAL when msg holds
 * something a decoder would reject (unknown type, amount >= 2^63, name too
 * long, enum out of range, MB_FLAG_MORE). */
int mb_proto_encode(const struct mb_msg *msg, uint8_t *buf, size_t cap);

/* Encodes one STATUS_REPLY page: summary (whose section, count and offset
 * are set from the arguments) followed by `count` records. Returns the
 * packet length, -ENOBUFS, or -EINVAL (count above the page maximum, a bad
 * name or amount). */
int mb_proto_encode_status_clients(uint8_t *buf, size_t cap, uint32_t cookie, bool more,
                                   const struct mb_status_summary *summary, uint32_t offset,
                                   const struct mb_status_client *records, size_t count);
int mb_proto_encode_status_classes(uint8_t *buf, size_t cap, uint32_t cookie, bool more,
                                   const struct mb_status_summary *summary, uint32_t offset,
                                   const struct mb_status_class *records, size_t count);

/* Decodes and validates one packet. Returns 0 and fills *msg, or a negative
 * enum mb_decode_error (then *msg is unspecified). For STATUS_REPLY every
 * record is validated but only the summary is stored: read records with
 * mb_proto_status_client_at / _class_at on the same buffer. */
int mb_proto_decode(const uint8_t *buf, size_t len, struct mb_msg *msg);

/* Record i of a STATUS_REPLY packet that mb_proto_decode accepted. Returns
 * 0, or -EINVAL when the packet is not such a page of that section or i is
 * not below its count. */
int mb_proto_status_client_at(const uint8_t *buf, size_t len, size_t i,
                              struct mb_status_client *out);
int mb_proto_status_class_at(const uint8_t *buf, size_t len, size_t i,
                             struct mb_status_class *out);

#endif
