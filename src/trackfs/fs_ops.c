/* fs_ops.c: the FUSE low-level operations, passed through to the backing
 * directory, with quota taken before storage grows and given back after it
 * shrinks.
 *
 * Every node keeps an O_PATH descriptor of its backing inode, so renames
 * elsewhere never confuse it; operations on the inode itself go through
 * "/proc/self/fd/N" or AT_EMPTY_PATH. A storage change runs under the
 * inode's stripe lock: fstat (before), charge what it may add, change,
 * fstat (after), settle the difference. So the books equal st_blocks of
 * every inode whenever no change is running.
 *
 * Names race with other threads: unlink and rename look the name's inode
 * up, lock it and check the name still leads there (else retry); link takes
 * the inode's lock so a last unlink sees it; a rename with nothing to
 * replace is done with RENAME_NOREPLACE, so a target created meanwhile is
 * never replaced unaccounted; and an inode whose storage was given back
 * (last link gone while not open) but that a request still names (looked
 * up before the unlink) is charged again when opened, until its last
 * close, and refuses attribute changes with ENOENT. */
#include "trackfs/fs.h"

#include "common/numparse.h"
#include "common/proc_read.h"
#include "trackfs/fuse_ring.h"
#include "trackfs/usage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static struct tfs_fs *fs_of(fuse_req_t req)
{
    return fuse_req_userdata(req);
}

struct tfs_node *tfs_node_of(fuse_req_t req, fuse_ino_t ino)
{
    if (ino == FUSE_ROOT_ID)
        return &fs_of(req)->root;
    /* The low-level API hands back the value given at lookup: the node's address. */
    return (struct tfs_node *)(uintptr_t)ino; // NOLINT(performance-no-int-to-ptr)
}

static pthread_mutex_t *stripe_of(struct tfs_fs *fs, uint64_t dev, uint64_t ino)
{
    uint64_t h = (ino ^ (dev << 17)) * UINT64_C(0x9e3779b97f4a7c15);
    return &fs->stripes[(h >> 32) % TFS_LOCK_STRIPES];
}

pthread_mutex_t *tfs_node_stripe(struct tfs_fs *fs, const struct tfs_node *n)
{
    return stripe_of(fs, n->dev, n->ino);
}

