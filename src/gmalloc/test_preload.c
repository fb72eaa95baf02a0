/* test_gmalloc_preload: runs gmalloc_probe, a plain program, under
 * LD_PRELOAD=libgmalloc.so with chosen environments and config files, and
 * checks what it prints: the heap is gmalloc's; file keys, environment
 * overrides and the original's legacy forms apply exactly; a bad
 * configuration gives one clear line on stderr and the defaults; the limit
 * holds with ENOMEM; SVC_ERR_ON_OOM writes its report and aborts; fork
 * with threads, then malloc and exec in the child, works; the dump signal
 * writes the report; with USE_MEMBROKER (an mbserver started here) the
 * budget grows by grants, the quota held always equals the budget, surplus
 * goes back, and the broker's refusal is ENOMEM. This driver itself runs on
 * the C library's malloc. */
#include "mbtest.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OUT_MAX 65536

struct run {
    int status;
    char out[OUT_MAX];
    char err[OUT_MAX];
};

static void read_file(const char *path, char *buf, size_t cap)
{
    buf[0] = '\0';
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return;
    size_t got = 0;
    ssize_t n;
    while (got < cap - 1 && (n = read(fd, buf + got, cap - 1 - got)) > 0)
        got += (size_t)n;
    buf[got] = '\0';
    close(fd);
}

/* RLIMIT_AS for the next probes (0: unchanged). */
static rlim_t probe_as_limit;

struct child {
    pid_t pid;
    char out_path[40], err_path[40];
};

/* Starts the probe in `mode` with LD_PRELOAD and the NULL-terminated extra
 * environment, nothing else inherited; its output goes to two files. */
static void spawn_probe(struct child *ch, const char *mode, const char *arg,
                        const char *const *env)
{
    snprintf(ch->out_path, sizeof ch->out_path, "/tmp/gmalloc-preload-out-XXXXXX");
    snprintf(ch->err_path, sizeof ch->err_path, "/tmp/gmalloc-preload-err-XXXXXX");
    int ofd = mkstemp(ch->out_path), efd = mkstemp(ch->err_path);
    MBT_REQUIRE(ofd >= 0 && efd >= 0);
    char *envp[32];
    size_t n = 0;
    envp[n++] = (char *)"LD_PRELOAD=" GMALLOC_LIB;
    for (size_t i = 0; env != NULL && env[i] != NULL && n < 30; i++)
        envp[n++] = (char *)env[i];
    envp[n] = NULL;
    ch->pid = fork();
    MBT_REQUIRE(ch->pid >= 0);
    if (ch->pid == 0) {
        dup2(ofd, 1);
        dup2(efd, 2);
        if (probe_as_limit != 0) {
            struct rlimit rl = {probe_as_limit, probe_as_limit};
            setrlimit(RLIMIT_AS, &rl);
        }
        char *argv[] = {(char *)GMALLOC_PROBE, (char *)mode, (char *)arg, NULL};
        execve(GMALLOC_PROBE, argv, envp);
        _exit(127);
    }
    close(ofd);
    close(efd);
}

static void collect_probe(struct child *ch, struct run *r)
{
    MBT_REQUIRE(waitpid(ch->pid, &r->status, 0) == ch->pid);
    read_file(ch->out_path, r->out, sizeof r->out);
    read_file(ch->err_path, r->err, sizeof r->err);
    unlink(ch->out_path);
    unlink(ch->err_path);
}

static void run_probe(struct run *r, const char *mode, const char *arg, const char *const *env)
{
    struct child ch = {0};
    spawn_probe(&ch, mode, arg, env);
    collect_probe(&ch, r);
}

/* Whether text has the whole line `line`. */
static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return true;
    return false;
}

