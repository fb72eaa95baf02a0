/* fs.h: the mounted filesystem's state, shared by trackfs.c (set-up) and
 * fs_ops.c (the FUSE low-level operations). */
#ifndef TRACKFS_FS_H
#define TRACKFS_FS_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "trackfs/broker_link.h"
#include "trackfs/inode_table.h"
#include "trackfs/quota.h"

/* Striped locks serialise storage changes of one backing inode (the
 * charge, the change and the settle) without one lock for all data. */
#define TFS_LOCK_STRIPES 64u

struct tfs_fs {
    int root_fd;          /* the backing directory */
    struct tfs_node root; /* FUSE_ROOT_ID; never forgotten, not in the table */
    struct tfs_inode_table table;
    struct tfs_quota quota;
    struct tfs_broker_link *broker; /* NULL: standalone */
    uint64_t page_size;
    double timeout_s; /* attribute and entry cache time */
    pthread_mutex_t stripes[TFS_LOCK_STRIPES];
};

/* The operations table. */
extern const struct fuse_lowlevel_ops tfs_ops;

/* Sets up fs over the open directory root_fd (taken over). Returns 0 or a
 * negative errno. The quota must be initialised by the caller. */
int tfs_fs_init(struct tfs_fs *fs, int root_fd);

/* Frees every node and closes the descriptors. */
void tfs_fs_destroy(struct tfs_fs *fs);

/* The node the kernel names ino (the root's for FUSE_ROOT_ID). */
struct tfs_node *tfs_node_of(fuse_req_t req, fuse_ino_t ino);

/* The stripe lock of the node's backing inode. */
pthread_mutex_t *tfs_node_stripe(struct tfs_fs *fs, const struct tfs_node *n);

/* True when the node's inode has no link left and its storage was already
 * given back (it was not open when its last link went): nothing may be
 * charged to it any more. A request may still name it when it raced with
 * the unlink (looked up before, arrived after). Under the node's stripe
 * lock. */
bool tfs_node_released(const struct tfs_node *n);

/* A file handle's fh: the backing descriptor in the low 32 bits, and this
 * flag when the handle was opened without the page cache (direct_io). */
#define TFS_FH_DIRECT (UINT64_C(1) << 32)

/* Privileges a write takes away (fs_privs.c). Whether the open regular
 * file fd (mode: its st_mode) has set-ID bits a write would clear or a
 * security.capability attribute. */
bool tfs_fd_has_privs(int fd, mode_t mode);
/* Before a write to the open descriptor fd (mode: its st_mode now), under
 * the inode's stripe lock: removes security.capability (with its bytes
 * from the books) and, for a direct_io handle, the set-ID bits the kernel
 * would have cleared. */
void tfs_kill_privs(struct tfs_fs *fs, fuse_req_t req, int fd, mode_t mode, bool direct);

/* Extended attributes and the statistics attribute (fs_xattr.c). */
void tfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                  size_t size, int flags);
void tfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void tfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void tfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

#endif
