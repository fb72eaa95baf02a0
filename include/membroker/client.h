/* client.h: libmbclient, the client side of membroker.
 *
 * A process asks mbserver for memory quota (pages), holds it as its balance,
 * and returns it when done. Bidirectional clients are also asked by the
 * server to give quota back (GIVEBACK queries); they answer through a
 * callback, run either from their own poll loop (mb_client_get_fd +
 * mb_client_dispatch) or from a helper thread (mb_client_helper_start).
 *
 * Promises:
 * - No heap allocation: the caller owns `struct mb_client` (any storage:
 *   static, stack, inside its own objects) and every call works in it. The
 *   one exception is outside the library: pthread_create (helper thread)
 *   allocates the new thread's TLS inside libc.
 * - Nothing is ever printed. Errors are return values (below).
 * - Any thread may call any function on the same client at any time, except
 *   mb_client_init/mb_client_destroy, which must not race other calls.
 * - Fork-safe: a forked child never touches its parent's connection. Its
 *   first call opens the child's own connection; the child starts with
 *   balance 0 (the parent keeps its quota). The helper thread does not exist
 *   in the child; start it again there if needed.
 * - Reconnect: when the server goes away the next call (or the helper
 *   thread, or mb_client_dispatch) connects again, at most once per backoff
 *   step (MB_CLIENT_BACKOFF_MIN_MS doubling to MB_CLIENT_BACKOFF_MAX_MS; the
 *   first attempt after a working connection is immediate). The new HELLO
 *   re-declares the balance held, so a server restart loses nothing. A
 *   failed first connect is retried the same way: nothing sticks.
 *   A blocking call that finds the server away waits for the next attempt
 *   if it falls within the call's timeout. An attempt, once started, may
 *   take up to MB_CLIENT_CONNECT_TIMEOUT_MS for the HELLO/WELCOME exchange
 *   even if the call's timeout is shorter (only a stuck server takes that
 *   long; a missing one fails at once).
 *
 * Socket path: mb_client_options.socket_path, else the environment variable
 * MEMBROKER_SOCKET (ignored in set-uid/set-gid programs), else
 * MB_CLIENT_DEFAULT_SOCKET.
 *
 * Errors: every int-returning call gives 0 (or a count where documented) on
 * success and a negative value on failure:
 * - a negative errno (-EINVAL bad argument, -ETIMEDOUT the call's timeout
 *   passed, -ENOENT/-ECONNREFUSED no server at the path, -ECONNRESET the
 *   server went away during the call, -EPROTO the server sent something
 *   the protocol does not allow, -ENAMETOOLONG path or name too long,
 *   -EBUSY a REQUEST/RESERVE/RECLAIM is already pending on this client,
 *   -EMFILE too many clients in this process, -EAGAIN no free waiter slot
 *   before the timeout, -EDEADLK dispatch called from a give-back callback);
 * - or a server refusal, MB_CLIENT_ERR(code) = -(MB_CLIENT_ERR_BASE + code)
 *   for the MB_ERR_* codes of membroker/protocol.h (e.g.
 *   MB_CLIENT_ERR(MB_ERR_NOMEM) = -1006). These never collide with errno
 *   values (Linux errno values stay below 200). A connection the server
 *   refuses outright is reported the same way, with the server's reason,
 *   not as -ECONNRESET: MB_CLIENT_ERR(MB_ERR_NOT_PERMITTED) (uid/gid not
 *   in the server's ALLOW_UIDS/ALLOW_GIDS), MB_CLIENT_ERR(
 *   MB_ERR_TOO_MANY_CLIENTS) (server full). Such a refusal ends the call
 *   at once; later calls try again, at most once per backoff step.
 * mb_client_strerror() names either kind.
 *
 * Protocol rules relied on (docs/protocol.md, "Sequencing rules"): every
 * HELLO, REQUEST, RESERVE, CANCEL, RETURN, QUERY and STATUS gets exactly one
 * reply carrying its cookie; a cancelled REQUEST/RESERVE is answered with
 * ERROR CANCELLED (or its GRANT when it completed first), then the CANCEL
 * with OK; GIVEBACK_ANSWER gets no reply.
 *
 * The balance is counted by the library from what happened: + every GRANT
 * (also one that arrives after its caller gave up), - every RETURN sent (+
 * again if the server refuses it), - every give-back answer; WELCOME sets
 * it to what the server accepted.
 */
