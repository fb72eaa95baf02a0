/* listener.c: see listener.h. */
#include "broker/listener.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int fill_address(const char *path, struct sockaddr_un *addr)
{
    size_t len = strlen(path);
    if (len == 0)
        return -EINVAL;
    if (len >= sizeof addr->sun_path)
        return -ENAMETOOLONG;
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    memcpy(addr->sun_path, path, len + 1);
    return 0;
}

/* mkdir of the socket's own directory (one level: the parent of that must exist). */
static int make_socket_directory(const char *path, unsigned socket_mode, gid_t group)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    size_t len = strlen(path);
    if (len >= sizeof dir)
        return -ENAMETOOLONG;
    memcpy(dir, path, len + 1);
    char *slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir)
        return 0; /* relative name in the CWD, or a file in / */
    *slash = '\0';
    mode_t dir_mode = (socket_mode & 0006) ? 0755 : 0750;
    if (mkdir(dir, dir_mode) == 0) {
        if (group != (gid_t)-1 && chown(dir, (uid_t)-1, group) < 0)
            return -errno;
        return 0;
    }
    if (errno != EEXIST)
        return -errno;
    struct stat st;
    if (stat(dir, &st) < 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* A socket file at the path: is a server alive behind it? */
static int remove_stale_socket(const struct sockaddr_un *addr)
{
    struct stat st;
    if (lstat(addr->sun_path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode))
        return -ENOTSOCK;
    int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (probe < 0)
        return -errno;
    int rc = connect(probe, (const struct sockaddr *)addr, sizeof *addr);
    int err = errno;
    close(probe);
    if (rc == 0)
        return -EADDRINUSE;
    if (err != ECONNREFUSED && err != ENOENT)
        return -err;
    if (unlink(addr->sun_path) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

int mb_listener_open(const struct mb_listener_options *opts)
{
    struct sockaddr_un addr;
    int rc = fill_address(opts->path, &addr);
    if (rc < 0)
        return rc;
    rc = make_socket_directory(opts->path, opts->mode, opts->group);
    if (rc < 0)
        return rc;
    rc = remove_stale_socket(&addr);
    if (rc < 0)
        return rc;

    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    /* Bind under a restrictive umask, then open up to the configured mode, so
     * the socket is never briefly reachable by anyone it should not be. */
    mode_t old_mask = umask(0077);
    rc = bind(fd, (const struct sockaddr *)&addr, sizeof addr);
    int err = errno;
    umask(old_mask);
    if (rc < 0)
        goto fail_errno_saved;
    if (opts->group != (gid_t)-1 && chown(opts->path, (uid_t)-1, opts->group) < 0)
        goto fail;
    if (chmod(opts->path, (mode_t)opts->mode) < 0)
        goto fail;
    if (listen(fd, opts->backlog > 0 ? opts->backlog : 128) < 0)
        goto fail;
    return fd;

fail:
    err = errno;
    unlink(opts->path);
fail_errno_saved:
    close(fd);
    return -err;
}

int mb_listener_accept(int listen_fd, struct mb_peer_cred *cred)
{
    int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    struct ucred uc;
    socklen_t len = sizeof uc;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    cred->pid = uc.pid;
    cred->uid = uc.uid;
    cred->gid = uc.gid;
    return fd;
}

int mb_peer_comm(pid_t pid, const char *procfs_root, char *buf, size_t len)
{
    if (len == 0)
        return -EINVAL;
    buf[0] = '\0';
    char path[256];
    int n = snprintf(path, sizeof path, "%s/%ld/comm", procfs_root ? procfs_root : "/proc",
                     (long)pid);
    if (n < 0 || (size_t)n >= sizeof path)
        return -ENAMETOOLONG;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t got;
    do {
        got = read(fd, buf, len - 1);
    } while (got < 0 && errno == EINTR);
    int err = got < 0 ? -errno : 0;
    close(fd);
    if (err < 0) {
        buf[0] = '\0';
        return err;
    }
    size_t end = (size_t)got;
    while (end > 0 && (buf[end - 1] == '\n' || buf[end - 1] == '\0'))
        end--;
    buf[end] = '\0';
    return 0;
}

int mb_listener_unlink(const char *path)
{
    return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}
