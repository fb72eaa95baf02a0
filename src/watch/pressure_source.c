/* pressure_source.c: see pressure_source.h. The only file of mbwatch that
 * speaks to the kernel's pressure interfaces (PSI trigger files, cgroup v1
 * cgroup.event_control, cgroup v2 memory.events). */
#include "watch/pressure_source.h"

#include "common/proc_pressure.h"
#include "membroker/protocol.h"
#include "watch/cgroup_events.h"
#include "watch/pressure_source_parse.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Big enough for any PSI, oom_control or memory.events file. */
#define SMALL_FILE_MAX 512u

void mbw_source_init(struct mbw_source *s)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->u.psi.read_fd = -1; /* the same int as usage.usage_fd */
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

void mbw_source_close(struct mbw_source *s)
{
    if (s->type == MBW_SOURCE_PSI) {
        close_fd(&s->u.psi.read_fd);
    } else if (s->type == MBW_SOURCE_V1_USAGE) {
        close_fd(&s->u.usage.usage_fd);
        for (size_t i = 0; i < MBW_USAGE_MARKS; i++)
            close_fd(&s->u.usage.efds[i]);
    }
    close_fd(&s->fd);
}

static int set_path(struct mbw_source *s, const char *a, const char *b)
{
    int n = snprintf(s->path, sizeof s->path, "%s%s", a, b);
    return n < 0 || (size_t)n >= sizeof s->path ? -ENAMETOOLONG : 0;
}