#ifndef MEMBROKER_CLIENT_H
#define MEMBROKER_CLIENT_H

#include "membroker/protocol.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MB_CLIENT_DEFAULT_SOCKET "/run/membroker/socket"
#define MB_CLIENT_SOCKET_ENV "MEMBROKER_SOCKET"

#define MB_CLIENT_ERR_BASE 1000
#define MB_CLIENT_ERR(code) (-(MB_CLIENT_ERR_BASE + (int)(code)))

/* Timeouts, in milliseconds. */
#define MB_CLIENT_WAIT_FOREVER UINT32_MAX
#define MB_CLIENT_DEFAULT_TIMEOUT_MS 5000u /* plain calls except reserve */
#define MB_CLIENT_CONNECT_TIMEOUT_MS 1000u /* longest HELLO/WELCOME exchange */
#define MB_CLIENT_BACKOFF_MIN_MS 10u
#define MB_CLIENT_BACKOFF_MAX_MS 2000u
/* After a call's timeout the pending request is cancelled; the call waits
 * this long at most (or its own timeout, if shorter) for the final answer so
 * that pages granted at the last moment are reported, not lost. */
#define MB_CLIENT_CANCEL_GRACE_MS 1000u

/* Fixed sizes of the library's tables. */
#define MB_CLIENT_WAITERS 8u          /* calls in flight at once per client */
#define MB_CLIENT_GIVEBACK_QUEUE 16u  /* queries queued for dispatch; more are refused (0) */
#define MB_CLIENT_MAX_PER_PROCESS 64u /* live clients per process (fork tracking) */

/* The caller's storage for one client. Its contents are private. */
#define MB_CLIENT_STORAGE_SIZE 4096u
struct mb_client {
    union {
        unsigned char bytes[MB_CLIENT_STORAGE_SIZE];
        uint64_t align_u64;
        long double align_ld;
        void *align_ptr;
    } opaque;
};

/* A give-back query, as the callback sees it. */
struct mb_client_giveback {
    uint8_t urgency;      /* enum mb_urgency */
    uint64_t pages;       /* wanted by the server */
    uint32_t deadline_ms; /* time left to answer (0: already late) */
    uint64_t balance;     /* this client's balance when the query is handled */
};

/* The give-back callback: free memory, then return how many pages were given
 * back (0 is a valid answer; more than the balance is clamped to it). It runs
 * in the thread calling mb_client_dispatch or in the helper thread, with no
 * library lock held, so it may call other functions of this client (but not
 * mb_client_dispatch). */
typedef uint64_t (*mb_client_giveback_fn)(struct mb_client *client, void *arg,
                                          const struct mb_client_giveback *query);

struct mb_client_options {
    const char *socket_path; /* NULL: MEMBROKER_SOCKET, else the default */
    uint8_t kind;            /* enum mb_client_kind */
    const char *name;        /* shown in status; NULL: "" (<= MB_NAME_MAX bytes) */
    const char *class_name;  /* requested class; NULL: "" (server decides) */
    uint64_t capacity;       /* MB_KIND_SOURCE: pages lent to the pool */
    uint32_t timeout_ms;     /* default timeout of plain calls */
    mb_client_giveback_fn giveback; /* required for bidirectional and source */
    void *giveback_arg;
};

/* What QUERY tells. */
struct mb_client_info {
    uint32_t client_id; /* assigned by the server */
    uint32_t page_size; /* bytes per page, told by the server */
    uint64_t balance;
    uint64_t lent;      /* source clients: capacity lent */
    uint64_t pool;
    uint64_t total;
};

/* Status pages (STATUS). The same figures as the server's STATUS_REPLY. */
#define MB_CLIENT_STATUS_CLIENTS_PER_PAGE 32u
#define MB_CLIENT_STATUS_CLASSES_PER_PAGE 16u

