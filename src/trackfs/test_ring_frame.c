/* test_ring_frame.c: FUSE over io_uring entries translated to and from
 * /dev/fuse messages, byte for byte, and the INIT negotiation. */
#include "trackfs/ring_frame.h"

#include "mbtest.h"

#include <errno.h>
#include <linux/fuse.h>
#include <string.h>

#define CAP 64u

struct entry {
    struct tfs_ring_header h;
    unsigned char buffer[TFS_RING_FRONT + CAP];
};

static void put_in_header(struct entry *e, uint32_t opcode, uint64_t unique, uint32_t len)
{
    struct fuse_in_header in = {.len = len, .opcode = opcode, .unique = unique, .nodeid = 7};
    memcpy(e->h.in_out, &in, sizeof in);
}

/* A WRITE: its fuse_write_in in the op area, the data in the payload; the
 * rebuilt message is header, write_in, data, ending where the data ends. */
static void test_request_with_fixed_argument(void)
{
    static struct entry e;
    unsigned char *payload = e.buffer + TFS_RING_FRONT;
    struct fuse_write_in w = {.fh = 3, .offset = 4096, .size = 5};
    memcpy(e.h.op_in, &w, sizeof w);
    memcpy(payload, "hello", 6); /* the NUL lies past the payload */
    e.h.ent.payload_sz = 5;
    uint32_t len = (uint32_t)(sizeof(struct fuse_in_header) + sizeof w + 5);
    put_in_header(&e, FUSE_WRITE, 42, len);
    size_t got_len = 0;
    uint64_t unique = 0;
    const unsigned char *msg = tfs_ring_request(&e.h, payload, CAP, &got_len, &unique);
    MBT_REQUIRE(msg != NULL);
    MBT_EQ_U64(42, unique);
    MBT_EQ_U64(len, got_len);
    MBT_EQ_PTR(payload - sizeof w - sizeof(struct fuse_in_header), msg);
    struct fuse_in_header in;
    memcpy(&in, msg, sizeof in);
    MBT_EQ_U64(FUSE_WRITE, in.opcode);
    MBT_EQ_U64(7, in.nodeid);
    struct fuse_write_in w2;
    memcpy(&w2, msg + sizeof in, sizeof w2);
    MBT_EQ_U64(4096, w2.offset);
    MBT_EQ_U64(5, w2.size);
    MBT_EQ_MEM("hello", msg + sizeof in + sizeof w2, 5);
}

/* A LOOKUP has no fixed argument: the name follows the header directly. */
static void test_request_without_fixed_argument(void)
{
    static struct entry e;
    unsigned char *payload = e.buffer + TFS_RING_FRONT;
    memcpy(payload, "name", 5);
    e.h.ent.payload_sz = 5;
    put_in_header(&e, FUSE_LOOKUP, 9, (uint32_t)sizeof(struct fuse_in_header) + 5);
    size_t len = 0;
    uint64_t unique = 0;
    const unsigned char *msg = tfs_ring_request(&e.h, payload, CAP, &len, &unique);
    MBT_REQUIRE(msg != NULL);
    MBT_EQ_PTR(payload - sizeof(struct fuse_in_header), msg);
    MBT_EQ_STR("name", (const char *)msg + sizeof(struct fuse_in_header));
}

