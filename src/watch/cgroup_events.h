/* cgroup_events.h: memory cgroup OOM events, held and resolved; the v1
 * freezer.
 *
 * v1 (/sys/fs/cgroup/memory/<g>): memory.oom_control reads
 *     "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"
 * and an eventfd registered through cgroup.event_control
 * ("<eventfd> <fd of memory.oom_control>") counts each OOM of the group.
 * With oom_kill_disable=1 the kernel does not kill: the tasks that need
 * memory sleep (under_oom 1) until the limit is raised, memory is freed, or
 * the OOM killer is enabled again. That hold is what lets evidence be taken
 * before anything dies.
 * v2 (<g>/memory.events): "low N\nhigh N\nmax N\noom N\noom_kill N\n
 * oom_group_kill N\n"; the file polls POLLPRI when it changes. Only the
 * parser is here for v2 (this kernel's v2 mount has no memory controller).
 *
 * Group paths are full directories ("/sys/fs/cgroup/memory/app"); every
 * file access is made under `root` (NULL or "": the live system) so tests
 * run against fixture trees.
 */
#ifndef MB_WATCH_CGROUP_EVENTS_H
#define MB_WATCH_CGROUP_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MB_CGROUP_PATH_MAX 256u

/* memory.oom_control (v1). */
struct mb_oom_control {
    bool oom_kill_disable;
    bool under_oom;
    uint64_t oom_kill;  /* kills in the group (4.13+) */
    unsigned present;   /* MB_OOM_CONTROL_HAS_* */
};
#define MB_OOM_CONTROL_HAS_DISABLE 0x1u
#define MB_OOM_CONTROL_HAS_UNDER_OOM 0x2u
#define MB_OOM_CONTROL_HAS_OOM_KILL 0x4u

/* Parses buf[0..len). Unknown keys are skipped. Returns 0, -EINVAL for a
 * malformed line or a flag other than 0/1, -ENODATA when oom_kill_disable
 * or under_oom is missing. */
int mb_oom_control_parse(const char *buf, size_t len, struct mb_oom_control *out);

/* memory.events (v2). */
struct mb_memory_events {
    uint64_t low, high, max, oom, oom_kill, oom_group_kill;
    unsigned present; /* MB_MEMORY_EVENTS_HAS_* */
};
#define MB_MEMORY_EVENTS_HAS_LOW 0x01u
#define MB_MEMORY_EVENTS_HAS_HIGH 0x02u
#define MB_MEMORY_EVENTS_HAS_MAX 0x04u
#define MB_MEMORY_EVENTS_HAS_OOM 0x08u
#define MB_MEMORY_EVENTS_HAS_OOM_KILL 0x10u
#define MB_MEMORY_EVENTS_HAS_OOM_GROUP_KILL 0x20u

/* Parses buf[0..len) ("key value" lines; unknown keys skipped). Returns 0,
 * -EINVAL for a malformed line, -ERANGE on overflow, -ENODATA when neither
 * oom nor oom_kill is present. */
int mb_memory_events_parse(const char *buf, size_t len, struct mb_memory_events *out);

/* New OOM events between two readings: (oom + oom_kill) growth; 0 when a
 * counter went backwards (the group was re-created). */
uint64_t mb_memory_events_new_ooms(const struct mb_memory_events *before,
                                   const struct mb_memory_events *after);

/* How a held v1 group is let go. */
enum mb_oom_policy {
    MB_OOM_POLICY_RAISE_LIMIT = 0, /* raise memory.limit_in_bytes (and memsw) by a step */
    MB_OOM_POLICY_KILL,            /* enable the OOM killer again: the kernel kills */
};

/* "raise-limit" / "kill"; parse returns 0 or -EINVAL. */
const char *mb_oom_policy_name(enum mb_oom_policy policy);
int mb_oom_policy_parse(const char *name, enum mb_oom_policy *out);

/* A watched v1 memory cgroup. */
struct mb_cgroup_oom {
    char root[MB_CGROUP_PATH_MAX];
    char group[MB_CGROUP_PATH_MAX];
    int event_fd;       /* eventfd counting OOMs; poll POLLIN */
    int control_fd;     /* memory.oom_control, kept open for the registration */
    bool held;          /* we set oom_kill_disable=1 */
    bool was_disabled;  /* oom_kill_disable before we touched it */
    uint64_t events;    /* OOM events read from event_fd so far */
};

/* Marks g as not open (descriptors -1). */
void mb_cgroup_oom_init(struct mb_cgroup_oom *g);

/* Opens root + group's memory.oom_control, registers an eventfd for its OOM
 * events and, when `hold`, sets oom_kill_disable=1 so an OOM of the group
 * waits for mb_cgroup_oom_resolve. Returns 0, -ENAMETOOLONG, -ENOENT (no
 * such group, or not a v1 memory cgroup), or the negative errno of the
 * files or eventfd(2) (-EACCES without privilege). Does not block. */
int mb_cgroup_oom_open(struct mb_cgroup_oom *g, const char *root, const char *group, bool hold);

/* The eventfd to poll, or -1. */
int mb_cgroup_oom_fd(const struct mb_cgroup_oom *g);

/* Reads the eventfd without blocking. Returns the number of OOM events
 * since the last call (0 when none), or a negative errno. */
long mb_cgroup_oom_consume(struct mb_cgroup_oom *g);

/* Reads the group's memory.oom_control. Returns 0 or a negative errno. */
int mb_cgroup_oom_state(const struct mb_cgroup_oom *g, struct mb_oom_control *out);

/* What mb_cgroup_oom_resolve did. */
struct mb_oom_resolution {
    enum mb_oom_policy policy;
    uint64_t old_limit;   /* memory.limit_in_bytes before (RAISE_LIMIT) */
    uint64_t new_limit;   /* after (RAISE_LIMIT) */
    bool memsw_raised;    /* memory.memsw.limit_in_bytes raised too */
};

/* Lets a held group go by `policy`. RAISE_LIMIT adds raise_bytes (at
 * least one page) to memory.limit_in_bytes, raising memory.memsw.limit_in_
 * bytes first when it exists and would otherwise be below the new limit;
 * the group stays held for its next OOM. KILL writes oom_kill_disable=0:
 * the kernel then kills in the group, and the group is no longer held.
 * Returns 0, -EINVAL (bad policy, raise_bytes 0 or overflowing), or the
 * negative errno of the writes. Blocks while the kernel applies the limit
 * (it may reclaim). */
int mb_cgroup_oom_resolve(struct mb_cgroup_oom *g, enum mb_oom_policy policy, uint64_t raise_bytes,
                          struct mb_oom_resolution *out);

/* Closes the descriptors; when the group is still held, restores
 * oom_kill_disable to what it was before open (errors ignored: the group
 * may be gone). Safe after init or a failed open. */
void mb_cgroup_oom_close(struct mb_cgroup_oom *g);

/* ---- v1 freezer (/sys/fs/cgroup/freezer/<g>) ---- */

/* Writes FROZEN (freeze true) or THAWED to root + group/freezer.state, and
 * for FROZEN waits until the state reads FROZEN (the kernel passes through
 * FREEZING), polling every 10 ms for up to timeout_ms. Returns 0,
 * -ETIMEDOUT (still FREEZING: the write stands; thaw to undo), or the
 * negative errno of the files. Blocks up to timeout_ms. */
int mb_cgroup_freeze(const char *root, const char *group, bool freeze, uint32_t timeout_ms);

#endif
