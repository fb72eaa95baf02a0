/* test_usage.c: measuring a backing tree: recursion, hard links once,
 * sparse files by what they store. */
#include "trackfs/usage.h"

#include "mbtest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static void test_pages_of_blocks(void)
{
    MBT_EQ_U64(0, tfs_pages_of_blocks(0, 4096));
    MBT_EQ_U64(1, tfs_pages_of_blocks(1, 4096));
    MBT_EQ_U64(1, tfs_pages_of_blocks(8, 4096));
    MBT_EQ_U64(2, tfs_pages_of_blocks(9, 4096));
    MBT_EQ_U64(1, tfs_pages_of_blocks(128, 65536));
}

static void test_measure_tree(void)
{
    char top[] = "/tmp/tfs-usage.XXXXXX";
    MBT_REQUIRE(mkdtemp(top) != NULL);
    int dir = open(top, O_RDONLY | O_DIRECTORY);
    MBT_REQUIRE(dir >= 0);
    int fd = openat(dir, "data", O_CREAT | O_WRONLY, 0600);
    MBT_REQUIRE(fd >= 0);
    static char block[3 * 4096];
    memset(block, 'x', sizeof block);
    MBT_EQ_I64((int64_t)sizeof block, (int64_t)write(fd, block, sizeof block));
    MBT_EQ_INT(0, fsync(fd));
    struct stat st;
    MBT_EQ_INT(0, fstat(fd, &st));
    close(fd);
    uint64_t page = 4096;
    uint64_t data_pages = tfs_pages_of_blocks((uint64_t)st.st_blocks, page);
    MBT_CHECK(data_pages >= 3);
    MBT_EQ_INT(0, linkat(dir, "data", dir, "link", 0));
    MBT_EQ_INT(0, mkdirat(dir, "sub", 0700));
    fd = openat(dir, "sub/sparse", O_CREAT | O_WRONLY, 0600);
    MBT_REQUIRE(fd >= 0);
    MBT_EQ_INT(0, ftruncate(fd, 1 << 20));
    struct stat sparse;
    MBT_EQ_INT(0, fstat(fd, &sparse));
    close(fd);
    MBT_EQ_INT(0, symlinkat("data", dir, "sub/sym"));
    struct stat sub, sym;
    MBT_EQ_INT(0, fstatat(dir, "sub", &sub, 0));
    MBT_EQ_INT(0, fstatat(dir, "sub/sym", &sym, AT_SYMLINK_NOFOLLOW));

    struct tfs_usage u;
    MBT_EQ_INT(0, tfs_usage_measure(dir, page, &u));
    MBT_EQ_U64(4, u.inodes); /* data (twice linked), sub, sparse, sym */
    MBT_EQ_U64(data_pages + tfs_pages_of_blocks((uint64_t)sparse.st_blocks, page) +
                   tfs_pages_of_blocks((uint64_t)sub.st_blocks, page) +
                   tfs_pages_of_blocks((uint64_t)sym.st_blocks, page),
               u.data_pages);
    MBT_EQ_U64(0, tfs_pages_of_blocks((uint64_t)sparse.st_blocks, page) > 1); /* holes are free */
    MBT_EQ_INT(-EINVAL, tfs_usage_measure(dir, 0, &u));

    /* Extended attributes: name length plus value size, a hard-linked
     * inode's once. Where the filesystem has no user xattrs, say so. */
    char data_path[64], sub_path[64];
    snprintf(data_path, sizeof data_path, "%s/data", top);
    snprintf(sub_path, sizeof sub_path, "%s/sub", top);
    uint64_t base = u.xattr_bytes;
    if (setxattr(data_path, "user.a", "hello", 5, 0) == 0) {
        MBT_EQ_INT(0, setxattr(sub_path, "user.bb", "xyz", 3, 0));
        MBT_EQ_U64(11, tfs_xattr_bytes(data_path, false));
        MBT_EQ_INT(0, tfs_usage_measure(dir, page, &u));
        MBT_EQ_U64(base + 11 + 10, u.xattr_bytes);
        MBT_EQ_INT(0, setxattr(top, "user.top", "1234", 4, 0)); /* the top's count too */
        MBT_EQ_INT(0, tfs_usage_measure(dir, page, &u));
        MBT_EQ_U64(base + 11 + 10 + 12, u.xattr_bytes);
        MBT_EQ_U64(0, tfs_xattr_bytes("/nonexistent/x", true));
    } else {
        printf("test_measure_tree: %s has no user xattrs (%s): that part is skipped\n", top,
               strerror(errno));
    }

    unlinkat(dir, "sub/sym", 0);
    unlinkat(dir, "sub/sparse", 0);
    unlinkat(dir, "sub", AT_REMOVEDIR);
    unlinkat(dir, "link", 0);
    unlinkat(dir, "data", 0);
    close(dir);
    rmdir(top);
}

int main(void)
{
    MBT_RUN(test_pages_of_blocks);
    MBT_RUN(test_measure_tree);
    return mbt_finish();
}
