/* fd_write.h: writing a whole buffer to a descriptor.
 *
 * write(2) may write less than asked (pipes, sockets, signals); every
 * caller that needs all of it wrote the same loop. Heap-free, stdio-free:
 * usable from gmalloc's start-up, mbwatch's evidence path and logging.
 */
#ifndef MB_COMMON_FD_WRITE_H
#define MB_COMMON_FD_WRITE_H

#include <stddef.h>

/* Writes all of buf[0..len) to fd, resuming after EINTR and short writes.
 * Returns 0, or the negative errno of the write that failed (what came
 * before it was written). May block as write(2) does. */
int mb_write_all(int fd, const void *buf, size_t len);

#endif
