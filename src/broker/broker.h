/* broker.h: mbserver's decision engine, a pure state machine.
 *
 * Events go in (a peer connected, a message arrived, a peer hung up, time
 * passed); messages come out. The engine does no I/O, never sleeps and never
 * reads a clock: every event carries `now` (CLOCK_MONOTONIC ns). All memory is
 * allocated by mb_broker_create, sized by the config; no event allocates.
 *
 * How the event loop drives it:
 *
 *     mb_broker_connect(b, &peer, now, &conn)   on accept (peer from SO_PEERCRED)
 *     mb_broker_receive(b, conn, pkt, len, now) for each packet read
 *     mb_broker_disconnect(b, conn, now)        on hang-up, and for each conn
 *                                               the engine asked to close
 *     mb_broker_timer(b, now)                   when mb_broker_next_deadline passes
 *
 * After every event, send each entry of the outbox (mb_broker_output_count /
 * mb_broker_output_encode) in order, then close each connection of the close
 * list (mb_broker_close_count / mb_broker_close_at) after sending what the
 * outbox holds for it. The outbox and close list are emptied at the start of
 * the next event. A closed connection's quota is already back in the pool;
 * the loop still reports it with mb_broker_disconnect once the fd is closed,
 * which frees its slot.
 *
 * Quota books, true after every event (mb_broker_check verifies them):
 *     pool + sum(balances) + gathered == total + debt,   total == configured + lent
 * where `gathered` are pages set aside for pending requests and `debt` is what
 * clients hold beyond what exists (after a source died or after clients
 * re-declared more than the total following a server restart).
 */
#ifndef MB_BROKER_BROKER_H
#define MB_BROKER_BROKER_H

#include "proto/codec.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MB_MAX_CLASSES 16u
#define MB_MAX_CLASS_RULES 64u
#define MB_EXE_NAME_MAX 15u /* /proc/PID/comm */
#define MB_BROKER_MAX_CLIENTS_LIMIT 65536u

/* A connection handle chosen by the engine (a slot index). */
typedef uint32_t mb_conn_t;
#define MB_CONN_NONE UINT32_MAX

/* Who is on the other end, as the kernel and the event loop know it. */
struct mb_broker_peer {
    uint32_t pid;
    uint32_t uid;
    uint32_t gid;
    char exe[MB_EXE_NAME_MAX + 1]; /* command name, "" if unknown */
    bool privileged; /* may send PRESSURE (the loop decides: uid 0, a group...) */
};

/* A class of clients: they share `limit` pages (0 = no limit) drawn from
 * the global pool; `priority` orders give-back queries (lowest asked first). */
struct mb_class_config {
    char name[MB_NAME_BUF];
    uint64_t limit;
    uint32_t priority;
};

/* A rule assigning a class. Every condition given must hold; the first rule
 * that matches wins, else default_class. The client-given names are what the
 * client claims, so map them only to classes that grant nothing extra, or
 * combine them with uid/gid. */
struct mb_class_rule {
    bool match_uid;
    uint32_t uid;
    bool match_gid;
    uint32_t gid;
    char exe[MB_EXE_NAME_MAX + 1];     /* "" = any */
    char client_name[MB_NAME_BUF];     /* HELLO name; "" = any */
    char requested_class[MB_NAME_BUF]; /* HELLO class; "" = any */
    uint8_t class_index;
};

struct mb_broker_config {
    uint64_t total_pages;          /* configured total, < 2^63 */
    uint32_t page_size;            /* told to clients in WELCOME */
    uint32_t max_clients;          /* 1 .. MB_BROKER_MAX_CLIENTS_LIMIT */
    uint64_t request_timeout_ns;   /* longest wait of a REQUEST; default 500 ms */
    uint64_t query_timeout_ns;     /* deadline of a GIVEBACK; default 200 ms */
    uint32_t missed_deadline_limit; /* disconnect at this many misses; 0 = never */
    uint64_t pressure_reserve_pages; /* pool kept free under MODERATE/CRITICAL */
    uint32_t class_count;          /* 1 .. MB_MAX_CLASSES */
    struct mb_class_config classes[MB_MAX_CLASSES];
    uint32_t rule_count;
    struct mb_class_rule rules[MB_MAX_CLASS_RULES];
    uint8_t default_class;
};

struct mb_broker;

/* One message to send. For STATUS_REPLY the page is built by
 * mb_broker_output_encode; msg then holds only the section and cursor. */
struct mb_broker_output {
    mb_conn_t conn;
    struct mb_msg msg;
};

