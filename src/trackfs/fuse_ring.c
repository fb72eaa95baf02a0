/* fuse_ring.c: FUSE over io_uring for trackfs (see fuse_ring.h). The ring
 * protocol is the kernel's fs/fuse/dev_uring.c; the message translation is
 * ring_frame.c. Each ring thread owns one entry and one small io_uring of
 * its own, so an entry's request, its reply and the next fetch never leave
 * that thread. */
#include "trackfs/fuse_ring.h"
#include "trackfs/ring_frame.h"

#include "common/log.h"

#include <errno.h>
#include <linux/fuse.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SQE_SIZE 128u /* IORING_SETUP_SQE128: room for the FUSE command */
#define QUEUE_SLOTS 4u
#define TAG_FUSE UINT64_C(1)
#define TAG_STOP UINT64_C(2)

struct ring_entry {
    struct tfs_ring *ring;
    unsigned qid;
    int uring_fd;
    void *rings;
    size_t rings_len;
    unsigned char *sqes;
    size_t sqes_len;
    unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
    unsigned *cq_head, *cq_tail, *cq_mask;
    struct io_uring_cqe *cqes;
    struct tfs_ring_header header;
    unsigned char *buffer; /* a page of room, then the payload */
    size_t buffer_len;
    struct iovec iov[2];  /* what REGISTER hands over: header, payload */
    uint64_t unique;      /* the request being served */
    bool replied;
    pthread_t thread;
    bool started;
};

struct tfs_ring {
    struct fuse_session *se;
    int fuse_fd;
    uint64_t page_size;
    int stop_fd; /* an eventfd: readable once the ring threads must end */
    /* INIT, seen once through the hooks. init_unique is written by the
     * thread that reads INIT, before the kernel sends anything else. */
    atomic_bool init_pending; /* an INIT offering the ring was read, not yet answered */
    uint64_t init_unique;     /* 0 until INIT was read (the kernel's ids start at 2) */
    size_t payload_cap;
    unsigned nr_queues;
    struct ring_entry *entries; /* nr_queues * TFS_RING_DEPTH */
    unsigned nr_entries;
    atomic_bool served_one; /* the first request over the ring was logged */
    atomic_bool failure_logged;
};

static struct tfs_ring *the_ring;
static _Thread_local struct ring_entry *current_entry;

/* ---- io_uring, by its system calls (no liburing on the targets) ---- */

static int uring_setup(unsigned entries, struct io_uring_params *p)
{
    return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int uring_enter(int fd, unsigned submit, unsigned wait, unsigned flags)
{
    return (int)syscall(__NR_io_uring_enter, fd, submit, wait, flags, NULL, (size_t)0);
}

static void *at_offset(void *base, uint32_t offset)
{
    return (unsigned char *)base + offset;
}

static void entry_unmap(struct ring_entry *e)
{
    if (e->sqes != NULL)
        munmap(e->sqes, e->sqes_len);
    if (e->rings != NULL)
        munmap(e->rings, e->rings_len);
    if (e->uring_fd >= 0)
        close(e->uring_fd);
    e->sqes = NULL;
    e->rings = NULL;
    e->uring_fd = -1;
}

/* A ring of its own for the calling thread: submissions from this thread
 * only, its completions run when it waits (fewer wake-ups), 128-byte
 * entries. Older kernels without the first two flags get plain rings. */
static int entry_map(struct ring_entry *e)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_SQE128 | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    int fd = uring_setup(QUEUE_SLOTS, &p);
    if (fd < 0 && errno == EINVAL) {
        memset(&p, 0, sizeof p);
        p.flags = IORING_SETUP_SQE128;
        fd = uring_setup(QUEUE_SLOTS, &p);
    }
    if (fd < 0)
        return -errno;
    e->uring_fd = fd;
    size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    e->rings_len = sq_len > cq_len ? sq_len : cq_len;
    if (!(p.features & IORING_FEAT_SINGLE_MMAP)) {
        entry_unmap(e);
        return -EOPNOTSUPP; /* before 5.4: no FUSE ring there anyway */
    }
    void *rings = mmap(NULL, e->rings_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                       IORING_OFF_SQ_RING);
    if (rings == MAP_FAILED) {
        int err = -errno;
        entry_unmap(e);
        return err;
    }
    e->rings = rings;
    e->sqes_len = p.sq_entries * SQE_SIZE;
    void *sqes = mmap(NULL, e->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                      IORING_OFF_SQES);
    if (sqes == MAP_FAILED) {
        int err = -errno;
        entry_unmap(e);
        return err;
    }
    e->sqes = sqes;
    /* The kernel places (and aligns) every field at these offsets. */
    e->sq_head = at_offset(rings, p.sq_off.head);
    e->sq_tail = at_offset(rings, p.sq_off.tail);
    e->sq_mask = at_offset(rings, p.sq_off.ring_mask);
    e->sq_array = at_offset(rings, p.sq_off.array);
    e->cq_head = at_offset(rings, p.cq_off.head);
    e->cq_tail = at_offset(rings, p.cq_off.tail);
    e->cq_mask = at_offset(rings, p.cq_off.ring_mask);
    e->cqes = at_offset(rings, p.cq_off.cqes);
    return 0;
}

