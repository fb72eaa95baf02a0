/* sd_daemon.c: see sd_daemon.h. */
#include "broker/sd_daemon.h"

#include "common/numparse.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int mb_sd_listen_fds(const char *listen_pid, const char *listen_fds, pid_t self)
{
    if (listen_pid == NULL || listen_fds == NULL || *listen_pid == '\0')
        return 0;
    uint64_t pid = 0, count = 0;
    if (mb_parse_u64_exact(listen_pid, strlen(listen_pid), &pid) < 0)
        return -EINVAL;
    if (pid != (uint64_t)self)
        return 0; /* meant for another process (e.g. our parent) */
    if (mb_parse_u64_exact(listen_fds, strlen(listen_fds), &count) < 0 || count > 1024)
        return -EINVAL;
    return (int)count;
}

int mb_sd_notify(const char *notify_socket, const char *state)
{
    if (notify_socket == NULL || notify_socket[0] == '\0')
        return 0;
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    size_t len = strlen(notify_socket);
    if (notify_socket[0] != '/' && notify_socket[0] != '@')
        return -EAFNOSUPPORT; /* vsock and other forms are not used on devices */
    if (len >= sizeof addr.sun_path)
        return -ENAMETOOLONG;
    memcpy(addr.sun_path, notify_socket, len);
    if (addr.sun_path[0] == '@')
        addr.sun_path[0] = '\0'; /* abstract namespace */
    socklen_t addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
                                     (notify_socket[0] == '/' ? 1 : 0));

    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    ssize_t sent = sendto(fd, state, strlen(state), MSG_DONTWAIT | MSG_NOSIGNAL,
                          (const struct sockaddr *)&addr, addr_len);
    int err = sent < 0 ? -errno : 1;
    close(fd);
    return err;
}
