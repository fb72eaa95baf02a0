/* ring_frame.c: FUSE over io_uring messages to and from the /dev/fuse form.
 * The layout facts are the kernel's (include/uapi/linux/fuse.h, protocol
 * 7.42; fs/fuse/dev_uring.c). */
#include "trackfs/ring_frame.h"

#include <errno.h>
#include <linux/fuse.h>
#include <string.h>

_Static_assert(sizeof(struct tfs_ring_ent_in_out) == 32, "fuse_uring_ent_in_out is 32 bytes");
_Static_assert(sizeof(struct tfs_ring_header) == 288, "fuse_uring_req_header is 288 bytes");
_Static_assert(sizeof(struct tfs_ring_cmd) == 24, "fuse_uring_cmd_req is 24 bytes");
_Static_assert(TFS_RING_FRONT >= sizeof(struct fuse_in_header) + TFS_RING_OP_SIZE,
               "room for the in header and the fixed argument");

/* FUSE_OVER_IO_URING is bit 41 of the 64 INIT flags: bit 9 of flags2. */
#define OVER_IO_URING_FLAG2 (UINT32_C(1) << 9)
/* The kernel's FUSE_DEFAULT_MAX_PAGES_PER_REQ. */
#define DEFAULT_MAX_PAGES UINT64_C(32)

void *tfs_ring_request(const struct tfs_ring_header *h, unsigned char *payload,
                       size_t payload_cap, size_t *len, uint64_t *unique)
{
    struct fuse_in_header in;
    memcpy(&in, h->in_out, sizeof in);
    *unique = in.unique;
    *len = 0;
    /* The in header's len counts every argument: the fixed one is what
     * the header and the payload leave. */
    size_t payload_len = h->ent.payload_sz;
    if (payload_len > payload_cap || in.len < sizeof in || in.len - sizeof in < payload_len)
        return NULL;
    size_t op_len = in.len - sizeof in - payload_len;
    if (op_len > TFS_RING_OP_SIZE)
        return NULL;
    unsigned char *start = payload - op_len - sizeof in;
    memcpy(start, &in, sizeof in);
    memcpy(start + sizeof in, h->op_in, op_len);
    *len = in.len;
    return start;
}

int tfs_ring_put_reply(struct tfs_ring_header *h, unsigned char *payload, size_t payload_cap,
                       const struct iovec *iov, int count)
{
    if (count < 1 || iov[0].iov_len < sizeof(struct fuse_out_header))
        return -EINVAL;
    size_t total = iov[0].iov_len - sizeof(struct fuse_out_header);
    if (total > payload_cap)
        return -EMSGSIZE;
    for (int i = 1; i < count; i++) {
        if (iov[i].iov_len > payload_cap - total)
            return -EMSGSIZE;
        total += iov[i].iov_len;
    }
    memcpy(h->in_out, iov[0].iov_base, sizeof(struct fuse_out_header));
    /* Bytes past the out header in iov[0] (libfuse does not send any) are
     * the first argument's. */
    size_t at = iov[0].iov_len - sizeof(struct fuse_out_header);
    memcpy(payload, (const unsigned char *)iov[0].iov_base + sizeof(struct fuse_out_header), at);
    for (int i = 1; i < count; i++) {
        /* Data the daemon read straight into the payload stays put. */
        if (iov[i].iov_len > 0 && iov[i].iov_base != payload + at)
            memmove(payload + at, iov[i].iov_base, iov[i].iov_len);
        at += iov[i].iov_len;
    }
    h->ent.payload_sz = (uint32_t)at;
    return 0;
}

void tfs_ring_put_error(struct tfs_ring_header *h, uint64_t unique, int error)
{
    struct fuse_out_header out = {
        .len = sizeof out,
        .error = -error,
        .unique = unique,
    };
    memcpy(h->in_out, &out, sizeof out);
    h->ent.payload_sz = 0;
}

bool tfs_ring_init_offers(const void *msg, size_t len, bool *is_init, uint64_t *unique)
{
    struct fuse_in_header in;
    struct fuse_init_in arg;
    *is_init = false;
    if (len < sizeof in)
        return false;
    memcpy(&in, msg, sizeof in);
    if (in.opcode != FUSE_INIT)
        return false;
    *is_init = true;
    *unique = in.unique;
    /* flags2 came with protocol 7.36 and is read only with FUSE_INIT_EXT. */
    if (len < sizeof in + offsetof(struct fuse_init_in, flags2) + sizeof arg.flags2)
        return false;
    memcpy(&arg, (const unsigned char *)msg + sizeof in,
           len - sizeof in < sizeof arg ? len - sizeof in : sizeof arg);
    return arg.major == 7 && (arg.flags & FUSE_INIT_EXT) != 0 &&
           (arg.flags2 & OVER_IO_URING_FLAG2) != 0;
}

int tfs_ring_accept_in_init(void *arg, size_t arg_len, uint64_t page_size, size_t *payload_size)
{
    struct fuse_init_out out;
    if (arg_len < offsetof(struct fuse_init_out, flags2) + sizeof out.flags2)
        return -EINVAL;
    memset(&out, 0, sizeof out);
    memcpy(&out, arg, arg_len < sizeof out ? arg_len : sizeof out);
    out.flags |= FUSE_INIT_EXT;
    out.flags2 |= OVER_IO_URING_FLAG2;
    memcpy(arg, &out, arg_len < sizeof out ? arg_len : sizeof out);
    /* The kernel's rule (fuse_uring_create): at least FUSE_MIN_READ_BUFFER,
     * max_write, and max_pages pages (32 unless the reply sets it; the
     * kernel may lower what it sets, never below 1). */
    uint64_t pages = (out.flags & FUSE_MAX_PAGES) != 0 && out.max_pages > DEFAULT_MAX_PAGES
                         ? out.max_pages
                         : DEFAULT_MAX_PAGES;
    size_t size = FUSE_MIN_READ_BUFFER;
    if (out.max_write > size)
        size = out.max_write;
    if (pages * page_size > size)
        size = (size_t)(pages * page_size);
    *payload_size = size;
    return 0;
}
