/* compat.h: the original membroker client API (Lexmark, 2013), so existing
 * clients recompile unchanged against libmbclient.
 *
 * Same names, signatures and meanings, on the new protocol and without the
 * original's defects:
 * - identity comes from the server: the `id` of mb_client_register is
 *   accepted and ignored (it only makes a repeated registration with the
 *   same id return the same handle, as before);
 * - negative amounts are rejected with MB_BAD_PARAM, never sent;
 * - thread-safe, fork-safe (a forked child's first call registers the
 *   child anew, with balance 0), never prints, no heap (handles live in a
 *   static table of MB_COMPAT_MAX_HANDLES);
 * - a failed connect is retried by the next call: mb_register keeps the
 *   registration and returns MB_IO; every later call tries again.
 * - bidirectional clients may also use request/reserve (the original
 *   refused with MB_BAD_CLIENT_TYPE because its synchronous calls could
 *   swallow the server's queries; ours cannot).
 *
 * Give-back: the original handed raw messages to the application
 * (mb_receive/mb_send). Those are replaced by a callback: register it with
 * mb_set_giveback_callback (before or after mb_register); when the fd that
 * mb_register returned polls readable, call mb_dispatch(), which calls the
 * callback with the pages wanted and whether it is urgent, and answers the
 * server with the pages the callback returns. Without a callback every
 * query is answered 0.
 *
 * Amounts above INT_MAX are reported as INT_MAX.
 */
#ifndef MEMBROKER_COMPAT_H
#define MEMBROKER_COMPAT_H

#ifdef __cplusplus
extern "C" {
#endif

#define MB_COMPAT_MAX_HANDLES 8

typedef void *MbClientHandle;

/* The original's error values. */
typedef enum {
    MB_SUCCESS = 0,
    MB_OUT_OF_MEMORY = -1,   /* no free handle slot */
    MB_BAD_CLIENT_TYPE = -2, /* registered again with other parameters */
    MB_IO = -3,              /* the server cannot be reached */
    MB_BAD_ID = -4,          /* not registered, or an unknown handle */
    MB_BAD_CODE = -5,        /* the server refused in an unexpected way */
    MB_BAD_PARAM = -6,       /* a negative amount */
} MbError;

/* Returns pages given back (0 .. pages). is_urgent: the server needs it for
 * an all-or-nothing reservation. */
typedef int (*MbGivebackCallback)(int pages, int is_urgent, void *arg);

/* The process-wide client. mb_register returns the fd to poll for a
 * bidirectional client, 0 for a simple one, or an MbError. */
int mb_register(int is_bidi);
int mb_register_source(int pages);
/* Pages granted (0 .. pages) or an MbError. */
int mb_request_pages(int pages);
/* pages, or 0 when the server could not find them all, or an MbError. */
int mb_reserve_pages(int pages);
/* 0 or an MbError. Returns at most what is held (as the original). */
int mb_return_pages(int pages);
/* Closes the connection; the server takes back the balance. 0 or MB_BAD_ID. */
int mb_terminate(void);
/* Balance, the server's pool, the server's total (or an MbError). */
int mb_query(void);
int mb_query_server(void);
int mb_query_total(void);
/* Asks the server for its status (the original printed it on the server's
 * stdout; this checks that the server answers). 0 or an MbError. */
int mb_status(void);
int mb_set_giveback_callback(MbGivebackCallback fn, void *arg);
/* Answers pending queries. Returns how many, or an MbError. */
int mb_dispatch(void);

/* Handle forms. */
MbClientHandle mb_client_register(int id, int is_bidi);
MbClientHandle mb_client_register_source(int id, int pages);
int mb_client_request_pages(MbClientHandle client, int pages);
int mb_client_reserve_pages(MbClientHandle client, int pages);
int mb_client_return_pages(MbClientHandle client, int pages);
int mb_client_terminate(MbClientHandle client);
int mb_client_query(MbClientHandle client);
int mb_client_query_server(MbClientHandle client);
int mb_client_query_total(MbClientHandle client);
int mb_client_status(MbClientHandle client);
/* The fd to poll for a bidirectional client, 0 for a simple one, -1 for an
 * unknown handle. (The new API's equivalent is mb_client_get_fd.) */
int mb_client_fd(MbClientHandle client);
int mb_client_id(MbClientHandle client);
int mb_client_is_bidi(MbClientHandle client);
int mb_client_set_giveback_callback(MbClientHandle client, MbGivebackCallback fn, void *arg);
int mb_client_dispatch_handle(MbClientHandle client);

#ifdef __cplusplus
}
#endif

#endif
