/* fuse_ring.h: trackfs's requests over FUSE's io_uring transport.
 *
 * The classic transport costs two system calls and, on a machine with
 * more than one CPU, usually two cross-CPU wake-ups per request: a reader
 * thread on /dev/fuse wakes on whichever CPU, the caller waits elsewhere.
 * Over io_uring (Linux 6.14+, when the fuse module's enable_uring is on),
 * the kernel queues each request on the queue of the CPU its caller runs
 * on; trackfs serves every queue with threads pinned to that CPU, which
 * answer a request and wait for the next in one io_uring_enter(2).
 *
 * libfuse 3.14 knows nothing of this: trackfs hooks its I/O
 * (fuse_session_custom_io). The INIT reply going out through the hook
 * gets the FUSE_OVER_IO_URING flag when the kernel offered it and the
 * mount did not say uring=off; the ring threads then register their
 * buffers, and each request they are given goes through
 * fuse_session_process_buf as if read from /dev/fuse; the reply libfuse
 * writes comes back through the hook into the entry. FORGET and INTERRUPT
 * still come by /dev/fuse, served by libfuse's own loop, as does
 * everything when the ring cannot be had (logged once). */
#ifndef TRACKFS_FUSE_RING_H
#define TRACKFS_FUSE_RING_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <stdint.h>

#include "trackfs/options.h"

/* Ring threads per CPU queue: a request that waits (a write stalled on
 * the broker) keeps one; the others serve its CPU meanwhile. */
#define TFS_RING_DEPTH 2u

struct tfs_ring;

/* Hooks the session's I/O (after fuse_session_mount, before the loop).
 * mode uring=off keeps the hooks out entirely. One session per process:
 * the hooks find the ring through a process-wide pointer (libfuse hands
 * them the session's user data, the filesystem's). Returns the ring state
 * (NULL: uring=off, or set-up failed: /dev/fuse only; logged). */
struct tfs_ring *tfs_ring_attach(struct fuse_session *se, enum tfs_uring mode,
                                 uint64_t page_size);

/* In a ring thread serving a request: the entry's payload buffer, where
 * the reply's data may be put directly (then answered with fuse_reply_buf
 * of that pointer: no copy), with its size in *cap. NULL in any other
 * thread. */
void *tfs_ring_reply_space(size_t *cap);

/* After the session loop ended and the mount is gone: stops and joins the
 * ring threads and frees everything. NULL is fine. */
void tfs_ring_stop(struct tfs_ring *ring);

#endif
