/* foreign.c: copying out of a block gmalloc does not own.
 *
 * realloc of such a block (made before gmalloc was loaded, for instance by
 * the dynamic loader's own minimal allocator) must keep its bytes, but its
 * size is unknown: no header gmalloc could trust describes it. gmalloc
 * copies min(new size, bytes readable from the pointer): every byte of the
 * old block that the new size covers is kept, and bytes past the old block
 * are indeterminate in the new one anyway. "Readable" is found without
 * risking a fault: process_vm_readv on our own process stops at the first
 * unreadable page; where that call is refused (seccomp, an old kernel) the
 * copy goes page by page while mincore says the page is mapped.
 */
#include "gmalloc/gm_internal.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

static size_t copy_by_mincore(void *dst, const void *src, size_t n)
{
    long ps_l = sysconf(_SC_PAGESIZE);
    uintptr_t ps = ps_l > 0 ? (uintptr_t)ps_l : 4096u;
    size_t done = 0;
    while (done < n) {
        const char *at = (const char *)src + done;
        size_t into = (size_t)((uintptr_t)at & (ps - 1u)); /* offset inside its page */
        unsigned char vec;
        if (mincore((void *)(at - into), 1, &vec) != 0)
            break; /* ENOMEM: not mapped */
        size_t chunk = (size_t)ps - into;
        if (chunk > n - done)
            chunk = n - done;
        memcpy((char *)dst + done, (const char *)src + done, chunk);
        done += chunk;
    }
    return done;
}

size_t gm_foreign_copy(void *dst, const void *src, size_t n)
{
    int saved = errno;
    size_t done = 0;
    pid_t self = getpid();
    while (done < n) {
        struct iovec local = {.iov_base = (char *)dst + done, .iov_len = n - done};
        struct iovec remote = {.iov_base = (void *)((const char *)src + done), .iov_len = n - done};
        ssize_t got = process_vm_readv(self, &local, 1, &remote, 1, 0);
        if (got > 0) {
            done += (size_t)got;
            continue;
        }
        if (got < 0 && (errno == ENOSYS || errno == EPERM))
            done += copy_by_mincore((char *)dst + done, (const char *)src + done, n - done);
        break; /* EFAULT, or 0: the rest is not readable */
    }
    errno = saved;
    return done;
}
