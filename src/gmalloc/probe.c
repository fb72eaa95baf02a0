/* gmalloc_probe: a plain program (not linked with gmalloc) that
 * test_gmalloc_preload runs under LD_PRELOAD=libgmalloc.so. It finds
 * gmalloc's inspection functions with dlsym, so it also shows whether the
 * preload took. Modes:
 *   check     heap is gmalloc's: prints "owned 1" and the settings
 *   settings  prints the settings, one "name value" per line
 *   limit     allocates 64 KiB blocks until malloc fails; prints the errno,
 *             whether the hard limit held, and "done"
 *   fork      threads allocate while the main thread forks; each child
 *             allocates, frees and execs this program in "check" mode
 *   signal    raises the dump signal given as argv[2], then exits
 *   broker    (USE_MEMBROKER) allocates 16 MiB, frees it, and prints the
 *             quota held at each step
 *   hold      (USE_MEMBROKER) allocates 12 MiB and frees it, prints "ready",
 *             waits for SIGUSR1 (20 s at most), prints the quota and the
 *             give-back figures
 */
#include "anr/gmalloc.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef int (*stats_fn)(struct gmalloc_stats *);
typedef int (*settings_fn)(struct gmalloc_settings *);
typedef bool (*owns_fn)(const void *);

static void *need(const char *name)
{
    void *f = dlsym(RTLD_DEFAULT, name);
    if (f == NULL) {
        printf("missing %s: gmalloc is not preloaded\n", name);
        exit(3);
    }
    return f;
}

static int print_settings(void)
{
    struct gmalloc_settings s;
    struct gmalloc_stats st;
    if (((settings_fn)need("gmalloc_settings"))(&s) != 0 ||
        ((stats_fn)need("gmalloc_stats"))(&st) != 0)
        return 1;
    printf("pool_size %llu\nmap_size %llu\nhard_limit %llu\npage_ceiling %llu\n",
           (unsigned long long)s.pool_size, (unsigned long long)s.map_size,
           (unsigned long long)s.hard_limit, (unsigned long long)s.page_ceiling);
    printf("thread_cache %d\nthread_cache_bytes %llu\nthread_cache_threads %u\nmadv_free %d\n",
           s.thread_cache, (unsigned long long)s.thread_cache_bytes, s.thread_cache_threads,
           s.madv_free);
    printf("svc_err_on_oom %d\ndump_debug_on_oom %d\ndump_file %s\ndump_signal %d\n",
           s.svc_err_on_oom, s.dump_debug_on_oom, s.dump_file, s.dump_signal);
    printf("extra_debug_words %u\nfill_with_trash %d\nmemory_debug %d\nstack_depth %u\n",
           s.extra_debug_words, s.fill_with_trash, s.memory_debug, s.stack_depth);
    printf("flight_recorder %u\nuse_membroker %d\nexpandable_pool_size %d\n", s.flight_recorder,
           s.use_membroker, s.expandable_pool_size);
    printf("no_autorequest_memory %d\nsource %s\nconfig_rejected %d\nmap_reduced %d\n",
           s.no_autorequest_memory, s.source, st.config_rejected, s.map_reduced);
    printf("slab_sizes");
    for (size_t i = 0; i < s.slab_size_count; i++)
        printf(" %u", s.slab_sizes[i]);
    printf("\nbudget_bytes %llu\n", (unsigned long long)st.heap.budget_bytes);
    return 0;
}

static int check(void)
{
    void *p = malloc(1000);
    printf("owned %d\n", ((owns_fn)need("gmalloc_owns"))(p));
    free(p);
    return print_settings();
}

static int limit(void)
{
    struct gmalloc_stats st;
    stats_fn stats = (stats_fn)need("gmalloc_stats");
    void **blocks = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            void **nb = realloc(blocks, cap * sizeof *nb);
            if (nb == NULL)
                break;
            blocks = nb;
        }
        errno = 0;
        void *p = malloc(65536);
        if (p == NULL)
            break;
        memset(p, 1, 65536);
        blocks[n++] = p;
    }
    printf("errno %s\n", errno == ENOMEM ? "ENOMEM" : "other");
    stats(&st);
    printf("blocks %zu\nwithin_limit %d\n", n,
           st.heap.resident_bytes <= st.heap.hard_limit_bytes &&
               st.heap.peak_resident_bytes <= st.heap.hard_limit_bytes);
    for (size_t i = 0; i < n; i++)
        free(blocks[i]);
    free(blocks);
    void *again = malloc(65536);
    printf("again %d\ndone\n", again != NULL);
    free(again);
    return 0;
}

