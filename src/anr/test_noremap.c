/* Proves the heap changes no address-space mapping after creation: a forked
 * child creates a heap, warms it up, then installs a seccomp filter that
 * kills the process on mmap, mmap2, munmap, mremap, mprotect and brk, and
 * runs a heavy mixed workload (allocations of every kind, frees, give-back
 * with madvise, trim, budget changes through the callback, verify). The
 * child writes only with write(2) and never calls libc malloc. The parent
 * expects exit status 0. A control child shows the filter does kill mmap.
 * The workload runs once without and once with the thread cache (whose
 * slots live in the heap's reservation), and once with every debug option
 * on (guards, trash, call stacks, flight recorder, client areas), ending
 * with a leak report, a dump and two mark-and-sweep collections (report
 * only, then freeing) written to a pipe. */
#include "anr/anr_malloc.h"
#include "mbtest.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB ((size_t)1 << 20)
#define SKIP_STATUS 77

#if defined(__x86_64__)
#define THIS_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define THIS_ARCH AUDIT_ARCH_AARCH64
#elif defined(__arm__)
#define THIS_ARCH AUDIT_ARCH_ARM
#elif defined(__i386__)
#define THIS_ARCH AUDIT_ARCH_I386
#endif

static void say(const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(2, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

#define DENY(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
                 BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS)

/* 0, or -errno when seccomp filters are not available here. */
static int forbid_mapping_calls(void)
{
#ifdef THIS_ARCH
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, THIS_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
#ifdef __NR_mmap
        DENY(__NR_mmap),
#endif
#ifdef __NR_mmap2
        DENY(__NR_mmap2),
#endif
        DENY(__NR_munmap),
        DENY(__NR_mremap),
        DENY(__NR_mprotect),
#ifdef __NR_brk
        DENY(__NR_brk),
#endif
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = (unsigned short)(sizeof filter / sizeof filter[0]),
                              .filter = filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -errno;
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
        return -errno;
    return 0;
#else
    return -ENOSYS;
#endif
}

static enum anr_need_result grant(anr_heap *h, size_t bytes, unsigned attempt, void *user)
{
    (void)attempt;
    (void)user;
    return anr_heap_expand(h, bytes) == 0 ? ANR_NEED_RETRY : ANR_NEED_GIVE_UP;
}

static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
    return mbt_xorshift64(&rng);
}

#define SLOTS 2048
static unsigned char *slots[SLOTS];
static size_t sizes[SLOTS];

/* Returns the number of faults found. */
static unsigned workload(anr_heap *h, unsigned ops)
{
    unsigned faults = 0;
    for (unsigned i = 0; i < ops; i++) {
        unsigned s = (unsigned)(rnd() % SLOTS);
        if (slots[s] != NULL) {
            if (sizes[s] > 0 && (slots[s][0] != (unsigned char)s ||
                                 slots[s][sizes[s] - 1] != (unsigned char)s))
                faults++;
            if (rnd() % 3 == 0) {
                size_t n = (size_t)(rnd() % 20000);
                unsigned char *q = anr_heap_realloc(h, slots[s], n);
                if (q != NULL || n == 0) {
                    slots[s] = q;
                    sizes[s] = n;
                    if (q != NULL && n > 0)
                        memset(q, (int)(s & 0xff), n);
                }
            } else {
                anr_heap_free(h, slots[s]);
                slots[s] = NULL;
            }
            continue;
        }
        uint64_t r = rnd() % 100;
        size_t n = r < 80 ? (size_t)(rnd() % 512) : r < 98 ? (size_t)(rnd() % 16384)
                                                           : (size_t)(rnd() % (512 * 1024));
        unsigned char *p;
        if (r % 4 == 0)
            p = anr_heap_calloc(h, 1, n);
        else if (r % 4 == 1)
            p = anr_heap_memalign(h, (size_t)1 << (rnd() % 13), n);
        else
            p = anr_heap_malloc(h, n);
        if (p == NULL)
            continue;
        memset(p, (int)(s & 0xff), n);
        slots[s] = p;
        sizes[s] = n;
        if (i % 5000 == 0) {
            anr_heap_trim(h);
            anr_heap_shrink(h, 1 * MiB);
        }
    }
    return faults;
}

static bool child_caches;
static bool child_debug;

/* Reads what a report wrote into the pipe; true when it ends with `tail`. */
static bool drain_pipe(int fd, const char *tail)
{
    static char buf[1 << 20];
    size_t n = 0;
    for (;;) {
        ssize_t k = read(fd, buf + n, sizeof buf - 1 - n);
        if (k <= 0)
            break;
        n += (size_t)k;
        if (n == sizeof buf - 1)
            n = 0; /* keep the end only */
    }
    buf[n] = '\0';
    size_t t = strlen(tail);
    return n >= t && strcmp(buf + n - t, tail) == 0;
}

/* The marker of the debug run: the blocks in even slots are reachable. */
static void mark_even(anr_heap *h, void *user)
{
    (void)user;
    for (unsigned s = 0; s < SLOTS; s += 2)
        if (slots[s] != NULL)
            anr_heap_mark_block(h, slots[s]);
}

/* Mark and sweep under the filter: a report, then a sweep that must free
 * exactly the blocks in odd slots (a wrong one shows up as an invalid free
 * later). 0 or the child's exit status. */
