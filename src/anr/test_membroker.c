/* test_membroker.c: the anr membroker attachment against the real mbserver
 * (ANR_TEST_MBSERVER): growth balances exactly, surplus return with
 * hysteresis, give-back answered by shrinking, RESERVE for an urgent
 * thread, a forked child's own quota, threads growing at once, and a
 * missing broker refused cleanly.
 * Invariant checked throughout: once the pool is backed, the quota held
 * equals the heap's budget. */
#include "anr/anr_membroker.h"
#include "membroker/client.h"
#include "mbtest.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024u * 1024u)

static char dir[64];
static char sock_path[128];
static pid_t server_pid = -1;

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static bool server_start(const char *total)
{
    snprintf(dir, sizeof dir, "/tmp/anr-membroker-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return false;
    snprintf(sock_path, sizeof sock_path, "%s/sock", dir);
    server_pid = fork();
    if (server_pid < 0)
        return false;
    if (server_pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, STDERR_FILENO);
        execl(ANR_TEST_MBSERVER, ANR_TEST_MBSERVER, "--socket", sock_path, "--total", total,
              "--foreground", "--log-level", "err", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 1000; i++) { /* up to 10 s */
        struct stat st;
        if (stat(sock_path, &st) == 0)
            return true;
        sleep_ms(10);
    }
    return false;
}

static void server_stop(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
    }
    server_pid = -1;
    unlink(sock_path);
    rmdir(dir);
}

/* A heap of 1 MiB pool, hard limit 32 MiB, hooked to mb. */
static anr_heap *make_heap(struct anr_membroker *mb)
{
    struct anr_options ho;
    anr_options_init(&ho);
    ho.pool_size = 1 * MIB;
    ho.map_size = 64 * MIB;
    ho.hard_limit = 32 * MIB;
    anr_membroker_hook(mb, &ho);
    anr_heap *h = NULL;
    return anr_heap_create(&ho, &h) == 0 ? h : NULL;
}

static struct anr_membroker_options options(void)
{
    struct anr_membroker_options o;
    anr_membroker_options_init(&o);
    o.socket_path = sock_path;
    o.name = "test-anr";
    o.floor_bytes = 1 * MIB;
    return o;
}

static uint64_t budget_of(anr_heap *h)
{
    struct anr_stats st;
    anr_heap_get_stats(h, &st);
    return st.budget_bytes;
}

static uint64_t used_of(anr_heap *h)
{
    struct anr_stats st;
    anr_heap_get_stats(h, &st);
    return st.resident_bytes - st.reclaimable_bytes;
}

static uint64_t balance_of(struct anr_membroker *mb)
{
    struct anr_membroker_stats s;
    anr_membroker_get_stats(mb, &s);
    return s.balance_bytes;
}

/* The broker's pool (unassigned quota), as another client sees it. */
static uint64_t broker_pool(struct mb_client *observer)
{
    struct mb_client_info info;
    if (mb_client_get_info(observer, &info) != 0)
        return UINT64_MAX;
    return info.pool * info.page_size;
}

static int observer_init(struct mb_client *c, mb_client_giveback_fn fn, void *arg)
{
    struct mb_client_options o;
    mb_client_options_init(&o);
    o.socket_path = sock_path;
    o.name = "observer";
    if (fn != NULL) {
        o.kind = MB_KIND_BIDIRECTIONAL;
        o.giveback = fn;
        o.giveback_arg = arg;
    }
    return mb_client_init(c, &o);
}

static void test_api_edges(void)
{
    static struct anr_membroker mb; /* zeroed: not attached */
    snprintf(sock_path, sizeof sock_path, "/tmp/anr-membroker-none/sock"); /* never used */
    struct anr_membroker_stats s;
    anr_membroker_get_stats(&mb, &s);
    MBT_FALSE(s.attached);
    MBT_EQ_U64(0, s.balance_bytes);
    anr_membroker_detach(&mb); /* safe on zeroed storage */
    MBT_EQ_INT(-ENODEV, anr_membroker_reserve_budget(&mb, MIB, 10));
    MBT_EQ_U64(0, anr_membroker_return_surplus(&mb));
    MBT_EQ_INT(ANR_NEED_GIVE_UP, anr_membroker_need_memory(NULL, 4096, 1, &mb));
    MBT_EQ_INT(-EINVAL, anr_membroker_attach(&mb, NULL, NULL));

    anr_heap *h = make_heap(&mb);
    MBT_REQUIRE(h != NULL);
    struct anr_membroker_options o = options();
    o.keep_bytes = o.return_above_bytes + 1;
    MBT_EQ_INT(-EINVAL, anr_membroker_attach(&mb, h, &o));
    o = options();
    MBT_EQ_INT(0, anr_membroker_attach(&mb, h, &o));
    MBT_EQ_INT(-EALREADY, anr_membroker_attach(&mb, h, &o));
    anr_membroker_get_stats(&mb, &s);
    MBT_TRUE(s.attached);
    MBT_FALSE(s.budget_backed);
    anr_membroker_detach(&mb);
    anr_membroker_get_stats(&mb, &s);
    MBT_FALSE(s.attached);
    anr_membroker_detach(&mb); /* twice is fine */
    anr_heap_destroy(h);

    MBT_FALSE(anr_membroker_set_urgent(true));
    MBT_TRUE(anr_membroker_set_urgent(false));
    MBT_FALSE(anr_membroker_set_urgent(false));
}

