/* Integration test: the real mbserver process, spoken to over its socket
 * with the codec directly (no client library), including the bad input the
 * original membroker died of. Every scenario ends by checking the books:
 * the pool plus every live client's balance equals the total.
 *
 * usage: test_mbserver_wire PATH_TO_MBSERVER
 */
#include "mbtest.h"
#include "rawclient.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOTAL_PAGES 1000u
#define MAX_CLIENTS 64u

static const char *server_binary;
static bool socket_activation; /* start through systemd-socket-activate */
static char dir[64];
static char sock_path[96];
static pid_t server_pid = -1;
static uint32_t next_cookie = 1;

static void start_server(void)
{
    char total[32];
    snprintf(total, sizeof total, "%up", TOTAL_PAGES);
    server_pid = fork();
    if (server_pid == 0) {
        setenv("MBSERVER_MAX_CLIENTS", "64", 1);
        setenv("MBSERVER_REQUEST_TIMEOUT", "300ms", 1);
        setenv("MBSERVER_QUERY_TIMEOUT", "100ms", 1);
        if (socket_activation) {
            /* systemd's own activator binds the socket and passes it as fd 3;
             * mbserver's --socket then only names it. */
            char listen_arg[128];
            snprintf(listen_arg, sizeof listen_arg, "--listen=%s", sock_path);
            /* It passes on only the environment it is told to. */
            execlp("systemd-socket-activate", "systemd-socket-activate", "--seqpacket", listen_arg,
                   "--setenv=MBSERVER_MAX_CLIENTS", "--setenv=MBSERVER_REQUEST_TIMEOUT",
                   "--setenv=MBSERVER_QUERY_TIMEOUT", server_binary, "--foreground", "--socket", sock_path, "--total", total,
                   "--log-level", "warning", (char *)NULL);
        } else {
            execl(server_binary, "mbserver", "--foreground", "--socket", sock_path, "--total", total,
                  "--log-level", "warning", (char *)NULL);
        }
        _exit(127);
    }
    if (raw_wait_listening(sock_path, 5000))
        return;
    fprintf(stderr, "mbserver did not start\n");
    exit(1);
}

/* Sends msg, giving it a fresh cookie unless it has one (or answers a
 * query with the query's). */
static int send_msg(int fd, struct mb_msg *msg)
{
    if (msg->cookie == 0 && msg->type != MB_MSG_GIVEBACK_ANSWER)
        msg->cookie = next_cookie++;
    return raw_send(fd, msg);
}