static struct io_uring_sqe *next_sqe(struct ring_entry *e)
{
    unsigned tail = *e->sq_tail;
    unsigned index = tail & *e->sq_mask;
    struct io_uring_sqe *sqe = at_offset(e->sqes, index * SQE_SIZE);
    memset(sqe, 0, SQE_SIZE);
    e->sq_array[index] = index;
    return sqe;
}

static void push_sqe(struct ring_entry *e)
{
    __atomic_store_n(e->sq_tail, *e->sq_tail + 1, __ATOMIC_RELEASE);
}

/* Queues a FUSE ring command for this entry (REGISTER or COMMIT_AND_FETCH). */
static void queue_fuse_cmd(struct ring_entry *e, uint32_t op, uint64_t commit_id)
{
    struct io_uring_sqe *sqe = next_sqe(e);
    sqe->opcode = IORING_OP_URING_CMD;
    sqe->fd = e->ring->fuse_fd;
    sqe->cmd_op = op;
    sqe->addr = (uint64_t)(uintptr_t)e->iov;
    sqe->len = 2;
    sqe->user_data = TAG_FUSE;
    struct tfs_ring_cmd cmd = {.commit_id = commit_id, .qid = (uint16_t)e->qid};
    memcpy(sqe->cmd, &cmd, sizeof cmd);
    push_sqe(e);
}

/* Queues a one-shot poll of the stop eventfd. */
static void queue_stop_poll(struct ring_entry *e)
{
    struct io_uring_sqe *sqe = next_sqe(e);
    sqe->opcode = IORING_OP_POLL_ADD;
    sqe->fd = e->ring->stop_fd;
    sqe->poll32_events = POLLIN;
    sqe->user_data = TAG_STOP;
    push_sqe(e);
}

/* Submits what is queued and waits for the FUSE command's completion.
 * Returns its result, -ESHUTDOWN when the stop poll fired, or a negative
 * errno of io_uring_enter. */
static int submit_and_wait(struct ring_entry *e)
{
    for (;;) {
        unsigned head = *e->cq_head;
        if (head != __atomic_load_n(e->cq_tail, __ATOMIC_ACQUIRE)) {
            struct io_uring_cqe cqe = e->cqes[head & *e->cq_mask];
            __atomic_store_n(e->cq_head, head + 1, __ATOMIC_RELEASE);
            if (cqe.user_data == TAG_STOP)
                return -ESHUTDOWN;
            return cqe.res;
        }
        unsigned pending = *e->sq_tail - __atomic_load_n(e->sq_head, __ATOMIC_ACQUIRE);
        if (uring_enter(e->uring_fd, pending, 1, IORING_ENTER_GETEVENTS) < 0 && errno != EINTR &&
            errno != EAGAIN && errno != EBUSY)
            return -errno;
    }
}

