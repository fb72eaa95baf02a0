/* test_mbwatch_pressure.c: the helper of test_mbwatch_pressure.sh.
 *   hog MIB          maps and touches MIB MiB of anonymous memory, prints
 *                    "holding MIB MiB", then waits to be killed
 *   churn FILE N     reads FILE N times, dropping its page cache before each
 *                    round, so the group must reclaim (pressure_level events)
 *   pressure LEVEL   sends PRESSURE (none, moderate, critical) over
 *                    MEMBROKER_SOCKET and prints "accepted" or the error */
#include "membroker/client.h"

#ifdef MBW_HEAP_COUNTER
/* Built as a preload library instead (MBW_HEAP_COUNTER): counts the heap
 * allocations a process makes while the file named by MBW_HEAP_ARM exists
 * and writes the count to the file named by MBW_HEAP_OUT at exit. The test
 * arms it once mbwatch is up: everything after is the event path. */
#include <dlfcn.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static unsigned long counted;
static __thread int inside;
static char early[4096]; /* dlsym's own calloc, before the real one is known */

static void count(void)
{
    if (inside)
        return;
    inside = 1;
    const char *arm = getenv("MBW_HEAP_ARM");
    if (arm != NULL && access(arm, F_OK) == 0)
        counted++;
    inside = 0;
}

void *malloc(size_t n)
{
    static void *(*real)(size_t);
    if (real == NULL)
        real = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    count();
    return real(n);
}

void *calloc(size_t a, size_t b)
{
    static void *(*real)(size_t, size_t);
    static int resolving;
    if (real == NULL) {
        if (resolving)
            return early;
        resolving = 1;
        real = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    }
    count();
    return real(a, b);
}

void *realloc(void *p, size_t n)
{
    static void *(*real)(void *, size_t);
    if (real == NULL)
        real = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    count();
    return real(p, n);
}

void free(void *p)
{
    static void (*real)(void *);
    if (p == early)
        return;
    if (real == NULL)
        real = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    real(p);
}

__attribute__((destructor)) static void report(void)
{
    const char *out = getenv("MBW_HEAP_OUT");
    if (out == NULL)
        return;
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    char text[32];
    int n = snprintf(text, sizeof text, "%lu\n", counted);
    if (n > 0)
        (void)!write(fd, text, (size_t)n);
    close(fd);
}
#else

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static int hog(const char *arg)
{
    size_t mib = (size_t)strtoul(arg, NULL, 10);
    size_t len = mib << 20;
    unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("hog: mmap");
        return 1;
    }
    /* A MiB at a time with a short pause, as a program grows: when the
     * group runs out, the kernel's victim (the lamb) has time to exit before
     * the next charge, instead of a second OOM finding it still dying. 2 ms
     * was not always enough on a loaded machine (the hog went too, 2 ms
     * after the lamb); 10 ms costs the whole test about 2 s. */
    /* Page tables first (one page per 2 MiB): a page table charged to the
     * group near its limit is a kernel allocation, and the kernel was seen
     * to answer one that failed while the lamb was dying by killing the hog
     * as well ("invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL)" with the
     * group 10 MiB under its limit). */
    for (size_t i = 0; i < len; i += (size_t)2 << 20)
        p[i] = 1;
    for (size_t i = 0; i < len; i += 4096) {
        p[i] = 1;
        if ((i & ((1u << 20) - 1u)) == 0) {
            struct timespec pause_ts = {.tv_sec = 0, .tv_nsec = 10000000};
            nanosleep(&pause_ts, NULL);
        }
    }
    printf("holding %zu MiB\n", mib);
    fflush(stdout);
    for (;;)
        pause();
}

static int churn(const char *path, const char *rounds_text)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        perror("churn: open");
        return 1;
    }
    long rounds = strtol(rounds_text, NULL, 10);
    static char buf[1 << 16];
    for (long r = 0; r < rounds; r++) {
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        off_t off = 0;
        ssize_t n;
        while ((n = pread(fd, buf, sizeof buf, off)) > 0)
            off += n;
    }
    close(fd);
    printf("churned %ld rounds\n", rounds);
    return 0;
}

static int pressure(const char *arg)
{
    static const char *const names[] = {"none", "moderate", "critical"};
    uint8_t level = MB_PRESSURE_COUNT;
    for (uint8_t i = 0; i < MB_PRESSURE_COUNT; i++)
        if (strcmp(arg, names[i]) == 0)
            level = i;
    if (level == MB_PRESSURE_COUNT) {
        fprintf(stderr, "pressure: unknown level \"%s\"\n", arg);
        return 2;
    }
    static struct mb_client c;
    struct mb_client_options o;
    mb_client_options_init(&o);
    o.name = "pressure-test";
    int rc = mb_client_init(&c, &o);
    if (rc == 0)
        rc = mb_client_pressure_timeout(&c, level, 5000);
    printf("%s\n", rc == 0 ? "accepted" : mb_client_strerror(rc));
    mb_client_destroy(&c);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "hog") == 0)
        return hog(argv[2]);
    if (argc == 4 && strcmp(argv[1], "churn") == 0)
        return churn(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "pressure") == 0)
        return pressure(argv[2]);
    fprintf(stderr, "usage: test_mbwatch_pressure hog MIB | churn FILE ROUNDS | pressure LEVEL\n");
    return 2;
}
#endif
