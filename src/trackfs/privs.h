/* privs.h: what a write(2) takes from a file's privileges, by the kernel's
 * rules, for the writes the kernel leaves trackfs to apply them to (those
 * of handles opened without the page cache: see fs_privs.c). No FUSE here. */
#ifndef TRACKFS_PRIVS_H
#define TRACKFS_PRIVS_H

#include <stdint.h>
#include <sys/types.h>

/* The extended attribute holding a file's capabilities; any write removes
 * it, whoever writes. */
#define TFS_CAPS_XATTR "security.capability"

/* The mode bits a write by a process without CAP_FSETID clears: set-user-ID,
 * and set-group-ID when group execute is set too (without it the bit marks
 * mandatory locking and stays). 0 for anything but a regular file. */
mode_t tfs_privs_kill_bits(mode_t mode);

/* Whether capability `cap` is in the effective set that the text of a
 * /proc/PID/status file shows (its "CapEff:" line): 1 when it is, 0 when
 * not, -EINVAL when the text has no readable CapEff line or cap > 63. */
int tfs_privs_status_has_cap(const char *status, unsigned cap);

#endif
