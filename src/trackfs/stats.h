/* stats.h: trackfs's statistics as text, the value of the extended
 * attribute "user.trackfs.stats" of the mount's root (docs/man/trackfs.8).
 *
 * One "key value" line per figure, values in decimal:
 *   mode standalone|broker
 *   page_size       bytes per page
 *   quota_pages     pages held: the fixed quota, or what the broker granted
 *   used_pages      data_pages + metadata pages (inodes and xattrs, rounded up)
 *   data_pages      file data pages charged
 *   inodes          inodes charged
 *   xattr_bytes     extended attribute bytes charged
 *   free_pages      quota_pages - used_pages (0 when over)
 *   broker_balance  the balance the broker granted (broker mode only)
 *   acquired_pages  pages taken from the broker in total
 *   released_pages  pages given back to the broker in total
 *   stalls          charges that waited for the broker
 *   stall_ms        the time they waited, in total (rounded down)
 *   enospc          charges refused with ENOSPC
 */
#ifndef TRACKFS_STATS_H
#define TRACKFS_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "trackfs/quota.h"

/* Writes the text for the books qs into buf (NUL-terminated, cut off at
 * size). broker_balance is NULL in standalone mode. Returns the length of
 * the whole text (without the NUL), which may exceed size - 1. Does not
 * block. */
size_t tfs_stats_format(const struct tfs_quota_stats *qs, uint64_t page_size,
                        const uint64_t *broker_balance, char *buf, size_t size);

/* Longest text tfs_stats_format can produce, NUL included. */
#define TFS_STATS_MAX 512

#endif
