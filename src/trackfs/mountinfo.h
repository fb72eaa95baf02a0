/* mountinfo.h: is there already a trackfs mount at the mount point? A
 * trackfs killed with SIGKILL leaves its mount behind (every access fails
 * with ENOTCONN); mounting again on top would stack a second one over it,
 * so trackfs looks first and asks for the old one to be unmounted. */
#ifndef TRACKFS_MOUNTINFO_H
#define TRACKFS_MOUNTINFO_H

#include <stdbool.h>
#include <stddef.h>

/* True when the /proc/self/mountinfo text buf[0..len) lists a mount at the
 * absolute path `path` whose filesystem type is `fstype` (as "fuse.trackfs").
 * Mount points are compared after undoing the kernel's octal escapes
 * (\040 for a space). Does not block. */
bool tfs_mountinfo_has(const char *buf, size_t len, const char *path, const char *fstype);

/* Reads /proc/self/mountinfo and answers tfs_mountinfo_has for `path` made
 * absolute (its parent resolved with realpath, so a dead mount itself is
 * never touched). Returns 1, 0, or a negative errno. Blocks on /proc. */
int tfs_mounted_at(const char *path, const char *fstype);

#endif
