/* ring_frame.h: the message layout of FUSE over io_uring (Linux 6.14+,
 * FUSE protocol 7.42), and its translation to and from the /dev/fuse form
 * libfuse understands. Pure: no system calls, no libfuse.
 *
 * Over the ring, each request slot ("entry") is two buffers the daemon
 * registers: a fixed header area and a payload buffer. The kernel puts the
 * fuse_in_header into the header area, the operation's fixed argument
 * (fuse_write_in, fuse_create_in, ...; none for LOOKUP and a few others)
 * beside it, and everything after that (names, written data) into the
 * payload. A reply goes back the same way: the fuse_out_header into the
 * header area, every reply argument into the payload. The daemon answers
 * and asks for the next request in one step (COMMIT_AND_FETCH). */
#ifndef TRACKFS_RING_FRAME_H
#define TRACKFS_RING_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define TFS_RING_IN_OUT_SIZE 128u /* the fuse_in_header / fuse_out_header area */
#define TFS_RING_OP_SIZE 128u     /* the operation's fixed argument area */

/* The kernel's struct fuse_uring_ent_in_out. */
struct tfs_ring_ent_in_out {
    uint64_t flags;
    uint64_t commit_id;  /* echoed in the COMMIT_AND_FETCH command */
    uint32_t payload_sz; /* bytes used in the payload buffer, either way */
    uint32_t padding;
    uint64_t reserved;
};

/* The kernel's struct fuse_uring_req_header: an entry's header area. */
struct tfs_ring_header {
    unsigned char in_out[TFS_RING_IN_OUT_SIZE];
    unsigned char op_in[TFS_RING_OP_SIZE];
    struct tfs_ring_ent_in_out ent;
};

/* The kernel's struct fuse_uring_cmd_req, in the command area of a
 * 128-byte submission queue entry. */
struct tfs_ring_cmd {
    uint64_t flags;
    uint64_t commit_id;
    uint16_t qid; /* the queue: requests from CPU n go to queue n */
    uint8_t padding[6];
};

enum {
    TFS_RING_CMD_REGISTER = 1,         /* hand an entry's buffers to the kernel */
    TFS_RING_CMD_COMMIT_AND_FETCH = 2, /* answer the entry's request, wait for the next */
};

/* Room a payload buffer needs in front of it for tfs_ring_request to
 * rebuild the /dev/fuse form in place (in header and fixed argument). */
#define TFS_RING_FRONT 256u

/* The request in an entry as one /dev/fuse message: the in header and
 * the fixed argument are copied into the TFS_RING_FRONT bytes before
 * `payload` (which must be writable), so the payload is not moved.
 * payload_cap is the payload buffer's size. Returns the message and its
 * length in *len, or NULL when the header does not describe a message
 * that fits (then *unique is still the request's id, 0 if unreadable). */
void *tfs_ring_request(const struct tfs_ring_header *h, unsigned char *payload,
                       size_t payload_cap, size_t *len, uint64_t *unique);

/* Puts a reply given as libfuse writes it to /dev/fuse (iov[0] the
 * fuse_out_header, then the reply arguments) into an entry: the header into
 * h->in_out, the rest into the payload, its size into h->ent (an argument
 * already at its place in the payload is not copied). Returns 0,
 * -EINVAL (no whole out header first) or -EMSGSIZE (more than payload_cap;
 * nothing is written then). */
int tfs_ring_put_reply(struct tfs_ring_header *h, unsigned char *payload, size_t payload_cap,
                       const struct iovec *iov, int count);

/* Puts an error reply for request `unique` into an entry (error: a
 * positive errno). */
void tfs_ring_put_error(struct tfs_ring_header *h, uint64_t unique, int error);

/* Whether the /dev/fuse message msg (len bytes) is the kernel's INIT
 * request offering FUSE over io_uring; its unique id goes to *unique when
 * it is an INIT at all. */
bool tfs_ring_init_offers(const void *msg, size_t len, bool *is_init, uint64_t *unique);

/* Accepts the ring in an INIT reply's fuse_init_out (arg, arg_len bytes,
 * modified in place) and gives the payload size each entry must have.
 * Returns 0, or -EINVAL when arg is too short to carry the flag. */
int tfs_ring_accept_in_init(void *arg, size_t arg_len, uint64_t page_size, size_t *payload_size);

#endif
