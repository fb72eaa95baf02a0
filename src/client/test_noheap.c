/* test_noheap.c: the library allocates nothing. malloc and friends are
 * replaced here by counters that forward to glibc; a whole client session
 * (connect, every call, a give-back, a reconnect, the compat API) runs with
 * counting on and must count zero. Threads are created before counting
 * starts: pthread_create allocates inside libc, which the library's helper
 * thread documents. Not sanitized: ASan replaces malloc itself. */
#include "client/fake_server.h"
#include "membroker/client.h"
#include "membroker/compat.h"
#include "mbtest.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void __libc_free(void *p);

static atomic_bool counting;
static atomic_int allocations;

void *malloc(size_t size)
{
    if (atomic_load(&counting))
        atomic_fetch_add(&allocations, 1);
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    if (atomic_load(&counting))
        atomic_fetch_add(&allocations, 1);
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
    if (atomic_load(&counting))
        atomic_fetch_add(&allocations, 1);
    return __libc_realloc(p, size);
}

void free(void *p)
{
    if (p != NULL && atomic_load(&counting))
        atomic_fetch_add(&allocations, 1);
    __libc_free(p);
}

static void server(struct fake_script *sc, const struct mb_msg *m)
{
    switch (m->type) {
    case MB_MSG_REQUEST:
        sc->balance += m->u.amount.pages;
        fake_grant(sc->conn, m->cookie, m->u.amount.pages, sc->balance);
        break;
    case MB_MSG_RESERVE:
        sc->balance += m->u.reserve.pages;
        fake_grant(sc->conn, m->cookie, m->u.reserve.pages, sc->balance);
        break;
    case MB_MSG_RETURN:
        sc->balance -= m->u.amount.pages;
        fake_ok(sc->conn, m->cookie, sc->balance);
        break;
    case MB_MSG_QUERY:
        fake_query_reply(sc->conn, m->cookie, sc->balance, 10, sc->total);
        break;
    case MB_MSG_CANCEL:
        fake_error(sc->conn, m->cookie, MB_ERR_NO_SUCH_REQUEST, sc->balance);
        break;
    case MB_MSG_GIVEBACK_ANSWER:
        sc->balance -= m->u.amount.pages;
        break;
    case MB_MSG_STATUS: {
        struct mb_status_summary sum = {.total = sc->total};
        struct mb_status_class cls = {.name = "default", .held = sc->balance, .members = 1};
        uint8_t buf[MB_PROTO_MAX_MESSAGE];
        int len = mb_proto_encode_status_classes(buf, sizeof buf, m->cookie, false, &sum,
                                                 0, &cls, 1);
        if (len > 0)
            (void)send(sc->conn, buf, (size_t)len, MSG_NOSIGNAL);
        break;
    }
    default:
        break;
    }
}

static uint64_t give_two(struct mb_client *c, void *arg, const struct mb_client_giveback *q)
{
    (void)c;
    (void)arg;
    (void)q;
    return 2;
}

static struct mb_client_status_page page;

/* The counters see allocations at all (else the next test proves nothing). */
static void test_counter_works(void)
{
    atomic_store(&counting, true);
    void *volatile p = malloc(16);
    free(p);
    atomic_store(&counting, false);
    MBT_EQ_INT(2, atomic_exchange(&allocations, 0));
}

static void test_session_allocates_nothing(void)
{
    struct fake_script sc = {0};
    MBT_REQUIRE(fake_script_start(&sc, server, 1000) == 0);
    struct mb_client c;
    struct mb_client_options o;
    mb_client_options_init(&o);
    o.socket_path = sc.fs.path;
    o.kind = MB_KIND_BIDIRECTIONAL;
    o.giveback = give_two;

    atomic_store(&counting, true);
    MBT_EQ_INT(0, mb_client_init(&c, &o));
    uint64_t got = 0;
    MBT_EQ_INT(0, mb_client_request(&c, 10, &got));
    MBT_EQ_INT(0, mb_client_reserve(&c, 5, 100));
    MBT_EQ_INT(0, mb_client_return(&c, 3));
    struct mb_client_info info;
    MBT_EQ_INT(0, mb_client_get_info(&c, &info));
    MBT_EQ_INT(0, mb_client_status_page(&c, MB_STATUS_CLASSES, 0, &page));
    MBT_EQ_U64(1, page.count);
    MBT_EQ_INT(-ENOENT, mb_client_cancel(&c));
    MBT_EQ_INT(0, mb_client_request_bytes(&c, 5000, &got));
    MBT_EQ_INT(0, fake_giveback(sc.conn, 3, MB_URGENCY_NORMAL, 2, 100));
    struct pollfd p = {.fd = mb_client_get_fd(&c), .events = POLLIN};
    MBT_EQ_INT(1, poll(&p, 1, 5000));
    MBT_EQ_INT(1, mb_client_dispatch(&c));
    MBT_EQ_U64(12, mb_client_balance(&c));
    (void)mb_client_strerror(MB_CLIENT_ERR(MB_ERR_BUSY));
    atomic_store(&counting, false);

    /* A server restart (the new thread is created uncounted). */
    fake_script_hangup(&sc);
    MBT_TRUE(fake_script_wait_eof(&sc, 5000));
    MBT_REQUIRE(fake_script_restart(&sc) == 0);
    atomic_store(&counting, true);
    MBT_EQ_INT(0, mb_client_get_info(&c, &info));
    MBT_EQ_U64(12, info.balance);
    mb_client_destroy(&c);
    atomic_store(&counting, false);
    MBT_TRUE(fake_script_wait_eof(&sc, 5000));

    /* The compat API on the same server. */
    MBT_REQUIRE(fake_script_restart(&sc) == 0);
    setenv(MB_CLIENT_SOCKET_ENV, sc.fs.path, 1);
    atomic_store(&counting, true);
    MBT_EQ_INT(0, mb_register(0));
    MBT_EQ_INT(4, mb_request_pages(4));
    MBT_EQ_INT(4, mb_query());
    MBT_EQ_INT(0, mb_return_pages(4));
    MBT_EQ_INT(0, mb_status());
    MBT_EQ_INT(0, mb_terminate());
    atomic_store(&counting, false);
    fake_script_finish(&sc);

    MBT_EQ_INT(0, atomic_load(&allocations));
}

int main(void)
{
    MBT_RUN(test_counter_works);
    MBT_RUN(test_session_allocates_nothing);
    return mbt_finish();
}