/* Reads a small file whole from offset 0 through an open fd. */
static int read_at_start(int fd, char *buf, size_t size, size_t *len)
{
    *len = 0;
    for (;;) {
        ssize_t n = pread(fd, buf + *len, size - *len, (off_t)*len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return 0;
        *len += (size_t)n;
        if (*len == size)
            return -EFBIG;
    }
}

static int open_in(const char *dir, const char *name, int flags)
{
    char path[MBW_PATH_MAX + 64];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof path)
        return -ENAMETOOLONG;
    int fd = open(path, flags | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* ---- PSI ---------------------------------------------------------------- */

static int psi_total(int fd, bool full, uint64_t *total)
{
    char buf[SMALL_FILE_MAX];
    size_t len;
    int rc = read_at_start(fd, buf, sizeof buf, &len);
    if (rc < 0)
        return rc;
    struct mb_pressure p;
    rc = mb_pressure_parse(buf, len, &p, NULL);
    if (rc < 0)
        return rc;
    if (full && !p.has_full)
        return -ENODATA;
    *total = full ? p.full.total_us : p.some.total_us;
    return 0;
}

int mbw_source_open_psi(struct mbw_source *s, const char *file, bool full, uint64_t stall_us,
                        uint64_t window_us, uint8_t level)
{
    mbw_source_init(s);
    s->type = MBW_SOURCE_PSI;
    s->poll_events = POLLPRI;
    s->level = level;
    struct mbw_psi_state *p = &s->u.psi;
    p->full = full;
    p->stall_us = stall_us;
    p->window_us = window_us;
    p->armed = true;
    char trigger[64];
    int len = mbw_psi_trigger_format(trigger, sizeof trigger, full, stall_us, window_us);
    if (len < 0)
        return len;
    int rc = set_path(s, file, "");
    if (rc < 0)
        return rc;
    p->read_fd = open(file, O_RDONLY | O_CLOEXEC);
    if (p->read_fd < 0)
        return -errno;
    rc = psi_total(p->read_fd, full, &p->last_total_us);
    if (rc == 0) {
        s->fd = open(file, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (s->fd < 0)
            rc = -errno;
    }
    if (rc == 0 && write(s->fd, trigger, (size_t)len) < 0)
        rc = -errno;
    if (rc < 0)
        mbw_source_close(s);
    return rc;
}

static int psi_handle(struct mbw_source *s, short revents, uint64_t now_ns,
                      struct mbw_pressure_event *ev)
{
    struct mbw_psi_state *p = &s->u.psi;
    if (revents & (POLLERR | POLLNVAL))
        return -ENODEV; /* the cgroup went away */
    if (!(revents & POLLPRI))
        return 0;
    uint64_t total;
    int rc = psi_total(p->read_fd, p->full, &total);
    if (rc < 0)
        return rc == -ENODATA ? rc : -ENODEV;
    uint64_t grown = total >= p->last_total_us ? total - p->last_total_us : 0;
    p->last_total_us = total;
    /* The kernel may report a first event for a fresh unprivileged trigger
     * without the stall behind it; a real one has its stall in the total. */
    if ((p->armed && grown < p->stall_us) || grown == 0) {
        p->spurious++;
        return 0;
    }
    p->armed = false;
    *ev = (struct mbw_pressure_event){
        .level = s->level, .kind = MBW_EVENT_PULSE, .time_ns = now_ns, .count = 1, .value = grown};
    return 1;
}

/* ---- cgroup v1 ------------------------------------------------------------ */

/* Registers eventfd efd on <dir>/<file> with cgroup.event_control; args is
 * what follows the two fds ("medium", a threshold, or ""). */
static int v1_register(const char *dir, const char *file, int efd, const char *args)
{
    int ctl = open_in(dir, "cgroup.event_control", O_WRONLY);
    if (ctl < 0)
        return ctl;
    int target = open_in(dir, file, O_RDONLY);
    if (target < 0) {
        close(ctl);
        return target;
    }
    char line[128];
    int n = snprintf(line, sizeof line, "%d %d%s%s", efd, target, args[0] ? " " : "", args);
    int rc = 0;
    if (n < 0 || (size_t)n >= sizeof line)
        rc = -EINVAL;
    else if (write(ctl, line, (size_t)n) < 0)
        rc = -errno;
    /* The listener lives as long as the eventfd, not these two files. */
    close(target);
    close(ctl);
    return rc;
}

static int v1_open_eventfd(struct mbw_source *s, const char *cgroup_dir)
{
    int rc = set_path(s, cgroup_dir, "");
    if (rc < 0)
        return rc;
    s->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->fd < 0)
        return -errno;
    s->poll_events = POLLIN;
    return 0;
}

/* Reads the eventfd's count (0 when nothing was signalled). */
static int eventfd_take(int fd, uint64_t *count)
{
    *count = 0;
    ssize_t n = read(fd, count, sizeof *count);
    if (n == (ssize_t)sizeof *count)
        return 0;
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    return n < 0 ? -errno : -EIO;
}

/* When a v1 group is removed the kernel signals its listeners once more; a
 * wakeup from a group that no longer exists is its end, not pressure. */
static bool v1_group_exists(const struct mbw_source *s)
{
    char path[MBW_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/cgroup.event_control", s->path);
    return access(path, F_OK) == 0;
}

static const char *const v1_level_names[] = {"low", "medium", "critical"};

const char *mbw_v1_level_name(int v1_level)
{
    return v1_level >= 0 && v1_level <= MBW_V1_CRITICAL ? v1_level_names[v1_level] : "?";
}

int mbw_v1_level_parse(const char *name)
{
    for (int i = 0; i <= MBW_V1_CRITICAL; i++)
        if (strcmp(name, v1_level_names[i]) == 0)
            return i;
    return -EINVAL;
}

int mbw_source_open_v1_level(struct mbw_source *s, const char *cgroup_dir, int v1_level,
                             uint8_t level)
{
    mbw_source_init(s);
    s->type = MBW_SOURCE_V1_LEVEL;
    s->level = level;
    if (v1_level < 0 || v1_level > MBW_V1_CRITICAL)
        return -EINVAL;
    s->v1_level = (int8_t)v1_level;
    int rc = v1_open_eventfd(s, cgroup_dir);
    if (rc == 0)
        rc = v1_register(cgroup_dir, "memory.pressure_level", s->fd, v1_level_names[v1_level]);
    if (rc < 0)
        mbw_source_close(s);
    return rc;
}

uint8_t mbw_usage_classify(uint8_t prev, uint64_t usage, uint64_t moderate, uint64_t critical,
                           uint64_t hysteresis)
{
    /* Lower edge of a threshold: where a level reached is left again. */
#define LOWER_EDGE(t) ((t) > hysteresis ? (t) - hysteresis : 0)
    if (critical != 0 && (usage >= critical ||
                          (prev == MB_PRESSURE_CRITICAL && usage >= LOWER_EDGE(critical))))
        return MB_PRESSURE_CRITICAL;
    if (moderate != 0 && (usage >= moderate ||
                          (prev != MB_PRESSURE_NONE && usage >= LOWER_EDGE(moderate))))
        return MB_PRESSURE_MODERATE;
#undef LOWER_EDGE
    return MB_PRESSURE_NONE;
}

static int v1_usage_read(const struct mbw_source *s, uint64_t *usage)
{
    char buf[64];
    size_t len;
    int rc = read_at_start(s->u.usage.usage_fd, buf, sizeof buf, &len);
    if (rc < 0)
        return rc;
    return mbw_parse_cgroup_value(buf, len, usage);
}

/* The usage the marks place it at: the highest mark it is at or above (0
 * below all), which classifies exactly as the usage itself would. */
static uint64_t usage_by_marks(const struct mbw_v1_usage_state *u)
{
    uint64_t at = 0;
    for (size_t i = 0; i < MBW_USAGE_MARKS; i++)
        if (u->efds[i] >= 0 && u->above[i] && u->marks[i] > at)
            at = u->marks[i];
    return at;
}

int mbw_source_open_v1_usage(struct mbw_source *s, const char *cgroup_dir, uint64_t moderate,
                             uint64_t critical, uint64_t hysteresis)
{
    mbw_source_init(s);
    s->type = MBW_SOURCE_V1_USAGE;
    s->poll_events = POLLIN;
    struct mbw_v1_usage_state *u = &s->u.usage;
    u->usage_fd = -1;
    for (size_t i = 0; i < MBW_USAGE_MARKS; i++)
        u->efds[i] = -1;
    u->moderate = moderate;
    u->critical = critical;
    u->hysteresis = hysteresis;
    u->level = MB_PRESSURE_NONE;
    if ((moderate == 0 && critical == 0) || (moderate != 0 && critical != 0 && moderate >= critical))
        return -EINVAL;
    int rc = set_path(s, cgroup_dir, "");
    if (rc < 0)
        return rc;
    s->fd = epoll_create1(EPOLL_CLOEXEC);
    if (s->fd < 0)
        return -errno;
    rc = open_in(cgroup_dir, "memory.usage_in_bytes", O_RDONLY);
    if (rc < 0)
        goto fail;
    u->usage_fd = rc;
    uint64_t marks[MBW_USAGE_MARKS] = {
        moderate, critical, moderate > hysteresis ? moderate - hysteresis : 0,
        critical > hysteresis ? critical - hysteresis : 0};
    for (size_t i = 0; i < MBW_USAGE_MARKS; i++) {
        u->marks[i] = marks[i];
        if (marks[i] == 0 || (i >= 2 && marks[i] == marks[i - 2]))
            continue; /* unused, or no hysteresis: the threshold itself */
        u->efds[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (u->efds[i] < 0) {
            rc = -errno;
            goto fail;
        }
        char arg[24];
        snprintf(arg, sizeof arg, "%" PRIu64, marks[i]);
        rc = v1_register(cgroup_dir, "memory.usage_in_bytes", u->efds[i], arg);
        struct epoll_event ee = {.events = EPOLLIN, .data.u64 = i};
        if (rc == 0 && epoll_ctl(s->fd, EPOLL_CTL_ADD, u->efds[i], &ee) < 0)
            rc = -errno;
        if (rc < 0)
            goto fail;
    }
    /* Where usage is now, as the starting side of every mark (registered
     * first, so a crossing from here on is counted). */
    uint64_t usage;
    rc = v1_usage_read(s, &usage);
    if (rc < 0)
        goto fail;
    for (size_t i = 0; i < MBW_USAGE_MARKS; i++)
        u->above[i] = usage >= u->marks[i];
    /* Crossings counted before the read are in the read: drop them. */
    int first_efd = -1;
    for (size_t i = 0; i < MBW_USAGE_MARKS; i++) {
        if (u->efds[i] < 0)
            continue;
        uint64_t ignored;
        (void)eventfd_take(u->efds[i], &ignored);
        if (first_efd < 0)
            first_efd = u->efds[i];
    }
    /* The first handle reports where usage stands now: make the fd readable
     * with an even count, which flips no side. */
    u->level = 0xff; /* unknown until the first handle */
    if (eventfd_write(first_efd, 2) < 0) {
        rc = -errno;
        goto fail;
    }
    return 0;
fail:
    mbw_source_close(s);
    return rc;
}

int mbw_source_open_v1_oom(struct mbw_source *s, const char *cgroup_dir)
{
    mbw_source_init(s);
    s->type = MBW_SOURCE_V1_OOM;
    s->level = MB_PRESSURE_CRITICAL;
    int rc = v1_open_eventfd(s, cgroup_dir);
    if (rc == 0)
        rc = v1_register(cgroup_dir, "memory.oom_control", s->fd, "");
    if (rc < 0)
        mbw_source_close(s);
    return rc;
}

static int v1_read_oom_kills(const struct mbw_source *s, uint64_t *kills)
{
    int fd = open_in(s->path, "memory.oom_control", O_RDONLY);
    if (fd < 0)
        return fd;
    char buf[SMALL_FILE_MAX];
    size_t len;
    int rc = read_at_start(fd, buf, sizeof buf, &len);
    close(fd);
    if (rc < 0)
        return rc;
    struct mb_oom_control oc;
    rc = mb_oom_control_parse(buf, len, &oc);
    if (rc == 0)
        *kills = oc.oom_kill;
    return rc;
}

static int v1_usage_handle(struct mbw_source *s, uint64_t now_ns, struct mbw_pressure_event *ev)
{
    struct mbw_v1_usage_state *u = &s->u.usage;
    uint64_t crossings = 0;
    for (size_t i = 0; i < MBW_USAGE_MARKS; i++) {
        uint64_t count;
        if (u->efds[i] < 0)
            continue;
        int rc = eventfd_take(u->efds[i], &count);
        if (rc < 0)
            return rc;
        crossings += count;
        if (count % 2 == 1)
            u->above[i] = !u->above[i];
    }
    bool first = u->level == 0xff;
    if (crossings == 0 && !first)
        return 0;
    if (!v1_group_exists(s))
        return -ENODEV;
    uint64_t usage = 0;
    if (v1_usage_read(s, &usage) < 0)
        return -ENODEV;
    uint8_t prev = first ? MB_PRESSURE_NONE : u->level;
    u->level = mbw_usage_classify(prev, usage_by_marks(u), u->moderate, u->critical, u->hysteresis);
    *ev = (struct mbw_pressure_event){.level = u->level, .kind = MBW_EVENT_STATE,
                                      .time_ns = now_ns, .count = first ? 1 : crossings,
                                      .value = usage};
    return 1;
}

static int v1_handle(struct mbw_source *s, uint64_t now_ns, struct mbw_pressure_event *ev)
{
    if (s->type == MBW_SOURCE_V1_USAGE)
        return v1_usage_handle(s, now_ns, ev);
    uint64_t count;
    int rc = eventfd_take(s->fd, &count);
    if (rc < 0)
        return rc;
    if (count == 0)
        return 0;
    if (!v1_group_exists(s))
        return -ENODEV;
    *ev = (struct mbw_pressure_event){
        .level = s->level, .kind = MBW_EVENT_PULSE, .time_ns = now_ns, .count = count};
    if (s->type == MBW_SOURCE_V1_OOM) {
        ev->kind = MBW_EVENT_OOM;
        (void)v1_read_oom_kills(s, &ev->value); /* 0 when unknown */
    }
    return 1;
}

/* ---- cgroup v2 ------------------------------------------------------------ */

/* Reads memory.events; a counter the kernel does not show stays 0. */
static int v2_read_events(const struct mbw_source *s, struct mb_memory_events *e)
{
    char buf[SMALL_FILE_MAX];
    size_t len;
    int rc = read_at_start(s->fd, buf, sizeof buf, &len);
    if (rc < 0)
        return rc;
    return mb_memory_events_parse(buf, len, e);
}

int mbw_source_open_v2_events(struct mbw_source *s, const char *cgroup_dir)
{
    mbw_source_init(s);
    s->type = MBW_SOURCE_V2_EVENTS;
    s->poll_events = POLLPRI;
    int rc = set_path(s, cgroup_dir, "");
    if (rc < 0)
        return rc;
    s->fd = open_in(cgroup_dir, "memory.events", O_RDONLY);
    if (s->fd < 0) {
        rc = s->fd;
        s->fd = -1;
        return rc;
    }
    struct mb_memory_events e;
    rc = v2_read_events(s, &e);
    if (rc < 0) {
        mbw_source_close(s);
        return rc;
    }
    s->u.v2 = (struct mbw_v2_events_state){
        .high = e.high, .max = e.max, .oom = e.oom, .oom_kill = e.oom_kill};
    return 0;
}

static uint64_t growth(uint64_t now, uint64_t before)
{
    return now > before ? now - before : 0;
}

static int v2_handle(struct mbw_source *s, uint64_t now_ns, struct mbw_pressure_event *ev)
{
    struct mb_memory_events e;
    int rc = v2_read_events(s, &e);
    if (rc < 0)
        return rc == -EINVAL || rc == -ENODATA || rc == -ERANGE ? rc : -ENODEV;
    struct mbw_v2_events_state *o = &s->u.v2;
    uint64_t high = growth(e.high, o->high), max = growth(e.max, o->max);
    uint64_t oom = growth(e.oom, o->oom) + growth(e.oom_kill, o->oom_kill);
    *o = (struct mbw_v2_events_state){
        .high = e.high, .max = e.max, .oom = e.oom, .oom_kill = e.oom_kill};
    *ev = (struct mbw_pressure_event){.time_ns = now_ns, .value = e.oom_kill};
    if (oom > 0) {
        ev->kind = MBW_EVENT_OOM;
        ev->level = MB_PRESSURE_CRITICAL;
        ev->count = oom;
    } else if (max > 0) {
        ev->kind = MBW_EVENT_PULSE;
        ev->level = MB_PRESSURE_CRITICAL;
        ev->count = max;
    } else if (high > 0) {
        ev->kind = MBW_EVENT_PULSE;
        ev->level = MB_PRESSURE_MODERATE;
        ev->count = high;
    } else {
        return 0;
    }
    return 1;
}

int mbw_source_handle(struct mbw_source *s, short revents, uint64_t now_ns,
                      struct mbw_pressure_event *ev)
{
    if (s->fd < 0)
        return -EBADF;
    switch (s->type) {
    case MBW_SOURCE_PSI: return psi_handle(s, revents, now_ns, ev);
    case MBW_SOURCE_V1_LEVEL:
    case MBW_SOURCE_V1_USAGE:
    case MBW_SOURCE_V1_OOM: return v1_handle(s, now_ns, ev);
    case MBW_SOURCE_V2_EVENTS: return v2_handle(s, now_ns, ev);
    }
    return -EINVAL;
}

const char *mbw_source_describe(const struct mbw_source *s, char *buf, size_t size)
{
    switch (s->type) {
    case MBW_SOURCE_PSI:
        snprintf(buf, size, "psi %s %" PRIu64 "us/%" PRIu64 "us on %s", s->u.psi.full ? "full" : "some",
                 s->u.psi.stall_us, s->u.psi.window_us, s->path);
        break;
    case MBW_SOURCE_V1_LEVEL:
        snprintf(buf, size, "cgroup v1 pressure_level %s on %s", mbw_v1_level_name(s->v1_level),
                 s->path);
        break;
    case MBW_SOURCE_V1_USAGE:
        snprintf(buf, size,
                 "cgroup v1 usage thresholds %" PRIu64 "/%" PRIu64 " (hysteresis %" PRIu64
                 ") bytes on %s",
                 s->u.usage.moderate, s->u.usage.critical, s->u.usage.hysteresis, s->path);
        break;
    case MBW_SOURCE_V1_OOM: snprintf(buf, size, "cgroup v1 oom_control on %s", s->path); break;
    case MBW_SOURCE_V2_EVENTS: snprintf(buf, size, "cgroup v2 memory.events on %s", s->path); break;
    default: snprintf(buf, size, "closed source"); break;
    }
    return buf;
}
