/* cgroup_events.c: see cgroup_events.h. */
#include "watch/cgroup_events.h"

#include "common/numparse.h"
#include "common/proc_read.h"
#include "tools/mbfrag_root.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* Splits "key value" (blanks between); returns false when the form is wrong. */
static bool split_key_value(const char *line, size_t len, const char **key, size_t *key_len,
                            const char **value, size_t *value_len)
{
    size_t k = mb_span_word(line, len);
    if (k == 0 || k == len)
        return false;
    size_t pos = k + mb_span_blanks(line + k, len - k);
    size_t end = len;
    while (end > pos && (line[end - 1] == ' ' || line[end - 1] == '\t'))
        end--;
    if (end == pos)
        return false;
    *key = line;
    *key_len = k;
    *value = line + pos;
    *value_len = end - pos;
    return true;
}

static bool key_is(const char *key, size_t len, const char *want)
{
    return strlen(want) == len && memcmp(key, want, len) == 0;
}

int mb_oom_control_parse(const char *buf, size_t len, struct mb_oom_control *out)
{
    memset(out, 0, sizeof *out);
    struct mb_lines lines;
    mb_lines_init(&lines, buf, len);
    const char *line, *key, *value;
    size_t line_len, key_len, value_len;
    while (mb_lines_next(&lines, &line, &line_len)) {
        if (mb_is_blank(line, line_len))
            continue;
        if (!split_key_value(line, line_len, &key, &key_len, &value, &value_len))
            return -EINVAL;
        uint64_t v = 0;
        int rc = mb_parse_u64_exact(value, value_len, &v);
        if (rc < 0)
            return rc;
        if (key_is(key, key_len, "oom_kill_disable") || key_is(key, key_len, "under_oom")) {
            if (v > 1)
                return -EINVAL;
            if (key[0] == 'o') {
                out->oom_kill_disable = v == 1;
                out->present |= MB_OOM_CONTROL_HAS_DISABLE;
            } else {
                out->under_oom = v == 1;
                out->present |= MB_OOM_CONTROL_HAS_UNDER_OOM;
            }
        } else if (key_is(key, key_len, "oom_kill")) {
            out->oom_kill = v;
            out->present |= MB_OOM_CONTROL_HAS_OOM_KILL;
        }
    }
    unsigned need = MB_OOM_CONTROL_HAS_DISABLE | MB_OOM_CONTROL_HAS_UNDER_OOM;
    return (out->present & need) == need ? 0 : -ENODATA;
}

int mb_memory_events_parse(const char *buf, size_t len, struct mb_memory_events *out)
{
    static const struct {
        const char *key;
        unsigned bit;
        size_t offset;
    } fields[] = {
        {"low", MB_MEMORY_EVENTS_HAS_LOW, offsetof(struct mb_memory_events, low)},
        {"high", MB_MEMORY_EVENTS_HAS_HIGH, offsetof(struct mb_memory_events, high)},
        {"max", MB_MEMORY_EVENTS_HAS_MAX, offsetof(struct mb_memory_events, max)},
        {"oom", MB_MEMORY_EVENTS_HAS_OOM, offsetof(struct mb_memory_events, oom)},
        {"oom_kill", MB_MEMORY_EVENTS_HAS_OOM_KILL, offsetof(struct mb_memory_events, oom_kill)},
        {"oom_group_kill", MB_MEMORY_EVENTS_HAS_OOM_GROUP_KILL,
         offsetof(struct mb_memory_events, oom_group_kill)},
    };
    memset(out, 0, sizeof *out);
    struct mb_lines lines;
    mb_lines_init(&lines, buf, len);
    const char *line, *key, *value;
    size_t line_len, key_len, value_len;
    while (mb_lines_next(&lines, &line, &line_len)) {
        if (mb_is_blank(line, line_len))
            continue;
        if (!split_key_value(line, line_len, &key, &key_len, &value, &value_len))
            return -EINVAL;
        uint64_t v = 0;
        int rc = mb_parse_u64_exact(value, value_len, &v);
        if (rc < 0)
            return rc;
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
            if (key_is(key, key_len, fields[i].key)) {
                memcpy((char *)out + fields[i].offset, &v, sizeof v);
                out->present |= fields[i].bit;
                break;
            }
        }
    }
    return (out->present & (MB_MEMORY_EVENTS_HAS_OOM | MB_MEMORY_EVENTS_HAS_OOM_KILL)) ? 0
                                                                                         : -ENODATA;
}

