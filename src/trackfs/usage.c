/* usage.c: a depth-first walk with openat/fdopendir (no global state, unlike
 * nftw), remembering inodes with several links so each is counted once. */
#include "trackfs/usage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <stdio.h>
#include <sys/xattr.h>
#include <unistd.h>

struct linked_inode {
    uint64_t dev, ino;
};

struct walk {
    uint64_t page_size;
    uint64_t top_dev;
    struct tfs_usage usage;
    struct linked_inode *linked; /* inodes with st_nlink > 1 seen so far */
    size_t linked_count, linked_cap;
};

uint64_t tfs_pages_of_blocks(uint64_t st_blocks, uint64_t page_size)
{
    uint64_t bytes = st_blocks > UINT64_MAX / 512 ? UINT64_MAX : st_blocks * 512;
    return bytes / page_size + (bytes % page_size != 0);
}

/* True when (dev, ino) was seen before; remembers it otherwise. Linear in
 * the hard-linked inodes, which are few on a tmpfs. */
static int seen_before(struct walk *w, uint64_t dev, uint64_t ino)
{
    for (size_t i = 0; i < w->linked_count; i++)
        if (w->linked[i].dev == dev && w->linked[i].ino == ino)
            return 1;
    if (w->linked_count == w->linked_cap) {
        size_t cap = w->linked_cap ? w->linked_cap * 2 : 16;
        struct linked_inode *grown = realloc(w->linked, cap * sizeof *grown);
        if (grown == NULL)
            return -ENOMEM;
        w->linked = grown;
        w->linked_cap = cap;
    }
    w->linked[w->linked_count].dev = dev;
    w->linked[w->linked_count].ino = ino;
    w->linked_count++;
    return 0;
}

uint64_t tfs_xattr_bytes(const char *path, bool follow)
{
    char small[1024];
    char *names = small;
    ssize_t len = follow ? listxattr(path, small, sizeof small) : llistxattr(path, small, sizeof small);
    if (len < 0 && errno == ERANGE) {
        ssize_t need = follow ? listxattr(path, NULL, 0) : llistxattr(path, NULL, 0);
        if (need <= 0 || (names = malloc((size_t)need)) == NULL)
            return 0;
        len = follow ? listxattr(path, names, (size_t)need) : llistxattr(path, names, (size_t)need);
    }
    uint64_t bytes = 0;
    for (ssize_t at = 0; len > 0 && at < len;) {
        const char *name = names + at;
        size_t name_len = strnlen(name, (size_t)(len - at));
        ssize_t value = follow ? getxattr(path, name, NULL, 0) : lgetxattr(path, name, NULL, 0);
        if (value >= 0)
            bytes += name_len + (uint64_t)value;
        at += (ssize_t)name_len + 1;
    }
    if (names != small)
        free(names);
    return bytes;
}

static int walk_dir(struct walk *w, int dirfd)
{
    int fd = dup(dirfd);
    if (fd < 0)
        return -errno;
    DIR *dir = fdopendir(fd);
    if (dir == NULL) {
        int err = -errno;
        close(fd);
        return err;
    }
    /* The duplicate shares the caller's offset: start from the top. */
    rewinddir(dir);
    int rc = 0;
    for (;;) {
        errno = 0;
        const struct dirent *e = readdir(dir);
        if (e == NULL) {
            if (errno != 0)
                rc = -errno;
            break;
        }
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT)
                continue; /* removed meanwhile */
            rc = -errno;
            break;
        }
        if ((uint64_t)st.st_dev != w->top_dev)
            continue;
        if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
            int seen = seen_before(w, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
            if (seen < 0) {
                rc = seen;
                break;
            }
            if (seen)
                continue;
        }
        w->usage.inodes++;
        w->usage.data_pages += tfs_pages_of_blocks((uint64_t)st.st_blocks, w->page_size);
        char path[64 + NAME_MAX];
        snprintf(path, sizeof path, "/proc/self/fd/%d/%s", dirfd, e->d_name);
        w->usage.xattr_bytes += tfs_xattr_bytes(path, false);
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) {
                rc = -errno;
                break;
            }
            rc = walk_dir(w, sub);
            close(sub);
            if (rc < 0)
                break;
        }
    }
    closedir(dir);
    return rc;
}

int tfs_usage_measure(int dirfd, uint64_t page_size, struct tfs_usage *out)
{
    struct stat st;
    if (page_size == 0)
        return -EINVAL;
    if (fstat(dirfd, &st) < 0)
        return -errno;
    struct walk w = {.page_size = page_size, .top_dev = (uint64_t)st.st_dev};
    int rc = walk_dir(&w, dirfd);
    free(w.linked);
    /* The top directory is not an inode of ours, but its attributes are. */
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", dirfd);
    w.usage.xattr_bytes += tfs_xattr_bytes(path, true);
    if (rc == 0)
        *out = w.usage;
    return rc;
}