/* Growth: a REQUEST of exactly what is missing (or a chunk), the budget up
 * by exactly the grant, balance == budget, the broker's pool down by it. */
static void test_growth_balances(void)
{
    MBT_REQUIRE(server_start("16M"));
    static struct anr_membroker mb;
    struct mb_client obs;
    MBT_REQUIRE(observer_init(&obs, NULL, NULL) == 0);
    anr_heap *h = make_heap(&mb);
    MBT_REQUIRE(h != NULL);
    struct anr_membroker_options o = options();
    MBT_EQ_INT(0, anr_membroker_attach(&mb, h, &o));
    MBT_EQ_INT(0, anr_membroker_reserve_budget(&mb, MIB, 5000));
    MBT_EQ_U64(MIB, balance_of(&mb));
    MBT_EQ_U64(MIB, budget_of(h));
    MBT_EQ_U64(15 * MIB, broker_pool(&obs));

    /* 3 MiB at once: more than a chunk, so the REQUEST is what is missing. */
    void *big = anr_heap_malloc(h, 3 * MIB);
    MBT_NOT_NULL(big);
    struct anr_membroker_stats s;
    anr_membroker_get_stats(&mb, &s);
    MBT_EQ_U64(1, s.requests);
    MBT_EQ_U64(0, s.reserves);
    MBT_EQ_U64(0, s.refusals);
    uint64_t budget = budget_of(h);
    /* Budget = pages resident before + the block's pages: 3 MiB and a few
     * pages (the block's header, the arena's first and last page). */
    MBT_TRUE(budget > 3 * MIB && budget < 3 * MIB + 64 * 1024);
    MBT_EQ_U64(budget - MIB, s.granted_bytes);
    MBT_EQ_U64(budget, s.balance_bytes);
    MBT_EQ_U64(16 * MIB - budget, broker_pool(&obs));

    /* Small blocks until the budget must grow again: one chunk exactly. */
    void *small[64];
    size_t n = 0;
    while (n < 64 && budget_of(h) == budget) {
        small[n] = anr_heap_malloc(h, 60 * 1024);
        MBT_REQUIRE(small[n] != NULL);
        n++;
    }
    MBT_EQ_U64(budget + MIB, budget_of(h));
    anr_membroker_get_stats(&mb, &s);
    MBT_EQ_U64(2, s.requests);
    MBT_EQ_U64(budget + MIB, s.balance_bytes);
    MBT_EQ_U64(budget, s.granted_bytes); /* (budget - pool) + chunk */
    MBT_EQ_U64(16 * MIB - budget - MIB, broker_pool(&obs));

    while (n > 0)
        anr_heap_free(h, small[--n]);
    anr_heap_free(h, big);
    anr_membroker_detach(&mb);
    /* The broker takes the balance back when the connection closes. */
    uint64_t pool = 0;
    for (int i = 0; i < 500 && (pool = broker_pool(&obs)) != 16 * MIB; i++)
        sleep_ms(10);
    MBT_EQ_U64(16 * MIB, pool);
    mb_client_destroy(&obs);
    anr_heap_destroy(h);
    server_stop();
}

/* Surplus goes back only past return_above_bytes, then all but keep_bytes;
 * never below the floor. */