static volatile int stop;

static void *churn(void *arg)
{
    (void)arg;
    void *slots[64] = {0};
    unsigned r = 1;
    while (!stop) {
        r = r * 1103515245u + 12345u;
        unsigned i = (r >> 8) % 64;
        free(slots[i]);
        slots[i] = malloc(16 + (r >> 16) % 3000);
    }
    for (int i = 0; i < 64; i++)
        free(slots[i]);
    return NULL;
}

static int forks(const char *self)
{
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, churn, NULL);
    int bad = 0;
    for (int round = 0; round < 20; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            /* The child: malloc works (no lock left held by a vanished
             * thread), then exec. */
            for (int i = 0; i < 1000; i++) {
                char *p = malloc((size_t)i * 13u + 1u);
                if (p == NULL)
                    _exit(10);
                p[0] = 1;
                free(p);
            }
            if (round % 2 == 0)
                _exit(0);
            execl(self, self, "check", (char *)NULL);
            _exit(11);
        }
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            bad++;
    }
    stop = 1;
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("fork_failures %d\ndone\n", bad);
    return 0;
}

static volatile sig_atomic_t woken;

static void on_usr1(int sig)
{
    (void)sig;
    woken = 1;
}

static void broker_line(const char *step)
{
    struct gmalloc_stats st;
    ((stats_fn)need("gmalloc_stats"))(&st);
    printf("%s giveback_queries %llu giveback_bytes %llu\n", step,
           (unsigned long long)st.broker_giveback_queries,
           (unsigned long long)st.broker_giveback_bytes);
    printf("%s active %d backed %d balance %llu budget %llu requests %llu returned %llu\n", step,
           st.broker_active, st.broker_pool_backed, (unsigned long long)st.broker_balance_bytes,
           (unsigned long long)st.heap.budget_bytes, (unsigned long long)st.broker_requests,
           (unsigned long long)st.broker_returned_bytes);
    printf("%s balance_is_budget %d\n", step, st.broker_balance_bytes == st.heap.budget_bytes);
}

static int broker(void)
{
    enum { N = 256 };
    static void *blocks[N];
    broker_line("start");
    for (int i = 0; i < N; i++) {
        blocks[i] = malloc(65536);
        if (blocks[i] == NULL) {
            printf("malloc failed at %d\n", i);
            return 1;
        }
        memset(blocks[i], 1, 65536);
    }
    broker_line("peak");
    for (int i = 0; i < N; i++)
        free(blocks[i]);
    /* Frees tick the surplus check every 1024 frees of a thread. */
    for (int i = 0; i < 4096; i++)
        free(malloc(16));
    broker_line("after");
    return 0;
}

static int hold(void)
{
    /* 12 MiB in fewer frees than the 64 after which a thread checks for
     * surplus quota: the quota stays held until the broker asks for it. */
    enum { N = 24, SIZE = 512 * 1024 };
    static void *blocks[N];
    signal(SIGUSR1, on_usr1);
    for (int i = 0; i < N; i++) {
        blocks[i] = malloc(SIZE);
        if (blocks[i] == NULL) {
            printf("malloc failed at %d\n", i);
            return 1;
        }
        memset(blocks[i], 1, SIZE);
    }
    for (int i = 0; i < N; i++)
        free(blocks[i]);
    broker_line("ready");
    for (int i = 0; i < 2000 && !woken; i++)
        usleep(10000);
    broker_line("end");
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *mode = argc > 1 ? argv[1] : "check";
    if (strcmp(mode, "check") == 0)
        return check();
    if (strcmp(mode, "settings") == 0)
        return print_settings();
    if (strcmp(mode, "limit") == 0)
        return limit();
    if (strcmp(mode, "fork") == 0)
        return forks(argv[0]);
    if (strcmp(mode, "broker") == 0)
        return broker();
    if (strcmp(mode, "hold") == 0)
        return hold();
    if (strcmp(mode, "signal") == 0 && argc > 2) {
        raise((int)strtol(argv[2], NULL, 10));
        printf("done\n");
        return 0;
    }
    fprintf(stderr, "usage: gmalloc_probe check|settings|limit|fork|signal N\n");
    return 2;
}