static uint64_t growth(uint64_t before, uint64_t after)
{
    return after >= before ? after - before : 0;
}

uint64_t mb_memory_events_new_ooms(const struct mb_memory_events *before,
                                   const struct mb_memory_events *after)
{
    if (after->oom < before->oom || after->oom_kill < before->oom_kill)
        return 0;
    return growth(before->oom, after->oom) + growth(before->oom_kill, after->oom_kill);
}

const char *mb_oom_policy_name(enum mb_oom_policy policy)
{
    switch (policy) {
    case MB_OOM_POLICY_RAISE_LIMIT: return "raise-limit";
    case MB_OOM_POLICY_KILL: return "kill";
    }
    return "?";
}

int mb_oom_policy_parse(const char *name, enum mb_oom_policy *out)
{
    if (strcmp(name, "raise-limit") == 0)
        *out = MB_OOM_POLICY_RAISE_LIMIT;
    else if (strcmp(name, "kill") == 0)
        *out = MB_OOM_POLICY_KILL;
    else
        return -EINVAL;
    return 0;
}

void mb_cgroup_oom_init(struct mb_cgroup_oom *g)
{
    memset(g, 0, sizeof *g);
    g->event_fd = -1;
    g->control_fd = -1;
}

/* "<group>/<file>" relative to root, into buf. */
static int group_file(const char *group, const char *file, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s/%s", group, file);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int read_group_file(const char *root, const char *group, const char *file, char *buf,
                           size_t size, size_t *len)
{
    char rel[MB_CGROUP_PATH_MAX + 64];
    int rc = group_file(group, file, rel, sizeof rel);
    if (rc < 0)
        return rc;
    return mbfrag_root_read(root, rel, buf, size, len);
}

static int write_group_file(const char *root, const char *group, const char *file, const char *text)
{
    char rel[MB_CGROUP_PATH_MAX + 64];
    int rc = group_file(group, file, rel, sizeof rel);
    if (rc < 0)
        return rc;
    return mbfrag_root_write(root, rel, text);
}

static int read_group_u64(const char *root, const char *group, const char *file, uint64_t *v)
{
    char rel[MB_CGROUP_PATH_MAX + 64];
    int rc = group_file(group, file, rel, sizeof rel);
    if (rc < 0)
        return rc;
    return mbfrag_root_read_u64(root, rel, v);
}

static int copy_str(char *dst, size_t size, const char *src)
{
    size_t n = src != NULL ? strlen(src) : 0;
    if (n >= size)
        return -ENAMETOOLONG;
    memcpy(dst, src != NULL ? src : "", n);
    dst[n] = '\0';
    return 0;
}

int mb_cgroup_oom_state(const struct mb_cgroup_oom *g, struct mb_oom_control *out)
{
    char buf[256];
    size_t len = 0;
    int rc = read_group_file(g->root, g->group, "memory.oom_control", buf, sizeof buf, &len);
    if (rc < 0)
        return rc;
    return mb_oom_control_parse(buf, len, out);
}

int mb_cgroup_oom_open(struct mb_cgroup_oom *g, const char *root, const char *group, bool hold)
{
    mb_cgroup_oom_init(g);
    int rc = copy_str(g->root, sizeof g->root, root);
    if (rc == 0)
        rc = copy_str(g->group, sizeof g->group, group);
    if (rc < 0)
        return rc;
    struct mb_oom_control state;
    rc = mb_cgroup_oom_state(g, &state);
    if (rc < 0)
        return rc == -ENODATA || rc == -EINVAL ? -ENOENT : rc;
    g->was_disabled = state.oom_kill_disable;

    char rel[MB_CGROUP_PATH_MAX + 64], full[MBFRAG_PATH_MAX];
    if ((rc = group_file(group, "memory.oom_control", rel, sizeof rel)) < 0 ||
        (rc = mbfrag_root_path(root, rel, full, sizeof full)) < 0)
        return rc;
    g->control_fd = open(full, O_RDONLY | O_CLOEXEC);
    if (g->control_fd < 0) {
        rc = -errno;
        mb_cgroup_oom_close(g);
        return rc;
    }
    g->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (g->event_fd < 0) {
        rc = -errno;
        mb_cgroup_oom_close(g);
        return rc;
    }
    char line[64];
    snprintf(line, sizeof line, "%d %d", g->event_fd, g->control_fd);
    rc = write_group_file(root, group, "cgroup.event_control", line);
    if (rc < 0) {
        mb_cgroup_oom_close(g);
        return rc;
    }
    if (hold && !state.oom_kill_disable) {
        rc = write_group_file(root, group, "memory.oom_control", "1");
        if (rc < 0) {
            mb_cgroup_oom_close(g);
            return rc;
        }
    }
    g->held = hold;
    return 0;
}