static void test_surplus_hysteresis(void)
{
    MBT_REQUIRE(server_start("32M"));
    static struct anr_membroker mb;
    anr_heap *h = make_heap(&mb);
    MBT_REQUIRE(h != NULL);
    struct anr_membroker_options o = options();
    MBT_EQ_INT(0, anr_membroker_attach(&mb, h, &o));
    MBT_EQ_INT(0, anr_membroker_reserve_budget(&mb, MIB, 5000));
    void *blk[10];
    for (size_t i = 0; i < 10; i++) {
        blk[i] = anr_heap_malloc(h, MIB);
        MBT_REQUIRE(blk[i] != NULL);
        memset(blk[i], (int)i, MIB);
    }
    uint64_t peak = budget_of(h);
    MBT_EQ_U64(peak, balance_of(&mb));
    MBT_EQ_U64(0, anr_membroker_return_surplus(&mb)); /* nothing unused */

    for (size_t i = 0; i < 3; i++)
        anr_heap_free(h, blk[i]);
    /* About 3 MiB unused: within the 4 MiB of hysteresis, kept. */
    MBT_EQ_U64(0, anr_membroker_return_surplus(&mb));
    MBT_EQ_U64(peak, budget_of(h));
    MBT_EQ_U64(peak, balance_of(&mb));

    for (size_t i = 3; i < 7; i++)
        anr_heap_free(h, blk[i]);
    uint64_t used = used_of(h);
    uint64_t surplus = peak - used;
    MBT_TRUE(surplus > 4 * MIB);
    uint64_t gone = anr_membroker_return_surplus(&mb);
    MBT_EQ_U64(surplus - MIB, gone); /* all but one chunk */
    MBT_EQ_U64(peak - gone, budget_of(h));
    MBT_EQ_U64(used + MIB, budget_of(h));
    MBT_EQ_U64(budget_of(h), balance_of(&mb));
    struct anr_membroker_stats s;
    anr_membroker_get_stats(&mb, &s);
    MBT_EQ_U64(gone, s.returned_bytes);
    MBT_EQ_U64(0, anr_membroker_return_surplus(&mb)); /* one chunk left: kept */
    for (size_t i = 7; i < 10; i++) {
        MBT_EQ_U64(i, ((unsigned char *)blk[i])[MIB - 1]); /* bytes intact */
        anr_heap_free(h, blk[i]);
    }
    /* Everything free: the budget above the floor is the surplus, still
     * within the hysteresis. */
    uint64_t kept = budget_of(h);
    MBT_TRUE(kept - MIB <= 4 * MIB);
    MBT_EQ_U64(0, anr_membroker_return_surplus(&mb));
    MBT_EQ_U64(kept, budget_of(h));
    /* Grow again, free all: back down to the floor (the pool) plus one
     * chunk, not below. */
    for (size_t i = 0; i < 6; i++) {
        blk[i] = anr_heap_malloc(h, MIB);
        MBT_REQUIRE(blk[i] != NULL);
    }
    for (size_t i = 0; i < 6; i++)
        anr_heap_free(h, blk[i]);
    uint64_t high = budget_of(h);
    MBT_TRUE(high > kept);
    gone = anr_membroker_return_surplus(&mb);
    MBT_EQ_U64(high - 2 * MIB, gone);
    MBT_EQ_U64(2 * MIB, budget_of(h)); /* floor + keep */
    MBT_EQ_U64(2 * MIB, balance_of(&mb));
    anr_membroker_detach(&mb);
    anr_heap_destroy(h);
    server_stop();
}

static uint64_t give_what_is_asked(struct mb_client *c, void *arg,
                                   const struct mb_client_giveback *q)
{
    (void)c;
    (void)arg;
    return q->pages < q->balance ? q->pages : q->balance;
}

/* Bidirectional: another client's RESERVE makes the broker ask the heap,
 * which lowers its budget (trim + shrink) and answers with what went. */
