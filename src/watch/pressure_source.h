/* pressure_source.h: the kernel's memory-pressure signals behind one
 * interface, for mbwatch.
 *
 * A source is one kernel notification, opened once at start and then polled:
 *   PSI        a trigger on /proc/pressure/memory or on a cgroup's
 *              memory.pressure ("some"/"full" stall within a window; POLLPRI)
 *   V1_LEVEL   a cgroup v1 memory.pressure_level eventfd (low, medium, critical)
 *   V1_USAGE   cgroup v1 memory.usage_in_bytes thresholds (eventfds), read back
 *              and classified with a hysteresis
 *   V1_OOM     cgroup v1 memory.oom_control eventfd (the group hit its limit
 *              and the OOM killer ran or, when disabled, the group waits)
 *   V2_EVENTS  cgroup v2 memory.events (POLLPRI on change): the "high",
 *              "max" and "oom"/"oom_kill" counters growing
 * Every source gives the same thing: an fd to poll for `poll_events`, and,
 * when it is ready, mbw_source_handle() turns what the kernel says into at
 * most one struct mbw_pressure_event (many kernel notifications that arrived
 * together become one event with a count).
 *
 * Events are pulses (pressure seen now: PSI, pressure_level, memory.events
 * growth, OOM) or states (V1_USAGE: the level holds until a later event says
 * otherwise); struct mbw_level (pressure_level.h) turns both into the level
 * sent to the broker.
 *
 * Nothing here allocates; mbw_source_handle reads into stack buffers and
 * makes no call that can block for long (eventfd and cgroup/proc files).
 * Functions return 0 or a negative errno; the open functions leave the
 * source closed (fd -1) on failure and log nothing (the caller says what
 * failed, with mbw_source_describe for the name).
 */
#ifndef MB_WATCH_PRESSURE_SOURCE_H
#define MB_WATCH_PRESSURE_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MBW_PATH_MAX 256u

enum mbw_source_type {
    MBW_SOURCE_PSI = 1,
    MBW_SOURCE_V1_LEVEL,
    MBW_SOURCE_V1_USAGE,
    MBW_SOURCE_V1_OOM,
    MBW_SOURCE_V2_EVENTS,
};

enum mbw_event_kind {
    MBW_EVENT_PULSE = 0, /* pressure seen at this moment */
    MBW_EVENT_STATE = 1, /* the source's level from now on (may be NONE) */
    MBW_EVENT_OOM = 2,   /* an OOM in the watched group: a critical pulse, and
                            a trigger for evidence collection */
};

/* What one source says at once. level is an enum mb_pressure_level. */
struct mbw_pressure_event {
    uint8_t level;
    uint8_t kind;        /* enum mbw_event_kind */
    uint64_t time_ns;    /* monotonic, when the wakeup was handled */
    uint64_t count;      /* kernel notifications folded into this event (>= 1) */
    uint64_t value;      /* PSI: stall us since the last event; V1_USAGE: usage
                            bytes; V2_EVENTS/V1_OOM: the OOM kill counter */
};

/* Levels of cgroup v1 memory.pressure_level, as the kernel names them. */
enum mbw_v1_level {
    MBW_V1_LOW = 0,
    MBW_V1_MEDIUM = 1,
    MBW_V1_CRITICAL = 2,
};

struct mbw_psi_state {
    int read_fd;          /* a second, read-only fd on the same file for total= */
    bool full;            /* "full" trigger (else "some") */
    uint64_t stall_us, window_us;
    uint64_t last_total_us;
    bool armed;           /* no genuine event seen yet since the trigger was made */
    uint64_t spurious;    /* events dropped: the total had not grown enough */
};

/* Usage marks: the two thresholds and their lower edges (threshold less
 * hysteresis). */
#define MBW_USAGE_MARKS 4u

struct mbw_v1_usage_state {
    int usage_fd;         /* memory.usage_in_bytes, read for the event's value */
    int efds[MBW_USAGE_MARKS]; /* one eventfd per mark (-1: unused), all in the
                             epoll set that is the source's fd */
    uint64_t marks[MBW_USAGE_MARKS];
    bool above[MBW_USAGE_MARKS]; /* usage at or above the mark, as the kernel saw it */
    uint64_t moderate, critical, hysteresis; /* bytes; 0 = that level unused */
    uint8_t level;        /* current classification */
};

