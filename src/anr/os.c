/* os.c: mmap, munmap, madvise, mincore and the page size, and nothing else. */
#include "anr/os.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

size_t anr_os_page_size(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    return ps > 0 ? (size_t)ps : 4096u;
}

void *anr_os_reserve(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

int anr_os_release(void *base, size_t bytes)
{
    return munmap(base, bytes) == 0 ? 0 : -errno;
}

int anr_os_discard(void *addr, size_t bytes, bool lazy)
{
    int advice = MADV_DONTNEED;
#ifdef MADV_FREE
    if (lazy)
        advice = MADV_FREE;
#else
    (void)lazy;
#endif
    if (madvise(addr, bytes, advice) == 0)
        return 0;
    return -errno;
}

int anr_os_resident_pages(const void *addr, size_t bytes, uint64_t *count)
{
    /* mincore fills one byte per page; a fixed buffer keeps this heap-free
     * (the no-mmap test calls it from a sandboxed child). */
    unsigned char vec[1024];
    size_t ps = anr_os_page_size();
    const char *p = addr;
    size_t pages = (bytes + ps - 1) / ps;
    uint64_t resident = 0;
    while (pages > 0) {
        size_t n = pages < sizeof vec ? pages : sizeof vec;
        if (mincore((void *)p, n * ps, vec) != 0)
            return -errno;
        for (size_t i = 0; i < n; i++)
            resident += vec[i] & 1u;
        p += n * ps;
        pages -= n;
    }
    *count = resident;
    return 0;
}
