/* rawclient.c: see rawclient.h. */
#include "rawclient.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int raw_connect(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

bool raw_wait_listening(const char *path, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 10) {
        int fd = raw_connect(path);
        if (fd >= 0) {
            close(fd);
            return true;
        }
        raw_sleep_ms(10);
    }
    return false;
}

int raw_send(int fd, const struct mb_msg *msg)
{
    uint8_t buf[MB_PROTO_MAX_MESSAGE];
    int len = mb_proto_encode(msg, buf, sizeof buf);
    if (len < 0)
        return len;
    return send(fd, buf, (size_t)len, MSG_NOSIGNAL) == len ? 0 : -errno;
}

/* Waits up to timeout_ms for something to read (or a hang-up). */
static bool readable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, timeout_ms) > 0;
}

int raw_recv(int fd, struct mb_msg *msg, int timeout_ms)
{
    if (!readable(fd, timeout_ms))
        return -ETIMEDOUT;
    uint8_t buf[MB_PROTO_MAX_MESSAGE];
    ssize_t got = recv(fd, buf, sizeof buf, 0);
    if (got <= 0)
        return -EPIPE;
    return mb_proto_decode(buf, (size_t)got, msg);
}

int raw_recv_past_reset(int fd, struct mb_msg *msg, int timeout_ms)
{
    if (!readable(fd, timeout_ms))
        return -ETIMEDOUT;
    uint8_t buf[MB_PROTO_MAX_MESSAGE];
    ssize_t got = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (got < 0 && errno == ECONNRESET) /* reported once; the queue follows */
        got = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (got <= 0)
        return got < 0 ? -errno : -EPIPE;
    return mb_proto_decode(buf, (size_t)got, msg);
}

int raw_call(int fd, const struct mb_msg *msg, struct mb_msg *reply, int timeout_ms)
{
    int rc = raw_send(fd, msg);
    if (rc < 0)
        return rc;
    rc = raw_recv(fd, reply, timeout_ms);
    if (rc < 0)
        return rc;
    return reply->cookie == msg->cookie ? reply->type : -EPROTO;
}

void raw_sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}