static int collect_odd(anr_heap *h, int pfd[2])
{
    uint64_t odd = 0;
    for (unsigned s = 1; s < SLOTS; s += 2)
        if (slots[s] != NULL) {
            size_t len = 0;
            char *area = anr_heap_debug_area(h, slots[s], &len);
            if (area == NULL || len != 32)
                return 7;
            area[0] = 1;
            odd++;
        }
    struct anr_collect_result r;
    if (anr_heap_collect(h, ANR_SWEEP_REPORT, pfd[1], &r) != (int64_t)odd ||
        !drain_pipe(pfd[0], "anr: end of collection report\n") ||
        anr_heap_collect(h, ANR_SWEEP_FREE, -1, &r) != (int64_t)odd || r.freed_blocks != odd)
        return 8;
    for (unsigned s = 1; s < SLOTS; s += 2)
        slots[s] = NULL;
    return 0;
}

static int child(void)
{
    struct anr_options o;
    anr_options_init(&o);
    o.thread_cache = child_caches;
    o.pool_size = 4 * MiB;
    o.map_size = 64 * MiB;
    o.page_ceiling = 16;
    o.need_memory = grant;
    if (child_debug) {
        o.guard_words = 2;
        o.fill_with_trash = true;
        o.stack_depth = 8;
        o.flight_recorder_entries = 1024;
        o.client_debug_bytes = 32;
    }
    int pfd[2];
    /* The reports must fit the pipe: this process is also its reader. */
    if (pipe(pfd) != 0 || fcntl(pfd[0], F_SETPIPE_SZ, 1 << 20) < 0 ||
        fcntl(pfd[0], F_SETFL, O_NONBLOCK) != 0 ||
        fcntl(pfd[1], F_SETFL, O_NONBLOCK) != 0) {
        say("noremap child: pipe failed\n");
        return 2;
    }
    anr_heap *h = NULL;
    if (anr_heap_create(&o, &h) != 0) {
        say("noremap child: heap creation failed\n");
        return 2;
    }
    char msg[256];
    /* Warm-up before the filter: resolves lazy symbols (madvise, mincore,
     * pthread calls, vsnprintf) outside the sandbox. */
    workload(h, 2000);
    anr_heap_verify(h, msg, sizeof msg);
    if (child_debug) {
        anr_heap_mark(h);
        anr_heap_register_marker(h, mark_even, NULL);
        anr_heap_dump(h, pfd[1]);
        drain_pipe(pfd[0], "");
    }
    int rc = forbid_mapping_calls();
    if (rc != 0) {
        say("noremap child: seccomp filter unavailable here\n");
        return SKIP_STATUS;
    }
    unsigned faults = workload(h, child_debug ? 50000 : 200000);
    if (child_debug) {
        /* Blocks are still live here: a real leak report and dump. */
        int64_t leaks = anr_heap_report_leaks(h, pfd[1]);
        if (leaks <= 0 || !drain_pipe(pfd[0], "anr: end of leak report\n")) {
            say("noremap child: leak report failed\n");
            return 5;
        }
        if (anr_heap_dump(h, pfd[1]) != 0 || !drain_pipe(pfd[0], "anr: end of dump\n")) {
            say("noremap child: dump failed\n");
            return 6;
        }
        if ((rc = collect_odd(h, pfd)) != 0) {
            say("noremap child: mark and sweep failed\n");
            return rc;
        }
    }
    for (unsigned s = 0; s < SLOTS; s++) {
        anr_heap_free(h, slots[s]);
        slots[s] = NULL;
    }
    if (anr_heap_verify(h, msg, sizeof msg) != 0) {
        say("noremap child: verify: ");
        say(msg);
        say("\n");
        return 3;
    }
    struct anr_stats st;
    anr_heap_get_stats(h, &st);
    if (st.in_use_bytes != 0 || st.live_blocks != 0 || st.madvise_calls == 0 ||
        st.callback_calls == 0 || faults != 0 || (child_caches && st.thread_cached_blocks == 0) ||
        st.guard_faults != 0 || st.invalid_frees != 0) {
        say("noremap child: workload did not behave\n");
        return 4;
    }
    anr_heap_trim(h);
    /* destroy would munmap: exit without it, the process is going anyway. */
    return 0;
}

static int run_child(int (*fn)(void))
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(fn());
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return status;
}

static int control_child(void)
{
    if (forbid_mapping_calls() != 0)
        return SKIP_STATUS;
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? 5 : 6; /* not reached when the filter works */
}

static void test_filter_kills_mmap(void)
{
    int status = run_child(control_child);
    if (WIFEXITED(status) && WEXITSTATUS(status) == SKIP_STATUS) {
        printf("test_noremap: SKIP: seccomp filters are not available (qemu-user refuses "
               "PR_SET_SECCOMP; kernels without CONFIG_SECCOMP_FILTER)\n");
        return;
    }
    MBT_TRUE(WIFSIGNALED(status));
    MBT_EQ_INT(SIGSYS, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static void test_no_mapping_changes_after_init(void)
{
    int status = run_child(child);
    if (WIFEXITED(status) && WEXITSTATUS(status) == SKIP_STATUS) {
        printf("test_noremap: SKIP: seccomp filters are not available here\n");
        return;
    }
    if (WIFSIGNALED(status))
        fprintf(stderr, "    child killed by signal %d (SIGSYS = a forbidden call)\n",
                WTERMSIG(status));
    MBT_TRUE(WIFEXITED(status));
    MBT_EQ_INT(0, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static void test_no_mapping_changes_with_thread_cache(void)
{
    child_caches = true;
    test_no_mapping_changes_after_init();
    child_caches = false;
}

static void test_no_mapping_changes_with_debug_options(void)
{
    child_debug = true;
    test_no_mapping_changes_after_init();
    child_debug = false;
}

int main(void)
{
    fflush(stdout);
    MBT_RUN(test_filter_kills_mmap);
    MBT_RUN(test_no_mapping_changes_after_init);
    MBT_RUN(test_no_mapping_changes_with_thread_cache);
    MBT_RUN(test_no_mapping_changes_with_debug_options);
    return mbt_finish();
}
