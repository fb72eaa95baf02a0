/* options.h: trackfs's mount options (-o a=b,c). Its own keys are taken out;
 * every other option is kept, in order, for libfuse and the kernel.
 * docs/config.md ("trackfs") and docs/man/trackfs.8 describe each key. */
#ifndef TRACKFS_OPTIONS_H
#define TRACKFS_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/strbuf.h"

enum tfs_urgency {
    TFS_URGENCY_REQUEST = 0, /* REQUEST: the broker may grant less; bounded by stall_ms */
    TFS_URGENCY_RESERVE = 1, /* RESERVE: all or nothing, broker deadline stall_ms */
};

/* How requests reach trackfs: over io_uring when the kernel offers it
 * (FUSE over io_uring, Linux 6.14+, fuse module parameter enable_uring),
 * else by read(2) and write(2) on /dev/fuse. */
enum tfs_uring {
    TFS_URING_AUTO = 0, /* uring=auto: the ring when offered */
    TFS_URING_OFF = 1,  /* uring=off: /dev/fuse only */
};

#define TFS_DEFAULT_CHUNK (UINT64_C(1) << 20)
#define TFS_DEFAULT_STALL_MS 250u
#define TFS_DEFAULT_INODE_COST UINT64_C(1024)
#define TFS_BROKER_PATH_MAX 108 /* sun_path */
#define TFS_FUSE_OPTS_MAX 1024

struct tfs_options {
    bool has_quota;          /* quota= given: standalone */
    uint64_t quota_bytes;    /* quota=SIZE */
    char broker[TFS_BROKER_PATH_MAX]; /* broker=SOCKET ("" : MEMBROKER_SOCKET or default) */
    uint64_t chunk_bytes;    /* chunk=SIZE */
    uint32_t stall_ms;       /* stall_ms=N */
    enum tfs_urgency urgency;
    enum tfs_uring uring;    /* uring=auto|off */
    uint64_t inode_cost;     /* inode_cost=SIZE (bytes per inode) */
    char fuse_opts[TFS_FUSE_OPTS_MAX]; /* the rest, comma-separated ("" if none) */
};

/* The defaults above, no quota, no broker path, no FUSE options. */
void tfs_options_init(struct tfs_options *o);

/* Parses one -o argument ("quota=64M,allow_other") into o; may be called
 * for each -o. page_size resolves sizes written in pages ("16p"). Returns 0,
 * -EINVAL (bad value, unknown urgency or uring mode; the reason, naming the key, goes
 * to `why`) or -E2BIG (the options for FUSE do not fit). Does not block. */
int tfs_options_parse(struct tfs_options *o, const char *text, uint64_t page_size,
                      struct mb_strbuf *why);

#endif
