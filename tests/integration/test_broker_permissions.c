/* Integration test: who may use the real mbserver. With ALLOW_UIDS listing
 * only root, a child that dropped to uid/gid 65534 (setresuid after fork)
 * is refused with ERROR NOT_PERMITTED, even though the socket's mode lets
 * it connect, while root registers and is served. libmbclient reports that
 * refusal as the server's reason (MB_CLIENT_ERR(MB_ERR_NOT_PERMITTED)),
 * not as a lost connection. The socket file has the
 * mode and group (given by number) that SOCKET_MODE and SOCKET_GROUP say.
 *
 * Needs root (to change uid and to chown the socket); exits 77 (skipped)
 * otherwise.
 *
 * usage: test_broker_permissions PATH_TO_MBSERVER
 */
#include "mbtest.h"
#include "membroker/client.h"
#include "rawclient.h"

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOTAL_PAGES 500u
#define NOBODY 65534u
#define SOCKET_GID 4242u /* need not exist in /etc/group: given by number */

static char dir[64];
static char sock_path[96];
static char conf_path[96];
static pid_t server_pid = -1;
static const char *server_binary;

static int exchange(int fd, struct mb_msg *msg, struct mb_msg *reply)
{
    msg->cookie = 7;
    /* A refused peer may find the socket closed already: still read. The
     * broker refuses at accept and closes at once, so the ERROR it sent may
     * wait behind a reset. */
    int rc = raw_send(fd, msg);
    if (rc < 0 && rc != -EPIPE && rc != -ECONNRESET)
        return rc;
    return raw_recv_past_reset(fd, reply, 2000);
}

/* Connects and says HELLO; the answer's type and error code go to *type
 * and *code. Returns 0, or a negative errno when no answer came. */
static int hello(uint32_t *type, uint32_t *code)
{
    int fd = raw_connect(sock_path);
    if (fd < 0)
        return fd;
    struct mb_msg msg = {.type = MB_MSG_HELLO, .u.hello = {.kind = MB_KIND_SIMPLE}}, reply = {0};
    snprintf(msg.u.hello.name, sizeof msg.u.hello.name, "perm");
    int rc = exchange(fd, &msg, &reply);
    if (rc == 0) {
        *type = reply.type;
        *code = reply.type == MB_MSG_ERROR ? reply.u.error.code : 0;
        if (reply.type == MB_MSG_WELCOME) {
            struct mb_msg req = {.type = MB_MSG_REQUEST, .u.amount.pages = 10};
            rc = exchange(fd, &req, &reply);
            if (rc == 0 && (reply.type != MB_MSG_GRANT || reply.u.grant.pages != 10))
                rc = -EPROTO;
        }
    }
    close(fd);
    return rc;
}

static void start_server(void)
{
    FILE *f = fopen(conf_path, "w");
    MBT_REQUIRE(f != NULL);
    fprintf(f, "TOTAL %up\nSOCKET %s\nSOCKET_MODE 0666\nSOCKET_GROUP %u\nALLOW_UIDS 0\n",
            TOTAL_PAGES, sock_path, SOCKET_GID);
    fclose(f);
    server_pid = fork();
    if (server_pid == 0) {
        execl(server_binary, "mbserver", "--foreground", "--config", conf_path,
              "--log-level", "err", (char *)NULL);
        _exit(127);
    }
    if (raw_wait_listening(sock_path, 5000))
        return;
    fprintf(stderr, "mbserver did not start\n");
    exit(1);
}

static void test_socket_mode_and_group(void)
{
    struct stat st;
    MBT_REQUIRE(stat(sock_path, &st) == 0);
    MBT_TRUE(S_ISSOCK(st.st_mode));
    MBT_EQ_U64(0666, st.st_mode & 07777);
    MBT_EQ_U64(SOCKET_GID, st.st_gid);
    MBT_EQ_U64(0, st.st_uid);
}

/* The child's result travels back as one byte per fact. */
enum { R_CONNECTED, R_ERROR, R_NOT_PERMITTED, R_LIBRARY, R_COUNT };

/* What libmbclient says when the server refuses: 'y' for the server's
 * reason, else 'n' (the value is printed). */
static char library_refusal(void)
{
    struct mb_client_options o;
    mb_client_options_init(&o);
    o.socket_path = sock_path;
    o.name = "perm-lib";
    struct mb_client c;
    if (mb_client_init(&c, &o) < 0)
        return 'n';
    uint64_t got = 0;
    int rc = mb_client_request_timeout(&c, 10, &got, 2000);
    /* The refusal is not sticky: a second call asks again, same answer. */
    int again = mb_client_connect_timeout(&c, 2000);
    mb_client_destroy(&c);
    if (rc != MB_CLIENT_ERR(MB_ERR_NOT_PERMITTED) || again != rc) {
        fprintf(stderr, "libmbclient: %d (%s), then %d\n", rc, mb_client_strerror(rc), again);
        return 'n';
    }
    return got == 0 ? 'y' : 'n';
}

