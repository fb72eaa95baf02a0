/* pressure_source_detect.c: see pressure_source_detect.h. */
#include "watch/pressure_source_detect.h"

#include "common/proc_pressure.h"
#include "common/proc_read.h"
#include "watch/pressure_source_parse.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int join(char *out, size_t size, const char *a, const char *b)
{
    /* "/" as a root adds nothing: "/" + "/proc/..." is "/proc/...". */
    if (strcmp(a, "/") == 0)
        a = "";
    int n = snprintf(out, size, "%s%s", a, b);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static bool exists(const char *dir, const char *name)
{
    char path[MBW_PATH_MAX + 64];
    if (join(path, sizeof path, dir, name) < 0)
        return false;
    return access(path, F_OK) == 0;
}

/* Reads dir+name whole into buf; false when it cannot be read. */
static bool read_small(const char *dir, const char *name, char *buf, size_t size, size_t *len)
{
    char path[MBW_PATH_MAX + 64];
    if (join(path, sizeof path, dir, name) < 0)
        return false;
    return mb_proc_read(path, buf, size, len) == 0;
}

static void probe_v2(const char *root, const char *mount, struct mbw_kernel_features *k)
{
    char dir[MBW_PATH_MAX];
    char buf[512];
    size_t len;
    if (k->v2 || join(dir, sizeof dir, root, mount) < 0)
        return;
    if (!read_small(dir, "/cgroup.controllers", buf, sizeof buf, &len))
        return;
    k->v2 = true;
    k->v2_memory = mbw_controllers_include(buf, len, "memory");
    snprintf(k->v2_root, sizeof k->v2_root, "%s", dir);
}

int mbw_detect_kernel(const char *root, struct mbw_kernel_features *k)
{
    memset(k, 0, sizeof *k);
    char buf[512];
    size_t len;
    struct mb_pressure p;
    /* Present but unreadable (EOPNOTSUPP with psi=0 at boot) counts as absent. */
    k->psi = read_small(root, "/proc/pressure/memory", buf, sizeof buf, &len) &&
             mb_pressure_parse(buf, len, &p, NULL) == 0;
    char dir[MBW_PATH_MAX];
    int rc = join(dir, sizeof dir, root, "/sys/fs/cgroup/memory");
    if (rc < 0)
        return rc;
    if (exists(dir, "/cgroup.event_control") && exists(dir, "/memory.usage_in_bytes")) {
        k->v1_memory = true;
        snprintf(k->v1_root, sizeof k->v1_root, "%s", dir);
    }
    probe_v2(root, "/sys/fs/cgroup", k);
    probe_v2(root, "/sys/fs/cgroup/unified", k);
    return 0;
}

int mbw_detect_cgroup(const char *dir, struct mbw_cgroup_features *c)
{
    memset(c, 0, sizeof *c);
    c->limit = MBW_CGROUP_UNLIMITED;
    if (strlen(dir) >= MBW_PATH_MAX)
        return -ENAMETOOLONG;
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return -ENOENT;
    bool control = exists(dir, "/cgroup.event_control");
    c->v1_pressure_level = control && exists(dir, "/memory.pressure_level");
    c->v1_usage = control && exists(dir, "/memory.usage_in_bytes");
    c->v1_oom = control && exists(dir, "/memory.oom_control");
    c->v2_events = exists(dir, "/memory.events");
    char buf[512];
    size_t len;
    struct mb_pressure p;
    c->psi = read_small(dir, "/memory.pressure", buf, sizeof buf, &len) &&
             mb_pressure_parse(buf, len, &p, NULL) == 0;
    uint64_t limit;
    if ((read_small(dir, "/memory.limit_in_bytes", buf, sizeof buf, &len) ||
         read_small(dir, "/memory.max", buf, sizeof buf, &len)) &&
        mbw_parse_cgroup_value(buf, len, &limit) == 0)
        c->limit = limit;
    if (!c->v1_pressure_level && !c->v1_usage && !c->v1_oom && !c->v2_events && !c->psi)
        return -ENOTSUP;
    return 0;
}
