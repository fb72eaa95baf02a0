/* test_basic.c: one client, one thread, against a scripted server:
 * handshake, request, reserve, return, query, status, bytes, errors,
 * timeouts and the first-connect retry. */
#include "client/fake_server.h"
#include "membroker/client.h"
#include "mbtest.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* The server most tests want: grants what its pool has (REQUEST), all or
 * nothing (RESERVE), takes returns, answers QUERY. */
static void plain_server(struct fake_script *sc, const struct mb_msg *m)
{
    switch (m->type) {
    case MB_MSG_REQUEST: {
        uint64_t n = m->u.amount.pages < sc->pool ? m->u.amount.pages : sc->pool;
        sc->pool -= n;
        sc->balance += n;
        fake_grant(sc->conn, m->cookie, n, sc->balance);
        break;
    }
    case MB_MSG_RESERVE:
        if (m->u.reserve.pages > sc->pool) {
            fake_error(sc->conn, m->cookie, MB_ERR_NOMEM, sc->balance);
            break;
        }
        sc->pool -= m->u.reserve.pages;
        sc->balance += m->u.reserve.pages;
        fake_grant(sc->conn, m->cookie, m->u.reserve.pages, sc->balance);
        break;
    case MB_MSG_RETURN:
        if (m->u.amount.pages > sc->balance) {
            fake_error(sc->conn, m->cookie, MB_ERR_OVER_BALANCE, sc->balance);
            break;
        }
        sc->balance -= m->u.amount.pages;
        sc->pool += m->u.amount.pages;
        fake_ok(sc->conn, m->cookie, sc->balance);
        break;
    case MB_MSG_QUERY:
        fake_query_reply(sc->conn, m->cookie, sc->balance, sc->pool, sc->total);
        break;
    default:
        break;
    }
}

static int client_for(struct mb_client *c, struct fake_script *sc, uint32_t timeout_ms)
{
    struct mb_client_options o;
    mb_client_options_init(&o);
    o.socket_path = sc->fs.path;
    o.name = "tester";
    o.class_name = "batch";
    o.timeout_ms = timeout_ms;
    return mb_client_init(c, &o);
}

static void test_handshake_and_welcome(void)
{
    struct fake_script sc = {0};
    MBT_REQUIRE(fake_script_start(&sc, plain_server, 1000) == 0);
    struct mb_client c;
    MBT_REQUIRE(client_for(&c, &sc, 2000) == 0);
    MBT_EQ_U64(0, mb_client_page_size(&c)); /* no I/O at init */
    MBT_EQ_INT(0, mb_client_connect(&c));
    MBT_EQ_U64(4096, mb_client_page_size(&c));
    MBT_EQ_U64(0, mb_client_balance(&c));

    struct mb_client_info info;
    MBT_EQ_INT(0, mb_client_get_info(&c, &info));
    MBT_EQ_U64(7, info.client_id);
    MBT_EQ_U64(4096, info.page_size);
    MBT_EQ_U64(0, info.balance);
    MBT_EQ_U64(1000, info.pool);
    MBT_EQ_U64(1000, info.total);

    mb_client_destroy(&c);
    MBT_TRUE(fake_script_wait_eof(&sc, 5000)); /* destroy closed the connection */
    fake_script_finish(&sc);
    MBT_EQ_INT(0, sc.handshake_rc);
    MBT_EQ_INT(MB_MSG_HELLO, sc.hello.type);
    MBT_EQ_INT(MB_KIND_SIMPLE, sc.hello.u.hello.kind);
    MBT_EQ_STR("tester", sc.hello.u.hello.name);
    MBT_EQ_STR("batch", sc.hello.u.hello.class_name);
    MBT_EQ_U64(0, sc.hello.u.hello.capacity);
    MBT_EQ_U64(0, sc.hello.u.hello.held);
    MBT_EQ_INT(getpid(), sc.pid);
}

