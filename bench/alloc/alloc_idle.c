/* bench_alloc_idle: the footprint of a trivial program under an allocator.
 *
 * Mallocs and frees one small block (so a lazily initialized allocator is
 * initialized), then prints its resident set size, and that size split into
 * file-backed pages (program and library text and data, shared with every
 * process that maps the same files; how many are mapped also depends on what
 * the page cache holds, through fault-around) and anonymous ones (private to
 * this process: heaps, the allocator's tables, stacks):
 *     result idle rss_kib=<KiB> anon_kib=<KiB> file_kib=<KiB>
 */
#include "alloc_common.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Resident and shared (file-backed) pages from /proc/self/statm, read
 * without stdio; false when unreadable. */
static bool statm_pages(uint64_t *resident, uint64_t *shared)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    /* "size resident shared text lib data dt", in pages */
    char *p = buf, *end;
    (void)strtoull(p, &end, 10);
    *resident = strtoull(end, &p, 10);
    *shared = strtoull(p, &end, 10);
    return end != p && *shared <= *resident;
}

int main(void)
{
    free(bench_malloc(16, "idle"));
    uint64_t resident = 0, shared = 0;
    if (!statm_pages(&resident, &shared))
        return 1;
    uint64_t kib = (uint64_t)sysconf(_SC_PAGESIZE) / 1024u;
    printf("result idle rss_kib=%" PRIu64 " anon_kib=%" PRIu64 " file_kib=%" PRIu64 "\n",
           resident * kib, (resident - shared) * kib, shared * kib);
    return 0;
}