/* ---- serving one entry ---- */

static void log_failure_once(struct tfs_ring *r, const char *what, int err)
{
    bool expected = false;
    if (atomic_compare_exchange_strong(&r->failure_logged, &expected, true))
        mb_log(MB_LOG_WARNING, "FUSE over io_uring: %s: %s; requests keep coming by /dev/fuse",
               what, strerror(-err));
}

/* Serves the request the kernel put into the entry; leaves the reply in it. */
static void serve_request(struct ring_entry *e)
{
    struct tfs_ring *r = e->ring;
    size_t len = 0;
    uint64_t unique = 0;
    unsigned char *payload = e->buffer + r->page_size;
    void *msg = tfs_ring_request(&e->header, payload, r->payload_cap, &len, &unique);
    if (msg == NULL) {
        mb_log(MB_LOG_ERR, "FUSE over io_uring: a request with an inconsistent header (id %llu)",
               (unsigned long long)unique);
        tfs_ring_put_error(&e->header, unique, EIO);
        return;
    }
    e->unique = unique;
    e->replied = false;
    current_entry = e;
    struct fuse_buf buf = {.size = len, .mem = msg};
    fuse_session_process_buf(r->se, &buf);
    current_entry = NULL;
    if (!e->replied) {
        /* Every request the ring carries wants an answer, and trackfs
         * answers in the thread that serves it: a miss is a bug; the
         * caller gets EIO rather than a hang. */
        mb_log(MB_LOG_ERR, "FUSE over io_uring: request %llu was not answered",
               (unsigned long long)unique);
        tfs_ring_put_error(&e->header, unique, EIO);
    }
    /* Once: a plain load first keeps every later request off the
     * compare-and-swap of a line all ring threads share. */
    bool expected = false;
    if (!atomic_load_explicit(&r->served_one, memory_order_relaxed) &&
        atomic_compare_exchange_strong(&r->served_one, &expected, true))
        mb_log(MB_LOG_NOTICE, "requests come over io_uring: %u queues of %u entries", r->nr_queues,
               TFS_RING_DEPTH);
}

static void *entry_main(void *arg)
{
    struct ring_entry *e = arg;
    struct tfs_ring *r = e->ring;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    /* Served on its queue's CPU: the caller and trackfs meet there. An
     * offline CPU's queue is served from anywhere. */
    if (e->qid < CPU_SETSIZE) {
        cpu_set_t cpu;
        CPU_ZERO(&cpu);
        CPU_SET(e->qid, &cpu);
        (void)sched_setaffinity(0, sizeof cpu, &cpu);
    }

    int err = entry_map(e);
    if (err < 0) {
        log_failure_once(r, "cannot set up an io_uring", err);
        return NULL;
    }
    queue_stop_poll(e);
    queue_fuse_cmd(e, TFS_RING_CMD_REGISTER, 0);
    bool registering = true;
    for (;;) {
        int res = submit_and_wait(e);
        if (res == -ESHUTDOWN)
            break;
        if (res < 0) {
            /* The connection ended (unmount, abort), or the kernel refused
             * the entry: then the connection keeps /dev/fuse. */
            if (res != -ENOTCONN && res != -ECANCELED && res != -ECONNABORTED)
                log_failure_once(r, registering ? "registering a ring entry" : "serving", res);
            break;
        }
        registering = false;
        serve_request(e);
        queue_fuse_cmd(e, TFS_RING_CMD_COMMIT_AND_FETCH, e->header.ent.commit_id);
    }
    entry_unmap(e);
    return NULL;
}

