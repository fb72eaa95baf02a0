/* os.h: the allocator's only door to the kernel's memory calls.
 *
 * Nothing else under src/anr/ names mmap, munmap, madvise, mincore or
 * sysconf. The core reserves once (anr_os_reserve) when a heap is created,
 * gives pages back with anr_os_discard while it runs, and unmaps with
 * anr_os_release when the heap is destroyed. None of these block on locks of
 * the allocator; the kernel calls may take the process's mmap lock.
 */
#ifndef ANR_OS_H
#define ANR_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The page size, read from the system once per call (cheap). A power of two. */
size_t anr_os_page_size(void);

/* Reserves `bytes` (a multiple of the page size) of private anonymous
 * read-write memory without reserving swap or commit (MAP_NORESERVE).
 * Returns the page-aligned base, or NULL (errno from mmap). */
void *anr_os_reserve(size_t bytes);

/* Unmaps a reservation. Returns 0 or -errno. */
int anr_os_release(void *base, size_t bytes);

/* Tells the kernel the pages [addr, addr + bytes) hold nothing worth
 * keeping (MADV_DONTNEED, or MADV_FREE when lazy). addr and bytes are
 * page-aligned. Returns 0 or -errno (EINVAL on mlocked pages, for one). */
int anr_os_discard(void *addr, size_t bytes, bool lazy);

/* Counts the pages of [addr, addr + bytes) the kernel currently backs
 * (mincore). addr page-aligned. Returns 0 and stores the count, or -errno. */
int anr_os_resident_pages(const void *addr, size_t bytes, uint64_t *count);

#endif
