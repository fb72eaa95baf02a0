/* client_internal.h: the state inside struct mb_client, shared by the files
 * of src/client. Nothing outside src/client includes this.
 *
 * Locking: one mutex per client guards every field below. Blocking I/O
 * happens without it, except the HELLO/WELCOME exchange of a connect (at
 * most MB_CLIENT_CONNECT_TIMEOUT_MS), which holds it so that no call can
 * slip a message in before WELCOME.
 *
 * Reading: at most one thread reads the socket at a time (`reader_busy`).
 * It is whichever caller waits for a reply (or the dispatcher): it routes
 * each reply to the waiter slot holding its cookie and queues GIVEBACK
 * queries; when it has its own reply it leaves and wakes the others, one of
 * which takes over.
 *
 * Descriptors: `poll_fd` is an epoll set whose number never changes; it
 * holds the socket while connected, `notify_fd` (an eventfd raised when a
 * query is queued) and `timer_fd` (armed for the next reconnect while
 * disconnected). The application polls poll_fd (mb_client_get_fd).
 */
#ifndef MB_CLIENT_INTERNAL_H
#define MB_CLIENT_INTERNAL_H

#include "membroker/client.h"
#include "proto/codec.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SOCKET_PATH_MAX 108u /* sizeof(sockaddr_un.sun_path) */

struct waiter {
    bool in_use;
    bool done;
    uint32_t cookie;
    uint8_t sent_type;     /* what was sent, to undo a refused RETURN */
    uint64_t sent_pages;
    int result;            /* 0, or an error when done without a reply */
    struct mb_msg reply;
    uint8_t *status_buf;   /* STATUS: where the raw page goes */
    size_t status_len;
    pthread_cond_t cond;
};

struct queued_giveback {
    uint32_t cookie;
    uint8_t urgency;
    uint32_t deadline_ms;
    uint64_t pages;
    uint64_t received_ns;
    uint32_t generation;   /* connection it came on */
};

struct client_state {
    uint32_t magic;
    pthread_mutex_t lock;
    pid_t owner_pid;

    /* Configuration (copied at init). */
    char socket_path[SOCKET_PATH_MAX];
    char name[MB_NAME_BUF];
    char class_name[MB_NAME_BUF];
    uint8_t kind;
    uint64_t capacity;  /* source: lent now (HELLO re-lends it); RECLAIM shrinks it */
    uint32_t default_timeout_ms;
    mb_client_giveback_fn giveback;
    void *giveback_arg;
    struct mb_client *public_handle;

    /* Connection. */
    int sock;           /* -1 while disconnected */
    int poll_fd;
    int notify_fd;
    int timer_fd;
    bool connected;
    uint32_t generation;  /* grows by one per connection */
    bool ever_connected;
    int last_connect_error;
    uint64_t next_attempt_ns; /* 0: attempt at once */
    uint32_t backoff_ms;      /* the step after the next failure */
    uint32_t client_id;
    uint32_t page_size;
    uint64_t total;

    /* Books. */
    uint64_t balance;
    uint64_t lent;

    /* Request/reply matching. */
    uint32_t next_cookie;
    bool reader_busy;
    bool pending;          /* a REQUEST/RESERVE/RECLAIM is outstanding */
    uint32_t pending_cookie;
    uint32_t reclaim_cookie; /* the RECLAIM whose GRANT repays capacity (0: none) */
    struct waiter waiters[MB_CLIENT_WAITERS];
    pthread_cond_t slot_free;
    pthread_cond_t reader_cond; /* broadcast each time a reader has read */

    /* Give-back. */
    struct queued_giveback queue[MB_CLIENT_GIVEBACK_QUEUE];
    uint32_t queue_head;
    uint32_t queue_count;
    bool dispatching;
    pthread_t dispatch_thread;
    bool helper_running;
    bool helper_stop;
    pthread_t helper;
};

#define CLIENT_MAGIC 0x6d62636cu /* "mbcl" */

static inline struct client_state *client_state_of(struct mb_client *c)
{
    return (struct client_state *)(void *)c->opaque.bytes;
}

/* The state of an initialised client, or NULL (c NULL or not initialised). */
static inline struct client_state *client_valid(struct mb_client *c)
{
    if (c == NULL)
        return NULL;
    struct client_state *s = client_state_of(c);
    return s->magic == CLIENT_MAGIC ? s : NULL;
}