/* Starts the ring threads, once INIT accepted the ring. */
static void start_entries(struct tfs_ring *r)
{
    size_t len = (size_t)r->page_size + r->payload_cap;
    for (unsigned i = 0; i < r->nr_entries; i++) {
        struct ring_entry *e = &r->entries[i];
        e->ring = r;
        e->qid = i / TFS_RING_DEPTH;
        e->uring_fd = -1;
        void *buffer = NULL;
        if (posix_memalign(&buffer, (size_t)r->page_size, len) != 0) {
            log_failure_once(r, "no memory for the ring buffers", -ENOMEM);
            return;
        }
        e->buffer = buffer;
        e->buffer_len = len;
        e->iov[0] = (struct iovec){.iov_base = &e->header, .iov_len = sizeof e->header};
        e->iov[1] = (struct iovec){.iov_base = e->buffer + r->page_size, .iov_len = r->payload_cap};
        if (pthread_create(&e->thread, NULL, entry_main, e) != 0) {
            log_failure_once(r, "cannot start a ring thread", -EAGAIN);
            return;
        }
        e->started = true;
    }
}

/* ---- the session's I/O hooks ---- */

static ssize_t hook_read(int fd, void *buf, size_t len, void *userdata)
{
    (void)userdata;
    ssize_t got = read(fd, buf, len);
    struct tfs_ring *r = the_ring;
    if (got > 0 && r != NULL && r->init_unique == 0) {
        bool is_init = false;
        uint64_t unique = 0;
        bool offered = tfs_ring_init_offers(buf, (size_t)got, &is_init, &unique);
        if (is_init) {
            r->init_unique = unique;
            atomic_store(&r->init_pending, offered);
            if (!offered)
                mb_log(MB_LOG_INFO, "the kernel does not offer FUSE over io_uring (fuse module "
                                    "parameter enable_uring): requests come by /dev/fuse");
        }
    }
    return got;
}

static bool is_reply_to(const struct iovec *iov, int count, uint64_t unique)
{
    struct fuse_out_header out;
    if (count < 1 || iov[0].iov_len < sizeof out)
        return false;
    memcpy(&out, iov[0].iov_base, sizeof out);
    return out.unique == unique;
}

/* The INIT reply with the ring accepted; the ring threads start once the
 * kernel has it (its write returns after the kernel applied it). */
static ssize_t answer_init(struct tfs_ring *r, int fd, struct iovec *iov, int count)
{
    struct fuse_out_header out;
    memcpy(&out, iov[0].iov_base, sizeof out);
    unsigned char arg[sizeof(struct fuse_init_out)];
    if (out.error != 0 || count != 2 || iov[1].iov_len > sizeof arg)
        return writev(fd, iov, count);
    memcpy(arg, iov[1].iov_base, iov[1].iov_len);
    if (tfs_ring_accept_in_init(arg, iov[1].iov_len, r->page_size, &r->payload_cap) < 0)
        return writev(fd, iov, count);
    struct iovec patched[2] = {iov[0], {.iov_base = arg, .iov_len = iov[1].iov_len}};
    ssize_t done = writev(fd, patched, 2);
    if (done >= 0)
        start_entries(r);
    return done;
}

static ssize_t hook_writev(int fd, struct iovec *iov, int count, void *userdata)
{
    (void)userdata;
    struct ring_entry *e = current_entry;
    if (e != NULL && !e->replied && is_reply_to(iov, count, e->unique)) {
        unsigned char *payload = e->buffer + e->ring->page_size;
        if (tfs_ring_put_reply(&e->header, payload, e->ring->payload_cap, iov, count) < 0)
            tfs_ring_put_error(&e->header, e->unique, EIO);
        e->replied = true;
        size_t total = 0;
        for (int i = 0; i < count; i++)
            total += iov[i].iov_len;
        return (ssize_t)total;
    }
    struct tfs_ring *r = the_ring;
    if (r != NULL && atomic_load(&r->init_pending) && is_reply_to(iov, count, r->init_unique)) {
        atomic_store(&r->init_pending, false);
        return answer_init(r, fd, iov, count);
    }
    return writev(fd, iov, count);
}

