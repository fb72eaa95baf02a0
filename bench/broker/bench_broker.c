/* bench_broker: mbserver measured against the physical limit, a bare
 * SEQPACKET echo server, in one run on the same machine.
 *
 *   bench_broker --mbserver PATH [--iterations N] [--quick]
 *                [--pin both|same|cross|off]
 *
 * Prints, for 1, 32, 256 and 1000 connected clients, the p50/p99 of a bare
 * echo round trip and of REQUEST-to-GRANT, and their ratio; the throughput
 * of 32 clients at once (echo round trips vs grants); the give-back round
 * trip through one bidirectional client; and the daemon's RSS with 1000
 * clients. Figures are ratios measured side by side: the machine is noisy.
 *
 * Pinning: a wakeup that crosses to an idle CPU costs far more than one on
 * the same CPU, and an unpinned server lands on either path at random, so
 * by default the servers (echo and mbserver) and the clients (this process
 * and its workers) are pinned with sched_setaffinity: "same" puts them all
 * on the first allowed CPU, "cross" the servers on the first and the
 * clients on the second. "both" (the default with two or more CPUs) runs
 * every table once per placement; "off" (the default with one CPU) leaves
 * placement to the scheduler.
 */
#include "echo_server.h"
#include "proto/codec.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *mbserver_path;
static char echo_path[96], broker_path[96];
static unsigned iterations = 20000;

/* ---- placement ---- */

enum placement { PLACE_OFF, PLACE_SAME, PLACE_CROSS };
static const char *const placement_names[] = {"unpinned", "same CPU", "cross CPU"};
static enum placement placement;
static cpu_set_t allowed; /* this process's CPUs at start */
static int cpu_server = -1, cpu_client = -1;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_broker: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* The first two CPUs this process may run on (-1 when absent). */
static void find_cpus(void)
{
    if (sched_getaffinity(0, sizeof allowed, &allowed) < 0)
        die("sched_getaffinity");
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &allowed))
            continue;
        if (cpu_server < 0)
            cpu_server = cpu;
        else if (cpu_client < 0)
            cpu_client = cpu;
    }
}

static void pin_to(pid_t pid, int cpu)
{
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(pid, sizeof one, &one) < 0)
        die("sched_setaffinity");
}

/* Places this process (and so the workers it forks) for `p`. */
static void place_clients(enum placement p)
{
    placement = p;
    if (p == PLACE_OFF) {
        if (sched_setaffinity(0, sizeof allowed, &allowed) < 0)
            die("sched_setaffinity");
    } else {
        pin_to(0, p == PLACE_SAME ? cpu_server : cpu_client);
    }
}

/* Places a server process started for the current placement (a forked
 * server inherits the clients' placement; this moves it). */
static void place_server(pid_t pid)
{
    if (placement != PLACE_OFF)
        pin_to(pid, cpu_server);
}

static int connect_to(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
    for (int i = 0; i < 500; i++) {
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0)
            return fd;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    die("connect");
    return -1;
}

static uint32_t cookie_counter = 1;

static void send_msg(int fd, struct mb_msg *msg)
{
    uint8_t buf[MB_PROTO_MAX_SMALL];
    if (msg->type != MB_MSG_GIVEBACK_ANSWER)
        msg->cookie = cookie_counter++;
    int len = mb_proto_encode(msg, buf, sizeof buf);
    if (len < 0 || send(fd, buf, (size_t)len, MSG_NOSIGNAL) != len)
        die("send");
}

static void recv_msg(int fd, struct mb_msg *msg)
{
    uint8_t buf[MB_PROTO_MAX_MESSAGE];
    ssize_t got = recv(fd, buf, sizeof buf, 0);
    if (got <= 0 || mb_proto_decode(buf, (size_t)got, msg) < 0)
        die("recv");
}

static int broker_client(uint8_t kind)
{
    int fd = connect_to(broker_path);
    struct mb_msg hello = {.type = MB_MSG_HELLO, .u.hello = {.kind = kind}}, reply = {0};
    snprintf(hello.u.hello.name, sizeof hello.u.hello.name, "bench");
    send_msg(fd, &hello);
    recv_msg(fd, &reply);
    if (reply.type != MB_MSG_WELCOME) {
        errno = EPROTO;
        die("HELLO refused");
    }
    return fd;
}

