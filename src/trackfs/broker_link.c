/* broker_link.c: the quota source and give-back answers over libmbclient. */
#include "trackfs/broker_link.h"

#include <errno.h>
#include <string.h>

/* How long the mount-time RESERVE may wait for clients to give back. */
#define MOUNT_RESERVE_MS 5000u

static uint64_t answer_giveback(struct mb_client *c, void *arg,
                                const struct mb_client_giveback *query)
{
    (void)c;
    struct tfs_broker_link *link = arg;
    if (link->quota == NULL)
        return 0;
    return tfs_quota_giveback(link->quota, query->pages);
}

int tfs_broker_link_init(struct tfs_broker_link *link, const char *socket_path,
                         uint32_t stall_ms, enum tfs_urgency urgency)
{
    memset(link, 0, sizeof *link);
    link->stall_ms = stall_ms;
    link->urgency = urgency;
    struct mb_client_options opts;
    mb_client_options_init(&opts);
    if (socket_path != NULL && socket_path[0] != '\0')
        opts.socket_path = socket_path;
    opts.kind = MB_KIND_BIDIRECTIONAL;
    opts.name = "trackfs";
    opts.giveback = answer_giveback;
    opts.giveback_arg = link;
    int rc = mb_client_init(&link->client, &opts);
    if (rc < 0)
        return rc;
    rc = mb_client_connect_timeout(&link->client, 2000);
    if (rc < 0)
        mb_client_destroy(&link->client);
    return rc;
}

int tfs_broker_link_start(struct tfs_broker_link *link, struct tfs_quota *quota)
{
    link->quota = quota;
    return mb_client_helper_start(&link->client);
}

static int broker_acquire(void *arg, uint64_t pages, uint64_t *granted)
{
    struct tfs_broker_link *link = arg;
    *granted = 0;
    int rc;
    if (link->mounting) {
        rc = mb_client_reserve_timeout(&link->client, pages, MOUNT_RESERVE_MS,
                                       MOUNT_RESERVE_MS + MB_CLIENT_CANCEL_GRACE_MS);
        if (rc == 0)
            *granted = pages;
    } else if (link->urgency == TFS_URGENCY_RESERVE) {
        uint32_t deadline = link->stall_ms > 0 ? link->stall_ms : 1;
        rc = mb_client_reserve_timeout(&link->client, pages, deadline,
                                       deadline + MB_CLIENT_CANCEL_GRACE_MS);
        if (rc == 0)
            *granted = pages;
    } else {
        rc = mb_client_request_timeout(&link->client, pages, granted,
                                       link->stall_ms > 0 ? link->stall_ms : 1);
    }
    return rc < 0 ? -ENOSPC : 0;
}

static int broker_release(void *arg, uint64_t pages)
{
    struct tfs_broker_link *link = arg;
    int rc = mb_client_return(&link->client, pages);
    /* Once sent the pages are gone even if the reply is lost; only a
     * refusal before sending leaves them held. */
    return rc == MB_CLIENT_ERR(MB_ERR_OVER_BALANCE) ? -EINVAL : 0;
}

void tfs_broker_link_source(struct tfs_broker_link *link, struct tfs_quota_source *out)
{
    out->acquire = broker_acquire;
    out->release = broker_release;
    out->arg = link;
}

uint64_t tfs_broker_link_pool(struct tfs_broker_link *link)
{
    struct mb_client_info info;
    if (mb_client_get_info_timeout(&link->client, &info, 100) < 0)
        return 0;
    return info.pool;
}

void tfs_broker_link_destroy(struct tfs_broker_link *link)
{
    mb_client_helper_stop(&link->client);
    mb_client_destroy(&link->client);
}