/* A reply libfuse splices (read data from a file): in a ring thread it is
 * read out of the pipe into the entry instead, header first. */
static ssize_t hook_splice_send(int fdin, off_t *offin, int fdout, off_t *offout, size_t len,
                                unsigned flags, void *userdata)
{
    (void)userdata;
    struct ring_entry *e = current_entry;
    if (e == NULL)
        return splice(fdin, offin, fdout, offout, len, flags);
    struct fuse_out_header out;
    size_t payload_len = len - sizeof out;
    if (len < sizeof out || payload_len > e->ring->payload_cap) {
        errno = EMSGSIZE;
        return -1;
    }
    unsigned char *payload = e->buffer + e->ring->page_size;
    size_t at = 0;
    while (at < len) {
        unsigned char *to = at < sizeof out ? (unsigned char *)&out + at : payload + (at - sizeof out);
        size_t want = at < sizeof out ? sizeof out - at : len - at;
        ssize_t got = read(fdin, to, want);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            if (got == 0)
                errno = EIO;
            return -1;
        }
        at += (size_t)got;
    }
    if (out.unique != e->unique) {
        errno = EIO;
        return -1;
    }
    memcpy(e->header.in_out, &out, sizeof out);
    e->header.ent.payload_sz = (uint32_t)payload_len;
    e->replied = true;
    return (ssize_t)len;
}

void *tfs_ring_reply_space(size_t *cap)
{
    struct ring_entry *e = current_entry;
    if (e == NULL)
        return NULL;
    *cap = e->ring->payload_cap;
    return e->buffer + e->ring->page_size;
}

/* Possible CPUs, as the kernel counts its queues (num_possible_cpus). */
static unsigned possible_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_CONF);
    return n > 0 && n <= 4096 ? (unsigned)n : 1u;
}

struct tfs_ring *tfs_ring_attach(struct fuse_session *se, enum tfs_uring mode,
                                 uint64_t page_size)
{
    if (mode == TFS_URING_OFF)
        return NULL;
    struct tfs_ring *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->se = se;
    r->fuse_fd = fuse_session_fd(se);
    r->page_size = page_size;
    r->nr_queues = possible_cpus();
    r->nr_entries = r->nr_queues * TFS_RING_DEPTH;
    r->entries = calloc(r->nr_entries, sizeof *r->entries);
    r->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (r->entries == NULL || r->stop_fd < 0) {
        mb_log(MB_LOG_WARNING, "FUSE over io_uring: cannot set up: requests come by /dev/fuse");
        tfs_ring_stop(r);
        return NULL;
    }
    static const struct fuse_custom_io hooks = {
        .read = hook_read,
        .writev = hook_writev,
        .splice_send = hook_splice_send,
    };
    the_ring = r;
    if (fuse_session_custom_io(se, &hooks, r->fuse_fd) != 0) {
        the_ring = NULL;
        mb_log(MB_LOG_WARNING, "FUSE over io_uring: libfuse refused the I/O hooks");
        tfs_ring_stop(r);
        return NULL;
    }
    return r;
}

void tfs_ring_stop(struct tfs_ring *r)
{
    if (r == NULL)
        return;
    if (r->stop_fd >= 0) {
        uint64_t one = 1;
        ssize_t ignored = write(r->stop_fd, &one, sizeof one);
        (void)ignored;
    }
    for (unsigned i = 0; r->entries != NULL && i < r->nr_entries; i++) {
        struct ring_entry *e = &r->entries[i];
        if (e->started)
            pthread_join(e->thread, NULL);
        free(e->buffer);
    }
    if (the_ring == r)
        the_ring = NULL;
    if (r->stop_fd >= 0)
        close(r->stop_fd);
    free(r->entries);
    free(r);
}