/* One REQUEST of `pages` and its GRANT; returns pages granted. */
static uint64_t broker_request(int fd, uint64_t pages)
{
    struct mb_msg msg = {.type = MB_MSG_REQUEST, .u.amount.pages = pages}, reply = {0};
    send_msg(fd, &msg);
    recv_msg(fd, &reply);
    if (reply.type != MB_MSG_GRANT) {
        errno = EPROTO;
        die("REQUEST not granted");
    }
    return reply.u.grant.pages;
}

static void broker_return(int fd, uint64_t pages)
{
    struct mb_msg msg = {.type = MB_MSG_RETURN, .u.amount.pages = pages}, reply = {0};
    send_msg(fd, &msg);
    recv_msg(fd, &reply);
}

static void echo_round_trip(int fd)
{
    /* The same size as a REQUEST, so the kernel copies the same bytes. */
    uint8_t buf[MB_PROTO_HEADER_SIZE + 8] = {MB_PROTO_VERSION, MB_MSG_REQUEST};
    if (send(fd, buf, sizeof buf, MSG_NOSIGNAL) != (ssize_t)sizeof buf)
        die("echo send");
    if (recv(fd, buf, sizeof buf, 0) <= 0)
        die("echo recv");
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct percentiles {
    double p50_us, p99_us;
};

static struct percentiles summarize(uint64_t *samples, size_t n)
{
    qsort(samples, n, sizeof *samples, cmp_u64);
    size_t median = n / 2, p99 = n * 99 / 100;
    struct percentiles p = {(double)samples[median] / 1000.0, (double)samples[p99] / 1000.0};
    return p;
}

static pid_t start_broker(uint64_t total_pages)
{
    char total[32];
    snprintf(total, sizeof total, "%llup", (unsigned long long)total_pages);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("MBSERVER_MAX_CLIENTS", "1100", 1);
        execl(mbserver_path, "mbserver", "--foreground", "--socket", broker_path, "--total", total,
              "--log-level", "err", (char *)NULL);
        _exit(127);
    }
    place_server(pid);
    close(connect_to(broker_path));
    return pid;
}

static pid_t start_echo(void)
{
    pid_t pid = bench_echo_server_start(echo_path);
    if (pid < 0)
        exit(1);
    place_server(pid);
    return pid;
}

static void stop(pid_t pid)
{
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    }
    if (f)
        fclose(f);
    return kib;
}

/* Echo and broker run side by side and are sampled in alternating batches,
 * so both see the same machine (the noise on a shared VM moves in bursts). */
#define BATCH 50u

static void latency_table(void)
{
    static const unsigned counts[] = {1, 32, 256, 1000};
    uint64_t *echo_samples = calloc(iterations, sizeof *echo_samples);
    uint64_t *broker_samples = calloc(iterations, sizeof *broker_samples);
    int *idle = calloc(2000, sizeof *idle);
    printf("\n## Request-to-grant latency vs a bare echo round trip, %s (%u samples each)\n\n",
           placement_names[placement], iterations);
    printf("| clients | echo p50 us | echo p99 us | broker p50 us | broker p99 us | p50 ratio | p99 ratio |\n");
    printf("|---|---|---|---|---|---|---|\n");
    long rss = -1;
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        unsigned k = counts[c];
        pid_t echo = start_echo();
        pid_t broker = start_broker(1u << 20);
        for (unsigned i = 0; i + 1 < k; i++) {
            idle[2 * i] = connect_to(echo_path);
            idle[2 * i + 1] = broker_client(MB_KIND_SIMPLE);
        }
        int efd = connect_to(echo_path);
        int bfd = broker_client(MB_KIND_SIMPLE);
        for (unsigned i = 0; i < iterations / 10; i++) { /* warm up both */
            echo_round_trip(efd);
            broker_request(bfd, 1);
            broker_return(bfd, 1);
        }
        for (unsigned done = 0; done < iterations; done += BATCH) {
            unsigned n = iterations - done < BATCH ? iterations - done : BATCH;
            for (unsigned i = 0; i < n; i++) {
                uint64_t t0 = now_ns();
                echo_round_trip(efd);
                echo_samples[done + i] = now_ns() - t0;
            }
            for (unsigned i = 0; i < n; i++) {
                uint64_t t0 = now_ns();
                broker_request(bfd, 1);
                broker_samples[done + i] = now_ns() - t0;
                broker_return(bfd, 1);
            }
        }
        struct percentiles e = summarize(echo_samples, iterations);
        struct percentiles b = summarize(broker_samples, iterations);
        if (k == 1000)
            rss = rss_kib(broker);
        close(efd);
        close(bfd);
        for (unsigned i = 0; i + 1 < k; i++) {
            close(idle[2 * i]);
            close(idle[2 * i + 1]);
        }
        stop(echo);
        stop(broker);
        printf("| %u | %.1f | %.1f | %.1f | %.1f | %.2f | %.2f |\n", k, e.p50_us, e.p99_us, b.p50_us,
               b.p99_us, b.p50_us / e.p50_us, b.p99_us / e.p99_us);
    }
    printf("\nmbserver RSS with 1000 registered clients: %ld KiB\n\n", rss);
    free(echo_samples);
    free(broker_samples);
    free(idle);
}

