/* fd_write.c: writing a whole buffer to a descriptor (see the header). */
#include "common/fd_write.h"

#include <errno.h>
#include <unistd.h>

int mb_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}
