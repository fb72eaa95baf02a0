/* Integration stress test: the real mbserver with about 20 client processes
 * doing random REQUEST, RESERVE (with a deadline) and RETURN, some of them
 * bidirectional and answering give-backs, while the parent SIGKILLs random
 * clients at random moments and starts new ones, for about 10 seconds.
 * Afterwards, with every client gone, the pool must equal the total exactly
 * and mbserver must still be alive and answering. (Debug builds of mbserver
 * also verify the books after every event and abort on a broken one, which
 * this test would see as a dead server.)
 *
 * usage: test_broker_kill_stress PATH_TO_MBSERVER [SECONDS]
 */
#include "mbtest.h"
#include "rawclient.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TOTAL_PAGES 2000u
#define CLIENTS 20
#define MAX_ASK 150u

static const char *server_binary;
static char dir[64];
static char sock_path[96];
static pid_t server_pid = -1;

/* Counters the clients share with the parent (MAP_SHARED). */
struct shared_counts {
    atomic_ulong answers;   /* GRANT, OK and ERROR replies received */
    atomic_ulong givebacks; /* GIVEBACK queries answered */
    atomic_ulong reserves;  /* RESERVE replies */
};
static struct shared_counts *counts;

/* A small xorshift generator: reproducible from the seed printed on
 * failure, and no libc rand() state shared between processes. */
static uint64_t rng_state = 1;

static void rng_seed(uint64_t seed)
{
    rng_state = seed * 0x9e3779b97f4a7c15u + 1;
}

static uint32_t rng_below(uint32_t n)
{
    uint64_t r = mbt_xorshift64(&rng_state);
    return n == 0 ? 0 : (uint32_t)(r % n);
}