bool tfs_node_released(const struct tfs_node *n)
{
    struct stat st;
    return !n->unlinked && fstatat(n->fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0 &&
           st.st_nlink == 0;
}

/* The backing descriptor of an open file handle. */
static int handle_fd(const struct fuse_file_info *fi)
{
    return (int)(fi->fh & UINT32_MAX);
}

static void proc_path(char *buf, size_t size, int fd)
{
    snprintf(buf, size, "/proc/self/fd/%d", fd);
}

static uint64_t data_pages(const struct tfs_fs *fs, const struct stat *st)
{
    return tfs_pages_of_blocks((uint64_t)st->st_blocks, fs->page_size);
}

/* Data pages of an open file, 0 when fstat fails. */
static uint64_t fd_pages(const struct tfs_fs *fs, int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? data_pages(fs, &st) : 0;
}

/* Pages of [off, off+len) the file does not store yet: what a write or an
 * allocation there may add. Exact on tmpfs (SEEK_DATA/SEEK_HOLE in pages);
 * where those are unsupported every page of the range counts. */
static uint64_t unstored_pages(int fd, uint64_t off, uint64_t len, uint64_t page)
{
    if (len == 0)
        return 0;
    uint64_t pos = off / page * page;
    uint64_t end = (off + len + page - 1) / page * page;
    uint64_t missing = 0;
    while (pos < end) {
        off_t data = lseek(fd, (off_t)pos, SEEK_DATA);
        if (data < 0) {
            if (errno == ENXIO) /* no data from pos on */
                return missing + (end - pos) / page;
            return (end - off / page * page) / page;
        }
        uint64_t d = (uint64_t)data;
        if (d >= end)
            return missing + (end - pos) / page;
        if (d > pos)
            missing += (d - pos) / page;
        off_t hole = lseek(fd, (off_t)d, SEEK_HOLE);
        if (hole < 0)
            return (end - off / page * page) / page;
        pos = ((uint64_t)hole + page - 1) / page * page;
    }
    return missing;
}

/* Looks `name` up below parent and fills e with one more lookup on its node.
 * Returns 0 or an errno. */
static int lookup_entry(struct tfs_fs *fs, struct tfs_node *parent, const char *name,
                        struct fuse_entry_param *e)
{
    memset(e, 0, sizeof *e);
    int fd = openat(parent->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno;
    if (fstatat(fd, "", &e->attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
        int err = errno;
        close(fd);
        return err;
    }
    struct tfs_node *fresh = calloc(1, sizeof *fresh);
    if (fresh == NULL) {
        close(fd);
        return ENOMEM;
    }
    fresh->dev = (uint64_t)e->attr.st_dev;
    fresh->ino = (uint64_t)e->attr.st_ino;
    fresh->fd = fd;
    struct tfs_node *node = tfs_inode_table_ref(&fs->table, fresh);
    if (node != fresh) {
        close(fd);
        free(fresh);
        if (node == NULL)
            return ENOMEM;
    }
    e->ino = (fuse_ino_t)(uintptr_t)node;
    e->attr_timeout = fs->timeout_s;
    e->entry_timeout = fs->timeout_s;
    return 0;
}

static void free_node(struct tfs_node *n, void *arg)
{
    (void)arg;
    if (n->fd >= 0)
        close(n->fd);
    free(n);
}

int tfs_fs_init(struct tfs_fs *fs, int root_fd)
{
    struct stat st;
    if (fstat(root_fd, &st) < 0)
        return -errno;
    int rc = tfs_inode_table_init(&fs->table);
    if (rc < 0)
        return rc;
    fs->root_fd = root_fd;
    memset(&fs->root, 0, sizeof fs->root);
    fs->root.fd = root_fd;
    fs->root.dev = (uint64_t)st.st_dev;
    fs->root.ino = (uint64_t)st.st_ino;
    fs->root.lookups = 1;
    for (unsigned i = 0; i < TFS_LOCK_STRIPES; i++)
        pthread_mutex_init(&fs->stripes[i], NULL);
    return 0;
}

void tfs_fs_destroy(struct tfs_fs *fs)
{
    tfs_inode_table_destroy(&fs->table, free_node, NULL);
    for (unsigned i = 0; i < TFS_LOCK_STRIPES; i++)
        pthread_mutex_destroy(&fs->stripes[i]);
    if (fs->root_fd >= 0)
        close(fs->root_fd);
    fs->root_fd = -1;
}

/* The bytes of extended attributes the entry `name` below dir stores. */
static uint64_t entry_xattr_bytes(int dirfd, const char *name)
{
    char path[64 + NAME_MAX];
    snprintf(path, sizeof path, "/proc/self/fd/%d/%s", dirfd, name);
    return tfs_xattr_bytes(path, false);
}

/* The last link of an inode is gone (st: its state just before, xattr_bytes
 * what its attributes cost). Its storage is freed now, or at the last close
 * when it is still open. Under the inode's stripe lock. */
static void last_link_gone(struct tfs_fs *fs, const struct stat *st, uint64_t xattr_bytes)
{
    if (tfs_inode_table_mark_unlinked_if_open(&fs->table, (uint64_t)st->st_dev,
                                              (uint64_t)st->st_ino))
        return;
    struct tfs_node *n = tfs_inode_table_find(&fs->table, (uint64_t)st->st_dev,
                                              (uint64_t)st->st_ino);
    if (n != NULL && S_ISREG(st->st_mode)) {
        /* Our O_PATH descriptor keeps the data alive until FORGET: free it. */
        char path[64];
        proc_path(path, sizeof path, n->fd);
        int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd >= 0)
            close(fd);
    }
    tfs_quota_release(&fs->quota, data_pages(fs, st), 1);
    tfs_quota_release_xattr(&fs->quota, xattr_bytes);
}

/* The largest max_write whose requests libfuse can splice: its pipe must
 * hold the request (a page for the header, then the data), and it asks for
 * max_write plus FUSE_BUFFER_HEADER_SIZE (4 KiB) bytes. Beyond
 * /proc/sys/fs/pipe-max-size (1 MiB by default) a pipe grows only with
 * CAP_SYS_RESOURCE. 0 when no pipe of a useful size can be had. */
static unsigned splice_max_write(unsigned max_write, uint64_t page)
{
    const unsigned header = 4096;
    int p[2];
    if (max_write < header || max_write > INT_MAX - header || pipe2(p, O_CLOEXEC) < 0)
        return 0;
    int got = fcntl(p[0], F_SETPIPE_SZ, (int)(max_write + header));
    if (got < 0) {
        char text[32];
        size_t len = 0;
        uint64_t limit = 0;
        if (mb_proc_read("/proc/sys/fs/pipe-max-size", text, sizeof text, &len) < 0 ||
            mb_parse_u64_prefix(text, len, &limit) <= 0)
            limit = 0;
        got = limit > 0 && limit <= INT_MAX ? fcntl(p[0], F_SETPIPE_SZ, (int)limit) : -1;
    }
    close(p[0]);
    close(p[1]);
    if (got < 0 || (unsigned)got <= header)
        return 0;
    unsigned fits = ((unsigned)got - header) / (unsigned)page * (unsigned)page;
    if (fits > max_write)
        fits = max_write;
    return fits >= 64u * 1024u ? fits : 0;
}

static void tfs_init(void *userdata, struct fuse_conn_info *conn)
{
    struct tfs_fs *fs = userdata;
    /* Writes must arrive one by one so each is charged before it lands. */
    conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
    /* Reads are answered by splicing from the backing file into the
     * reply (tfs_read): about three times the read rate of a copy. */
    conn->want |= conn->capable & (FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
    /* Written data is spliced from the kernel into the backing file
     * (tfs_write_buf), when a pipe can hold a whole request: else max_write
     * shrinks to what one can (1 MiB less 4 KiB without CAP_SYS_RESOURCE),
     * which measured faster than whole 1 MiB requests copied. */
    unsigned spliced = (conn->capable & FUSE_CAP_SPLICE_READ)
                           ? splice_max_write(conn->max_write, fs->page_size)
                           : 0;
    if (spliced > 0) {
        conn->want |= FUSE_CAP_SPLICE_READ;
        conn->max_write = spliced;
    } else {
        conn->want &= ~(unsigned)FUSE_CAP_SPLICE_READ;
    }
}

static void tfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct tfs_fs *fs = fs_of(req);
    struct fuse_entry_param e;
    int err = lookup_entry(fs, tfs_node_of(req, parent), name, &e);
    if (err == ENOENT) {
        /* A negative entry the kernel keeps as long as a positive one: a
         * name looked for again (a search path, a lock file) costs no
         * request. Whatever makes the name through this mount replaces it. */
        memset(&e, 0, sizeof e);
        e.entry_timeout = fs->timeout_s;
        fuse_reply_entry(req, &e);
    } else if (err != 0) {
        fuse_reply_err(req, err);
    } else {
        fuse_reply_entry(req, &e);
    }
}

static void forget_one(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    if (ino == FUSE_ROOT_ID)
        return;
    struct tfs_node *n = tfs_node_of(req, ino);
    if (tfs_inode_table_unref(&fs_of(req)->table, n, nlookup))
        free_node(n, NULL);
}

static void tfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    forget_one(req, ino, nlookup);
    fuse_reply_none(req);
}

static void tfs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
    for (size_t i = 0; i < count; i++)
        forget_one(req, forgets[i].ino, forgets[i].nlookup);
    fuse_reply_none(req);
}

