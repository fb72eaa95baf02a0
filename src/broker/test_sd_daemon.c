/* Unit tests for sd_daemon.c: socket activation values and readiness notes. */
#include "broker/sd_daemon.h"
#include "mbtest.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void test_listen_fds(void)
{
    MBT_EQ_INT(0, mb_sd_listen_fds(NULL, NULL, 42));
    MBT_EQ_INT(0, mb_sd_listen_fds("42", NULL, 42));
    MBT_EQ_INT(2, mb_sd_listen_fds("42", "2", 42));
    MBT_EQ_INT(0, mb_sd_listen_fds("41", "2", 42)); /* someone else's fds */
    MBT_EQ_INT(-EINVAL, mb_sd_listen_fds("4x", "2", 42));
    MBT_EQ_INT(-EINVAL, mb_sd_listen_fds("42", "-1", 42));
    MBT_EQ_INT(-EINVAL, mb_sd_listen_fds("42", "99999", 42));
    MBT_EQ_INT(0, mb_sd_listen_fds("", "1", 42));
}

static void test_notify(void)
{
    MBT_EQ_INT(0, mb_sd_notify(NULL, "READY=1"));
    MBT_EQ_INT(0, mb_sd_notify("", "READY=1"));
    MBT_EQ_INT(-EAFNOSUPPORT, mb_sd_notify("vsock:2:3", "READY=1"));

    /* A real datagram socket stands in for systemd: the note must arrive whole. */
    char path[] = "/tmp/mb-test-notify-XXXXXX";
    int tmp = mkstemp(path);
    MBT_REQUIRE(tmp >= 0);
    close(tmp);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    MBT_REQUIRE(fd >= 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    memcpy(addr.sun_path, path, strlen(path) + 1);
    MBT_REQUIRE(bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0);

    MBT_EQ_INT(1, mb_sd_notify(path, "READY=1\nSTATUS=serving"));
    char buf[64] = {0};
    ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    MBT_EQ_I64(22, n);
    MBT_EQ_STR("READY=1\nSTATUS=serving", buf);
    close(fd);
    unlink(path);
    MBT_EQ_INT(-ENOENT, mb_sd_notify(path, "READY=1")); /* systemd went away */
}

int main(void)
{
    MBT_RUN(test_listen_fds);
    MBT_RUN(test_notify);
    return mbt_finish();
}
