/* test_mbserver.c: libmbclient against the real mbserver (argv[1]): grants,
 * a RESERVE served by another client's give-back through the helper
 * thread, status, a server restart survived with the balances re-declared,
 * a forked child's own connection whose quota returns when it exits, and
 * a source client's RECLAIM. */
#include "membroker/client.h"
#include "mbtest.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *server_path;
static char dir[64];
static char sock_path[128];
static pid_t server_pid = -1;

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static bool server_start(void)
{
    server_pid = fork();
    if (server_pid < 0)
        return false;
    if (server_pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, STDERR_FILENO);
        execl(server_path, server_path, "--socket", sock_path, "--total", "1000p",
              "--foreground", "--log-level", "err", (char *)NULL);
        _exit(127);
    }
    return true;
}

static int server_stop(void)
{
    if (server_pid <= 0)
        return -1;
    kill(server_pid, SIGTERM);
    int status = -1;
    waitpid(server_pid, &status, 0);
    server_pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct policy {
    atomic_int give_urgent; /* answer urgent queries with what is asked */
    atomic_int calls;
};

static uint64_t on_giveback(struct mb_client *c, void *arg, const struct mb_client_giveback *q)
{
    (void)c;
    struct policy *p = arg;
    p->calls++;
    if (q->urgency != MB_URGENCY_URGENT || !p->give_urgent)
        return 0;
    return q->pages < q->balance ? q->pages : q->balance;
}

static int make_client(struct mb_client *c, const char *name, struct policy *p)
{
    struct mb_client_options o;
    mb_client_options_init(&o);
    o.socket_path = sock_path;
    o.name = name;
    if (p != NULL) {
        o.kind = MB_KIND_BIDIRECTIONAL;
        o.giveback = on_giveback;
        o.giveback_arg = p;
    }
    return mb_client_init(c, &o);
}

static uint32_t status_clients(struct mb_client *c, uint64_t *sum_balances)
{
    static struct mb_client_status_page page;
    *sum_balances = 0;
    if (mb_client_status_page(c, MB_STATUS_CLIENTS, 0, &page) != 0)
        return UINT32_MAX;
    for (uint32_t i = 0; i < page.count; i++)
        *sum_balances += page.records.clients[i].balance;
    return page.summary.clients;
}

static void test_against_mbserver(void)
{
    MBT_REQUIRE(server_start());
    struct mb_client a, b;
    struct policy pol = {.give_urgent = 1};
    MBT_REQUIRE(make_client(&a, "alpha", NULL) == 0);
    MBT_REQUIRE(make_client(&b, "beta", &pol) == 0);
    MBT_REQUIRE(mb_client_connect_timeout(&a, 10000) == 0); /* waits for the daemon */

    struct mb_client_info info;
    MBT_EQ_INT(0, mb_client_get_info(&a, &info));
    MBT_EQ_U64(1000, info.total);
    MBT_EQ_U64(1000, info.pool);
    MBT_EQ_U64((uint64_t)sysconf(_SC_PAGESIZE), info.page_size);

    uint64_t got = 0;
    MBT_EQ_INT(0, mb_client_request(&a, 100, &got));
    MBT_EQ_U64(100, got);
    MBT_EQ_INT(0, mb_client_reserve_timeout(&a, 50, 0, 5000));
    MBT_EQ_INT(0, mb_client_return(&a, 20));
    MBT_EQ_INT(MB_CLIENT_ERR(MB_ERR_OVER_BALANCE), mb_client_return(&a, 200));
    MBT_EQ_INT(0, mb_client_get_info(&a, &info));
    MBT_EQ_U64(130, info.balance);
    MBT_EQ_U64(870, info.pool);
    MBT_EQ_U64(130, mb_client_balance(&a));

    /* B takes the rest; A's RESERVE is then served by B's give-back. */
    MBT_EQ_INT(0, mb_client_helper_start(&b));
    MBT_EQ_INT(0, mb_client_request(&b, 870, &got));
    MBT_EQ_U64(870, got);
    MBT_EQ_INT(0, mb_client_reserve_timeout(&a, 100, 0, 5000));
    MBT_EQ_U64(230, mb_client_balance(&a));
    MBT_TRUE(pol.calls >= 1);
    MBT_EQ_U64(770, mb_client_balance(&b));
    MBT_EQ_INT(0, mb_client_get_info(&b, &info));
    MBT_EQ_U64(770, info.balance);
    MBT_EQ_U64(0, info.pool);

    /* Everyone refuses: all or nothing fails. */
    pol.give_urgent = 0;
    MBT_EQ_INT(MB_CLIENT_ERR(MB_ERR_NOMEM), mb_client_reserve_timeout(&a, 10, 0, 5000));
    MBT_EQ_U64(230, mb_client_balance(&a));

    uint64_t sum = 0;
    MBT_EQ_U64(2, status_clients(&a, &sum));
    MBT_EQ_U64(1000, sum);

    /* A restart: both clients come back holding what they held. */
    MBT_EQ_INT(0, server_stop());
    MBT_REQUIRE(server_start());
    MBT_EQ_INT(0, mb_client_get_info_timeout(&a, &info, 10000));
    MBT_EQ_U64(230, info.balance);
    uint32_t n = 0;
    /* B's helper thread reconnects on its own (a connection counts in
     * status from its accept, its balance from its HELLO: wait for both). */
    for (int i = 0; i < 200 && ((n = status_clients(&a, &sum)) != 2 || sum != 1000); i++)
        sleep_ms(25);
    MBT_EQ_U64(2, n);
    MBT_EQ_U64(1000, sum);
    MBT_EQ_INT(0, mb_client_get_info(&b, &info));
    MBT_EQ_U64(770, info.balance);
    MBT_EQ_U64(0, info.pool);

    /* A forked child connects on its own, from 0; its quota returns when
     * it exits. */
    MBT_EQ_INT(0, mb_client_return(&a, 30));
    pid_t child = fork();
    MBT_REQUIRE(child >= 0);
    if (child == 0) {
        uint64_t g = 0;
        int code = mb_client_balance(&a) != 0 ? 1 : 0;
        if (mb_client_request(&a, 10, &g) != 0 || g != 10)
            code |= 2;
        uint64_t s = 0;
        if (status_clients(&a, &s) != 3)
            code |= 4;
        _exit(code);
    }
    int status = -1;
    MBT_EQ_INT(child, waitpid(child, &status, 0));
    MBT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (int i = 0; i < 200; i++) {
        if (mb_client_get_info(&a, &info) == 0 && info.pool == 30)
            break;
        sleep_ms(10);
    }
    MBT_EQ_U64(30, info.pool);
    MBT_EQ_U64(200, info.balance);

    MBT_EQ_INT(0, mb_client_helper_stop(&b));
    mb_client_destroy(&b);
    mb_client_destroy(&a);
    MBT_EQ_INT(0, server_stop());
}

/* A source client lends 200 pages and takes them back with RECLAIM: the
 * real server's total and lent shrink, the source's balance does not, and a
 * restarted server hears of what is still lent. */
static void test_reclaim_against_mbserver(void)
{
    MBT_REQUIRE(server_start());
    struct mb_client src, a;
    struct policy pol = {.give_urgent = 1};
    struct mb_client_options o;
    mb_client_options_init(&o);
    o.socket_path = sock_path;
    o.name = "lender";
    o.kind = MB_KIND_SOURCE;
    o.capacity = 200;
    o.giveback = on_giveback;
    o.giveback_arg = &pol;
    MBT_REQUIRE(mb_client_init(&src, &o) == 0);
    MBT_REQUIRE(make_client(&a, "alpha", NULL) == 0);
    MBT_REQUIRE(mb_client_connect_timeout(&src, 10000) == 0);

    struct mb_client_info info;
    MBT_EQ_INT(0, mb_client_get_info(&src, &info));
    MBT_EQ_U64(1200, info.total);
    MBT_EQ_U64(1200, info.pool);
    MBT_EQ_U64(200, info.lent);
    MBT_EQ_INT(0, mb_client_reclaim_timeout(&src, 50, 0, 5000));
    MBT_EQ_U64(150, mb_client_lent(&src));
    MBT_EQ_U64(0, mb_client_balance(&src));
    MBT_EQ_INT(0, mb_client_get_info(&src, &info));
    MBT_EQ_U64(1150, info.total);
    MBT_EQ_U64(1150, info.pool);
    MBT_EQ_U64(150, info.lent);
    MBT_EQ_U64(0, info.balance);
    MBT_EQ_INT(MB_CLIENT_ERR(MB_ERR_WRONG_KIND), mb_client_reclaim(&a, 1, 0));
    MBT_EQ_INT(MB_CLIENT_ERR(MB_ERR_OVER_BALANCE), mb_client_reclaim(&src, 151, 0));

    /* A restart: the source lends again only what it still lends. */
    MBT_EQ_INT(0, server_stop());
    MBT_REQUIRE(server_start());
    MBT_EQ_INT(0, mb_client_get_info_timeout(&src, &info, 10000));
    MBT_EQ_U64(1150, info.total);
    MBT_EQ_U64(150, info.lent);

    /* The pool cannot repay and nobody else can give back: NOMEM, nothing
     * moves; once A returns, the rest comes back. */
    uint64_t got = 0;
    MBT_EQ_INT(0, mb_client_request(&a, 1100, &got));
    MBT_EQ_U64(1100, got);
    MBT_EQ_INT(MB_CLIENT_ERR(MB_ERR_NOMEM), mb_client_reclaim_timeout(&src, 100, 0, 5000));
    MBT_EQ_U64(150, mb_client_lent(&src));
    MBT_EQ_INT(0, mb_client_return(&a, 1100));
    MBT_EQ_INT(0, mb_client_reclaim_timeout(&src, 150, 0, 5000));
    MBT_EQ_U64(0, mb_client_lent(&src));
    MBT_EQ_INT(0, mb_client_get_info(&a, &info));
    MBT_EQ_U64(1000, info.total);
    MBT_EQ_U64(1000, info.pool);

    mb_client_destroy(&a);
    mb_client_destroy(&src);
    MBT_EQ_INT(0, server_stop());
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s MBSERVER\n", argv[0]);
        return 2;
    }
    server_path = argv[1];
    snprintf(dir, sizeof dir, "/tmp/mbclient-mbserver-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(sock_path, sizeof sock_path, "%s/socket", dir);
    MBT_RUN(test_against_mbserver);
    MBT_RUN(test_reclaim_against_mbserver);
    if (server_pid > 0)
        server_stop();
    unlink(sock_path);
    rmdir(dir);
    return mbt_finish();
}