static unsigned count_lines(const char *text)
{
    unsigned n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

/* The number that follows `key` in text; 0 when key is absent. */
static unsigned long long number_after(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    return p != NULL ? strtoull(p + strlen(key), NULL, 10) : 0;
}

static bool exited_ok(const struct run *r)
{
    bool ok = WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0;
    if (!ok)
        fprintf(stderr, "probe status %d\nstdout:\n%s\nstderr:\n%s\n", r->status, r->out, r->err);
    return ok;
}

static struct run R;

static void write_cfg(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    MBT_REQUIRE(f != NULL);
    fputs(text, f);
    fclose(f);
}

static void test_default_heap_is_gmalloc(void)
{
    run_probe(&R, "check", NULL, NULL);
    MBT_TRUE(exited_ok(&R));
    MBT_TRUE(has_line(R.out, "owned 1"));
    MBT_EQ_STR("", R.err);
    if (sizeof(void *) >= 8) {
        MBT_TRUE(has_line(R.out, "map_size 68719476736"));
        MBT_TRUE(has_line(R.out, "hard_limit 68719476736"));
    }
    MBT_TRUE(has_line(R.out, "thread_cache 1"));
    MBT_TRUE(has_line(R.out, "page_ceiling 2048"));
    MBT_TRUE(has_line(R.out, "config_rejected 0"));
}

static void test_env_overrides(void)
{
    const char *env[] = {"GMALLOC_POOL_SIZE=8M", "GMALLOC_HARD_LIMIT=16M",
                         "GMALLOC_PAGE_CEILING=7", "GMALLOC_THREAD_CACHE=off",
                         "GMALLOC_MADV_FREE=1", "GMALLOC_DUMP_FILE=/tmp/x y",
                         "GMALLOC_DUMP_SIGNAL=SIGUSR1", "GMALLOC_EXTRA_DEBUG_WORDS=2", NULL};
    run_probe(&R, "settings", NULL, env);
    MBT_TRUE(exited_ok(&R));
    MBT_EQ_STR("", R.err);
    MBT_TRUE(has_line(R.out, "pool_size 8388608"));
    MBT_TRUE(has_line(R.out, "hard_limit 16777216"));
    MBT_TRUE(has_line(R.out, "budget_bytes 8388608"));
    MBT_TRUE(has_line(R.out, "page_ceiling 7"));
    MBT_TRUE(has_line(R.out, "thread_cache 0"));
    MBT_TRUE(has_line(R.out, "madv_free 1"));
    MBT_TRUE(has_line(R.out, "dump_file /tmp/x y"));
    MBT_TRUE(has_line(R.out, "extra_debug_words 2"));
    char line[32];
    snprintf(line, sizeof line, "dump_signal %d", SIGUSR1);
    MBT_TRUE(has_line(R.out, line));
    if (sizeof(void *) >= 8) /* the default reservation, larger than twice the limit */
        MBT_TRUE(has_line(R.out, "map_size 68719476736"));
}

static void test_file_and_legacy_keys(void)
{
    const char *path = "/tmp/gmalloc-test-legacy.cfg";
    write_cfg(path, "# the original's keys\n"
                    "SLAB_SIZES 36 16 64 96 20 128 256 32\n"
                    "POOL_SIZE 2097152\n"
                    "MAP_SIZE 5242880\n"
                    "PAGE_CEILING 128\n"
                    "FILL_WITH_TRASH 1\n"
                    "SVC_ERR_ON_OOM 0\n"
                    "DUMP_DEBUG_ON_OOM 1\n"
                    "DUMP_FILE /tmp/gmalloc.dump\n"
                    "EXPANDABLE_POOL_SIZE 0\n"
                    "NO_AUTOREQUEST_MEMORY 1\n"
                    "EXTRA_DEBUG_WORDS 0\n");
    char cfg[64];
    snprintf(cfg, sizeof cfg, "GMALLOC_CFG=%s", path);
    const char *env[] = {cfg, "GMALLOC_PAGE_CEILING=64", "MEMORY_DEBUG=1", NULL};
    run_probe(&R, "settings", NULL, env);
    MBT_TRUE(exited_ok(&R));
    MBT_EQ_STR("", R.err);
    MBT_TRUE(has_line(R.out, "slab_sizes 16 32 48 64 96 128 256"));
    MBT_TRUE(has_line(R.out, "pool_size 2097152"));
    MBT_TRUE(has_line(R.out, "hard_limit 2097152")); /* without the broker the pool is the limit */
    MBT_TRUE(has_line(R.out, "map_size 5242880"));
    MBT_TRUE(has_line(R.out, "page_ceiling 64")); /* the environment wins */
    MBT_TRUE(has_line(R.out, "fill_with_trash 1"));
    MBT_TRUE(has_line(R.out, "dump_debug_on_oom 1"));
    MBT_TRUE(has_line(R.out, "dump_file /tmp/gmalloc.dump"));
    MBT_TRUE(has_line(R.out, "no_autorequest_memory 1"));
    MBT_TRUE(has_line(R.out, "memory_debug 1"));
    MBT_TRUE(has_line(R.out, "source /tmp/gmalloc-test-legacy.cfg"));
    unlink(path);
}

/* One message line on stderr naming the problem, then the defaults. */
static void expect_rejected(const char *const *env, const char *needle)
{
    run_probe(&R, "settings", NULL, env);
    MBT_TRUE(exited_ok(&R));
    MBT_EQ_U64(1, count_lines(R.err));
    MBT_TRUE(strncmp(R.err, "gmalloc: ", 9) == 0);
    if (!MBT_TRUE(strstr(R.err, needle) != NULL))
        fprintf(stderr, "    stderr was: %s    expected to contain: %s\n", R.err, needle);
    MBT_TRUE(strstr(R.err, "; using the built-in defaults\n") != NULL);
    MBT_TRUE(has_line(R.out, "config_rejected 1"));
    MBT_TRUE(has_line(R.out, "page_ceiling 2048"));
    MBT_TRUE(has_line(R.out, "thread_cache 1"));
    MBT_TRUE(has_line(R.out, "slab_sizes"));
}

static void test_bad_config(void)
{
    const char *path = "/tmp/gmalloc-test-bad.cfg";
    write_cfg(path, "PAGE_CEILING 12\nPOOL_SIZE 12Q\n");
    const char *env1[] = {"GMALLOC_CFG=/tmp/gmalloc-test-bad.cfg", NULL};
    expect_rejected(env1, "gmalloc: /tmp/gmalloc-test-bad.cfg:2: POOL_SIZE: \"12Q\"");

    write_cfg(path, "POOLSIZE 1M\n");
    expect_rejected(env1, "/tmp/gmalloc-test-bad.cfg:1:");

    write_cfg(path, "POOL_SIZE 32M\nHARD_LIMIT 16M\n");
    expect_rejected(env1, "POOL_SIZE (33554432 bytes) is larger than HARD_LIMIT (16777216 bytes)");
    unlink(path);

    const char *env2[] = {"GMALLOC_THREAD_CACHE=maybe", NULL};
    expect_rejected(env2, "environment: GMALLOC_THREAD_CACHE: \"maybe\"");
    const char *env3[] = {"GMALLOC_CFG=/nonexistent/gmalloc.cfg", NULL};
    expect_rejected(env3, "/nonexistent/gmalloc.cfg: cannot open: No such file or directory");
    const char *env4[] = {"GMALLOC_DUMP_SIGNAL=KILL", NULL};
    expect_rejected(env4, "DUMP_SIGNAL: \"KILL\"");
    const char *env5[] = {"GMALLOC_SLAB_SIZES=16 0", NULL};
    expect_rejected(env5, "GMALLOC_SLAB_SIZES");
}

/* ulimit -v below the default reservation: gmalloc halves it until it fits,
 * silently for the default, with one line for a configured MAP_SIZE. */
static void test_reservation_shrinks_under_rlimit(void)
{
    if (sizeof(void *) < 8)
        return; /* the 32-bit default is already small */
    probe_as_limit = (rlim_t)3 << 30;
    run_probe(&R, "settings", NULL, NULL);
    MBT_TRUE(exited_ok(&R));
    MBT_EQ_STR("", R.err);
    MBT_TRUE(has_line(R.out, "map_reduced 1"));
    MBT_TRUE(has_line(R.out, "map_size 2147483648"));
    MBT_TRUE(has_line(R.out, "hard_limit 2147483648"));
    MBT_TRUE(has_line(R.out, "budget_bytes 2147483648"));
    const char *env[] = {"GMALLOC_MAP_SIZE=8G", "GMALLOC_HARD_LIMIT=4G", NULL};
    run_probe(&R, "settings", NULL, env);
    probe_as_limit = 0;
    MBT_TRUE(exited_ok(&R));
    MBT_EQ_U64(1, count_lines(R.err));
    MBT_TRUE(strstr(R.err, "reservation was refused at the configured MAP_SIZE") != NULL);
    MBT_TRUE(has_line(R.out, "map_size 2147483648"));
    MBT_TRUE(has_line(R.out, "hard_limit 2147483648"));
}

static void test_limit_returns_enomem(void)
{
    const char *env[] = {"GMALLOC_POOL_SIZE=4M", NULL};
    run_probe(&R, "limit", NULL, env);
    MBT_TRUE(exited_ok(&R));
    MBT_TRUE(has_line(R.out, "errno ENOMEM"));
    MBT_TRUE(has_line(R.out, "within_limit 1"));
    MBT_TRUE(has_line(R.out, "again 1"));
    MBT_TRUE(has_line(R.out, "done"));
    MBT_EQ_STR("", R.err);
}

static void test_svc_err_on_oom_aborts_with_report(void)
{
    const char *dump = "/tmp/gmalloc-test-oom.dump";
    unlink(dump);
    const char *env[] = {"GMALLOC_POOL_SIZE=4M", "GMALLOC_SVC_ERR_ON_OOM=1",
                         "GMALLOC_DUMP_FILE=/tmp/gmalloc-test-oom.dump", NULL};
    run_probe(&R, "limit", NULL, env);
    MBT_TRUE(WIFSIGNALED(R.status) && WTERMSIG(R.status) == SIGABRT);
    MBT_FALSE(has_line(R.out, "done"));
    MBT_TRUE(strstr(R.err, "gmalloc: out of memory: request of ") != NULL);
    MBT_TRUE(strstr(R.err, "report written to /tmp/gmalloc-test-oom.dump\n") != NULL);
    MBT_TRUE(strstr(R.err, "gmalloc: SVC_ERR_ON_OOM is set: aborting\n") != NULL);
    static char text[OUT_MAX];
    read_file(dump, text, sizeof text);
    MBT_TRUE(strncmp(text, "gmalloc report: out of memory: request of ", 42) == 0);
    MBT_TRUE(has_line(text, "hard_limit 4194304"));
    MBT_TRUE(has_line(text, "oom_failures 1"));
    MBT_TRUE(has_line(text, "end of gmalloc report"));
    unlink(dump);

    /* Without DUMP_FILE the report goes to stderr. */
    const char *env2[] = {"GMALLOC_POOL_SIZE=4M", "GMALLOC_SVC_ERR_ON_OOM=yes", NULL};
    run_probe(&R, "limit", NULL, env2);
    MBT_TRUE(WIFSIGNALED(R.status) && WTERMSIG(R.status) == SIGABRT);
    MBT_TRUE(strstr(R.err, "gmalloc report: out of memory: request of ") != NULL);
    MBT_TRUE(has_line(R.err, "budget_bytes 4194304"));
}

/* With the anr debug features on, the report adds the heap dump: the
 * largest allocation sites and the flight recorder. */
static void test_oom_report_with_debug(void)
{
    const char *env[] = {"GMALLOC_POOL_SIZE=4M", "GMALLOC_SVC_ERR_ON_OOM=1", "MEMORY_DEBUG=1",
                         "GMALLOC_FLIGHT_RECORDER=8", "GMALLOC_EXTRA_DEBUG_WORDS=2",
                         "GMALLOC_FILL_WITH_TRASH=1", NULL};
    run_probe(&R, "limit", NULL, env);
    MBT_TRUE(WIFSIGNALED(R.status) && WTERMSIG(R.status) == SIGABRT);
    const char *ours = strstr(R.err, "gmalloc report: out of memory: request of 65536 bytes");
    const char *anr = strstr(R.err, "\nanr: dump of heap ");
    MBT_TRUE(ours != NULL && anr != NULL && ours < anr);
    MBT_TRUE(strstr(R.err, "\nsite 1: ") != NULL);
    MBT_TRUE(strstr(R.err, "\nflight recorder: last ") != NULL);
    MBT_TRUE(strstr(R.err, "gmalloc: SVC_ERR_ON_OOM is set: aborting\n") != NULL);
}

static void test_dump_debug_on_oom_once(void)
{
    const char *env[] = {"GMALLOC_POOL_SIZE=4M", "GMALLOC_DUMP_DEBUG_ON_OOM=1", NULL};
    run_probe(&R, "limit", NULL, env);
    MBT_TRUE(exited_ok(&R));
    MBT_TRUE(has_line(R.out, "done"));
    const char *first = strstr(R.err, "gmalloc report: out of memory");
    MBT_TRUE(first != NULL && strstr(first + 1, "gmalloc report:") == NULL);
}

static void test_fork_and_exec(void)
{
    run_probe(&R, "fork", NULL, NULL);
    MBT_TRUE(exited_ok(&R));
    MBT_TRUE(has_line(R.out, "fork_failures 0"));
    MBT_TRUE(has_line(R.out, "done"));
    /* Ten children exec'd the probe in check mode under gmalloc. */
    unsigned owned = 0;
    for (const char *p = R.out; (p = strstr(p, "owned 1\n")) != NULL; p++)
        owned++;
    MBT_EQ_U64(10, owned);
}

static void test_dump_signal(void)
{
    char sig[16];
    snprintf(sig, sizeof sig, "%d", SIGUSR2);
    const char *env[] = {"GMALLOC_DUMP_SIGNAL=USR2", NULL};
    run_probe(&R, "signal", sig, env);
    MBT_TRUE(exited_ok(&R));
    MBT_TRUE(has_line(R.out, "done"));
    MBT_TRUE(strstr(R.err, "gmalloc report: dump signal") != NULL);
    MBT_TRUE(has_line(R.err, "end of gmalloc report"));
    /* Off by default: the signal keeps its default action (terminate). */
    run_probe(&R, "signal", sig, NULL);
    MBT_TRUE(WIFSIGNALED(R.status) && WTERMSIG(R.status) == SIGUSR2);
}

#ifdef GMALLOC_MBSERVER
static pid_t server_pid;
static char server_dir[64];
static char socket_env[128];

static bool start_server(const char *total)
{
    snprintf(server_dir, sizeof server_dir, "/tmp/gmalloc-broker-XXXXXX");
    if (mkdtemp(server_dir) == NULL)
        return false;
    char sock[96];
    snprintf(sock, sizeof sock, "%s/sock", server_dir);
    snprintf(socket_env, sizeof socket_env, "MEMBROKER_SOCKET=%s", sock);
    server_pid = fork();
    if (server_pid == 0) {
        execl(GMALLOC_MBSERVER, GMALLOC_MBSERVER, "--foreground", "--socket", sock, "--total",
              total, "--log-level", "err", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) { /* up to 5 s */
        struct stat st;
        if (stat(sock, &st) == 0)
            return true;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(server_pid, SIGTERM);
    waitpid(server_pid, NULL, 0);
    rmdir(server_dir);
    return false;
}

static void stop_server(void)
{
    kill(server_pid, SIGTERM);
    waitpid(server_pid, NULL, 0);
    char sock[96];
    snprintf(sock, sizeof sock, "%s/sock", server_dir);
    unlink(sock);
    rmdir(server_dir);
}

static void test_broker_quota(void)
{
    MBT_REQUIRE(start_server("64M"));
    const char *env[] = {socket_env, "USE_MEMBROKER=1", NULL};
    run_probe(&R, "broker", NULL, env);
    stop_server();
    MBT_TRUE(exited_ok(&R));
    MBT_EQ_STR("", R.err);
    /* The pool (2 MiB by default with the broker) is reserved at start. */
    MBT_TRUE(has_line(R.out, "start active 1 backed 1 balance 2097152 budget 2097152 requests 0 "
                             "returned 0"));
    /* Quota held always equals the budget: nothing is lost or unbacked. */
    MBT_TRUE(has_line(R.out, "start balance_is_budget 1"));
    MBT_TRUE(has_line(R.out, "peak balance_is_budget 1"));
    MBT_TRUE(has_line(R.out, "after balance_is_budget 1"));
    const char *peak = strstr(R.out, "peak active");
    const char *after = strstr(R.out, "after active");
    MBT_REQUIRE(peak != NULL && after != NULL);
    unsigned long long pb = number_after(peak, "peak active 1 backed 1 balance ");
    unsigned long long ab = number_after(after, "after active 1 backed 1 balance ");
    unsigned long long ar = number_after(after, " returned ");
    MBT_TRUE(pb >= 16u << 20); /* 16 MiB of blocks came from grants */
    MBT_TRUE(ab < pb);         /* the surplus went back */
    MBT_TRUE(ab >= 2u << 20);  /* never below the pool */
    MBT_EQ_U64(pb - ab, ar);   /* what left the balance is what was returned */
}

static void test_broker_fork_and_exec(void)
{
    MBT_REQUIRE(start_server("64M"));
    const char *env[] = {socket_env, "USE_MEMBROKER=1", NULL};
    run_probe(&R, "fork", NULL, env);
    stop_server();
    MBT_TRUE(exited_ok(&R));
    MBT_EQ_STR("", R.err);
    MBT_TRUE(has_line(R.out, "fork_failures 0"));
    MBT_TRUE(has_line(R.out, "use_membroker 1"));
}

/* BROKER_BIDIRECTIONAL: another client's request makes the broker ask
 * gmalloc to give back, and gmalloc's free pages go back as quota. */
static void test_broker_giveback(void)
{
    MBT_REQUIRE(start_server("16M"));
    const char *env[] = {socket_env, "USE_MEMBROKER=1", "GMALLOC_BROKER_BIDIRECTIONAL=1", NULL};
    struct child ch = {0};
    spawn_probe(&ch, "hold", NULL, env);
    static char out[OUT_MAX];
    bool ready = false;
    for (int i = 0; i < 1000 && !ready; i++) { /* up to 10 s */
        read_file(ch.out_path, out, sizeof out);
        ready = strstr(out, "ready balance_is_budget") != NULL;
        if (!ready) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    MBT_TRUE(ready);
    /* gmalloc holds about 12 MiB of the 16: mbctl's 8 MiB needs a give-back. */
    unsigned long long held = number_after(out, "ready active 1 backed 1 balance ");
    MBT_TRUE(held >= 12u << 20);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        char sock[96];
        snprintf(sock, sizeof sock, "%s/sock", server_dir);
        execl(GMALLOC_MBCTL, GMALLOC_MBCTL, "--socket", sock, "request", "8M", (char *)NULL);
        _exit(127);
    }
    int status = -1;
    MBT_REQUIRE(waitpid(pid, &status, 0) == pid);
    MBT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0); /* granted all 8 MiB */
    kill(ch.pid, SIGUSR1);
    collect_probe(&ch, &R);
    stop_server();
    MBT_TRUE(exited_ok(&R));
    MBT_EQ_STR("", R.err);
    MBT_TRUE(number_after(R.out, "end giveback_queries ") >= 1);
    const char *end_line = strstr(R.out, "end giveback_queries");
    MBT_REQUIRE(end_line != NULL);
    unsigned long long gave = number_after(end_line, " giveback_bytes ");
    unsigned long long end = number_after(R.out, "end active 1 backed 1 balance ");
    MBT_TRUE(end <= (8u << 20));      /* mbctl's 8 MiB came out of gmalloc's share */
    MBT_EQ_U64(held - end, gave);     /* what left the balance is what was given back */
    MBT_TRUE(has_line(R.out, "end balance_is_budget 1"));
}

static void test_broker_refusal_is_enomem(void)
{
    MBT_REQUIRE(start_server("8M"));
    const char *env[] = {socket_env, "USE_MEMBROKER=1", "GMALLOC_HARD_LIMIT=24M", NULL};
    run_probe(&R, "limit", NULL, env);
    stop_server();
    MBT_TRUE(exited_ok(&R));
    MBT_TRUE(has_line(R.out, "errno ENOMEM"));
    unsigned long long blocks = number_after(R.out, "\nblocks ");
    MBT_TRUE(blocks >= 100 && blocks < 128); /* about 8 MiB of 64 KiB blocks, not 24 */
    MBT_TRUE(has_line(R.out, "again 1"));
}
#endif

int main(void)
{
    /* A cross build run under qemu-user without binfmt cannot exec the
     * probe (the shell's 127): nothing here can run then. */
    run_probe(&R, "check", NULL, NULL);
    if (WIFEXITED(R.status) && WEXITSTATUS(R.status) == 127 && R.out[0] == '\0') {
        printf("test_gmalloc_preload skipped: cannot execute %s here\n", GMALLOC_PROBE);
        return 0;
    }
    MBT_RUN(test_default_heap_is_gmalloc);
    MBT_RUN(test_env_overrides);
    MBT_RUN(test_file_and_legacy_keys);
    MBT_RUN(test_bad_config);
    MBT_RUN(test_reservation_shrinks_under_rlimit);
    MBT_RUN(test_limit_returns_enomem);
    MBT_RUN(test_svc_err_on_oom_aborts_with_report);
    MBT_RUN(test_oom_report_with_debug);
    MBT_RUN(test_dump_debug_on_oom_once);
    MBT_RUN(test_fork_and_exec);
    MBT_RUN(test_dump_signal);
#ifdef GMALLOC_MBSERVER
    MBT_RUN(test_broker_quota);
    MBT_RUN(test_broker_fork_and_exec);
#ifdef GMALLOC_MBCTL
    MBT_RUN(test_broker_giveback);
#endif
    MBT_RUN(test_broker_refusal_is_enomem);
#else
    printf("broker tests skipped: mbserver is not built\n");
#endif
    return mbt_finish();
}