static void tfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)fi;
    struct stat st;
    if (fstatat(tfs_node_of(req, ino)->fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
        fuse_reply_err(req, errno);
    else
        fuse_reply_attr(req, &st, fs_of(req)->timeout_s);
}

/* Changes the size (truncate) with the books kept. Returns 0 or an errno. */
static int set_size(struct tfs_fs *fs, struct tfs_node *n, struct fuse_file_info *fi, off_t size)
{
    pthread_mutex_t *lock = tfs_node_stripe(fs, n);
    pthread_mutex_lock(lock);
    int fd = fi != NULL ? handle_fd(fi) : -1;
    int own = -1;
    if (fd < 0) {
        char path[64];
        proc_path(path, sizeof path, n->fd);
        own = open(path, O_WRONLY | O_CLOEXEC);
        if (own < 0) {
            int err = errno;
            pthread_mutex_unlock(lock);
            return err;
        }
        fd = own;
    }
    uint64_t before = fd_pages(fs, fd);
    int err = ftruncate(fd, size) < 0 ? errno : 0;
    tfs_quota_settle(&fs->quota, 0, before, fd_pages(fs, fd));
    if (own >= 0)
        close(own);
    pthread_mutex_unlock(lock);
    return err;
}

static void tfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                        struct fuse_file_info *fi)
{
    struct tfs_fs *fs = fs_of(req);
    struct tfs_node *n = tfs_node_of(req, ino);
    char path[64];
    proc_path(path, sizeof path, n->fd);
    if (to_set & FUSE_SET_ATTR_MODE) {
        int rc = fi != NULL ? fchmod(handle_fd(fi), attr->st_mode) : chmod(path, attr->st_mode);
        if (rc < 0) {
            fuse_reply_err(req, errno);
            return;
        }
    }
    if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
        uid_t uid = (to_set & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
        gid_t gid = (to_set & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;
        if (fchownat(n->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
            fuse_reply_err(req, errno);
            return;
        }
    }
    if (to_set & FUSE_SET_ATTR_SIZE) {
        int err = set_size(fs, n, fi, attr->st_size);
        if (err != 0) {
            fuse_reply_err(req, err);
            return;
        }
    }
    if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
        struct timespec tv[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_nsec = UTIME_OMIT}};
        if (to_set & FUSE_SET_ATTR_ATIME_NOW)
            tv[0].tv_nsec = UTIME_NOW;
        else if (to_set & FUSE_SET_ATTR_ATIME)
            tv[0] = attr->st_atim;
        if (to_set & FUSE_SET_ATTR_MTIME_NOW)
            tv[1].tv_nsec = UTIME_NOW;
        else if (to_set & FUSE_SET_ATTR_MTIME)
            tv[1] = attr->st_mtim;
        int rc = fi != NULL ? futimens(handle_fd(fi), tv) : utimensat(AT_FDCWD, path, tv, 0);
        if (rc < 0) {
            fuse_reply_err(req, errno);
            return;
        }
    }
    tfs_getattr(req, ino, fi);
}

