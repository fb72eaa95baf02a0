/* inode_table.h: backing (dev, ino) -> trackfs node, with the kernel's
 * lookup counts.
 *
 * The kernel names a file by the node it was given at lookup; it may hold
 * the same backing inode under several names (hard links) and must get the
 * same node for all of them, or the page cache would hold two copies. A
 * node lives while the kernel holds lookups on it (FORGET drops them).
 *
 * Thread-safe: one mutex guards the table (metadata operations only; data
 * paths use the node they were handed without touching the table).
 */
#ifndef TRACKFS_INODE_TABLE_H
#define TRACKFS_INODE_TABLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tfs_node {
    uint64_t dev, ino;     /* the backing inode */
    int fd;                /* O_PATH descriptor of it, owned by the caller's layer */
    uint64_t lookups;      /* the kernel's references */
    uint32_t opens;        /* open handles (files and directories) */
    bool unlinked;         /* last link gone while open: free the data at last close */
    struct tfs_node *next; /* bucket chain */
};

struct tfs_inode_table {
    pthread_mutex_t lock;
    struct tfs_node **buckets;
    size_t bucket_count; /* a power of two */
    size_t count;
};

/* An empty table. Returns 0 or -ENOMEM. Does not block. */
int tfs_inode_table_init(struct tfs_inode_table *t);

/* Calls drop(node, arg) for each node left, then frees the table. Safe on a
 * zeroed table. */
void tfs_inode_table_destroy(struct tfs_inode_table *t, void (*drop)(struct tfs_node *, void *),
                             void *arg);

/* Adds one lookup to the node of (fresh->dev, fresh->ino) and returns it;
 * when there is none, fresh (which the caller allocated and filled) joins
 * the table with one lookup and is returned. When the result is not fresh,
 * the caller frees fresh. Returns NULL only when the table could not grow
 * (-ENOMEM); fresh is then not in the table. */
struct tfs_node *tfs_inode_table_ref(struct tfs_inode_table *t, struct tfs_node *fresh);

/* Drops `n` lookups (clamped). Returns true when the node has no lookups
 * and no open handles any more: it left the table and the caller frees it. */
bool tfs_inode_table_unref(struct tfs_inode_table *t, struct tfs_node *node, uint64_t n);

/* The node of (dev, ino), or NULL; no reference taken (valid while the
 * caller holds a lookup or an open handle on some node of the same inode). */
struct tfs_node *tfs_inode_table_find(struct tfs_inode_table *t, uint64_t dev, uint64_t ino);

/* Counts an open handle. */
void tfs_inode_table_open(struct tfs_inode_table *t, struct tfs_node *node);

/* Drops an open handle. Returns the handles left; *freed is set when the
 * node had no lookups either and left the table (the caller frees it). */
uint32_t tfs_inode_table_close(struct tfs_inode_table *t, struct tfs_node *node, bool *freed);

/* Marks (dev, ino) unlinked if it is in the table and open. Returns true
 * when it was marked (the caller must not free its data now). */
bool tfs_inode_table_mark_unlinked_if_open(struct tfs_inode_table *t, uint64_t dev, uint64_t ino);

/* Nodes in the table. */
size_t tfs_inode_table_count(struct tfs_inode_table *t);

#endif
