/* pressure_source_parse.h: the cgroup files mbwatch reads, parsed from a
 * buffer (so they are tested against captured files, not the live kernel).
 *
 *   memory.usage_in_bytes, memory.limit_in_bytes (v1), memory.current,
 *   memory.high, memory.max (v2)       one number, or "max" (v2: no limit)
 *   cgroup.controllers (v2)            "cpuset cpu io memory pids"
 * and the text of a PSI trigger. memory.oom_control and memory.events are
 * parsed by cgroup_events.h. Buffers need not be NUL-terminated. Nothing
 * allocates.
 */
#ifndef MB_WATCH_PRESSURE_SOURCE_PARSE_H
#define MB_WATCH_PRESSURE_SOURCE_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The value "max" in v2 limit files. */
#define MBW_CGROUP_UNLIMITED UINT64_MAX

/* One decimal number or "max" (MBW_CGROUP_UNLIMITED), then optional blanks
 * and one newline. Returns 0, -EINVAL or -ERANGE. */
int mbw_parse_cgroup_value(const char *buf, size_t len, uint64_t *out);

/* True when the blank-separated list in buf names `controller` exactly. */
bool mbw_controllers_include(const char *buf, size_t len, const char *controller);

/* The text written to a PSI file to make a trigger: "some 100000 2000000"
 * (stall and window in us) with its NUL, which the kernel wants. Returns the
 * bytes to write (NUL included), or -ENOSPC when size is too small, -EINVAL
 * when stall_us is 0 or above window_us. */
int mbw_psi_trigger_format(char *buf, size_t size, bool full, uint64_t stall_us,
                           uint64_t window_us);

#endif