/* After a new inode appeared under parent as name: owned by the caller,
 * looked up into e. Its group is the caller's, unless the parent is a
 * set-group-ID directory: then it keeps the directory's group, which the
 * backing filesystem gave it. On failure the name is removed again.
 * Returns 0 or an errno. */
static int finish_new(fuse_req_t req, struct tfs_node *parent, const char *name, bool is_dir,
                      struct fuse_entry_param *e)
{
    const struct fuse_ctx *ctx = fuse_req_ctx(req);
    struct stat dir;
    gid_t gid = ctx->gid;
    if (fstatat(parent->fd, "", &dir, AT_EMPTY_PATH) == 0 && (dir.st_mode & S_ISGID))
        gid = (gid_t)-1;
    int err = 0;
    if (fchownat(parent->fd, name, ctx->uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
        err = errno;
    if (err == 0)
        err = lookup_entry(fs_of(req), parent, name, e);
    if (err != 0)
        unlinkat(parent->fd, name, is_dir ? AT_REMOVEDIR : 0);
    return err;
}

static void make_node(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                      dev_t rdev, const char *link_target)
{
    struct tfs_fs *fs = fs_of(req);
    struct tfs_node *p = tfs_node_of(req, parent);
    /* A long symlink may take a page of its own: charged, then settled. */
    uint64_t guess = link_target != NULL ? 1 : 0;
    if (tfs_quota_charge(&fs->quota, guess, 1) < 0) {
        fuse_reply_err(req, ENOSPC);
        return;
    }
    int rc;
    if (link_target != NULL)
        rc = symlinkat(link_target, p->fd, name);
    else if (S_ISDIR(mode))
        rc = mkdirat(p->fd, name, mode & 07777);
    else
        rc = mknodat(p->fd, name, mode, rdev);
    int err = rc < 0 ? errno : 0;
    struct fuse_entry_param e;
    if (err == 0)
        err = finish_new(req, p, name, S_ISDIR(mode), &e);
    if (err != 0) {
        tfs_quota_release(&fs->quota, guess, 1);
        fuse_reply_err(req, err);
        return;
    }
    tfs_quota_settle(&fs->quota, guess, 0, data_pages(fs, &e.attr));
    fuse_reply_entry(req, &e);
}

static void tfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                      dev_t rdev)
{
    make_node(req, parent, name, mode, rdev, NULL);
}

static void tfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
    make_node(req, parent, name, S_IFDIR | mode, 0, NULL);
}

static void tfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
    make_node(req, parent, name, S_IFLNK | 0777, 0, link);
}

static void tfs_readlink(fuse_req_t req, fuse_ino_t ino)
{
    char buf[PATH_MAX + 1];
    ssize_t n = readlinkat(tfs_node_of(req, ino)->fd, "", buf, sizeof buf);
    if (n < 0) {
        fuse_reply_err(req, errno);
        return;
    }
    if ((size_t)n >= sizeof buf) {
        fuse_reply_err(req, ENAMETOOLONG);
        return;
    }
    buf[n] = '\0';
    fuse_reply_readlink(req, buf);
}

static void tfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
    struct tfs_node *n = tfs_node_of(req, ino);
    struct tfs_node *p = tfs_node_of(req, newparent);
    /* Under the inode's lock, so a concurrent unlink of its other name
     * either sees this link or makes linkat fail (ENOENT). */
    pthread_mutex_t *lock = tfs_node_stripe(fs_of(req), n);
    pthread_mutex_lock(lock);
    int rc = linkat(n->fd, "", p->fd, newname, AT_EMPTY_PATH);
    int link_err = errno;
    pthread_mutex_unlock(lock);
    if (rc < 0) {
        fuse_reply_err(req, link_err);
        return;
    }
    struct fuse_entry_param e;
    int err = lookup_entry(fs_of(req), p, newname, &e);
    if (err != 0)
        fuse_reply_err(req, err);
    else
        fuse_reply_entry(req, &e);
}

/* Removes a name (unlink, rmdir) and gives back what the inode stored when
 * that was its last link. */
