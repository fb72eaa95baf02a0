/* pressure_source_detect.h: what the running kernel offers mbwatch.
 *
 * Paths are looked up under `root` ("" or "/" for the live system; a
 * fixture tree in tests):
 *   <root>/proc/pressure/memory                     PSI (readable: psi=1)
 *   <root>/sys/fs/cgroup/memory/cgroup.event_control cgroup v1 memory
 *   <root>/sys/fs/cgroup/cgroup.controllers          cgroup v2 (unified)
 *   <root>/sys/fs/cgroup/unified/cgroup.controllers  cgroup v2 (hybrid)
 * and, in a group's directory, the files each source needs. Reads small
 * files; never blocks for long; allocates nothing.
 */
#ifndef MB_WATCH_PRESSURE_SOURCE_DETECT_H
#define MB_WATCH_PRESSURE_SOURCE_DETECT_H

#include "watch/pressure_source.h"

#include <stdbool.h>
#include <stdint.h>

struct mbw_kernel_features {
    bool psi;                     /* system-wide PSI for memory */
    bool v1_memory;               /* the v1 memory controller is mounted */
    char v1_root[MBW_PATH_MAX];   /* its mount ("" when absent) */
    bool v2;                      /* a v2 hierarchy is mounted */
    bool v2_memory;               /* ... and has the memory controller */
    char v2_root[MBW_PATH_MAX];   /* its mount ("" when absent) */
};

/* Fills *k. Returns 0 (also when nothing is there) or -ENAMETOOLONG. */
int mbw_detect_kernel(const char *root, struct mbw_kernel_features *k);

struct mbw_cgroup_features {
    bool v1_pressure_level;   /* memory.pressure_level + cgroup.event_control */
    bool v1_usage;            /* memory.usage_in_bytes + cgroup.event_control */
    bool v1_oom;              /* memory.oom_control + cgroup.event_control */
    bool v2_events;           /* memory.events */
    bool psi;                 /* memory.pressure (readable) */
    uint64_t limit;           /* v1 memory.limit_in_bytes or v2 memory.max;
                                 MBW_CGROUP_UNLIMITED when none or unknown */
};

/* Fills *c for the group directory dir. Returns 0, -ENOENT when dir is not
 * a directory, -ENOTSUP when it offers none of the above, or
 * -ENAMETOOLONG. */
int mbw_detect_cgroup(const char *dir, struct mbw_cgroup_features *c);

#endif
