/* quota.h: trackfs's books. How many pages the filesystem stores, how many
 * it may store, and where the difference comes from.
 *
 * What is charged:
 * - data: whole pages of file data the backing filesystem really stores
 *   (the backing file's st_blocks, rounded up to pages), so holes and
 *   sparse files cost nothing; the filesystem layer charges the pages a
 *   write or fallocate may add before the data lands, then settles to what
 *   st_blocks says afterwards;
 * - inodes: every file, directory, symlink and node costs inode_cost bytes
 *   (an estimate of the backing filesystem's inode and dentry memory);
 * - extended attributes: each costs the length of its name plus the size
 *   of its value, in bytes; the inode and attribute bytes are summed and
 *   rounded up to pages as a whole ("metadata pages").
 *
 * Where quota comes from:
 * - standalone: a fixed limit, held from the start;
 * - a source (the broker): quota is taken in chunks when a charge does not
 *   fit in what is held, and given back with hysteresis: when more than
 *   max_slack_chunks chunks lie unused, all but one chunk go back.
 *
 * Conservation: held = used + slack at every step; the source's balance
 * equals `held` whenever no acquire or release call is running.
 *
 * Thread-safe: every function may be called from any thread. Only
 * tfs_quota_charge* and tfs_quota_release* may call the source, and never
 * with the internal lock held, so a give-back query (tfs_quota_giveback)
 * from the source's own thread is answered meanwhile.
 */
#ifndef TRACKFS_QUOTA_H
#define TRACKFS_QUOTA_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Where quota comes from when the held quota does not suffice. */
struct tfs_quota_source {
    /* Takes up to `pages` (the call may grant fewer, even 0). Stores what it
     * got in *granted and returns 0, or a negative errno (nothing granted).
     * May block (the broker's stall time). */
    int (*acquire)(void *arg, uint64_t pages, uint64_t *granted);
    /* Gives `pages` back. Returns 0, or a negative errno when the pages
     * are still held. May block briefly. */
    int (*release)(void *arg, uint64_t pages);
    void *arg;
};

struct tfs_quota_config {
    uint64_t page_size;        /* bytes per page (> 0) */
    uint64_t limit_pages;      /* standalone limit; ignored with a source */
    uint64_t chunk_pages;      /* source mode: quota is taken in these (> 0) */
    uint64_t max_slack_chunks; /* source mode: unused chunks kept (>= 1) */
    uint64_t inode_cost;       /* bytes charged per inode */
};

struct tfs_quota_stats {
    uint64_t held;        /* pages held: the limit, or the source's grant */
    uint64_t used;        /* data + metadata pages */
    uint64_t data_pages;  /* data pages charged */
    uint64_t inodes;      /* inodes charged */
    uint64_t xattr_bytes; /* extended attribute bytes charged */
    uint64_t refusals;    /* charges refused (ENOSPC) */
    uint64_t stalls;      /* charges that waited for the source (the broker) */
    uint64_t stall_ns;    /* time those charges waited, in total */
    uint64_t acquired;    /* pages taken from the source, in total */
    uint64_t released;    /* pages given back to the source (returns and give-backs) */
};

struct tfs_quota {
    pthread_mutex_t lock;    /* the books */
    pthread_mutex_t acquire; /* one acquire at a time (the broker allows one) */
    struct tfs_quota_config config;
    struct tfs_quota_source source;
    bool has_source;
    uint64_t held, data_pages, inodes, xattr_bytes;
    uint64_t refusals, acquired, released, stalls, stall_ns;
};

/* Sets q up. source NULL: standalone, the limit is held at once. Returns 0
 * or -EINVAL (page_size or, with a source, chunk_pages or max_slack_chunks
 * 0). Does not block. */
int tfs_quota_init(struct tfs_quota *q, const struct tfs_quota_config *config,
                   const struct tfs_quota_source *source);

/* Forgets q (does not give anything back: see tfs_quota_release_all). */
void tfs_quota_destroy(struct tfs_quota *q);

/* Adds `pages` of data and `inodes` inodes to the books, taking quota from
 * the source when needed. All or nothing: returns 0, or -ENOSPC (nothing
 * charged) when the limit or the source refuses. May block in the source. */
int tfs_quota_charge(struct tfs_quota *q, uint64_t pages, uint64_t inodes);

/* Like tfs_quota_charge, but for storage that already exists (found at
 * mount, or stored beyond what was charged): never refused. Returns the
 * pages by which used exceeds held afterwards (0 normally). May block. */
uint64_t tfs_quota_force(struct tfs_quota *q, uint64_t pages, uint64_t inodes);

/* Removes `pages` of data and `inodes` inodes from the books (clamped to
 * what is charged) and gives surplus slack back. May block in the source. */
void tfs_quota_release(struct tfs_quota *q, uint64_t pages, uint64_t inodes);

/* Moves the books of a settled operation: `charged` pages were charged
 * before it, the backing file's data went from `before` to `after` pages.
 * Charges or releases the difference (a charge here is forced: the data is
 * already stored). May block in the source. */
void tfs_quota_settle(struct tfs_quota *q, uint64_t charged, uint64_t before, uint64_t after);

/* A give-back query: hands over up to `wanted` pages of unused slack and
 * returns how many (they leave `held`). Never blocks on the source. */
uint64_t tfs_quota_giveback(struct tfs_quota *q, uint64_t wanted);

/* Source mode: gives back all the slack (at unmount). May block. */
void tfs_quota_release_slack(struct tfs_quota *q);

/* Adds `bytes` of extended attributes to the books, like tfs_quota_charge:
 * returns 0 or -ENOSPC (nothing charged). May block in the source. */
int tfs_quota_charge_xattr(struct tfs_quota *q, uint64_t bytes);

/* Adds `bytes` of extended attributes that already exist (found at mount),
 * never refused; returns the pages by which used exceeds held. May block. */
uint64_t tfs_quota_force_xattr(struct tfs_quota *q, uint64_t bytes);

/* Removes `bytes` of extended attributes (clamped) and gives surplus slack
 * back. May block in the source. */
void tfs_quota_release_xattr(struct tfs_quota *q, uint64_t bytes);

/* Pages that `inodes` inodes cost at inode_cost bytes each, rounded up. */
uint64_t tfs_quota_inode_pages(const struct tfs_quota_config *config, uint64_t inodes);

/* A consistent snapshot of the books. Does not block on the source. */
void tfs_quota_get_stats(struct tfs_quota *q, struct tfs_quota_stats *out);

#endif
