/* broker_link.h: trackfs as a membroker client. A bidirectional client
 * named "trackfs" whose balance is the quota the filesystem holds; the
 * broker's give-back queries are answered from unused slack. */
#ifndef TRACKFS_BROKER_LINK_H
#define TRACKFS_BROKER_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "membroker/client.h"
#include "trackfs/options.h"
#include "trackfs/quota.h"

struct tfs_broker_link {
    struct mb_client client;
    struct tfs_quota *quota; /* answers give-backs; set before helper start */
    uint32_t stall_ms;
    enum tfs_urgency urgency;
    bool mounting; /* acquire with a long RESERVE (mount-time reservation) */
};

/* Connects to the broker at socket_path ("" : MEMBROKER_SOCKET, else the
 * default) as a bidirectional client "trackfs". Returns 0 or the client
 * library's error (mb_client_strerror names it). Blocks up to 2 s. */
int tfs_broker_link_init(struct tfs_broker_link *link, const char *socket_path,
                         uint32_t stall_ms, enum tfs_urgency urgency);

/* Starts answering give-back queries from `quota` (a helper thread).
 * Returns 0 or a negative errno. */
int tfs_broker_link_start(struct tfs_broker_link *link, struct tfs_quota *quota);

/* The quota source that asks this broker (REQUEST or RESERVE bounded by
 * stall_ms; a long RESERVE while link->mounting). */
void tfs_broker_link_source(struct tfs_broker_link *link, struct tfs_quota_source *out);

/* The broker's pool in pages (for statfs), 0 when it cannot tell within
 * 100 ms. May block that long. */
uint64_t tfs_broker_link_pool(struct tfs_broker_link *link);

/* Stops the helper and disconnects (the broker takes back the balance). */
void tfs_broker_link_destroy(struct tfs_broker_link *link);

#endif
