/* Unit tests for listener.c with real sockets in a private temporary directory. */
#include "broker/listener.h"
#include "mbtest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static char base[64];
static char sock_path[128];

static int connect_to(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    memcpy(addr.sun_path, path, strlen(path) + 1);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

static void test_open_accept_cred(void)
{
    struct mb_listener_options opts = {.path = sock_path, .mode = 0660, .group = (gid_t)-1, .backlog = 8};
    int lfd = mb_listener_open(&opts);
    MBT_REQUIRE(lfd >= 0);

    struct stat st;
    MBT_EQ_INT(0, stat(sock_path, &st));
    MBT_TRUE(S_ISSOCK(st.st_mode));
    MBT_EQ_U64(0660, st.st_mode & 07777);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/run", base);
    MBT_EQ_INT(0, stat(dir, &st));
    MBT_EQ_U64(0750, st.st_mode & 07777);
    MBT_TRUE((fcntl(lfd, F_GETFD) & FD_CLOEXEC) != 0);
    MBT_TRUE((fcntl(lfd, F_GETFL) & O_NONBLOCK) != 0);

    struct mb_peer_cred cred = {0};
    MBT_EQ_INT(-EAGAIN, mb_listener_accept(lfd, &cred));
    int cfd = connect_to(sock_path);
    MBT_REQUIRE(cfd >= 0);
    int afd = mb_listener_accept(lfd, &cred);
    MBT_REQUIRE(afd >= 0);
    MBT_EQ_I64(getpid(), cred.pid);
    MBT_EQ_U64(getuid(), cred.uid);
    MBT_EQ_U64(getgid(), cred.gid);
    MBT_TRUE((fcntl(afd, F_GETFL) & O_NONBLOCK) != 0);

    /* A second server on the same path is refused while the first lives. */
    MBT_EQ_INT(-EADDRINUSE, mb_listener_open(&opts));

    close(afd);
    close(cfd);
    close(lfd);
    /* The first server died without unlinking: its socket is stale and is replaced. */
    lfd = mb_listener_open(&opts);
    MBT_TRUE(lfd >= 0);
    MBT_EQ_INT(0, mb_listener_unlink(sock_path));
    MBT_EQ_INT(0, mb_listener_unlink(sock_path));
    close(lfd);
}

static void test_refuses_non_socket(void)
{
    int fd = open(sock_path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    MBT_REQUIRE(fd >= 0);
    close(fd);
    struct mb_listener_options opts = {.path = sock_path, .mode = 0660, .group = (gid_t)-1, .backlog = 8};
    MBT_EQ_INT(-ENOTSOCK, mb_listener_open(&opts));
    struct stat st;
    MBT_EQ_INT(0, stat(sock_path, &st)); /* the file was left alone */
    MBT_TRUE(S_ISREG(st.st_mode));
    unlink(sock_path);

    char long_path[200];
    memset(long_path, 'a', sizeof long_path - 1);
    long_path[0] = '/';
    long_path[sizeof long_path - 1] = '\0';
    opts.path = long_path;
    MBT_EQ_INT(-ENAMETOOLONG, mb_listener_open(&opts));
}

static void test_peer_comm(void)
{
    /* The kernel's own view, read independently (under qemu-user the
     * command name is the emulator's, so it is not a constant). */
    char expected[32] = {0};
    FILE *f = fopen("/proc/self/comm", "r");
    MBT_REQUIRE(f != NULL);
    MBT_REQUIRE(fgets(expected, sizeof expected, f) != NULL);
    fclose(f);
    expected[strcspn(expected, "\n")] = '\0';
    MBT_TRUE(strlen(expected) >= 4);

    char name[32];
    MBT_EQ_INT(0, mb_peer_comm(getpid(), NULL, name, sizeof name));
    MBT_EQ_STR(expected, name);
    MBT_EQ_INT(-ENOENT, mb_peer_comm(getpid(), "/nonexistent-procfs", name, sizeof name));
    MBT_EQ_STR("", name);
    char tiny[5];
    MBT_EQ_INT(0, mb_peer_comm(getpid(), NULL, tiny, sizeof tiny));
    expected[4] = '\0';
    MBT_EQ_STR(expected, tiny);
}

int main(void)
{
    snprintf(base, sizeof base, "/tmp/mb-listener-%ld", (long)getpid());
    mkdir(base, 0700);
    snprintf(sock_path, sizeof sock_path, "%s/run/socket", base);
    MBT_RUN(test_open_accept_cred);
    MBT_RUN(test_refuses_non_socket);
    MBT_RUN(test_peer_comm);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/run", base);
    rmdir(dir);
    rmdir(base);
    return mbt_finish();
}