/* Headers that cannot be right are refused, with the id to answer. */
static void test_request_inconsistent(void)
{
    static struct entry e;
    unsigned char *payload = e.buffer + TFS_RING_FRONT;
    size_t len = 1;
    uint64_t unique = 0;
    const size_t in_size = sizeof(struct fuse_in_header);
    /* payload bigger than the buffer */
    e.h.ent.payload_sz = CAP + 1;
    put_in_header(&e, FUSE_WRITE, 5, (uint32_t)(in_size + CAP + 1));
    MBT_NULL(tfs_ring_request(&e.h, payload, CAP, &len, &unique));
    MBT_EQ_U64(5, unique);
    MBT_EQ_U64(0, len);
    /* len shorter than header plus payload */
    e.h.ent.payload_sz = 10;
    put_in_header(&e, FUSE_WRITE, 6, (uint32_t)(in_size + 9));
    MBT_NULL(tfs_ring_request(&e.h, payload, CAP, &len, &unique));
    /* len shorter than the header itself */
    e.h.ent.payload_sz = 0;
    put_in_header(&e, FUSE_GETATTR, 7, 8);
    MBT_NULL(tfs_ring_request(&e.h, payload, CAP, &len, &unique));
    /* a fixed argument larger than its area */
    put_in_header(&e, FUSE_GETATTR, 8, (uint32_t)(in_size + TFS_RING_OP_SIZE + 1));
    MBT_NULL(tfs_ring_request(&e.h, payload, CAP, &len, &unique));
    /* exactly the area is fine */
    put_in_header(&e, FUSE_GETATTR, 8, (uint32_t)(in_size + TFS_RING_OP_SIZE));
    MBT_NOT_NULL(tfs_ring_request(&e.h, payload, CAP, &len, &unique));
    MBT_EQ_U64(in_size + TFS_RING_OP_SIZE, len);
}

static void test_reply(void)
{
    static struct entry e;
    unsigned char *payload = e.buffer + TFS_RING_FRONT;
    struct fuse_out_header out = {.len = 16 + 24, .error = 0, .unique = 77};
    struct fuse_write_out w = {.size = 4096};
    char extra[16] = "0123456789abcde";
    struct iovec iov[3] = {
        {.iov_base = &out, .iov_len = sizeof out},
        {.iov_base = &w, .iov_len = sizeof w},
        {.iov_base = extra, .iov_len = 16},
    };
    MBT_EQ_INT(0, tfs_ring_put_reply(&e.h, payload, CAP, iov, 3));
    MBT_EQ_MEM(&out, e.h.in_out, sizeof out);
    MBT_EQ_U64(sizeof w + 16, e.h.ent.payload_sz);
    MBT_EQ_MEM(&w, payload, sizeof w);
    MBT_EQ_MEM(extra, payload + sizeof w, 16);
    /* data already in place (read straight into the payload) stays */
    memcpy(payload, "in place", 9);
    struct iovec in_place[2] = {{.iov_base = &out, .iov_len = sizeof out},
                                {.iov_base = payload, .iov_len = 8}};
    MBT_EQ_INT(0, tfs_ring_put_reply(&e.h, payload, CAP, in_place, 2));
    MBT_EQ_U64(8, e.h.ent.payload_sz);
    MBT_EQ_MEM("in place", payload, 8);
    /* an error reply: the header alone */
    out.error = -ENOENT;
    MBT_EQ_INT(0, tfs_ring_put_reply(&e.h, payload, CAP, iov, 1));
    MBT_EQ_U64(0, e.h.ent.payload_sz);
    /* too big for the payload: nothing written */
    static char big[CAP + 1];
    struct iovec too_big[2] = {{.iov_base = &out, .iov_len = sizeof out},
                               {.iov_base = big, .iov_len = sizeof big}};
    e.h.ent.payload_sz = 3;
    MBT_EQ_INT(-EMSGSIZE, tfs_ring_put_reply(&e.h, payload, CAP, too_big, 2));
    MBT_EQ_U64(3, e.h.ent.payload_sz);
    /* no whole header */
    struct iovec short_header = {.iov_base = &out, .iov_len = 8};
    MBT_EQ_INT(-EINVAL, tfs_ring_put_reply(&e.h, payload, CAP, &short_header, 1));
    MBT_EQ_INT(-EINVAL, tfs_ring_put_reply(&e.h, payload, CAP, iov, 0));

    tfs_ring_put_error(&e.h, 91, EIO);
    struct fuse_out_header got;
    memcpy(&got, e.h.in_out, sizeof got);
    MBT_EQ_U64(91, got.unique);
    MBT_EQ_INT(-EIO, got.error);
    MBT_EQ_U64(sizeof got, got.len);
    MBT_EQ_U64(0, e.h.ent.payload_sz);
}