/* Connects and registers; returns the fd or -1. */
static int client_open(uint8_t kind, const char *name)
{
    int fd = raw_connect(sock_path);
    if (fd < 0)
        return -1;
    struct mb_msg msg = {.type = MB_MSG_HELLO, .u.hello = {.kind = kind}};
    snprintf(msg.u.hello.name, sizeof msg.u.hello.name, "%s", name);
    struct mb_msg reply = {0};
    if (send_msg(fd, &msg) < 0 || raw_recv(fd, &reply, 2000) < 0 || reply.type != MB_MSG_WELCOME) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A request that expects one reply; returns the reply's type, fills *reply. */
static int transact(int fd, struct mb_msg *msg, struct mb_msg *reply, int timeout_ms)
{
    msg->cookie = next_cookie++;
    return raw_call(fd, msg, reply, timeout_ms);
}

static uint64_t request(int fd, uint64_t pages)
{
    struct mb_msg msg = {.type = MB_MSG_REQUEST, .u.amount.pages = pages}, reply = {0};
    if (transact(fd, &msg, &reply, 2000) != MB_MSG_GRANT)
        return UINT64_MAX;
    return reply.u.grant.pages;
}

static int give_back(int fd, uint64_t pages)
{
    struct mb_msg msg = {.type = MB_MSG_RETURN, .u.amount.pages = pages}, reply = {0};
    return transact(fd, &msg, &reply, 2000);
}

static bool query(int fd, struct mb_msg_query_reply *out)
{
    struct mb_msg msg = {.type = MB_MSG_QUERY}, reply = {0};
    if (transact(fd, &msg, &reply, 2000) != MB_MSG_QUERY_REPLY)
        return false;
    *out = reply.u.query_reply;
    return true;
}

static void test_handshake_and_grant(void)
{
    int fd = raw_connect(sock_path);
    MBT_REQUIRE(fd >= 0);
    struct mb_msg hello = {.type = MB_MSG_HELLO, .u.hello = {.kind = MB_KIND_SIMPLE}};
    snprintf(hello.u.hello.name, sizeof hello.u.hello.name, "wire-test");
    struct mb_msg reply = {0};
    MBT_EQ_INT(0, send_msg(fd, &hello));
    MBT_EQ_INT(0, raw_recv(fd, &reply, 2000));
    MBT_EQ_INT(MB_MSG_WELCOME, reply.type);
    MBT_EQ_U64(hello.cookie, reply.cookie);
    MBT_EQ_U64(sysconf(_SC_PAGESIZE), reply.u.welcome.page_size);
    MBT_EQ_U64(TOTAL_PAGES, reply.u.welcome.total);

    MBT_EQ_U64(100, request(fd, 100));
    struct mb_msg_query_reply q;
    MBT_REQUIRE(query(fd, &q));
    MBT_EQ_U64(100, q.balance);
    MBT_EQ_U64(TOTAL_PAGES - 100, q.pool);
    MBT_EQ_U64(TOTAL_PAGES, q.total);
    /* A zero-page request is granted 0 at once and leaves no state behind. */
    MBT_EQ_U64(0, request(fd, 0));
    MBT_EQ_INT(MB_MSG_OK, give_back(fd, 100));
    MBT_REQUIRE(query(fd, &q));
    MBT_EQ_U64(0, q.balance);
    MBT_EQ_U64(TOTAL_PAGES, q.pool);
    close(fd);
}

static void test_bad_input_keeps_serving(void)
{
    int fd = client_open(MB_KIND_SIMPLE, "bad-input");
    MBT_REQUIRE(fd >= 0);
    MBT_EQ_U64(10, request(fd, 10));
    struct mb_msg reply = {0};

    /* Short packet: an ERROR, nothing changes. */
    MBT_EQ_I64(3, send(fd, "abc", 3, 0));
    MBT_EQ_INT(0, raw_recv(fd, &reply, 2000));
    MBT_EQ_INT(MB_MSG_ERROR, reply.type);
    MBT_EQ_U64(MB_ERR_PROTOCOL, reply.u.error.code);
    MBT_EQ_U64(-MB_DECODE_SHORT, reply.u.error.detail);

    /* Oversize packet. */
    static uint8_t big[MB_PROTO_MAX_MESSAGE + 100];
    memset(big, 0, sizeof big);
    big[0] = MB_PROTO_VERSION;
    big[1] = MB_MSG_REQUEST;
    MBT_EQ_I64((ssize_t)sizeof big, send(fd, big, sizeof big, 0));
    MBT_EQ_INT(0, raw_recv(fd, &reply, 2000));
    MBT_EQ_INT(MB_MSG_ERROR, reply.type);
    MBT_EQ_U64(MB_ERR_PROTOCOL, reply.u.error.code);
    MBT_EQ_U64(-MB_DECODE_OVERSIZE, reply.u.error.detail);

    /* Unknown version. */
    uint8_t bad_version[MB_PROTO_HEADER_SIZE] = {99, MB_MSG_QUERY};
    MBT_EQ_I64(MB_PROTO_HEADER_SIZE, send(fd, bad_version, sizeof bad_version, 0));
    MBT_EQ_INT(0, raw_recv(fd, &reply, 2000));
    MBT_EQ_INT(MB_MSG_ERROR, reply.type);
    MBT_EQ_U64(-MB_DECODE_VERSION, reply.u.error.detail);

    /* Returning more than held: refused, balance unchanged. */
    struct mb_msg ret = {.type = MB_MSG_RETURN, .u.amount.pages = 11};
    MBT_EQ_INT(MB_MSG_ERROR, transact(fd, &ret, &reply, 2000));
    MBT_EQ_U64(MB_ERR_OVER_BALANCE, reply.u.error.code);

    /* A second HELLO. */
    struct mb_msg hello = {.type = MB_MSG_HELLO, .u.hello = {.kind = MB_KIND_SIMPLE}};
    MBT_EQ_INT(MB_MSG_ERROR, transact(fd, &hello, &reply, 2000));
    MBT_EQ_U64(MB_ERR_ALREADY_REGISTERED, reply.u.error.code);

    /* An answer to a query nobody sent: no reply, nothing changes. */
    struct mb_msg answer = {.type = MB_MSG_GIVEBACK_ANSWER, .cookie = 777, .u.amount.pages = 5};
    MBT_EQ_INT(0, send_msg(fd, &answer));

    struct mb_msg_query_reply q;
    MBT_REQUIRE(query(fd, &q)); /* the same connection is still served */
    MBT_EQ_U64(10, q.balance);
    MBT_EQ_U64(TOTAL_PAGES - 10, q.pool);
    close(fd);
}

/* A client killed while holding quota: the broker takes it all back. */
static void test_killed_client_returns_quota(void)
{
    int ready[2];
    MBT_REQUIRE(pipe(ready) == 0);
    pid_t child = fork();
    if (child == 0) {
        int fd = client_open(MB_KIND_SIMPLE, "victim");
        char ok = fd >= 0 && request(fd, 250) == 250 ? 'y' : 'n';
        (void)!write(ready[1], &ok, 1);
        pause();
        _exit(0);
    }
    char ok = 0;
    MBT_EQ_I64(1, read(ready[0], &ok, 1));
    MBT_EQ_INT('y', ok);
    int fd = client_open(MB_KIND_SIMPLE, "observer");
    MBT_REQUIRE(fd >= 0);
    struct mb_msg_query_reply q;
    MBT_REQUIRE(query(fd, &q));
    MBT_EQ_U64(TOTAL_PAGES - 250, q.pool);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    bool back = false;
    for (int i = 0; i < 200 && !back; i++) {
        MBT_REQUIRE(query(fd, &q));
        back = q.pool == TOTAL_PAGES;
        if (!back)
            raw_sleep_ms(10);
    }
    MBT_TRUE(back);
    close(ready[0]);
    close(ready[1]);
    close(fd);
}

/* A bidirectional client holding everything gives back when asked; one that
 * never answers only delays a REQUEST by the request timeout. */
static void test_giveback_and_silent_client(void)
{
    int holder = client_open(MB_KIND_BIDIRECTIONAL, "cache");
    int asker = client_open(MB_KIND_SIMPLE, "asker");
    MBT_REQUIRE(holder >= 0 && asker >= 0);
    MBT_EQ_U64(TOTAL_PAGES, request(holder, TOTAL_PAGES));

    struct mb_msg req = {.type = MB_MSG_REQUEST, .u.amount.pages = 40}, msg = {0};
    MBT_EQ_INT(0, send_msg(asker, &req));
    MBT_EQ_INT(0, raw_recv(holder, &msg, 2000));
    MBT_EQ_INT(MB_MSG_GIVEBACK, msg.type);
    MBT_EQ_INT(MB_URGENCY_NORMAL, msg.u.giveback.urgency);
    MBT_TRUE(msg.u.giveback.pages >= 40);
    struct mb_msg answer = {.type = MB_MSG_GIVEBACK_ANSWER, .cookie = msg.cookie,
                            .u.amount.pages = 40};
    MBT_EQ_INT(0, send_msg(holder, &answer));
    MBT_EQ_INT(0, raw_recv(asker, &msg, 2000));
    MBT_EQ_INT(MB_MSG_GRANT, msg.type);
    MBT_EQ_U64(req.cookie, msg.cookie);
    MBT_EQ_U64(40, msg.u.grant.pages);

    /* Now the holder stays silent: the REQUEST ends at its timeout with 0. */
    req.cookie = 0;
    req.u.amount.pages = 30;
    MBT_EQ_INT(0, send_msg(asker, &req));
    MBT_EQ_INT(0, raw_recv(holder, &msg, 2000));
    MBT_EQ_INT(MB_MSG_GIVEBACK, msg.type);
    MBT_EQ_INT(0, raw_recv(asker, &msg, 3000));
    MBT_EQ_INT(MB_MSG_GRANT, msg.type);
    MBT_EQ_U64(0, msg.u.grant.pages);

    struct mb_msg_query_reply qh, qa;
    MBT_REQUIRE(query(asker, &qa));
    /* The silent holder's balance: read its QUERY reply (skip any GIVEBACK). */
    struct mb_msg qmsg = {.type = MB_MSG_QUERY};
    MBT_EQ_INT(0, send_msg(holder, &qmsg));
    for (;;) {
        MBT_REQUIRE(raw_recv(holder, &msg, 2000) == 0);
        if (msg.type == MB_MSG_QUERY_REPLY)
            break;
    }
    qh = msg.u.query_reply;
    MBT_EQ_U64(40, qa.balance);
    MBT_EQ_U64(TOTAL_PAGES - 40, qh.balance);
    MBT_EQ_U64(TOTAL_PAGES, qa.pool + qa.balance + qh.balance);
    close(holder);
    close(asker);
}

/* More connections than slots: the extra ones are refused with an ERROR,
 * the others keep being served, and slots come back when clients leave. */
static void test_connection_flood(void)
{
    int fds[MAX_CLIENTS + 16];
    size_t accepted = 0, refused = 0;
    for (size_t i = 0; i < MAX_CLIENTS + 16; i++) {
        fds[i] = client_open(MB_KIND_SIMPLE, "flood");
        if (fds[i] >= 0)
            accepted++;
        else
            refused++;
    }
    MBT_EQ_U64(MAX_CLIENTS, accepted);
    MBT_EQ_U64(16, refused);
    MBT_EQ_U64(1, request(fds[0], 1));
    for (size_t i = 0; i < MAX_CLIENTS + 16; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    int fd = -1;
    for (int i = 0; i < 200 && fd < 0; i++) { /* slots free once the server saw the closes */
        fd = client_open(MB_KIND_SIMPLE, "after-flood");
        if (fd < 0)
            raw_sleep_ms(10);
    }
    MBT_REQUIRE(fd >= 0);
    struct mb_msg_query_reply q;
    bool whole = false;
    for (int i = 0; i < 200 && !whole; i++) {
        MBT_REQUIRE(query(fd, &q));
        whole = q.pool == TOTAL_PAGES;
        if (!whole)
            raw_sleep_ms(10);
    }
    MBT_TRUE(whole);
    close(fd);
}

static void test_sigterm_shutdown(void)
{
    MBT_EQ_INT(0, kill(server_pid, SIGTERM));
    int status = 0;
    MBT_EQ_I64(server_pid, waitpid(server_pid, &status, 0));
    MBT_TRUE(WIFEXITED(status));
    MBT_EQ_INT(0, WEXITSTATUS(status));
    struct stat st;
    MBT_EQ_INT(-1, stat(sock_path, &st)); /* the socket file is removed */
    server_pid = -1;
}

/* Under socket activation the activator owns the socket file: only the
 * daemon's clean exit is checked. */
static void test_activated_shutdown(void)
{
    MBT_EQ_INT(0, kill(server_pid, SIGTERM));
    int status = 0;
    MBT_EQ_I64(server_pid, waitpid(server_pid, &status, 0));
    MBT_TRUE(WIFEXITED(status));
    MBT_EQ_INT(0, WEXITSTATUS(status));
    server_pid = -1;
    unlink(sock_path);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "--socket-activation") != 0)) {
        fprintf(stderr, "usage: %s PATH_TO_MBSERVER [--socket-activation]\n", argv[0]);
        return 2;
    }
    server_binary = argv[1];
    socket_activation = argc == 3;
    signal(SIGPIPE, SIG_IGN);
    snprintf(dir, sizeof dir, "/tmp/mb-wire-%ld", (long)getpid());
    snprintf(sock_path, sizeof sock_path, "%s/run/socket", dir);
    mkdir(dir, 0700);
    if (socket_activation) {
        char run[96];
        snprintf(run, sizeof run, "%s/run", dir);
        mkdir(run, 0750); /* the activator binds but does not create directories */
    }
    start_server();
    MBT_RUN(test_handshake_and_grant);
    MBT_RUN(test_bad_input_keeps_serving);
    MBT_RUN(test_killed_client_returns_quota);
    MBT_RUN(test_giveback_and_silent_client);
    MBT_RUN(test_connection_flood);
    if (socket_activation)
        MBT_RUN(test_activated_shutdown);
    else
        MBT_RUN(test_sigterm_shutdown);
    if (server_pid > 0) {
        kill(server_pid, SIGKILL);
        waitpid(server_pid, NULL, 0);
    }
    char run_dir[128];
    snprintf(run_dir, sizeof run_dir, "%s/run", dir);
    rmdir(run_dir);
    rmdir(dir);
    return mbt_finish();
}