static void test_request_full_partial_zero(void)
{
    struct fake_script sc = {0};
    MBT_REQUIRE(fake_script_start(&sc, plain_server, 100) == 0);
    struct mb_client c;
    MBT_REQUIRE(client_for(&c, &sc, 2000) == 0);
    uint64_t got = 99;
    MBT_EQ_INT(0, mb_client_request(&c, 10, &got)); /* connects on first use */
    MBT_EQ_U64(10, got);
    MBT_EQ_INT(0, mb_client_request(&c, 200, &got));
    MBT_EQ_U64(90, got);
    MBT_EQ_INT(0, mb_client_request(&c, 5, &got));
    MBT_EQ_U64(0, got);
    MBT_EQ_U64(100, mb_client_balance(&c));
    MBT_EQ_INT(-EINVAL, mb_client_request(&c, MB_PAGES_MAX + 1, &got));
    MBT_EQ_U64(0, got);
    mb_client_destroy(&c);
    fake_script_finish(&sc);
    struct mb_msg last;
    MBT_EQ_INT(3, fake_script_count(&sc, MB_MSG_REQUEST, &last));
    MBT_EQ_U64(5, last.u.amount.pages);
}

static void test_reserve_success_and_nomem(void)
{
    struct fake_script sc = {0};
    MBT_REQUIRE(fake_script_start(&sc, plain_server, 50) == 0);
    struct mb_client c;
    MBT_REQUIRE(client_for(&c, &sc, 2000) == 0);
    MBT_EQ_INT(0, mb_client_reserve(&c, 30, 250));
    MBT_EQ_U64(30, mb_client_balance(&c));
    MBT_EQ_INT(MB_CLIENT_ERR(MB_ERR_NOMEM), mb_client_reserve(&c, 40, 0));
    MBT_EQ_INT(-1006, MB_CLIENT_ERR(MB_ERR_NOMEM));
    MBT_EQ_U64(30, mb_client_balance(&c));
    mb_client_destroy(&c);
    fake_script_finish(&sc);
    struct mb_msg last;
    MBT_EQ_INT(2, fake_script_count(&sc, MB_MSG_RESERVE, &last));
    MBT_EQ_U64(40, last.u.reserve.pages);
    MBT_EQ_U64(0, last.u.reserve.deadline_ms);
}

static void test_return_over_balance(void)
{
    struct fake_script sc = {0};
    MBT_REQUIRE(fake_script_start(&sc, plain_server, 50) == 0);
    struct mb_client c;
    MBT_REQUIRE(client_for(&c, &sc, 2000) == 0);
    uint64_t got;
    MBT_EQ_INT(0, mb_client_request(&c, 30, &got));
    MBT_EQ_INT(MB_CLIENT_ERR(MB_ERR_OVER_BALANCE), mb_client_return(&c, 31));
    MBT_EQ_U64(30, mb_client_balance(&c));
    MBT_EQ_INT(0, mb_client_return(&c, 10));
    MBT_EQ_U64(20, mb_client_balance(&c));
    struct mb_client_info info;
    MBT_EQ_INT(0, mb_client_get_info(&c, &info));
    MBT_EQ_U64(20, info.balance); /* the server agrees */
    MBT_EQ_U64(30, info.pool);
    mb_client_destroy(&c);
    fake_script_finish(&sc);
    struct mb_msg last;
    MBT_EQ_INT(1, fake_script_count(&sc, MB_MSG_RETURN, &last)); /* 31 never sent */
    MBT_EQ_U64(10, last.u.amount.pages);
}

/* A server that refuses the RETURN itself: the balance is restored. */
static void refusing_server(struct fake_script *sc, const struct mb_msg *m)
{
    if (m->type == MB_MSG_RETURN)
        fake_error(sc->conn, m->cookie, MB_ERR_OVER_BALANCE, sc->balance);
    else
        plain_server(sc, m);
}

