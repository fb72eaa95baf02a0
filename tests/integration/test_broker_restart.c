/* Integration test: mbserver is SIGKILLed while a RESERVE waits on a
 * bidirectional client's give-back, then restarted on the same socket.
 *
 * - The waiting reserver gets -ECONNRESET ("the server went away during the
 *   call", membroker/client.h): a RESERVE is never silently re-sent, and
 *   nothing it had gathered is counted as granted.
 * - The bidirectional client's helper thread reconnects by itself and
 *   re-declares its balance; its answer to the dead server's query is
 *   dropped (the pages stay its own).
 * - The restarted server's books are whole: pool + sum of balances = total,
 *   no debt; and the same RESERVE, asked again, is served by a give-back.
 * - Nothing hangs: a watchdog alarm fails the test.
 *
 * usage: test_broker_restart PATH_TO_MBSERVER
 */
#include "mbtest.h"
#include "membroker/client.h"
#include "rawclient.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOTAL_PAGES 1000u
#define HELD_PAGES 800u
#define RESERVE_PAGES 600u
#define WATCHDOG_S 90u

static const char *server_binary;
static char dir[64];
static char sock_path[96];
static pid_t server_pid = -1;

static void start_server(void)
{
    char total[32];
    snprintf(total, sizeof total, "%up", TOTAL_PAGES);
    server_pid = fork();
    if (server_pid == 0) {
        /* Long query deadlines: the RESERVE must still be waiting on the
         * silent give-back when the server dies. */
        setenv("MBSERVER_QUERY_TIMEOUT", "60s", 1);
        setenv("MBSERVER_REQUEST_TIMEOUT", "500ms", 1);
        execl(server_binary, "mbserver", "--foreground", "--socket", sock_path, "--total", total,
              "--log-level", "err", (char *)NULL);
        _exit(127);
    }
    if (!raw_wait_listening(sock_path, 5000)) {
        fprintf(stderr, "mbserver did not start\n");
        exit(1);
    }
}

/* The bidirectional client's callback: blocks while `hold` is set (the
 * application is busy freeing memory), then gives what `give` says. */
struct holder_ctl {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool hold;
    bool give;
    unsigned entered;
};

static struct holder_ctl ctl = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

static uint64_t holder_giveback(struct mb_client *c, void *arg,
                                const struct mb_client_giveback *q)
{
    (void)c;
    (void)arg;
    pthread_mutex_lock(&ctl.lock);
    ctl.entered++;
    pthread_cond_broadcast(&ctl.cond);
    while (ctl.hold)
        pthread_cond_wait(&ctl.cond, &ctl.lock);
    uint64_t given = ctl.give ? q->pages : 0;
    pthread_mutex_unlock(&ctl.lock);
    return given;
}

static bool wait_entered(unsigned n, int timeout_s)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_s;
    pthread_mutex_lock(&ctl.lock);
    int rc = 0;
    while (ctl.entered < n && rc == 0)
        rc = pthread_cond_timedwait(&ctl.cond, &ctl.lock, &until);
    bool ok = ctl.entered >= n;
    pthread_mutex_unlock(&ctl.lock);
    return ok;
}

static void set_holder(bool hold, bool give)
{
    pthread_mutex_lock(&ctl.lock);
    ctl.hold = hold;
    ctl.give = give;
    pthread_cond_broadcast(&ctl.cond);
    pthread_mutex_unlock(&ctl.lock);
}

static int client_open(struct mb_client *c, uint8_t kind, const char *name)
{
    struct mb_client_options o;
    mb_client_options_init(&o);
    o.socket_path = sock_path;
    o.kind = kind;
    o.name = name;
    o.timeout_ms = 3000;
    if (kind != MB_KIND_SIMPLE)
        o.giveback = holder_giveback;
    return mb_client_init(c, &o);
}

/* The server's books as STATUS tells them. */
struct books {
    uint64_t total, pool, gathered, debt, balances;
    uint64_t holder_balance;
    uint32_t clients;
    uint8_t reserver_pending;
    uint64_t reserver_gathered;
};

static int read_books(struct mb_client *observer, struct books *b)
{
    memset(b, 0, sizeof *b);
    static struct mb_client_status_page page;
    uint32_t cursor = 0;
    do {
        int rc = mb_client_status_page_timeout(observer, MB_STATUS_CLIENTS, cursor, &page, 3000);
        if (rc < 0)
            return rc;
        for (uint32_t i = 0; i < page.count; i++) {
            const struct mb_client_status_client *r = &page.records.clients[i];
            b->balances += r->balance;
            if (strcmp(r->name, "holder") == 0)
                b->holder_balance = r->balance;
            if (strcmp(r->name, "reserver") == 0) {
                b->reserver_pending = r->pending_kind;
                b->reserver_gathered = r->pending_gathered;
            }
        }
        cursor = page.offset;
    } while (page.more);
    b->total = page.summary.total;
    b->pool = page.summary.pool;
    b->gathered = page.summary.gathered;
    b->debt = page.summary.debt;
    b->clients = page.summary.clients;
    return 0;
}

struct reserve_call {
    struct mb_client *client;
    atomic_int done;
    int rc;
};