struct mb_client_status_summary {
    uint64_t total, configured_total, pool, gathered, lent, debt;
    uint64_t requests, grants_immediate, requests_timed_out, reserves_failed;
    uint64_t queries_sent, answers_late, answers_bogus, deadlines_missed;
    uint32_t clients, max_clients;
    uint8_t class_count;
    uint8_t pressure; /* enum mb_pressure_level */
};

struct mb_client_status_client {
    uint32_t id, pid, uid, gid;
    uint8_t kind, class_index;
    uint8_t pending_kind; /* enum mb_pending_kind */
    uint32_t queries_outstanding, missed_deadlines, bogus_answers;
    uint64_t balance, lent, pending_pages, pending_gathered, pending_age_ms;
    char name[MB_NAME_MAX + 1];
};

struct mb_client_status_class {
    char name[MB_NAME_MAX + 1];
    uint64_t limit; /* 0: unlimited */
    uint64_t held;
    uint32_t priority;
    uint32_t members;
};

struct mb_client_status_page {
    struct mb_client_status_summary summary;
    uint8_t section; /* enum mb_status_section */
    uint32_t offset; /* the reply's offset: the cursor of the next page */
    uint32_t count;  /* records in this page */
    bool more;       /* records remain: ask again with cursor = offset */
    union {
        struct mb_client_status_client clients[MB_CLIENT_STATUS_CLIENTS_PER_PAGE];
        struct mb_client_status_class classes[MB_CLIENT_STATUS_CLASSES_PER_PAGE];
    } records;
};

/* "0.1.0": the library's version. Never NULL. */
const char *mb_client_version(void);

/* A constant English description of any value this library returns
 * ("success" for 0 and counts, "unknown error" for anything else). */
const char *mb_client_strerror(int err);

/* Defaults: socket from the environment, MB_KIND_SIMPLE, no name, no class,
 * MB_CLIENT_DEFAULT_TIMEOUT_MS, no callback. */
void mb_client_options_init(struct mb_client_options *opts);

/* Prepares c, which must not be a live client. Does not connect (the first
 * call that needs the server does, or mb_client_connect); creates the three
 * close-on-exec descriptors behind mb_client_get_fd. Strings are copied.
 * Returns 0, -EINVAL (bad kind, capacity >= 2^63, capacity for a
 * non-source, bidirectional or source without callback, empty socket
 * path), -ENAMETOOLONG, -EMFILE (MB_CLIENT_MAX_PER_PROCESS reached, or no
 * descriptor left). Does not block. */
int mb_client_init(struct mb_client *c, const struct mb_client_options *opts);

/* Stops the helper thread, closes the connection (the server takes back the
 * balance) and forgets c. Safe on a zeroed or already destroyed client. No
 * other call may run on c meanwhile. Blocks only to join the helper. */
void mb_client_destroy(struct mb_client *c);

/* Connects now if not connected. Returns 0 or the connect error. Blocks up
 * to timeout_ms (plain: the client's default timeout). */
int mb_client_connect(struct mb_client *c);
int mb_client_connect_timeout(struct mb_client *c, uint32_t timeout_ms);

/* REQUEST: asks for up to `pages`; the server may grant fewer, even 0, and
 * answers within its own request timeout. *granted (may be NULL) gets the
 * pages granted, which are added to the balance. Returns 0 or an error
 * (-EINVAL for pages >= 2^63, -EBUSY when a REQUEST/RESERVE/RECLAIM is pending,
 * MB_CLIENT_ERR(MB_ERR_CLASS_LIMIT), -ETIMEDOUT...). After a timeout the
 * request is cancelled; if the server granted it meanwhile the call
 * succeeds. Blocks up to the client's default timeout or timeout_ms. */
int mb_client_request(struct mb_client *c, uint64_t pages, uint64_t *granted);
int mb_client_request_timeout(struct mb_client *c, uint64_t pages, uint64_t *granted,
                              uint32_t timeout_ms);

