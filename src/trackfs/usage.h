/* usage.h: what a backing directory already stores, in trackfs's terms
 * (data pages from st_blocks, and inodes), measured at mount so the quota
 * for it is reserved before anything is served. */
#ifndef TRACKFS_USAGE_H
#define TRACKFS_USAGE_H

#include <stdbool.h>
#include <stdint.h>

struct tfs_usage {
    uint64_t data_pages; /* sum over distinct inodes of their st_blocks in pages */
    uint64_t inodes;     /* distinct inodes below the top directory (not itself) */
    uint64_t xattr_bytes; /* extended attributes of those and of the top directory:
                             name lengths plus value sizes */
};

/* The bytes the extended attributes of `path` cost: the sum over its
 * attributes of the name's length plus the value's size. follow: follow a
 * final symlink (as for "/proc/self/fd/N" of an O_PATH descriptor); else
 * the link itself. 0 when there are none or they cannot be read. Blocks on
 * the filesystem. */
uint64_t tfs_xattr_bytes(const char *path, bool follow);

/* Pages that st_blocks (512-byte units) occupy, rounded up. page_size > 0. */
uint64_t tfs_pages_of_blocks(uint64_t st_blocks, uint64_t page_size);

/* Walks the tree below the directory `dirfd` (not following symlinks, not
 * crossing into other filesystems: their storage is not ours), counting
 * each hard-linked inode once. Returns 0, or a negative errno from the
 * first directory that could not be read (-ENOMEM when the set of
 * hard-linked inodes cannot grow). Blocks on the filesystem. dirfd is not
 * closed. */
int tfs_usage_measure(int dirfd, uint64_t page_size, struct tfs_usage *out);

#endif