static void remove_name(fuse_req_t req, fuse_ino_t parent, const char *name, int flags)
{
    struct tfs_fs *fs = fs_of(req);
    struct tfs_node *p = tfs_node_of(req, parent);
    struct stat st, now;
    pthread_mutex_t *lock;
    int err;
    for (;;) {
        if (fstatat(p->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            fuse_reply_err(req, errno);
            return;
        }
        lock = stripe_of(fs, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
        pthread_mutex_lock(lock);
        /* The state under the lock: a write may have finished meanwhile,
         * or a rename put another inode (under another lock) at the name. */
        err = fstatat(p->fd, name, &now, AT_SYMLINK_NOFOLLOW) < 0 ? errno : 0;
        if (err != 0 || (now.st_dev == st.st_dev && now.st_ino == st.st_ino))
            break;
        pthread_mutex_unlock(lock);
    }
    st = now;
    bool last = (flags & AT_REMOVEDIR) || st.st_nlink <= 1;
    uint64_t xattrs = err == 0 && last ? entry_xattr_bytes(p->fd, name) : 0;
    if (err == 0 && unlinkat(p->fd, name, flags) < 0)
        err = errno;
    if (err == 0) {
        if (flags & AT_REMOVEDIR) {
            tfs_quota_release(&fs->quota, data_pages(fs, &st), 1);
            tfs_quota_release_xattr(&fs->quota, xattrs);
        } else if (last) {
            last_link_gone(fs, &st, xattrs);
        }
    }
    pthread_mutex_unlock(lock);
    fuse_reply_err(req, err);
}

static void tfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    remove_name(req, parent, name, 0);
}

static void tfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    remove_name(req, parent, name, AT_REMOVEDIR);
}

static void tfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                       const char *newname, unsigned int flags)
{
    struct tfs_fs *fs = fs_of(req);
    struct tfs_node *p = tfs_node_of(req, parent);
    struct tfs_node *np = tfs_node_of(req, newparent);
    if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
        fuse_reply_err(req, EINVAL); /* whiteouts (overlayfs's) are not offered */
        return;
    }
    if (flags & RENAME_EXCHANGE) {
        /* Both inodes keep their storage: nothing to charge or give back. */
        fuse_reply_err(req, renameat2(p->fd, name, np->fd, newname, flags) < 0 ? errno : 0);
        return;
    }
    struct stat src, dst, now;
    pthread_mutex_t *lock;
    for (;;) {
        if (fstatat(p->fd, name, &src, AT_SYMLINK_NOFOLLOW) < 0) {
            fuse_reply_err(req, errno);
            return;
        }
        if (fstatat(np->fd, newname, &dst, AT_SYMLINK_NOFOLLOW) < 0) {
            /* Nothing to replace: make sure nothing is, since a target
             * created meanwhile would go without its quota given back. */
            if (renameat2(p->fd, name, np->fd, newname, flags | RENAME_NOREPLACE) == 0) {
                fuse_reply_err(req, 0);
                return;
            }
            int err = errno;
            if (err == EEXIST && !(flags & RENAME_NOREPLACE))
                continue;
            if (err == EINVAL && !(flags & RENAME_NOREPLACE)) /* a backing fs without the flag */
                err = renameat2(p->fd, name, np->fd, newname, flags) < 0 ? errno : 0;
            fuse_reply_err(req, err);
            return;
        }
        if (dst.st_dev == src.st_dev && dst.st_ino == src.st_ino) {
            /* Two links of one inode: nothing moves. */
            fuse_reply_err(req, renameat2(p->fd, name, np->fd, newname, flags) < 0 ? errno : 0);
            return;
        }
        lock = stripe_of(fs, (uint64_t)dst.st_dev, (uint64_t)dst.st_ino);
        pthread_mutex_lock(lock);
        if (fstatat(np->fd, newname, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
            now.st_dev == dst.st_dev && now.st_ino == dst.st_ino)
            break;
        pthread_mutex_unlock(lock); /* the target changed meanwhile */
    }
    dst = now;
    bool last = S_ISDIR(dst.st_mode) || dst.st_nlink <= 1;
    uint64_t xattrs = last ? entry_xattr_bytes(np->fd, newname) : 0;
    int err = renameat2(p->fd, name, np->fd, newname, flags) < 0 ? errno : 0;
    if (err == 0 && last) {
        if (S_ISDIR(dst.st_mode)) {
            tfs_quota_release(&fs->quota, data_pages(fs, &dst), 1);
            tfs_quota_release_xattr(&fs->quota, xattrs);
        } else {
            last_link_gone(fs, &dst, xattrs);
        }
    }
    pthread_mutex_unlock(lock);
    fuse_reply_err(req, err);
}

/* Opens the node's inode for I/O with the open(2) flags. Returns the fd or
 * -errno. O_TRUNC is settled with the books. */
static int open_node(struct tfs_fs *fs, struct tfs_node *n, int flags)
{
    char path[64];
    proc_path(path, sizeof path, n->fd);
    flags &= ~(O_NOFOLLOW | O_CREAT | O_EXCL);
    flags |= O_CLOEXEC;
    if (!(flags & O_TRUNC)) {
        int fd = open(path, flags);
        return fd < 0 ? -errno : fd;
    }
    pthread_mutex_t *lock = tfs_node_stripe(fs, n);
    pthread_mutex_lock(lock);
    struct stat st;
    uint64_t before = fstatat(n->fd, "", &st, AT_EMPTY_PATH) == 0 ? data_pages(fs, &st) : 0;
    int fd = open(path, flags);
    int rc = fd < 0 ? -errno : fd;
    if (fd >= 0)
        tfs_quota_settle(&fs->quota, 0, before, fd_pages(fs, fd));
    pthread_mutex_unlock(lock);
    return rc;
}