static void test_return_refused_by_server(void)
{
    struct fake_script sc = {0};
    MBT_REQUIRE(fake_script_start(&sc, refusing_server, 50) == 0);
    struct mb_client c;
    MBT_REQUIRE(client_for(&c, &sc, 2000) == 0);
    uint64_t got;
    MBT_EQ_INT(0, mb_client_request(&c, 8, &got));
    MBT_EQ_INT(MB_CLIENT_ERR(MB_ERR_OVER_BALANCE), mb_client_return(&c, 8));
    MBT_EQ_U64(8, mb_client_balance(&c));
    mb_client_destroy(&c);
    fake_script_finish(&sc);
}

static void status_server(struct fake_script *sc, const struct mb_msg *m)
{
    if (m->type != MB_MSG_STATUS) {
        plain_server(sc, m);
        return;
    }
    struct mb_status_summary sum = {.total = 1000, .configured_total = 900, .pool = 400,
                                    .lent = 100, .clients = 2, .max_clients = 64,
                                    .class_count = 1, .requests = 12};
    struct mb_status_client recs[2] = {
        {.id = 7, .pid = 100, .uid = 1, .gid = 2, .kind = MB_KIND_SIMPLE, .balance = 500,
         .name = "alpha"},
        {.id = 8, .pid = 101, .kind = MB_KIND_SOURCE, .balance = 100, .lent = 100,
         .pending_kind = MB_PENDING_RESERVE, .pending_pages = 9, .name = "beta"},
    };
    uint8_t buf[MB_PROTO_MAX_MESSAGE];
    /* The reply's offset is the cursor of the next page. */
    int len = mb_proto_encode_status_clients(buf, sizeof buf, m->cookie, true, &sum,
                                             m->u.status.offset + 37, recs, 2);
    if (len > 0)
        (void)send(sc->conn, buf, (size_t)len, MSG_NOSIGNAL);
}

static void test_status_page(void)
{
    struct fake_script sc = {0};
    MBT_REQUIRE(fake_script_start(&sc, status_server, 1000) == 0);
    struct mb_client c;
    MBT_REQUIRE(client_for(&c, &sc, 2000) == 0);
    static struct mb_client_status_page page;
    MBT_EQ_INT(0, mb_client_status_page(&c, MB_STATUS_CLIENTS, 5, &page));
    MBT_EQ_U64(1000, page.summary.total);
    MBT_EQ_U64(900, page.summary.configured_total);
    MBT_EQ_U64(400, page.summary.pool);
    MBT_EQ_U64(12, page.summary.requests);
    MBT_EQ_U64(2, page.summary.clients);
    MBT_EQ_INT(MB_STATUS_CLIENTS, page.section);
    MBT_EQ_U64(42, page.offset);
    MBT_EQ_U64(2, page.count);
    MBT_TRUE(page.more);
    MBT_EQ_U64(7, page.records.clients[0].id);
    MBT_EQ_STR("alpha", page.records.clients[0].name);
    MBT_EQ_U64(500, page.records.clients[0].balance);
    MBT_EQ_STR("beta", page.records.clients[1].name);
    MBT_EQ_U64(MB_PENDING_RESERVE, page.records.clients[1].pending_kind);
    MBT_EQ_U64(9, page.records.clients[1].pending_pages);
    MBT_EQ_INT(-EINVAL, mb_client_status_page(&c, MB_STATUS_SECTION_COUNT, 0, &page));
    mb_client_destroy(&c);
    fake_script_finish(&sc);
    struct mb_msg last;
    MBT_EQ_INT(1, fake_script_count(&sc, MB_MSG_STATUS, &last));
    MBT_EQ_U64(5, last.u.status.offset);
}

