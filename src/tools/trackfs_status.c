/* trackfs_status.c: trackfs's statistics for mbctl status (see the header). */
#include "tools/trackfs_status.h"

#include "common/proc_vmstat.h"
#include "tools/status_format.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#define STATS_ATTRIBUTE "user.trackfs.stats"

int mbctl_trackfs_parse_stats(const char *text, size_t len, struct mbctl_trackfs *out)
{
    /* "key value" lines: the same form as /proc/vmstat. */
    static const char *const keys[] = {"quota_pages", "used_pages", "free_pages",
                                       "stalls",      "stall_ms",   "enospc"};
    uint64_t values[sizeof keys / sizeof keys[0]];
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (mb_vmstat_lookup(text, len, keys[i], &values[i]) != 0)
            return -EINVAL;
    out->quota_pages = values[0];
    out->used_pages = values[1];
    out->free_pages = values[2];
    out->stalls = values[3];
    out->stall_ms = values[4];
    out->enospc = values[5];
    out->have_stats = true;
    return 0;
}

/* Reads a whole small /proc file; returns its length or a negative errno. */
static ssize_t read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = 0;
    while (len < cap) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            close(fd);
            return -err;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    return (ssize_t)len;
}

int mbctl_trackfs_mountpoint(const char *proc, uint32_t pid, char *buf, size_t cap)
{
    char path[MBCTL_TRACKFS_PATH_MAX + 64];
    char cmdline[4096];
    snprintf(path, sizeof path, "%s/%u/cmdline", proc, (unsigned)pid);
    ssize_t len = read_file(path, cmdline, sizeof cmdline - 1);
    if (len < 0)
        return (int)len;
    /* Arguments end with NUL; the last one is the mount point. */
    while (len > 0 && cmdline[len - 1] == '\0')
        len--;
    if (len == 0)
        return -EINVAL;
    cmdline[len] = '\0';
    const char *last = cmdline;
    for (ssize_t i = 0; i < len; i++)
        if (cmdline[i] == '\0')
            last = cmdline + i + 1;
    if (last[0] == '\0' || last[0] == '-' || last == cmdline)
        return -EINVAL; /* an option, or the program's name: no mount point */
    if (last[0] == '/') {
        if ((size_t)snprintf(buf, cap, "%s", last) >= cap)
            return -ENAMETOOLONG;
        return 0;
    }
    char cwd[MBCTL_TRACKFS_PATH_MAX];
    snprintf(path, sizeof path, "%s/%u/cwd", proc, (unsigned)pid);
    ssize_t n = readlink(path, cwd, sizeof cwd - 1);
    if (n < 0)
        return -errno;
    cwd[n] = '\0';
    if ((size_t)snprintf(buf, cap, "%s/%s", cwd, last) >= cap)
        return -ENAMETOOLONG;
    return 0;
}

int mbctl_trackfs_read_stats(const char *mountpoint, struct mbctl_trackfs *out)
{
    char text[2048];
    ssize_t len = getxattr(mountpoint, STATS_ATTRIBUTE, text, sizeof text);
    if (len < 0)
        return -errno;
    return mbctl_trackfs_parse_stats(text, (size_t)len, out);
}

void mbctl_trackfs_print_table(FILE *out, const struct mbctl_trackfs_list *list)
{
    if (list->count == 0)
        return;
    fprintf(out, "\n%-7s %7s %-32s %10s %10s %8s %8s\n", "TRACKFS", "PID", "MOUNTPOINT", "QUOTA",
            "USED", "STALLS", "ENOSPC");
    for (size_t i = 0; i < list->count; i++) {
        const struct mbctl_trackfs *t = &list->mounts[i];
        const char *where = t->mountpoint[0] != '\0' ? t->mountpoint : "?";
        if (t->have_stats)
            fprintf(out, "%-7s %7u %-32s %10llu %10llu %8llu %8llu\n", "", (unsigned)t->pid,
                    where, (unsigned long long)t->quota_pages,
                    (unsigned long long)t->used_pages, (unsigned long long)t->stalls,
                    (unsigned long long)t->enospc);
        else
            fprintf(out, "%-7s %7u %-32s %10s %10s %8s %8s\n", "", (unsigned)t->pid, where, "-",
                    "-", "-", "-");
    }
}

void mbctl_trackfs_print_json(FILE *out, const struct mbctl_trackfs_list *list)
{
    fputc('[', out);
    for (size_t i = 0; i < list->count; i++) {
        const struct mbctl_trackfs *t = &list->mounts[i];
        fprintf(out, "%s{\"pid\":%u,\"mountpoint\":", i ? "," : "", (unsigned)t->pid);
        if (t->mountpoint[0] != '\0')
            mbctl_json_string(out, t->mountpoint);
        else
            fputs("null", out);
        if (t->have_stats)
            fprintf(out,
                    ",\"quota_pages\":%llu,\"used_pages\":%llu,\"free_pages\":%llu,"
                    "\"stalls\":%llu,\"stall_ms\":%llu,\"enospc\":%llu}",
                    (unsigned long long)t->quota_pages, (unsigned long long)t->used_pages,
                    (unsigned long long)t->free_pages, (unsigned long long)t->stalls,
                    (unsigned long long)t->stall_ms, (unsigned long long)t->enospc);
        else
            fputs(",\"stats\":null}", out);
    }
    fputc(']', out);
}
