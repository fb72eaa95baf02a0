/* trackfs_status.h: trackfs's statistics beside the broker's books in
 * `mbctl status`.
 *
 * A trackfs mount is a broker client named "trackfs"; its own figures
 * (quota held, pages used, stalls, ENOSPC count) are in the mount root's
 * `user.trackfs.stats` attribute (trackfs(8), STATISTICS). mbctl finds the
 * mount point of each such client from its command line (the last
 * argument; relative to its working directory) and reads the attribute.
 * Parsing and printing are pure; finding and reading touch /proc and the
 * mount.
 */
#ifndef MB_TOOLS_TRACKFS_STATUS_H
#define MB_TOOLS_TRACKFS_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MBCTL_TRACKFS_MAX 16u
#define MBCTL_TRACKFS_PATH_MAX 256u

struct mbctl_trackfs {
    uint32_t pid;
    char mountpoint[MBCTL_TRACKFS_PATH_MAX]; /* "" when it could not be found */
    bool have_stats;                         /* the attribute was read and parsed */
    uint64_t quota_pages, used_pages, free_pages, stalls, stall_ms, enospc;
};

struct mbctl_trackfs_list {
    size_t count;
    struct mbctl_trackfs mounts[MBCTL_TRACKFS_MAX];
};

/* Parses the attribute's text into out's figures (out->have_stats set).
 * Returns 0, or -EINVAL when a figure is missing or malformed (out's figures
 * are then left as they were). */
int mbctl_trackfs_parse_stats(const char *text, size_t len, struct mbctl_trackfs *out);

/* The mount point of the trackfs process `pid`: the last argument of
 * <proc>/<pid>/cmdline, made absolute with <proc>/<pid>/cwd when relative.
 * proc is "/proc" in use, a fixture directory in tests. Returns 0 or a
 * negative errno (-ENOENT: no such process; -EINVAL: no argument). */
int mbctl_trackfs_mountpoint(const char *proc, uint32_t pid, char *buf, size_t cap);

/* Reads and parses the statistics attribute of `mountpoint`. Returns 0 or a
 * negative errno (getxattr's, or -EINVAL for text that does not parse). */
int mbctl_trackfs_read_stats(const char *mountpoint, struct mbctl_trackfs *out);

/* The table section (nothing when the list is empty) and the JSON array. */
void mbctl_trackfs_print_table(FILE *out, const struct mbctl_trackfs_list *list);
void mbctl_trackfs_print_json(FILE *out, const struct mbctl_trackfs_list *list);

#endif
