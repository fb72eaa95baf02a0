/* server.h: mbserver's event loop: sockets, signals and timers around the
 * decision engine (broker.h).
 *
 * The loop only does I/O. It accepts connections (identity from
 * SO_PEERCRED), feeds every packet, hang-up and timer expiry to the engine,
 * and sends what the engine's outbox holds. It never blocks on one client:
 * sockets are non-blocking, each connection has a small queue of encoded
 * messages for when its socket is full, and a client that lets that queue
 * overflow (it stopped reading) is disconnected, which returns its quota.
 * Nothing here allocates after mb_server_create.
 */
#ifndef MB_BROKER_SERVER_H
#define MB_BROKER_SERVER_H

#include "broker/broker.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MB_SERVER_MAX_ID_LIST 32u

struct mb_server_options {
    struct mb_broker_config broker;
    const char *socket_path;  /* bound unless listen_fd >= 0 */
    unsigned socket_mode;     /* e.g. 0660 */
    gid_t socket_group;       /* (gid_t)-1: the server's own */
    int listen_fd;            /* a listening socket from systemd, or -1 */
    /* Peers allowed to register; both lists empty: anyone who can open the
     * socket. A peer is allowed when its uid or its gid is listed. uid 0 is
     * always allowed. */
    uint32_t allow_uids[MB_SERVER_MAX_ID_LIST];
    size_t allow_uid_count;
    uint32_t allow_gids[MB_SERVER_MAX_ID_LIST];
    size_t allow_gid_count;
    /* Peers that may send PRESSURE (besides uid 0). */
    uint32_t privileged_uids[MB_SERVER_MAX_ID_LIST];
    size_t privileged_uid_count;
    uint32_t send_queue_depth;   /* messages queued per connection, >= 1 */
    uint32_t packets_per_wakeup; /* fairness: packets read from one peer per turn */
    const char *notify_socket;   /* NOTIFY_SOCKET, or NULL */
};

/* Fills opts with defaults around a broker config (see mb_broker_config_defaults). */
void mb_server_options_defaults(struct mb_server_options *opts, uint64_t total_pages,
                                uint32_t page_size);

struct mb_server;

/* Creates the engine, the listening socket (unless given), epoll, signalfd
 * (SIGTERM, SIGINT, SIGHUP; the caller must have blocked them, see
 * mb_server_block_signals) and timerfd. Returns 0, or a negative errno; the
 * log says what failed. */
int mb_server_create(const struct mb_server_options *opts, struct mb_server **out);

/* Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (so signalfd gets
 * them) and ignores SIGPIPE. Returns 0 or a negative errno. */
int mb_server_block_signals(void);

/* Serves until SIGTERM or SIGINT (returns 0) or a fatal error (negative
 * errno). Blocks. */
int mb_server_run(struct mb_server *s);

/* Closes everything; removes the socket file when the server made it. */
void mb_server_destroy(struct mb_server *s);

/* The engine, for tests and status. */
const struct mb_broker *mb_server_broker(const struct mb_server *s);

#endif
