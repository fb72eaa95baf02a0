/* watch_sources.h: the set of pressure sources mbwatch opens from its
 * config and what the kernel offers (one table, opened once at start). */
#ifndef MB_WATCH_WATCH_SOURCES_H
#define MB_WATCH_WATCH_SOURCES_H

#include "watch/pressure_source.h"
#include "watch/pressure_source_detect.h"
#include "watch/watch_config.h"

#include <stddef.h>

/* System PSI (2) + per group: PSI (2), v1 levels (2), usage, oom, v2 events. */
#define MBW_MAX_SOURCES (2u + MBW_MAX_CGROUPS * 7u)

struct mbw_sources {
    struct mbw_source src[MBW_MAX_SOURCES];
    size_t count;
    size_t failed; /* sources the config asked for that could not be opened */
};

/* Opens every source the config asks for and the kernel offers, logging
 * each (info) and each failure (warning, with the reason and a hint). A
 * configured group that does not exist or offers nothing is an error.
 * Returns the number opened (possibly 0: nothing to watch) or a negative
 * errno (set closed). */
int mbw_sources_open(struct mbw_sources *set, const struct mbw_config *cfg,
                     const struct mbw_kernel_features *k);

/* Closes every source. Safe on a zeroed set. */
void mbw_sources_close(struct mbw_sources *set);

#endif