/* 32 processes at once; returns operations per second. */
static double throughput(bool broker, unsigned workers, unsigned per_worker)
{
    int go[2];
    if (pipe(go) < 0)
        die("pipe");
    pid_t pids[64];
    for (unsigned w = 0; w < workers; w++) {
        pids[w] = fork();
        if (pids[w] == 0) {
            int fd = broker ? broker_client(MB_KIND_SIMPLE) : connect_to(echo_path);
            char byte;
            close(go[1]);
            if (read(go[0], &byte, 1) < 0)
                _exit(1);
            for (unsigned i = 0; i < per_worker; i++) {
                if (broker) {
                    broker_request(fd, 1);
                    broker_return(fd, 1);
                } else {
                    echo_round_trip(fd);
                    echo_round_trip(fd);
                }
            }
            _exit(0);
        }
    }
    close(go[0]);
    struct timespec settle = {0, 200000000};
    nanosleep(&settle, NULL); /* every worker connected */
    uint64_t t0 = now_ns();
    close(go[1]);
    for (unsigned w = 0; w < workers; w++)
        waitpid(pids[w], NULL, 0);
    double seconds = (double)(now_ns() - t0) / 1e9;
    return (double)workers * per_worker / seconds;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Echo and broker rounds alternate (like the latency batches), so a burst
 * of other work on the machine hits one round of each, not one side; the
 * table gives the medians over the rounds and the spread of the ratio. */
#define THROUGHPUT_ROUNDS 5u

static void throughput_table(void)
{
    unsigned per = iterations / 4 / THROUGHPUT_ROUNDS;
    if (per == 0)
        per = 1;
    double e[THROUGHPUT_ROUNDS], b[THROUGHPUT_ROUNDS], ratio[THROUGHPUT_ROUNDS];
    pid_t echo = start_echo();
    pid_t broker = start_broker(1u << 20);
    for (unsigned r = 0; r < THROUGHPUT_ROUNDS; r++) {
        e[r] = throughput(false, 32, per);
        b[r] = throughput(true, 32, per);
        ratio[r] = b[r] / e[r];
    }
    stop(broker);
    stop(echo);
    qsort(e, THROUGHPUT_ROUNDS, sizeof e[0], cmp_double);
    qsort(b, THROUGHPUT_ROUNDS, sizeof b[0], cmp_double);
    qsort(ratio, THROUGHPUT_ROUNDS, sizeof ratio[0], cmp_double);
    unsigned mid = THROUGHPUT_ROUNDS / 2;
    printf("## Throughput, 32 clients at once, %s (%u alternating rounds of %u iterations "
           "each; medians)\n\n",
           placement_names[placement], THROUGHPUT_ROUNDS, per);
    printf("| echo pairs/s | broker request+return pairs/s | ratio | ratio min-max |\n"
           "|---|---|---|---|\n");
    printf("| %.0f | %.0f | %.2f | %.2f-%.2f |\n\n", e[mid], b[mid], ratio[mid], ratio[0],
           ratio[THROUGHPUT_ROUNDS - 1]);
}

static void giveback_table(void)
{
    unsigned n = iterations / 4;
    uint64_t *echo_samples = calloc(n, sizeof *echo_samples);
    uint64_t *samples = calloc(n, sizeof *samples);
    pid_t echo = start_echo();
    int efd = connect_to(echo_path);
    const uint64_t total = 1000;
    pid_t broker = start_broker(total);
    int holder = broker_client(MB_KIND_BIDIRECTIONAL);
    int asker = broker_client(MB_KIND_SIMPLE);
    broker_request(holder, total);
    for (unsigned done = 0; done < n; done += BATCH) {
        unsigned batch = n - done < BATCH ? n - done : BATCH;
        for (unsigned i = 0; i < batch; i++) {
            uint64_t t0 = now_ns();
            echo_round_trip(efd);
            echo_samples[done + i] = now_ns() - t0;
        }
        for (unsigned i = 0; i < batch; i++) {
            uint64_t t0 = now_ns();
            struct mb_msg req = {.type = MB_MSG_REQUEST, .u.amount.pages = 1}, msg = {0};
            send_msg(asker, &req);
            recv_msg(holder, &msg); /* GIVEBACK */
            struct mb_msg answer = {.type = MB_MSG_GIVEBACK_ANSWER, .cookie = msg.cookie,
                                    .u.amount.pages = 1};
            send_msg(holder, &answer);
            recv_msg(asker, &msg); /* GRANT */
            samples[done + i] = now_ns() - t0;
            if (msg.type != MB_MSG_GRANT || msg.u.grant.pages != 1) {
                errno = EPROTO;
                die("give-back grant");
            }
            broker_return(asker, 1);
            if (broker_request(holder, 1) != 1) {
                errno = EPROTO;
                die("holder refill");
            }
        }
    }
    struct percentiles e = summarize(echo_samples, n);
    struct percentiles b = summarize(samples, n);
    stop(broker);
    stop(echo);
    close(efd);
    close(holder);
    close(asker);
    printf("## Give-back round trip through one bidirectional client, %s (%u samples)\n\n",
           placement_names[placement], n);
    printf("A give-back is four messages (two round trips): the ideal ratio is about 2.\n\n");
    printf("| echo p50 us | give-back p50 us | give-back p99 us | p50 ratio |\n|---|---|---|---|\n");
    printf("| %.1f | %.1f | %.1f | %.2f |\n\n", e.p50_us, b.p50_us, b.p99_us, b.p50_us / e.p50_us);
    free(echo_samples);
    free(samples);
}

int main(int argc, char **argv)
{
    static const struct option options[] = {{"mbserver", required_argument, NULL, 'm'},
                                            {"iterations", required_argument, NULL, 'n'},
                                            {"quick", no_argument, NULL, 'q'},
                                            {"pin", required_argument, NULL, 'p'},
                                            {NULL, 0, NULL, 0}};
    find_cpus();
    /* Which placements to run: a bit per enum placement. */
    unsigned runs = cpu_client >= 0 ? (1u << PLACE_SAME) | (1u << PLACE_CROSS) : 1u << PLACE_OFF;
    int opt;
    while ((opt = getopt_long(argc, argv, "m:n:qp:", options, NULL)) != -1) {
        switch (opt) {
        case 'm': mbserver_path = optarg; break;
        case 'n': iterations = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'q': iterations = 2000; break;
        case 'p':
            if (strcmp(optarg, "both") == 0)
                runs = (1u << PLACE_SAME) | (1u << PLACE_CROSS);
            else if (strcmp(optarg, "same") == 0)
                runs = 1u << PLACE_SAME;
            else if (strcmp(optarg, "cross") == 0)
                runs = 1u << PLACE_CROSS;
            else if (strcmp(optarg, "off") == 0)
                runs = 1u << PLACE_OFF;
            else {
                fprintf(stderr, "bench_broker: --pin wants both, same, cross or off, not \"%s\"\n",
                        optarg);
                return 2;
            }
            break;
        default:
            fprintf(stderr, "usage: bench_broker --mbserver PATH [--iterations N] [--quick] "
                            "[--pin both|same|cross|off]\n");
            return 2;
        }
    }
    if ((runs & (1u << PLACE_CROSS)) && cpu_client < 0) {
        fprintf(stderr, "bench_broker: --pin cross needs two CPUs; this process may use one\n");
        return 2;
    }
    if (mbserver_path == NULL || iterations < 100) {
        fprintf(stderr, "usage: bench_broker --mbserver PATH [--iterations N>=100] [--quick]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096 && rl.rlim_max >= 4096) {
        rl.rlim_cur = 4096;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/mb-bench-%ld", (long)getpid());
    mkdir(dir, 0700);
    snprintf(echo_path, sizeof echo_path, "%s/echo", dir);
    snprintf(broker_path, sizeof broker_path, "%s/run/socket", dir);
    printf("# bench_broker (%u iterations; servers on CPU %d, clients on CPU %d when cross)\n",
           iterations, cpu_server, cpu_client);
    for (unsigned p = PLACE_OFF; p <= PLACE_CROSS; p++) {
        if (!(runs & (1u << p)))
            continue;
        place_clients((enum placement)p);
        latency_table();
        throughput_table();
        giveback_table();
    }
    unlink(echo_path);
    char run[96];
    snprintf(run, sizeof run, "%s/run", dir);
    rmdir(run);
    rmdir(dir);
    return 0;
}