/* Fills cfg with defaults: total_pages pages of page_size, 64 clients, the
 * timeouts above, no missed-deadline limit, one unlimited class "default". */
void mb_broker_config_defaults(struct mb_broker_config *cfg, uint64_t total_pages,
                               uint32_t page_size);

/* Checks cfg. Returns 0 or -EINVAL (values out of range, a timeout under
 * 1 ms, a rule naming a missing class, a class name empty, too long or
 * repeated). */
int mb_broker_config_check(const struct mb_broker_config *cfg);

/* Allocates every table for cfg. Returns 0 and *out, -EINVAL (bad cfg) or
 * -ENOMEM. `now` starts the clock. */
int mb_broker_create(const struct mb_broker_config *cfg, uint64_t now, struct mb_broker **out);

/* Frees everything; NULL is fine. */
void mb_broker_destroy(struct mb_broker *b);

/* A peer connected. Returns 0 and *conn, or -EMFILE when every slot is in
 * use (the loop then sends an ERROR MB_ERR_TOO_MANY_CLIENTS, see
 * mb_broker_encode_refusal, and closes). */
int mb_broker_connect(struct mb_broker *b, const struct mb_broker_peer *peer, uint64_t now,
                      mb_conn_t *conn);

/* A packet arrived on conn. Malformed packets are answered with an ERROR
 * (PROTOCOL or INVALID, detail = the decode error) and change nothing.
 * Returns 0, or -ENOENT when conn is not a connected slot (a loop bug). */
int mb_broker_receive(struct mb_broker *b, mb_conn_t conn, const uint8_t *pkt, size_t len,
                      uint64_t now);

/* The same for an already decoded message (tests, fuzzing). */
int mb_broker_message(struct mb_broker *b, mb_conn_t conn, const struct mb_msg *msg,
                      uint64_t now);

/* The peer is gone (or the loop closed it). Everything it held returns at
 * once; its pending request is dropped; a query waiting on it is a refusal.
 * Returns 0 or -ENOENT. */
int mb_broker_disconnect(struct mb_broker *b, mb_conn_t conn, uint64_t now);

/* Time passed: expires queries and requests whose deadline is <= now. */
void mb_broker_timer(struct mb_broker *b, uint64_t now);

/* The earliest time the engine needs mb_broker_timer, or UINT64_MAX. */
uint64_t mb_broker_next_deadline(const struct mb_broker *b);

/* The outbox of the last event. */
size_t mb_broker_output_count(const struct mb_broker *b);
const struct mb_broker_output *mb_broker_output_at(const struct mb_broker *b, size_t i);

/* Encodes output i into buf[0..cap) (cap >= MB_PROTO_MAX_MESSAGE always
 * suffices). Returns the packet length or a negative errno. */
int mb_broker_output_encode(const struct mb_broker *b, size_t i, uint8_t *buf, size_t cap);

/* Connections the last event decided to close. */
size_t mb_broker_close_count(const struct mb_broker *b);
mb_conn_t mb_broker_close_at(const struct mb_broker *b, size_t i);

/* The ERROR for a refused connection (cookie 0). Returns the length. */
int mb_broker_encode_refusal(uint8_t *buf, size_t cap);

/* Verifies every book (conservation, class sums, list links, query sums).
 * Returns 0, or -EFAULT with *why (if why != NULL) naming the first broken
 * rule. O(clients). Debug builds (NDEBUG unset) run it after every event and
 * abort on a violation. */
int mb_broker_check(const struct mb_broker *b, const char **why);

/* The pressure level the last PRESSURE set (enum mb_pressure_level). O(1). */
uint8_t mb_broker_pressure(const struct mb_broker *b);

/* Server-wide figures as STATUS reports them. */
void mb_broker_summary(const struct mb_broker *b, struct mb_status_summary *out);

/* One client's status record by conn. Returns 0 or -ENOENT. */
int mb_broker_client_status(const struct mb_broker *b, mb_conn_t conn,
                            struct mb_status_client *out);

/* Fills up to `max` client records of registered clients from slot `cursor`
 * on. Returns how many; *next is the cursor for the following page and
 * *more tells whether registered clients remain past it. */
size_t mb_broker_client_page(const struct mb_broker *b, uint32_t cursor,
                             struct mb_status_client *out, size_t max, uint32_t *next,
                             bool *more);

/* Class record i (0 .. class_count-1). Returns 0 or -ENOENT. */
int mb_broker_class_status(const struct mb_broker *b, size_t i, struct mb_status_class *out);

#endif