/* RESERVE: all `pages` or nothing. deadline_ms is the server-side deadline
 * (0: as long as it takes). Returns 0 (the pages are added to the balance),
 * MB_CLIENT_ERR(MB_ERR_NOMEM), MB_CLIENT_ERR(MB_ERR_TIMED_OUT) (server
 * deadline), MB_CLIENT_ERR(MB_ERR_CANCELLED) (mb_client_cancel from another
 * thread), -ETIMEDOUT (the local timeout; the reserve is then cancelled),
 * -ECONNRESET (the server went away while it waited: nothing was granted
 * and the RESERVE is not sent again; the next call reconnects), or another
 * error. The plain form waits MB_CLIENT_WAIT_FOREVER. */
int mb_client_reserve(struct mb_client *c, uint64_t pages, uint32_t deadline_ms);
int mb_client_reserve_timeout(struct mb_client *c, uint64_t pages, uint32_t deadline_ms,
                              uint32_t timeout_ms);

/* CANCEL: cancels the REQUEST/RESERVE/RECLAIM pending on c (normally from another
 * thread than the one waiting in it). Returns 0 when the server accepted
 * the cancel, -ENOENT when nothing is pending, or
 * MB_CLIENT_ERR(MB_ERR_NO_SUCH_REQUEST) when it completed first. */
int mb_client_cancel(struct mb_client *c);
int mb_client_cancel_timeout(struct mb_client *c, uint32_t timeout_ms);

/* RETURN: gives `pages` back. Returns 0, or
 * MB_CLIENT_ERR(MB_ERR_OVER_BALANCE) without sending anything when pages is
 * above the balance (the balance is then unchanged), or another error. The
 * pages leave the balance when sent: if the connection is lost after that,
 * the call still returns 0 (the reconnect declares the balance without
 * them); after -ETIMEDOUT they stay out. */
int mb_client_return(struct mb_client *c, uint64_t pages);
int mb_client_return_timeout(struct mb_client *c, uint64_t pages, uint32_t timeout_ms);

/* RECLAIM (source clients): takes back `pages` of the capacity lent to the
 * pool, all or nothing, as the server finds them (from its pool at once, or
 * by asking other clients to give back at urgent level). deadline_ms is the
 * server-side deadline (0: as long as it takes). Returns 0 when repaid:
 * the capacity lent (mb_client_lent, and what a reconnect's HELLO lends)
 * shrinks by `pages`; the balance does not change. Errors:
 * MB_CLIENT_ERR(MB_ERR_WRONG_KIND) for a client that is not a source and
 * MB_CLIENT_ERR(MB_ERR_OVER_BALANCE) for more than it still lends (both
 * without sending anything), MB_CLIENT_ERR(MB_ERR_NOMEM) (every client
 * asked refused), MB_CLIENT_ERR(MB_ERR_TIMED_OUT) (server deadline),
 * MB_CLIENT_ERR(MB_ERR_CANCELLED) (mb_client_cancel), -EBUSY (a
 * REQUEST/RESERVE/RECLAIM is pending), -ETIMEDOUT (the local timeout; the
 * reclaim is then cancelled), -ECONNRESET (the server went away: nothing
 * was repaid, the reconnect lends the whole capacity again), or another
 * error. The plain form waits MB_CLIENT_WAIT_FOREVER. */
int mb_client_reclaim(struct mb_client *c, uint64_t pages, uint32_t deadline_ms);
int mb_client_reclaim_timeout(struct mb_client *c, uint64_t pages, uint32_t deadline_ms,
                              uint32_t timeout_ms);
/* The capacity a source client lends, as the library counts it: the
 * options' capacity less what RECLAIM repaid. 0 for other kinds. No I/O. */
uint64_t mb_client_lent(struct mb_client *c);

/* QUERY: the balance as the server sees it, pool and total. Returns 0 or an
 * error. */
int mb_client_get_info(struct mb_client *c, struct mb_client_info *out);
int mb_client_get_info_timeout(struct mb_client *c, struct mb_client_info *out,
                               uint32_t timeout_ms);

/* STATUS: one page of `section` (enum mb_status_section). `cursor` is 0 for
 * the first page, then the previous page's `offset` while `more` is set
 * (a position in the server's table, not a record count). Returns 0 or an
 * error. */