static void test_giveback(void)
{
    MBT_REQUIRE(server_start("16M"));
    static struct anr_membroker mb;
    anr_heap *h = make_heap(&mb);
    MBT_REQUIRE(h != NULL);
    struct anr_membroker_options o = options();
    o.bidirectional = true;
    o.return_above_bytes = 64 * MIB; /* no surplus return: the broker asks */
    MBT_EQ_INT(0, anr_membroker_attach(&mb, h, &o));
    MBT_EQ_INT(0, anr_membroker_reserve_budget(&mb, MIB, 5000));
    void *blk[12];
    for (size_t i = 0; i < 12; i++) {
        blk[i] = anr_heap_malloc(h, MIB);
        MBT_REQUIRE(blk[i] != NULL);
    }
    for (size_t i = 2; i < 12; i++)
        anr_heap_free(h, blk[i]);
    uint64_t held = balance_of(&mb);
    MBT_EQ_U64(budget_of(h), held);
    MBT_TRUE(held >= 13 * MIB);

    struct mb_client obs;
    MBT_REQUIRE(observer_init(&obs, NULL, NULL) == 0);
    uint64_t pool = broker_pool(&obs);
    MBT_EQ_U64(16 * MIB - held, pool);
    /* 8 MiB, all or nothing: the rest must come out of the heap. */
    MBT_EQ_INT(0, mb_client_reserve_bytes_timeout(&obs, 8 * MIB, 5000, 10000));
    struct anr_membroker_stats s;
    anr_membroker_get_stats(&mb, &s);
    MBT_TRUE(s.giveback_queries >= 1);
    MBT_TRUE(s.giveback_bytes >= 8 * MIB - pool);
    MBT_EQ_U64(held - s.balance_bytes, s.giveback_bytes);
    MBT_EQ_U64(budget_of(h), s.balance_bytes);
    MBT_TRUE(budget_of(h) >= used_of(h));
    /* The blocks still live are intact and usable. */
    memset(blk[0], 1, MIB);
    memset(blk[1], 2, MIB);
    anr_heap_free(h, blk[0]);
    anr_heap_free(h, blk[1]);
    mb_client_destroy(&obs);
    anr_membroker_detach(&mb);
    anr_heap_destroy(h);
    server_stop();
}

/* An urgent thread RESERVEs: the broker takes the quota from a client that
 * gives it back at urgent level. */
static void test_urgent_reserve(void)
{
    MBT_REQUIRE(server_start("8M"));
    static struct anr_membroker mb;
    struct mb_client obs;
    MBT_REQUIRE(observer_init(&obs, give_what_is_asked, NULL) == 0);
    MBT_EQ_INT(0, mb_client_helper_start(&obs));
    uint64_t got = 0;
    MBT_EQ_INT(0, mb_client_request_bytes(&obs, 6 * MIB, &got));
    MBT_EQ_U64(6 * MIB, got);

    anr_heap *h = make_heap(&mb);
    MBT_REQUIRE(h != NULL);
    struct anr_membroker_options o = options();
    MBT_EQ_INT(0, anr_membroker_attach(&mb, h, &o));
    MBT_EQ_INT(0, anr_membroker_reserve_budget(&mb, MIB, 5000));
    MBT_EQ_U64(MIB, broker_pool(&obs)); /* 1 MiB left */

    MBT_FALSE(anr_membroker_set_urgent(true));
    void *p = anr_heap_malloc(h, 3 * MIB);
    MBT_TRUE(anr_membroker_set_urgent(false));
    MBT_NOT_NULL(p);
    struct anr_membroker_stats s;
    anr_membroker_get_stats(&mb, &s);
    MBT_EQ_U64(0, s.requests);
    MBT_EQ_U64(1, s.reserves);
    MBT_EQ_U64(budget_of(h), s.balance_bytes);
    MBT_EQ_U64(budget_of(h) - MIB, s.granted_bytes);
    uint64_t ps = mb_client_page_size(&obs);
    MBT_EQ_U64(8 * MIB - s.balance_bytes, mb_client_balance(&obs) * ps + broker_pool(&obs));
    MBT_TRUE(mb_client_balance(&obs) * ps < 6 * MIB); /* the observer gave some back */
    anr_heap_free(h, p);
    anr_membroker_detach(&mb);
    mb_client_destroy(&obs);
    anr_heap_destroy(h);
    server_stop();
}

/* fork: the child starts with balance 0, its growth is its own quota. */
static void test_fork_child(void)
{
    MBT_REQUIRE(server_start("16M"));
    static struct anr_membroker mb;
    anr_heap *h = make_heap(&mb);
    MBT_REQUIRE(h != NULL);
    struct anr_membroker_options o = options();
    MBT_EQ_INT(0, anr_membroker_attach(&mb, h, &o));
    MBT_EQ_INT(0, anr_membroker_reserve_budget(&mb, MIB, 5000));
    pid_t pid = fork();
    MBT_REQUIRE(pid >= 0);
    if (pid == 0) {
        uint64_t before = budget_of(h);
        void *p = anr_heap_malloc(h, 2 * MIB);
        struct anr_membroker_stats s;
        anr_membroker_get_stats(&mb, &s);
        int bad = (p == NULL) | (s.balance_bytes != budget_of(h) - before) << 1 |
                  (s.requests != 1) << 2;
        _exit(bad);
    }
    int status = -1;
    MBT_REQUIRE(waitpid(pid, &status, 0) == pid);
    MBT_TRUE(WIFEXITED(status));
    MBT_EQ_INT(0, WEXITSTATUS(status));
    MBT_EQ_U64(MIB, balance_of(&mb)); /* the parent's quota did not move */
    MBT_EQ_U64(MIB, budget_of(h));
    anr_membroker_detach(&mb);
    anr_heap_destroy(h);
    server_stop();
}