/* ---- clock (CLOCK_MONOTONIC, ns) ---- */
uint64_t mb_cl_client_now_ns(void);
/* now + ms, or UINT64_MAX for MB_CLIENT_WAIT_FOREVER. */
uint64_t mb_cl_client_deadline_after(uint32_t timeout_ms);

/* Waits for `events` on fd until deadline_ns. Returns 0, -ETIMEDOUT or a
 * negative errno. Call without the lock. */
int mb_cl_conn_wait_fd(int fd, short events, uint64_t deadline_ns);

/* ---- registry.c: fork safety ---- */
int mb_cl_registry_add(struct client_state *s);
void mb_cl_registry_remove(struct client_state *s);
/* Locks s; in a forked child first makes s the child's own (fresh locks,
 * no connection, balance 0). Every entry point starts with this. */
void mb_cl_client_lock(struct client_state *s);
void mb_cl_client_unlock(struct client_state *s);
/* Re-creates every lock and drops every inherited descriptor of s. */
void mb_cl_client_reset_after_fork(struct client_state *s);

/* ---- connection.c ---- */
/* Creates poll_fd, notify_fd and timer_fd (not yet watched). Returns 0 or
 * a negative errno (nothing left open). */
int mb_cl_conn_open_fds(struct client_state *s);
/* Adds notify_fd and timer_fd to the epoll set. */
void mb_cl_conn_watch_fds(struct client_state *s);
void mb_cl_conn_close_fds(struct client_state *s);
/* Connects (lock held) if not connected, waiting for the backoff if it ends
 * before `deadline_ns`. Returns 0 or the connect error. */
int mb_cl_conn_ensure(struct client_state *s, uint64_t deadline_ns);
/* One attempt if one is due (lock held; the handshake may take up to
 * MB_CLIENT_CONNECT_TIMEOUT_MS). Returns 0 or the last connect error. */
int mb_cl_conn_try(struct client_state *s);
/* The server went away: forget the socket, fail every waiter with
 * -ECONNRESET, arm the reconnect timer. Lock held. */
void mb_cl_conn_lost(struct client_state *s);
/* Sends one message (lock held). Returns 0, -ECONNRESET (then mb_cl_conn_lost
 * has run) or another negative errno. */
int mb_cl_conn_send(struct client_state *s, const struct mb_msg *msg);
/* Clears the reconnect timer's expiry count. Lock held. */
void mb_cl_conn_timer_drain(struct client_state *s);

/* ---- mb_cl_transact.c ---- */
/* Sends msg with a fresh cookie and waits for its reply (lock held on entry
 * and exit; released while waiting). status_buf, when not NULL, receives
 * the raw STATUS_REPLY page. If cancel_on_timeout, a timeout sends CANCEL
 * and waits up to MB_CLIENT_CANCEL_GRACE_MS for the final reply. Returns 0
 * with *reply, or a negative error. */
int mb_cl_transact(struct client_state *s, struct mb_msg *msg, struct mb_msg *reply,
             uint8_t *status_buf, uint64_t deadline_ns, bool cancel_on_timeout);
/* Reads every packet available now, without blocking, if no other thread
 * is reading (lock held). Returns 0 or -ECONNRESET. */
int mb_cl_reader_drain(struct client_state *s);
/* Routes one packet from the server (lock held). */
void mb_cl_route_packet(struct client_state *s, const uint8_t *pkt, size_t len);
/* Fails every waiter with err and wakes them (lock held). */
void mb_cl_waiters_fail_all(struct client_state *s, int err);
void mb_cl_waiters_wake_all(struct client_state *s);
/* Waits on cond until deadline_ns (UINT64_MAX: no deadline), lock held. */
void mb_cl_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *lock, uint64_t deadline_ns);
uint32_t mb_cl_cookie_next(struct client_state *s);
/* Converts an ERROR reply to the library's error value. */
int mb_cl_error_from_reply(const struct mb_msg *reply);

/* ---- giveback.c ---- */
/* Queues a GIVEBACK query (lock held); refuses it (answers 0) when the
 * queue is full or the client has no callback. */
void mb_cl_giveback_enqueue(struct client_state *s, const struct mb_msg *msg);
void mb_cl_giveback_reset(struct client_state *s);

#endif