int mb_client_status_page(struct mb_client *c, uint8_t section, uint32_t cursor,
                          struct mb_client_status_page *out);
int mb_client_status_page_timeout(struct mb_client *c, uint8_t section, uint32_t cursor,
                                  struct mb_client_status_page *out, uint32_t timeout_ms);

/* The balance this client holds, as the library counts it. No I/O. */
uint64_t mb_client_balance(struct mb_client *c);

/* The server's page size, 0 before the first connection. No I/O. */
uint32_t mb_client_page_size(struct mb_client *c);

/* Byte conveniences: bytes are rounded up to whole pages of the server's
 * page size (connecting first if needed), so returning the byte count that
 * was requested returns the same pages. request_bytes stores the granted
 * amount in bytes (pages * page size) in *granted_bytes. Return values,
 * blocking and default timeouts are those of the page calls; -EINVAL when
 * the pages would reach 2^63. */
int mb_client_request_bytes(struct mb_client *c, uint64_t bytes, uint64_t *granted_bytes);
int mb_client_request_bytes_timeout(struct mb_client *c, uint64_t bytes,
                                    uint64_t *granted_bytes, uint32_t timeout_ms);
int mb_client_reserve_bytes(struct mb_client *c, uint64_t bytes, uint32_t deadline_ms);
int mb_client_reserve_bytes_timeout(struct mb_client *c, uint64_t bytes, uint32_t deadline_ms,
                                    uint32_t timeout_ms);
int mb_client_return_bytes(struct mb_client *c, uint64_t bytes);
int mb_client_return_bytes_timeout(struct mb_client *c, uint64_t bytes, uint32_t timeout_ms);
/* Pages for `bytes`, rounded up. Connects first (default timeout) when the
 * page size is not known yet. */
int mb_client_pages_for_bytes(struct mb_client *c, uint64_t bytes, uint64_t *pages);

/* Bidirectional clients, own poll loop: a descriptor that polls readable
 * (POLLIN) whenever mb_client_dispatch has work (a message from the server,
 * a query another thread queued, a reconnect due; while another thread
 * waiting for a reply holds the socket, it can poll readable briefly with
 * nothing to dispatch). Its number stays the same
 * for the life of c, across reconnects (a forked child gets its own after
 * its first call). Do not read it or close it. Returns the fd, or -EINVAL
 * for a client not initialised. Makes one connect attempt if one is due (a
 * failed connect still returns the fd: it wakes the loop at the next
 * attempt). */
int mb_client_get_fd(struct mb_client *c);

/* Handles what is pending without waiting: reads the server's messages,
 * runs the callback for each queued GIVEBACK and sends the answers
 * (decrementing the balance), reconnects when due (a reconnect may block up
 * to MB_CLIENT_CONNECT_TIMEOUT_MS on a stuck server). Returns the number of
 * queries answered, -EDEADLK from inside a callback, or -ENOTCONN when the
 * server is away (the fd then wakes the loop at the next attempt). */
int mb_client_dispatch(struct mb_client *c);

/* Bidirectional clients without a loop: a thread that waits on the fd and
 * dispatches. Returns 0, -EALREADY, -EINVAL (no callback) or the
 * pthread_create error (negative). stop joins it; 0 or -ESRCH. */
int mb_client_helper_start(struct mb_client *c);
int mb_client_helper_stop(struct mb_client *c);

/* PRESSURE: tells the server the kernel's memory pressure (enum
 * mb_pressure_level), as mbwatch does. Only a connection the server trusts
 * (uid 0 or its PRIVILEGED_UIDS) may send it; others get
 * MB_CLIENT_ERR(MB_ERR_NOT_PERMITTED). Any kind of client may send it (a
 * watcher is a simple client holding nothing). Returns 0 when the server
 * accepted the level, -EINVAL for a level >= MB_PRESSURE_COUNT, or another
 * error. Blocks up to the client's default timeout or timeout_ms. */
int mb_client_pressure(struct mb_client *c, uint8_t level);
int mb_client_pressure_timeout(struct mb_client *c, uint8_t level, uint32_t timeout_ms);

#ifdef __cplusplus
}
#endif

#endif