/* Sets the handle up (fh) for the open descriptor fd. A write-only handle
 * of a file without privileges a write would take is opened without the
 * page cache (direct_io): its writes come straight from the writer's
 * memory, a copy fewer, and the kernel stops asking for
 * security.capability before each one; nothing can read or map through
 * such a handle, and the kernel drops cached pages of the range it
 * writes. fs_privs.c keeps the privilege rules for it. */
static void set_handle(struct fuse_file_info *fi, int fd)
{
    fi->fh = (uint64_t)(unsigned)fd;
    struct stat st;
    if ((fi->flags & O_ACCMODE) == O_WRONLY && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        !tfs_fd_has_privs(fd, st.st_mode)) {
        fi->direct_io = 1;
        fi->fh |= TFS_FH_DIRECT;
    }
}

/* Counts an open handle on n. When the inode's last link went (and its
 * storage was given back) between the kernel's lookup and this open, it is
 * charged again, forced, and freed at the last close like any unlinked
 * open file; else what is written through the handle would never be given
 * back. */
static void open_handle(struct tfs_fs *fs, struct tfs_node *n)
{
    pthread_mutex_t *lock = tfs_node_stripe(fs, n);
    pthread_mutex_lock(lock);
    if (tfs_node_released(n)) {
        struct stat st;
        char path[64];
        proc_path(path, sizeof path, n->fd);
        uint64_t pages = fstatat(n->fd, "", &st, AT_EMPTY_PATH) == 0 ? data_pages(fs, &st) : 0;
        (void)tfs_quota_force(&fs->quota, pages, 1);
        (void)tfs_quota_force_xattr(&fs->quota, tfs_xattr_bytes(path, true));
        n->unlinked = true;
    }
    tfs_inode_table_open(&fs->table, n);
    pthread_mutex_unlock(lock);
}

static void tfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct tfs_fs *fs = fs_of(req);
    struct tfs_node *n = tfs_node_of(req, ino);
    int fd = open_node(fs, n, fi->flags);
    if (fd < 0) {
        fuse_reply_err(req, -fd);
        return;
    }
    set_handle(fi, fd);
    open_handle(fs, n);
    if (fuse_reply_open(req, fi) != 0) { /* interrupted: the kernel will not release it */
        bool freed;
        tfs_inode_table_close(&fs->table, n, &freed);
        close(fd);
    }
}

static void tfs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                       struct fuse_file_info *fi)
{
    struct tfs_fs *fs = fs_of(req);
    struct tfs_node *p = tfs_node_of(req, parent);
    if (tfs_quota_charge(&fs->quota, 0, 1) < 0) {
        fuse_reply_err(req, ENOSPC);
        return;
    }
    int flags = (fi->flags & ~(O_NOFOLLOW | O_TRUNC)) | O_CREAT | O_EXCL | O_CLOEXEC;
    int fd = openat(p->fd, name, flags, mode);
    if (fd < 0 && errno == EEXIST && !(fi->flags & O_EXCL)) {
        /* Created by someone else meanwhile: no new inode to charge. */
        tfs_quota_release(&fs->quota, 0, 1);
        struct fuse_entry_param e;
        int err = lookup_entry(fs, p, name, &e);
        if (err != 0) {
            fuse_reply_err(req, err);
            return;
        }
        struct tfs_node *n = tfs_node_of(req, e.ino);
        fd = open_node(fs, n, fi->flags);
        if (fd < 0) {
            forget_one(req, e.ino, 1);
            fuse_reply_err(req, -fd);
            return;
        }
        set_handle(fi, fd);
        open_handle(fs, n);
        fuse_reply_create(req, &e, fi);
        return;
    }
    if (fd < 0) {
        int err = errno;
        tfs_quota_release(&fs->quota, 0, 1);
        fuse_reply_err(req, err);
        return;
    }
    struct fuse_entry_param e;
    int err = finish_new(req, p, name, false, &e);
    if (err != 0) {
        close(fd);
        tfs_quota_release(&fs->quota, 0, 1);
        fuse_reply_err(req, err);
        return;
    }
    set_handle(fi, fd);
    struct tfs_node *n = tfs_node_of(req, e.ino);
    open_handle(fs, n);
    if (fuse_reply_create(req, &e, fi) != 0) {
        bool freed;
        tfs_inode_table_close(&fs->table, n, &freed);
        close(fd);
    }
}