struct mbw_v2_events_state {
    uint64_t high, max, oom, oom_kill; /* last counters seen */
};

struct mbw_source {
    enum mbw_source_type type;
    int fd;               /* what the loop polls; -1 when closed */
    short poll_events;    /* POLLIN or POLLPRI */
    uint8_t level;        /* the level a pulse of this source stands for */
    int8_t v1_level;      /* V1_LEVEL: enum mbw_v1_level listened to */
    char path[MBW_PATH_MAX]; /* the file or cgroup watched */
    union {
        struct mbw_psi_state psi;
        struct mbw_v1_usage_state usage;
        struct mbw_v2_events_state v2;
    } u;
};

/* A zeroed source with fd -1 (safe to close). */
void mbw_source_init(struct mbw_source *s);

/* PSI trigger on `file` (/proc/pressure/memory or <cgroup>/memory.pressure):
 * an event when "some" (full = false) or "full" stall reaches stall_us within
 * window_us; each event is a pulse at `level`. The kernel refuses windows it
 * does not allow with -EINVAL (without CAP_SYS_RESOURCE: multiples of 2 s).
 * The first event after arming is genuine only if the file's total grew by
 * stall_us since then, later ones only if it grew at all; the others are
 * counted as spurious and dropped. */
int mbw_source_open_psi(struct mbw_source *s, const char *file, bool full, uint64_t stall_us,
                        uint64_t window_us, uint8_t level);

/* cgroup v1: a pressure_level listener at `v1_level` (enum mbw_v1_level) on
 * the group directory cgroup_dir; each notification is a pulse at `level`.
 * The kernel also notifies lower-level listeners of higher levels. */
int mbw_source_open_v1_level(struct mbw_source *s, const char *cgroup_dir, int v1_level,
                             uint8_t level);

/* cgroup v1: usage thresholds. moderate and critical are bytes of
 * memory.usage_in_bytes (0: not used; if both are set moderate < critical);
 * the level drops again only when usage falls below the threshold less
 * hysteresis. Each mark has its own eventfd: the kernel signals one for
 * every crossing, either way, so an odd count flips the mark's side. This
 * follows the kernel's own sampling of usage, not a later read that may
 * have moved back across a mark. The first mbw_source_handle after opening
 * reports the current state (the fd starts readable). */
int mbw_source_open_v1_usage(struct mbw_source *s, const char *cgroup_dir, uint64_t moderate,
                             uint64_t critical, uint64_t hysteresis);

/* cgroup v1: memory.oom_control notifications; each is an MBW_EVENT_OOM
 * (level critical) carrying the group's oom_kill counter. */
int mbw_source_open_v1_oom(struct mbw_source *s, const char *cgroup_dir);

/* cgroup v2: memory.events; growth of "high" is a moderate pulse, of "max" a
 * critical pulse, of "oom" or "oom_kill" an MBW_EVENT_OOM. */
int mbw_source_open_v2_events(struct mbw_source *s, const char *cgroup_dir);

/* Handles the source's fd being ready: revents as poll(2) reported them
 * (0 also works: a check without a wakeup). Returns 1 with *ev filled, 0
 * when there is nothing to report (a spurious PSI event, no counter grew,
 * nothing readable), or a negative errno when the source is unusable (the
 * cgroup was removed: -ENODEV); the caller then closes it. Does not block. */
int mbw_source_handle(struct mbw_source *s, short revents, uint64_t now_ns,
                      struct mbw_pressure_event *ev);

/* The level of a usage-threshold source: usage against the moderate and
 * critical thresholds (0: unused), where a level once reached holds until
 * usage falls below its threshold less hysteresis. prev is the level so
 * far. Pure. */
uint8_t mbw_usage_classify(uint8_t prev, uint64_t usage, uint64_t moderate, uint64_t critical,
                           uint64_t hysteresis);

/* Closes every fd of s (the kernel drops the listener). Safe on a closed or
 * initialised source. */
void mbw_source_close(struct mbw_source *s);

/* "psi some 100000/2000000us /proc/pressure/memory" and the like, for logs;
 * always NUL-terminated. Returns buf. */
const char *mbw_source_describe(const struct mbw_source *s, char *buf, size_t size);

/* The kernel's name of an mbw_v1_level ("low", "medium", "critical"), and
 * back: the level for `name`, or -EINVAL. */
const char *mbw_v1_level_name(int v1_level);
int mbw_v1_level_parse(const char *name);

#endif
