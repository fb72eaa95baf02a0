/* watch_broker.h: mbwatch's connection to mbserver. A simple client that
 * holds nothing and sends PRESSURE; libmbclient reconnects with backoff
 * when the broker restarts, and this layer tells the daemon when the level
 * must be sent again (a restarted broker starts at NONE).
 *
 * The daemon polls mbw_broker_fd for POLLIN and calls mbw_broker_dispatch;
 * no call allocates. */
#ifndef MB_WATCH_WATCH_BROKER_H
#define MB_WATCH_WATCH_BROKER_H

#include "membroker/client.h"

#include <stdbool.h>
#include <stdint.h>

struct mbw_broker {
    struct mb_client client;
    bool initialised;
    bool up;              /* connected as far as we know */
    int fd;               /* mb_client_get_fd, the same for the client's life */
    uint32_t timeout_ms;  /* per PRESSURE */
    uint64_t sent, refused, failed, reconnects;
};

/* Prepares the client ("mbwatch", simple) for socket_path (NULL or "":
 * MEMBROKER_SOCKET, else the default) and makes one connect attempt
 * (timeout_ms at most). Returns 0 (also when the broker is not there yet:
 * see up) or the mb_client_init error. */
int mbw_broker_init(struct mbw_broker *b, const char *socket_path, uint32_t timeout_ms);

/* The fd to poll for POLLIN (stable for the client's life), or -1. */
int mbw_broker_fd(struct mbw_broker *b);

/* Handles the fd being readable: reads what the broker sent, reconnects when
 * due. Returns 1 when the connection came (back) up (the caller must send
 * its level again), -ENOTCONN when it is (still) down, else 0. Blocks only
 * for a reconnect handshake (MB_CLIENT_CONNECT_TIMEOUT_MS at most). */
int mbw_broker_dispatch(struct mbw_broker *b);

/* Sends PRESSURE level and waits for the answer (timeout_ms at most).
 * Returns 0 when accepted, MB_CLIENT_ERR(MB_ERR_NOT_PERMITTED) when the
 * broker does not trust us, or another error (then up is false). */
int mbw_broker_send(struct mbw_broker *b, uint8_t level);

/* Disconnects and forgets. Safe on a zeroed struct. */
void mbw_broker_destroy(struct mbw_broker *b);

#endif