static void tfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
    (void)ino;
    /* Over io_uring, read straight into the ring entry: one copy. */
    size_t cap = 0;
    void *space = tfs_ring_reply_space(&cap);
    if (space != NULL && size <= cap) {
        ssize_t got = pread(handle_fd(fi), space, size, off);
        if (got < 0)
            fuse_reply_err(req, errno);
        else
            fuse_reply_buf(req, space, (size_t)got);
        return;
    }
    struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
    buf.buf[0].flags = (enum fuse_buf_flags)(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
    buf.buf[0].fd = handle_fd(fi);
    buf.buf[0].pos = off;
    fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

/* The data may wait in the session's pipe (FUSE_CAP_SPLICE_READ): spliced
 * from there into the backing file, no copy through this process. What a
 * refused or short write leaves in the pipe libfuse throws away. */
static void tfs_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *data, off_t off,
                          struct fuse_file_info *fi)
{
    struct tfs_fs *fs = fs_of(req);
    struct tfs_node *n = tfs_node_of(req, ino);
    int fd = handle_fd(fi);
    size_t size = fuse_buf_size(data);
    pthread_mutex_t *lock = tfs_node_stripe(fs, n);
    pthread_mutex_lock(lock);
    struct stat st;
    uint64_t before = 0;
    if (fstat(fd, &st) == 0) {
        before = data_pages(fs, &st);
        tfs_kill_privs(fs, req, fd, st.st_mode, (fi->fh & TFS_FH_DIRECT) != 0);
    }
    uint64_t charge = unstored_pages(fd, (uint64_t)off, size, fs->page_size);
    if (tfs_quota_charge(&fs->quota, charge, 0) < 0) {
        pthread_mutex_unlock(lock);
        fuse_reply_err(req, ENOSPC);
        return;
    }
    struct fuse_bufvec dst = FUSE_BUFVEC_INIT(size);
    dst.buf[0].flags = (enum fuse_buf_flags)(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
    dst.buf[0].fd = fd;
    dst.buf[0].pos = off;
    ssize_t done = fuse_buf_copy(&dst, data, 0);
    tfs_quota_settle(&fs->quota, charge, before, fd_pages(fs, fd));
    pthread_mutex_unlock(lock);
    if (done < 0)
        fuse_reply_err(req, (int)-done);
    else
        fuse_reply_write(req, (size_t)done);
}

/* SEEK_DATA and SEEK_HOLE (the kernel answers the other whences itself):
 * the backing file's holes are the file's holes. */
static void tfs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
                      struct fuse_file_info *fi)
{
    (void)ino;
    off_t at = lseek(handle_fd(fi), off, whence);
    if (at < 0)
        fuse_reply_err(req, errno);
    else
        fuse_reply_lseek(req, at);
}

static void tfs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                          struct fuse_file_info *fi)
{
    struct tfs_fs *fs = fs_of(req);
    struct tfs_node *n = tfs_node_of(req, ino);
    int fd = handle_fd(fi);
    pthread_mutex_t *lock = tfs_node_stripe(fs, n);
    pthread_mutex_lock(lock);
    uint64_t before = fd_pages(fs, fd);
    uint64_t charge = (mode & FALLOC_FL_PUNCH_HOLE)
                          ? 0
                          : unstored_pages(fd, (uint64_t)offset, (uint64_t)length, fs->page_size);
    if (tfs_quota_charge(&fs->quota, charge, 0) < 0) {
        pthread_mutex_unlock(lock);
        fuse_reply_err(req, ENOSPC);
        return;
    }
    int err = fallocate(fd, mode, offset, length) < 0 ? errno : 0;
    tfs_quota_settle(&fs->quota, charge, before, fd_pages(fs, fd));
    pthread_mutex_unlock(lock);
    fuse_reply_err(req, err);
}

static void tfs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct tfs_fs *fs = fs_of(req);
    struct tfs_node *n = tfs_node_of(req, ino);
    int fd = handle_fd(fi);
    pthread_mutex_t *lock = tfs_node_stripe(fs, n);
    pthread_mutex_lock(lock);
    bool freed = false;
    bool was_unlinked = n->unlinked;
    uint32_t left = tfs_inode_table_close(&fs->table, n, &freed);
    if (left == 0 && was_unlinked) {
        uint64_t pages = fd_pages(fs, fd);
        char path[64];
        proc_path(path, sizeof path, n->fd);
        uint64_t xattrs = tfs_xattr_bytes(path, true);
        int wfd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (wfd >= 0)
            close(wfd);
        n->unlinked = false;
        tfs_quota_release(&fs->quota, pages, 1);
        tfs_quota_release_xattr(&fs->quota, xattrs);
    }
    close(fd);
    pthread_mutex_unlock(lock);
    if (freed)
        free_node(n, NULL);
    fuse_reply_err(req, 0);
}