static void test_bytes(void)
{
    struct fake_script sc = {0};
    MBT_REQUIRE(fake_script_start(&sc, plain_server, 100) == 0);
    struct mb_client c;
    MBT_REQUIRE(client_for(&c, &sc, 2000) == 0);
    uint64_t pages = 0, bytes = 0;
    MBT_EQ_INT(0, mb_client_pages_for_bytes(&c, 4097, &pages));
    MBT_EQ_U64(2, pages);
    MBT_EQ_INT(0, mb_client_pages_for_bytes(&c, 4096, &pages));
    MBT_EQ_U64(1, pages);
    MBT_EQ_INT(0, mb_client_pages_for_bytes(&c, 0, &pages));
    MBT_EQ_U64(0, pages);
    MBT_EQ_INT(0, mb_client_request_bytes(&c, 10000, &bytes));
    MBT_EQ_U64(3 * 4096, bytes);
    MBT_EQ_U64(3, mb_client_balance(&c));
    MBT_EQ_INT(0, mb_client_reserve_bytes(&c, 8192, 0));
    MBT_EQ_U64(5, mb_client_balance(&c));
    MBT_EQ_INT(0, mb_client_return_bytes(&c, 10000));
    MBT_EQ_U64(2, mb_client_balance(&c));
    MBT_EQ_INT(0, mb_client_request_bytes_timeout(&c, 1, &bytes, 1000));
    MBT_EQ_U64(4096, bytes);
    MBT_EQ_INT(0, mb_client_reserve_bytes_timeout(&c, 4096 * 2 + 1, 0, 1000));
    MBT_EQ_INT(0, mb_client_return_bytes_timeout(&c, 4096 * 6, 1000));
    MBT_EQ_U64(0, mb_client_balance(&c));
    MBT_EQ_INT(-EINVAL, mb_client_pages_for_bytes(&c, 1, NULL));
    mb_client_destroy(&c);
    fake_script_finish(&sc);
}

static void test_strings_and_arguments(void)
{
    MBT_EQ_STR("0.1.0", mb_client_version());
    MBT_EQ_STR("success", mb_client_strerror(0));
    MBT_EQ_STR("server: not enough quota", mb_client_strerror(MB_CLIENT_ERR(MB_ERR_NOMEM)));
    MBT_EQ_STR("timed out", mb_client_strerror(-ETIMEDOUT));
    MBT_EQ_STR("unknown error", mb_client_strerror(-999));
    MBT_EQ_STR("unknown error", mb_client_strerror(MB_CLIENT_ERR(MB_ERR_COUNT)));

    struct mb_client c;
    struct mb_client_options o;
    mb_client_options_init(&o);
    o.socket_path = "/nonexistent/x";
    o.kind = MB_KIND_BIDIRECTIONAL; /* without a callback */
    MBT_EQ_INT(-EINVAL, mb_client_init(&c, &o));
    o.kind = MB_KIND_SIMPLE;
    o.capacity = 5; /* only sources lend */
    MBT_EQ_INT(-EINVAL, mb_client_init(&c, &o));
    o.capacity = 0;
    o.name = "a name that is much longer than thirty-one bytes";
    MBT_EQ_INT(-ENAMETOOLONG, mb_client_init(&c, &o));
    /* Calls on a client that was never initialised fail cleanly. */
    struct mb_client zero = {0};
    MBT_EQ_INT(-EINVAL, mb_client_return(&zero, 1));
    MBT_EQ_INT(-EINVAL, mb_client_request(NULL, 1, NULL));
    mb_client_destroy(&zero);
}

static void test_socket_path_from_environment(void)
{
    struct fake_script sc = {0};
    MBT_REQUIRE(fake_script_start(&sc, plain_server, 100) == 0);
    setenv(MB_CLIENT_SOCKET_ENV, sc.fs.path, 1);
    struct mb_client c;
    MBT_REQUIRE(mb_client_init(&c, NULL) == 0);
    MBT_EQ_INT(0, mb_client_connect(&c));
    mb_client_destroy(&c);
    unsetenv(MB_CLIENT_SOCKET_ENV);
    fake_script_finish(&sc);
    MBT_EQ_INT(0, sc.handshake_rc);
}