int mb_cgroup_oom_fd(const struct mb_cgroup_oom *g)
{
    return g->event_fd;
}

long mb_cgroup_oom_consume(struct mb_cgroup_oom *g)
{
    if (g->event_fd < 0)
        return -EBADF;
    uint64_t count = 0;
    for (;;) {
        ssize_t n = read(g->event_fd, &count, sizeof count);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN ? 0 : -(long)errno;
        if (n != (ssize_t)sizeof count)
            return -EIO;
        g->events += count;
        return count > (uint64_t)LONG_MAX ? LONG_MAX : (long)count;
    }
}

int mb_cgroup_oom_resolve(struct mb_cgroup_oom *g, enum mb_oom_policy policy, uint64_t raise_bytes,
                          struct mb_oom_resolution *out)
{
    memset(out, 0, sizeof *out);
    out->policy = policy;
    if (policy == MB_OOM_POLICY_KILL) {
        int rc = write_group_file(g->root, g->group, "memory.oom_control", "0");
        if (rc == 0)
            g->held = false;
        return rc;
    }
    if (policy != MB_OOM_POLICY_RAISE_LIMIT || raise_bytes == 0)
        return -EINVAL;
    uint64_t limit = 0, memsw = 0, new_limit = 0;
    int rc = read_group_u64(g->root, g->group, "memory.limit_in_bytes", &limit);
    if (rc < 0)
        return rc;
    if (mb_add_u64(limit, raise_bytes, &new_limit) < 0)
        return -EINVAL;
    out->old_limit = limit;
    char text[32];
    snprintf(text, sizeof text, "%" PRIu64, new_limit);
    /* memsw must never be below the memory limit: raise it first. */
    if (read_group_u64(g->root, g->group, "memory.memsw.limit_in_bytes", &memsw) == 0 &&
        memsw < new_limit) {
        rc = write_group_file(g->root, g->group, "memory.memsw.limit_in_bytes", text);
        if (rc < 0)
            return rc;
        out->memsw_raised = true;
    }
    rc = write_group_file(g->root, g->group, "memory.limit_in_bytes", text);
    if (rc < 0)
        return rc;
    /* The kernel rounds to pages: report what it holds now. */
    if (read_group_u64(g->root, g->group, "memory.limit_in_bytes", &out->new_limit) < 0)
        out->new_limit = new_limit;
    return 0;
}

void mb_cgroup_oom_close(struct mb_cgroup_oom *g)
{
    if (g->held && !g->was_disabled)
        (void)write_group_file(g->root, g->group, "memory.oom_control", "0");
    g->held = false;
    if (g->event_fd >= 0)
        close(g->event_fd);
    if (g->control_fd >= 0)
        close(g->control_fd);
    g->event_fd = -1;
    g->control_fd = -1;
}

int mb_cgroup_freeze(const char *root, const char *group, bool freeze, uint32_t timeout_ms)
{
    int rc = write_group_file(root, group, "freezer.state", freeze ? "FROZEN" : "THAWED");
    if (rc < 0 || !freeze)
        return rc;
    for (uint32_t waited = 0;; waited += 10) {
        char buf[32];
        size_t len = 0;
        rc = read_group_file(root, group, "freezer.state", buf, sizeof buf, &len);
        if (rc < 0)
            return rc;
        if (len >= 6 && memcmp(buf, "FROZEN", 6) == 0)
            return 0;
        if (waited >= timeout_ms)
            return -ETIMEDOUT;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}