static void tfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
    (void)ino;
    int rc = datasync ? fdatasync(handle_fd(fi)) : fsync(handle_fd(fi));
    fuse_reply_err(req, rc < 0 ? errno : 0);
}

/* An open directory: the stream and the entry that did not fit last time. */
struct tfs_dir {
    DIR *dp;
    off_t offset;
    struct dirent *pending;
};

static void tfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct tfs_node *n = tfs_node_of(req, ino);
    struct tfs_dir *d = calloc(1, sizeof *d);
    if (d == NULL) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    int fd = openat(n->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || (d->dp = fdopendir(fd)) == NULL) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        free(d);
        fuse_reply_err(req, err);
        return;
    }
    fi->fh = (uint64_t)(uintptr_t)d;
    if (fuse_reply_open(req, fi) != 0) {
        closedir(d->dp);
        free(d);
    }
}

static void tfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                        struct fuse_file_info *fi)
{
    (void)ino;
    struct tfs_dir *d = (struct tfs_dir *)(uintptr_t)fi->fh; // NOLINT(performance-no-int-to-ptr): set by opendir
    char *buf = malloc(size);
    if (buf == NULL) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    if (off != d->offset) {
        seekdir(d->dp, (long)off);
        d->pending = NULL;
        d->offset = off;
    }
    size_t used = 0;
    int err = 0;
    for (;;) {
        if (d->pending == NULL) {
            errno = 0;
            d->pending = readdir(d->dp);
            if (d->pending == NULL) {
                err = errno;
                break;
            }
        }
        struct stat st;
        memset(&st, 0, sizeof st);
        st.st_ino = d->pending->d_ino;
        st.st_mode = (mode_t)d->pending->d_type << 12;
        off_t next = (off_t)d->pending->d_off;
        size_t len = fuse_add_direntry(req, buf + used, size - used, d->pending->d_name, &st,
                                       next);
        if (len > size - used)
            break; /* kept for the next call */
        used += len;
        d->pending = NULL;
        d->offset = next;
    }
    if (err != 0 && used == 0)
        fuse_reply_err(req, err);
    else
        fuse_reply_buf(req, buf, used);
    free(buf);
}

static void tfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    struct tfs_dir *d = (struct tfs_dir *)(uintptr_t)fi->fh; // NOLINT(performance-no-int-to-ptr): set by opendir
    closedir(d->dp);
    free(d);
    fuse_reply_err(req, 0);
}

static void tfs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
    (void)ino;
    (void)datasync;
    (void)fi;
    fuse_reply_err(req, 0);
}

static void tfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
    (void)ino;
    struct tfs_fs *fs = fs_of(req);
    struct statvfs backing;
    if (fstatvfs(fs->root_fd, &backing) < 0) {
        fuse_reply_err(req, errno);
        return;
    }
    struct tfs_quota_stats qs;
    tfs_quota_get_stats(&fs->quota, &qs);
    /* Size: what is held, plus (broker mode) what the pool could still give. */
    uint64_t total = qs.held;
    if (fs->broker != NULL)
        total += tfs_broker_link_pool(fs->broker);
    if (total < qs.used)
        total = qs.used;
    struct statvfs out = backing;
    out.f_bsize = (unsigned long)fs->page_size;
    out.f_frsize = (unsigned long)fs->page_size;
    out.f_blocks = (fsblkcnt_t)total;
    out.f_bfree = (fsblkcnt_t)(total - qs.used);
    out.f_bavail = out.f_bfree;
    fuse_reply_statfs(req, &out);
}

const struct fuse_lowlevel_ops tfs_ops = {
    .init = tfs_init,
    .lookup = tfs_lookup,
    .forget = tfs_forget,
    .forget_multi = tfs_forget_multi,
    .getattr = tfs_getattr,
    .setattr = tfs_setattr,
    .readlink = tfs_readlink,
    .mknod = tfs_mknod,
    .mkdir = tfs_mkdir,
    .symlink = tfs_symlink,
    .link = tfs_link,
    .unlink = tfs_unlink,
    .rmdir = tfs_rmdir,
    .rename = tfs_rename,
    .open = tfs_open,
    .create = tfs_create,
    .read = tfs_read,
    .write_buf = tfs_write_buf,
    .fallocate = tfs_fallocate,
    .lseek = tfs_lseek,
    /* No .flush: it would have nothing to do (every write is stored at
     * once), and without it the kernel stops sending FLUSH at the first
     * close, saving a round trip per close(2). */
    .release = tfs_release,
    .fsync = tfs_fsync,
    .opendir = tfs_opendir,
    .readdir = tfs_readdir,
    .releasedir = tfs_releasedir,
    .fsyncdir = tfs_fsyncdir,
    .statfs = tfs_statfs,
    .setxattr = tfs_setxattr,
    .getxattr = tfs_getxattr,
    .listxattr = tfs_listxattr,
    .removexattr = tfs_removexattr,
};