static size_t init_message(unsigned char *msg, uint32_t flags, uint32_t flags2)
{
    struct fuse_in_header in = {.opcode = FUSE_INIT, .unique = 2};
    struct fuse_init_in arg = {.major = 7, .minor = 45, .flags = flags, .flags2 = flags2};
    in.len = (uint32_t)(sizeof in + sizeof arg);
    memcpy(msg, &in, sizeof in);
    memcpy(msg + sizeof in, &arg, sizeof arg);
    return in.len;
}

static void test_init_offer(void)
{
    unsigned char msg[sizeof(struct fuse_in_header) + sizeof(struct fuse_init_in)];
    bool is_init = false;
    uint64_t unique = 0;
    size_t len = init_message(msg, FUSE_INIT_EXT, 1u << 9);
    MBT_TRUE(tfs_ring_init_offers(msg, len, &is_init, &unique));
    MBT_TRUE(is_init);
    MBT_EQ_U64(2, unique);
    /* not offered: no flag, or flags2 not valid without FUSE_INIT_EXT */
    len = init_message(msg, FUSE_INIT_EXT, 1u << 8);
    MBT_FALSE(tfs_ring_init_offers(msg, len, &is_init, &unique));
    MBT_TRUE(is_init);
    len = init_message(msg, 0, 1u << 9);
    MBT_FALSE(tfs_ring_init_offers(msg, len, &is_init, &unique));
    /* an old kernel's short INIT */
    MBT_FALSE(tfs_ring_init_offers(msg, sizeof(struct fuse_in_header) + 8, &is_init, &unique));
    MBT_TRUE(is_init);
    /* not an INIT at all */
    struct fuse_in_header in = {.opcode = FUSE_LOOKUP, .len = sizeof in};
    MBT_FALSE(tfs_ring_init_offers(&in, sizeof in, &is_init, &unique));
    MBT_FALSE(is_init);
    MBT_FALSE(tfs_ring_init_offers(&in, 4, &is_init, &unique));
}

static void test_init_accept(void)
{
    struct fuse_init_out out = {.major = 7, .minor = 38, .flags = FUSE_MAX_PAGES,
                                .max_write = 1u << 20, .max_pages = 256, .flags2 = 1};
    size_t payload = 0;
    MBT_EQ_INT(0, tfs_ring_accept_in_init(&out, sizeof out, 4096, &payload));
    MBT_EQ_U64(FUSE_MAX_PAGES | FUSE_INIT_EXT, out.flags);
    MBT_EQ_U64(1u | (1u << 9), out.flags2);
    MBT_EQ_U64(1u << 20, payload);
    /* max_pages above max_write */
    out.max_write = 64 * 1024;
    MBT_EQ_INT(0, tfs_ring_accept_in_init(&out, sizeof out, 4096, &payload));
    MBT_EQ_U64(256 * 4096, payload);
    /* without FUSE_MAX_PAGES the kernel keeps 32 pages */
    out.flags = 0;
    out.max_write = 4096;
    MBT_EQ_INT(0, tfs_ring_accept_in_init(&out, sizeof out, 4096, &payload));
    MBT_EQ_U64(32 * 4096, payload);
    /* a reply too short to hold flags2 */
    MBT_EQ_INT(-EINVAL, tfs_ring_accept_in_init(&out, 24, 4096, &payload));
}

int main(void)
{
    MBT_RUN(test_request_with_fixed_argument);
    MBT_RUN(test_request_without_fixed_argument);
    MBT_RUN(test_request_inconsistent);
    MBT_RUN(test_reply);
    MBT_RUN(test_init_offer);
    MBT_RUN(test_init_accept);
    return mbt_finish();
}