static void test_failed_first_connect_is_retried(void)
{
    struct fake_script sc = {0};
    MBT_REQUIRE(fake_script_start(&sc, plain_server, 100) == 0);
    char away[128];
    snprintf(away, sizeof away, "%s.away", sc.fs.path);
    MBT_REQUIRE(rename(sc.fs.path, away) == 0);
    struct mb_client c;
    MBT_REQUIRE(client_for(&c, &sc, 2000) == 0);
    uint64_t got = 0;
    MBT_EQ_INT(-ENOENT, mb_client_request_timeout(&c, 1, &got, 0));
    MBT_EQ_INT(-ENOENT, mb_client_connect_timeout(&c, 0)); /* within the backoff */

    /* A socket nobody listens on: refused. */
    MBT_REQUIRE(unlink(away) == 0 || errno == ENOENT);
    int idle = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    memcpy(addr.sun_path, sc.fs.path, strlen(sc.fs.path) + 1);
    MBT_REQUIRE(bind(idle, (struct sockaddr *)&addr, sizeof addr) == 0);
    MBT_EQ_INT(-ECONNREFUSED, mb_client_connect_timeout(&c, 1000));
    close(idle);
    unlink(sc.fs.path);

    /* The server is back at the path: the next call connects. */
    fake_script_finish(&sc);
    MBT_REQUIRE(fake_script_start(&sc, plain_server, 100) == 0);
    mb_client_destroy(&c);
    MBT_REQUIRE(client_for(&c, &sc, 2000) == 0);
    snprintf(away, sizeof away, "%s.away", sc.fs.path);
    MBT_REQUIRE(rename(sc.fs.path, away) == 0);
    MBT_EQ_INT(-ENOENT, mb_client_connect_timeout(&c, 0));
    MBT_REQUIRE(rename(away, sc.fs.path) == 0);
    MBT_EQ_INT(0, mb_client_request_timeout(&c, 4, &got, 2000));
    MBT_EQ_U64(4, got);
    mb_client_destroy(&c);
    fake_script_finish(&sc);
    MBT_EQ_INT(0, sc.handshake_rc);
}

/* A server that turns connections away, as mbserver does for a peer not in
 * ALLOW_UIDS or when full: ERROR with cookie 0, then close. */
enum refusal_mode {
    REFUSE_HELLO_UNREAD, /* closes with our HELLO unread: the client sees a reset first */
    REFUSE_HELLO_READ,   /* reads the HELLO, then refuses: the ERROR comes first */
    HANG_UP,             /* reads the HELLO and closes without a word */
    ACCEPT,              /* a normal WELCOME */
};

struct refuser {
    struct fake_server fs;
    enum refusal_mode mode;
    uint32_t code;
    int rc;
};

static void *refuser_main(void *arg)
{
    struct refuser *r = arg;
    if (r->mode == ACCEPT) {
        int conn = fake_handshake(&r->fs, 5000, NULL, 3, 4096, 100, NULL);
        r->rc = conn < 0 ? conn : 0;
        if (conn >= 0) {
            struct mb_msg m;
            (void)fake_recv(conn, &m, 5000); /* until the client closes */
            close(conn);
        }
        return NULL;
    }
    int conn = fake_accept(&r->fs, 5000, NULL);
    if (conn < 0) {
        r->rc = conn;
        return NULL;
    }
    struct mb_msg hello;
    if (r->mode == REFUSE_HELLO_UNREAD) {
        struct pollfd p = {.fd = conn, .events = POLLIN};
        r->rc = poll(&p, 1, 5000) == 1 ? 0 : -ETIMEDOUT; /* HELLO queued, not read */
    } else {
        r->rc = fake_recv(conn, &hello, 5000);
    }
    if (r->rc == 0 && r->mode != HANG_UP)
        r->rc = fake_error(conn, 0, r->code, 0);
    close(conn);
    return NULL;
}

