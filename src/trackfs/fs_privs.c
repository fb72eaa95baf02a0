/* fs_privs.c: privileges a write takes away, for handles opened without the
 * page cache.
 *
 * A write-only handle gets FOPEN_DIRECT_IO (set_handle in fs_ops.c): its writes come
 * straight from the writer's memory, a copy fewer. The kernel then skips
 * what it does before a write through the page cache (file_remove_privs),
 * and libfuse 3.14 cannot negotiate FUSE_HANDLE_KILLPRIV_V2 nor pass on the
 * kernel's FUSE_WRITE_KILL_SUIDGID flag; so trackfs applies the kernel's
 * rules itself. Only files without set-ID bits and without a
 * security.capability attribute when opened get such a handle; this covers
 * what is set on them while the handle is open: before each of its writes,
 * set-user-ID and set-group-ID (with group execute) go unless the writing
 * thread has CAP_FSETID in trackfs's user namespace, and security.capability
 * always goes (its bytes leave the books).
 *
 * The backing tmpfs drops security.capability at any write too, trackfs's
 * own included, so it is removed (and given back) here before every write,
 * whatever the handle: a write the kernel did not clear it for (a shared
 * mapping's write-back) would otherwise leave its bytes charged. */
#include "trackfs/fs.h"

#include "common/proc_read.h"
#include "trackfs/privs.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

bool tfs_fd_has_privs(int fd, mode_t mode)
{
    return tfs_privs_kill_bits(mode) != 0 || fgetxattr(fd, TFS_CAPS_XATTR, NULL, 0) >= 0;
}

/* Whether the thread `tid` may write without losing set-ID bits: CAP_FSETID
 * in its effective set, in trackfs's own user namespace. When that cannot
 * be told, no. */
static bool writer_keeps_setid(pid_t tid)
{
    if (tid <= 0)
        return false;
    char path[64];
    struct stat mine, theirs;
    snprintf(path, sizeof path, "/proc/%d/ns/user", (int)tid);
    if (stat(path, &theirs) < 0 || stat("/proc/self/ns/user", &mine) < 0 ||
        theirs.st_ino != mine.st_ino || theirs.st_dev != mine.st_dev)
        return false;
    snprintf(path, sizeof path, "/proc/%d/status", (int)tid);
    char text[4096];
    size_t len = 0;
    int rc = mb_proc_read(path, text, sizeof text - 1, &len);
    if (rc < 0 && rc != -EFBIG) /* the capability lines come early */
        return false;
    text[len] = '\0';
    return tfs_privs_status_has_cap(text, CAP_FSETID) == 1;
}

void tfs_kill_privs(struct tfs_fs *fs, fuse_req_t req, int fd, mode_t mode, bool direct)
{
    mode_t kill = direct ? tfs_privs_kill_bits(mode) : 0;
    if (kill != 0 && !writer_keeps_setid(fuse_req_ctx(req)->pid))
        (void)fchmod(fd, (mode & 07777) & ~kill);
    ssize_t size = fgetxattr(fd, TFS_CAPS_XATTR, NULL, 0);
    if (size >= 0 && fremovexattr(fd, TFS_CAPS_XATTR) == 0)
        tfs_quota_release_xattr(&fs->quota, strlen(TFS_CAPS_XATTR) + (uint64_t)size);
}
