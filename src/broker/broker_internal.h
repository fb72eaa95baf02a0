/* broker_internal.h: the engine's records, shared by the files of src/broker
 * that implement broker.h. Nothing outside src/broker includes this.
 *
 * Every client slot is one fixed-size record; a client has at most one
 * pending request and at most one outstanding give-back query, so both live
 * in its record and the engine's queues are intrusive lists threaded
 * through the slot array (indices, not pointers).
 */
#ifndef MB_BROKER_INTERNAL_H
#define MB_BROKER_INTERNAL_H

#include "broker/broker.h"

enum slot_state {
    SLOT_FREE = 0,
    SLOT_CONNECTED, /* no HELLO yet */
    SLOT_ACTIVE,    /* welcomed */
    SLOT_CLOSING,   /* the engine dropped it; waiting for mb_broker_disconnect */
};

/* The engine's lists; each client record has one link per list. */
enum list_id {
    LIST_FIFO = 0,  /* pending requests, arrival order: who gets returned pages */
    LIST_TIMED,     /* pending requests with a deadline, earliest first */
    LIST_QUERIES,   /* outstanding give-back queries, earliest deadline first */
    LIST_FREE,      /* free slots */
    LIST_COUNT
};

#define IDX_NONE UINT32_MAX

struct link {
    uint32_t prev, next;
};

struct list {
    uint32_t head, tail;
    uint32_t count;
};

enum query_state {
    QUERY_NONE = 0,
    QUERY_OUTSTANDING,
};

struct client {
    uint8_t state; /* enum slot_state */
    uint8_t kind;  /* enum mb_client_kind */
    uint8_t class_index;
    bool privileged;
    uint32_t id;
    uint32_t pid, uid, gid;
    char exe[MB_EXE_NAME_MAX + 1];
    char name[MB_NAME_BUF];
    uint64_t balance;
    uint64_t lent; /* source capacity still lent */

    /* The pending request (pending_kind != MB_PENDING_NONE). */
    uint8_t pending_kind;
    uint8_t pending_urgency;
    uint32_t pending_cookie;
    uint64_t wanted;
    uint64_t gathered;
    uint64_t class_charge; /* class room held while pending */
    uint64_t started_ns;
    uint64_t deadline_ns;  /* UINT64_MAX: none */
    uint64_t start_seq;    /* query_seq when it started: who was asked since */

    /* The outstanding give-back query. */
    uint8_t query_state;
    uint8_t query_urgency;
    bool late_valid;       /* late_cookie may still be answered */
    uint32_t query_cookie;
    uint32_t late_cookie;
    uint64_t query_pages;
    uint64_t query_deadline_ns;
    uint64_t last_asked_seq;  /* seq of the last query of any urgency */
    uint64_t last_urgent_seq; /* seq of the last urgent query */

    uint32_t missed_deadlines;
    uint32_t bogus_answers;

    struct link links[LIST_COUNT];
};

struct class_books {
    uint64_t held;    /* sum of members' balances */
    uint64_t pending; /* sum of members' class_charge */
    uint32_t members;
};

struct mb_broker {
    struct mb_broker_config cfg;
    uint64_t now;

    struct client *clients;
    uint32_t max_clients;
    uint32_t connected; /* slots not free */
    uint32_t next_client_id;
    struct list lists[LIST_COUNT];

    /* Books. */
    uint64_t total;
    uint64_t pool;
    uint64_t gathered;
    uint64_t lent;
    uint64_t debt;
    uint64_t asked_pages; /* sum of outstanding queries' pages */
    struct class_books classes[MB_MAX_CLASSES];

    /* Give-back bookkeeping. */
    uint64_t query_seq;      /* grows by one per query sent */
    uint64_t debt_seq;       /* start of the current debt collection round */
    uint64_t debt_retry_ns;  /* when to start a new round; UINT64_MAX: none */
    uint8_t pressure;        /* enum mb_pressure_level */
    uint64_t pressure_seq;
    bool replan;             /* something changed that may need queries */
    uint32_t *candidates;    /* scratch: give-back candidates in policy order */

    struct mb_status_summary counters; /* the counter fields only */

    /* Output of the current event. */
    struct mb_broker_output *outbox;
    size_t out_count, out_cap;
    mb_conn_t *closing;
    size_t close_count;
};

/* ---- client_table.c ---- */
void table_init(struct mb_broker *b);
struct client *table_get(struct mb_broker *b, mb_conn_t conn);
uint32_t table_index(const struct mb_broker *b, const struct client *c);
uint32_t table_alloc(struct mb_broker *b);
void table_release(struct mb_broker *b, uint32_t idx);
void list_push_back(struct mb_broker *b, enum list_id l, uint32_t idx);
/* Inserts keeping the list sorted by key (ties after equals). Walks from
 * the tail: O(1) when keys arrive in order, as timeouts of one length do. */
void list_insert_sorted(struct mb_broker *b, enum list_id l, uint32_t idx, uint64_t key,
                        uint64_t (*key_of)(const struct client *));
void list_remove(struct mb_broker *b, enum list_id l, uint32_t idx);
bool list_linked(const struct mb_broker *b, enum list_id l, uint32_t idx);

/* ---- broker.c: output ---- */
void out_push(struct mb_broker *b, uint32_t idx, const struct mb_msg *msg);
void out_error(struct mb_broker *b, uint32_t idx, uint32_t cookie, uint32_t code,
               uint32_t detail);
void out_grant(struct mb_broker *b, uint32_t idx, uint32_t cookie, uint64_t pages);
void out_ok(struct mb_broker *b, uint32_t idx, uint32_t cookie);

/* ---- request_queue.c: pending requests and where returned pages go ---- */
uint64_t pool_available(const struct mb_broker *b);
void pages_arrive(struct mb_broker *b, uint64_t pages);
void withdraw_pages(struct mb_broker *b, uint64_t pages);
void settle(struct mb_broker *b);
void pending_start(struct mb_broker *b, uint32_t idx, uint8_t kind, uint32_t cookie,
                   uint64_t pages, uint64_t deadline_ns);
void pending_finish(struct mb_broker *b, uint32_t idx, bool success, uint32_t error_code);
void pending_drop(struct mb_broker *b, uint32_t idx);
void pending_expire(struct mb_broker *b);
uint64_t pending_next_deadline(const struct mb_broker *b);

/* ---- giveback.c: queries ---- */
void giveback_plan(struct mb_broker *b);
void giveback_answer(struct mb_broker *b, uint32_t idx, uint32_t cookie, uint64_t pages);
void giveback_forget(struct mb_broker *b, uint32_t idx);
void giveback_expire(struct mb_broker *b);
uint64_t giveback_next_deadline(const struct mb_broker *b);

/* ---- classes.c ---- */
uint8_t class_select(const struct mb_broker_config *cfg, const struct client *c,
                     const char *requested_class);
uint64_t class_room(const struct mb_broker *b, const struct client *c);
void class_hold(struct mb_broker *b, const struct client *c, uint64_t pages);
void class_release(struct mb_broker *b, const struct client *c, uint64_t pages);

/* ---- broker.c: dropping a client ---- */
void client_release_quota(struct mb_broker *b, uint32_t idx);
void client_drop(struct mb_broker *b, uint32_t idx, uint32_t error_code);

/* ---- messages.c ---- */
void handle_message(struct mb_broker *b, uint32_t idx, const struct mb_msg *msg);

/* ---- status.c: builds the STATUS_REPLY page asked for by req ---- */
int status_encode(const struct mb_broker *b, const struct mb_msg *req, uint8_t *buf, size_t cap);

#endif