static int refused_connect(struct mb_client *c, struct refuser *r, enum refusal_mode mode,
                           uint32_t code, uint32_t timeout_ms)
{
    r->mode = mode;
    r->code = code;
    r->rc = 1;
    pthread_t t;
    if (pthread_create(&t, NULL, refuser_main, r) != 0)
        return INT32_MIN;
    int rc = mb_client_connect_timeout(c, timeout_ms);
    pthread_join(t, NULL);
    MBT_EQ_INT(0, r->rc);
    return rc;
}

/* The refusal as the client meets it when the server was quicker: the
 * client process is stopped while the server refuses and closes with the
 * HELLO unread, so the kernel reports the reset before the queued ERROR.
 * Returns the child's connect result. */
static int refused_while_stopped(struct fake_server *fs)
{
    int pipefd[2];
    if (pipe(pipefd) < 0)
        return INT32_MIN;
    pid_t child = fork();
    if (child == 0) {
        struct mb_client_options o;
        mb_client_options_init(&o);
        o.socket_path = fs->path;
        struct mb_client c;
        int rc = mb_client_init(&c, &o);
        if (rc == 0)
            rc = mb_client_connect_timeout(&c, 2000);
        (void)!write(pipefd[1], &rc, sizeof rc);
        _exit(0);
    }
    close(pipefd[1]);
    int conn = fake_accept(fs, 5000, NULL);
    struct pollfd p = {.fd = conn, .events = POLLIN};
    bool hello_queued = conn >= 0 && poll(&p, 1, 5000) == 1;
    int status = 0;
    kill(child, SIGSTOP);
    waitpid(child, &status, WUNTRACED);
    MBT_TRUE(hello_queued && WIFSTOPPED(status));
    if (conn >= 0) {
        MBT_EQ_INT(0, fake_error(conn, 0, MB_ERR_NOT_PERMITTED, 0));
        close(conn);
    }
    kill(child, SIGCONT);
    int rc = INT32_MIN;
    MBT_EQ_I64((int64_t)sizeof rc, read(pipefd[0], &rc, sizeof rc));
    close(pipefd[0]);
    waitpid(child, &status, 0);
    return rc;
}

static void test_refused_connection_reports_reason(void)
{
    struct refuser r = {0};
    MBT_REQUIRE(fake_server_start(&r.fs) == 0);
    struct mb_client_options o;
    mb_client_options_init(&o);
    o.socket_path = r.fs.path;
    struct mb_client c;
    MBT_REQUIRE(mb_client_init(&c, &o) == 0);

    MBT_EQ_INT(MB_CLIENT_ERR(MB_ERR_NOT_PERMITTED),
               refused_connect(&c, &r, REFUSE_HELLO_UNREAD, MB_ERR_NOT_PERMITTED, 2000));
    /* Within the backoff the refusal stands, without a new attempt. */
    MBT_EQ_INT(MB_CLIENT_ERR(MB_ERR_NOT_PERMITTED), mb_client_connect_timeout(&c, 0));
    MBT_EQ_STR("server: not permitted",
               mb_client_strerror(MB_CLIENT_ERR(MB_ERR_NOT_PERMITTED)));
    MBT_EQ_INT(MB_CLIENT_ERR(MB_ERR_TOO_MANY_CLIENTS),
               refused_connect(&c, &r, REFUSE_HELLO_READ, MB_ERR_TOO_MANY_CLIENTS, 2000));
    MBT_EQ_INT(MB_CLIENT_ERR(MB_ERR_NOT_PERMITTED),
               refused_connect(&c, &r, REFUSE_HELLO_UNREAD, MB_ERR_NOT_PERMITTED, 2000));
    /* A close without a reason stays a plain connection loss (which a call
     * retries within its timeout: this one allows a single attempt). */
    fake_sleep_ms(200); /* past the backoff */
    MBT_EQ_INT(-ECONNRESET, refused_connect(&c, &r, HANG_UP, 0, 0));
    /* Nothing sticks: once the server accepts, the client is served. */
    MBT_EQ_INT(0, refused_connect(&c, &r, ACCEPT, 0, 2000));
    MBT_EQ_U64(4096, mb_client_page_size(&c));
    MBT_EQ_U64(0, mb_client_balance(&c));
    mb_client_destroy(&c);
    MBT_EQ_INT(MB_CLIENT_ERR(MB_ERR_NOT_PERMITTED), refused_while_stopped(&r.fs));
    fake_server_stop(&r.fs);
}