static uint64_t rng_below64(uint64_t n)
{
    rng_below(1);
    return n == 0 ? 0 : rng_state % n;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void start_server(void)
{
    char total[32];
    snprintf(total, sizeof total, "%up", TOTAL_PAGES);
    server_pid = fork();
    if (server_pid == 0) {
        setenv("MBSERVER_MAX_CLIENTS", "64", 1);
        setenv("MBSERVER_REQUEST_TIMEOUT", "100ms", 1);
        setenv("MBSERVER_QUERY_TIMEOUT", "40ms", 1);
        execl(server_binary, "mbserver", "--foreground", "--socket", sock_path, "--total", total,
              "--log-level", "err", (char *)NULL);
        _exit(127);
    }
    if (raw_wait_listening(sock_path, 5000))
        return;
    fprintf(stderr, "mbserver did not start\n");
    exit(1);
}

/* A client's whole life: random calls until it is killed. Exits 3 when the
 * server stops answering (the parent counts that as a failure). */
static void client_main(unsigned seed)
{
    rng_seed(seed);
    bool bidirectional = rng_below(3) == 0;
    int fd = raw_connect(sock_path);
    if (fd < 0)
        _exit(3);
    struct mb_msg hello = {.type = MB_MSG_HELLO, .cookie = 1,
                           .u.hello = {.kind = bidirectional ? MB_KIND_BIDIRECTIONAL
                                                             : MB_KIND_SIMPLE}};
    snprintf(hello.u.hello.name, sizeof hello.u.hello.name, "stress%u", seed % 1000u);
    struct mb_msg msg = {0};
    if (raw_send(fd, &hello) < 0 || raw_recv(fd, &msg, 3000) < 0 || msg.type != MB_MSG_WELCOME)
        _exit(3);
    uint64_t balance = 0;
    for (uint32_t cookie = 2;; cookie++) {
        struct mb_msg call = {.cookie = cookie};
        int op = (int)rng_below(3);
        if (op == 2 && balance > 0) {
            call.type = MB_MSG_RETURN;
            call.u.amount.pages = 1 + rng_below64(balance);
        } else if (op == 1) {
            call.type = MB_MSG_RESERVE;
            call.u.reserve.pages = 1 + rng_below(MAX_ASK);
            call.u.reserve.deadline_ms = 20 + rng_below(150);
        } else {
            call.type = MB_MSG_REQUEST;
            call.u.amount.pages = 1 + rng_below(MAX_ASK);
        }
        if (raw_send(fd, &call) < 0)
            _exit(3);
        /* Wait for this call's answer, answering give-backs meanwhile. */
        for (;;) {
            if (raw_recv(fd, &msg, 3000) < 0)
                _exit(3);
            if (msg.type == MB_MSG_GIVEBACK) {
                uint64_t give = rng_below64(balance + 1);
                if (rng_below(4) == 0)
                    continue; /* sometimes stay silent and let the deadline pass */
                struct mb_msg answer = {.type = MB_MSG_GIVEBACK_ANSWER, .cookie = msg.cookie,
                                        .u.amount.pages = give};
                if (raw_send(fd, &answer) < 0)
                    _exit(3);
                balance -= give;
                atomic_fetch_add(&counts->givebacks, 1);
                continue;
            }
            if (msg.cookie != cookie)
                continue;
            if (msg.type == MB_MSG_GRANT)
                balance = msg.u.grant.balance;
            else if (msg.type == MB_MSG_OK)
                balance = msg.u.ok.balance;
            atomic_fetch_add(&counts->answers, 1);
            if (call.type == MB_MSG_RESERVE)
                atomic_fetch_add(&counts->reserves, 1);
            break;
        }
        if (rng_below(8) == 0)
            raw_sleep_ms((long)rng_below(4));
    }
}

static pid_t spawn_client(unsigned seed)
{
    pid_t pid = fork();
    if (pid == 0) {
        client_main(seed);
        _exit(0);
    }
    return pid;
}

/* Reaps a client; counts the ones that exited on their own (a server that
 * stopped answering) rather than by our SIGKILL. */
static void reap(pid_t pid, unsigned *failures)
{
    int status = 0;
    if (waitpid(pid, &status, 0) == pid && !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
        (*failures)++;
}

static bool query_pool(int fd, struct mb_msg_query_reply *out)
{
    static uint32_t cookie = 1;
    cookie++;
    struct mb_msg q = {.type = MB_MSG_QUERY, .cookie = cookie}, reply = {0};
    if (raw_call(fd, &q, &reply, 2000) != MB_MSG_QUERY_REPLY)
        return false;
    *out = reply.u.query_reply;
    return true;
}

static unsigned seconds = 10;

static void test_kill_at_random(void)
{
    pid_t clients[CLIENTS];
    unsigned seed = (unsigned)getpid(), kills = 0, failures = 0;
    rng_seed(seed);
    printf("stress: seed %u\n", seed);
    for (int i = 0; i < CLIENTS; i++)
        clients[i] = spawn_client(seed + (unsigned)i + 1);
    uint64_t end = now_ms() + seconds * 1000u;
    unsigned next_seed = seed + CLIENTS + 1;
    while (now_ms() < end) {
        raw_sleep_ms((long)rng_below(40));
        int i = (int)rng_below(CLIENTS);
        kill(clients[i], SIGKILL);
        reap(clients[i], &failures);
        kills++;
        clients[i] = spawn_client(next_seed++);
        MBT_REQUIRE(clients[i] > 0);
    }
    for (int i = 0; i < CLIENTS; i++) {
        kill(clients[i], SIGKILL);
        reap(clients[i], &failures);
    }
    printf("stress: %u kills, %lu answers, %lu reserves, %lu give-backs answered\n", kills,
           (unsigned long)atomic_load(&counts->answers), (unsigned long)atomic_load(&counts->reserves),
           (unsigned long)atomic_load(&counts->givebacks));
    MBT_EQ_U64(0, failures); /* no client saw the server stop answering */
    MBT_TRUE(kills >= 50u * seconds / 10u);
    MBT_TRUE(atomic_load(&counts->answers) >= 1000u);
    MBT_TRUE(atomic_load(&counts->reserves) > 0);
    MBT_TRUE(atomic_load(&counts->givebacks) > 0);

    /* The server is alive and, with every client gone, holds it all. */
    MBT_EQ_INT(0, waitpid(server_pid, NULL, WNOHANG));
    int fd = raw_connect(sock_path);
    MBT_REQUIRE(fd >= 0);
    struct mb_msg hello = {.type = MB_MSG_HELLO, .cookie = 1,
                           .u.hello = {.kind = MB_KIND_SIMPLE, .name = "observer"}};
    struct mb_msg msg = {0};
    MBT_EQ_INT(0, raw_send(fd, &hello));
    MBT_EQ_INT(0, raw_recv(fd, &msg, 2000));
    MBT_EQ_INT(MB_MSG_WELCOME, msg.type);
    struct mb_msg_query_reply q = {0};
    bool settled = false;
    /* The kernel reports the last hang-ups asynchronously: allow 2 s. */
    for (int i = 0; i < 200 && !settled; i++) {
        MBT_REQUIRE(query_pool(fd, &q));
        settled = q.pool == TOTAL_PAGES;
        if (!settled)
            raw_sleep_ms(10);
    }
    MBT_EQ_U64(TOTAL_PAGES, q.total);
    MBT_EQ_U64(TOTAL_PAGES, q.pool);
    MBT_EQ_U64(0, q.balance);
    /* And it still serves: the whole pool can be had and given back. */
    struct mb_msg req = {.type = MB_MSG_REQUEST, .cookie = 500, .u.amount.pages = TOTAL_PAGES};
    MBT_EQ_INT(0, raw_send(fd, &req));
    MBT_EQ_INT(0, raw_recv(fd, &msg, 2000));
    MBT_EQ_INT(MB_MSG_GRANT, msg.type);
    MBT_EQ_U64(TOTAL_PAGES, msg.u.grant.pages);
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s PATH_TO_MBSERVER [SECONDS]\n", argv[0]);
        return 2;
    }
    server_binary = argv[1];
    if (argc == 3)
        seconds = (unsigned)strtoul(argv[2], NULL, 10);
    if (seconds == 0)
        seconds = 10;
    signal(SIGPIPE, SIG_IGN);
    counts = mmap(NULL, sizeof *counts, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (counts == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    snprintf(dir, sizeof dir, "/tmp/mb-stress-%ld", (long)getpid());
    snprintf(sock_path, sizeof sock_path, "%s/run/socket", dir);
    mkdir(dir, 0700);
    start_server();
    MBT_RUN(test_kill_at_random);
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
    }
    char run_dir[128];
    snprintf(run_dir, sizeof run_dir, "%s/run", dir);
    rmdir(run_dir);
    rmdir(dir);
    return mbt_finish();
}
