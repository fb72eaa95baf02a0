/* alloc_common: timing, RSS, strace markers and harness memory for the
 * allocator benchmarks (see alloc_common.h). */
#include "alloc_common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint64_t bench_rss_bytes(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* "size resident shared text lib data dt", in pages */
    char *p = buf;
    while (*p != '\0' && *p != ' ')
        p++;
    uint64_t pages = strtoull(p, NULL, 10);
    return pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

void bench_mark(const char *what)
{
    char buf[64];
    int n = snprintf(buf, sizeof buf, "mb-bench-%s", what);
    if (n > 0)
        (void)syscall(SYS_write, -1, buf, (size_t)n);
}

void *bench_map(size_t bytes, int touch)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "bench: mmap of %zu bytes failed: %s\n", bytes, strerror(errno));
        exit(1);
    }
    if (touch) {
        long page = sysconf(_SC_PAGESIZE);
        for (size_t off = 0; off < bytes; off += (size_t)page)
            ((volatile unsigned char *)p)[off] = 0;
    }
    return p;
}

void bench_unmap(void *p, size_t bytes)
{
    if (p != NULL)
        munmap(p, bytes);
}

void *bench_malloc(size_t n, const char *who)
{
    void *p = malloc(n);
    if (p == NULL) {
        fprintf(stderr, "bench %s: malloc(%zu) failed\n", who, n);
        exit(1);
    }
    return p;
}

uint64_t bench_parse_u64(const char *prog, const char *opt, const char *value)
{
    char *end = NULL;
    if (value == NULL || *value < '0' || *value > '9') {
        fprintf(stderr, "%s: %s needs an unsigned number\n", prog, opt);
        exit(2);
    }
    errno = 0;
    unsigned long long v = strtoull(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0') {
        fprintf(stderr, "%s: %s: not a number: %s\n", prog, opt, value);
        exit(2);
    }
    return (uint64_t)v;
}