static void *reserve_thread(void *arg)
{
    struct reserve_call *call = arg;
    call->rc = mb_client_reserve(call->client, RESERVE_PAGES, 0); /* waits forever */
    atomic_store(&call->done, 1);
    return NULL;
}

static bool wait_done(struct reserve_call *call, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms && !atomic_load(&call->done); waited += 10)
        raw_sleep_ms(10);
    return atomic_load(&call->done) != 0;
}

static void test_kill_during_reserve(void)
{
    struct mb_client holder, reserver, observer;
    MBT_REQUIRE(client_open(&holder, MB_KIND_BIDIRECTIONAL, "holder") == 0);
    MBT_REQUIRE(client_open(&reserver, MB_KIND_SIMPLE, "reserver") == 0);
    MBT_REQUIRE(client_open(&observer, MB_KIND_SIMPLE, "observer") == 0);
    uint64_t got = 0;
    MBT_EQ_INT(0, mb_client_request(&holder, HELD_PAGES, &got));
    MBT_EQ_U64(HELD_PAGES, got);
    MBT_EQ_INT(0, mb_client_helper_start(&holder));

    /* The RESERVE needs 400 pages the holder has; the holder is busy. */
    set_holder(true, false);
    struct reserve_call call = {.client = &reserver};
    pthread_t t;
    MBT_REQUIRE(pthread_create(&t, NULL, reserve_thread, &call) == 0);
    MBT_REQUIRE(wait_entered(1, 20));
    struct books b;
    MBT_EQ_INT(0, read_books(&observer, &b));
    MBT_EQ_U64(MB_PENDING_RESERVE, b.reserver_pending);
    MBT_EQ_U64(TOTAL_PAGES - HELD_PAGES, b.reserver_gathered); /* the whole pool */
    MBT_EQ_U64(0, b.pool);
    MBT_EQ_U64(TOTAL_PAGES, b.pool + b.gathered + b.balances);
    MBT_FALSE(atomic_load(&call.done));

    /* The server dies mid-RESERVE and comes back on the same socket. */
    MBT_REQUIRE(kill(server_pid, SIGKILL) == 0);
    MBT_REQUIRE(waitpid(server_pid, NULL, 0) == server_pid);
    MBT_TRUE(wait_done(&call, 10000)); /* the waiting call ends, it does not hang */
    pthread_join(t, NULL);
    MBT_EQ_INT(-ECONNRESET, call.rc);
    MBT_EQ_U64(0, mb_client_balance(&reserver)); /* nothing gathered counts */
    start_server();

    /* The holder finishes its (now dead) query: the answer is dropped and
     * the pages stay its own; its helper reconnects and re-declares them. */
    set_holder(false, false);
    bool whole = false;
    for (int i = 0; i < 500 && !whole; i++) {
        whole = read_books(&observer, &b) == 0 && b.holder_balance == HELD_PAGES;
        if (!whole)
            raw_sleep_ms(10);
    }
    MBT_TRUE(whole);
    MBT_EQ_U64(HELD_PAGES, mb_client_balance(&holder));
    MBT_EQ_U64(TOTAL_PAGES, b.total);
    MBT_EQ_U64(TOTAL_PAGES - HELD_PAGES, b.pool);
    MBT_EQ_U64(0, b.gathered);
    MBT_EQ_U64(0, b.debt);
    MBT_EQ_U64(HELD_PAGES, b.balances); /* reserver and observer: 0 */
    MBT_EQ_U64(MB_PENDING_NONE, b.reserver_pending);
    MBT_EQ_U64(TOTAL_PAGES, b.pool + b.balances);

    /* The same RESERVE again: the holder gives back, it is granted. */
    set_holder(false, true);
    MBT_EQ_INT(0, mb_client_reserve_timeout(&reserver, RESERVE_PAGES, 0, 20000));
    MBT_EQ_U64(RESERVE_PAGES, mb_client_balance(&reserver));
    uint64_t taken = RESERVE_PAGES - (TOTAL_PAGES - HELD_PAGES);
    MBT_EQ_U64(HELD_PAGES - taken, mb_client_balance(&holder));
    MBT_EQ_INT(0, read_books(&observer, &b));
    MBT_EQ_U64(0, b.pool);
    MBT_EQ_U64(HELD_PAGES - taken, b.holder_balance);
    MBT_EQ_U64(TOTAL_PAGES, b.pool + b.gathered + b.balances);

    MBT_EQ_INT(0, mb_client_helper_stop(&holder));
    mb_client_destroy(&holder);
    mb_client_destroy(&reserver);
    mb_client_destroy(&observer);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH_TO_MBSERVER\n", argv[0]);
        return 2;
    }
    server_binary = argv[1];
    signal(SIGPIPE, SIG_IGN);
    alarm(WATCHDOG_S); /* a hang anywhere fails the test */
    snprintf(dir, sizeof dir, "/tmp/mb-restart-%ld", (long)getpid());
    snprintf(sock_path, sizeof sock_path, "%s/socket", dir);
    if (mkdir(dir, 0700) < 0) {
        perror("mkdir");
        return 1;
    }
    start_server();
    MBT_RUN(test_kill_during_reserve);
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
    }
    unlink(sock_path);
    rmdir(dir);
    return mbt_finish();
}
