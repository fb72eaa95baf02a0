/* status_format.h: the broker's books as mbctl shows them (table, JSON).
 * Fetching walks every status page; printing is a pure function of the
 * fetched data, so its exact text is unit-tested. */
#ifndef MB_TOOLS_STATUS_FORMAT_H
#define MB_TOOLS_STATUS_FORMAT_H

#include "membroker/client.h"
#include "tools/trackfs_status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Clients shown at most; past that the status says how many were left out. */
#define MBCTL_STATUS_MAX_CLIENTS 4096u

struct mbctl_status {
    uint32_t page_size;
    struct mb_client_status_summary summary;
    size_t class_count;
    struct mb_client_status_class classes[MB_CLIENT_STATUS_CLASSES_PER_PAGE * 4];
    size_t client_count;
    bool clients_truncated;
    struct mb_client_status_client clients[MBCTL_STATUS_MAX_CLIENTS];
    /* trackfs mounts among the clients, with their own figures: filled by
     * mbctl_trackfs_collect (not by the fetch); printed when not empty. */
    struct mbctl_trackfs_list trackfs;
};

/* Reads every page of both sections. Returns 0 or a libmbclient error. Blocks
 * up to timeout_ms per page. */
int mbctl_status_fetch(struct mb_client *c, struct mbctl_status *st, uint32_t timeout_ms);

/* The human table and the JSON document (one object, newline-terminated). */
void mbctl_status_print_table(FILE *out, const struct mbctl_status *st);
void mbctl_status_print_json(FILE *out, const struct mbctl_status *st);

/* Finds the trackfs clients of st and reads their statistics (see
 * trackfs_status.h); proc is "/proc". Never fails: what cannot be read is
 * shown as unknown. */
void mbctl_trackfs_collect(struct mbctl_status *st, const char *proc);

/* s as a JSON string, quoted and escaped. */
void mbctl_json_string(FILE *out, const char *s);

/* Names used in both forms. */
const char *mbctl_kind_name(uint8_t kind);
const char *mbctl_pending_name(uint8_t pending_kind);
const char *mbctl_pressure_name(uint8_t level);

#endif