static void test_other_uid_refused(void)
{
    int pipefd[2];
    MBT_REQUIRE(pipe(pipefd) == 0);
    pid_t child = fork();
    MBT_REQUIRE(child >= 0);
    if (child == 0) {
        char result[R_COUNT + 1] = {0};
        uint32_t type = 0, code = 0;
        bool dropped = setgroups(0, NULL) == 0 && setresgid(NOBODY, NOBODY, NOBODY) == 0 &&
                       setresuid(NOBODY, NOBODY, NOBODY) == 0 && geteuid() == NOBODY;
        int rc = dropped ? hello(&type, &code) : -EPERM;
        if (rc < 0)
            fprintf(stderr, "uid %u: HELLO got no answer: %s\n", NOBODY, strerror(-rc));
        result[R_CONNECTED] = rc == 0 ? 'y' : 'n';
        result[R_ERROR] = type == MB_MSG_ERROR ? 'y' : 'n';
        result[R_NOT_PERMITTED] = code == MB_ERR_NOT_PERMITTED ? 'y' : 'n';
        result[R_LIBRARY] = dropped ? library_refusal() : 'n';
        result[R_COUNT] = dropped ? 'y' : 'n';
        (void)!write(pipefd[1], result, sizeof result);
        _exit(0);
    }
    close(pipefd[1]);
    char result[R_COUNT + 1] = {0};
    MBT_EQ_I64((int64_t)sizeof result, read(pipefd[0], result, sizeof result));
    close(pipefd[0]);
    waitpid(child, NULL, 0);
    MBT_EQ_INT('y', result[R_COUNT]);         /* it really runs as 65534 */
    MBT_EQ_INT('y', result[R_CONNECTED]);     /* mode 0666 let it connect */
    MBT_EQ_INT('y', result[R_ERROR]);         /* ... and the broker said no */
    MBT_EQ_INT('y', result[R_NOT_PERMITTED]);
    MBT_EQ_INT('y', result[R_LIBRARY]); /* libmbclient tells why */
}

static void test_root_served(void)
{
    uint32_t type = 0, code = 0;
    MBT_EQ_INT(0, hello(&type, &code)); /* WELCOME, then GRANT of 10 pages */
    MBT_EQ_U64(MB_MSG_WELCOME, type);
    /* The refusal did not harm the server: a second root client works too,
     * and the first one's 10 pages came back when it closed. */
    int fd = raw_connect(sock_path);
    MBT_REQUIRE(fd >= 0);
    struct mb_msg msg = {.type = MB_MSG_HELLO, .u.hello = {.kind = MB_KIND_SIMPLE}}, reply = {0};
    MBT_EQ_INT(0, exchange(fd, &msg, &reply));
    MBT_EQ_U64(MB_MSG_WELCOME, reply.type);
    bool back = false;
    for (int i = 0; i < 100 && !back; i++) {
        struct mb_msg q = {.type = MB_MSG_QUERY};
        MBT_REQUIRE(exchange(fd, &q, &reply) == 0 && reply.type == MB_MSG_QUERY_REPLY);
        back = reply.u.query_reply.pool == TOTAL_PAGES;
        if (!back)
            raw_sleep_ms(10);
    }
    MBT_TRUE(back);
    close(fd);

    /* libmbclient as root: served. */
    struct mb_client_options o;
    mb_client_options_init(&o);
    o.socket_path = sock_path;
    struct mb_client c;
    MBT_REQUIRE(mb_client_init(&c, &o) == 0);
    uint64_t got = 0;
    MBT_EQ_INT(0, mb_client_request_timeout(&c, 10, &got, 2000));
    MBT_EQ_U64(10, got);
    mb_client_destroy(&c);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH_TO_MBSERVER\n", argv[0]);
        return 2;
    }
    if (geteuid() != 0) {
        fprintf(stderr, "%s: needs root (setresuid, chown of the socket); skipped\n", argv[0]);
        return 77;
    }
    server_binary = argv[1];
    signal(SIGPIPE, SIG_IGN);
    snprintf(dir, sizeof dir, "/tmp/mb-perm-%ld", (long)getpid());
    snprintf(sock_path, sizeof sock_path, "%s/run/socket", dir);
    snprintf(conf_path, sizeof conf_path, "%s/mbserver.conf", dir);
    /* 0755 so that uid 65534 can reach the socket inside. */
    if (mkdir(dir, 0755) < 0 || chmod(dir, 0755) < 0) {
        perror("mkdir");
        return 1;
    }
    start_server();
    MBT_RUN(test_socket_mode_and_group);
    MBT_RUN(test_other_uid_refused);
    MBT_RUN(test_root_served);
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
    }
    char run_dir[128];
    snprintf(run_dir, sizeof run_dir, "%s/run", dir);
    rmdir(run_dir);
    unlink(conf_path);
    rmdir(dir);
    return mbt_finish();
}
