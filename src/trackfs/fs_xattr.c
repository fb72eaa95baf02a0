/* fs_xattr.c: extended attributes, passed through to the backing inode and
 * charged by their size (name length plus value size), and the statistics
 * attribute "user.trackfs.stats" of the root (stats.h).
 *
 * The node's descriptor is O_PATH, which the f*xattr calls refuse, so the
 * calls go through "/proc/self/fd/N", following that magic link to the
 * inode itself (a symlink's own inode for a symlink). A change runs under
 * the inode's stripe lock: the old value's size, the charge, the change,
 * then the books settled, so they equal what the inode stores. */
#include "trackfs/fs.h"

#include "trackfs/stats.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

static const char stats_name[] = "user.trackfs.stats";

static bool is_stats(fuse_ino_t ino, const char *name)
{
    return ino == FUSE_ROOT_ID && strcmp(name, stats_name) == 0;
}

/* The bytes the attribute `name` of path costs now, 0 when it has none. */
static uint64_t attr_cost(const char *path, const char *name)
{
    ssize_t size = getxattr(path, name, NULL, 0);
    return size < 0 ? 0 : strlen(name) + (uint64_t)size;
}

void tfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                  size_t size, int flags)
{
    if (is_stats(ino, name)) {
        fuse_reply_err(req, EPERM);
        return;
    }
    struct tfs_fs *fs = fuse_req_userdata(req);
    struct tfs_node *n = tfs_node_of(req, ino);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", n->fd);
    pthread_mutex_t *lock = tfs_node_stripe(fs, n);
    pthread_mutex_lock(lock);
    uint64_t old = attr_cost(path, name);
    uint64_t cost = strlen(name) + size;
    uint64_t grow = cost > old ? cost - old : 0;
    /* An inode already given back (unlinked after the kernel's lookup) is gone. */
    int err = tfs_node_released(n) ? ENOENT : 0;
    if (err == 0 && grow > 0 && tfs_quota_charge_xattr(&fs->quota, grow) < 0)
        err = ENOSPC;
    if (err == 0 && setxattr(path, name, value, size, flags) < 0) {
        err = errno;
        tfs_quota_release_xattr(&fs->quota, grow);
    } else if (err == 0 && cost < old) {
        tfs_quota_release_xattr(&fs->quota, old - cost);
    }
    pthread_mutex_unlock(lock);
    fuse_reply_err(req, err);
}

/* Replies with `len` bytes of value the way getxattr(2) wants: the size
 * alone when size is 0, ERANGE when it does not fit. */
static void reply_value(fuse_req_t req, const char *value, size_t len, size_t size)
{
    if (size == 0)
        fuse_reply_xattr(req, len);
    else if (len > size)
        fuse_reply_err(req, ERANGE);
    else
        fuse_reply_buf(req, value, len);
}

static void reply_stats(fuse_req_t req, size_t size)
{
    struct tfs_fs *fs = fuse_req_userdata(req);
    struct tfs_quota_stats qs;
    tfs_quota_get_stats(&fs->quota, &qs);
    uint64_t balance = 0;
    if (fs->broker != NULL)
        balance = mb_client_balance(&fs->broker->client);
    char text[TFS_STATS_MAX];
    size_t len = tfs_stats_format(&qs, fs->page_size, fs->broker != NULL ? &balance : NULL,
                                  text, sizeof text);
    reply_value(req, text, len, size);
}

void tfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
    if (is_stats(ino, name)) {
        reply_stats(req, size);
        return;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", tfs_node_of(req, ino)->fd);
    char small[512];
    char *buf = size <= sizeof small ? small : malloc(size);
    if (buf == NULL) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    ssize_t len = getxattr(path, name, size == 0 ? NULL : buf, size);
    if (len < 0)
        fuse_reply_err(req, errno);
    else if (size == 0)
        fuse_reply_xattr(req, (size_t)len);
    else
        fuse_reply_buf(req, buf, (size_t)len);
    if (buf != small)
        free(buf);
}

void tfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
    /* The statistics attribute is not listed: tools that copy every
     * attribute (cp -a, rsync -X) must not carry it off. */
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", tfs_node_of(req, ino)->fd);
    char small[512];
    char *buf = size <= sizeof small ? small : malloc(size);
    if (buf == NULL) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    ssize_t len = listxattr(path, size == 0 ? NULL : buf, size);
    if (len < 0)
        fuse_reply_err(req, errno);
    else if (size == 0)
        fuse_reply_xattr(req, (size_t)len);
    else
        fuse_reply_buf(req, buf, (size_t)len);
    if (buf != small)
        free(buf);
}

void tfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
    if (is_stats(ino, name)) {
        fuse_reply_err(req, EPERM);
        return;
    }
    struct tfs_fs *fs = fuse_req_userdata(req);
    struct tfs_node *n = tfs_node_of(req, ino);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", n->fd);
    pthread_mutex_t *lock = tfs_node_stripe(fs, n);
    pthread_mutex_lock(lock);
    uint64_t old = attr_cost(path, name);
    int err = tfs_node_released(n) ? ENOENT : 0;
    if (err == 0 && removexattr(path, name) < 0)
        err = errno;
    if (err == 0)
        tfs_quota_release_xattr(&fs->quota, old);
    pthread_mutex_unlock(lock);
    fuse_reply_err(req, err);
}