struct grower {
    anr_heap *heap;
    void *blocks[4];
};

static void *grow_thread(void *arg)
{
    struct grower *g = arg;
    for (size_t i = 0; i < 4; i++) {
        g->blocks[i] = anr_heap_malloc(g->heap, 700 * 1024);
        if (g->blocks[i] != NULL)
            memset(g->blocks[i], 0x5a, 700 * 1024);
    }
    return NULL;
}

/* Threads growing at once: every allocation succeeds, one broker call at
 * a time, and the quota held still equals the budget. */
static void test_threads_grow(void)
{
    MBT_REQUIRE(server_start("32M"));
    static struct anr_membroker mb;
    anr_heap *h = make_heap(&mb);
    MBT_REQUIRE(h != NULL);
    struct anr_membroker_options o = options();
    MBT_EQ_INT(0, anr_membroker_attach(&mb, h, &o));
    MBT_EQ_INT(0, anr_membroker_reserve_budget(&mb, MIB, 5000));
    struct grower g[4];
    pthread_t t[4];
    for (size_t i = 0; i < 4; i++) {
        g[i].heap = h;
        MBT_REQUIRE(pthread_create(&t[i], NULL, grow_thread, &g[i]) == 0);
    }
    for (size_t i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    size_t ok = 0;
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 4; j++)
            ok += g[i].blocks[j] != NULL;
    MBT_EQ_U64(16, ok);
    struct anr_membroker_stats s;
    anr_membroker_get_stats(&mb, &s);
    MBT_EQ_U64(0, s.refusals);
    MBT_EQ_U64(budget_of(h), s.balance_bytes);
    MBT_EQ_U64(budget_of(h) - MIB, s.granted_bytes);
    MBT_EQ_U64(s.requests * MIB, s.granted_bytes); /* each REQUEST: one chunk */
    MBT_TRUE(budget_of(h) >= used_of(h));
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 4; j++)
            anr_heap_free(h, g[i].blocks[j]);
    anr_membroker_detach(&mb);
    anr_heap_destroy(h);
    server_stop();
}

/* No broker: the callback gives up, the allocation fails with ENOMEM, the
 * budget is untouched, and the heap keeps working within it. */
static void test_broker_absent(void)
{
    snprintf(sock_path, sizeof sock_path, "/tmp/anr-membroker-absent-%d/sock", (int)getpid());
    static struct anr_membroker mb;
    anr_heap *h = make_heap(&mb);
    MBT_REQUIRE(h != NULL);
    struct anr_membroker_options o = options();
    o.timeout_ms = 200;
    MBT_EQ_INT(0, anr_membroker_attach(&mb, h, &o));
    int rc = anr_membroker_reserve_budget(&mb, MIB, 200);
    MBT_TRUE(rc == -ENOENT || rc == -ECONNREFUSED || rc == -ETIMEDOUT);
    errno = 0;
    void *p = anr_heap_malloc(h, 2 * MIB);
    MBT_NULL(p);
    MBT_EQ_INT(ENOMEM, errno);
    struct anr_membroker_stats s;
    anr_membroker_get_stats(&mb, &s);
    MBT_FALSE(s.budget_backed);
    MBT_EQ_U64(1, s.requests);
    MBT_EQ_U64(1, s.refusals);
    MBT_EQ_U64(0, s.granted_bytes);
    MBT_EQ_U64(0, s.balance_bytes);
    MBT_EQ_U64(MIB, budget_of(h));
    p = anr_heap_malloc(h, 64 * 1024); /* within the budget: fine */
    MBT_NOT_NULL(p);
    anr_heap_free(h, p);
    anr_membroker_detach(&mb);
    anr_heap_destroy(h);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    MBT_RUN(test_api_edges);
    MBT_RUN(test_growth_balances);
    MBT_RUN(test_surplus_hysteresis);
    MBT_RUN(test_giveback);
    MBT_RUN(test_urgent_reserve);
    MBT_RUN(test_fork_child);
    MBT_RUN(test_threads_grow);
    MBT_RUN(test_broker_absent);
    return mbt_finish();
}