/* Never answers a REQUEST/RESERVE; answers CANCEL as the broker would. */
static void slow_server(struct fake_script *sc, const struct mb_msg *m)
{
    static uint32_t pending;
    switch (m->type) {
    case MB_MSG_REQUEST:
    case MB_MSG_RESERVE:
        pending = m->cookie;
        break;
    case MB_MSG_CANCEL:
        if (sc->ctx != NULL) { /* the grant crossed the cancel */
            fake_grant(sc->conn, pending, 5, 5);
            fake_error(sc->conn, m->cookie, MB_ERR_NO_SUCH_REQUEST, 5);
        } else {
            fake_error(sc->conn, pending, MB_ERR_CANCELLED, 0);
            fake_ok(sc->conn, m->cookie, 0);
        }
        break;
    default:
        break; /* QUERY: silence */
    }
}

static void test_timeouts(void)
{
    struct fake_script sc = {0};
    MBT_REQUIRE(fake_script_start(&sc, slow_server, 100) == 0);
    struct mb_client c;
    MBT_REQUIRE(client_for(&c, &sc, 2000) == 0);
    uint64_t got = 1;
    MBT_EQ_INT(-ETIMEDOUT, mb_client_request_timeout(&c, 10, &got, 30));
    MBT_EQ_U64(0, got);
    MBT_EQ_INT(-ETIMEDOUT, mb_client_reserve_timeout(&c, 10, 0, 30));
    MBT_EQ_U64(0, mb_client_balance(&c));
    struct mb_client_info info;
    MBT_EQ_INT(-ETIMEDOUT, mb_client_get_info_timeout(&c, &info, 30));
    MBT_EQ_INT(-ENOENT, mb_client_cancel(&c)); /* nothing pending any more */
    mb_client_destroy(&c);
    fake_script_finish(&sc);
    struct mb_msg req, cancel;
    MBT_EQ_INT(1, fake_script_count(&sc, MB_MSG_REQUEST, &req));
    MBT_EQ_INT(2, fake_script_count(&sc, MB_MSG_CANCEL, &cancel));
    MBT_EQ_INT(1, fake_script_count(&sc, MB_MSG_RESERVE, &req));
    MBT_EQ_U64(req.cookie, cancel.u.cancel.target_cookie);
}

static void test_grant_crossing_cancel_is_kept(void)
{
    struct fake_script sc = {.ctx = &sc};
    MBT_REQUIRE(fake_script_start(&sc, slow_server, 100) == 0);
    struct mb_client c;
    MBT_REQUIRE(client_for(&c, &sc, 2000) == 0);
    uint64_t got = 0;
    MBT_EQ_INT(0, mb_client_request_timeout(&c, 10, &got, 30));
    MBT_EQ_U64(5, got);
    MBT_EQ_U64(5, mb_client_balance(&c));
    mb_client_destroy(&c);
    fake_script_finish(&sc);
}

int main(void)
{
    MBT_RUN(test_handshake_and_welcome);
    MBT_RUN(test_request_full_partial_zero);
    MBT_RUN(test_reserve_success_and_nomem);
    MBT_RUN(test_return_over_balance);
    MBT_RUN(test_return_refused_by_server);
    MBT_RUN(test_status_page);
    MBT_RUN(test_bytes);
    MBT_RUN(test_strings_and_arguments);
    MBT_RUN(test_socket_path_from_environment);
    MBT_RUN(test_failed_first_connect_is_retried);
    MBT_RUN(test_refused_connection_reports_reason);
    MBT_RUN(test_timeouts);
    MBT_RUN(test_grant_crossing_cancel_is_kept);
    return mbt_finish();
}
